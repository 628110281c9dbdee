"""Arithmetic primitives: + - * / ** neg and matrix products, one ONNX node each."""

from __future__ import annotations

from ..ops import arithmetic as _A
from .graph import one_to_one
from .registry import register_op

for _cls, _op in (
    (_A.Add, "Add"),
    (_A.Sub, "Sub"),
    (_A.Mul, "Mul"),
    (_A.Div, "Div"),
    (_A.Pow, "Pow"),
    (_A.Neg, "Neg"),
    (_A.MatMul, "MatMul"),
):
    register_op(_cls, one_to_one(_op))
