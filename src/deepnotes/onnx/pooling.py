"""Pooling: MaxPool/AveragePool (padding, dilation, ceil_mode, count_include_pad, divisor_override),
adaptive average pooling along one axis (a MatMul with the bin matrix) and adaptive max pooling."""

from __future__ import annotations

import numpy as np

from ..ops import pool as _P
from .registry import register_op


def _pool_end_pads(x, out, kernel, stride, padding, dilation):
    """Bottom/right padding that makes ONNX's floor-mode output size equal the traced one (torch's
    ceil_mode adds windows that start inside the input; the extra rows never hold a window's maximum
    nor enter an average's divisor)."""
    ends = []
    for i in range(2):
        size, n_out = x.shape[2 + i], out.shape[2 + i]
        need = (n_out - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
        ends.append(max(need - size - padding[i], 0))
    return ends


@register_op(_P.MaxPool2dFn)
def _max_pool(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    k, s, p, d = kw["kernel"], kw["stride"], kw["padding"], kw["dilation"]
    ends = _pool_end_pads(x, rec.out, k, s, p, d)
    g.node(
        "MaxPool",
        [g.value(x)],
        out,
        kernel_shape=list(k),
        strides=list(s),
        pads=[int(p[0]), int(p[1]), int(ends[0]), int(ends[1])],
        dilations=list(d),
    )


@register_op(_P.AdaptiveAvg1dFn)
def _adaptive_avg_1d(g, rec, out):
    # mean over torch's adaptive bins along one of the last two axes: a MatMul with the averaging matrix
    x = rec.inputs[0]
    axis = int(rec.kwargs["axis"])
    m = _P.adaptive_matrix(x.shape[axis], int(rec.kwargs["out"]), x.data.dtype)
    if axis == x.ndim - 1:
        g.node("MatMul", [g.value(x), g.const(np.ascontiguousarray(m.T), "adaptive_avg")], out)
    else:
        g.node("MatMul", [g.const(m, "adaptive_avg"), g.value(x)], out)


@register_op(_P.AvgPool2dFn)
def _avg_pool(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    k, s, p = kw["kernel"], kw["stride"], kw["padding"]
    xv = g.value(x)
    if kw.get("divisor_override"):
        # sum over each window / divisor_override; every window lies inside the padded tensor, so an
        # average with count_include_pad=1 divides by exactly kh * kw
        ends = _pool_end_pads(x, rec.out, k, s, p, (1, 1))
        avg = g.node(
            "AveragePool",
            [xv],
            kernel_shape=list(k),
            strides=list(s),
            count_include_pad=1,
            pads=[int(p[0]), int(p[1]), int(ends[0]), int(ends[1])],
        )
        ratio = np.asarray(k[0] * k[1] / float(kw["divisor_override"]), dtype=x.data.dtype)
        g.node("Mul", [avg, g.const(ratio, "divisor")], out)
        return
    if kw["count_include_pad"] and (p[0] or p[1]):
        # torch counts the zero padding but not the ceil_mode overhang: pad explicitly with zeros,
        # then average with count_include_pad=0 over the padded tensor
        pads = g.ints([0, 0, p[0], p[1], 0, 0, p[0], p[1]], "pads")
        xv = g.node("Pad", [xv, pads, g.scalar(0, x.data.dtype, "zero")], mode="constant")
        shape = (x.shape[0], x.shape[1], x.shape[2] + 2 * p[0], x.shape[3] + 2 * p[1])
        ends = _pool_end_pads(_Shape(shape), rec.out, k, s, (0, 0), (1, 1))
        begins = [0, 0]
    else:
        ends = _pool_end_pads(x, rec.out, k, s, p, (1, 1))
        begins = [int(p[0]), int(p[1])]
    g.node(
        "AveragePool",
        [xv],
        out,
        kernel_shape=list(k),
        strides=list(s),
        count_include_pad=0,
        pads=begins + [int(ends[0]), int(ends[1])],
    )


class _Shape:
    def __init__(self, shape):
        self.shape = shape


@register_op(_P.AdaptiveMaxPool2dFn)
def _adaptive_max_pool(g, rec, out):
    # torch's bins [floor(i H / oh), ceil((i + 1) H / oh)), shorter bins padded by repeating their last
    # row/column (harmless for a maximum): gather rows and columns, then ReduceMax over each bin
    x = rec.inputs[0]
    oh, ow = rec.kwargs["output_size"]
    xv = g.value(x)
    dims = []
    for axis, (size, n) in enumerate(((x.shape[2], oh), (x.shape[3], ow)), start=2):
        i = np.arange(n)
        start, end = (i * size) // n, -(-((i + 1) * size) // n)
        k = int((end - start).max())
        idx = np.minimum(start[:, None] + np.arange(k), end[:, None] - 1)
        xv = g.node("Gather", [xv, g.const(idx.reshape(-1).astype(np.int64), "bins")], axis=axis)
        dims += [int(n), k]
    grouped = g.node("Reshape", [xv, g.ints([0, 0] + dims, "bin_shape")])
    g.reduce("ReduceMax", grouped, [3, 5], False, out)
