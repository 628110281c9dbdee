"""Batch normalisation as one fused primitive (composition would be slower and less exact).

Training: x_hat = (x - mu_B) / sqrt(var_B + eps) with the biased batch variance; the running
variance is updated with the unbiased one (torch's semantics).  Evaluation uses the running estimates.
Backward in training mode (per channel, n values):
dx = invstd / n * (n * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat)), dx_hat = dy * weight.

The input is viewed as (N, C, S) rows of S contiguous values.  Per-row sums and dot products are BLAS
matrix-vector products (sum(x), sum(x^2) forward; sum(dy), sum(dy x) backward), summed over N per
channel; the output and the input gradient are then one multiply-add per channel,
y = x a_c + b_c and dx = c1_c dy + c2_c x + c3_c, so no normalised copy of x is kept.
"""

import math

import numpy as np

from ..autograd.function import Function
from ._graph import const
from ._rowwise import row_broadcasts
from .normalization import _row_dots, _row_sums, float32_statistics, normalized_backward_graph


def _channel_sums(a3, b3=None):
    """Per-channel sum of a (N, C, S), or of a * b, over N and S.  Long rows: BLAS matrix-vector
    products per (n, c) row; short rows (S < 32, e.g. BatchNorm1d on (N, C)): one einsum over N."""
    n, c, s = a3.shape
    if s < 32:
        return np.einsum("ncs->c", a3) if b3 is None else np.einsum("ncs,ncs->c", a3, b3)
    rows = a3.reshape(n * c, s)
    per_row = _row_sums(rows) if b3 is None else _row_dots(rows, b3.reshape(n * c, s))
    return per_row.reshape(n, c).sum(axis=0)


def _channel_mean_var(x3):
    """Per-channel mean and biased variance of x (N, C, S) over N and S.  E[x^2] - mean^2 from the
    channel sums; channels where that difference would cancel (mean^2 > var) use the exact two-pass
    form."""
    n, c, s = x3.shape
    t = x3.dtype.type
    count = n * s
    mean = _channel_sums(x3) * t(1.0 / count)
    var = _channel_sums(x3, x3) * t(1.0 / count) - mean * mean
    unsafe = np.flatnonzero(~(mean * mean <= var))  # also catches NaN
    if unsafe.size:
        xc = x3[:, unsafe, :] - mean[unsafe, None]
        var[unsafe] = np.einsum("ncs,ncs->c", xc, xc) * t(1.0 / count)
    return mean, var


