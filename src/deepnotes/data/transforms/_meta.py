"""Type and box-bookkeeping transforms: ToImage, ToDtype, ConvertBoundingBoxFormat,
ClampBoundingBoxes and SanitizeBoundingBoxes (torchvision v2 semantics)."""

from __future__ import annotations

import collections.abc

import numpy as np

from .. import tv_tensors as tvt
from . import functional as F
from ._transform import Transform, _flatten, _unflatten
from .functional._meta import _sanitize_mask
from .functional._utils import _is_tensor, _kind, is_pure_image

__all__ = ["ToImage", "ToDtype", "ConvertBoundingBoxFormat", "ClampBoundingBoxes", "SanitizeBoundingBoxes"]


class ToImage(Transform):
    """The sample's image as an :class:`~deepnotes.data.tv_tensors.Image`: a NumPy array is read as
    ``(H, W, C)`` (image files' layout) and made channels first; a Tensor is taken as channels first."""

    def _needs_transform_list(self, flat):
        needs, found = [], any(isinstance(x, tvt.Image) for x in flat)
        for x in flat:
            take = not found and is_pure_image(x)
            found = found or take
            needs.append(take)
        return needs

    def check_inputs(self, flat_inputs):
        pass

    def transform(self, inpt, params):
        return F.to_image(inpt)


class ToDtype(Transform):
    """Convert dtypes.  A single dtype converts images only (``scale=True`` maps uint8 [0, 255] <-> float
    [0, 1]); a dict maps types (``Image``, ``Mask``, ``BoundingBoxes``, ``"others"``) to dtypes (None
    leaves a type alone), as torchvision."""

    def __init__(self, dtype, scale=False):
        if isinstance(dtype, dict):
            for k in dtype:
                if not (k == "others" or (isinstance(k, type) and issubclass(k, tvt.TVTensor))):
                    raise ValueError(f"ToDtype: dict keys must be Image, Mask, BoundingBoxes or 'others', got {k!r}")
            self.dtype = dict(dtype)
        else:
            self.dtype = np.dtype(dtype)
        self.scale = bool(scale)

    def check_inputs(self, flat_inputs):
        pass

    def transform(self, inpt, params):
        if isinstance(self.dtype, dict):
            target = None
            for cls, dt in self.dtype.items():
                if isinstance(cls, type) and isinstance(inpt, cls):
                    target = dt
                    break
            else:
                if is_pure_image(inpt) and tvt.Image in self.dtype:
                    target = self.dtype[tvt.Image]
                else:
                    target = self.dtype.get("others")
            return inpt if target is None else F.to_dtype(inpt, target, self.scale)
        if _kind(inpt) != "image":
            return inpt
        return F.to_dtype(inpt, self.dtype, self.scale)


class ConvertBoundingBoxFormat(Transform):
    """Boxes in ``format`` (XYXY, XYWH or CXCYWH)."""

    def __init__(self, format):  # noqa: A002 (torchvision's name)
        self.format = tvt._format(format, "ConvertBoundingBoxFormat")

    def transform(self, inpt, params):
        if _kind(inpt) != "boxes":
            return inpt
        return F.convert_bounding_box_format(inpt, new_format=self.format)


class ClampBoundingBoxes(Transform):
    """Boxes clamped to their canvas."""

    _check_box_inputs = False

    def transform(self, inpt, params):
        return F.clamp_bounding_boxes(inpt) if _kind(inpt) == "boxes" else inpt


def _default_labels(sample):
    """torchvision's heuristic: the second item of a tuple (a label array, or a dict searched as below),
    or a dict's ``"labels"`` key (any case), else the first key containing ``"label"``."""
    if isinstance(sample, (tuple, list)):
        if len(sample) < 2:
            raise ValueError(
                "SanitizeBoundingBoxes: with labels_getter='default' a tuple sample needs a second item (the labels "
                "or a target dict); pass labels_getter=None if there are no labels"
            )
        sample = sample[1]
    if is_pure_image(sample):
        return sample
    if not isinstance(sample, collections.abc.Mapping):
        raise ValueError(
            "SanitizeBoundingBoxes: with labels_getter='default' the sample must be a dict or a tuple whose second "
            f"item is a dict or an array, got {type(sample).__name__}"
        )
    keys = [k for k in sample if isinstance(k, str) and k.lower() == "labels"]
    keys = keys or [k for k in sample if isinstance(k, str) and "label" in k.lower()]
    if not keys:
        raise ValueError(
            "SanitizeBoundingBoxes: found no 'labels' key in the sample; pass labels_getter=callable, or None "
            "if there are no labels"
        )
    return sample[keys[0]]


