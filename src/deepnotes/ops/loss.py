"""Loss primitives, each with its forward and backward: the class pick of the negative log-likelihood,
binary cross entropy on probabilities and on logits (fused, overflow-free), and t log t of the KL
divergence.

Used by ``deepnotes.nn.functional.losses`` (and through it by ``deepnotes.detection.losses``).  The
underscored names are kept from before the primitives moved here: the ONNX exporter finds a primitive
by its class name.
"""

import numpy as np

from ..autograd.function import Function, unbroadcast
from ._graph import const, sum_to
from .elementwise import Log, Maximum, Sigmoid, Where


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

    def backward_graph(self, g):
        x, t = self.parents
        gx = sum_to(g * (Sigmoid.apply(x) - t), x.shape) if self.needs_input_grad[0] else None
        gt = sum_to(-g * x, t.shape) if self.needs_input_grad[1] else None
        return gx, gt


class _PickNLL(Function):
    """l = -w * logp[target] along the class axis 1 (the fused gather of nll_loss).

    ``target`` holds valid class indices (ignored entries already replaced by any class and given
    weight 0); the gradient is -w g at the picked class and 0 elsewhere.
    """

    def forward(self, logp, *, target, weight):
        idx = target[:, None]
        self.idx, self.w, self.shape = idx, weight, logp.shape
        return -weight * np.take_along_axis(logp, idx, axis=1)[:, 0]

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        np.put_along_axis(out, self.idx, (-self.w * g)[:, None], axis=1)
        return out

    def backward_graph(self, g):
        hot = np.zeros(self.shape, dtype=g.data.dtype)
        np.put_along_axis(hot, self.idx, 1, axis=1)
        picked = g * const(g, -self.w)
        return picked.reshape(picked.shape[:1] + (1,) + picked.shape[1:]) * const(g, hot)


class _BinaryCrossEntropy(Function):
    """l = -(t log x + (1 - t) log(1 - x)) with each log clamped at -100 (torch), so x = 0 or 1 give
    finite losses.  Gradients are torch's: dl/dx = (x - t) / max(x (1 - x), 1e-12) and
    dl/dt = log(1 - x) - log(x)."""

    def forward(self, x, t):
        self.x, self.t = x, t
        with np.errstate(divide="ignore"):
            return -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log1p(-x), -100))

    def backward(self, g):
        x, t = self.x, self.t
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = g * (x - t) / np.maximum(x * (1 - x), x.dtype.type(1e-12))
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gt = g * (np.log1p(-x) - np.log(x))
        return gx, gt

    def backward_graph(self, g):
        x, t = self.parents
        gx = gt = None
        if self.needs_input_grad[0]:
            floor = const(g, np.asarray(1e-12, dtype=g.data.dtype))
            gx = g * (x - t) / Maximum.apply(x * (1 - x), floor)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gt = g * (Log.apply(1 - x) - Log.apply(x))
        return gx, gt


class _XLogX(Function):
    """t log t with 0 log 0 = 0 (torch's xlogy(t, t)); gradient log t + 1 (NaN at t = 0, as torch's
    xlogy(t, t) backward gives there)."""

    def forward(self, t):
        self.t = t
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t == 0, t.dtype.type(0), t * np.log(t))

    def backward(self, g):
        t = self.t
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * (np.where(t != 0, np.log(t), t.dtype.type(0)) + t / t)

    def backward_graph(self, g):
        t = self.parents[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            nonzero = const(g, self.t != 0)
            log = Where.apply(nonzero, Log.apply(t), const(g, np.zeros((), dtype=g.data.dtype)))
            return g * (log + t / t)
