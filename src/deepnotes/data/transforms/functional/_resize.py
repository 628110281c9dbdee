"""Resizing: ``resize`` for images (nearest, nearest-exact, bilinear, bicubic; with or without
antialiasing), masks (nearest) and boxes, with torch's sampling conventions.

Every mode is separable: each output row / column is a weighted sum of a few input rows / columns
("taps").  The weights follow ``torch.nn.functional.interpolate(..., align_corners=False)``:

* nearest: source index ``floor(dst * in / out)``; nearest-exact: ``floor((dst + 0.5) * in / out)``;
* bilinear / bicubic (``antialias=False``): the source coordinate ``(dst + 0.5) * in / out - 0.5``, two
  taps with triangle weights (the coordinate clamped at 0) or four taps of Keys' cubic (a = -0.75) with
  the indices clamped to the image;
* ``antialias=True`` (torchvision's default): Pillow-style filters stretched by the scale when shrinking
  (triangle, or cubic with a = -0.5), truncated at the borders and renormalised.

Float images are computed in their own dtype (float32 weights for float32, as torch), so results agree
with torch to rounding.  uint8 images take torch's uint8 routes: bilinear without antialias rounds once;
bicubic and antialiased modes pass along the width, round to uint8, then pass along the height (equal
to torch within one grey level).
"""

from __future__ import annotations

import math

import numpy as np

from ... import tv_tensors as tvt
from ._utils import (
    InterpolationMode,
    _as_mask3,
    _boxes_parts,
    _image_array,
    _interpolation,
    _kind,
    _mask_array,
)

__all__ = ["resize"]

_DENSE_TAPS = 24  # above this many taps per output pixel, a dense matrix product is faster


def _output_size(canvas_size, size, max_size, where="resize"):
    """``(new_h, new_w)`` as torchvision: an int (or one-element list) sets the smaller edge, two values set
    both, ``None`` with ``max_size`` fits the longer edge; ``max_size`` caps the longer edge."""
    h, w = canvas_size
    if isinstance(size, (int, np.integer)):
        size = [int(size)]
    elif size is not None:
        size = [int(s) for s in size]
        if len(size) not in (1, 2):
            raise ValueError(f"{where}: size must be an int or a sequence of one or two ints, got {size}")
        if max_size is not None and len(size) != 1:
            raise ValueError(f"{where}: max_size is only allowed when size is None or sets the smaller edge")
    short, long = (w, h) if w <= h else (h, w)
    if size is None:
        if not isinstance(max_size, (int, np.integer)):
            raise ValueError(f"{where}: max_size must be an int when size is None, got {max_size!r}")
        new_short, new_long = int(max_size * short / long), int(max_size)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    elif len(size) == 1:
        new_short, new_long = size[0], int(size[0] * long / short)
        if max_size is not None:
            if max_size <= size[0]:
                raise ValueError(
                    f"{where}: max_size = {max_size} must be strictly greater than the requested size for the "
                    f"smaller edge = {size[0]}"
                )
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), int(max_size)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    else:
        new_h, new_w = size
    if new_h <= 0 or new_w <= 0:
        raise ValueError(f"{where}: the output size must be positive, got (height, width) = ({new_h}, {new_w})")
    return new_h, new_w


# ---------------------------------------------------------------------------------------------- weights


def _nearest_index(n_in, n_out, exact):
    scale = np.float32(n_in) / np.float32(n_out)  # torch computes the nearest scale in float32
    dst = np.arange(n_out, dtype=np.float32)
    if not exact:
        if n_out == n_in:
            return np.arange(n_out)
        if n_out == 2 * n_in:
            return np.arange(n_out) >> 1
        src = np.floor(dst * scale)
    else:
        src = np.floor((dst + np.float32(0.5)) * scale)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _cubic(x, a):
    x = np.abs(x)
    return np.where(
        x < 1,
        ((a + 2) * x - (a + 3)) * x * x + 1,
        np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0),
    )


def _triangle(x):
    x = np.abs(x)
    return np.where(x < 1, 1 - x, 0)


