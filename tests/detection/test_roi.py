"""RoI Align against an independent scipy bilinear sampler; RoI Pool against a direct loop.

torchvision's roi_align/roi_pool are C++ operators that do not load here, so the oracles re-derive the
published kernel rules: RoI Align samples with ``scipy.ndimage.map_coordinates(order=1)``; RoI Pool is
a plain Python transcription.  Gradients are checked against the oracle's Jacobian (the maps are linear
in the input for fixed boxes) and numerically.
"""

import math

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

import deepnotes as dn
from deepnotes.autograd import gradcheck
from deepnotes.detection import RoIAlign, RoIPool, roi_align, roi_pool


# --------------------------------------------------------------------------- oracles
def ref_roi_align(x, rois, out_hw, scale, sampling_ratio, aligned):
    N, C, H, W = x.shape
    PH, PW = out_hw
    out = np.zeros((len(rois), C, PH, PW))
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        off = 0.5 if aligned else 0.0
        sx, sy = x1 * scale - off, y1 * scale - off
        rw, rh = x2 * scale - off - sx, y2 * scale - off - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / PH, rw / PW
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / PH)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / PW)
        if gh <= 0 or gw <= 0:
            continue
        ys = sy + np.arange(PH)[:, None] * bh + (np.arange(gh)[None, :] + 0.5) * bh / gh  # (PH, gh)
        xs = sx + np.arange(PW)[:, None] * bw + (np.arange(gw)[None, :] + 0.5) * bw / gw  # (PW, gw)
        Y = np.broadcast_to(ys[:, :, None, None], (PH, gh, PW, gw))
        X = np.broadcast_to(xs[None, None, :, :], (PH, gh, PW, gw))
        inside = (Y >= -1) & (Y <= H) & (X >= -1) & (X <= W)
        coords = np.stack([np.clip(Y, 0, H - 1).ravel(), np.clip(X, 0, W - 1).ravel()])
        for c in range(C):
            v = map_coordinates(x[int(b), c], coords, order=1, mode="nearest").reshape(Y.shape)
            out[k, c] = np.where(inside, v, 0.0).mean(axis=(1, 3))
    return out


def _round_away(v):
    return int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(-v + 0.5))


def ref_roi_pool(x, rois, out_hw, scale):
    N, C, H, W = x.shape
    PH, PW = out_hw
    out = np.zeros((len(rois), C, PH, PW))
    arg = np.full((len(rois), C, PH, PW, 2), -1)
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        xs, ys, xe, ye = (_round_away(v * scale) for v in (x1, y1, x2, y2))
        rw, rh = max(xe - xs + 1, 1), max(ye - ys + 1, 1)
        for ph in range(PH):
            h0 = min(max(math.floor(ph * rh / PH) + ys, 0), H)
            h1 = min(max(math.ceil((ph + 1) * rh / PH) + ys, 0), H)
            for pw in range(PW):
                w0 = min(max(math.floor(pw * rw / PW) + xs, 0), W)
                w1 = min(max(math.ceil((pw + 1) * rw / PW) + xs, 0), W)
                if h1 <= h0 or w1 <= w0:
                    continue
                for c in range(C):
                    best, where = -np.inf, None
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            if x[int(b), c, h, w] > best:
                                best, where = x[int(b), c, h, w], (h, w)
                    out[k, c, ph, pw] = best
                    arg[k, c, ph, pw] = where
    return out, arg


def make_rois(rng, n_images, H, W, scale, n=8):
    """Boxes in image coordinates: inside, crossing the border, outside, tiny and degenerate."""
    img_h, img_w = H / scale, W / scale
    x1 = rng.uniform(-0.3 * img_w, img_w, n)
    y1 = rng.uniform(-0.3 * img_h, img_h, n)
    w = rng.uniform(0.0, 0.9 * img_w, n)
    h = rng.uniform(0.0, 0.9 * img_h, n)
    rois = np.stack([rng.integers(0, n_images, n), x1, y1, x1 + w, y1 + h], 1)
    extra = np.array(
        [
            [0, 1.3, 2.2, 1.3, 2.2],  # a point
            [0, 0.2, 0.1, 0.6 / scale, 0.5 / scale],  # smaller than a cell
            [n_images - 1, 2 * img_w, 2 * img_h, 3 * img_w, 3 * img_h],  # outside
            [0, -img_w, -img_h, 2 * img_w, 2 * img_h],
        ]
    )  # covering everything
    return np.concatenate([rois, extra])


