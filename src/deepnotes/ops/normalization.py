"""Fused layer, group and instance normalisation (one graph node each, forward and backward together).

All three standardise groups of values with their own mean and biased variance,
x_hat = (x - mu) / sqrt(var + eps), then apply an affine map.  For a group of M values the gradient is
dx = invstd / M * (M * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat)),   dx_hat = dy * weight.

* :class:`LayerNormFn`: one group per row of the trailing ``M`` elements; the affine map is elementwise
  over those elements (weight and bias have the normalised shape).
* :class:`GroupNormFn`: x (N, C, *) split into G groups of C/G channels per sample; weight and bias
  are per channel.  Instance norm is the case G = C.  Per channel the whole map is one multiply-add,
  y = x * a[n, c] + b[n, c], and the backward pass is dx = c1[n, c] * dy + c2[n, g] * x + c3[n, g]
  built from per-channel sums of dy and dy * x, so no normalised copy of x is kept.
"""

import numpy as np

from ..autograd.function import Function
from ._rowwise import row_broadcasts


def float32_statistics(cls):
    """Class decorator for the normalisation primitives: float16 inputs are computed in float32.

    A float16 sum of squares overflows (65504 is reached by 4096 values of size 4) and its mean loses
    most of its digits, so the statistics of a float16 batch must be accumulated in a wider type.  As
    torch's CPU kernels do, a float16 ``x`` (and float16 affine parameters) are widened to float32, the
    whole forward pass (statistics, running-estimate updates, affine map) runs in float32 and only the
    output is rounded back to float16; the backward pass likewise widens the incoming gradient and
    rounds each input gradient to its input's dtype.  Running estimates keep their own dtype (float32
    buffers stay float32).  Other dtypes pass through unchanged.
    """
    forward, backward = cls.forward, cls.backward

    def widened_forward(self, x, *affine, **kwargs):
        if x.dtype != np.float16:
            self.half_dtypes = None
            return forward(self, x, *affine, **kwargs)
        self.half_dtypes = (x.dtype,) + tuple(a.dtype for a in affine)
        wide = [a.astype(np.float32) if a.dtype == np.float16 else a for a in affine]
        return forward(self, x.astype(np.float32), *wide, **kwargs).astype(np.float16)

    def widened_backward(self, g):
        if self.half_dtypes is None:
            return backward(self, g)
        grads = backward(self, g.astype(np.float32))
        single = not isinstance(grads, tuple)
        grads = (grads,) if single else grads
        grads = tuple(None if d is None else d.astype(dt, copy=False) for d, dt in zip(grads, self.half_dtypes))
        return grads[0] if single else grads

    widened_forward.__doc__, widened_backward.__doc__ = forward.__doc__, backward.__doc__
    cls.forward, cls.backward = widened_forward, widened_backward
    return cls


def normalized_backward_graph(g, x, axes, eps, weight=None):
    """The gradient of x_hat = (x - mean) / sqrt(var + eps) (statistics over ``axes``, biased
    variance), optionally followed by ``* weight``, written with recorded tensor operations:
    dx = invstd (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)), dx_hat = g * weight.
    Returns (dx, x_hat); the normalisation primitives' ``backward_graph`` share it."""
    xc = x - x.mean(axes, keepdim=True)
    invstd = ((xc * xc).mean(axes, keepdim=True) + eps) ** -0.5
    xhat = xc * invstd
    dxhat = g * weight if weight is not None else g
    dx = invstd * (dxhat - dxhat.mean(axes, keepdim=True) - xhat * (dxhat * xhat).mean(axes, keepdim=True))
    return dx, xhat


def _row_sums(a2):
    """Sums of the rows of a 2-D array: one BLAS matrix-vector product (memory-bound, no temporaries)."""
    if a2.dtype == np.float16 or a2.shape[1] == 0:
        return a2.sum(axis=1)
    return a2 @ np.ones(a2.shape[1], dtype=a2.dtype)


def _row_dots(a2, b2):
    """Row-wise dot products sum_j a[i, j] b[i, j] as batched BLAS dots (no product array)."""
    if a2.dtype == np.float16 or a2.shape[1] == 0 or a2.shape[0] == 0:
        return np.einsum("ij,ij->i", a2, b2)
    return np.matmul(a2[:, None, :], b2[:, :, None]).reshape(a2.shape[0])


