"""Detection losses (seeds 001, 002): IoU-family box losses, sigmoid focal loss and smooth L1.

Each loss takes NumPy arrays (returns NumPy) or :class:`deepnotes.Tensor` objects (returns a Tensor with
gradients).  Formulas, defaults and reductions follow ``torchvision.ops`` and ``torch.nn.functional``.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function, unbroadcast
from ..tensor import Tensor, as_tensor, where
from .boxes import _maximum, _minimum, _prepare, _raw, _upcast_float

__all__ = ["generalized_box_iou_loss", "distance_box_iou_loss", "complete_box_iou_loss",
           "sigmoid_focal_loss", "smooth_l1_loss", "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction, fn):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: invalid reduction={reduction!r}; expected one of {_REDUCTIONS}")


def _tensorize(*xs, fn="tensor"):
    """Tensors for the computation, and whether the caller passed any Tensor (else return NumPy)."""
    any_tensor = any(isinstance(x, Tensor) for x in xs)
    out = []
    for x in xs:
        if not isinstance(x, Tensor):
            arr = np.asarray(x)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{fn}: expected an array or Tensor of numbers, got {type(x).__name__}")
            x = as_tensor(arr)
        out.append(x)
    return out, any_tensor


def _finish(loss, any_tensor):
    return loss if any_tensor else loss.data


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
        raise ValueError(f"{fn}: boxes1 {_raw(boxes1).shape} and boxes2 {_raw(boxes2).shape} must have "
                         "the same (or broadcastable) shapes; the loss is elementwise") from None
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
    v = (4 / (math.pi ** 2)) * (((x2g - x1g) / (y2g - y1g)).atan() - ((x2 - x1) / (y2 - y1)).atan()) ** 2
    alpha = (v / (1 - iou + v + eps)).detach()
    loss = diou_loss + alpha * v
    return _finish(_reduce_box_loss(loss, reduction), any_tensor)


# --------------------------------------------------------------------------- classification losses
class _BCEWithLogits(Function):
    """``(1 - t) x - min(x, 0) + log(1 + exp(-|x|))`` (= ``(1 - t) x - log sigmoid(x)``, grouped as torch
    groups it, so infinite logits or targets give torch's inf/NaN); d/dx = sigmoid(x) - t, d/dt = -x."""

    def forward(self, x, t):
        self.x, self.t = x, t
        return (1 - t) * x - np.minimum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    def backward(self, g):
        x, t = self.x, self.t
        gx = gt = None
        if self.needs_input_grad[0]:
            e = np.exp(-np.abs(x))
            sig = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
            gx = unbroadcast(g * (sig - t), x.shape)
        if self.needs_input_grad[1]:
            gt = unbroadcast(-g * x, t.shape)
        return gx, gt


def _float_pair(inputs, targets, fn, same_shape=False):
    """``same_shape``: the targets must have the inputs' shape (torch's BCE-with-logits rule); otherwise
    they only need to broadcast (torch's smooth L1)."""
    (x, t), any_tensor = _tensorize(inputs, targets, fn=fn)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{fn}: expected floating inputs, got dtype {x.data.dtype}")
    if same_shape and x.shape != t.shape:
        raise ValueError(f"{fn}: inputs {x.shape} and targets {t.shape} do not have the same shape "
                         "(expected targets of the inputs' shape)")
    try:
        np.broadcast_shapes(x.shape, t.shape)
    except ValueError:
        raise ValueError(f"{fn}: inputs {x.shape} and targets {t.shape} do not broadcast") from None
    if t.data.dtype != x.data.dtype:
        t = t.to(x.data.dtype)
    return x, t, any_tensor


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """``max(x, 0) - x t + log(1 + exp(-|x|))``, exact for logits of any magnitude."""
    fn = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, fn)
    x, t, any_tensor = _float_pair(input, target, fn, same_shape=True)
    loss = _BCEWithLogits.apply(x, t)
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss
    return _finish(loss, any_tensor)


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """RetinaNet's focal loss: ``alpha_t (1 - p_t)^gamma BCE(x, t)`` elementwise.

    ``p = sigmoid(x)``, ``p_t = p t + (1 - p)(1 - t)``, ``alpha_t = alpha t + (1 - alpha)(1 - t)``
    (no weighting when ``alpha = -1``).  Matches ``torchvision.ops.sigmoid_focal_loss``.
    """
    fn = "sigmoid_focal_loss"
    if not (0 <= alpha <= 1) and alpha != -1:
        raise ValueError(f"{fn}: alpha must be in [0, 1] or -1 (no weighting), got {alpha!r}")
    _check_reduction(reduction, fn)
    x, t, any_tensor = _float_pair(inputs, targets, fn, same_shape=True)
    p = x.sigmoid()
    ce = _BCEWithLogits.apply(x, t)
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** gamma) if gamma != 0 else ce
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss
    return _finish(loss, any_tensor)


def smooth_l1_loss(input, target, beta=1.0, reduction="mean"):
    """Huber-style loss of ``d = input - target``: ``0.5 d^2 / beta`` if ``|d| < beta`` else
    ``|d| - 0.5 beta`` (plain L1 when ``beta == 0``), as ``torch.nn.functional.smooth_l1_loss``."""
    fn = "smooth_l1_loss"
    _check_reduction(reduction, fn)
    if beta < 0:
        raise ValueError(f"{fn}: beta must be non-negative, got {beta!r}")
    x, t, any_tensor = _float_pair(input, target, fn)
    d = x - t
    ad = d.abs()
    if beta == 0:
        loss = ad
    else:
        loss = where(ad.data < beta, 0.5 * d * d / beta, ad - 0.5 * beta)
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss
    return _finish(loss, any_tensor)
