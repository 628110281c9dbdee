"""Activations: ReLU, Sigmoid, Tanh, Softmax, LogSoftmax, LeakyReLU, PReLU, ELU/SELU/CELU,
Hardtanh/ReLU6, Hardsigmoid, Hardswish, SiLU, Swish, GELU, Softplus."""

from __future__ import annotations

import math

from ..ops import activation as _Act
from ..ops import elementwise as _E
from .graph import one_to_one
from .registry import register_op
from .tracing import where

for _cls, _op in ((_E.ReLU, "Relu"), (_E.Sigmoid, "Sigmoid"), (_E.Tanh, "Tanh")):
    register_op(_cls, one_to_one(_op))


@register_op(_E.Softmax)
def _softmax(g, rec, out):
    g.node("Softmax", [g.value(rec.inputs[0])], out, axis=int(rec.kwargs["dim"]))


@register_op(_E.LogSoftmax)
def _log_softmax(g, rec, out):
    g.node("LogSoftmax", [g.value(rec.inputs[0])], out, axis=int(rec.kwargs["dim"]))


def _param(g, rec, names, position, default):
    """A scalar parameter of an activation: a keyword argument, or a constant positional input (the
    ``position``-th input tensor); a traced tensor there cannot become an attribute."""
    for n in names:
        if n in rec.kwargs:
            return rec.kwargs[n]
    if len(rec.inputs) > position:
        t = rec.inputs[position]
        if id(t) in g.names or t.data.size != 1:
            raise NotImplementedError(f"export: {where(rec)}: parameter {names[0]!r} must be a constant number")
        return t.data.reshape(()).item()
    return default


@register_op(_Act.HardswishFn)
def _hardswish(g, rec, out):
    x = g.value(rec.inputs[0])
    if g.opset >= 14:
        g.node("HardSwish", [x], out)
    else:
        g.node("Mul", [x, g.node("HardSigmoid", [x], alpha=1.0 / 6, beta=0.5)], out)


@register_op(_Act.HardsigmoidFn)
def _hardsigmoid(g, rec, out):
    g.node("HardSigmoid", [g.value(rec.inputs[0])], out, alpha=1.0 / 6, beta=0.5)


def _clip(g, rec, out, lo, hi):
    x = rec.inputs[0]
    dt = x.data.dtype
    g.node("Clip", [g.value(x), g.scalar(lo, dt, "min"), g.scalar(hi, dt, "max")], out)


@register_op(_Act.HardtanhFn)
def _hardtanh(g, rec, out):
    _clip(g, rec, out, float(_param(g, rec, ("min_val",), 1, -1.0)), float(_param(g, rec, ("max_val",), 2, 1.0)))


# x outside the closed interval [-lambd, lambd], 0 on it; the test is "inside", so NaN passes through as in
# deepnotes and torch (ONNX's Shrink would map NaN to 0)
@register_op(_Act.HardshrinkFn)
def _hardshrink(g, rec, out):
    x = rec.inputs[0]
    dt = x.data.dtype
    lambd = float(_param(g, rec, ("lambd",), 1, 0.5))
    xv = g.value(x)
    inside = g.node(
        "And",
        [
            g.node("GreaterOrEqual", [xv, g.scalar(-lambd, dt, "minus_lambd")]),
            g.node("LessOrEqual", [xv, g.scalar(lambd, dt, "lambd")]),
        ],
    )
    g.node("Where", [inside, g.scalar(0, dt, "zero"), xv], out)


@register_op(_Act.SiLUFn)
def _silu(g, rec, out):
    x = g.value(rec.inputs[0])
    g.node("Mul", [x, g.node("Sigmoid", [x])], out)


@register_op(_Act.SwishFn)
def _swish(g, rec, out):
    # x sigma(beta x); beta is a (learnable) tensor input or a keyword number
    x = rec.inputs[0]
    xv = g.value(x)
    if len(rec.inputs) > 1:
        beta = g.value(rec.inputs[1])
    else:
        beta = g.scalar(rec.kwargs.get("beta", 1.0), x.data.dtype, "beta")
    g.node("Mul", [xv, g.node("Sigmoid", [g.node("Mul", [beta, xv])])], out)