@float32_statistics
class BatchNormFn(Function):
    """Inputs: x (N, C, *), then ``weight`` (C,) if ``has_weight`` and ``bias`` (C,) if ``has_bias``.

    Reference (loops, as the notes explain it): deepnotes.reference.batchnorm.batch_norm_forward / batch_norm_backward.
    """

    def forward(self, x, *affine, has_weight, has_bias, running_mean, running_var, training, momentum, eps):
        n = x.shape[0]
        s = math.prod(x.shape[2:])
        t = x.dtype.type
        # channel-major input (the im2col convolution's output, memory (C, N, *)): work on it in place
        # as one (1, C, N*S) block rather than copying it to NCHW; the output keeps the same layout
        self.xshape = x.shape
        self.channel_major = not x.flags.c_contiguous and x.ndim > 2 and x.swapaxes(0, 1).flags.c_contiguous
        x3 = self._as3(x)
        weight = affine[0] if has_weight else None
        bias = affine[-1] if has_bias else None
        if training:
            mean, var = _channel_mean_var(x3)
            count = n * s
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * var * (count / (count - 1))
        else:
            mean = running_mean.astype(x.dtype, copy=False)
            var = running_var.astype(x.dtype, copy=False)
        invstd = var + t(eps)  # 1 / sqrt(var + eps), in place on the (C,) temporaries
        np.sqrt(invstd, out=invstd)
        np.divide(t(1), invstd, out=invstd)
        # one multiply-add per channel: y = x a + b, a = invstd weight, b = bias - mean a
        a = invstd * weight if weight is not None else invstd
        b = mean * a
        if bias is not None:
            np.subtract(bias, b, out=b)
        else:
            np.negative(b, out=b)
        with row_broadcasts(x3.shape[2]):
            out = x3 * a[:, None]
            out += b[:, None]
        if any(self.needs_input_grad):
            self.x3, self.mean, self.invstd, self.weight, self.training = x3, mean, invstd, weight, training
            self.has_weight, self.has_bias, self.eps = has_weight, has_bias, eps
        return self._from3(out)

    def _as3(self, a):
        """``a`` (N, C, *) as a C-contiguous (N, C, S) array, or (1, C, N*S) in channel-major mode."""
        n, c = self.xshape[:2]
        s = math.prod(self.xshape[2:])
        if self.channel_major:
            return np.ascontiguousarray(a.swapaxes(0, 1)).reshape(1, c, n * s)
        return np.ascontiguousarray(a).reshape(n, c, s)

    def _from3(self, a3):
        """The inverse of :meth:`_as3`: an array laid out like ``x3`` back to the input's (N, C, *)."""
        shape = self.xshape
        if self.channel_major:
            return a3.reshape((shape[1], shape[0]) + shape[2:]).swapaxes(0, 1)
        return a3.reshape(shape)

    def backward(self, g):
        x3, mean, invstd = self.x3, self.mean, self.invstd
        n, c, s = x3.shape
        g3 = self._as3(g)
        needs = self.needs_input_grad
        sum_g = _channel_sums(g3)  # sum(dy) per channel
        sum_gxhat = invstd * (_channel_sums(g3, x3) - mean * sum_g)  # sum(dy x_hat)
        grads = [None]
        if self.has_weight:
            grads.append(sum_gxhat if needs[1] else None)
        if self.has_bias:
            grads.append(sum_g if needs[-1] else None)
        if needs[0]:
            with row_broadcasts(s):
                grads[0] = self._input_grad(g, g3, x3, mean, invstd, sum_g, sum_gxhat, n, s)
        return tuple(grads) if len(grads) > 1 else grads[0]

    def backward_graph(self, g):
        """Training: the batch statistics' gradient (over N and the spatial axes) with recorded
        operations; evaluation: the affine map with the running statistics as constants."""
        x, affine = self.parents[0], self.parents[1:]
        n, c = self.xshape[:2]
        x3, g3 = x.reshape(n, c, -1), g.reshape(n, c, -1)
        w = affine[0].reshape(1, c, 1) if self.has_weight else None
        if self.training:
            dx, xhat = normalized_backward_graph(g3, x3, (0, 2), self.eps, w)
        else:
            invstd = const(g, self.invstd.reshape(1, c, 1))
            xhat = (x3 - const(g, self.mean.reshape(1, c, 1))) * invstd
            dx = g3 * (invstd * w if w is not None else invstd)
        needs = self.needs_input_grad
        grads = [dx.reshape(self.xshape) if needs[0] else None]
        if self.has_weight:
            grads.append((g3 * xhat).sum((0, 2)) if needs[1] else None)
        if self.has_bias:
            grads.append(g3.sum((0, 2)) if needs[-1] else None)
        return tuple(grads) if len(grads) > 1 else grads[0]

    def _input_grad(self, g, g3, x3, mean, invstd, sum_g, sum_gxhat, n, s):
        """dx from the channel sums: c1 dy in evaluation, c1 dy + c2 x + c3 in training."""
        c1 = invstd * self.weight if self.weight is not None else invstd
        if not self.training:
            return self._from3(g3 * c1[:, None])
        inv_count = g.dtype.type(1.0 / (n * s))
        c2 = -c1 * invstd * sum_gxhat * inv_count
        c3 = -c2 * mean - c1 * sum_g * inv_count
        if np.all(c1 != 0):  # c1 (dy + (c2 / c1) x + c3 / c1): three passes, no temporary
            dx = x3 * (c2 / c1)[:, None]
            dx += (c3 / c1)[:, None]
            dx += g3
            dx *= c1[:, None]
        else:
            dx = g3 * c1[:, None]
            dx += x3 * c2[:, None]
            dx += c3[:, None]
        return self._from3(dx)
