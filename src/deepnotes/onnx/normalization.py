"""Normalisation: BatchNorm (running statistics -> BatchNormalization, batch statistics ->
reductions), LayerNorm (LayerNormalization from opset 17), GroupNorm and InstanceNorm (GroupNormFn)."""

from __future__ import annotations

import numpy as np

from ..ops import norm as _N
from ..ops import normalization as _NZ
from .registry import register_op


def _channel_shape(ndim, c):
    shape = [1] * ndim
    shape[1] = c
    return shape


@register_op(_N.BatchNormFn)
def _batch_norm(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    dt = x.data.dtype
    C = x.shape[1]
    weight = rec.inputs[1] if kw["has_weight"] else None
    bias = rec.inputs[-1] if kw["has_bias"] else None
    eps = float(kw["eps"])
    if not kw["training"]:
        scale = g.value(weight) if weight is not None else g.const(np.ones(C, dt), "bn_ones")
        shift = g.value(bias) if bias is not None else g.const(np.zeros(C, dt), "bn_zeros")
        mean = g.const(np.asarray(kw["running_mean"]).astype(dt, copy=False), "running_mean")
        var = g.const(np.asarray(kw["running_var"]).astype(dt, copy=False), "running_var")
        g.node("BatchNormalization", [g.value(x), scale, shift, mean, var], out, epsilon=eps)
        return
    # batch statistics (a BatchNorm without running estimates): (x - mean) / sqrt(var + eps) * w + b
    axes = [0] + list(range(2, x.ndim))
    xv = g.value(x)
    mean = g.reduce("ReduceMean", xv, axes, True)
    centred = g.node("Sub", [xv, mean])
    var = g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axes, True)
    std = g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, dt, "eps")])])
    y = g.node("Div", [centred, std])
    cshape = g.ints(_channel_shape(x.ndim, C), "channel_shape")
    if weight is not None:
        y = g.node("Mul", [y, g.node("Reshape", [g.value(weight), cshape])])
    if bias is not None:
        y = g.node("Add", [y, g.node("Reshape", [g.value(bias), cshape])])
    g.node("Identity", [y], out)


def _normalise(g, xv, axes, eps, dtype):
    """(x - mean) / sqrt(biased var + eps) over ``axes`` (kept)."""
    mean = g.reduce("ReduceMean", xv, axes, True)
    centred = g.node("Sub", [xv, mean])
    var = g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axes, True)
    return g.node("Div", [centred, g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, dtype, "eps")])])])


@register_op(_NZ.LayerNormFn)
def _layer_norm(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    dt = x.data.dtype
    m = int(kw["m"])
    weight = rec.inputs[1] if kw["has_weight"] else None
    bias = rec.inputs[-1] if kw["has_bias"] else None
    if weight is not None:
        k = weight.ndim
    else:  # the fewest trailing dimensions holding m elements
        k, n = 0, 1
        while k < x.ndim and n != m:
            k += 1
            n *= x.shape[x.ndim - k]
    norm_shape = x.shape[x.ndim - k :]
    xv = g.value(x)
    if g.opset >= 17:
        scale = g.value(weight) if weight is not None else g.const(np.ones(norm_shape, dt), "ln_ones")
        ins = [xv, scale] + ([g.value(bias)] if bias is not None else [])
        g.node("LayerNormalization", ins, out, axis=-k if k else -1, epsilon=float(kw["eps"]))
        return
    y = _normalise(g, xv, list(range(x.ndim - k, x.ndim)), float(kw["eps"]), dt)
    if weight is not None:
        y = g.node("Mul", [y, g.value(weight)])
    if bias is not None:
        y = g.node("Add", [y, g.value(bias)])
    g.node("Identity", [y], out)


@register_op(_NZ.GroupNormFn)
def _group_norm(g, rec, out):
    # statistics per (sample, group of C / G channels): reshape to (N, G, rest), normalise, reshape back
    kw = rec.kwargs
    x = rec.inputs[0]
    dt = x.data.dtype
    C = x.shape[1]
    xv = g.value(x)
    grouped = g.node("Reshape", [xv, g.ints([0, int(kw["groups"]), -1], "group_shape")])
    y = g.node("Reshape", [_normalise(g, grouped, [2], float(kw["eps"]), dt), g.node("Shape", [xv])])
    cshape = g.ints(_channel_shape(x.ndim, C), "channel_shape")
    if kw["has_weight"]:
        y = g.node("Mul", [y, g.node("Reshape", [g.value(rec.inputs[1]), cshape])])
    if kw["has_bias"]:
        y = g.node("Add", [y, g.node("Reshape", [g.value(rec.inputs[-1]), cshape])])
    g.node("Identity", [y], out)
