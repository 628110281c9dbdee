"""Arithmetic primitives with NumPy broadcasting: + - * / ** neg and (batched) matrix product."""

import numpy as np

from ..autograd.function import Function, broadcasting, unbroadcast
from ._graph import const, reshape, sum_to
from .elementwise import Log, Where


class Add(Function):
    @broadcasting("add")
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a + b

    def backward(self, g):
        sa, sb = self.shapes
        return (
            unbroadcast(g, sa) if self.needs_input_grad[0] else None,
            unbroadcast(g, sb) if self.needs_input_grad[1] else None,
        )

    def backward_graph(self, g):
        sa, sb = self.shapes
        need_a, need_b = self.needs_input_grad
        return (sum_to(g, sa) if need_a else None, sum_to(g, sb) if need_b else None)


class Sub(Function):
    @broadcasting("sub")
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, g):
        sa, sb = self.shapes
        return (
            unbroadcast(g, sa) if self.needs_input_grad[0] else None,
            unbroadcast(-g, sb) if self.needs_input_grad[1] else None,
        )

    def backward_graph(self, g):
        sa, sb = self.shapes
        need_a, need_b = self.needs_input_grad
        return (sum_to(g, sa) if need_a else None, sum_to(-g, sb) if need_b else None)


class Mul(Function):
    """``a * b``.  Each operand is saved only when the other one needs its gradient (as torch), so
    changing an operand in place after the product is an error only when backward would read it."""

    @broadcasting("mul")
    def forward(self, a, b):
        need_a, need_b = self.needs_input_grad
        if need_a and need_b:
            self.a, self.b = a, b
        elif need_a:
            self.b, self.shape = b, a.shape
        elif need_b:
            self.a, self.shape = a, b.shape
        return a * b

    def backward(self, g):
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(g * self.b, self.a.shape if need_b else self.shape) if need_a else None,
            unbroadcast(g * self.a, self.b.shape if need_a else self.shape) if need_b else None,
        )

    def backward_graph(self, g):
        a, b = self.parents
        need_a, need_b = self.needs_input_grad
        return (sum_to(g * b, a.shape) if need_a else None, sum_to(g * a, b.shape) if need_b else None)