# --------------------------------------------------------------------------- RoI Align
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 1, 2])
@pytest.mark.parametrize("scale,out_hw", [(1.0, (2, 2)), (0.5, (3, 2)), (0.25, (7, 7))])
def test_roi_align_matches_scipy_sampler(rng, aligned, sampling_ratio, scale, out_hw):
    x = rng.standard_normal((2, 3, 9, 11))
    rois = make_rois(rng, 2, 9, 11, scale)
    ours = roi_align(x, rois, out_hw, spatial_scale=scale, sampling_ratio=sampling_ratio, aligned=aligned)
    ref = ref_roi_align(x, rois, out_hw, scale, sampling_ratio, aligned)
    assert ours.shape == (len(rois), 3) + out_hw and ours.dtype == np.float64
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 2])
def test_roi_align_gradient_is_the_oracle_jacobian_transpose(rng, aligned, sampling_ratio):
    shape = (2, 1, 5, 6)
    rois = make_rois(rng, 2, 5, 6, 0.5, n=4)
    out_hw = (2, 3)
    jac = np.stack(
        [
            ref_roi_align(e.reshape(shape), rois, out_hw, 0.5, sampling_ratio, aligned).ravel()
            for e in np.eye(int(np.prod(shape)))
        ],
        axis=1,
    )
    g = rng.standard_normal((len(rois), 1) + out_hw)
    x = dn.tensor(rng.standard_normal(shape), requires_grad=True)
    out = roi_align(x, rois, out_hw, 0.5, sampling_ratio, aligned)
    assert isinstance(out, dn.Tensor)
    out.backward(dn.tensor(g))
    np.testing.assert_allclose(x.grad.data.ravel(), jac.T @ g.ravel(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(out.data.ravel(), jac @ x.data.ravel(), rtol=1e-12, atol=1e-13)


def test_roi_align_gradcheck(rng):
    x = dn.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    rois = np.array([[0, 0.3, 0.7, 3.6, 4.1], [0, 1.1, -0.5, 4.9, 2.2]])
    assert gradcheck(lambda t: roi_align(t, rois, (2, 2), 1.0, 2, True), [x])


def test_roi_align_float32_and_box_list(rng):
    x = rng.standard_normal((2, 2, 8, 8))
    b0 = np.array([[0.5, 1.0, 6.0, 7.5], [2.0, 2.0, 3.0, 3.0]])
    b1 = np.array([[1.0, 0.0, 7.9, 4.4]])
    rois = np.concatenate([np.c_[np.zeros(2), b0], np.c_[np.ones(1), b1]])
    ref = roi_align(x, rois, 3, 1.0, -1, False)
    np.testing.assert_allclose(roi_align(x, [b0, b1], 3), ref, rtol=0, atol=0)
    out32 = roi_align(x.astype(np.float32), rois.astype(np.float32), 3)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, ref, rtol=1e-5, atol=1e-6)
    module = RoIAlign((3, 3), spatial_scale=1.0, sampling_ratio=-1)
    np.testing.assert_allclose(module(x, rois), ref, rtol=0, atol=0)


def test_roi_align_empty_boxes(rng):
    x = rng.standard_normal((1, 4, 5, 5))
    assert roi_align(x, np.zeros((0, 5)), (2, 3)).shape == (0, 4, 2, 3)
    assert roi_align(x, [np.zeros((0, 4))], 2).shape == (0, 4, 2, 2)
    t = dn.tensor(x, requires_grad=True)
    out = roi_align(t, np.zeros((0, 5)), 2)
    out.sum().backward()
    assert np.all(t.grad.data == 0)


# --------------------------------------------------------------------------- RoI Pool
@pytest.mark.parametrize("scale,out_hw", [(1.0, (2, 2)), (0.5, (3, 2)), (0.25, (7, 7)), (1 / 3, (4, 5))])
def test_roi_pool_matches_reference_loop(rng, scale, out_hw):
    x = rng.standard_normal((2, 3, 9, 11))
    rois = make_rois(rng, 2, 9, 11, scale)
    rois[:3, 1:] = np.round(rois[:3, 1:] * scale * 2) / (2 * scale)  # exact .5 cases for the rounding
    ours = roi_pool(x, rois, out_hw, spatial_scale=scale)
    ref, _ = ref_roi_pool(x, rois, out_hw, scale)
    np.testing.assert_array_equal(ours, ref)


def test_roi_pool_gradient_goes_to_the_argmax(rng):
    shape = (2, 2, 7, 6)
    x = rng.standard_normal(shape)
    rois = make_rois(rng, 2, 7, 6, 0.5, n=6)
    ref, arg = ref_roi_pool(x, rois, (3, 2), 0.5)
    g = rng.standard_normal(ref.shape)
    expected = np.zeros(shape)
    for k, c, ph, pw in np.ndindex(ref.shape):
        h, w = arg[k, c, ph, pw]
        if h >= 0:
            expected[int(rois[k, 0]), c, h, w] += g[k, c, ph, pw]
    t = dn.tensor(x, requires_grad=True)
    out = roi_pool(t, rois, (3, 2), 0.5)
    out.backward(dn.tensor(g))
    np.testing.assert_array_equal(out.data, ref)
    np.testing.assert_allclose(t.grad, expected, rtol=1e-14, atol=0)


def test_roi_pool_gradcheck_and_module(rng):
    x = dn.tensor(rng.standard_normal((1, 2, 6, 6)), requires_grad=True)
    rois = np.array([[0, 0.0, 1.0, 4.0, 5.0], [0, 2.0, 0.0, 5.0, 3.0]])
    assert gradcheck(lambda t: roi_pool(t, rois, (2, 2)), [x])
    np.testing.assert_array_equal(RoIPool(2, 1.0)(x.data, rois), roi_pool(x.data, rois, 2))


def test_roi_pool_float32_and_empty(rng):
    x = rng.standard_normal((1, 2, 6, 6))
    rois = np.array([[0, 0.0, 1.0, 4.0, 5.0]])
    out32 = roi_pool(x.astype(np.float32), rois, 2)
    assert out32.dtype == np.float32
    np.testing.assert_array_equal(out32, roi_pool(x, rois, 2).astype(np.float32))
    assert roi_pool(x, np.zeros((0, 5)), 2).shape == (0, 2, 2, 2)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("fn", [roi_align, roi_pool])
def test_roi_ops_reject_bad_input(fn):
    name = fn.__name__
    x = np.zeros((2, 1, 4, 4))
    ok = np.array([[0, 0.0, 0, 1, 1]])
    with pytest.raises(ValueError, match=rf"{name}: boxes must be a \(K, 5\) array"):
        fn(x, np.zeros((1, 4)), 2)
    with pytest.raises(ValueError, match=rf"{name}: box 0 has batch index 2.0; expected an integer in \[0, 2\)"):
        fn(x, np.array([[2, 0.0, 0, 1, 1]]), 2)
    with pytest.raises(ValueError, match=rf"{name}: box 0 has batch index 0.5"):
        fn(x, np.array([[0.5, 0.0, 0, 1, 1]]), 2)
    with pytest.raises(ValueError, match=rf"{name}: box 1 = \[3.0, 0.0, 1.0, 1.0\] has x2 < x1"):
        fn(x, np.array([[0, 0.0, 0, 1, 1], [1, 3.0, 0, 1, 1]]), 2)
    with pytest.raises(ValueError, match=rf"{name}: expected input of shape \(N, C, H, W\)"):
        fn(np.zeros((1, 4, 4)), ok, 2)
    with pytest.raises(TypeError, match=rf"{name}: expected a floating input"):
        fn(np.zeros((1, 1, 4, 4), dtype=np.int64), ok, 2)
    with pytest.raises(ValueError, match=rf"{name}: output_size must be positive"):
        fn(x, ok, (0, 2))
    with pytest.raises(ValueError, match=rf"{name}: boxes\[0\] must have shape \(K_i, 4\)"):
        fn(x, [np.zeros((1, 5))], 2)


# --------------------------------------------------------------------------- boxes far larger than the map
@pytest.mark.parametrize("aligned", [False, True])
def test_roi_align_boxes_much_larger_than_the_map_match_the_sampler(rng, aligned):
    """Boxes hundreds of cells wide around a 9x11 map: most samples fall outside [-1, size] and are
    skipped without being materialised; the result still equals the sample-by-sample oracle, and so
    does the gradient (the oracle's Jacobian transpose)."""
    x = rng.standard_normal((2, 2, 9, 11))
    rois = np.array(
        [
            [0, -300.0, -250.0, 310.0, 260.0],
            [1, -5.0, 2.0, 900.0, 7.5],
            [1, 3.0, -640.0, 8.0, 20.0],
            [0, 2.0, 3.0, 6.0, 7.0],
        ]
    )
    for out_hw in [(2, 2), (3, 2)]:
        ours = roi_align(x, rois, out_hw, 1.0, -1, aligned)
        np.testing.assert_allclose(ours, ref_roi_align(x, rois, out_hw, 1.0, -1, aligned), rtol=1e-12, atol=1e-15)
        ours32 = roi_align(x.astype(np.float32), rois, out_hw, 1.0, -1, aligned)
        np.testing.assert_allclose(ours32, ours, rtol=1e-4, atol=1e-6)
    shape = (1, 1, 4, 5)
    rois = np.array([[0, -120.0, -90.0, 130.0, 95.0], [0, -3.0, 1.0, 200.0, 3.0]])
    jac = np.stack(
        [ref_roi_align(e.reshape(shape), rois, (2, 2), 1.0, -1, aligned).ravel() for e in np.eye(int(np.prod(shape)))],
        axis=1,
    )
    g = rng.standard_normal((2, 1, 2, 2))
    xt = dn.tensor(rng.standard_normal(shape), requires_grad=True)
    out = roi_align(xt, rois, (2, 2), 1.0, -1, aligned)
    out.backward(dn.tensor(g))
    np.testing.assert_allclose(out.data.ravel(), jac @ xt.data.ravel(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(xt.grad.data.ravel(), jac.T @ g.ravel(), rtol=1e-12, atol=1e-15)


def _windowed_reference(x, box, out_hw):
    """RoI Align of one huge box (not aligned, scale 1, adaptive grid) enumerating per bin only the
    samples whose coordinate can lie in [-1, size] (the others contribute 0): the scipy sampler on a
    window of grid indices found in float64, widened by 5."""
    _, C, H, W = x.shape
    x1, y1, x2, y2 = box
    axes = []
    for lo, hi, pooled, size in ((y1, y2, out_hw[0], H), (x1, x2, out_hw[1], W)):
        bin_size = max(hi - lo, 1.0) / pooled
        grid = math.ceil(max(hi - lo, 1.0) / pooled)
        per_bin = []
        for p in range(pooled):
            base, step = lo + p * bin_size, bin_size / grid
            first = max(0, math.ceil((-1 - base) / step - 0.5) - 5)
            last = min(grid - 1, math.floor((size - base) / step - 0.5) + 5)
            c = base + (np.arange(first, last + 1) + 0.5) * bin_size / grid if last >= first else np.zeros(0)
            per_bin.append(c[(c >= -1) & (c <= size)])
        axes.append((per_bin, grid))
    (ys_bins, gh), (xs_bins, gw) = axes
    out = np.zeros((C,) + tuple(out_hw))
    for i, ys in enumerate(ys_bins):
        for j, xs in enumerate(xs_bins):
            if ys.size and xs.size:
                Y, X = np.meshgrid(np.clip(ys, 0, H - 1), np.clip(xs, 0, W - 1), indexing="ij")
                for c in range(C):
                    v = map_coordinates(x[0, c], np.stack([Y.ravel(), X.ravel()]), order=1, mode="nearest")
                    out[c, i, j] = v.sum() / (gh * gw)
    return out


def test_roi_align_huge_box_runs_in_memory_bounded_by_the_map(rng):
    """A 1e9 x 1e8 box (1.4e8 x 1.4e7 samples per bin side) on a 16x16 map: memory in proportion to the
    map, not to the box (it used to materialise every sample: gigabytes, then the OOM killer)."""
    import tracemalloc

    x = rng.standard_normal((1, 3, 16, 16))
    box = (-4e8, -3e7, 6e8, 7e7)
    tracemalloc.start()
    try:
        out = roi_align(x, np.array([(0,) + box]), (7, 7), 1.0, -1, False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 500 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    ref = _windowed_reference(x, box, (7, 7))
    assert np.count_nonzero(ref) > 0
    # the sums cancel (values ~1e-15 from terms of ~1e-16 at sample coordinates ~1e7 to 1e8)
    np.testing.assert_allclose(out[0], ref, rtol=1e-9, atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("fn", [roi_align, roi_pool])
def test_roi_ops_refuse_huge_output_sizes(fn):
    with pytest.raises(
        ValueError,
        match=r"roi_(align|pool): the requested output of shape \(1, 2, 100000, "
        r"100000\) would hold",
    ):
        fn(np.ones((1, 2, 4, 4)), np.array([[0, 0.0, 0.0, 2.0, 2.0]]), (10**5, 10**5))