@register_op(_Act.LeakyReLUFn)
def _leaky_relu(g, rec, out):
    slope = _param(g, rec, ("negative_slope", "slope", "alpha"), 1, 0.01)
    g.node("LeakyRelu", [g.value(rec.inputs[0])], out, alpha=float(slope))


@register_op(_Act.PReLUFn)
def _prelu(g, rec, out):
    # slopes per channel (axis 1): reshaped to (C, 1, ...) so they broadcast against (N, C, ...)
    x, w = rec.inputs[0], rec.inputs[1]
    wv = g.value(w)
    if x.ndim >= 2:
        wv = g.node("Reshape", [wv, g.ints([w.data.size] + [1] * (x.ndim - 2), "slope_shape")])
    else:
        wv = g.node("Reshape", [wv, g.ints([1] if x.ndim else [], "slope_shape")])
    g.node("PRelu", [g.value(x), wv], out)


@register_op(_Act.ELUFn)
def _elu(g, rec, out):
    # scale * (x if x > 0 else alpha (exp(input_scale x) - 1)): ELU, and SELU/CELU through the scales
    alpha = float(_param(g, rec, ("alpha",), 1, 1.0))
    scale = float(_param(g, rec, ("scale",), 2, 1.0))
    input_scale = float(_param(g, rec, ("input_scale",), 3, 1.0))
    x = rec.inputs[0]
    xv = g.value(x)
    if scale == 1.0 and input_scale == 1.0:
        g.node("Elu", [xv], out, alpha=alpha)
        return
    dt = x.data.dtype
    neg = g.node("Mul", [g.node("Min", [xv, g.scalar(0, dt, "zero")]), g.scalar(input_scale, dt, "input_scale")])
    neg = g.node(
        "Mul",
        [g.node("Sub", [g.node("Exp", [neg]), g.scalar(1, dt, "one")]), g.scalar(alpha * scale, dt, "alpha_scale")],
    )
    pos = g.node("Mul", [xv, g.scalar(scale, dt, "scale")])
    g.node("Where", [g.node("Greater", [xv, g.scalar(0, dt, "zero")]), pos, neg], out)


@register_op(_Act.SoftplusFn)
def _softplus(g, rec, out):
    beta = float(_param(g, rec, ("beta",), 1, 1.0))
    threshold = float(_param(g, rec, ("threshold",), 2, 20.0))
    x = rec.inputs[0]
    dt = x.data.dtype
    xv = g.value(x)
    bx = g.node("Mul", [xv, g.scalar(beta, dt, "beta")]) if beta != 1 else xv
    sp = g.node("Softplus", [bx])
    if beta != 1:
        sp = g.node("Div", [sp, g.scalar(beta, dt, "beta")])
    # torch reverts to the identity where beta * x > threshold
    cond = g.node("Greater", [bx, g.scalar(threshold, dt, "threshold")])
    g.node("Where", [cond, xv, sp], out)


@register_op(_Act.GELUFn)
def _gelu(g, rec, out):
    approximate = rec.kwargs.get("approximate", "none")
    x = rec.inputs[0]
    dt = x.data.dtype
    xv = g.value(x)
    if g.opset >= 20:
        g.node("Gelu", [xv], out, approximate=str(approximate))
        return
    half = g.scalar(0.5, dt, "half")
    one = g.scalar(1.0, dt, "one")
    if approximate == "tanh":
        c = g.scalar(math.sqrt(2 / math.pi), dt, "sqrt_2_over_pi")
        x3 = g.node("Mul", [g.node("Mul", [xv, xv]), xv])
        inner = g.node("Mul", [c, g.node("Add", [xv, g.node("Mul", [x3, g.scalar(0.044715, dt, "c")])])])
        t = g.node("Tanh", [inner])
    else:
        t = g.node("Erf", [g.node("Div", [xv, g.scalar(math.sqrt(2.0), dt, "sqrt2")])])
    g.node("Mul", [g.node("Mul", [xv, half]), g.node("Add", [one, t])], out)
