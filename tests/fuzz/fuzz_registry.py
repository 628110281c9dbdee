"""The registry: one :class:`fuzz_harness.Entry` per public function (adding a function is one entry).

Paths are the names users type (``deepnotes.X``, ``deepnotes.nn.functional.X``,
``deepnotes.detection.X``), so every entry is public API.  The oracle defaults to the torch function of
the same name (``torch.X`` / ``torch.nn.functional.X``); detection entries name their torchvision
function or a reference loop written here from the definition.
"""

import importlib
import math
import os

import numpy as np
import torch
import torch.nn.functional as TF

from fuzz_harness import Entry

tvb = importlib.import_module("torchvision.ops.boxes")
tv_giou = importlib.import_module("torchvision.ops.giou_loss")
tv_diou = importlib.import_module("torchvision.ops.diou_loss")
tv_ciou = importlib.import_module("torchvision.ops.ciou_loss")
tv_focal = importlib.import_module("torchvision.ops.focal_loss")
tv_det_utils = importlib.import_module("torchvision.models.detection._utils")
torchvision = importlib.import_module("torchvision")
if not hasattr(torchvision, "_is_tracing"):  # clip_boxes_to_image asks it; the bare package lacks it
    torchvision._is_tracing = lambda: False

ENTRIES = []
_PREFIX = {"dn": "deepnotes", "F": "deepnotes.nn.functional", "det": "deepnotes.detection"}


def E(path, make, ref=None, **kw):
    """Register ``path`` (``dn.X``, ``F.X``, ``det.X``); ``ref`` defaults to torch's function of that name."""
    short, name = path.split(".", 1)
    if ref is None:
        ref = getattr(TF if short == "F" else torch, name)
    entry = Entry(path=f"{_PREFIX[short]}.{name}", make=make, ref=ref, **kw)
    ENTRIES.append(entry)
    return entry


def shape(g, lo_rank=1, hi_rank=3, side=4):
    """A shape whose first axis is the (possibly empty) batch."""
    return (g.batch(),) + tuple(g.int(1, side) for _ in range(g.int(lo_rank - 1, hi_rank - 1)))


def red(g):
    return g.pick(["none", "mean", "sum"])


# ============================================================================ Tensor math (deepnotes.X)
def unary(lo=-2.0, hi=2.0, away_from_zero=False):
    def make(g):
        s = shape(g)
        a = g.arr(*s, lo=lo, hi=hi)
        if away_from_zero:
            a = np.sign(a + 1e-12) * (np.abs(a) + 0.3)
        return [a], {}

    return make


for _name in [
    "abs",
    "neg",
    "exp",
    "sin",
    "cos",
    "atan",
    "tanh",
    "sigmoid",
    "square",
    "ceil",
    "floor",
    "round",
    "sign",
    "relu",
    "isnan",
    "isinf",
    "isfinite",
    "clone",
]:
    E(f"dn.{_name}", unary())
for _name in ["log", "sqrt", "rsqrt"]:
    E(f"dn.{_name}", unary(0.2, 3.0))
E("dn.reciprocal", unary(away_from_zero=True))


def binary(lo_b=-2.0, hi_b=2.0, base_positive=False):
    def make(g):
        s = shape(g)
        b_shape = g.pick([s, s[1:], (1,) + s[1:]])
        a = g.pos(*s) if base_positive else g.arr(*s)
        return [a, g.arr(*b_shape, lo=lo_b, hi=hi_b)], {}

    return make


for _name in ["add", "sub", "mul", "maximum", "minimum"]:
    E(f"dn.{_name}", binary(), floats=(0, 1))
E("dn.div", binary(0.3, 2.0), floats=(0, 1))
E("dn.pow", binary(base_positive=True), floats=(0, 1))


def _matmul(g):
    n, k, m = g.batch(), g.int(1, 4), g.int(1, 4)
    lead = g.pick([(), (g.int(1, 3),)])
    return [g.arr(*lead, n, k), g.arr(k, m)], {}


