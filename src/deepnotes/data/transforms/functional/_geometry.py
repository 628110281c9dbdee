"""Flips, crops and padding for images, masks and boxes (torchvision's conventions: boxes are moved by
the same offsets as the pixels and clamped to the new canvas)."""

from __future__ import annotations

import numbers

import numpy as np

from ... import tv_tensors as tvt
from ._meta import _clamp_boxes
from ._resize import InterpolationMode, resize_bounding_boxes, resize_image, resize_mask
from ._utils import _as_mask3, _boxes_parts, _image_array, _kind, _mask_array

__all__ = [
    "horizontal_flip",
    "vertical_flip",
    "hflip",
    "vflip",
    "crop",
    "center_crop",
    "pad",
    "resized_crop",
]

_F = tvt.BoundingBoxFormat


def _dispatch(name, inpt, image_fn, mask_fn, boxes_fn):
    """Run the kernel for the input's type; ``boxes_fn(boxes, format, canvas)`` returns (boxes, canvas)."""
    kind = _kind(inpt)
    if kind == "boxes":
        boxes, fmt, cs = _boxes_parts(inpt, name)
        out, cs = boxes_fn(boxes, fmt, cs)
        return tvt.wrap(out, like=inpt, canvas_size=cs)
    if kind == "mask":
        arr, back = _mask_array(inpt)
        m, unsqueeze = _as_mask3(arr)
        return back(unsqueeze(mask_fn(m)))
    arr, back = _image_array(inpt, name)
    return back(image_fn(arr))


# ------------------------------------------------------------------------------------------------ flips


def _hflip_boxes(boxes, fmt, canvas_size):
    w = canvas_size[1]
    out = boxes.copy()
    if fmt is _F.XYXY:
        out[..., 0] = w - boxes[..., 2]
        out[..., 2] = w - boxes[..., 0]
    elif fmt is _F.XYWH:
        out[..., 0] = w - (boxes[..., 0] + boxes[..., 2])
    else:
        out[..., 0] = w - boxes[..., 0]
    return out, canvas_size


def _vflip_boxes(boxes, fmt, canvas_size):
    h = canvas_size[0]
    out = boxes.copy()
    if fmt is _F.XYXY:
        out[..., 1] = h - boxes[..., 3]
        out[..., 3] = h - boxes[..., 1]
    elif fmt is _F.XYWH:
        out[..., 1] = h - (boxes[..., 1] + boxes[..., 3])
    else:
        out[..., 1] = h - boxes[..., 1]
    return out, canvas_size


def horizontal_flip(inpt):
    """Mirror left-right (boxes: x -> width - x)."""
    flip = lambda a: a[..., ::-1].copy()  # noqa: E731
    return _dispatch("horizontal_flip", inpt, flip, flip, _hflip_boxes)


def vertical_flip(inpt):
    """Mirror top-bottom (boxes: y -> height - y)."""
    flip = lambda a: a[..., ::-1, :].copy()  # noqa: E731
    return _dispatch("vertical_flip", inpt, flip, flip, _vflip_boxes)


hflip = horizontal_flip
vflip = vertical_flip


# -------------------------------------------------------------------------------------------------- pad


def _parse_padding(padding, where="pad"):
    """``[left, right, top, bottom]`` from torchvision's ``padding`` (int, [all], [lr, tb] or [l, t, r, b])."""
    if isinstance(padding, numbers.Integral):
        p = int(padding)
        return [p, p, p, p]
    if isinstance(padding, (tuple, list)):
        vals = [int(v) for v in padding]
        if len(vals) == 1:
            return vals * 4
        if len(vals) == 2:
            return [vals[0], vals[0], vals[1], vals[1]]
        if len(vals) == 4:
            return [vals[0], vals[2], vals[1], vals[3]]
        raise ValueError(f"{where}: padding must be an int or a sequence of 1, 2 or 4 ints, got {len(vals)} values")
    raise TypeError(f"{where}: padding must be an int or a sequence of ints, got {padding!r}")


