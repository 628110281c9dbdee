"""The affine map y = x W^T + b, fused so the backward pass is two matrix products and a sum; and a
fixed matrix applied along one axis (the linear maps of adaptive pooling and interpolation)."""

import numpy as np

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


def along_axis(m, a, axis):
    """The matrix ``m`` (n_out, n_in) applied to the array ``a`` along ``axis`` (of size n_in)."""
    if axis == a.ndim - 1:
        return a @ m.T
    return np.moveaxis(np.matmul(m, np.moveaxis(a, axis, -2)), -2, axis)


class AxisMatrixFn(Function):
    """y = M a along ``axis`` for a fixed matrix M; its gradient is M^T along the same axis, so it is
    differentiable to any order.  The recorded backward of the linear resamplings (adaptive average
    pooling, interpolation) applies their matrices with it."""

    def forward(self, a, matrix, axis):
        self.matrix, self.axis = matrix, axis
        return along_axis(matrix, a, axis)

    def backward(self, g):
        return along_axis(self.matrix.T, g, self.axis)

    def backward_graph(self, g):
        return AxisMatrixFn.apply(g, matrix=self.matrix.T, axis=self.axis)
