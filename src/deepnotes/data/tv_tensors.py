"""Typed arrays that tell the transforms what they hold: an image, boxes, or masks.

Shaped like ``torchvision.tv_tensors``: a transform pipeline receives a structure (a tuple, a dict, a
target dict of a detection data set) and changes every element according to its type: an
:class:`Image` is resampled, a :class:`BoundingBoxes` has its coordinates moved (and carries its format
and the size of the canvas it lives on), a :class:`Mask` is resampled with nearest neighbours.  Plain
arrays and deepnotes Tensors are treated as images; anything else (labels, ids) passes through.

The types are NumPy array subclasses, so every NumPy function takes them.  Arithmetic and ufuncs return
plain arrays (as torchvision's tv_tensors return plain tensors from operations): metadata such as a box
format only survives where a transform puts it back with :func:`wrap`.
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["BoundingBoxFormat", "TVTensor", "Image", "Mask", "BoundingBoxes", "wrap"]


class BoundingBoxFormat(enum.Enum):
    """How the four numbers of a box are laid out (torchvision's names)."""

    XYXY = "XYXY"  # x1, y1, x2, y2: corners
    XYWH = "XYWH"  # x1, y1, width, height
    CXCYWH = "CXCYWH"  # centre x, centre y, width, height


def _format(value, where):
    if isinstance(value, BoundingBoxFormat):
        return value
    if isinstance(value, str):
        try:
            return BoundingBoxFormat[value.upper()]
        except KeyError:
            pass
    names = ", ".join(f.value for f in BoundingBoxFormat)
    raise ValueError(f"{where}: format must be one of {names} (a string or BoundingBoxFormat), got {value!r}")


def _canvas(value, where):
    try:
        h, w = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: canvas_size must be (height, width), got {value!r}") from None
    if h < 0 or w < 0:
        raise ValueError(f"{where}: canvas_size must be non-negative (height, width), got {value!r}")
    return (h, w)


class TVTensor(np.ndarray):
    """Base of the typed arrays: a NumPy array whose type names its role in a transform pipeline."""

    def __new__(cls, data, *, dtype=None, copy=False):
        if hasattr(data, "detach") and hasattr(data, "numpy"):  # a deepnotes or torch tensor
            data = data.detach().numpy()
        arr = np.array(data, dtype=dtype, copy=copy) if copy else np.asarray(data, dtype=dtype)
        return arr.view(cls)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        # results of arithmetic and ufuncs are plain arrays (torchvision: operations unwrap tv_tensors)
        if return_scalar:
            return array[()]
        return array.view(np.ndarray) if isinstance(array, np.ndarray) else array

    def as_array(self) -> np.ndarray:
        """The same memory as a plain ``np.ndarray``."""
        return self.view(np.ndarray)


class Image(TVTensor):
    """An image or a batch of images, channels first: ``(C, H, W)`` or ``(N, C, H, W)``; a 2-D input
    gains a channel axis, as in torchvision."""

    def __new__(cls, data, *, dtype=None, copy=False):
        obj = super().__new__(cls, data, dtype=dtype, copy=copy)
        if obj.ndim == 2:
            obj = obj[None]
        if obj.ndim < 3:
            raise ValueError(f"Image: expected an array of shape (C, H, W) or (..., C, H, W), got shape {obj.shape}")
        return obj


class Mask(TVTensor):
    """Segmentation or instance masks: ``(H, W)``, or ``(N, H, W)`` for one mask per instance."""

    def __new__(cls, data, *, dtype=None, copy=False):
        obj = super().__new__(cls, data, dtype=dtype, copy=copy)
        if obj.ndim < 2:
            raise ValueError(f"Mask: expected an array of shape (H, W) or (..., H, W), got shape {obj.shape}")
        return obj


class BoundingBoxes(TVTensor):
    """``N`` boxes as an ``(N, 4)`` array, with their ``format`` and the ``canvas_size`` (height,
    width) of the image they belong to.  Zero boxes (shape ``(0, 4)``) are valid."""

    format: BoundingBoxFormat
    canvas_size: tuple[int, int]

    def __new__(cls, data, *, format, canvas_size, dtype=None, copy=False):
        obj = super().__new__(cls, data, dtype=dtype, copy=copy)
        if obj.ndim == 1 and obj.shape[0] == 4:
            obj = obj[None]
        elif obj.ndim == 1 and obj.shape[0] == 0:
            obj = obj.reshape(0, 4)
        if obj.ndim != 2 or obj.shape[1] != 4:
            raise ValueError(f"BoundingBoxes: expected an array of shape (N, 4), got shape {obj.shape}")
        obj.format = _format(format, "BoundingBoxes")
        obj.canvas_size = _canvas(canvas_size, "BoundingBoxes")
        return obj

    def __array_finalize__(self, obj):
        # views and slices keep the metadata; a fresh array gets none until wrap() sets it
        self.format = getattr(obj, "format", None)  # type: ignore[assignment]
        self.canvas_size = getattr(obj, "canvas_size", None)  # type: ignore[assignment]

    def __repr__(self):
        body = np.array2string(self.view(np.ndarray), separator=", ")
        fmt = self.format.value if self.format is not None else None
        return f"BoundingBoxes({body}, format={fmt}, canvas_size={self.canvas_size})"

    def __reduce__(self):
        # pickling (DataLoader worker processes) keeps format and canvas size
        return (_rebuild_boxes, (self.view(np.ndarray).copy(), self.format.value, self.canvas_size))


def _rebuild_boxes(data, fmt, canvas_size):
    return BoundingBoxes(data, format=fmt, canvas_size=canvas_size)


def wrap(array, *, like, **kwargs):
    """``array`` as the type of ``like``, with ``like``'s metadata unless given in ``kwargs``
    (``format=``, ``canvas_size=`` for boxes): how a transform returns a result of the input's type."""
    if isinstance(like, BoundingBoxes):
        return BoundingBoxes(
            array,
            format=kwargs.get("format", like.format),
            canvas_size=kwargs.get("canvas_size", like.canvas_size),
        )
    if isinstance(like, TVTensor):
        return type(like)(array)
    raise TypeError(f"wrap: like must be an Image, Mask or BoundingBoxes, got {type(like).__name__}")
