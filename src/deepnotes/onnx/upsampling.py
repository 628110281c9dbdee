"""Interpolation: every ``interpolate`` mode but 'area' (which is adaptive average pooling) is a sum of
taps along one axis at a time, exported as Gather, Mul and Add with the exact taps and weights."""

from __future__ import annotations

import numpy as np

from ..ops import upsample as _U
from .registry import register_op


@register_op(_U.Interp1dFn)
def _interp1d(g, rec, out):
    # y = sum_k w_k * x[idx_k] along one axis (every interpolate mode but 'area'): Gather, Mul, Add
    x = rec.inputs[0]
    axis = int(rec.kwargs["axis"])
    xv = g.value(x)
    bshape = [1] * x.ndim
    bshape[axis] = -1
    terms = []
    for idx, w in rec.kwargs["taps"]:
        v = g.node("Gather", [xv, g.const(np.asarray(idx, dtype=np.int64), "taps")], axis=axis)
        if w is not None:
            v = g.node("Mul", [v, g.const(np.asarray(w, dtype=x.data.dtype).reshape(bshape), "tap_weights")])
        terms.append(v)
    while len(terms) > 1:
        terms = [g.node("Add", terms[:2])] + terms[2:]
    g.node("Identity", terms, out)
