"""Shape primitives: reshape/flatten, expand, permute/transpose, cat/stack, pad, clone."""

from __future__ import annotations

from ..ops import shape as _S
from .graph import one_to_one
from .registry import register_op
from .tracing import where

register_op(_S.Clone, one_to_one("Identity"))


@register_op(_S.Reshape, varying_kwargs=("shape",))
def _reshape(g, rec, out):
    rb = g.recs_b[g.position]
    oa, ob = list(rec.out.shape), list(rb.out.shape)
    if len(oa) != len(ob):
        raise ValueError(
            f"export: {where(rec)} gives outputs of different ranks for the example input "
            f"{tuple(oa)} and a batch of another size {tuple(ob)}; export with "
            "dynamic_batch=False"
        )
    varying = [i for i in range(len(oa)) if oa[i] != ob[i]]
    allowzero = 1 if 0 in oa and not varying else None
    if len(varying) == 1 and g.batch is not None:
        dims = list(oa)
        dims[varying[0]] = -1
        shape = g.ints(dims, "shape")
    else:
        shape = g.shape_tensor(oa, ob, f"the reshape target of {where(rec)}")
    if allowzero and g.opset >= 14:
        g.node("Reshape", [g.value(rec.inputs[0]), shape], out, allowzero=1)
    else:
        g.node("Reshape", [g.value(rec.inputs[0]), shape], out)


@register_op(_S.Expand, varying_kwargs=("shape",))
def _expand(g, rec, out):
    # ONNX Expand broadcasts both ways, so a 1 keeps every dimension the input already has
    rb = g.recs_b[g.position]
    ta, tb = list(rec.out.shape), list(rb.out.shape)
    sa, sb = rec.inputs[0].shape, rb.inputs[0].shape
    lead = len(ta) - len(sa)
    dims_a, dims_b = [], []
    for i in range(len(ta)):
        j = i - lead
        if j >= 0 and sa[j] == ta[i] and sb[j] == tb[i]:
            dims_a.append(1)
            dims_b.append(1)
        else:
            dims_a.append(ta[i])
            dims_b.append(tb[i])
    g.node("Expand", [g.value(rec.inputs[0]), g.shape_tensor(dims_a, dims_b, f"the shape of {where(rec)}")], out)


@register_op(_S.Permute)
def _permute(g, rec, out):
    g.node("Transpose", [g.value(rec.inputs[0])], out, perm=[int(d) for d in rec.kwargs["dims"]])


@register_op(_S.Cat)
def _cat(g, rec, out):
    g.node("Concat", [g.value(t) for t in rec.inputs], out, axis=int(rec.kwargs["dim"]))


@register_op(_S.Stack)
def _stack(g, rec, out):
    d = int(rec.kwargs["dim"])
    parts = [g.unsqueeze(g.value(t), [d]) for t in rec.inputs]
    g.node("Concat", parts, out, axis=d)


@register_op(_S.Pad)
def _pad(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    width = kw["pad_width"]
    mode = kw.get("mode", "constant")
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    if onnx_mode == "wrap" and g.opset < 19:
        raise NotImplementedError(f"export: circular padding ({where(rec)}) needs opset_version >= 19, got {g.opset}")
    pads = g.ints([int(b) for b, _ in width] + [int(e) for _, e in width], "pads")
    ins = [g.value(x), pads]
    if onnx_mode == "constant":
        ins.append(g.scalar(kw.get("value", 0.0), x.data.dtype, "pad_value"))
    g.node("Pad", ins, out, mode=onnx_mode)
