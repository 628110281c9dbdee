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
    unsafe = np.flatnonzero(~(mean * mean <= var))        # also catches NaN
    if unsafe.size:
        xc = x2[unsafe] - mean[unsafe, None]
        var[unsafe] = _row_dots(xc, xc) * t(1.0 / m)
    return mean, var


def _col_sums(a2):
    """Sums of the columns of a 2-D array (a BLAS vector-matrix product)."""
    if a2.dtype == np.float16 or a2.shape[0] == 0:
        return a2.sum(axis=0)
    return np.ones(a2.shape[0], dtype=a2.dtype) @ a2


class LayerNormFn(Function):
    """Inputs: x, then ``weight`` if ``has_weight`` and ``bias`` if ``has_bias`` (both of the normalised
    shape, the last dimensions of x holding ``m`` elements)."""

    def forward(self, x, *affine, m, has_weight, has_bias, eps):
        rows = x.size // m if m else 0
        x2 = x.reshape(rows, m)
        t = x.dtype.type
        mean, var = _row_mean_var(x2)
        invstd = (1.0 / np.sqrt(var + t(eps))).astype(x.dtype, copy=False)
        xhat = x2 * invstd[:, None]                 # x_hat = x invstd - mean invstd
        xhat -= (mean * invstd)[:, None]
        weight = affine[0].reshape(m) if has_weight else None
        bias = affine[-1].reshape(m) if has_bias else None
        out = xhat * weight if weight is not None else xhat.copy()
        if bias is not None:
            out += bias
        self.xhat, self.invstd, self.weight = xhat, invstd, weight
        self.has_weight, self.has_bias, self.shape = has_weight, has_bias, x.shape
        self.pshape = affine[0].shape if affine else None
        return out.reshape(x.shape)

    def backward(self, g):
        xhat, invstd, weight = self.xhat, self.invstd, self.weight
        rows, m = xhat.shape
        g2 = g.reshape(rows, m)
        needs = self.needs_input_grad
        grads = [None]
        if self.has_weight:
            grads.append(_col_sums(g2 * xhat).reshape(self.pshape) if needs[1] else None)
        if self.has_bias:
            grads.append(_col_sums(g2).reshape(self.pshape) if needs[-1] else None)
        if needs[0]:
            # dx = invstd (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)), dx_hat = dy * weight
            gxhat = g2 * weight if weight is not None else g2
            inv_m = g.dtype.type(1.0 / m)
            s1 = _row_sums(gxhat) * inv_m
            s2 = _row_dots(gxhat, xhat) * inv_m
            dx = xhat * (-s2 * invstd)[:, None]
            dx += gxhat * invstd[:, None] if weight is not None else g2 * invstd[:, None]
            dx -= (s1 * invstd)[:, None]
            grads[0] = dx.reshape(self.shape)
        return tuple(grads) if len(grads) > 1 else grads[0]


# Group norm works through the input in chunks of whole groups of about this many bytes: each chunk's
# passes stay in the last-level cache and temporaries (the exact-variance fallback) stay small.
_CHUNK_BYTES = 1 << 22


