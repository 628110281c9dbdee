"""The primitive of synchronised batch normalisation: batch statistics merged over the ranks of a
data-parallel job (the module is ``deepnotes.nn.SyncBatchNorm``, which explains the method).

Each rank contributes its count, per-channel mean and sum of squared deviations; they are combined with
Chan's parallel formula.  Backward all-reduces the two per-channel sums the input gradient needs (sum of
dy and of dy * xhat).  Values and gradients equal one batch norm over the concatenated batch.
"""

import numpy as np

from ..autograd.function import Function

__all__ = ["SyncBatchNormFn"]


class SyncBatchNormFn(Function):
    """Inputs: x (N, C, *), weight (C,) and bias (C,) when given (flags ``has_weight``/``has_bias``).

    The communication comes in as two callables, so this primitive depends on no transport:
    ``all_gather(out, mine)`` fills ``out`` (world, k) with every rank's row ``mine`` (k,), and
    ``all_reduce(buf)`` sums ``buf`` over the ranks in place; ``world`` is the number of ranks.
    ``deepnotes.nn.SyncBatchNorm`` passes ``deepnotes.distributed``'s collectives."""

    def forward(
        self, x, *affine, has_weight, has_bias, running_mean, running_var, momentum, eps, world, all_gather, all_reduce
    ):
        n, c = x.shape[0], x.shape[1]
        x3 = np.ascontiguousarray(x).reshape(n, c, -1)
        count = x3.shape[0] * x3.shape[2]
        if count:
            mean_l = x3.mean(axis=(0, 2))
            dev = x3 - mean_l[:, None]
            m2_l = np.einsum("ncs,ncs->c", dev, dev)
        else:
            mean_l = np.zeros(c, dtype=x.dtype)
            m2_l = np.zeros(c, dtype=x.dtype)
        mine = np.concatenate([[count], mean_l, m2_l]).astype(np.float64)
        stats = np.zeros((world, 2 * c + 1), dtype=np.float64)
        all_gather(stats, mine)
        counts, means, m2s = stats[:, 0], stats[:, 1 : c + 1], stats[:, c + 1 :]
        total = counts.sum()
        if total <= 1:
            raise ValueError(
                f"SyncBatchNorm: expected more than 1 value per channel over all ranks when training, got {int(total)}"
            )
        mean = (counts[:, None] * means).sum(axis=0) / total
        m2 = (m2s + counts[:, None] * (means - mean) ** 2).sum(axis=0)
        var = m2 / total
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * (total / (total - 1))
        t = x.dtype.type
        mean, var = mean.astype(x.dtype), var.astype(x.dtype)
        invstd = t(1) / np.sqrt(var + t(eps))
        weight = affine[0] if has_weight else None
        bias = affine[-1] if has_bias else None
        xhat = (x3 - mean[:, None]) * invstd[:, None]
        out = xhat * weight[:, None] if weight is not None else xhat.copy()
        if bias is not None:
            out += bias[:, None]
        if any(self.needs_input_grad):
            self.xhat, self.invstd, self.weight, self.total = xhat, invstd, weight, t(total)
            self.has_weight, self.has_bias, self.all_reduce, self.shape = has_weight, has_bias, all_reduce, x.shape
        return out.reshape(x.shape)

    def backward(self, g):
        xhat, invstd = self.xhat, self.invstd
        g3 = np.ascontiguousarray(g).reshape(xhat.shape)
        sum_dy = g3.sum(axis=(0, 2))
        sum_dy_xhat = np.einsum("ncs,ncs->c", g3, xhat)
        both = np.concatenate([sum_dy, sum_dy_xhat])
        self.all_reduce(both)  # every rank's loss depends on every rank's x
        c = sum_dy.size
        mean_dy, mean_dy_xhat = both[:c] / self.total, both[c:] / self.total
        scale = invstd * self.weight if self.weight is not None else invstd
        gx = (g3 - mean_dy[:, None] - xhat * mean_dy_xhat[:, None]) * scale[:, None]
        grads = [gx.reshape(self.shape) if self.needs_input_grad[0] else None]
        if self.has_weight:
            grads.append(sum_dy_xhat)
        if self.has_bias:
            grads.append(sum_dy)
        return tuple(grads)