def _row_mean_var(x2):
    """Per-row mean and biased variance without a centred copy: var = E[x^2] - mean^2 from two BLAS
    passes.  That difference cancels when mean^2 is large against var, so rows with mean^2 > var are
    recomputed with the exact two-pass formula (typical activations never need it)."""
    rows, m = x2.shape
    t = x2.dtype.type
    if m == 0:
        return np.zeros(rows, dtype=x2.dtype), np.zeros(rows, dtype=x2.dtype)
    mean = _row_sums(x2) * t(1.0 / m)
    var = _row_dots(x2, x2) * t(1.0 / m) - mean * mean
    unsafe = np.flatnonzero(~(mean * mean <= var))  # also catches NaN
    if unsafe.size:
        xc = x2[unsafe] - mean[unsafe, None]
        var[unsafe] = _row_dots(xc, xc) * t(1.0 / m)
    return mean, var


def _col_sums(a2):
    """Sums of the columns of a 2-D array (a BLAS vector-matrix product)."""
    if a2.dtype == np.float16 or a2.shape[0] == 0:
        return a2.sum(axis=0)
    return np.ones(a2.shape[0], dtype=a2.dtype) @ a2


# Layer and group norm compute their statistics with whole-array BLAS passes, then apply the per-row
# multiply-adds chunk by chunk, about this many bytes at a time: the second and later passes over a
# chunk find it in cache, and a chunk costs only a few NumPy calls (group norm: 2 forward, 4 backward)
# (measured for group norm at 32x64x32x32: 1 MiB chunks beat whole-array passes and smaller chunks).
_CHUNK_BYTES = 1 << 20


