"""RoI Pool and RoI Align (seed 001) with torchvision's kernel semantics and gradients.

Both take a feature map ``input`` ``(N, C, H, W)`` and ``boxes`` -- a ``(K, 5)`` array of
``[batch_index, x1, y1, x2, y2]`` rows or a list of per-image ``(K_i, 4)`` xyxy arrays -- in input-image
coordinates, scaled by ``spatial_scale`` onto the feature map.  Output: ``(K, C, out_h, out_w)``.

**RoI Pool** (two quantisations, Fast R-CNN): the scaled box corners are rounded to integers
(half away from zero), the box spans ``round(x2) - round(x1) + 1`` cells (at least 1), bin
``(ph, pw)`` covers rows ``[floor(ph * bin_h), ceil((ph + 1) * bin_h))`` offset by the box start and
clipped to the map; the output is the bin maximum (first maximum in row-major order receives the
gradient), an empty bin gives 0.

**RoI Align** (Mask R-CNN): no rounding.  ``offset = 0.5 if aligned else 0``; the box is
``x1 * scale - offset .. x2 * scale - offset`` (at least 1x1 when not aligned); each bin is sampled on a
``grid_h x grid_w`` lattice (``sampling_ratio`` or, if ``<= 0``, ``ceil(roi_size / out_size)``) at
``start + p * bin + (i + 0.5) * bin / grid`` and the samples are averaged.  A sample is bilinearly
interpolated; one with ``y < -1`` or ``y > H`` (likewise x) contributes 0, one in ``[-1, 0]`` is
moved to 0, one at or past ``H - 1`` reads row ``H - 1`` only.

Implementation: bilinear weights factor into a row part and a column part, so for each RoI the samples
form two small dense matrices ``A_y`` ``(out_h, R)`` and ``A_x`` ``(out_w, R_x)`` over the rows/columns the
RoI touches, and ``out = A_y @ crop @ A_x^T`` per channel -- batched matrix products over RoIs, no loops
over pixels or bins.  RoIs are processed in groups of similar size (bounded memory, little padding);
the backward pass is the transpose, accumulated into the feature map with ``np.bincount``.
Arithmetic follows the input dtype (float32 in, float32 sampling), like the C++ kernels.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..ops._finite import all_finite
from ..ops._limits import check_output_size
from ..tensor import Tensor

__all__ = ["roi_align", "roi_pool", "RoIAlign", "RoIPool"]

_CHUNK_ELEMS = 8_000_000


# --------------------------------------------------------------------------- argument handling


def _pair(output_size, fn):
    if isinstance(output_size, (int, np.integer)):
        out = (int(output_size), int(output_size))
    else:
        try:
            out = tuple(int(v) for v in output_size)
        except TypeError:
            raise TypeError(f"{fn}: output_size must be an int or a pair (h, w), got {output_size!r}") from None
        if len(out) != 2:
            raise ValueError(f"{fn}: output_size must be an int or a pair (h, w), got {output_size!r}")
    if out[0] <= 0 or out[1] <= 0:
        raise ValueError(f"{fn}: output_size must be positive, got {output_size!r}")
    return out


def _rois(boxes, fn, n_images):
    """``(K, 5)`` float64 rows ``[batch, x1, y1, x2, y2]`` from either accepted box layout."""
    if isinstance(boxes, (list, tuple)):
        parts = []
        for i, b in enumerate(boxes):
            b = np.asarray(b.data if isinstance(b, Tensor) else b)
            if b.ndim != 2 or b.shape[1] != 4:
                raise ValueError(f"{fn}: boxes[{i}] must have shape (K_i, 4), got {b.shape}")
            if b.dtype.kind not in "iuf":
                raise TypeError(f"{fn}: boxes[{i}] must be numeric, got dtype {b.dtype}")
            parts.append(np.concatenate([np.full((b.shape[0], 1), float(i)), b.astype(np.float64)], 1))
        rois = np.concatenate(parts, 0) if parts else np.zeros((0, 5))
    else:
        rois = np.asarray(boxes.data if isinstance(boxes, Tensor) else boxes)
        if rois.dtype.kind not in "iuf":
            raise TypeError(f"{fn}: boxes must be numeric, got dtype {rois.dtype}")
        if rois.ndim != 2 or rois.shape[1] != 5:
            raise ValueError(
                f"{fn}: boxes must be a (K, 5) array [batch_index, x1, y1, x2, y2] or a "
                f"list of (K_i, 4) arrays, got shape {rois.shape}"
            )
        rois = rois.astype(np.float64)
    if rois.size:
        if not np.isfinite(rois).all():
            raise ValueError(f"{fn}: boxes must be finite")
        bidx = rois[:, 0]
        bad = (bidx != np.round(bidx)) | (bidx < 0) | (bidx >= n_images)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{fn}: box {k} has batch index {float(bidx[k])!r}; expected an integer in [0, {n_images})"
            )
        bad = (rois[:, 3] < rois[:, 1]) | (rois[:, 4] < rois[:, 2])
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{fn}: box {k} = {rois[k, 1:].tolist()} has x2 < x1 or y2 < y1")
    return rois


def _feature(input, fn):
    x = input.data if isinstance(input, Tensor) else np.asarray(input)
    if x.ndim != 4:
        raise ValueError(f"{fn}: expected input of shape (N, C, H, W), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: expected a floating input, got dtype {x.dtype}")
    return x


def _size_chunks(sizes, per_unit, max_k=64):
    """Groups of RoI indices, sorted by ``sizes``, each within the element budget.

    Sorting first means a group pads every RoI only up to similar RoIs, not to the largest one.
    """
    order = np.argsort(sizes, kind="stable")
    ss = np.maximum(sizes[order], 1) * max(int(per_unit), 1)
    groups, s, K = [], 0, len(order)
    while s < K:
        # largest e with (e - s) * ss[e - 1] <= budget; ss is non-decreasing, so search on e
        cap = min(K, s + max_k)
        e = s + 1
        lo, hi = s + 1, cap
        while lo <= hi:
            mid = (lo + hi) // 2
            if (mid - s) * ss[mid - 1] <= _CHUNK_ELEMS:
                e, lo = mid, mid + 1
            else:
                hi = mid - 1
        groups.append(order[s:e])
        s = e
    return groups


def _accumulate_rows(acc, flat, vals):
    """``acc[c, flat[i]] += vals[i, c]`` for every channel (repeated indices add up)."""
    vt = np.ascontiguousarray(vals.T)
    n = acc.shape[1]
    for c in range(vt.shape[0]):
        acc[c] += np.bincount(flat, weights=vt[c], minlength=n)


# --------------------------------------------------------------------------- RoI Align
def _sample_window(start, bin_size, grid, pooled, size, dtype, G):
    """The grid indices g to evaluate along one axis: ``(1, 1, G)`` (all of them) or, when that is
    fewer, ``(K, pooled, Gv)`` windows ``first + arange(Gv)`` per RoI and bin.

    A sample contributes only when its coordinate c = start + p bin + (g + 1/2) bin / grid lies in
    [-1, size]; consecutive samples are bin / grid <= 1 apart (adaptive grid), so at most about
    2 (size + 2) of a bin's samples can.  Solving for g in float64 and widening by the rounding error
    of the input-dtype arithmetic (a few ulps of the largest term) gives windows that hold every
    contributing sample; the caller evaluates the exact formula on them.  So a huge box costs memory
    and time in proportion to the feature map, not to its own size.
    """
    K = start.shape[0]
    if K == 0:
        return np.arange(G)[None, None, :]
    step = bin_size.astype(np.float64) / np.maximum(grid, 1)  # (K,)
    base = start.astype(np.float64)[:, None] + np.arange(pooled) * bin_size.astype(np.float64)[:, None]
    magnitude = np.abs(start.astype(np.float64)) + pooled * np.abs(bin_size.astype(np.float64)) + size + 2
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.ceil(8 * np.finfo(dtype).eps * magnitude / step) + 2  # (K,)
        lo = np.ceil((-1 - base) / step[:, None] - 0.5) - margin[:, None]
        hi = np.floor((size - base) / step[:, None] - 0.5) + margin[:, None]
    known = np.isfinite(lo) & np.isfinite(hi) & (step[:, None] > 0)
    last = (grid - 1)[:, None]
    lo = np.where(known, np.clip(lo, 0, np.maximum(last, 0)), 0).astype(np.int64)
    hi = np.where(known, np.clip(hi, -1, last), last).astype(np.int64)
    width = int(np.maximum(hi - lo + 1, 0).max())
    if width >= G:
        return np.arange(G)[None, None, :]
    return lo[:, :, None] + np.arange(max(width, 1))


def _axis_weights(start, bin_size, grid, pooled, size, dtype):
    """Sample rows (or columns) and bilinear weights along one axis for every RoI.

    Returns ``idx`` and ``w``, both ``(K, pooled, G, 2)``: the two neighbouring cells of each sample
    and their weights, already divided by the grid count; unused or out-of-range samples weigh 0.
    """
    K = start.shape[0]
    G = max(int(grid.max()) if K else 1, 1)
    p = np.arange(pooled, dtype=dtype)[None, :, None]
    gi = _sample_window(start, bin_size, grid, pooled, size, dtype, G)  # (K, pooled, Gv) or (1, 1, G)
    g = gi.astype(dtype)
    gr = np.maximum(grid, 1).astype(dtype)[:, None, None]
    c = start[:, None, None] + p * bin_size[:, None, None] + (g + dtype(0.5)) * bin_size[:, None, None] / gr
    valid = (gi < grid[:, None, None]) & ~((c < -1) | (c > size))
    c = np.where(c <= 0, dtype(0), c)
    low = np.floor(c).astype(np.int64)
    top = low >= size - 1
    low = np.where(top, size - 1, low)
    high = np.where(top, size - 1, low + 1)
    c = np.where(top, low.astype(dtype), c)
    lw = c - low
    hw = dtype(1) - lw
    scale = np.where(valid, dtype(1) / gr, dtype(0))
    idx = np.stack([low, high], axis=-1)
    w = np.stack([hw * scale, lw * scale], axis=-1)
    return idx, w


def _span(idx, w):
    """First and last cell each RoI reads along one axis (0, 0 for a RoI that reads nothing)."""
    K = idx.shape[0]
    used = (w != 0).reshape(K, -1)
    flat = idx.reshape(K, -1)
    first = np.where(used, flat, np.iinfo(np.int64).max).min(axis=1, initial=np.iinfo(np.int64).max)
    last = np.where(used, flat, -1).max(axis=1, initial=-1)
    empty = last < 0
    return np.where(empty, 0, first), np.where(empty, 0, last)


def _window_matrix(idx, w, first, R):
    """Dense ``(k, pooled, R)`` weights over the cells ``first + arange(R)`` of each RoI."""
    k, pooled = idx.shape[:2]
    rel = np.where(w != 0, idx - first[:, None, None, None], 0)
    flat = (np.arange(k)[:, None, None, None] * pooled + np.arange(pooled)[None, :, None, None]) * R + rel
    A = np.bincount(flat.ravel(), weights=w.ravel().astype(np.float64), minlength=k * pooled * R)
    return A.reshape(k, pooled, R).astype(w.dtype)


def _align_forward(x, rois, output_size, spatial_scale, sampling_ratio, aligned):
    N, C, H, W = x.shape
    PH, PW = output_size
    K = rois.shape[0]
    out = np.zeros((K, C, PH, PW), dtype=x.dtype)
    plans = []
    if K == 0:
        return out, plans
    T = x.dtype.type
    scale = T(spatial_scale)
    off = T(0.5) if aligned else T(0)
    r = rois.astype(T)
    sw, sh = r[:, 1] * scale - off, r[:, 2] * scale - off
    rw, rh = (r[:, 3] * scale - off) - sw, (r[:, 4] * scale - off) - sh
    if not aligned:
        rw, rh = np.maximum(rw, T(1)), np.maximum(rh, T(1))
    if sampling_ratio > 0:
        gh = np.full(K, int(sampling_ratio), dtype=np.int64)
        gw = gh.copy()
    else:
        gh = np.ceil(rh / T(PH)).astype(np.int64)
        gw = np.ceil(rw / T(PW)).astype(np.int64)
    yi, wy = _axis_weights(sh, rh / T(PH), gh, PH, H, T)
    xi, wx = _axis_weights(sw, rw / T(PW), gw, PW, W, T)
    y0, y1 = _span(yi, wy)
    x0, x1 = _span(xi, wx)
    b = rois[:, 0].astype(np.int64)
    flat_x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(N * H * W, C)
    side = np.maximum(y1 - y0, x1 - x0) + 1
    for sel in _size_chunks(side * side, C):
        k = sel.size
        R = int((y1[sel] - y0[sel]).max()) + 1
        Rx = int((x1[sel] - x0[sel]).max()) + 1
        Ay = _window_matrix(yi[sel], wy[sel], y0[sel], R)  # (k, PH, R)
        Ax = _window_matrix(xi[sel], wx[sel], x0[sel], Rx)  # (k, PW, Rx)
        rows = np.minimum(y0[sel, None] + np.arange(R), H - 1)
        cols = np.minimum(x0[sel, None] + np.arange(Rx), W - 1)
        flat = ((b[sel, None, None] * H + rows[:, :, None]) * W + cols[:, None, :]).ravel()
        crop = np.take(flat_x, flat, axis=0).reshape(k, R, Rx * C)
        tmp = (Ay @ crop).reshape(k, PH, Rx, C)
        res = Ax[:, None, :, :] @ tmp  # (k, PH, PW, C)
        out[sel] = res.transpose(0, 3, 1, 2)
        plans.append((sel, Ay, Ax, flat))
    if not all_finite(x):
        # the window matrices hold zero weights for pixels no sample reads, and 0 * inf is NaN: sample
        # non-finite maps point by point, so NaN/inf reach only the outputs whose samples read them
        # (the gradient does not depend on the values, so the plans above still serve backward)
        _sample_points(out, x, b, sh, sw, rh / T(PH), rw / T(PW), gh, gw)
    return out, plans


def _bilinear_points(plane, y, x):
    """torchvision's bilinear read of ``plane`` (C, H, W) at the points ``y``, ``x``: zero outside
    ``[-1, H] x [-1, W]``, clamped at the border; every neighbour is read, as in its kernel."""
    C, H, W = plane.shape
    inside = ~((y < -1) | (y > H) | (x < -1) | (x > W))
    y, x = np.maximum(y, 0), np.maximum(x, 0)
    y_low, x_low = y.astype(np.int64), x.astype(np.int64)
    top_y, top_x = y_low >= H - 1, x_low >= W - 1
    y_low, x_low = np.where(top_y, H - 1, y_low), np.where(top_x, W - 1, x_low)
    y, x = np.where(top_y, y_low, y), np.where(top_x, x_low, x)
    y_high, x_high = np.where(top_y, y_low, y_low + 1), np.where(top_x, x_low, x_low + 1)
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    val = (
        hy * hx * plane[:, y_low, x_low]
        + hy * lx * plane[:, y_low, x_high]
        + ly * hx * plane[:, y_high, x_low]
        + ly * lx * plane[:, y_high, x_high]
    )
    return np.where(inside, val, 0)


def _sample_points(out, x, b, sh, sw, bin_h, bin_w, gh, gw):
    """RoI Align by explicit sampling points, one RoI at a time (the path for non-finite maps)."""
    K, C, PH, PW = out.shape
    T = x.dtype.type
    for k in range(K):
        iy = (np.arange(gh[k], dtype=x.dtype) + T(0.5)) * bin_h[k] / T(gh[k])
        ix = (np.arange(gw[k], dtype=x.dtype) + T(0.5)) * bin_w[k] / T(gw[k])
        ys = sh[k] + np.arange(PH, dtype=x.dtype)[:, None] * bin_h[k] + iy[None, :]  # (PH, gh)
        xs = sw[k] + np.arange(PW, dtype=x.dtype)[:, None] * bin_w[k] + ix[None, :]  # (PW, gw)
        yy = np.broadcast_to(ys[:, None, :, None], (PH, PW, gh[k], gw[k]))
        xx = np.broadcast_to(xs[None, :, None, :], (PH, PW, gh[k], gw[k]))
        with np.errstate(invalid="ignore", over="ignore"):
            vals = _bilinear_points(x[b[k]], yy, xx)  # (C, PH, PW, gh, gw)
            out[k] = (vals.sum(axis=(-2, -1)) / T(max(gh[k] * gw[k], 1))).astype(x.dtype)


def _align_backward(g, shape, plans):
    N, C, H, W = shape
    acc = np.zeros((C, N * H * W), dtype=np.float64)
    for sel, Ay, Ax, flat in plans:
        k, PH, R = Ay.shape
        Rx = Ax.shape[2]
        gk = g[sel].transpose(0, 2, 3, 1).astype(Ay.dtype, copy=False)  # (k, PH, PW, C)
        t = np.swapaxes(Ax, 1, 2)[:, None] @ gk  # (k, PH, Rx, C)
        dcrop = np.swapaxes(Ay, 1, 2) @ t.reshape(k, PH, Rx * C)  # (k, R, Rx*C)
        _accumulate_rows(acc, flat, dcrop.reshape(k * R * Rx, C))
    return acc.reshape(C, N, H, W).transpose(1, 0, 2, 3)


class _RoIAlignFn(Function):
    def forward(self, x, rois, output_size, spatial_scale, sampling_ratio, aligned):
        out, self.plans = _align_forward(x, rois, output_size, spatial_scale, sampling_ratio, aligned)
        self.shape, self.dtype = x.shape, x.dtype
        return out

    def backward(self, g):
        return np.ascontiguousarray(_align_backward(g, self.shape, self.plans), dtype=self.dtype)


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """RoI Align (``torchvision.ops.roi_align``): ``(N, C, H, W)`` features -> ``(K, C, h, w)``.

    ``boxes``: ``(K, 5)`` ``[batch_index, x1, y1, x2, y2]`` or a list of ``(K_i, 4)`` per image;
    ``output_size``: int or ``(h, w)``; ``spatial_scale`` maps box coordinates onto the feature map;
    ``sampling_ratio`` samples per bin side (``<= 0``: adaptive ``ceil(roi_size / out_size)``);
    ``aligned=True`` shifts the box by -0.5 cell so that pixel centres line up.  Differentiable in
    ``input`` when it is a Tensor.  Arithmetic is done in the input's dtype, as the C++ kernel does.

    Reference (loops, as the notes explain it): deepnotes.reference.roi_align.roi_align_forward / roi_align_backward.
    """
    fn = "roi_align"
    x = _feature(input, fn)
    out_size = _pair(output_size, fn)
    rois = _rois(boxes, fn, x.shape[0])
    check_output_size(fn, (rois.shape[0], x.shape[1]) + out_size, x.dtype)
    kw = dict(
        rois=rois,
        output_size=out_size,
        spatial_scale=float(spatial_scale),
        sampling_ratio=int(sampling_ratio),
        aligned=bool(aligned),
    )
    if isinstance(input, Tensor):
        return _RoIAlignFn.apply(input, **kw)
    return _align_forward(x, **kw)[0]


# --------------------------------------------------------------------------- RoI Pool
def _round_half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def _pool_bins(rois, shape, dtype, output_size, spatial_scale):
    N, C, H, W = shape
    PH, PW = output_size
    T = np.dtype(dtype).type
    r = rois.astype(T)
    sc = T(spatial_scale)
    xs, ys, xe, ye = (_round_half_away(r[:, i] * sc).astype(np.int64) for i in (1, 2, 3, 4))
    rw = np.maximum(xe - xs + 1, 1).astype(T)
    rh = np.maximum(ye - ys + 1, 1).astype(T)
    bh, bw = rh / T(PH), rw / T(PW)
    ph = np.arange(PH, dtype=T)[None, :]
    pw = np.arange(PW, dtype=T)[None, :]
    hs = np.floor(ph * bh[:, None]).astype(np.int64)
    he = np.ceil((ph + T(1)) * bh[:, None]).astype(np.int64)
    ws = np.floor(pw * bw[:, None]).astype(np.int64)
    we = np.ceil((pw + T(1)) * bw[:, None]).astype(np.int64)
    hs = np.clip(hs + ys[:, None], 0, H)
    he = np.clip(he + ys[:, None], 0, H)
    ws = np.clip(ws + xs[:, None], 0, W)
    we = np.clip(we + xs[:, None], 0, W)
    return hs, he, ws, we


def _pool_forward(x, rois, output_size, spatial_scale):
    N, C, H, W = x.shape
    PH, PW = output_size
    K = rois.shape[0]
    out = np.zeros((K, C, PH, PW), dtype=x.dtype)
    arg = np.full((K, C, PH, PW), -1, dtype=np.int64)
    if K == 0:
        return out, arg
    hs, he, ws, we = _pool_bins(rois, x.shape, x.dtype, output_size, spatial_scale)
    b = rois[:, 0].astype(np.int64)
    # one extra row of -inf: padded bin cells read it and never win the max
    padded = np.concatenate([x.transpose(0, 2, 3, 1).reshape(N * H * W, C), np.full((1, C), -np.inf, dtype=x.dtype)])
    # torchvision's kernel keeps a running max with ``>``, which never picks a NaN: NaN cells never win
    np.copyto(padded, -np.inf, where=np.isnan(padded))
    bin_h = np.maximum((he - hs).max(axis=1), 1)
    bin_w = np.maximum((we - ws).max(axis=1), 1)
    side = np.maximum(bin_h, bin_w)
    for sel in _size_chunks(side * side, PH * PW * C):
        k = sel.size
        Hb, Wb = int(bin_h[sel].max()), int(bin_w[sel].max())
        hh = hs[sel, :, None] + np.arange(Hb)  # (k, PH, Hb)
        ww = ws[sel, :, None] + np.arange(Wb)  # (k, PW, Wb)
        vh = hh < he[sel, :, None]
        vw = ww < we[sel, :, None]
        valid = vh[:, :, None, :, None] & vw[:, None, :, None, :]  # (k,PH,PW,Hb,Wb)
        cells = np.minimum(hh, H - 1)[:, :, None, :, None] * W + np.minimum(ww, W - 1)[:, None, :, None, :]
        flat = np.where(valid, b[sel, None, None, None, None] * (H * W) + cells, N * H * W).ravel()
        vals = np.take(padded, flat, axis=0).reshape(k, PH, PW, Hb * Wb, C)
        vals = np.ascontiguousarray(vals.transpose(0, 1, 2, 4, 3))  # cells last
        j = np.argmax(vals, axis=4)  # (k, PH, PW, C)
        best = np.take_along_axis(vals, j[..., None], axis=4)[..., 0]
        empty = ~(vh.any(-1)[:, :, None] & vw.any(-1)[:, None, :])  # (k, PH, PW)
        nonempty = np.broadcast_to(~empty[..., None], best.shape)
        where = (hs[sel, :, None, None] + j // Wb) * W + (ws[sel, None, :, None] + j % Wb)
        out[sel] = np.where(nonempty, best, 0).transpose(0, 3, 1, 2)
        arg[sel] = np.where(nonempty, where, -1).transpose(0, 3, 1, 2)
    return out, arg


class _RoIPoolFn(Function):
    def forward(self, x, rois, output_size, spatial_scale):
        out, self.arg = _pool_forward(x, rois, output_size, spatial_scale)
        self.rois, self.shape, self.dtype = rois, x.shape, x.dtype
        return out

    def backward(self, g):
        N, C, H, W = self.shape
        b = self.rois[:, 0].astype(np.int64)
        ok = self.arg >= 0
        chan = np.arange(C)[None, :, None, None]
        flat = ((b[:, None, None, None] * C + chan) * (H * W) + self.arg)[ok]
        grad = np.bincount(flat, weights=g[ok].astype(np.float64), minlength=N * C * H * W)
        return grad.reshape(self.shape).astype(self.dtype)


def roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """RoI max pooling (``torchvision.ops.roi_pool``): ``(N, C, H, W)`` -> ``(K, C, h, w)``.

    Box corners are quantised with ``round(coord * spatial_scale)``, bins with floor/ceil; each output
    is the bin maximum (0 for an empty bin).  Differentiable in ``input`` when it is a Tensor: the
    gradient goes to the arg-max cell of every bin.
    """
    fn = "roi_pool"
    x = _feature(input, fn)
    out_size = _pair(output_size, fn)
    rois = _rois(boxes, fn, x.shape[0])
    check_output_size(fn, (rois.shape[0], x.shape[1]) + out_size, x.dtype)
    kw = dict(rois=rois, output_size=out_size, spatial_scale=float(spatial_scale))
    if isinstance(input, Tensor):
        return _RoIPoolFn.apply(input, **kw)
    return _pool_forward(x, **kw)[0]


class RoIAlign:
    """Callable wrapper of :func:`roi_align` holding its settings (``torchvision.ops.RoIAlign``)."""

    def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def __call__(self, input, rois):
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def __repr__(self):
        return (
            f"RoIAlign(output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned})"
        )


class RoIPool:
    """Callable wrapper of :func:`roi_pool` (``torchvision.ops.RoIPool``)."""

    def __init__(self, output_size, spatial_scale):
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def __call__(self, input, rois):
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self):
        return f"RoIPool(output_size={self.output_size}, spatial_scale={self.spatial_scale})"
