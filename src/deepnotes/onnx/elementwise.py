"""Element-wise maths, selection and dtype casts: exp/log/sqrt/abs/sin/cos/atan, max/min, where, clamp."""

from __future__ import annotations

import numpy as np

from ..ops import elementwise as _E
from ..tensor import _Cast
from .graph import one_to_one
from .registry import register_op

for _cls, _op in (
    (_E.Exp, "Exp"),
    (_E.Log, "Log"),
    (_E.Sqrt, "Sqrt"),
    (_E.Abs, "Abs"),
    (_E.Sin, "Sin"),
    (_E.Cos, "Cos"),
    (_E.Atan, "Atan"),
    (_E.Maximum, "Max"),
    (_E.Minimum, "Min"),
    (_E.Where, "Where"),
):
    register_op(_cls, one_to_one(_op))


@register_op(_E.Clamp)
def _clamp(g, rec, out):
    x = rec.inputs[0]
    dt = x.data.dtype
    lo, hi = rec.kwargs.get("min"), rec.kwargs.get("max")
    ins = [g.value(x), "" if lo is None else g.scalar(lo, dt, "min"), "" if hi is None else g.scalar(hi, dt, "max")]
    while ins[-1] == "":
        ins.pop()
    g.node("Clip", ins, out)


@register_op(_Cast)
def _cast(g, rec, out):
    to = g.helper.np_dtype_to_tensor_dtype(np.dtype(rec.kwargs["dtype"]))
    g.node("Cast", [g.value(rec.inputs[0])], out, to=to)
