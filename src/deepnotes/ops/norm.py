"""Batch normalisation as one fused primitive (composition would be slower and less exact).

Training: x_hat = (x - mu_B) / sqrt(var_B + eps) with the biased batch variance; the running
variance is updated with the unbiased one (torch's semantics).  Evaluation uses the running estimates.
Backward in training mode (per channel, n values):
dx = invstd / n * (n * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat)), dx_hat = dy * weight.
"""
import numpy as np

from ..autograd.function import Function


class BatchNormFn(Function):
    """Inputs: x (N, C, *), then ``weight`` (C,) if ``has_weight`` and ``bias`` (C,) if ``has_bias``."""

    def forward(self, x, *affine, has_weight, has_bias, running_mean, running_var, training, momentum, eps):
        weight = affine[0] if has_weight else None
        bias = affine[-1] if has_bias else None
        axes = (0,) + tuple(range(2, x.ndim))
        shape = [1] * x.ndim
        shape[1] = x.shape[1]
        if training:
            n = x.size // x.shape[1]
            mean = x.mean(axis=axes)
            centred = x - mean.reshape(shape)
            var = np.mean(centred * centred, axis=axes)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * var * (n / (n - 1))
        else:
            mean, var = running_mean, running_var
            centred = x - mean.astype(x.dtype, copy=False).reshape(shape)
        invstd = (1.0 / np.sqrt(var.astype(x.dtype, copy=False) + x.dtype.type(eps))).astype(x.dtype)
        xhat = centred * invstd.reshape(shape)
        out = xhat
        if weight is not None:
            out = out * weight.reshape(shape)
        if bias is not None:
            out = out + bias.reshape(shape)
        self.xhat, self.invstd, self.weight, self.training = xhat, invstd, weight, training
        self.has_weight, self.has_bias = has_weight, has_bias
        self.axes, self.shape = axes, shape
        return out

    def backward(self, g):
        xhat, shape, axes = self.xhat, self.shape, self.axes
        needs = self.needs_input_grad
        grads = [None]
        if self.has_weight:
            grads.append((g * xhat).sum(axis=axes) if needs[1] else None)
        if self.has_bias:
            grads.append(g.sum(axis=axes) if needs[-1] else None)
        if needs[0]:
            gxhat = g * self.weight.reshape(shape) if self.weight is not None else g
            invstd = self.invstd.reshape(shape)
            if self.training:
                n = g.size // g.shape[1]
                s1 = gxhat.sum(axis=axes).reshape(shape)
                s2 = (gxhat * xhat).sum(axis=axes).reshape(shape)
                grads[0] = (invstd / n) * (n * gxhat - s1 - xhat * s2)
            else:
                grads[0] = gxhat * invstd
        return tuple(grads) if len(grads) > 1 else grads[0]
