"""Sizes, box formats, box clamping and sanitising, dtype conversion (torchvision's ``_meta`` and
``_type_conversion`` functionals)."""

from __future__ import annotations

import numpy as np

from ... import tv_tensors as tvt
from ._utils import _boxes_parts, _image_array, _is_tensor, _kind, _max_value

__all__ = [
    "get_size",
    "get_dimensions",
    "get_num_channels",
    "convert_bounding_box_format",
    "clamp_bounding_boxes",
    "sanitize_bounding_boxes",
    "to_dtype",
    "to_image",
    "convert_image_dtype",
]

_F = tvt.BoundingBoxFormat


def get_size(inpt):
    """``[height, width]`` of an image, mask or the canvas of boxes."""
    kind = _kind(inpt)
    if kind == "boxes":
        return list(_boxes_parts(inpt, "get_size")[2])
    if kind == "mask":
        return list(inpt.shape[-2:])
    arr, _ = _image_array(inpt, "get_size")
    return list(arr.shape[-2:])


def get_dimensions(inpt):
    """``[channels, height, width]`` of an image."""
    arr, _ = _image_array(inpt, "get_dimensions")
    return list(arr.shape[-3:])


def get_num_channels(inpt):
    arr, _ = _image_array(inpt, "get_num_channels")
    return int(arr.shape[-3])


def _fmt(value, where):
    return tvt._format(value, where)