def _chunks(n_rows, row_bytes):
    step = max(1, _CHUNK_BYTES // max(1, row_bytes))
    return [(lo, min(lo + step, n_rows)) for lo in range(0, n_rows, step)]


@float32_statistics
class LayerNormFn(Function):
    """Inputs: x, then ``weight`` if ``has_weight`` and ``bias`` if ``has_bias`` (both of the normalised
    shape, the last dimensions of x holding ``m`` elements).

    x is viewed as rows of m values.  Forward: x_hat = x invstd - mean invstd (per-row columns), then
    y = x_hat w + b.  Backward, with dx_hat = dy w:
    dx = invstd (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)), where sum(dx_hat) = dy @ w and
    sum(dx_hat x_hat) = (dy x_hat) @ w are matrix-vector products, and the (dy x_hat) rows also give
    the weight gradient.  Both passes run over row blocks of about ``_CHUNK_BYTES`` so that each
    block's several passes find it in cache.
    """

    def forward(self, x, *affine, m, has_weight, has_bias, eps):
        rows = x.size // m if m else 0
        x2 = x.reshape(rows, m)
        t = x.dtype.type
        mean, var = _row_mean_var(x2)
        invstd = (1.0 / np.sqrt(var + t(eps))).astype(x.dtype, copy=False)
        shift = (mean * -invstd)[:, None]
        scale = invstd[:, None]
        weight = affine[0].reshape(m) if has_weight else None
        bias = affine[-1].reshape(m) if has_bias else None
        xhat = np.empty_like(x2)
        out = np.empty_like(x2)  # its own array even without an affine step
        for lo, hi in _chunks(rows, m * x.itemsize):
            h, o = xhat[lo:hi], out[lo:hi]
            with row_broadcasts(m):  # per-row columns only (see _rowwise)
                np.multiply(x2[lo:hi], scale[lo:hi], out=h)
                h += shift[lo:hi]
            if weight is not None:
                np.multiply(h, weight, out=o)
                if bias is not None:
                    o += bias
            elif bias is not None:
                np.add(h, bias, out=o)
            else:
                o[...] = h
        self.xhat, self.invstd, self.weight, self.m, self.eps = xhat, invstd, weight, m, eps
        self.has_weight, self.has_bias, self.shape = has_weight, has_bias, x.shape
        self.pshape = affine[0].shape if affine else None
        return out.reshape(x.shape)

    def backward(self, g):
        xhat, invstd, weight = self.xhat, self.invstd, self.weight
        rows, m = xhat.shape
        g2 = np.ascontiguousarray(g).reshape(rows, m)
        needs = self.needs_input_grad
        t = g.dtype.type
        need_w = self.has_weight and needs[1]
        gw = np.zeros(m, dtype=g.dtype) if need_w else None
        gb = _col_sums(g2) if self.has_bias and needs[-1] else None
        dx = np.empty_like(g2) if needs[0] else None
        inv_m = t(1.0 / m) if m else t(0)
        chunks = _chunks(rows, m * g.itemsize) if (need_w or dx is not None) else []
        prod = np.empty((chunks[0][1] - chunks[0][0], m), dtype=g.dtype) if chunks else None
        for lo, hi in chunks:
            gc, hc, p = g2[lo:hi], xhat[lo:hi], prod[: hi - lo]
            np.multiply(gc, hc, out=p)  # dy x_hat
            if need_w:
                gw += _col_sums(p)
            if dx is None:
                continue
            # s1 = mean(dy w), s2 = mean(dy w x_hat) per row; dx = invstd (dy w - s1 - x_hat s2)
            s1 = (gc @ weight if weight is not None else _row_sums(gc)) * inv_m
            s2 = (p @ weight if weight is not None else _row_sums(p)) * inv_m
            inv = invstd[lo:hi]
            d = dx[lo:hi]
            with row_broadcasts(m):
                np.multiply(hc, (-s2 * inv)[:, None], out=d)
                d -= (s1 * inv)[:, None]
            if weight is not None:
                np.multiply(gc, weight, out=p)
                with row_broadcasts(m):
                    p *= inv[:, None]
            else:
                with row_broadcasts(m):
                    np.multiply(gc, inv[:, None], out=p)
            d += p
        grads = [dx.reshape(self.shape) if dx is not None else None]
        if self.has_weight:
            grads.append(gw.reshape(self.pshape) if need_w else None)
        if self.has_bias:
            grads.append(gb.reshape(self.pshape) if gb is not None else None)
        return tuple(grads) if len(grads) > 1 else grads[0]

    def backward_graph(self, g):
        x, affine = self.parents[0], self.parents[1:]
        m = self.m
        x2 = x.reshape(-1, m)
        g2 = g.reshape(-1, m)
        w = affine[0].reshape(m) if self.has_weight else None
        dx, xhat = normalized_backward_graph(g2, x2, 1, self.eps, w)
        needs = self.needs_input_grad
        grads = [dx.reshape(self.shape) if needs[0] else None]
        if self.has_weight:
            grads.append((g2 * xhat).sum(0).reshape(self.pshape) if needs[1] else None)
        if self.has_bias:
            grads.append(g2.sum(0).reshape(self.pshape) if needs[-1] else None)
        return tuple(grads) if len(grads) > 1 else grads[0]


@float32_statistics
class GroupNormFn(Function):
    """Inputs: x (N, C, *), then ``weight`` (C,) if ``has_weight`` and ``bias`` (C,) if ``has_bias``.

    Statistics per (sample, group of C / ``groups`` channels).  With ``running_mean``/``running_var``
    arrays (instance norm with tracked statistics, groups == C) they are updated in place:
    r <- (1 - momentum) r + momentum * stat, where stat is the per-instance mean (variance: unbiased,
    S / (S - 1)) averaged over the batch, as torch does.

    The input is viewed as rows of S values, one per (sample, channel); every pass is a per-row
    multiply-add, y = x a + b forward and dx = c1 (dy + k2 x + k3) backward, with per-row coefficients
    from the group statistics, so no normalised copy of x is kept.
    """

    def forward(self, x, *affine, groups, has_weight, has_bias, eps, running_mean=None, running_var=None, momentum=0.1):
        n, c = x.shape[0], x.shape[1]
        s = x.size // (n * c) if n * c else int(np.prod(x.shape[2:]))
        cg = c // groups
        rows = n * groups
        t = x.dtype.type
        xr = np.ascontiguousarray(x).reshape(rows * cg, s)  # one row per (sample, channel)
        mean, var = _row_mean_var(xr.reshape(rows, cg * s))
        invstd = (1.0 / np.sqrt(var + t(eps))).astype(x.dtype, copy=False)
        # per-row coefficients of y = x a + b: a = invstd w, b = bias - mean a (w, bias repeat per sample)
        w2 = affine[0].reshape(groups, cg) if has_weight else None
        a = np.tile(w2, (n, 1)) if has_weight else np.ones((rows, cg), dtype=x.dtype)
        a *= invstd[:, None]
        b = a * -mean[:, None]
        if has_bias:
            b += np.tile(affine[-1].reshape(groups, cg), (n, 1))
        a, b = a.reshape(-1, 1), b.reshape(-1, 1)
        out = np.empty_like(xr)
        with row_broadcasts(s):
            for lo, hi in _chunks(rows * cg, s * x.itemsize):
                o = out[lo:hi]
                np.multiply(xr[lo:hi], a[lo:hi], out=o)
                o += b[lo:hi]
        if running_mean is not None or running_var is not None:
            self._update_running(mean, var, n, c, s, running_mean, running_var, momentum)
        if any(self.needs_input_grad):
            self.xr, self.mean, self.invstd, self.w2 = xr, mean, invstd, w2
            self.dims, self.shape, self.eps = (n, groups, cg, s), x.shape, eps
            self.has_weight, self.has_bias = has_weight, has_bias
        return out.reshape(x.shape)

    @staticmethod
    def _update_running(mean, var, n, c, s, running_mean, running_var, momentum):
        if n == 0:
            return
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += (momentum * mean.reshape(n, c).mean(axis=0)).astype(running_mean.dtype)
        if running_var is not None:
            unbiased = var.reshape(n, c) * (s / (s - 1))  # s > 1 is checked by the caller
            running_var *= 1 - momentum
            running_var += (momentum * unbiased.mean(axis=0)).astype(running_var.dtype)

    def backward(self, g):
        n, groups, cg, s = self.dims
        rows = n * groups
        xr, mean, invstd = self.xr, self.mean, self.invstd
        gr = np.ascontiguousarray(g).reshape(rows * cg, s)
        needs = self.needs_input_grad
        t = g.dtype.type
        inv_m = t(1.0 / (cg * s)) if cg * s else t(0)
        gs = _row_sums(gr).reshape(rows, cg)  # per (sample, channel): sum of dy over space
        gxh = _row_dots(gr, xr).reshape(rows, cg)  # and sum of dy x_hat = invstd (sum dy x - mean sum dy)
        gxh -= mean[:, None] * gs
        gxh *= invstd[:, None]
        dx = None
        if needs[0]:
            # dx = c1 dy + c2 x + c3 with c1 = invstd w, c2 = -invstd^2 s2, c3 = -c2 mean - invstd s1, where
            # s1, s2 are the group means of w dy and w dy x_hat
            w = np.tile(self.w2, (n, 1)) if self.w2 is not None else np.ones((rows, cg), dtype=g.dtype)
            inv = invstd[:, None]
            s1 = (gs * w).sum(axis=1, keepdims=True) * inv_m
            s2 = (gxh * w).sum(axis=1, keepdims=True) * inv_m
            c1 = inv * w
            c2 = np.broadcast_to(-inv * inv * s2, (rows, cg))
            c3 = np.broadcast_to(-c2 * mean[:, None] - inv * s1, (rows, cg))
            dx = np.empty_like(gr)
            chunks = _chunks(rows * cg, s * g.itemsize)
            with row_broadcasts(s):
                if np.all(c1 != 0):  # c1 (dy + (c2 / c1) x + c3 / c1): four calls per chunk, no temporary
                    k2, k3, c1 = (c2 / c1).reshape(-1, 1), (c3 / c1).reshape(-1, 1), c1.reshape(-1, 1)
                    for lo, hi in chunks:
                        d = dx[lo:hi]
                        np.multiply(xr[lo:hi], k2[lo:hi], out=d)
                        d += k3[lo:hi]
                        d += gr[lo:hi]
                        d *= c1[lo:hi]
                else:
                    c1, c2, c3 = (v.reshape(-1, 1) for v in (c1, c2, c3))
                    for lo, hi in chunks:
                        d = dx[lo:hi]
                        np.multiply(gr[lo:hi], c1[lo:hi], out=d)
                        d += xr[lo:hi] * c2[lo:hi]
                        d += c3[lo:hi]
        grads = [dx.reshape(self.shape) if dx is not None else None]
        if self.has_weight:
            grads.append(gxh.reshape(n, groups * cg).sum(axis=0) if needs[1] else None)
        if self.has_bias:
            grads.append(gs.reshape(n, groups * cg).sum(axis=0) if needs[-1] else None)
        return tuple(grads) if len(grads) > 1 else grads[0]

    def backward_graph(self, g):
        n, groups, cg, s = self.dims
        x, affine = self.parents[0], self.parents[1:]
        x4, g4 = x.reshape(n, groups, cg, s), g.reshape(n, groups, cg, s)
        w = affine[0].reshape(1, groups, cg, 1) if self.has_weight else None
        dx, xhat = normalized_backward_graph(g4, x4, (2, 3), self.eps, w)
        needs = self.needs_input_grad
        grads = [dx.reshape(self.shape) if needs[0] else None]
        if self.has_weight:
            grads.append((g4 * xhat).sum((0, 3)).reshape(groups * cg) if needs[1] else None)
        if self.has_bias:
            grads.append(g4.sum((0, 3)).reshape(groups * cg) if needs[-1] else None)
        return tuple(grads) if len(grads) > 1 else grads[0]