E("dn.matmul", _matmul, floats=(0, 1))
E(
    "dn.mm",
    lambda g: (lambda n, k, m: ([g.arr(n, k), g.arr(k, m)], {}))(g.batch(), g.int(1, 4), g.int(1, 4)),
    floats=(0, 1),
)
E(
    "dn.bmm",
    lambda g: (lambda b, n, k, m: ([g.arr(b, n, k), g.arr(b, k, m)], {}))(
        g.batch(), g.int(1, 3), g.int(1, 3), g.int(1, 3)
    ),
    floats=(0, 1),
)


def _where(g):
    s = shape(g)
    return [g.mask(*s), g.arr(*s), g.arr(*g.pick([s, s[1:]]))], {}


E("dn.where", _where, floats=(1, 2), ints=(0,))
E("dn.clamp", lambda g: ([g.arr(*shape(g))], {"min": -0.7, "max": g.pick([0.5, None])}))


# ----------------------------------------------------------------------------- reductions
def reduction(keepdim=True, dim_required=False, allow_tuple=False):
    def make(g):
        s = shape(g)
        kw = {}
        dims = list(range(-len(s), len(s)))
        dim = g.pick(dims) if dim_required else g.pick([None] + dims)
        if dim is not None:
            kw["dim"] = dim
            if keepdim:
                kw["keepdim"] = g.flag()
        return [g.arr(*s)], kw

    return make


for _name in ["sum", "mean", "prod", "amax", "amin", "max", "min", "argmax", "argmin", "std", "var", "norm"]:
    E(f"dn.{_name}", reduction())
for _name in ["all", "any"]:
    E(f"dn.{_name}", lambda g: ([g.mask(*shape(g))], {}), floats=(), ints=(0,))
for _name in ["softmax", "log_softmax"]:
    E(f"dn.{_name}", reduction(keepdim=False, dim_required=True))

# ----------------------------------------------------------------------------- shape and indexing


def _two_same(g):
    s = shape(g, 2)
    return s, g.arr(*s), g.arr(*s)


def _cat(g):
    s, a, b = _two_same(g)
    axis = g.int(-len(s), len(s) - 1)
    b = np.concatenate([b, b], axis=axis)
    return [[a, b]], {"dim": axis}


def _stack(g):
    s, a, b = _two_same(g)
    return [[a, b]], {"dim": g.int(-len(s) - 1, len(s))}


E("dn.cat", _cat, floats=((0, 0), (0, 1)))
E("dn.stack", _stack, floats=((0, 0), (0, 1)))


def _with_dims(g, lo_rank=2):
    s = shape(g, lo_rank)
    return s, g.arr(*s)


E("dn.flatten", lambda g: (lambda s, a: ([a], {"start_dim": g.int(0, len(s) - 1)}))(*_with_dims(g)))
E(
    "dn.transpose",
    lambda g: (lambda s, a: ([a, g.int(-len(s), len(s) - 1), g.int(-len(s), len(s) - 1)], {}))(*_with_dims(g)),
)
E("dn.permute", lambda g: (lambda s, a: ([a, tuple(g.rng.permutation(len(s)).tolist())], {}))(*_with_dims(g)))
E("dn.reshape", lambda g: (lambda s, a: ([a, g.pick([(-1,), tuple(reversed(s)), (s[0], -1)])], {}))(*_with_dims(g)))
E("dn.squeeze", lambda g: (lambda n, m: ([g.arr(n, 1, m, 1)], {"dim": g.pick([1, 3, -1, 0])}))(g.batch(), g.int(1, 3)))
E("dn.unsqueeze", lambda g: (lambda s, a: ([a, g.int(-len(s) - 1, len(s))], {}))(*_with_dims(g)))
E("dn.flip", lambda g: (lambda s, a: ([a, (g.int(0, len(s) - 1),)], {}))(*_with_dims(g)))
E("dn.unbind", lambda g: (lambda s, a: ([a, g.int(1, len(s) - 1)], {}))(*_with_dims(g)))
E("dn.chunk", lambda g: (lambda s, a: ([a, g.int(1, 3), g.int(1, len(s) - 1)], {}))(*_with_dims(g)))
E("dn.split", lambda g: (lambda s, a: ([a, g.int(1, 3), g.int(1, len(s) - 1)], {}))(*_with_dims(g)))


