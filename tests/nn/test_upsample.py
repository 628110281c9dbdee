"""interpolate / Upsample against torch: every mode (nearest, nearest-exact, linear, bilinear, bicubic,
trilinear, area), align_corners, size vs scale_factor (and recompute_scale_factor), up- and
down-sampling, empty batches and 1x1 inputs; values and input gradients; gradchecks; reprs; errors."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn
from deepnotes.autograd import gradcheck

import _oracle as oracle

RTOL, ATOL = 1e-6, 1e-12


def _compare(x, rng, rtol=RTOL, atol=ATOL, **kwargs):
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.interpolate(X, **kwargs)
    yt = TF.interpolate(Xt, **kwargs)
    assert y.data.dtype == x.dtype
    oracle.assert_matches(y, yt, [(X, Xt)], rng, rtol, atol)


MODES_4D = [
    ("nearest", None),
    ("nearest-exact", None),
    ("bilinear", False),
    ("bilinear", True),
    ("bicubic", False),
    ("bicubic", True),
    ("area", None),
]


_KWARGS_4D = [
    dict(size=(7, 9)),
    dict(size=(3, 2)),
    dict(size=5),
    dict(size=(1, 1)),
    dict(scale_factor=2),
    dict(scale_factor=(1.5, 0.7)),
    dict(scale_factor=0.5),
    dict(scale_factor=1.3, recompute_scale_factor=True),
    dict(scale_factor=(3.0, 1.0)),
    dict(size=(14, 20)),
]


# 'area' ignores the scale factor's coordinates, so recompute_scale_factor does not apply to it
@pytest.mark.parametrize(
    "mode,align,kwargs",
    [(m, a, k) for m, a in MODES_4D for k in _KWARGS_4D if not (m == "area" and "recompute_scale_factor" in k)],
)
def test_interpolate_4d_matches_torch(mode, align, kwargs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    _compare(x, rng, mode=mode, align_corners=align, **kwargs)


@pytest.mark.parametrize("dense_max", [0, 6])  # 0: the gather/reduceat path on both axes; 6: H dense, W not
@pytest.mark.parametrize("mode,align", [(m, a) for m, a in MODES_4D if m != "area"])
@pytest.mark.parametrize("kwargs", [dict(size=(7, 9)), dict(scale_factor=2), dict(scale_factor=(1.5, 0.7))])
def test_interpolate_4d_gather_and_matrix_paths_match_torch(monkeypatch, dense_max, mode, align, kwargs):
    """Inputs longer than _DENSE_MAX along an axis resample by gathers (backward: reduceat) instead of
    a matrix product; both paths, also mixed between the two axes, equal torch."""
    import deepnotes.ops.upsample as ups

    monkeypatch.setattr(ups, "_DENSE_MAX", dense_max)
    rng = np.random.default_rng(2)
    _compare(rng.standard_normal((2, 3, 5, 8)), rng, mode=mode, align_corners=align, **kwargs)
    _compare(
        rng.standard_normal((2, 3, 5, 8)).astype(np.float32),
        rng,
        rtol=1e-5,
        atol=1e-5,
        mode=mode,
        align_corners=align,
        **kwargs,
    )


@pytest.mark.parametrize(
    "mode,align", [("nearest", None), ("nearest-exact", None), ("linear", False), ("linear", True), ("area", None)]
)
@pytest.mark.parametrize(
    "kwargs", [dict(size=11), dict(size=3), dict(scale_factor=2.5), dict(scale_factor=0.4), dict(size=20), dict(size=1)]
)
def test_interpolate_3d_matches_torch(mode, align, kwargs):
    rng = np.random.default_rng(1)
    _compare(rng.standard_normal((2, 3, 7)), rng, mode=mode, align_corners=align, **kwargs)


@pytest.mark.parametrize(
    "mode,align", [("nearest", None), ("nearest-exact", None), ("trilinear", False), ("trilinear", True)]
)
@pytest.mark.parametrize("kwargs", [dict(size=(3, 5, 2)), dict(scale_factor=2), dict(scale_factor=(0.5, 1.5, 2.0))])
def test_interpolate_5d_matches_torch(mode, align, kwargs):
    rng = np.random.default_rng(2)
    _compare(rng.standard_normal((1, 2, 4, 3, 4)), rng, mode=mode, align_corners=align, **kwargs)


@pytest.mark.parametrize(
    "in_size,out_size",
    [
        (14, 20),
        (3, 5),
        (7, 10),
        (10, 7),
        (1, 4),
        (4, 1),
        (5, 15),
        (9, 2),
        (6, 12),
        (6, 13),
        (33, 100),
        (2, 82),
        (3, 123),
        (4, 164),
    ],
)
@pytest.mark.parametrize("ndim", [3, 4])
def test_nearest_indices_in_float32_match_torch(in_size, out_size, ndim):
    """For float32 inputs torch evaluates floor(dst * scale) in float32: for ratios like 82 / 2 that picks
    other rows than an exact rational floor would (values and gradients agree here)."""
    rng = np.random.default_rng(7)
    shape = (1, 2) + (1,) * (ndim - 3) + (in_size,)
    size = (1,) * (ndim - 3) + (out_size,)
    for mode in ("nearest", "nearest-exact"):
        _compare(rng.standard_normal(shape).astype(np.float32), rng, rtol=1e-6, atol=1e-6, size=size, mode=mode)
        _compare(
            rng.standard_normal(shape).astype(np.float32),
            rng,
            rtol=1e-6,
            atol=1e-6,
            mode=mode,
            scale_factor=(1.0,) * (ndim - 3) + (out_size / in_size,),
        )


def test_nearest_legacy_2d_special_cases_match_torch():
    """torch's 2-D nearest kernel copies when out == in (and halves when out == 2 in) whatever the scale
    factor says; its 1-D kernel follows the scale factor.  (torch's backward always uses the special
    cases, disagreeing with its own 1-D forward, so only values are compared.)"""
    x = np.arange(3, dtype=np.float64)
    for shape, sf in [((1, 1, 1, 3), (1.0, 1.2)), ((1, 1, 3), (1.2,)), ((1, 1, 1, 3), (1.0, 2.1)), ((1, 1, 3), (2.1,))]:
        y = F.interpolate(dn.Tensor(x.reshape(shape)), scale_factor=sf)
        np.testing.assert_array_equal(y.data, TF.interpolate(torch.tensor(x.reshape(shape)), scale_factor=sf).numpy())
    rng = np.random.default_rng(8)  # linear modes copy when out == in
    for mode, shape in [("linear", (1, 2, 3)), ("bilinear", (1, 2, 3, 3)), ("trilinear", (1, 1, 3, 3, 3))]:
        _compare(rng.standard_normal(shape), rng, mode=mode, scale_factor=1.2)
    x = rng.standard_normal((1, 2, 3, 3))  # cubic follows the scale factor (torch's backward copies)
    np.testing.assert_allclose(
        F.interpolate(dn.Tensor(x), scale_factor=1.2, mode="bicubic").data,
        TF.interpolate(torch.tensor(x), scale_factor=1.2, mode="bicubic").numpy(),
        rtol=RTOL,
        atol=ATOL,
    )


@pytest.mark.parametrize("mode,align", MODES_4D)
def test_interpolate_float32_matches_torch(mode, align):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 6, 5)).astype(np.float32)
    _compare(x, rng, rtol=1e-5, atol=1e-5, mode=mode, align_corners=align, size=(9, 8))
    _compare(x, rng, rtol=1e-5, atol=1e-5, mode=mode, align_corners=align, scale_factor=0.6)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(0, 2),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    oh=st.integers(1, 9),
    ow=st.integers(1, 9),
    mode_align=st.sampled_from(MODES_4D),
    use_scale=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_interpolate_hypothesis(n, h, w, oh, ow, mode_align, use_scale, seed):
    rng = np.random.default_rng(seed)
    mode, align = mode_align
    x = rng.standard_normal((n, 2, h, w))
    if use_scale:
        kwargs = dict(scale_factor=(oh / h, ow / w))
        if min(int(np.floor(h * oh / h)), int(np.floor(w * ow / w))) < 1:
            return
    else:
        kwargs = dict(size=(oh, ow))
    _compare(x, rng, mode=mode, align_corners=align, **kwargs)


def test_gradcheck_interpolation():
    rng = np.random.default_rng(4)

    def t(*shape):
        return dn.Tensor(rng.standard_normal(shape), requires_grad=True)

    assert gradcheck(lambda x: F.interpolate(x, size=(5, 3), mode="bilinear"), [t(1, 2, 3, 4)])
    assert gradcheck(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True), [t(1, 1, 3, 3)])
    assert gradcheck(lambda x: F.interpolate(x, size=(4, 5), mode="bicubic"), [t(1, 1, 3, 3)])
    assert gradcheck(lambda x: F.interpolate(x, size=(7, 2), mode="nearest"), [t(2, 1, 3, 4)])
    assert gradcheck(lambda x: F.interpolate(x, size=4, mode="linear"), [t(1, 2, 6)])


@pytest.mark.parametrize(
    "make,make_t",
    [
        (lambda: nn.Upsample(scale_factor=2), lambda: torch.nn.Upsample(scale_factor=2)),
        (
            lambda: nn.Upsample(size=(3, 7), mode="bilinear", align_corners=True),
            lambda: torch.nn.Upsample(size=(3, 7), mode="bilinear", align_corners=True),
        ),
        (
            lambda: nn.Upsample(scale_factor=(2, 1.5), mode="bicubic"),
            lambda: torch.nn.Upsample(scale_factor=(2, 1.5), mode="bicubic"),
        ),
        (lambda: nn.Upsample(size=4, mode="nearest-exact"), lambda: torch.nn.Upsample(size=4, mode="nearest-exact")),
        (lambda: nn.UpsamplingNearest2d(scale_factor=3), lambda: torch.nn.UpsamplingNearest2d(scale_factor=3)),
        (lambda: nn.UpsamplingBilinear2d(size=(5, 4)), lambda: torch.nn.UpsamplingBilinear2d(size=(5, 4))),
    ],
)
def test_upsample_modules_match_torch(make, make_t):
    rng = np.random.default_rng(5)
    m, tm = make(), make_t()
    assert repr(m) == repr(tm)
    x = rng.standard_normal((2, 3, 4, 3))
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates the Upsampling*2d classes
        yt = tm(Xt)
    y = m(X)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    cot = rng.standard_normal(y.shape)
    (y * dn.Tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_deprecated_helpers_match_torch():
    x = np.random.default_rng(6).standard_normal((1, 2, 3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ours, theirs, kwargs in [
            (F.upsample, TF.upsample, dict(scale_factor=2, mode="bilinear")),
            (F.upsample_nearest, TF.upsample_nearest, dict(size=5)),
            (F.upsample_bilinear, TF.upsample_bilinear, dict(scale_factor=2)),
        ]:
            np.testing.assert_allclose(
                ours(dn.Tensor(x), **kwargs).data, theirs(torch.tensor(x), **kwargs).numpy(), rtol=RTOL, atol=ATOL
            )


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(), ValueError, "exactly one of size and scale_factor"),
        (dict(size=3, scale_factor=2), ValueError, "exactly one of size and scale_factor"),
        (dict(size=3, align_corners=True), ValueError, "align_corners can only be set with the interpolating modes"),
        (dict(size=3, mode="linear"), ValueError, r"mode 'linear' needs a 3-D input, got shape \(1, 2, 3, 3\)"),
        (dict(size=3, mode="trilinear"), ValueError, "mode 'trilinear' needs a 5-D input"),
        (dict(size=3, mode="cubic"), ValueError, "interpolate: mode must be one of"),
        (dict(size=(3, 4, 5)), ValueError, r"size \(3, 4, 5\) must give one value per spatial dimension \(2\)"),
        (dict(size=0), ValueError, "input and output spatial sizes must be positive"),
        (dict(scale_factor=0.2), ValueError, "input and output spatial sizes must be positive"),
        (dict(scale_factor=-1.0), ValueError, "scale_factor must be positive"),
        (dict(size=4, antialias=True), ValueError, "antialias=True is not supported"),
        (dict(size=2.5), TypeError, "interpolate size: expected an int"),
    ],
)
def test_bad_arguments_raise(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        F.interpolate(dn.randn(1, 2, 3, 3), **kwargs)


def test_bad_input_ranks_raise():
    with pytest.raises(ValueError, match=r"interpolate: expected a 3-D, 4-D or 5-D input"):
        F.interpolate(dn.randn(2, 3), size=4)
    with pytest.raises(TypeError, match="interpolate: expected a floating-point input"):
        F.interpolate(dn.Tensor(np.ones((1, 1, 2, 2), dtype=np.int64)), size=4)


def _plant_non_finite(a, rng, count=3):
    """A copy of ``a`` with NaN, +inf and -inf written at ``count`` random positions each."""
    a = a.copy()
    flat = a.reshape(-1)
    pos = rng.choice(flat.size, 3 * count, replace=False)
    flat[pos[:count]], flat[pos[count : 2 * count]], flat[pos[2 * count :]] = np.nan, np.inf, -np.inf
    return a


NON_FINITE_CASES = [
    dict(mode="nearest", scale_factor=2),
    dict(mode="nearest", size=(7, 11)),
    dict(mode="nearest-exact", size=(24, 9)),
    dict(mode="bilinear", scale_factor=2),
    dict(mode="bilinear", size=(7, 23), align_corners=True),
    dict(mode="bilinear", size=(5, 5)),
    dict(mode="bicubic", size=(20, 13)),
    dict(mode="bicubic", scale_factor=2, align_corners=True),
    dict(mode="area", size=(5, 7)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", NON_FINITE_CASES)
def test_interpolate_non_finite_input_and_gradient_spread_like_torch(kwargs, dtype):
    """One NaN or inf pixel reaches only the outputs that read it (a dense interpolation matrix
    would spread 0 * inf = NaN over a whole row); likewise a non-finite output gradient."""
    rng = np.random.default_rng(7)
    x = _plant_non_finite(rng.standard_normal((2, 3, 16, 12)).astype(dtype), rng)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = F.interpolate(X, **kwargs), TF.interpolate(Xt, **kwargs)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else {}
    oracle.assert_same_non_finite(y.data, yt, what="output", **tol)
    assert np.isfinite(yt.detach().numpy()).mean() > 0.5  # the check is not vacuous
    cot = _plant_non_finite(rng.standard_normal(tuple(yt.shape)).astype(dtype), rng, count=2)
    y.backward(dn.Tensor(cot))
    yt.backward(torch.tensor(cot))
    oracle.assert_same_non_finite(X.grad, Xt.grad, what="input gradient", **tol)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: F.interpolate(x, scale_factor=1e9),
        lambda x: F.interpolate(x, size=(100000, 100000), mode="bilinear"),
        lambda x: nn.Upsample(scale_factor=(1e5, 1e5), mode="nearest")(x),
    ],
)
def test_interpolate_refuses_huge_outputs_before_allocating(call):
    """scale_factor=1e9 used to ask NumPy for ~60 GiB before any check: the output's element count is
    now checked first, against a fixed cap of 2**31 elements, with an error naming the size and bytes."""
    import tracemalloc

    x = dn.Tensor(np.ones((1, 2, 8, 8), dtype=np.float32))
    tracemalloc.start()
    try:
        with pytest.raises(
            ValueError,
            match=r"interpolate: the requested output of shape \(1, 2, \d+, \d+\) "
            r"would hold \d+ elements \(\d+ bytes",
        ):
            call(x)
        assert tracemalloc.get_traced_memory()[1] < 2**20
    finally:
        tracemalloc.stop()


def test_interpolate_refuses_non_finite_scale_factor():
    with pytest.raises(ValueError, match="interpolate: scale_factor must be positive and finite"):
        F.interpolate(dn.ones(1, 1, 4, 4), scale_factor=float("inf"))