class Div(Function):
    """``a / b``; d/da = 1/b, d/db = -a/b^2 = -(1/b) * (a/b)."""

    @broadcasting("div")
    def forward(self, a, b):
        self.b = b
        if self.needs_input_grad[1]:
            self.a = a  # a is read only by d/db (saved as torch does)
        else:
            self.shape = a.shape
        return a / b

    def backward(self, g):
        b = self.b
        a = self.a if self.needs_input_grad[1] else None
        sa, sb = (self.shape if a is None else a.shape), b.shape
        with np.errstate(divide="ignore", invalid="ignore"):
            g_over_b = g / b
            ga = unbroadcast(g_over_b, sa) if self.needs_input_grad[0] else None
            gb = unbroadcast(-g_over_b * (a / b), sb) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_graph(self, g):
        a, b = self.parents
        g_over_b = g / b
        ga = sum_to(g_over_b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-g_over_b * (a / b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """``a ** b``; d/da = b a^(b-1) (0 where b == 0), d/db = a^b log a (0 where a == 0 and b >= 0), the
    conventions torch uses at those points."""

    @broadcasting("pow")
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = np.power(a, b)
        return self.out

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:
                ga = np.where(b == 0, np.zeros((), dtype=g.dtype), g * b * np.power(a, b - 1))
                ga = unbroadcast(ga, a.shape)
            if self.needs_input_grad[1]:
                zero = (a == 0) & (b >= 0)
                gb = np.where(zero, np.zeros((), dtype=g.dtype), g * self.out * np.log(a))
                gb = unbroadcast(gb, b.shape)
        return ga, gb

    def backward_graph(self, g):
        a, b = self.parents
        ga = gb = None
        zero = const(g, np.zeros((), dtype=g.data.dtype))
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:
                d = g * b * Pow.apply(a, b - 1)
                ga = sum_to(Where.apply(const(g, self.b == 0), zero, d), a.shape)
            if self.needs_input_grad[1]:
                d = g * Pow.apply(a, b) * Log.apply(a)
                gb = sum_to(Where.apply(const(g, (self.a == 0) & (self.b >= 0)), zero, d), b.shape)
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g

    def backward_graph(self, g):
        return -g


def mm(a, b):
    """``a @ b``.  Half-precision operands are multiplied with float32 accumulation and the product is
    rounded back to float16, as mixed-precision hardware does; NumPy has no fast float16 GEMM."""
    if a.dtype == np.float16 and b.dtype == np.float16:
        return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(np.float16)
    return np.matmul(a, b)


class MatMul(Function):
    """``a @ b`` with NumPy's (and torch's) rules: 1-D operands are promoted to matrices and the added
    axis removed again; leading (batch) axes broadcast.  dA = dC B^T, dB = A^T dC, summed over any
    broadcast batch axes."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
        if ka != kb:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                f"(inner dimensions {ka} and {kb} differ; expected a (..., n, k) @ "
                "(..., k, m))"
            )
        try:
            out = mm(a, b)
        except ValueError:
            raise ValueError(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} do not broadcast") from None
        # an operand is saved only when the other one needs its gradient (as torch); otherwise a
        # stand-in of its shape that shares no memory with it (backward reads only its shape)
        need_a, need_b = self.needs_input_grad
        self.a = a if need_b else np.broadcast_to(np.empty((), a.dtype), a.shape)
        self.b = b if need_a else np.broadcast_to(np.empty((), b.dtype), b.shape)
        return out

    def backward(self, g):
        a, b = self.a, self.b
        a1, b1 = a.ndim == 1, b.ndim == 1
        A = a[None, :] if a1 else a
        B = b[:, None] if b1 else b
        if a1 and b1:
            G = np.reshape(g, (1, 1))
        elif a1:
            G = np.expand_dims(g, -2)
        elif b1:
            G = np.expand_dims(g, -1)
        else:
            G = g
        ga = gb = None
        if self.needs_input_grad[0]:
            if B.ndim == 2:
                ga = mm(G, B.T)
            else:
                ga = unbroadcast(mm(G, np.swapaxes(B, -1, -2)), A.shape)
            ga = ga.reshape(a.shape)
        if self.needs_input_grad[1]:
            if B.ndim == 2 and A.ndim > 2:
                # (batch..., n, k) with a shared (k, m): fold the batch into one GEMM
                rows = A.size // A.shape[-1] if A.shape[-1] else int(np.prod(A.shape[:-1]))
                gb = mm(A.reshape(rows, A.shape[-1]).T, G.reshape(rows, G.shape[-1]))
            elif A.ndim == 2:
                gb = unbroadcast(mm(A.T, G), B.shape)
            else:
                gb = unbroadcast(mm(np.swapaxes(A, -1, -2), G), B.shape)
            gb = gb.reshape(b.shape)
        return ga, gb

    def backward_graph(self, g):
        """dA = dC B^T, dB = A^T dC with recorded products (1-D operands promoted as in forward)."""
        a, b = self.parents
        a1, b1 = a.ndim == 1, b.ndim == 1
        A = reshape(a, (1,) + a.shape) if a1 else a
        B = reshape(b, b.shape + (1,)) if b1 else b
        if a1 and b1:
            G = reshape(g, (1, 1))
        elif a1:
            G = reshape(g, g.shape[:-1] + (1,) + g.shape[-1:])
        elif b1:
            G = reshape(g, g.shape + (1,))
        else:
            G = g
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = reshape(sum_to(MatMul.apply(G, B.mT), A.shape), a.shape)
        if self.needs_input_grad[1]:
            gb = reshape(sum_to(MatMul.apply(A.mT, G), B.shape), b.shape)
        return ga, gb
