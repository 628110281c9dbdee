"""Detection losses (seeds 001, 002): IoU-family box losses, sigmoid focal loss and smooth L1.

Each loss takes NumPy arrays (returns NumPy) or :class:`deepnotes.Tensor` objects (returns a Tensor with
gradients).  Formulas, defaults and reductions follow ``torchvision.ops`` and ``torch.nn.functional``.
The classification losses (sigmoid focal, smooth L1, BCE with logits) are general, so they live below
this package in :mod:`deepnotes.nn.functional._array_losses` and are re-exported here.
"""

from __future__ import annotations

import math

import numpy as np

from ..nn.functional._array_losses import (
    _check_reduction,
    _finish,
    _tensorize,
    binary_cross_entropy_with_logits,
    sigmoid_focal_loss,
    smooth_l1_loss,
)
from ..tensor import where
from .boxes import _maximum, _minimum, _prepare, _raw, _upcast_float

__all__ = [
    "generalized_box_iou_loss",
    "distance_box_iou_loss",
    "complete_box_iou_loss",
    "sigmoid_focal_loss",
    "smooth_l1_loss",
    "binary_cross_entropy_with_logits",
]


def _reduce_box_loss(loss, reduction):
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    if reduction == "sum":
        return loss.sum()
    return loss


def _box_pair(boxes1, boxes2, fn):
    boxes1 = _upcast_float(_prepare(boxes1, fn, "boxes1"))
    boxes2 = _upcast_float(_prepare(boxes2, fn, "boxes2"))
    try:
        np.broadcast_shapes(_raw(boxes1).shape, _raw(boxes2).shape)
    except ValueError:
        raise ValueError(
            f"{fn}: boxes1 {_raw(boxes1).shape} and boxes2 {_raw(boxes2).shape} must have "
            "the same (or broadcastable) shapes; the loss is elementwise"
        ) from None
    (b1, b2), any_tensor = _tensorize(boxes1, boxes2, fn=fn)
    return b1, b2, any_tensor


def _unbind(b):
    return b[..., 0], b[..., 1], b[..., 2], b[..., 3]


def _loss_inter_union(b1, b2):
    x1, y1, x2, y2 = _unbind(b1)
    x1g, y1g, x2g, y2g = _unbind(b2)
    xk1, yk1 = _maximum(x1, x1g), _maximum(y1, y1g)
    xk2, yk2 = _minimum(x2, x2g), _minimum(y2, y2g)
    mask = (yk2.data > yk1.data) & (xk2.data > xk1.data)
    inter = where(mask, (xk2 - xk1) * (yk2 - yk1), 0.0)
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    return inter, union


def _enclosing(b1, b2):
    x1, y1, x2, y2 = _unbind(b1)
    x1g, y1g, x2g, y2g = _unbind(b2)
    return _minimum(x1, x1g), _minimum(y1, y1g), _maximum(x2, x2g), _maximum(y2, y2g)


def generalized_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """``1 - GIoU`` per box pair: ``1 - (I/(U + eps) - (C - U)/(C + eps))`` for xyxy boxes ``(..., 4)``.

    ``I`` intersection, ``U`` union, ``C`` the area of the smallest enclosing box.
    """
    fn = "generalized_box_iou_loss"
    _check_reduction(reduction, fn)
    b1, b2, any_tensor = _box_pair(boxes1, boxes2, fn)
    inter, union = _loss_inter_union(b1, b2)
    iou = inter / (union + eps)
    xc1, yc1, xc2, yc2 = _enclosing(b1, b2)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    loss = 1 - (iou - (area_c - union) / (area_c + eps))
    return _finish(_reduce_box_loss(loss, reduction), any_tensor)


def _diou_iou_loss(b1, b2, eps):
    inter, union = _loss_inter_union(b1, b2)
    iou = inter / (union + eps)
    xc1, yc1, xc2, yc2 = _enclosing(b1, b2)
    diag2 = (xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + eps
    x1, y1, x2, y2 = _unbind(b1)
    x1g, y1g, x2g, y2g = _unbind(b2)
    cdist2 = ((x2 + x1) / 2 - (x1g + x2g) / 2) ** 2 + ((y2 + y1) / 2 - (y1g + y2g) / 2) ** 2
    return 1 - iou + cdist2 / diag2, iou


def distance_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """``1 - IoU + rho^2 / (c^2 + eps)`` per box pair (torchvision's DIoU loss, IoU = I/(U + eps)).

    ``rho`` is the distance between box centres and ``c`` the diagonal of the enclosing box.
    """
    fn = "distance_box_iou_loss"
    _check_reduction(reduction, fn)
    b1, b2, any_tensor = _box_pair(boxes1, boxes2, fn)
    loss, _ = _diou_iou_loss(b1, b2, eps)
    return _finish(_reduce_box_loss(loss, reduction), any_tensor)


def complete_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """DIoU loss ``+ alpha v`` per box pair (torchvision's CIoU loss).

    ``v = 4/pi^2 (atan(w_gt/h_gt) - atan(w/h))^2``, ``alpha = v / (1 - IoU + v + eps)`` held constant
    in the backward pass.  As in torchvision, the DIoU part always uses ``eps = 1e-7``.
    """
    fn = "complete_box_iou_loss"
    _check_reduction(reduction, fn)
    b1, b2, any_tensor = _box_pair(boxes1, boxes2, fn)
    diou_loss, iou = _diou_iou_loss(b1, b2, 1e-7)
    x1, y1, x2, y2 = _unbind(b1)
    x1g, y1g, x2g, y2g = _unbind(b2)
    v = (4 / (math.pi**2)) * (((x2g - x1g) / (y2g - y1g)).atan() - ((x2 - x1) / (y2 - y1)).atan()) ** 2
    alpha = (v / (1 - iou + v + eps)).detach()
    loss = diou_loss + alpha * v
    return _finish(_reduce_box_loss(loss, reduction), any_tensor)
