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


def _row_moments(x2, eps):
    """Per-row mean, centred rows and 1 / sqrt(var + eps) of a 2-D array (two-pass, exact for offsets)."""
    m = x2.shape[1]
    t = x2.dtype.type
    mean = _row_sums(x2) * t(1.0 / m) if m else np.zeros(x2.shape[0], dtype=x2.dtype)
    xc = x2 - mean[:, None]
    var = _row_dots(xc, xc) * t(1.0 / m) if m else np.zeros(x2.shape[0], dtype=x2.dtype)
    invstd = (1.0 / np.sqrt(var + t(eps))).astype(x2.dtype, copy=False)
    return mean, xc, var, invstd


class LayerNormFn(Function):
    """Inputs: x, then ``weight`` if ``has_weight`` and ``bias`` if ``has_bias`` (both of the normalised
    shape, the last dimensions of x holding ``m`` elements)."""

    def forward(self, x, *affine, m, has_weight, has_bias, eps):
        rows = x.size // m if m else 0
        x2 = x.reshape(rows, m)
        _, xhat, _, invstd = _row_moments(x2, eps)
        xhat *= invstd[:, None]
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
            grads.append(np.einsum("ij,ij->j", g2, xhat).reshape(self.pshape) if needs[1] else None)
        if self.has_bias:
            grads.append(g2.sum(axis=0).reshape(self.pshape) if needs[-1] else None)
        if needs[0]:
            gxhat = g2 * weight if weight is not None else g2.copy()
            inv_m = g.dtype.type(1.0 / m)
            s1 = gxhat.sum(axis=1) * inv_m
            s2 = np.einsum("ij,ij->i", gxhat, xhat) * inv_m
            gxhat -= xhat * s2[:, None]
            gxhat -= s1[:, None]
            gxhat *= invstd[:, None]
            grads[0] = gxhat.reshape(self.shape)
        return tuple(grads) if len(grads) > 1 else grads[0]


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
        m = cg * s
        t = x.dtype.type
        mean, var = _row_mean_var(x.reshape(n * groups, m))
        invstd = (1.0 / np.sqrt(var + t(eps))).astype(x.dtype, copy=False)
        if running_mean is not None or running_var is not None:
            self._update_running(mean, var, n, c, s, running_mean, running_var, momentum)
        weight = affine[0] if has_weight else None
        bias = affine[-1] if has_bias else None
        # per (n, g, channel-in-group) one multiply-add: y = x * a + b, a = invstd w, b = bias - mean a
        a = invstd.reshape(n, groups, 1) * (weight.reshape(groups, cg) if weight is not None else t(1))
        a = np.broadcast_to(a, (n, groups, cg))
        b = -mean.reshape(n, groups, 1) * a
        if bias is not None:
            b += bias.reshape(groups, cg)
        out = x.reshape(n, groups, cg, s) * a[..., None]
        out += b[..., None]
        if any(self.needs_input_grad):
            self.x, self.mean, self.invstd, self.weight = x, mean.reshape(n, groups), invstd.reshape(n, groups), weight
            self.dims = (n, groups, cg, s)
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
        x4 = self.x.reshape(n, groups, cg, s)
        g4 = g.reshape(n, groups, cg, s)
        mean, invstd = self.mean, self.invstd
        needs = self.needs_input_grad
        rows = n * groups * cg
        gs = _row_sums(g4.reshape(rows, s)).reshape(n, groups, cg)                   # sum over space of dy
        gx = _row_dots(g4.reshape(rows, s), x4.reshape(rows, s)).reshape(n, groups, cg)   # of dy * x
        gxhat = invstd[..., None] * (gx - mean[..., None] * gs)   # sum of dy * x_hat
        grads = [None]
        if self.has_weight:
            grads.append(gxhat.sum(axis=0).reshape(-1) if needs[1] else None)
        if self.has_bias:
            grads.append(gs.sum(axis=0).reshape(-1) if needs[-1] else None)
        if needs[0]:
            w = self.weight.reshape(groups, cg) if self.weight is not None else None
            m = cg * s
            inv_m = g.dtype.type(1.0 / m)
            s1 = ((gs * w) if w is not None else gs).sum(axis=2) * inv_m        # (n, g)
            s2 = ((gxhat * w) if w is not None else gxhat).sum(axis=2) * inv_m
            c1 = invstd[..., None] * w if w is not None else np.broadcast_to(invstd[..., None], (n, groups, cg))
            c2 = -invstd * invstd * s2
            c3 = -c2 * mean - invstd * s1
            # dx = c1 dy + c2 x + c3, evaluated as c1 (dy + (c2 / c1) x + c3 / c1): one array, no temporary
            if np.all(c1 != 0):
                dx = x4 * (c2[..., None] / c1)[..., None]
                dx += (c3[..., None] / c1)[..., None]
                dx += g4
                dx *= c1[..., None]
            else:
                dx = g4 * c1[..., None]
                dx += x4 * c2[..., None, None]
                dx += c3[..., None, None]
            grads[0] = dx.reshape(self.x.shape)
        return tuple(grads) if len(grads) > 1 else grads[0]
