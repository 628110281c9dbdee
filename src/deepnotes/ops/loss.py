"""Loss primitives: binary cross entropy on logits, fused and overflow-free.

Used by ``deepnotes.nn.functional`` (``binary_cross_entropy_with_logits``, the focal losses) and through
it by ``deepnotes.detection.losses``.
"""
import numpy as np

from ..autograd.function import Function, unbroadcast


class BCEWithLogitsFn(Function):
    """``(1 - t) x - min(x, 0) + log(1 + exp(-|x|))`` (= ``(1 - t) x - log sigmoid(x)``, grouped as torch
    groups it, so infinite logits or targets give torch's inf/NaN); d/dx = sigmoid(x) - t, d/dt = -x."""

    def forward(self, x, t):
        self.x, self.t = x, t
        return (1 - t) * x - np.minimum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    def backward(self, g):
        x, t = self.x, self.t
        gx = gt = None
        if self.needs_input_grad[0]:
            e = np.exp(-np.abs(x))
            sig = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
            gx = unbroadcast(g * (sig - t), x.shape)
        if self.needs_input_grad[1]:
            gt = unbroadcast(-g * x, t.shape)
        return gx, gt
