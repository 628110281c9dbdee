"""The affine map y = x W^T + b, fused so the backward pass is two matrix products and a sum."""

from ..autograd.function import Function
from ._graph import reshape
from .arithmetic import MatMul, mm


class LinearFn(Function):
    def forward(self, x, w, b=None):
        # x is needed only for the weight's gradient and w only for the input's (saved as torch does)
        need_x, need_w = self.needs_input_grad[:2]
        self.x, self.w, self.has_bias = (x if need_w else None), (w if need_x else None), b is not None
        out = mm(x, w.T)
        if b is not None:
            out += b
        return out

    def backward(self, g):
        x, w = self.x, self.w
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = mm(g, w)
        g2 = g.reshape(-1, g.shape[-1])
        if self.needs_input_grad[1]:
            gw = mm(g2.T, x.reshape(-1, x.shape[-1]))
        if self.has_bias and self.needs_input_grad[2]:
            gb = g2.sum(axis=0)
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def backward_graph(self, g):
        """The same three products recorded: dx = g W, dW = g^T x (rows flattened), db = sum g."""
        x, w = self.parents[:2]
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = MatMul.apply(g, w)
        g2 = reshape(g, (-1, g.shape[-1])) if g.ndim != 2 else g
        if self.needs_input_grad[1]:
            x2 = reshape(x, (-1, x.shape[-1])) if x.ndim != 2 else x
            gw = MatMul.apply(g2.mT, x2)
        if self.has_bias and self.needs_input_grad[2]:
            gb = g2.sum(0)
        return (gx, gw, gb) if self.has_bias else (gx, gw)
