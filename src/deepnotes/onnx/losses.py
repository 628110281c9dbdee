"""Loss primitives whose inputs are both traced tensors: binary cross entropy on probabilities and on
logits, and t log t (KL divergence).

The class-index losses (cross entropy, NLL, softmax focal) pick their classes with indices prepared in
NumPy, and the Huber / smooth L1 losses choose their branch with a NumPy comparison: those values are
computed outside the traced primitives, so ``export`` reports them instead of freezing them.
"""

from __future__ import annotations

from ..ops.loss import BCEWithLogitsFn, _BinaryCrossEntropy, _XLogX
from .registry import register_op


# l = -(t max(log x, -100) + (1 - t) max(log(1 - x), -100)), torch's clamped logs
@register_op(_BinaryCrossEntropy)
def _binary_cross_entropy(g, rec, out):
    x, t = rec.inputs
    dt = x.data.dtype
    xv, tv = g.value(x), g.value(t)
    one, floor = g.scalar(1, dt, "one"), g.scalar(-100, dt, "log_floor")
    log_x = g.node("Max", [g.node("Log", [xv]), floor])
    log_not_x = g.node("Max", [g.node("Log", [g.node("Sub", [one, xv])]), floor])
    total = g.node("Add", [g.node("Mul", [tv, log_x]), g.node("Mul", [g.node("Sub", [one, tv]), log_not_x])])
    g.node("Neg", [total], out)


# l = (1 - t) x - min(x, 0) + log(1 + exp(-|x|)), the overflow-free form of (1 - t) x - log sigmoid(x)
@register_op(BCEWithLogitsFn)
def _bce_with_logits(g, rec, out):
    x, t = rec.inputs
    dt = x.data.dtype
    xv, tv = g.value(x), g.value(t)
    one = g.scalar(1, dt, "one")
    linear = g.node(
        "Sub", [g.node("Mul", [g.node("Sub", [one, tv]), xv]), g.node("Min", [xv, g.scalar(0, dt, "zero")])]
    )
    soft = g.node("Log", [g.node("Add", [one, g.node("Exp", [g.node("Neg", [g.node("Abs", [xv])])])])])
    g.node("Add", [linear, soft], out)


# t log t with 0 log 0 = 0
@register_op(_XLogX)
def _xlogx(g, rec, out):
    t = rec.inputs[0]
    zero = g.scalar(0, t.data.dtype, "zero")
    tv = g.value(t)
    g.node("Where", [g.node("Equal", [tv, zero]), zero, g.node("Mul", [tv, g.node("Log", [tv])])], out)