class GroupNormFn(Function):
    """Inputs: x (N, C, *), then ``weight`` (C,) if ``has_weight`` and ``bias`` (C,) if ``has_bias``.

    Statistics per (sample, group of C / ``groups`` channels).  With ``running_mean``/``running_var``
    arrays (instance norm with tracked statistics, groups == C) they are updated in place:
    r <- (1 - momentum) r + momentum * stat, where stat is the per-instance mean (variance: unbiased,
    S / (S - 1)) averaged over the batch, as torch does.
    """

    def forward(self, x, *affine, groups, has_weight, has_bias, eps, running_mean=None, running_var=None,
                momentum=0.1):
        n, c = x.shape[0], x.shape[1]
        s = x.size // (n * c) if n * c else int(np.prod(x.shape[2:]))
        cg = c // groups
        rows = n * groups
        t = x.dtype.type
        x3 = np.ascontiguousarray(x).reshape(rows, cg, s)
        # per (group, channel-in-group) parameters, repeated over the batch by index
        w2 = affine[0].reshape(groups, cg) if has_weight else np.ones((groups, cg), dtype=x.dtype)
        b2 = affine[-1].reshape(groups, cg) if has_bias else np.zeros((groups, cg), dtype=x.dtype)
        mean = np.empty(rows, dtype=x.dtype)
        var = np.empty(rows, dtype=x.dtype)
        out = np.empty_like(x3)
        step = max(1, _CHUNK_BYTES // max(1, cg * s * x.itemsize))
        for lo in range(0, rows, step):
            hi = min(lo + step, rows)
            xs = x3[lo:hi]
            mu, v = _row_mean_var(xs.reshape(hi - lo, cg * s))
            mean[lo:hi], var[lo:hi] = mu, v
            # one multiply-add per channel: y = x * a + b, a = w invstd, b = bias - mean a
            gidx = np.arange(lo, hi) % groups
            a = (1.0 / np.sqrt(v + t(eps))).astype(x.dtype, copy=False)[:, None] * w2[gidx]
            b = b2[gidx] - mu[:, None] * a
            o = out[lo:hi]
            np.multiply(xs, a[..., None], out=o)
            o += b[..., None]
        invstd = (1.0 / np.sqrt(var + t(eps))).astype(x.dtype, copy=False)
        if running_mean is not None or running_var is not None:
            self._update_running(mean, var, n, c, s, running_mean, running_var, momentum)
        if any(self.needs_input_grad):
            self.x3, self.mean, self.invstd, self.w2 = x3, mean, invstd, w2
            self.dims, self.shape = (n, groups, cg, s), x.shape
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
            unbiased = var.reshape(n, c) * (s / (s - 1))      # s > 1 is checked by the caller
            running_var *= 1 - momentum
            running_var += (momentum * unbiased.mean(axis=0)).astype(running_var.dtype)

    def backward(self, g):
        n, groups, cg, s = self.dims
        rows = n * groups
        x3, mean, invstd, w2 = self.x3, self.mean, self.invstd, self.w2
        g3 = np.ascontiguousarray(g).reshape(rows, cg, s)
        needs = self.needs_input_grad
        inv_m = g.dtype.type(1.0 / (cg * s)) if cg * s else g.dtype.type(0)
        gs = np.empty((rows, cg), dtype=g.dtype)       # sum over space of dy, per channel
        gxh = np.empty((rows, cg), dtype=g.dtype)      # sum over space of dy * x_hat
        dx = np.empty_like(g3) if needs[0] else None
        step = max(1, _CHUNK_BYTES // max(1, cg * s * g.itemsize))
        for lo in range(0, rows, step):
            hi = min(lo + step, rows)
            k = (hi - lo) * cg
            gc, xc = g3[lo:hi], x3[lo:hi]
            sums = _row_sums(gc.reshape(k, s)).reshape(hi - lo, cg)
            dots = _row_dots(gc.reshape(k, s), xc.reshape(k, s)).reshape(hi - lo, cg)
            mu, inv = mean[lo:hi, None], invstd[lo:hi, None]
            gs[lo:hi] = sums
            gxh[lo:hi] = inv * (dots - mu * sums)
            if dx is None:
                continue
            # dx = c1 dy + c2 x + c3 with c1 = invstd w, c2 = -invstd^2 s2, c3 = -c2 mean - invstd s1, where
            # s1, s2 are the group means of w dy and w dy x_hat
            w = w2[np.arange(lo, hi) % groups]
            s1 = (sums * w).sum(axis=1, keepdims=True) * inv_m
            s2 = (gxh[lo:hi] * w).sum(axis=1, keepdims=True) * inv_m
            c1 = inv * w
            c2 = -inv * inv * s2
            c3 = -c2 * mu - inv * s1
            d = dx[lo:hi]
            if np.all(c1 != 0):         # c1 (dy + (c2 / c1) x + c3 / c1): three passes, no temporary
                np.multiply(xc, (c2 / c1)[..., None], out=d)
                d += (c3 / c1)[..., None]
                d += gc
                d *= c1[..., None]
            else:
                np.multiply(gc, c1[..., None], out=d)
                d += xc * c2[..., None]
                d += c3[..., None]
        grads = [dx.reshape(self.shape) if dx is not None else None]
        if self.has_weight:
            grads.append(gxh.reshape(n, groups * cg).sum(axis=0) if needs[1] else None)
        if self.has_bias:
            grads.append(gs.reshape(n, groups * cg).sum(axis=0) if needs[-1] else None)
        return tuple(grads) if len(grads) > 1 else grads[0]
