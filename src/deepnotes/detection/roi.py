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
over pixels or bins.  The backward pass is the transpose, scattered back with a sort + ``reduceat``.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
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
            raise TypeError(f"{fn}: output_size must be an int or a pair (h, w), got "
                            f"{output_size!r}") from None
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
            raise ValueError(f"{fn}: boxes must be a (K, 5) array [batch_index, x1, y1, x2, y2] or a "
                             f"list of (K_i, 4) arrays, got shape {rois.shape}")
        rois = rois.astype(np.float64)
    if rois.size:
        if not np.isfinite(rois).all():
            raise ValueError(f"{fn}: boxes must be finite")
        bidx = rois[:, 0]
        bad = (bidx != np.round(bidx)) | (bidx < 0) | (bidx >= n_images)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{fn}: box {k} has batch index {float(bidx[k])!r}; expected an integer in "
                             f"[0, {n_images})")
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


def _chunks(k, per_roi):
    step = max(1, _CHUNK_ELEMS // max(int(per_roi), 1))
    return [(s, min(k, s + step)) for s in range(0, k, step)]


def _scatter_add(dest, idx, vals):
    """``dest[idx[i]] += vals[i]`` with repeated indices accumulated (rows of a 2-D ``dest``)."""
    if idx.size == 0:
        return
    order = np.argsort(idx, kind="stable")
    s = idx[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    dest[s[starts]] += np.add.reduceat(vals[order], starts, axis=0)


# --------------------------------------------------------------------------- RoI Align
def _axis_weights(start, bin_size, grid, pooled, size, dtype):
    """Sample rows (or columns) and bilinear weights along one axis for every RoI.

    Returns ``idx`` and ``w``, both ``(K, pooled, G, 2)``: the two neighbouring cells of each sample
    and their weights, already divided by the grid count; unused or out-of-range samples weigh 0.
    """
    K = start.shape[0]
    G = max(int(grid.max()) if K else 1, 1)
    p = np.arange(pooled, dtype=dtype)[None, :, None]
    g = np.arange(G, dtype=dtype)[None, None, :]
    gr = np.maximum(grid, 1).astype(dtype)[:, None, None]
    c = start[:, None, None] + p * bin_size[:, None, None] + (g + dtype(0.5)) * bin_size[:, None, None] / gr
    valid = (np.arange(G)[None, None, :] < grid[:, None, None]) & ~((c < -1) | (c > size))
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
    return idx, w.astype(np.float64)


def _window_matrix(idx, w, pooled):
    """Dense ``(K, pooled, R)`` weights over the rows ``first + arange(R)`` each RoI touches."""
    K = idx.shape[0]
    used = w != 0
    big = np.iinfo(np.int64).max
    first = np.where(used, idx, big).reshape(K, -1).min(axis=1)
    last = np.where(used, idx, -1).reshape(K, -1).max(axis=1)
    empty = last < 0
    first = np.where(empty, 0, first)
    last = np.where(empty, 0, last)
    R = int((last - first).max()) + 1 if K else 1
    rel = np.where(used, idx - first[:, None, None, None], 0)
    flat = (np.arange(K)[:, None, None, None] * pooled + np.arange(pooled)[None, :, None, None]) * R + rel
    A = np.bincount(flat.ravel(), weights=w.ravel(), minlength=K * pooled * R).reshape(K, pooled, R)
    return A, first, R


def _align_plan(rois, shape, dtype, output_size, spatial_scale, sampling_ratio, aligned):
    N, C, H, W = shape
    PH, PW = output_size
    T = np.dtype(dtype).type
    scale = T(spatial_scale)
    off = T(0.5) if aligned else T(0)
    r = rois.astype(T)
    sw, sh = r[:, 1] * scale - off, r[:, 2] * scale - off
    ew, eh = r[:, 3] * scale - off, r[:, 4] * scale - off
    rw, rh = ew - sw, eh - sh
    if not aligned:
        rw, rh = np.maximum(rw, T(1)), np.maximum(rh, T(1))
    bh, bw = rh / T(PH), rw / T(PW)
    if sampling_ratio > 0:
        gh = np.full(len(r), int(sampling_ratio), dtype=np.int64)
        gw = gh.copy()
    else:
        gh = np.ceil(rh / T(PH)).astype(np.int64)
        gw = np.ceil(rw / T(PW)).astype(np.int64)
    yi, wy = _axis_weights(sh, bh, gh, PH, H, T)
    xi, wx = _axis_weights(sw, bw, gw, PW, W, T)
    Ay, y0, R = _window_matrix(yi, wy, PH)
    Ax, x0, Rx = _window_matrix(xi, wx, PW)
    rows = np.minimum(y0[:, None] + np.arange(R)[None, :], H - 1)
    cols = np.minimum(x0[:, None] + np.arange(Rx)[None, :], W - 1)
    return rois[:, 0].astype(np.int64), Ay, Ax, rows, cols


def _align_forward(x, rois, output_size, spatial_scale, sampling_ratio, aligned):
    N, C, H, W = x.shape
    PH, PW = output_size
    K = rois.shape[0]
    out = np.zeros((K, C, PH, PW), dtype=x.dtype)
    plans = []
    if K == 0:
        return out, plans
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    # a first cheap pass bounds the crop size used to pick the chunk length
    est = (np.ceil((rois[:, 4] - rois[:, 2]) * spatial_scale).max() + 3) * \
          (np.ceil((rois[:, 3] - rois[:, 1]) * spatial_scale).max() + 3)
    for s, e in _chunks(K, min(est, H * W + 0.0) * C):
        b, Ay, Ax, rows, cols = _align_plan(rois[s:e], x.shape, x.dtype, output_size, spatial_scale,
                                            sampling_ratio, aligned)
        k, R, Rx = Ay.shape[0], Ay.shape[2], Ax.shape[2]
        crop = nhwc[b[:, None, None], rows[:, :, None], cols[:, None, :]]       # (k, R, Rx, C)
        tmp = (Ay @ crop.reshape(k, R, Rx * C).astype(np.float64)).reshape(k, PH, Rx, C)
        res = Ax[:, None, :, :] @ tmp                                            # (k, PH, PW, C)
        out[s:e] = res.transpose(0, 3, 1, 2)
        plans.append((s, e, b, Ay, Ax, rows, cols))
    return out, plans


def _align_backward(g, shape, plans):
    N, C, H, W = shape
    dx = np.zeros((N * H * W, C), dtype=np.float64)
    for s, e, b, Ay, Ax, rows, cols in plans:
        k, PH, R = Ay.shape
        Rx = Ax.shape[2]
        gk = g[s:e].transpose(0, 2, 3, 1).astype(np.float64)                    # (k, PH, PW, C)
        t = np.swapaxes(Ax, 1, 2)[:, None] @ gk                                  # (k, PH, Rx, C)
        dcrop = np.swapaxes(Ay, 1, 2) @ t.reshape(k, PH, Rx * C)                 # (k, R, Rx*C)
        flat = (b[:, None, None] * H + rows[:, :, None]) * W + cols[:, None, :]
        _scatter_add(dx, flat.ravel(), dcrop.reshape(k * R * Rx, C))
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2)


class _RoIAlignFn(Function):
    def forward(self, x, rois, output_size, spatial_scale, sampling_ratio, aligned):
        out, self.plans = _align_forward(x, rois, output_size, spatial_scale, sampling_ratio, aligned)
        self.shape, self.dtype = x.shape, x.dtype
        return out

    def backward(self, g):
        return _align_backward(g, self.shape, self.plans).astype(self.dtype)


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """RoI Align (``torchvision.ops.roi_align``): ``(N, C, H, W)`` features -> ``(K, C, h, w)``.

    ``boxes``: ``(K, 5)`` ``[batch_index, x1, y1, x2, y2]`` or a list of ``(K_i, 4)`` per image;
    ``output_size``: int or ``(h, w)``; ``spatial_scale`` maps box coordinates onto the feature map;
    ``sampling_ratio`` samples per bin side (``<= 0``: adaptive ``ceil(roi_size / out_size)``);
    ``aligned=True`` shifts the box by -0.5 cell so that pixel centres line up.  Differentiable in
    ``input`` when it is a Tensor.
    """
    fn = "roi_align"
    x = _feature(input, fn)
    out_size = _pair(output_size, fn)
    rois = _rois(boxes, fn, x.shape[0])
    kw = dict(rois=rois, output_size=out_size, spatial_scale=float(spatial_scale),
              sampling_ratio=int(sampling_ratio), aligned=bool(aligned))
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
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    Hb = max(int((he - hs).max()), 1)
    Wb = max(int((we - ws).max()), 1)
    for s, e in _chunks(K, PH * PW * Hb * Wb * C):
        k = e - s
        dh = np.arange(Hb)
        dw = np.arange(Wb)
        hh = hs[s:e, :, None] + dh                                               # (k, PH, Hb)
        ww = ws[s:e, :, None] + dw                                               # (k, PW, Wb)
        vh = hh < he[s:e, :, None]
        vw = ww < we[s:e, :, None]
        hh = np.minimum(hh, H - 1)
        ww = np.minimum(ww, W - 1)
        bb = b[s:e, None, None, None, None]
        vals = nhwc[bb, hh[:, :, None, :, None], ww[:, None, :, None, :]]        # (k,PH,PW,Hb,Wb,C)
        valid = (vh[:, :, None, :, None] & vw[:, None, :, None, :])[..., None]
        vals = np.where(valid, vals, -np.inf).reshape(k, PH, PW, Hb * Wb, C)
        j = np.argmax(vals, axis=3)                                              # (k, PH, PW, C)
        best = np.take_along_axis(vals, j[:, :, :, None, :], axis=3)[:, :, :, 0, :]
        empty = ~(vh.any(-1)[:, :, None] & vw.any(-1)[:, None, :])               # (k, PH, PW)
        nonempty = np.broadcast_to(~empty[..., None], best.shape)
        rr = hs[s:e, :, None, None] + j // Wb
        cc = ws[s:e, None, :, None] + j % Wb
        flat = rr * W + cc
        out[s:e] = np.where(nonempty, best, 0).transpose(0, 3, 1, 2)
        arg[s:e] = np.where(nonempty, flat, -1).transpose(0, 3, 1, 2)
    return out, arg


class _RoIPoolFn(Function):
    def forward(self, x, rois, output_size, spatial_scale):
        out, self.arg = _pool_forward(x, rois, output_size, spatial_scale)
        self.rois, self.shape, self.dtype = rois, x.shape, x.dtype
        return out

    def backward(self, g):
        N, C, H, W = self.shape
        K = self.arg.shape[0]
        b = self.rois[:, 0].astype(np.int64)
        ok = self.arg >= 0
        chan = np.arange(C)[None, :, None, None]
        flat = ((b[:, None, None, None] * C + chan) * (H * W) + self.arg)[ok]
        grad = np.bincount(flat, weights=g[ok].astype(np.float64), minlength=N * C * H * W)
        return grad.reshape(self.shape).astype(self.dtype) if K else np.zeros(self.shape, self.dtype)


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
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio,
                         self.aligned)

    def __repr__(self):
        return (f"RoIAlign(output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned})")


class RoIPool:
    """Callable wrapper of :func:`roi_pool` (``torchvision.ops.RoIPool``)."""

    def __init__(self, output_size, spatial_scale):
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def __call__(self, input, rois):
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self):
        return f"RoIPool(output_size={self.output_size}, spatial_scale={self.spatial_scale})"
