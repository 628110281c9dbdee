"""Reductions: sum, mean (GlobalAveragePool over H, W), amax/amin, prod, var/std, max/min along a dim."""

from __future__ import annotations

import numpy as np

from ..ops import reduction as _R
from .registry import register_op
from .tracing import where


def _reducer(op_type):
    def tr(g, rec, out):
        axes, keepdim = rec.kwargs["axes"], rec.kwargs["keepdim"]
        x = rec.inputs[0]
        if not axes:
            g.node("Identity", [g.value(x)], out)
        elif op_type == "ReduceMean" and x.ndim == 4 and tuple(axes) == (2, 3) and keepdim:
            g.node("GlobalAveragePool", [g.value(x)], out)
        else:
            g.reduce(op_type, g.value(x), axes, keepdim, out)

    return tr


register_op(_R.Sum, _reducer("ReduceSum"))
register_op(_R.Mean, _reducer("ReduceMean"))
register_op(_R.AMax, _reducer("ReduceMax"))
register_op(_R.AMin, _reducer("ReduceMin"))


@register_op(_R.Prod)
def _prod(g, rec, out):
    g.reduce("ReduceProd", g.value(rec.inputs[0]), [rec.kwargs["axis"]], rec.kwargs["keepdim"], out)


@register_op(_R.Var)
def _var(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    axes = list(kw["axes"])
    n = 1
    for a in axes:
        n *= x.shape[a]
    xv = g.value(x)
    mean = g.reduce("ReduceMean", xv, axes, True)
    c = g.node("Sub", [xv, mean])
    s = g.reduce("ReduceSum", g.node("Mul", [c, c]), axes, kw["keepdim"])
    denom = np.asarray(max(n - kw["correction"], 0), dtype=x.data.dtype)
    g.node("Div", [s, g.const(denom, "denominator")], out)


def _minmax_dim(largest):
    def tr(g, rec, out):
        g.reduce(
            "ReduceMax" if largest else "ReduceMin",
            g.value(rec.inputs[0]),
            [rec.kwargs["dim"]],
            rec.kwargs["keepdim"],
            out,
        )

    return tr


register_op(_R.MaxDim, _minmax_dim(True))
register_op(_R.MinDim, _minmax_dim(False))


@register_op(_R.SelectDim, varying_kwargs=("index",))
def _select_dim(g, rec, out):
    # max(dim)/min(dim) values: the index is an arg-max/arg-min computed outside the primitive; it is
    # exported as the reduction it stands for, after checking that in both traces
    kw = rec.kwargs
    kinds = []
    for r in (rec, g.recs_b[g.position]):
        x = r.inputs[0].data
        picked = np.take_along_axis(x, r.kwargs["index"], axis=r.kwargs["dim"])
        kinds.append(
            "max"
            if np.array_equal(picked, x.max(axis=r.kwargs["dim"], keepdims=True))
            else "min"
            if np.array_equal(picked, x.min(axis=r.kwargs["dim"], keepdims=True))
            else None
        )
    if kinds[0] is None or kinds[0] != kinds[1]:
        raise NotImplementedError(
            f"export: {where(rec)} selects elements by an index computed outside "
            "the traced primitives; only max(dim)/min(dim) selections are exported"
        )
    g.reduce("ReduceMax" if kinds[0] == "max" else "ReduceMin", g.value(rec.inputs[0]), [kw["dim"]], kw["keepdim"], out)
