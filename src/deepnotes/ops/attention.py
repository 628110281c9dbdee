"""The attention-weight primitive: a softmax over the keys with torch's two conventions for a row whose
keys are all masked (``deepnotes.nn.functional.attention`` calls it)."""

import numpy as np

from ..autograd.function import Function


class _AttnSoftmax(Function):
    """Softmax over the last axis of attention scores.

    ``safe=True`` (torch's scaled_dot_product_attention): a row whose scores are all -inf (every key
    masked) gives weights 0 and gradient 0.  ``safe=False`` (torch's multi-head path with
    ``need_weights=True``): such a row gives NaN, as a plain softmax does.
    """

    def forward(self, a, safe=True):
        m = a.max(axis=-1, keepdims=True)
        dead = np.isneginf(m)
        with np.errstate(invalid="ignore"):
            if safe:
                m = np.where(dead, 0, m)
            e = np.exp(a - m)
            s = e.sum(axis=-1, keepdims=True)
            if safe:
                s = np.where(dead, 1, s)
            out = e / s
        self.out, self.safe = out, safe
        return out

    def backward(self, g):
        y = self.out
        return y * (g - (g * y).sum(axis=-1, keepdims=True))

    def backward_graph(self, g):
        y = _AttnSoftmax.apply(self.parents[0], safe=self.safe)
        return y * (g - (g * y).sum(-1, keepdim=True))