def _classic_weights(n_in, n_out, mode, dt):
    """torch's non-antialiased bilinear (2 taps) and bicubic (4 taps, a = -0.75) weights in dtype dt."""
    dt = np.dtype(dt).type
    scale = dt(n_in) / dt(n_out)
    dst = np.arange(n_out, dtype=dt)
    if dt is np.float32:
        # torch's compiled kernel fuses scale * (dst + 0.5) - 0.5 into one rounding (an FMA): the
        # product of two float32 is exact in float64, so rounding once from there gives the same value
        src = (np.float64(scale) * (dst + dt(0.5)).astype(np.float64) - 0.5).astype(dt)
    else:
        src = scale * (dst + dt(0.5)) - dt(0.5)
    if mode is InterpolationMode.BILINEAR:
        src = np.maximum(src, dt(0))
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        lam = np.clip(src - i0.astype(dt), 0, 1).astype(dt)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return np.stack([i0, i1], 1), np.stack([1 - lam, lam], 1).astype(dt)
    i0 = np.floor(src).astype(np.int64)
    t = (src - i0.astype(dt)).astype(dt)
    a = dt(-0.75)
    one, two = dt(1), dt(2)

    def cc1(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def cc2(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    w = np.stack([cc2(t + one), cc1(t), cc1(one - t), cc2(two - t)], 1).astype(dt)
    idx = np.clip(i0[:, None] + np.arange(-1, 3), 0, n_in - 1)
    return idx, w


def _range_weights(n_in, n_out, mode, antialias, dt):
    """Weights of torch's separable antialiasing kernels: a filter centred at ``scale*(i+0.5)``,
    widened by the scale when shrinking with antialias, truncated at the borders and renormalised."""
    dt = np.dtype(dt).type
    scale = dt(n_in) / dt(n_out)
    interp = 2 if mode is InterpolationMode.BILINEAR else 4
    if mode is InterpolationMode.BILINEAR:
        filt = _triangle
    else:
        a = -0.5 if antialias else -0.75
        filt = lambda x: _cubic(x, a)  # noqa: E731
    wide = antialias and scale >= 1
    support = dt(interp * 0.5) * scale if wide else dt(interp * 0.5)
    invscale = dt(1) / scale if wide else dt(1)
    center = scale * (np.arange(n_out, dtype=dt) + dt(0.5))
    xmin = np.maximum(np.trunc(center - support + dt(0.5)).astype(np.int64), 0)
    xmax = np.minimum(np.trunc(center + support + dt(0.5)).astype(np.int64), n_in)
    max_taps = int(math.ceil(float(support))) * 2 + 1
    xsize = np.clip(xmax - xmin, 0, max_taps)
    max_taps = max(int(xsize.max(initial=1)), 1)  # only as many taps as some output really uses
    j = np.arange(max_taps)
    x = ((j[None, :] + xmin[:, None]).astype(dt) - center[:, None] + dt(0.5)) * invscale
    w = filt(x).astype(dt)
    w[j[None, :] >= xsize[:, None]] = 0
    total = w.sum(1, keepdims=True, dtype=dt)
    w = np.where(total != 0, w / np.where(total != 0, total, 1), w).astype(dt)
    idx = np.minimum(j[None, :] + xmin[:, None], n_in - 1)
    return idx, w


def _apply(x, idx, w, axis):
    """Weighted taps along ``axis`` (-1 or -2) of the float array ``x``."""
    n_out, taps = idx.shape
    if taps > _DENSE_TAPS:
        mat = np.zeros((n_out, x.shape[axis]), dtype=w.dtype)
        np.add.at(mat, (np.repeat(np.arange(n_out), taps), idx.ravel()), w.ravel())
        if axis == -1:
            return x @ mat.T
        return np.swapaxes(np.swapaxes(x, -1, -2) @ mat.T, -1, -2)
    shape = (n_out, 1) if axis == -2 else (n_out,)
    out = np.take(x, idx[:, 0], axis=axis)
    out *= w[:, 0].reshape(shape)
    for k in range(1, taps):
        term = np.take(x, idx[:, k], axis=axis)
        term *= w[:, k].reshape(shape)
        out += term
    return out


def _resize_image(image, new_h, new_w, mode, antialias):
    old_h, old_w = image.shape[-2:]
    if (new_h, new_w) == (old_h, old_w):
        return image
    if image.size == 0:
        return np.zeros(image.shape[:-2] + (new_h, new_w), dtype=image.dtype)
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        exact = mode is InterpolationMode.NEAREST_EXACT
        rows = _nearest_index(old_h, new_h, exact)
        cols = _nearest_index(old_w, new_w, exact)
        return image[..., rows, :][..., cols]  # two 1-D gathers: much faster than one 2-D fancy index
    dtype = image.dtype
    if dtype.kind == "f":
        x = image
        for axis, (n_in, n_out) in ((-1, (old_w, new_w)), (-2, (old_h, new_h))):
            if n_in == n_out:
                continue
            if antialias:
                idx, w = _range_weights(n_in, n_out, mode, True, dtype)
            else:
                idx, w = _classic_weights(n_in, n_out, mode, dtype)
            x = _apply(x, idx, w, axis)
        return x.astype(dtype, copy=False)
    top = np.iinfo(dtype).max if dtype.kind in "iu" else 1
    bottom = np.iinfo(dtype).min if dtype.kind in "iu" else 0
    if mode is InterpolationMode.BILINEAR and not antialias:
        # torch resamples integer images bilinearly in one go and rounds once
        out = _resize_image(image.astype(np.float32), new_h, new_w, mode, False)
        return np.clip(np.rint(out), bottom, top).astype(dtype)
    # otherwise torch's separable integer route: rounded to the dtype after each pass (width, then height)
    x = image
    for axis, (n_in, n_out) in ((-1, (old_w, new_w)), (-2, (old_h, new_h))):
        if n_in == n_out:
            continue
        if antialias:
            idx, w = _range_weights(n_in, n_out, mode, True, np.float64)
        else:
            idx, w = _classic_weights(n_in, n_out, mode, np.float64)
        out = _apply(x.astype(np.float32), idx, w.astype(np.float32), axis)
        x = np.clip(np.rint(out, out=out), bottom, top, out=out).astype(dtype)
    return x


def resize_image(image, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Kernel: a channels-first array resized (see :func:`resize`)."""
    mode = _interpolation(interpolation, "resize")
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        antialias = False
    new_h, new_w = _output_size(image.shape[-2:], size, max_size)
    return _resize_image(image, new_h, new_w, mode, bool(antialias))


def resize_mask(mask, size, max_size=None, interpolation=InterpolationMode.NEAREST):
    """Kernel: masks resized with nearest neighbours (nearest-exact if asked; other modes mean nearest)."""
    mode = _interpolation(interpolation, "resize")
    if mode is not InterpolationMode.NEAREST_EXACT:
        mode = InterpolationMode.NEAREST
    m, back = _as_mask3(mask)
    new_h, new_w = _output_size(m.shape[-2:], size, max_size)
    return back(_resize_image(m, new_h, new_w, mode, False))


def resize_bounding_boxes(boxes, canvas_size, size, max_size=None):
    """Kernel: ``(boxes scaled to the new canvas, new canvas size)``."""
    old_h, old_w = canvas_size
    new_h, new_w = _output_size(canvas_size, size, max_size)
    if (new_h, new_w) == (old_h, old_w):
        return boxes, canvas_size
    # torch multiplies by a float32 tensor of the ratios
    ratios = np.array([new_w / old_w, new_h / old_h] * 2, dtype=np.float32)
    out = boxes * ratios if boxes.dtype.kind == "f" else (boxes.astype(np.float32) * ratios)
    return out.astype(boxes.dtype), (new_h, new_w)


def resize(inpt, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to ``size`` ((h, w), or an int for the smaller edge; ``max_size`` caps the longer edge).

    Images: ``interpolation`` nearest, nearest-exact, bilinear or bicubic, ``antialias`` as torchvision
    (True by default; it only affects bilinear and bicubic).  Masks: nearest neighbours.  Boxes: scaled.
    """
    kind = _kind(inpt)
    if kind == "boxes":
        boxes, _, cs = _boxes_parts(inpt, "resize")
        out, cs = resize_bounding_boxes(boxes, cs, size, max_size)
        return tvt.wrap(out, like=inpt, canvas_size=cs)
    if kind == "mask":
        arr, back = _mask_array(inpt)
        return back(resize_mask(arr, size, max_size, interpolation))
    arr, back = _image_array(inpt, "resize")
    return back(resize_image(arr, size, interpolation, max_size, antialias))
