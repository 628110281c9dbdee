"""Arithmetic primitives with NumPy broadcasting: + - * / ** neg and (batched) matrix product."""
import numpy as np

from ..autograd.function import Function, unbroadcast


class Add(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a + b

    def backward(self, g):
        sa, sb = self.shapes
        return (unbroadcast(g, sa) if self.needs_input_grad[0] else None,
                unbroadcast(g, sb) if self.needs_input_grad[1] else None)


class Sub(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, g):
        sa, sb = self.shapes
        return (unbroadcast(g, sa) if self.needs_input_grad[0] else None,
                unbroadcast(-g, sb) if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        a, b = self.a, self.b
        return (unbroadcast(g * b, a.shape) if self.needs_input_grad[0] else None,
                unbroadcast(g * a, b.shape) if self.needs_input_grad[1] else None)


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        a, b = self.a, self.b
        ga = unbroadcast(g / b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """``a ** b``; d/da = b a^(b-1), d/db = a^b log a (taken as 0 where a == 0, as torch does)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = np.power(a, b)
        return self.out

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(g * b * np.power(a, b - 1), a.shape)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.where(a > 0, np.log(np.where(a > 0, a, 1)), np.where(a == 0, 0.0, np.nan))
            gb = unbroadcast(g * self.out * logs, b.shape)
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


def _as2d(shape_a, shape_b):
    return len(shape_a) == 1, len(shape_b) == 1


class MatMul(Function):
    """``a @ b`` with NumPy's rules: 1-D operands are promoted and the added axis removed again."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: both operands need at least one dimension, got shapes "
                             f"{a.shape} and {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
        if ka != kb:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                             f"(inner dimensions {ka} and {kb} differ)")
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        a1, b1 = _as2d(a.shape, b.shape)
        A = a[None, :] if a1 else a
        B = b[:, None] if b1 else b
        G = g
        if a1 and b1:
            G = np.reshape(g, (1, 1))
        elif a1:
            G = np.expand_dims(g, -2)
        elif b1:
            G = np.expand_dims(g, -1)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = G @ np.swapaxes(B, -1, -2)
            ga = unbroadcast(ga, A.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = np.swapaxes(A, -1, -2) @ G
            gb = unbroadcast(gb, B.shape).reshape(b.shape)
        return ga, gb