def _expand(g):
    n, m = g.batch(), g.int(1, 3)
    return [g.arr(n, 1, m), n, g.int(1, 3), m], {}


E("dn.expand", _expand, ref=lambda x, *sizes: x.expand(*sizes))


def _gather(g):
    n, m, k = g.batch(), g.int(1, 4), g.int(1, 4)
    dim = g.pick([1, -1])
    return [g.arr(n, m), dim, g.rng.integers(0, m, (n, k)).astype(np.int64)], {}


E("dn.gather", _gather, ints=(2,))
E("dn.masked_fill", lambda g: (lambda s: ([g.arr(*s), g.mask(*s), 0.25], {}))(shape(g)), ints=(1,))

# ----------------------------------------------------------------------------- creation
E("dn.zeros_like", unary())
E("dn.ones_like", unary())
E("dn.full_like", lambda g: ([g.arr(*shape(g)), 2.5], {}))
E("dn.tensor", unary(), ref=lambda a: a.detach().clone(), as_array=True)
E("dn.eye", lambda g: ([g.batch(0, 4), g.int(0, 4)], {}), floats=())
E("dn.arange", lambda g: ([g.batch(0, 5)], {}), floats=())
E("dn.linspace", lambda g: ([-1.0, 2.0, g.batch(1, 5)], {}), floats=(), atol=1e-6)
E("dn.full", lambda g: ([(g.batch(), g.int(1, 3)), 1.5], {}), floats=())
E("dn.zeros", lambda g: ([g.batch(), g.int(1, 3)], {}), floats=())


# ============================================================================ nn.functional
def _linear(g):
    n, i, o = g.batch(), g.int(1, 4), g.int(1, 4)
    return [g.arr(n, i), g.arr(o, i), g.arr(o)], {}


E("F.linear", _linear, floats=(0, 1, 2))


