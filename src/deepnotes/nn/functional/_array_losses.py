"""Losses that take NumPy arrays (and return NumPy) or Tensors (and return a Tensor with gradients):
binary cross entropy on logits, RetinaNet's sigmoid focal loss and smooth L1, with torchvision's
argument conventions.

Public as ``deepnotes.detection.binary_cross_entropy_with_logits`` / ``sigmoid_focal_loss`` /
``smooth_l1_loss`` (detection code passes plain arrays); ``deepnotes.nn.functional``'s Tensor-only
losses of the same names call them after their own argument checks.  They live here, below both, so
that the general layer never imports the detection package.
"""

from __future__ import annotations

import numpy as np

from ...ops.loss import BCEWithLogitsFn
from ...tensor import Tensor, as_tensor, where

__all__ = ["binary_cross_entropy_with_logits", "sigmoid_focal_loss", "smooth_l1_loss"]

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


def _float_pair(inputs, targets, fn, same_shape=False):
    """``same_shape``: the targets must have the inputs' shape (torch's BCE-with-logits rule); otherwise
    they only need to broadcast (torch's smooth L1)."""
    (x, t), any_tensor = _tensorize(inputs, targets, fn=fn)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{fn}: expected floating inputs, got dtype {x.data.dtype}")
    if same_shape and x.shape != t.shape:
        raise ValueError(
            f"{fn}: inputs {x.shape} and targets {t.shape} do not have the same shape "
            "(expected targets of the inputs' shape)"
        )
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
    loss = BCEWithLogitsFn.apply(x, t)
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
    ce = BCEWithLogitsFn.apply(x, t)
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