def _convert_boxes(boxes, old, new):
    """Kernel: ``(..., 4)`` array from format ``old`` to ``new`` (integer boxes rounded as torchvision)."""
    if old is new:
        return boxes.copy()
    dtype = boxes.dtype
    fp = dtype.kind == "f"
    b = boxes
    if old is _F.XYWH and new is _F.CXCYWH:
        out = b.copy()
        out[..., :2] = b[..., :2] + (b[..., 2:] / 2 if fp else b[..., 2:] // 2)
        return out
    if old is _F.CXCYWH and new is _F.XYWH:
        f = b if fp else b.astype(np.float32)
        xy = f[..., :2] - f[..., 2:] / 2
        if fp:
            return np.concatenate([xy, f[..., 2:]], axis=-1).astype(dtype, copy=False)
        x2y2 = (xy + f[..., 2:]).astype(dtype)
        xy = xy.astype(dtype)
        return np.concatenate([xy, x2y2 - xy], axis=-1)
    # to XYXY
    if old is _F.XYXY:
        xyxy = b.copy()
    elif old is _F.XYWH:
        xyxy = b.copy()
        xyxy[..., 2:] += xyxy[..., :2]
    else:  # CXCYWH
        f = b if fp else b.astype(np.float32)
        xy = f[..., :2] - f[..., 2:] / 2
        xyxy = np.concatenate([xy, xy + f[..., 2:]], axis=-1).astype(dtype, copy=False)
    if new is _F.XYXY:
        return xyxy
    if new is _F.XYWH:
        xyxy[..., 2:] -= xyxy[..., :2]
        return xyxy
    # XYXY -> CXCYWH
    wh = xyxy[..., 2:] - xyxy[..., :2]
    twice = xyxy[..., :2] * 2 + wh
    c = twice / 2 if fp else twice // 2
    return np.concatenate([c, wh], axis=-1).astype(dtype, copy=False)


def convert_bounding_box_format(inpt, old_format=None, new_format=None, inplace=False):
    """Boxes in ``new_format`` (``"XYXY"``, ``"XYWH"``, ``"CXCYWH"``).  A BoundingBoxes input knows its
    format (pass no ``old_format``); a plain array needs ``old_format``."""
    where = "convert_bounding_box_format"
    if new_format is None:
        raise TypeError(f"{where}: new_format is required")
    new = _fmt(new_format, where)
    if isinstance(inpt, tvt.BoundingBoxes):
        if old_format is not None:
            raise ValueError(f"{where}: BoundingBoxes carry their format; old_format must not be passed")
        boxes, old, _ = _boxes_parts(inpt, where)
        out = _convert_boxes(boxes, old, new)
        return tvt.wrap(out, like=inpt, format=new)
    if old_format is None:
        raise ValueError(f"{where}: a plain array of boxes needs old_format")
    arr = _plain_boxes(inpt, where)
    out = _convert_boxes(arr, _fmt(old_format, where), new)
    if inplace:
        arr[...] = out
        return inpt
    return out


def _plain_boxes(inpt, where):
    arr = np.asarray(inpt.detach().numpy() if _is_tensor(inpt) else inpt)
    if arr.shape[-1:] != (4,):
        raise ValueError(f"{where}: expected boxes of shape (..., 4), got shape {arr.shape}")
    return arr


def _clamp_boxes(boxes, fmt, canvas_size):
    """Kernel: boxes clamped to the canvas ``(H, W)`` (torchvision's clamping of axis-aligned boxes)."""
    dtype = boxes.dtype
    work = boxes.astype(np.float32) if dtype.kind != "f" else boxes
    xyxy = _convert_boxes(work, fmt, _F.XYXY)
    h, w = canvas_size
    np.clip(xyxy[..., 0::2], 0, w, out=xyxy[..., 0::2])
    np.clip(xyxy[..., 1::2], 0, h, out=xyxy[..., 1::2])
    return _convert_boxes(xyxy, _F.XYXY, fmt).astype(dtype, copy=False)


def clamp_bounding_boxes(inpt, format=None, canvas_size=None, clamping_mode="soft"):  # noqa: A002 (torchvision's name)
    """Boxes clamped to their canvas.  ``clamping_mode=None`` returns an unclamped copy ("soft" and "hard"
    are the same for axis-aligned boxes)."""
    where = "clamp_bounding_boxes"
    if clamping_mode not in (None, "soft", "hard", "auto"):
        raise ValueError(f"{where}: clamping_mode must be 'soft', 'hard', 'auto' or None, got {clamping_mode!r}")
    if isinstance(inpt, tvt.BoundingBoxes):
        if format is not None or canvas_size is not None:
            raise ValueError(f"{where}: BoundingBoxes carry format and canvas_size; do not pass them")
        boxes, fmt, cs = _boxes_parts(inpt, where)
        out = boxes.copy() if clamping_mode is None else _clamp_boxes(boxes, fmt, cs)
        return tvt.wrap(out, like=inpt)
    if format is None or canvas_size is None:
        raise ValueError(f"{where}: a plain array of boxes needs format and canvas_size")
    arr = _plain_boxes(inpt, where)
    if clamping_mode is None:
        return arr.copy()
    return _clamp_boxes(arr, _fmt(format, where), tvt._canvas(canvas_size, where))


def _sanitize_mask(boxes, fmt, canvas_size, min_size, min_area):
    xyxy = _convert_boxes(boxes, fmt, _F.XYXY)
    ws = xyxy[:, 2] - xyxy[:, 0]
    hs = xyxy[:, 3] - xyxy[:, 1]
    h, w = canvas_size
    valid = (ws >= min_size) & (hs >= min_size) & (xyxy >= 0).all(axis=-1) & (ws * hs >= min_area)
    valid &= (xyxy[:, 0] <= w) & (xyxy[:, 2] <= w) & (xyxy[:, 1] <= h) & (xyxy[:, 3] <= h)
    return valid


def sanitize_bounding_boxes(bounding_boxes, format=None, canvas_size=None, min_size=1.0, min_area=1.0):  # noqa: A002
    """``(kept boxes, boolean keep mask)``: drops boxes narrower or lower than ``min_size``, smaller than
    ``min_area``, or with a corner outside the canvas (as torchvision)."""
    where = "sanitize_bounding_boxes"
    if isinstance(bounding_boxes, tvt.BoundingBoxes):
        if format is not None or canvas_size is not None:
            raise ValueError(f"{where}: BoundingBoxes carry format and canvas_size; do not pass them")
        boxes, fmt, cs = _boxes_parts(bounding_boxes, where)
        valid = _sanitize_mask(boxes.reshape(-1, 4), fmt, cs, min_size, min_area)
        return tvt.wrap(boxes[valid], like=bounding_boxes), valid
    if format is None or canvas_size is None:
        raise ValueError(f"{where}: a plain array of boxes needs format and canvas_size")
    arr = _plain_boxes(bounding_boxes, where).reshape(-1, 4)
    valid = _sanitize_mask(arr, _fmt(format, where), tvt._canvas(canvas_size, where), min_size, min_area)
    return arr[valid], valid


def _to_dtype_image(image, dtype, scale):
    dtype = np.dtype(dtype)
    if image.dtype == dtype:
        return image
    if not scale:
        return image.astype(dtype)
    fin, fout = image.dtype.kind == "f", dtype.kind == "f"
    if fin and fout:
        return image.astype(dtype)
    if fin:
        if (image.dtype == np.float32 and dtype in (np.int32, np.int64)) or (
            image.dtype == np.float64 and dtype == np.int64
        ):
            raise RuntimeError(f"to_dtype: the conversion from {image.dtype} to {dtype} cannot be performed safely")
        # multiplying by (max + 1 - eps) sends [0, 1] onto every integer level evenly (torchvision's choice)
        return (image * image.dtype.type(_max_value(dtype) + 1.0 - 1e-3)).astype(dtype)
    if image.dtype == np.bool_:
        return image.astype(dtype) * (_max_value(dtype) if not fout else 1)
    if fout:
        return image.astype(dtype) * dtype.type(1.0 / _max_value(image.dtype))
    bits_in = _value_bits(image.dtype)
    bits_out = _value_bits(dtype)
    if bits_in > bits_out:
        return (image >> (bits_in - bits_out)).astype(dtype)
    return image.astype(dtype) << (bits_out - bits_in)


def _value_bits(dtype):
    info = np.iinfo(dtype)
    return int(info.bits - (1 if info.min < 0 else 0))


def to_dtype(inpt, dtype=np.float32, scale=False):
    """The input in ``dtype``; for images, ``scale=True`` also maps the value range (uint8 [0, 255] <->
    float [0, 1]) as torchvision.  Masks and boxes only change dtype."""
    kind = _kind(inpt)
    if kind == "boxes":
        return tvt.wrap(inpt.view(np.ndarray).astype(dtype), like=inpt)
    if kind == "mask":
        return tvt.Mask(inpt.view(np.ndarray).astype(dtype))
    arr, back = _image_array(inpt, "to_dtype")
    return back(_to_dtype_image(arr, dtype, scale))


def convert_image_dtype(image, dtype=np.float32):
    """``to_dtype(image, dtype, scale=True)`` (torchvision's older name)."""
    return to_dtype(image, dtype, scale=True)


def _hwc_to_chw(arr, where):
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"{where}: expected a numpy array of shape (H, W, C) or (H, W), got shape {arr.shape}")
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def to_image(inpt):
    """An :class:`~deepnotes.data.tv_tensors.Image` (channels first).  As torchvision's ``to_image``, a plain
    NumPy array is read as ``(H, W, C)`` (or ``(H, W)``), the layout of image files, and transposed; a
    Tensor or an Image is taken as already channels first."""
    if isinstance(inpt, tvt.Image):
        return inpt
    if _is_tensor(inpt):
        return tvt.Image(np.asarray(inpt.detach().numpy()))
    if isinstance(inpt, np.ndarray):
        return tvt.Image(_hwc_to_chw(inpt.view(np.ndarray), "to_image"))
    if hasattr(inpt, "mode") and hasattr(inpt, "size"):  # a PIL image
        return tvt.Image(_hwc_to_chw(np.asarray(inpt), "to_image"))
    raise TypeError(f"to_image: expected a numpy array (H, W, C), a Tensor or a PIL image, got {type(inpt).__name__}")