_MODES = ("constant", "edge", "reflect", "symmetric")


def _pad_array(image, lrtb, fill, mode, where="pad"):
    left, right, top, bottom = lrtb
    h, w = image.shape[-2:]
    if mode not in _MODES:
        raise ValueError(f"{where}: padding_mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if min(lrtb) < 0:  # negative padding crops (torch.nn.functional.pad)
        image = image[..., max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
        left, right, top, bottom = (max(v, 0) for v in lrtb)
        h, w = image.shape[-2:]
    if mode == "reflect" and (max(left, right) >= max(w, 1) or max(top, bottom) >= max(h, 1)):
        raise ValueError(
            f"{where}: reflect padding must be smaller than the image side, got padding (left, right, top, bottom) "
            f"= {tuple(lrtb)} for an image of height {h} and width {w}"
        )
    if mode in ("edge", "symmetric") and (h == 0 or w == 0) and max(lrtb) > 0:
        raise ValueError(f"{where}: {mode} padding needs a non-empty image, got height {h} and width {w}")
    widths = [(0, 0)] * (image.ndim - 2) + [(top, bottom), (left, right)]
    if mode != "constant":
        return np.pad(image, widths, mode=mode)
    if fill is None:
        fill = 0
    if isinstance(fill, (tuple, list)) and len(fill) == 1:
        fill = fill[0]
    if isinstance(fill, (tuple, list)):
        fill_arr = np.asarray(fill, dtype=np.float64)
        if image.ndim < 3 or len(fill_arr) != image.shape[-3]:
            raise ValueError(
                f"{where}: a fill per channel needs one value per channel, got {len(fill_arr)} values for shape "
                f"{image.shape}"
            )
        out = np.empty(image.shape[:-2] + (h + top + bottom, w + left + right), dtype=image.dtype)
        out[...] = fill_arr.astype(image.dtype)[:, None, None]
        out[..., top : top + h, left : left + w] = image
        return out
    value = np.asarray(fill).astype(image.dtype) if image.dtype.kind != "f" else fill
    return np.pad(image, widths, mode="constant", constant_values=value)


def _pad_boxes(boxes, fmt, canvas_size, lrtb):
    left, right, top, bottom = lrtb
    shift = np.array([left, top, left, top] if fmt is _F.XYXY else [left, top, 0, 0])
    out = (boxes + shift).astype(boxes.dtype)
    h, w = canvas_size
    cs = (h + top + bottom, w + left + right)
    return _clamp_boxes(out, fmt, cs), cs


def pad(inpt, padding, fill=None, padding_mode="constant"):
    """Pad by ``padding`` (int, [all], [left/right, top/bottom] or [left, top, right, bottom]) with
    ``fill`` (a number or one value per channel) or by ``edge``, ``reflect`` or ``symmetric`` copies."""
    lrtb = _parse_padding(padding)
    if padding_mode not in _MODES:
        raise ValueError(f"pad: padding_mode must be one of {', '.join(_MODES)}, got {padding_mode!r}")

    def boxes_fn(boxes, fmt, cs):
        if padding_mode != "constant":
            raise ValueError(
                f"pad: padding_mode {padding_mode!r} is not supported for bounding boxes (only 'constant')"
            )
        return _pad_boxes(boxes, fmt, cs, lrtb)

    def mask_fn(m):
        if isinstance(fill, (tuple, list)):
            raise ValueError("pad: masks take a single fill value, not one per channel")
        return _pad_array(m, lrtb, fill, padding_mode)

    return _dispatch("pad", inpt, lambda a: _pad_array(a, lrtb, fill, padding_mode), mask_fn, boxes_fn)


# ------------------------------------------------------------------------------------------------- crop


def _crop_array(image, top, left, height, width):
    h, w = image.shape[-2:]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        # the part outside the image is zeros (torchvision pads)
        inside = image[..., max(top, 0) : max(bottom, 0), max(left, 0) : max(right, 0)]
        lrtb = [
            max(min(right, 0) - left, 0),
            max(right - max(w, left), 0),
            max(min(bottom, 0) - top, 0),
            max(bottom - max(h, top), 0),
        ]
        return _pad_array(inside, lrtb, 0, "constant", "crop")
    return image[..., top:bottom, left:right]  # a view, as torch's slicing


def _crop_boxes(boxes, fmt, top, left, height, width):
    shift = np.array([left, top, left, top] if fmt is _F.XYXY else [left, top, 0, 0])
    out = (boxes - shift).astype(boxes.dtype)
    cs = (int(height), int(width))
    return _clamp_boxes(out, fmt, cs), cs


def crop(inpt, top, left, height, width):
    """The window of ``height`` x ``width`` at (``top``, ``left``); parts outside the image are zeros."""
    top, left, height, width = int(top), int(left), int(height), int(width)
    if height < 0 or width < 0:
        raise ValueError(f"crop: height and width must be non-negative, got height={height}, width={width}")
    fn = lambda a: _crop_array(a, top, left, height, width)  # noqa: E731
    return _dispatch("crop", inpt, fn, fn, lambda b, f, cs: _crop_boxes(b, f, top, left, height, width))


def _center_size(output_size, where="center_crop"):
    if isinstance(output_size, numbers.Number):
        s = int(output_size)
        return s, s
    vals = [int(v) for v in output_size]
    if len(vals) == 1:
        return vals[0], vals[0]
    if len(vals) != 2:
        raise ValueError(f"{where}: output_size must be an int or (height, width), got {output_size!r}")
    return vals[0], vals[1]


def _center_anchor(crop_h, crop_w, h, w):
    # Python's round (halves to even), as torchvision
    return int(round((h - crop_h) / 2.0)), int(round((w - crop_w) / 2.0))


def _center_crop_array(image, crop_h, crop_w):
    h, w = image.shape[-2:]
    if image.size == 0:
        return np.zeros(image.shape[:-2] + (crop_h, crop_w), dtype=image.dtype)
    if crop_h > h or crop_w > w:
        lrtb = [
            (crop_w - w) // 2 if crop_w > w else 0,
            (crop_w - w + 1) // 2 if crop_w > w else 0,
            (crop_h - h) // 2 if crop_h > h else 0,
            (crop_h - h + 1) // 2 if crop_h > h else 0,
        ]
        image = _pad_array(image, lrtb, 0, "constant", "center_crop")
        h, w = image.shape[-2:]
    top, left = _center_anchor(crop_h, crop_w, h, w)
    return image[..., top : top + crop_h, left : left + crop_w]  # a view, as torch's slicing


def center_crop(inpt, output_size):
    """The central ``output_size`` window (padded with zeros where it is larger than the image)."""
    crop_h, crop_w = _center_size(output_size)
    fn = lambda a: _center_crop_array(a, crop_h, crop_w)  # noqa: E731

    def boxes_fn(boxes, fmt, cs):
        top, left = _center_anchor(crop_h, crop_w, *cs)
        return _crop_boxes(boxes, fmt, top, left, crop_h, crop_w)

    return _dispatch("center_crop", inpt, fn, fn, boxes_fn)


def resized_crop(inpt, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR, antialias=True):
    """``crop`` then ``resize`` to ``size``."""
    top, left, height, width = int(top), int(left), int(height), int(width)

    def image_fn(a):
        return resize_image(_crop_array(a, top, left, height, width), size, interpolation, antialias=antialias)

    def mask_fn(m):
        return resize_mask(_crop_array(m, top, left, height, width), size)

    def boxes_fn(boxes, fmt, cs):
        b, cs = _crop_boxes(boxes, fmt, top, left, height, width)
        return resize_bounding_boxes(b, cs, size)

    return _dispatch("resized_crop", inpt, image_fn, mask_fn, boxes_fn)
