"""Axis-aligned box utilities (seed 001): format conversion, area, the IoU family, clipping.

Every function accepts either a NumPy array (and returns NumPy) or a :class:`deepnotes.Tensor` (and
returns a Tensor built from differentiable Tensor operations, so gradients flow back to the boxes).
Names, arguments and formulas follow ``torchvision.ops``; unlike torchvision, malformed boxes
(``x2 < x1`` or ``y2 < y1``, negative widths/heights, NaN coordinates) raise a ``ValueError`` that names
the function and the first bad row.  Boxes of shape ``(0, 4)`` are valid and give empty results.
Functions documented for ``(..., 4)`` also take a single box ``(4,)``; the pairwise ones and NMS need
``(N, 4)`` and refuse a single box with a ``ValueError`` naming the shape.  Products of coordinates are
computed after torchvision's upcast (float16 -> float32, narrow integers -> int32), so they never
overflow or wrap around.

Formats (``fmt``):

* ``'xyxy'``   -- ``(x1, y1, x2, y2)``: top-left and bottom-right corners;
* ``'xywh'``   -- ``(x1, y1, w, h)``: top-left corner, width and height;
* ``'cxcywh'`` -- ``(cx, cy, w, h)``: centre, width and height.

Areas are continuous (``w * h``, no ``+1``), as in torchvision.
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor, get_default_dtype
from ..tensor import maximum as _t_maximum
from ..tensor import minimum as _t_minimum
from ..tensor import stack as _t_stack

__all__ = [
    "box_convert",
    "box_area",
    "box_iou",
    "generalized_box_iou",
    "distance_box_iou",
    "complete_box_iou",
    "clip_boxes_to_image",
    "remove_small_boxes",
]

_FORMATS = ("xyxy", "xywh", "cxcywh")


# --------------------------------------------------------------------------- array/Tensor helpers
def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _maximum(a, b):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return _t_maximum(a, b)
    return np.maximum(a, b)


def _minimum(a, b):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return _t_minimum(a, b)
    return np.minimum(a, b)


def _clamp_min(x, lo):
    return x.clamp(min=lo) if isinstance(x, Tensor) else np.maximum(x, np.asarray(lo, dtype=x.dtype))


def _atan(x):
    return x.atan() if isinstance(x, Tensor) else np.arctan(x)


def _stack(items, axis):
    if any(isinstance(t, Tensor) for t in items):
        return _t_stack(items, dim=axis)
    return np.stack(items, axis=axis)


def _detach(x):
    return x.detach() if isinstance(x, Tensor) else x


def _unbind(boxes):
    return boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]


def _as_boxes(boxes, fn, name="boxes", batched=False):
    """``boxes`` as a Tensor or a numeric ndarray of shape ``(..., 4)``; raise otherwise.

    ``batched=True`` is for functions that need at least one box axis, ``(N, 4)`` (or ``(..., N, 4)``):
    a single box of shape ``(4,)`` is then refused with a ``ValueError`` naming the shape.
    """
    if isinstance(boxes, Tensor):
        arr = boxes.data
    else:
        if isinstance(boxes, (str, bytes)) or boxes is None:
            raise TypeError(
                f"{fn}: expected {name} as an array or Tensor of shape (..., 4), got {type(boxes).__name__}"
            )
        try:
            arr = np.asarray(boxes)
        except (ValueError, TypeError):
            raise TypeError(f"{fn}: could not convert {name} ({type(boxes).__name__}) to a numeric array") from None
        boxes = arr
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{fn}: expected {name} with a numeric dtype, got {arr.dtype}")
    if batched and (arr.ndim < 2 or arr.shape[-1] != 4):
        raise ValueError(
            f"{fn}: expected {name} of shape (N, 4), got shape {arr.shape}"
            + (" (a single box: use boxes[None] for N = 1)" if arr.shape == (4,) else "")
        )
    if arr.ndim == 0 or arr.shape[-1] != 4:
        raise ValueError(f"{fn}: expected {name} of shape (..., 4), got shape {arr.shape}")
    return boxes


def _check_fmt(fmt, fn, arg="fmt"):
    if fmt not in _FORMATS:
        raise ValueError(f"{fn}: unknown box format {arg}={fmt!r}; expected one of {_FORMATS}")


def _first_bad(mask):
    """Index of the first True entry of a per-box mask (``()`` for the mask of a single box)."""
    idx = np.argwhere(mask)[0]
    return tuple(int(i) for i in idx) if idx.size != 1 else int(idx[0])


def _box_label(name, k, shape):
    """``boxes[3]``, ``boxes[(0, 2)]``, or ``boxes (a single box of shape (4,))``."""
    return f"{name}[{k}]" if k != () else f"{name} (a single box of shape {shape})"


def _validate(boxes, fn, name="boxes", fmt="xyxy"):
    """Raise ``ValueError`` naming ``fn`` and the first malformed row of ``boxes`` (in ``fmt``)."""
    arr = _raw(boxes)
    if arr.size == 0:
        return
    if arr.dtype.kind == "f":
        nan = np.isnan(arr).any(axis=-1)
        if nan.any():
            k = _first_bad(nan)
            raise ValueError(f"{fn}: {_box_label(name, k, arr.shape)} = {arr[k].tolist()} contains NaN")
    if fmt == "xyxy":
        bad = (arr[..., 2] < arr[..., 0]) | (arr[..., 3] < arr[..., 1])
        what = "x2 < x1 or y2 < y1; expected (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2"
    else:
        bad = (arr[..., 2] < 0) | (arr[..., 3] < 0)
        what = f"a negative width or height; expected {fmt} boxes with w >= 0 and h >= 0"
    if bad.any():
        k = _first_bad(bad)
        raise ValueError(f"{fn}: {_box_label(name, k, arr.shape)} = {arr[k].tolist()} has {what}")


def _prepare(boxes, fn, name="boxes", fmt="xyxy", batched=False):
    """The shared box check: type, dtype and shape (``(..., 4)``, or ``(N, 4)`` when ``batched``),
    then no NaN and no negative extent."""
    boxes = _as_boxes(boxes, fn, name, batched)
    _validate(boxes, fn, name, fmt)
    return boxes


def _cast(boxes, dtype):
    if _raw(boxes).dtype == dtype:
        return boxes
    return boxes.to(dtype) if isinstance(boxes, Tensor) else boxes.astype(dtype)


def _upcast(boxes):
    """Widen before coordinates are multiplied, as torchvision's ``_upcast``: float16 -> float32
    (a 256 x 256 box already overflows float16's 65504) and integers narrower than 32 bits -> int32
    (an int16 200 x 200 box would wrap to -25536); uint32 -> int64, since int32 cannot hold it."""
    dt = _raw(boxes).dtype
    if dt == np.float16:
        return _cast(boxes, np.float32)
    if dt.kind in "iu" and dt.itemsize < 4:
        return _cast(boxes, np.int32)
    if dt == np.uint32:
        return _cast(boxes, np.int64)
    return boxes


def _upcast_float(boxes):
    """Boxes in a float dtype safe for products and quotients: float16 -> float32 (torchvision's
    ``_upcast``), integers -> float64 arrays / default-float tensors, float32/float64 unchanged."""
    arr = _raw(boxes)
    if arr.dtype.kind == "f":
        return _cast(boxes, np.float32) if arr.dtype == np.float16 else boxes
    if isinstance(boxes, Tensor):
        return boxes.to(get_default_dtype())
    return arr.astype(np.float64)


# --------------------------------------------------------------------------- conversion
def _convert(boxes, in_fmt, out_fmt):
    if in_fmt == out_fmt:
        return boxes.clone() if isinstance(boxes, Tensor) else boxes.copy()
    if in_fmt == "xywh":
        x, y, w, h = _unbind(boxes)
        boxes = _stack([x, y, x + w, y + h], -1)
    elif in_fmt == "cxcywh":
        cx, cy, w, h = _unbind(boxes)
        boxes = _stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], -1)
    if out_fmt == "xyxy":
        return boxes
    x1, y1, x2, y2 = _unbind(boxes)
    if out_fmt == "xywh":
        return _stack([x1, y1, x2 - x1, y2 - y1], -1)
    return _stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], -1)


def box_convert(boxes, in_fmt, out_fmt):
    """Convert boxes of shape ``(..., 4)`` between ``'xyxy'``, ``'xywh'`` and ``'cxcywh'``.

    ``xywh -> xyxy``: ``(x, y, x + w, y + h)``; ``cxcywh -> xyxy``: ``(cx - w/2, cy - h/2, cx + w/2,
    cy + h/2)``; ``xyxy -> cxcywh``: ``((x1 + x2)/2, (y1 + y2)/2, x2 - x1, y2 - y1)``; ``xywh <-> cxcywh``
    go through ``xyxy`` (torchvision's order of operations, so results agree bit for bit).
    """
    fn = "box_convert"
    _check_fmt(in_fmt, fn, "in_fmt")
    _check_fmt(out_fmt, fn, "out_fmt")
    boxes = _prepare(boxes, fn, fmt=in_fmt)
    return _convert(boxes, in_fmt, out_fmt)


# --------------------------------------------------------------------------- area and IoU family
def box_area(boxes, fmt="xyxy"):
    """Areas of ``boxes`` ``(..., 4)`` -> ``(...)``: ``(x2 - x1) * (y2 - y1)``, or ``w * h``.

    As in torchvision, float16 boxes give float32 areas and integer boxes narrower than 32 bits give
    int32 areas (uint32: int64), so products of large coordinates neither overflow nor wrap around.
    """
    fn = "box_area"
    _check_fmt(fmt, fn)
    boxes = _prepare(boxes, fn, fmt=fmt)
    return _area(_upcast(boxes), fmt)


def _area(boxes, fmt="xyxy"):
    if fmt == "xyxy":
        return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    return boxes[..., 2] * boxes[..., 3]


def _inter_union(b1, b2):
    """Pairwise intersection and union of xyxy boxes ``(..., N, 4)`` and ``(..., M, 4)``."""
    area1 = _area(b1)
    area2 = _area(b2)
    lt = _maximum(b1[..., :, None, :2], b2[..., None, :, :2])
    rb = _minimum(b1[..., :, None, 2:], b2[..., None, :, 2:])
    wh = _clamp_min(rb - lt, 0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[..., :, None] + area2[..., None, :] - inter
    return inter, union


def _pair_prepare(boxes1, boxes2, fn, fmt="xyxy"):
    boxes1 = _prepare(boxes1, fn, "boxes1", fmt, batched=True)
    boxes2 = _prepare(boxes2, fn, "boxes2", fmt, batched=True)
    b1, b2 = _raw(boxes1), _raw(boxes2)
    try:
        np.broadcast_shapes(b1.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{fn}: batch dimensions of boxes1 {b1.shape} and boxes2 {b2.shape} do not broadcast"
        ) from None
    if fmt != "xyxy":
        boxes1 = _convert(boxes1, fmt, "xyxy")
        boxes2 = _convert(boxes2, fmt, "xyxy")
    return _upcast_float(boxes1), _upcast_float(boxes2)


def box_iou(boxes1, boxes2, fmt="xyxy"):
    """Pairwise IoU ``(..., N, M)``: ``|A n B| / |A u B|`` (``0/0`` gives NaN, as torchvision).

    ``boxes1`` ``(..., N, 4)``, ``boxes2`` ``(..., M, 4)`` in format ``fmt``.
    """
    fn = "box_iou"
    _check_fmt(fmt, fn)
    b1, b2 = _pair_prepare(boxes1, boxes2, fn, fmt)
    with np.errstate(invalid="ignore", divide="ignore"):
        inter, union = _inter_union(b1, b2)
        return inter / union


def _enclosing_wh(b1, b2):
    lti = _minimum(b1[..., :, None, :2], b2[..., None, :, :2])
    rbi = _maximum(b1[..., :, None, 2:], b2[..., None, :, 2:])
    return _clamp_min(rbi - lti, 0)


def generalized_box_iou(boxes1, boxes2):
    """Pairwise GIoU ``(..., N, M)``: ``IoU - (|C| - |A u B|) / |C|`` with C the enclosing box."""
    fn = "generalized_box_iou"
    b1, b2 = _pair_prepare(boxes1, boxes2, fn)
    with np.errstate(invalid="ignore", divide="ignore"):
        inter, union = _inter_union(b1, b2)
        iou = inter / union
        whi = _enclosing_wh(b1, b2)
        areai = whi[..., 0] * whi[..., 1]
        return iou - (areai - union) / areai


def _diou_iou(b1, b2, eps):
    inter, union = _inter_union(b1, b2)
    iou = inter / union
    whi = _enclosing_wh(b1, b2)
    diag2 = (whi[..., 0] ** 2) + (whi[..., 1] ** 2) + eps
    xp = (b1[..., 0] + b1[..., 2]) / 2
    yp = (b1[..., 1] + b1[..., 3]) / 2
    xg = (b2[..., 0] + b2[..., 2]) / 2
    yg = (b2[..., 1] + b2[..., 3]) / 2
    cdist2 = (xp[..., :, None] - xg[..., None, :]) ** 2 + (yp[..., :, None] - yg[..., None, :]) ** 2
    return iou - cdist2 / diag2, iou


def distance_box_iou(boxes1, boxes2, eps=1e-7):
    """Pairwise DIoU ``(..., N, M)``: ``IoU - rho^2(centres) / (c^2 + eps)``.

    ``rho`` is the distance between the box centres, ``c`` the diagonal of the enclosing box.
    """
    fn = "distance_box_iou"
    b1, b2 = _pair_prepare(boxes1, boxes2, fn)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _diou_iou(b1, b2, eps)[0]


def complete_box_iou(boxes1, boxes2, eps=1e-7):
    """Pairwise CIoU ``(..., N, M)``: ``DIoU - alpha v``.

    ``v = 4/pi^2 (atan(w1/h1) - atan(w2/h2))^2`` and ``alpha = v / (1 - IoU + v + eps)``, treated as a
    constant in the backward pass (torchvision computes it under ``no_grad``).
    """
    fn = "complete_box_iou"
    b1, b2 = _pair_prepare(boxes1, boxes2, fn)
    with np.errstate(invalid="ignore", divide="ignore"):
        diou, iou = _diou_iou(b1, b2, eps)
        w_pred = b1[..., :, None, 2] - b1[..., :, None, 0]
        h_pred = b1[..., :, None, 3] - b1[..., :, None, 1]
        w_gt = b2[..., None, :, 2] - b2[..., None, :, 0]
        h_gt = b2[..., None, :, 3] - b2[..., None, :, 1]
        v = (4 / (math.pi**2)) * (_atan(w_pred / h_pred) - _atan(w_gt / h_gt)) ** 2
        alpha = _detach(v / (1 - iou + v + eps))
        return diou - alpha * v


# --------------------------------------------------------------------------- clipping and filtering
def _number(v):
    """An int stays an int (integer boxes then stay integer, as in torchvision); anything else a float."""
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    return float(v)


def clip_boxes_to_image(boxes, size):
    """Clamp xyxy ``boxes`` ``(..., 4)`` into an image of ``size = (height, width)``.

    x coordinates go to ``[0, width]``, y coordinates to ``[0, height]``.
    """
    fn = "clip_boxes_to_image"
    boxes = _prepare(boxes, fn)
    try:
        height, width = (_number(v) for v in size)
    except (TypeError, ValueError):
        raise TypeError(f"clip_boxes_to_image: size must be (height, width), got {size!r}") from None
    if height < 0 or width < 0:
        raise ValueError(f"clip_boxes_to_image: size must be non-negative, got {size!r}")
    x1, y1, x2, y2 = _unbind(boxes)
    if isinstance(boxes, Tensor):
        clip_x = [t.clamp(min=0, max=width) for t in (x1, x2)]
        clip_y = [t.clamp(min=0, max=height) for t in (y1, y2)]
    else:
        clip_x = [np.clip(t, 0, width).astype(t.dtype, copy=False) for t in (x1, x2)]
        clip_y = [np.clip(t, 0, height).astype(t.dtype, copy=False) for t in (y1, y2)]
    return _stack([clip_x[0], clip_y[0], clip_x[1], clip_y[1]], -1)


def remove_small_boxes(boxes, min_size):
    """Indices (int64, ascending) of the xyxy boxes whose width and height are both ``>= min_size``."""
    fn = "remove_small_boxes"
    boxes = _prepare(boxes, fn, batched=True)
    arr = _raw(boxes)
    if arr.ndim != 2:
        raise ValueError(f"remove_small_boxes: expected boxes of shape (N, 4), got shape {arr.shape}")
    ws, hs = arr[..., 2] - arr[..., 0], arr[..., 3] - arr[..., 1]
    keep = np.flatnonzero((ws >= min_size) & (hs >= min_size)).astype(np.int64)
    return Tensor(keep) if isinstance(boxes, Tensor) else keep
