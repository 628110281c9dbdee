"""Convolutions: Conv (strides, asymmetric pads, dilation, groups; Conv1d runs through it) and
ConvTranspose."""

from __future__ import annotations

from ..ops import conv as _C
from ..ops import conv_transpose as _CT
from .registry import register_op


@register_op(_C.Conv2dFn)
def _conv(g, rec, out):
    kw = rec.kwargs
    w = rec.inputs[1]
    (top, bottom), (left, right) = kw["pads"]
    g.node(
        "Conv",
        [g.value(t_) for t_ in rec.inputs],
        out,
        kernel_shape=list(w.shape[2:]),
        strides=list(kw["stride"]),
        pads=[int(top), int(left), int(bottom), int(right)],
        dilations=list(kw["dilation"]),
        group=int(kw["groups"]),
    )


@register_op(_CT.ConvTranspose2dFn)
def _conv_transpose(g, rec, out):
    kw = rec.kwargs
    w = rec.inputs[1]
    (p0, p1), (q0, q1) = kw["padding"], kw["output_padding"]
    g.node(
        "ConvTranspose",
        [g.value(t) for t in rec.inputs],
        out,
        kernel_shape=list(w.shape[2:]),
        strides=list(kw["stride"]),
        pads=[int(p0), int(p1), int(p0), int(p1)],
        output_padding=[int(q0), int(q1)],
        dilations=list(kw["dilation"]),
        group=int(kw["groups"]),
    )
