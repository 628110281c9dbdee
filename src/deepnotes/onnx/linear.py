"""Fully connected layers: Gemm for 2-D inputs, MatMul (+ Add) beyond."""

from __future__ import annotations

from ..ops import linear as _L
from .registry import register_op


@register_op(_L.LinearFn)
def _linear(g, rec, out):
    x, w = rec.inputs[0], rec.inputs[1]
    b = rec.inputs[2] if len(rec.inputs) > 2 else None
    if x.ndim == 2:
        ins = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
        g.node("Gemm", ins, out, transB=1)
        return
    wt = g.node("Transpose", [g.value(w)], hint="weight_t", perm=[1, 0])
    if b is None:
        g.node("MatMul", [g.value(x), wt], out)
    else:
        y = g.node("MatMul", [g.value(x), wt])
        g.node("Add", [y, g.value(b)], out)
