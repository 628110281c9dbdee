"""Attention's softmax: a softmax over the last axis that gives zeros for a row masked entirely."""

from __future__ import annotations

from ..ops.attention import _AttnSoftmax
from .registry import register_op


@register_op(_AttnSoftmax)
def _attn_softmax(g, rec, out):
    # softmax over the last axis; with safe=True a row whose scores are all -inf gives zeros
    x = rec.inputs[0]
    xv = g.value(x)
    axis = x.ndim - 1
    if not rec.kwargs.get("safe", True):
        g.node("Softmax", [xv], out, axis=axis)
        return
    y = g.node("Softmax", [xv], axis=axis)
    dead = g.node("IsInf", [g.reduce("ReduceMax", xv, [axis], True)], detect_positive=0)
    g.node("Where", [dead, g.scalar(0, x.data.dtype, "zero"), y], out)
