"""Batch normalisation as one fused primitive (composition would be slower and less exact).

Training: x_hat = (x - mu_B) / sqrt(var_B + eps) with the biased batch variance; the running
variance is updated with the unbiased one (torch's semantics).  Evaluation uses the running estimates.
"""
import numpy as np

from ..autograd.function import Function


class BatchNormFn(Function):
    def forward(self, x, weight=None, bias=None, *, running_mean, running_var, training, momentum, eps,
                axes, num_batches_tracked=None):
        shape = [1] * x.ndim
        shape[1] = x.shape[1]
        if training:
            n = x.size // x.shape[1]
            if n <= 1:
                raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got "
                                 f"input of shape {x.shape}")
            mean = x.mean(axis=axes)
            centred = x - mean.reshape(shape)
            var = np.mean(centred * centred, axis=axes)
            if running_mean is not None:
                m = momentum
                if m is None:  # cumulative moving average
                    m = 1.0 / float(num_batches_tracked[...])
                running_mean *= 1 - m
                running_mean += m * mean
                running_var *= 1 - m
                running_var += m * var * (n / (n - 1))
        else:
            mean, var = running_mean, running_var
            centred = x - mean.reshape(shape)
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        xhat = centred * invstd.reshape(shape)
        out = xhat
        if weight is not None:
            out = xhat * weight.reshape(shape) + bias.reshape(shape)
        self.xhat, self.invstd, self.weight, self.training = xhat, invstd, weight, training
        self.axes, self.shape = axes, shape
        return out

    def backward(self, g):
        xhat, shape, axes = self.xhat, self.shape, self.axes
        gw = gb = None
        if self.weight is not None:
            if self.needs_input_grad[1]:
                gw = (g * xhat).sum(axis=axes)
            if self.needs_input_grad[2]:
                gb = g.sum(axis=axes)
            gxhat = g * self.weight.reshape(shape)
        else:
            gxhat = g
        gx = None
        if self.needs_input_grad[0]:
            if self.training:
                n = g.size // g.shape[1]
                s1 = gxhat.sum(axis=axes).reshape(shape)
                s2 = (gxhat * xhat).sum(axis=axes).reshape(shape)
                gx = (self.invstd.reshape(shape) / n) * (n * gxhat - s1 - xhat * s2)
            else:
                gx = gxhat * self.invstd.reshape(shape)
        return (gx, gw, gb) if self.weight is not None else gx
