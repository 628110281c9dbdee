"""Dispatch on input type, and the small checks every functional op shares.

A functional op looks at what it was given, as ``torchvision.transforms.v2.functional`` does:

* :class:`~deepnotes.data.tv_tensors.BoundingBoxes` go to the op's box kernel (which also needs the
  boxes' ``format`` and ``canvas_size`` and returns a new canvas size where the op changes it),
* :class:`~deepnotes.data.tv_tensors.Mask` goes to the mask kernel (nearest-neighbour resampling),
* an :class:`~deepnotes.data.tv_tensors.Image`, a plain ``numpy.ndarray`` or a deepnotes ``Tensor`` goes
  to the image kernel (channels first: ``(..., C, H, W)``).

The result has the input's type: an Image stays an Image, a Tensor comes back as a (new, gradient-free)
Tensor, a plain array as a plain array.
"""

from __future__ import annotations

import enum
import numbers

import numpy as np

from ... import tv_tensors as tvt

__all__ = ["InterpolationMode"]


class InterpolationMode(enum.Enum):
    """Resampling modes (torchvision's names and string values)."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


def _interpolation(value, where, allowed=None):
    if isinstance(value, InterpolationMode):
        mode = value
    else:
        name = getattr(value, "value", value)  # torchvision's own InterpolationMode enum works too
        try:
            mode = InterpolationMode(name)
        except ValueError:
            mode = None
    allowed = tuple(InterpolationMode) if allowed is None else allowed
    if mode is None or mode not in allowed:
        names = ", ".join(repr(m.value) for m in allowed)
        raise ValueError(f"{where}: interpolation must be one of {names}, got {value!r}")
    return mode


def _is_tensor(x):
    return hasattr(x, "detach") and hasattr(x, "numpy") and not isinstance(x, np.ndarray)


def is_pure_image(x):
    """A plain array or a deepnotes Tensor (not a typed array): an image unless the sample says otherwise."""
    return (isinstance(x, np.ndarray) and not isinstance(x, tvt.TVTensor)) or _is_tensor(x)


def _check_layout(arr, where):
    if arr.ndim < 3:
        raise ValueError(
            f"{where}: expected an image of shape (C, H, W) or (N, C, H, W) (channels first), got shape {arr.shape}"
        )
    c, w = arr.shape[-3], arr.shape[-1]
    if arr.ndim == 3 and c > 4 and w in (1, 3, 4):
        raise ValueError(
            f"{where}: expected an image of shape (C, H, W) (channels first), got shape {arr.shape}, which looks "
            f"like (H, W, C); convert it with ToImage() / to_image() or arr.transpose(2, 0, 1)"
        )


def _image_array(inpt, where):
    """(plain ndarray, function giving a result of the input's type)."""
    if isinstance(inpt, tvt.Image):
        arr = inpt.view(np.ndarray)
        _check_layout(arr, where)
        return arr, lambda out: tvt.Image(out)
    if _is_tensor(inpt):
        from ....tensor import Tensor

        arr = np.asarray(inpt.detach().numpy())
        _check_layout(arr, where)
        return arr, lambda out: Tensor(out)
    if isinstance(inpt, np.ndarray):
        arr = inpt.view(np.ndarray)
        _check_layout(arr, where)
        return arr, lambda out: out
    raise TypeError(
        f"{where}: expected an image (Image, numpy array or Tensor), a Mask or BoundingBoxes, got {type(inpt).__name__}"
    )


def _mask_array(inpt):
    arr = inpt.view(np.ndarray)
    return arr, lambda out: tvt.Mask(out)


def _boxes_parts(inpt, where):
    if inpt.format is None or inpt.canvas_size is None:
        raise ValueError(f"{where}: BoundingBoxes without format or canvas_size; build them with BoundingBoxes(...)")
    return inpt.view(np.ndarray), inpt.format, inpt.canvas_size


def _kind(inpt):
    if isinstance(inpt, tvt.BoundingBoxes):
        return "boxes"
    if isinstance(inpt, tvt.Mask):
        return "mask"
    if isinstance(inpt, tvt.Image) or is_pure_image(inpt):
        return "image"
    return None


def _as_mask3(mask):
    """Masks of shape (H, W) gain a leading axis for the image kernels; the second value undoes it."""
    if mask.ndim == 2:
        return mask[None], lambda out: out[0]
    return mask, lambda out: out


def _int_pair(value, where, name):
    if isinstance(value, numbers.Integral):
        return int(value), int(value)
    try:
        vals = [int(v) for v in value]
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {name} must be an int or a sequence of ints, got {value!r}") from None
    if len(vals) == 1:
        return vals[0], vals[0]
    if len(vals) != 2:
        raise ValueError(f"{where}: {name} must be an int or a sequence of one or two ints, got {value!r}")
    return vals[0], vals[1]


def _max_value(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return 1.0
    if dtype == np.bool_:
        return 1
    return int(np.iinfo(dtype).max)


def _work_dtype(dtype):
    """Floating dtype an op computes in: the image's own float dtype, float32 for integer images (torch)."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def _round_to(values, dtype):
    """Float results back to an integer image dtype by rounding half to even, as torch's ``round_().to()``."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return values.astype(dtype, copy=False)
    if dtype == np.bool_:
        return np.rint(values).astype(bool)
    return np.rint(values).astype(dtype)