class SanitizeBoundingBoxes(Transform):
    """Drop boxes smaller than ``min_size`` (width or height) or ``min_area``, or with a corner outside
    the canvas, together with their labels (found by ``labels_getter``: ``"default"`` looks for a
    ``labels`` key, a callable gets the sample, None means no labels) and their instance masks (a Mask
    whose first axis has one entry per box)."""

    _check_box_inputs = False

    def __init__(self, min_size=1.0, min_area=1.0, labels_getter="default"):
        if min_size < 1:
            raise ValueError(f"SanitizeBoundingBoxes: min_size must be >= 1, got {min_size}")
        if min_area < 1:
            raise ValueError(f"SanitizeBoundingBoxes: min_area must be >= 1, got {min_area}")
        if not (labels_getter is None or labels_getter == "default" or callable(labels_getter)):
            raise ValueError(
                f"SanitizeBoundingBoxes: labels_getter must be 'default', a callable or None, got {labels_getter!r}"
            )
        self.min_size, self.min_area = float(min_size), float(min_area)
        self.labels_getter = labels_getter

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        where = self._name
        if self.labels_getter is None:
            labels = None
        elif self.labels_getter == "default":
            labels = _default_labels(sample)
        else:
            labels = self.labels_getter(sample)
        if labels is not None and not isinstance(labels, (tuple, list)):
            labels = (labels,)
        flat, spec = _flatten(sample)
        all_boxes = [x for x in flat if isinstance(x, tvt.BoundingBoxes)]
        if len(all_boxes) != 1:
            raise ValueError(f"{where}: expected exactly one BoundingBoxes in the sample, found {len(all_boxes)}")
        boxes = all_boxes[0]
        n = boxes.reshape(-1, 4).shape[0]
        for label in labels or ():
            if not (isinstance(label, np.ndarray) or _is_tensor(label)):
                raise ValueError(f"{where}: labels must be arrays or Tensors, got {type(label).__name__}")
            if len(label) != n:
                raise ValueError(
                    f"{where}: the number of labels must match the number of boxes; got {n} boxes and labels of shape "
                    f"{tuple(label.shape)}"
                )
        query = [x for x in flat if _kind(x) is not None and x is not boxes and not any(x is lb for lb in labels or ())]
        hw = tuple(boxes.canvas_size)
        for x in query:
            if _kind(x) in ("mask", "image"):
                shape = np.shape(x.detach().numpy()) if _is_tensor(x) else x.shape
                if tuple(shape[-2:]) != hw:
                    raise ValueError(
                        f"{where}: {'Mask' if _kind(x) == 'mask' else 'image'} of size {tuple(shape[-2:])} does not "
                        f"match the boxes' canvas_size {hw}"
                    )
        arr = boxes.view(np.ndarray).reshape(-1, 4)
        valid = _sanitize_mask(arr, boxes.format, boxes.canvas_size, self.min_size, self.min_area)
        out = []
        for x in flat:
            if x is boxes:
                out.append(tvt.wrap(arr[valid], like=boxes))
            elif labels is not None and any(x is lb for lb in labels):
                out.append(self._take(x, valid))
            elif isinstance(x, tvt.Mask) and x.ndim >= 3 and x.shape[0] == n:
                out.append(tvt.Mask(x.view(np.ndarray)[valid]))
            else:
                out.append(x)
        return _unflatten(out, spec)

    forward = __call__

    @staticmethod
    def _take(label, valid):
        if _is_tensor(label):
            from ....tensor import Tensor

            return Tensor(np.asarray(label.detach().numpy())[valid])
        return label[valid]