def _conv(nd):
    def make(g):
        n, groups = g.batch(), g.int(1, 2)
        c, o = groups * g.int(1, 2), groups * g.int(1, 2)
        k = g.int(1, 3)
        dil = g.int(1, 2)
        pad = g.int(0, 1)
        side = (k - 1) * dil + 1 + g.int(0, 3)
        x = g.arr(n, c, *([side] * nd))
        w = g.arr(o, c // groups, *([k] * nd))
        b = g.arr(o)
        return [x, w, b], {"stride": g.int(1, 2), "padding": pad, "dilation": dil, "groups": groups}

    return make


E("F.conv1d", _conv(1), floats=(0, 1, 2))
E("F.conv2d", _conv(2), floats=(0, 1, 2))


def _conv_t(g):
    n, groups = g.batch(), g.int(1, 2)
    c, o = groups * g.int(1, 2), groups * g.int(1, 2)
    k, stride, dil = g.int(1, 3), g.int(1, 2), g.int(1, 2)
    x = g.arr(n, c, g.int(1, 4), g.int(1, 4))
    return [x, g.arr(c, o // groups, k, k), g.arr(o)], {
        "stride": stride,
        "padding": g.int(0, (k - 1) * dil // 2),
        "output_padding": g.int(0, max(stride, dil) - 1),
        "groups": groups,
        "dilation": dil,
    }


E("F.conv_transpose2d", _conv_t, floats=(0, 1, 2))


def _image(g, c_hi=3, side_lo=2, side_hi=6):
    return g.arr(g.batch(), g.int(1, c_hi), g.int(side_lo, side_hi), g.int(side_lo, side_hi))


def _max_pool(g):
    k = g.int(1, 3)
    x = _image(g, side_lo=3)
    return [x, k], {"stride": g.int(1, 2), "padding": g.int(0, k // 2), "ceil_mode": g.flag()}


def _avg_pool(g):
    args, kw = _max_pool(g)
    kw["count_include_pad"] = g.flag()
    return args, kw


E("F.max_pool2d", _max_pool)
E("F.avg_pool2d", _avg_pool)
E("F.adaptive_avg_pool2d", lambda g: ([_image(g), (g.int(1, 3), g.int(1, 3))], {}))
E("F.adaptive_max_pool2d", lambda g: ([_image(g), (g.int(1, 3), g.int(1, 3))], {}))

for _name in ["relu", "selu", "silu", "relu6", "hardswish", "sigmoid", "tanh", "hardtanh"]:
    E(f"F.{_name}", unary(-4.0, 4.0), id=f"F.{_name}")
# torch's float64 hardsigmoid backward multiplies by a float32 1/6 (relative error 3e-8)
E("F.hardsigmoid", unary(-4.0, 4.0), id="F.hardsigmoid", rtol=1e-7)
E("F.leaky_relu", lambda g: ([g.arr(*shape(g)), g.pick([0.01, 0.2])], {}))
E("F.elu", lambda g: ([g.arr(*shape(g))], {"alpha": g.pick([1.0, 0.5])}))
E("F.celu", lambda g: ([g.arr(*shape(g))], {"alpha": g.pick([1.0, 0.5])}))
E("F.gelu", lambda g: ([g.arr(*shape(g))], {"approximate": g.pick(["none", "tanh"])}))
E("F.softplus", lambda g: ([g.arr(*shape(g), lo=-4, hi=4)], {"beta": g.pick([1.0, 2.0]), "threshold": 3.0}))
E(
    "F.prelu",
    lambda g: (lambda x: ([x, g.arr(g.pick([1, x.shape[1]]))], {}))(g.arr(g.batch(), g.int(1, 3), g.int(1, 3))),
    floats=(0, 1),
)
for _name in ["softmax", "log_softmax"]:
    E(f"F.{_name}", reduction(keepdim=False, dim_required=True), id=f"F.{_name}")


def _batch_norm(g):
    x = _image(g)
    c = x.shape[1]
    training = g.flag()
    return [x, g.arr(c), g.pos(c), g.arr(c), g.arr(c)], {"training": training, "momentum": 0.1, "eps": 1e-5}


E("F.batch_norm", _batch_norm, floats=(0, 3, 4), plain=(1, 2), atol=1e-8)


def _layer_norm(g):
    s = shape(g, 2)
    k = g.int(1, len(s) - 1)
    ns = s[-k:]
    return [g.arr(*s), ns, g.arr(*ns), g.arr(*ns)], {"eps": 1e-5}


E("F.layer_norm", _layer_norm, floats=(0, 2, 3), atol=1e-8)


def _group_norm(g):
    groups = g.int(1, 2)
    c = groups * g.int(1, 2)
    x = g.arr(g.batch(), c, g.int(2, 3), g.int(1, 3))
    return [x, groups, g.arr(c), g.arr(c)], {"eps": 1e-5}


E("F.group_norm", _group_norm, floats=(0, 2, 3), atol=1e-8)


def _instance_norm_ref(x, **kw):
    """torch 2.13 fails on a zero batch with an internal IndexError (select() on an empty tensor); an
    empty batch normalises to an empty batch, which is what the oracle returns there."""
    if x.ndim == 4 and x.shape[0] == 0:
        return x.clone()
    return TF.instance_norm(x, **kw)


E(
    "F.instance_norm",
    lambda g: (lambda x: ([x], {"weight": g.arr(x.shape[1]), "bias": g.arr(x.shape[1])}))(
        g.arr(g.batch(), g.int(1, 3), g.int(2, 4), g.int(2, 4))
    ),
    ref=_instance_norm_ref,
    floats=(0, "weight", "bias"),
    atol=1e-8,
)
E("F.dropout", lambda g: ([g.arr(*shape(g)), g.pick([0.0, 0.3])], {"training": False}))
E(
    "F.embedding",
    lambda g: (lambda v: ([g.labels(v, g.batch(), g.int(1, 3)), g.arr(v, g.int(1, 3))], {}))(g.int(1, 5)),
    floats=(1,),
    ints=(0,),
)
E(
    "F.one_hot",
    lambda g: ([g.labels(4, g.batch(), g.int(1, 3))], {"num_classes": g.pick([-1, 4, 6])}),
    floats=(),
    ints=(0,),
    id="F.one_hot",
)
E("F.pad", lambda g: ([g.arr(*shape(g, 2)), (g.int(0, 2), g.int(0, 2))], {"value": 0.5}))


def _interp(g):
    x = _image(g, side_lo=1, side_hi=5)
    mode = g.pick(["nearest", "bilinear"])
    kw = {"mode": mode}
    if g.flag():
        kw["size"] = (g.int(1, 7), g.int(1, 7))
    else:
        kw["scale_factor"] = g.pick([2.0, 0.5, 1.5])
    if mode == "bilinear":
        kw["align_corners"] = g.flag()
    return [x], kw


E("F.interpolate", _interp)


# ----------------------------------------------------------------------------- losses
def pointwise_loss(**extra):
    def make(g):
        s = shape(g)
        kw = {"reduction": red(g)}
        kw.update({k: g.pick(v) for k, v in extra.items()})
        return [g.arr(*s), g.arr(*s)], kw

    return make


E("F.mse_loss", pointwise_loss(), floats=(0, 1))
E("F.l1_loss", pointwise_loss(), floats=(0, 1))
E("F.smooth_l1_loss", pointwise_loss(beta=[1.0, 0.5]), floats=(0, 1))
E("F.huber_loss", pointwise_loss(delta=[1.0, 0.5]), floats=(0, 1))


def _bce(g):
    s = shape(g)
    return [g.arr(*s, lo=0.05, hi=0.95), g.arr(*s, lo=0.0, hi=1.0)], {"reduction": red(g)}


E("F.binary_cross_entropy", _bce, floats=(0, 1))


def _bce_logits(g):
    s = shape(g, 2)
    kw = {"reduction": red(g)}
    if g.flag():
        kw["pos_weight"] = g.pos(s[-1])
    return [g.arr(*s), g.arr(*s, lo=0.0, hi=1.0)], kw


E("F.binary_cross_entropy_with_logits", _bce_logits, floats=(0, 1), plain=("pos_weight",))


def _kl(g):
    s = shape(g, 2)
    logp = np.log(np.abs(g.arr(*s)) + 0.1)
    return [logp, g.arr(*s, lo=0.05, hi=1.0)], {"reduction": g.pick(["none", "sum", "batchmean"])}


E("F.kl_div", _kl, floats=(0, 1))


def _class_loss(g):
    n, c = g.batch(), g.int(2, 4)
    extra = (g.int(1, 3),) if g.flag() else ()
    x = g.arr(n, c, *extra)
    t = g.labels(c, n, *extra)
    kw = {"reduction": red(g)}
    if g.flag():
        kw["weight"] = g.pos(c)
    return [x, t], kw


E("F.nll_loss", _class_loss, floats=(0,), ints=(1,), plain=("weight",))
E(
    "F.cross_entropy",
    lambda g: (lambda a, k: (a, dict(k, label_smoothing=g.pick([0.0, 0.1]))))(*_class_loss(g)),
    floats=(0,),
    ints=(1,),
    plain=("weight",),
)


def _ce_probs(g):
    n, c = g.batch(), g.int(2, 4)
    p = g.pos(n, c)
    return [g.arr(n, c), p / p.sum(1, keepdims=True)], {"reduction": red(g)}


E("F.cross_entropy", _ce_probs, floats=(0, 1), id="F.cross_entropy[probs]")


def _focal(g):
    s = shape(g, 2)
    return [g.arr(*s), (g.rng.random(s) < 0.3).astype(np.float64)], {
        "alpha": g.pick([0.25, -1]),
        "gamma": g.pick([2, 0.5]),
        "reduction": red(g),
    }


E("F.sigmoid_focal_loss", _focal, ref=tv_focal.sigmoid_focal_loss, floats=(0, 1))


# ============================================================================ detection
def boxes1(g, **kw):
    return [g.boxes(g.batch())], kw


def boxes2(g):
    return [g.boxes(g.batch()), g.boxes(g.int(1, 4))], {}


# deepnotes rejects NaN/inf box coordinates with a ValueError naming the function (its documented
# contract, see deepnotes.detection.boxes), torchvision propagates them: both outcomes are accepted
_BOXES = dict(nonfinite="match_or_error")
E("det.box_area", boxes1, ref=tvb.box_area, **_BOXES)
E(
    "det.box_convert",
    lambda g: boxes1(g, in_fmt=g.pick(["xyxy", "xywh", "cxcywh"]), out_fmt=g.pick(["xyxy", "xywh", "cxcywh"])),
    ref=tvb.box_convert,
    **_BOXES,
)
for _name in ["box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou"]:
    E(f"det.{_name}", boxes2, ref=getattr(tvb, _name), floats=(0, 1), nonfinite="match_or_error")
E(
    "det.clip_boxes_to_image",
    lambda g: ([g.boxes(g.batch()), (g.int(5, 20), g.int(5, 20))], {}),
    ref=tvb.clip_boxes_to_image,
    **_BOXES,
)
E(
    "det.remove_small_boxes",
    lambda g: ([g.boxes(g.batch()), g.pick([1.0, 4.0])], {}),
    ref=tvb.remove_small_boxes,
    as_array=True,
    nonfinite="match_or_error",
)


def box_pairs(g):
    n = g.batch()
    return [g.boxes(n), g.boxes(n)], {"reduction": red(g)}


def rowwise(tv_loss):
    """torchvision's box losses index ``boxes[:, k]`` and so take only ``(N, 4)``; deepnotes documents
    ``(..., 4)`` pairs that broadcast together.  The oracle flattens the leading axes, calls torchvision, and
    restores them: the same numbers, the contract deepnotes promises."""

    def ref(boxes1, boxes2, reduction="none"):
        if boxes1.ndim < 1 or boxes2.ndim < 1 or boxes1.shape[-1] != 4 or boxes2.shape[-1] != 4:
            raise ValueError(f"{tv_loss.__name__}: boxes of shape (..., 4) expected")
        boxes1, boxes2 = torch.broadcast_tensors(boxes1, boxes2)
        out = tv_loss(boxes1.reshape(-1, 4), boxes2.reshape(-1, 4), reduction=reduction)
        return out.reshape(boxes1.shape[:-1]) if reduction == "none" else out

    return ref


E("det.generalized_box_iou_loss", box_pairs, ref=rowwise(tv_giou.generalized_box_iou_loss), floats=(0, 1), **_BOXES)
E("det.distance_box_iou_loss", box_pairs, ref=rowwise(tv_diou.distance_box_iou_loss), floats=(0, 1), **_BOXES)
E(
    "det.complete_box_iou_loss",
    box_pairs,
    ref=rowwise(tv_ciou.complete_box_iou_loss),
    floats=(0, 1),
    rtol=1e-8,
    **_BOXES,
)
E("det.sigmoid_focal_loss", _focal, ref=tv_focal.sigmoid_focal_loss, floats=(0, 1), id="det.sigmoid_focal_loss")
E(
    "det.binary_cross_entropy_with_logits",
    lambda g: (lambda s: ([g.arr(*s), g.arr(*s, lo=0, hi=1)], {"reduction": red(g)}))(shape(g)),
    ref=TF.binary_cross_entropy_with_logits,
    floats=(0, 1),
    id="det.binary_cross_entropy_with_logits",
)
E("det.smooth_l1_loss", pointwise_loss(beta=[1.0, 0.5]), ref=TF.smooth_l1_loss, floats=(0, 1), id="det.smooth_l1_loss")


# ----------------------------------------------------------------------------- NMS family
def greedy_reference(boxes, scores, thr, labels=None, metric=tvb.box_iou):
    """Greedy NMS from its definition: by decreasing score (ties: lower index), keep a box unless a kept
    box of the same label overlaps it by more than ``thr``."""
    if boxes.dtype.is_floating_point is False or scores.dtype.is_floating_point is False:
        raise TypeError("nms reference: floating-point boxes and scores expected")
    if boxes.ndim != 2 or boxes.shape[-1] != 4 or scores.shape != boxes.shape[:1]:
        raise ValueError("nms reference: boxes (N, 4) and scores (N,) expected")
    if labels is not None and labels.shape != scores.shape:
        raise ValueError("nms reference: idxs (N,) expected")
    m = metric(boxes, boxes).numpy()
    s = scores.numpy()
    order = sorted(range(len(s)), key=lambda i: (-s[i], i))
    keep = []
    for i in order:
        if all(not (m[k, i] > thr) or (labels is not None and labels[k] != labels[i]) for k in keep):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.int64)


def _nms_set(g, n=None):
    n = g.batch(1, 12) if n is None else n
    b = g.boxes(n, scale=12.0)
    return b, g.distinct_scores(n)


E(
    "det.nms",
    lambda g: (lambda b, s: ([b, s, g.pick([0.2, 0.5])], {}))(*_nms_set(g)),
    ref=greedy_reference,
    as_array=True,
    floats=(0, 1),
    nonfinite="match_or_error",
)
E(
    "det.batched_nms",
    lambda g: (lambda b, s: ([b, s, g.labels(2, len(s)), g.pick([0.2, 0.5])], {}))(*_nms_set(g)),
    ref=lambda b, s, i, t: greedy_reference(b, s, t, labels=i),
    as_array=True,
    floats=(0, 1),
    ints=(2,),
    nonfinite="match_or_error",
)
E(
    "det.diou_nms",
    lambda g: (lambda b, s: ([b, s, g.pick([0.2, 0.5])], {}))(*_nms_set(g)),
    ref=lambda b, s, t: greedy_reference(b, s, t, metric=tvb.distance_box_iou),
    as_array=True,
    floats=(0, 1),
    nonfinite="match_or_error",
)


def soft_nms_reference(boxes, scores, method="linear", sigma=0.5, iou_threshold=0.3, score_threshold=0.001):
    """Soft-NMS from its definition (Bodla et al.): pick the highest current score, rescore the rest."""
    if boxes.ndim != 2 or boxes.shape[-1] != 4 or scores.shape != boxes.shape[:1]:
        raise ValueError("soft_nms reference: boxes (N, 4) and scores (N,) expected")
    if not (boxes.dtype.is_floating_point and scores.dtype.is_floating_point):
        raise TypeError("soft_nms reference: floating-point boxes and scores expected")
    iou = tvb.box_iou(boxes, boxes).nan_to_num(0.0).numpy()
    cur = scores.numpy().astype(np.float64).copy()
    alive = [i for i in range(len(cur)) if cur[i] >= score_threshold]
    keep, kept = [], []
    while alive:
        i = max(alive, key=lambda j: (cur[j], -j))
        keep.append(i)
        kept.append(cur[i])
        alive.remove(i)
        for j in alive:
            o = iou[i, j]
            if method == "linear":
                cur[j] *= (1 - o) if o > iou_threshold else 1.0
            else:
                cur[j] *= math.exp(-o * o / sigma)
        alive = [j for j in alive if cur[j] >= score_threshold]
    return torch.tensor(keep, dtype=torch.int64), torch.tensor(kept, dtype=torch.float64)


E(
    "det.soft_nms",
    lambda g: (lambda b, s: ([b, s], {"method": g.pick(["linear", "gaussian"])}))(*_nms_set(g)),
    ref=soft_nms_reference,
    as_array=True,
    floats=(0, 1),
    nonfinite="match_or_error",
)

# ----------------------------------------------------------------------------- RoI ops and box coding


def _rois(g, n_images, H, W, scale):
    k = g.batch()
    b = g.boxes(k, scale=max(H, W) / scale)
    idx = g.rng.integers(0, n_images, (k, 1)).astype(np.float64)
    return np.concatenate([idx, b], 1)


def _roi_args(g):
    n, c, H, W = g.int(1, 2), g.int(1, 2), g.int(3, 6), g.int(3, 6)
    scale = g.pick([1.0, 0.5])
    return g.arr(n, c, H, W), _rois(g, n, H, W, scale), (g.int(1, 3), g.int(1, 3)), scale


def _roi_align_make(g):
    x, rois, out, scale = _roi_args(g)
    return [x, rois, out], {"spatial_scale": scale, "sampling_ratio": g.pick([-1, 2]), "aligned": g.flag()}


def _load_roi_references():
    """The RoI oracles of tests/detection/test_roi.py (scipy bilinear sampling and a plain loop with the
    C++ kernels' bounds rules; torchvision's pure-Python ``_roi_align`` skips the outside-sample check)."""
    path = os.path.join(os.path.dirname(__file__), "..", "detection", "test_roi.py")
    spec = importlib.util.spec_from_file_location("_roi_oracles", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ref_roi_align, module.ref_roi_pool


_ref_roi_align, _ref_roi_pool = _load_roi_references()


def _torch_roi_align(x, rois, out, spatial_scale, sampling_ratio, aligned):
    if x.ndim != 4 or rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError("roi_align reference: (N, C, H, W) input and (K, 5) boxes expected")
    if not x.dtype.is_floating_point:
        raise TypeError("roi_align reference: floating-point input expected")
    return torch.from_numpy(
        _ref_roi_align(x.detach().numpy(), rois.numpy(), out, spatial_scale, sampling_ratio, aligned)
    )


E("det.roi_align", _roi_align_make, ref=_torch_roi_align, floats=(0,), plain=(1,), grad=False)


def _torch_roi_pool(x, rois, out, spatial_scale):
    if x.ndim != 4 or rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError("roi_pool reference: (N, C, H, W) input and (K, 5) boxes expected")
    if not x.dtype.is_floating_point:
        raise TypeError("roi_pool reference: floating-point input expected")
    return torch.from_numpy(_ref_roi_pool(x.detach().numpy(), rois.numpy(), out, spatial_scale)[0])


E(
    "det.roi_pool",
    lambda g: (lambda x, r, o, s: ([x, r, o], {"spatial_scale": s}))(*_roi_args(g)),
    ref=_torch_roi_pool,
    floats=(0,),
    plain=(1,),
    grad=False,
)

_WEIGHTS = (1.0, 2.0, 0.5, 1.5)


def _dn_coder():
    from deepnotes.detection import BoxCoder

    return BoxCoder(_WEIGHTS)


class _FloatCoder(tv_det_utils.BoxCoder):
    """torchvision's BoxCoder computes integer boxes in integer arithmetic (its weights become int64, so
    0.5 truncates to 0); deepnotes promotes integer boxes to float64, as its other box ops do.  The
    oracle is torchvision's on the promoted boxes."""

    def encode_single(self, reference_boxes, proposals):
        return super().encode_single(_floated(reference_boxes), _floated(proposals))

    def decode_single(self, rel_codes, boxes):
        return super().decode_single(_floated(rel_codes), _floated(boxes))


def _floated(t):
    return t if t.dtype.is_floating_point or t.dtype == torch.bool else t.double()


_tv_coder = _FloatCoder(_WEIGHTS)
E(
    "det.BoxCoder.encode_single",
    lambda g: (lambda n: ([g.boxes(n), g.boxes(n)], {}))(g.batch()),
    fn=lambda a, b: _dn_coder().encode_single(a, b),
    ref=_tv_coder.encode_single,
    name="encode_single",
    floats=(0, 1),
    nonfinite="match_or_error",
)
E(
    "det.BoxCoder.decode_single",
    lambda g: (lambda n: ([g.arr(n, 4, lo=-1, hi=1), g.boxes(n)], {}))(g.batch()),
    fn=lambda a, b: _dn_coder().decode_single(a, b),
    ref=_tv_coder.decode_single,
    name="decode_single",
    floats=(0, 1),
    nonfinite="match_or_error",
)
