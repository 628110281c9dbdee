"""Rotation and affine warps of images, masks and boxes (torchvision's ``affine`` / ``rotate``).

The matrix is torchvision's: ``M = T * C * R(angle) * S(scale) * Shear * C^-1`` about ``center`` (the image
centre by default), positive angles turning counter-clockwise for ``rotate`` and clockwise for
``affine`` (torchvision's own inconsistency, kept).  Images are sampled at the inverse-mapped pixel
centres with ``grid_sample(..., align_corners=False)`` arithmetic: nearest (round half to even) or
bilinear, zeros outside unless ``fill`` is given (bilinear blends the fill with the coverage of in-image
neighbours).  Boxes map their four corners and take the enclosing box, clamped to the canvas;
``expand=True`` grows the canvas to hold the whole turned image.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ... import tv_tensors as tvt
from ._meta import _clamp_boxes, _convert_boxes
from ._resize import InterpolationMode
from ._utils import _as_mask3, _boxes_parts, _image_array, _interpolation, _kind, _mask_array, _round_to

__all__ = ["affine", "rotate"]

_F = tvt.BoundingBoxFormat


def _affine_matrix(center, angle, translate, scale, shear, inverted=True):
    """torchvision's 2x3 affine matrix as six floats (the inverse one for sampling images)."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -(a * math.tan(sx) + math.sin(rot))
    c = math.sin(rot - sy) / math.cos(sy)
    d = math.cos(rot) - c * math.tan(sx)
    if inverted:
        m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
        m[2] += cx - m[0] * (cx + tx) - m[1] * (cy + ty)
        m[5] += cy - m[3] * (cx + tx) - m[4] * (cy + ty)
    else:
        m = [a * scale, b * scale, 0.0, c * scale, d * scale, 0.0]
        m[2] += cx + tx - m[0] * cx - m[1] * cy
        m[5] += cy + ty - m[3] * cx - m[4] * cy
    return m


def _expanded_size(matrix, w, h):
    """Canvas (width, height) that holds the whole warped image (torchvision's float32 computation, with
    its 1e-4 truncation so that 1e-15 noise does not add a pixel)."""
    f = np.float32
    half_w, half_h = f(0.5 * w), f(0.5 * h)
    pts = np.array([[-half_w, -half_h, 1], [-half_w, half_h, 1], [half_w, half_h, 1], [half_w, -half_h, 1]], dtype=f)
    theta = np.asarray(matrix, dtype=f).reshape(2, 3)
    new = pts @ theta.T
    lo = new.min(0) + np.array([half_w, half_h], dtype=f)
    hi = new.max(0) + np.array([half_w, half_h], dtype=f)
    tol, inv = f(1e-4), f(1.0 / 1e-4)
    cmax = np.ceil(np.trunc(hi * inv) * tol)
    cmin = np.floor(np.trunc(lo * inv) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _check_fill(fill, channels, where):
    if fill is None:
        return None
    if isinstance(fill, numbers.Number):
        return [float(fill)]
    vals = [float(v) for v in fill]
    if len(vals) > 1 and len(vals) != channels:
        raise ValueError(
            f"{where}: fill has {len(vals)} values but the image has {channels} channels (give one value or one per "
            f"channel)"
        )
    return vals


def _grid_sample(image, matrix, out_h, out_w, mode, fill, where):
    """Sample ``image`` (..., C, H, W) at the points the inverse ``matrix`` sends the output pixels to."""
    shape = image.shape
    c, h, w = shape[-3:]
    if image.size == 0:
        return np.zeros(shape[:-2] + (out_h, out_w), dtype=image.dtype)
    fill = _check_fill(fill, c, where)
    fp = image.dtype.kind == "f"
    dt = image.dtype.type if fp else np.float32
    # torch's grid: pixel centres relative to the output centre, mapped by theta and normalised by the
    # input size, then unnormalised by grid_sample: x_in = (g + 1) * (W / 2) - 0.5
    theta = np.asarray(matrix, dtype=dt).reshape(2, 3)
    resc = (theta.T / np.array([0.5 * w, 0.5 * h], dtype=dt)).astype(dt)
    bx = (np.arange(out_w, dtype=dt) - dt((out_w - 1) * 0.5))[None, :]
    by = (np.arange(out_h, dtype=dt) - dt((out_h - 1) * 0.5))[:, None]
    gx = bx * resc[0, 0] + by * resc[1, 0] + resc[2, 0]
    gy = bx * resc[0, 1] + by * resc[1, 1] + resc[2, 1]
    ix = (gx + dt(1)) * dt(w / 2) - dt(0.5)
    iy = (gy + dt(1)) * dt(h / 2) - dt(0.5)
    img = image.reshape((-1, c, h, w))
    n = img.shape[0]
    flat = (img if fp else img.astype(dt)).reshape(n * c, h * w)
    fill_vec = None if fill is None else np.broadcast_to(np.asarray(fill, dtype=dt), (c,))
    if mode is InterpolationMode.NEAREST:
        xi = np.rint(ix).astype(np.int64).ravel()
        yi = np.rint(iy).astype(np.int64).ravel()
        outside = (xi < 0) | (xi >= w) | (yi < 0) | (yi >= h)
        index = np.minimum(np.maximum(yi, 0), h - 1) * w + np.minimum(np.maximum(xi, 0), w - 1)
        vals = np.take(flat, index, axis=1).reshape(n, c, -1)
        if outside.any():
            vals[:, :, outside] = 0 if fill_vec is None else fill_vec[:, None]
        out = vals
    else:
        x0 = np.floor(ix)
        y0 = np.floor(iy)
        wx1 = (ix - x0).ravel()
        wx0 = ((x0 + 1) - ix).ravel()
        wy1 = (iy - y0).ravel()
        wy0 = ((y0 + 1) - iy).ravel()
        x0 = x0.astype(np.int64).ravel()
        y0 = y0.astype(np.int64).ravel()
        # per axis: the clamped neighbour indices and whether each neighbour lies inside the image
        cols, rows = [], []
        for base, size, lst in ((x0, w, cols), (y0, h, rows)):
            for step in (0, 1):
                pos = base + step
                lst.append((np.minimum(np.maximum(pos, 0), size - 1), (pos >= 0) & (pos < size)))
        out = None
        cover = np.zeros(x0.shape, dtype=dt) if fill_vec is not None else None
        for (yc, yok), wy in zip(rows, (wy0, wy1)):
            row_start = yc * w
            for (xc, xok), wx in zip(cols, (wx0, wx1)):
                weight = wy * wx
                weight[~(yok & xok)] = 0
                term = np.take(flat, row_start + xc, axis=1)
                term *= weight
                if out is None:
                    out = term
                else:
                    out += term
                if cover is not None:
                    cover += weight
        out = out.reshape(n, c, -1)
        if fill_vec is not None:
            f = fill_vec[:, None]
            out = (out - f) * cover + f
    out = out.reshape(n, c, out_h, out_w)
    out = out.astype(dt, copy=False)
    if not fp:
        out = _round_to(out, image.dtype)
    return out.reshape(shape[:-2] + (out_h, out_w))


def _parse_affine(angle, translate, scale, shear, where):
    if not isinstance(angle, numbers.Real):
        raise TypeError(f"{where}: angle must be a number, got {angle!r}")
    try:
        tx, ty = (float(t) for t in translate)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: translate must be a sequence of two numbers, got {translate!r}") from None
    if not isinstance(scale, numbers.Real) or scale <= 0:
        raise ValueError(f"{where}: scale must be a positive number, got {scale!r}")
    if isinstance(shear, numbers.Real):
        shear = [float(shear), 0.0]
    else:
        shear = [float(s) for s in shear]
        if len(shear) == 1:
            shear = [shear[0], shear[0]]
        if len(shear) != 2:
            raise ValueError(f"{where}: shear must be a number or a sequence of one or two numbers, got {shear!r}")
    return float(angle), [tx, ty], float(scale), shear


def _affine_image(image, angle, translate, scale, shear, mode, fill, center, where="affine"):
    h, w = image.shape[-2:]
    center_f = [0.0, 0.0] if center is None else [float(c) - s * 0.5 for c, s in zip(center, (w, h))]
    matrix = _affine_matrix(center_f, angle, translate, scale, shear)
    return _grid_sample(image, matrix, h, w, mode, fill, where)


def _affine_boxes(boxes, fmt, canvas_size, angle, translate, scale, shear, center, expand=False):
    if boxes.size == 0:
        return boxes.copy(), canvas_size
    dtype = boxes.dtype
    work = boxes.astype(np.float32) if dtype.kind != "f" else boxes
    dt = work.dtype.type
    xyxy = _convert_boxes(work, fmt, _F.XYXY).reshape(-1, 4)
    h, w = canvas_size
    if center is None:
        center = [w * 0.5, h * 0.5]
    m = np.asarray(_affine_matrix(center, angle, translate, scale, shear, inverted=False), dtype=dt).reshape(2, 3)
    pts = xyxy[:, [[0, 1], [2, 1], [2, 3], [0, 3]]].reshape(-1, 2)
    moved = (pts @ m[:, :2].T + m[:, 2]).astype(dt).reshape(-1, 4, 2)
    out = np.concatenate([moved.min(1), moved.max(1)], axis=1)
    if expand:
        corners = np.array([[0.0, 0.0], [0.0, h], [w, h], [w, 0.0]], dtype=dt)
        frame = (corners @ m[:, :2].T + m[:, 2]).astype(dt)
        out = out - np.tile(frame.min(0), 2)
        inv = _affine_matrix(center, angle, translate, scale, shear)
        new_w, new_h = _expanded_size(inv, w, h)
        canvas_size = (new_h, new_w)
    out = _clamp_boxes(out.astype(dt), _F.XYXY, canvas_size)
    out = _convert_boxes(out, _F.XYXY, fmt).reshape(boxes.shape)
    return out.astype(dtype), canvas_size


def affine(
    inpt,
    angle,
    translate,
    scale,
    shear,
    interpolation=InterpolationMode.NEAREST,
    fill=None,
    center=None,
):
    """Rotate by ``angle`` degrees (clockwise), translate by ``translate`` pixels, scale and shear
    (degrees, x and y) about ``center`` (default: the image centre).  Images: nearest or bilinear,
    ``fill`` outside; masks: nearest; boxes: enclosing box of the moved corners, clamped."""
    where = "affine"
    angle, translate, scale, shear = _parse_affine(angle, translate, scale, shear, where)
    mode = _interpolation(interpolation, where, (InterpolationMode.NEAREST, InterpolationMode.BILINEAR))
    kind = _kind(inpt)
    if kind == "boxes":
        boxes, fmt, cs = _boxes_parts(inpt, where)
        out, _ = _affine_boxes(boxes, fmt, cs, angle, translate, scale, shear, center)
        return tvt.wrap(out, like=inpt)
    if kind == "mask":
        arr, back = _mask_array(inpt)
        m, unsqueeze = _as_mask3(arr)
        out = _affine_image(m, angle, translate, scale, shear, InterpolationMode.NEAREST, fill, center, where)
        return back(unsqueeze(out))
    arr, back = _image_array(inpt, where)
    return back(_affine_image(arr, angle, translate, scale, shear, mode, fill, center, where))


def _rotate_image(image, angle, mode, expand, center, fill, where="rotate"):
    angle = angle % 360
    if center is None:  # quarter turns are exact array rotations (torchvision's fast path)
        if angle == 0:
            return image.copy()
        if angle == 180:
            return np.rot90(image, 2, axes=(-2, -1)).copy()
        if expand or image.shape[-1] == image.shape[-2]:
            if angle == 90:
                return np.rot90(image, 1, axes=(-2, -1)).copy()
            if angle == 270:
                return np.rot90(image, 3, axes=(-2, -1)).copy()
    h, w = image.shape[-2:]
    center_f = [0.0, 0.0] if center is None else [float(c) - s * 0.5 for c, s in zip(center, (w, h))]
    matrix = _affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    out_w, out_h = _expanded_size(matrix, w, h) if expand else (w, h)
    return _grid_sample(image, matrix, out_h, out_w, mode, fill, where)


def rotate(inpt, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None):
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (default: the image centre);
    ``expand=True`` enlarges the canvas to hold the whole image."""
    where = "rotate"
    if not isinstance(angle, numbers.Real):
        raise TypeError(f"{where}: angle must be a number, got {angle!r}")
    angle = float(angle)
    mode = _interpolation(interpolation, where, (InterpolationMode.NEAREST, InterpolationMode.BILINEAR))
    kind = _kind(inpt)
    if kind == "boxes":
        boxes, fmt, cs = _boxes_parts(inpt, where)
        out, cs = _affine_boxes(boxes, fmt, cs, -angle, [0.0, 0.0], 1.0, [0.0, 0.0], center, expand)
        return tvt.wrap(out, like=inpt, canvas_size=cs)
    if kind == "mask":
        arr, back = _mask_array(inpt)
        m, unsqueeze = _as_mask3(arr)
        return back(unsqueeze(_rotate_image(m, angle, InterpolationMode.NEAREST, expand, center, fill)))
    arr, back = _image_array(inpt, where)
    return back(_rotate_image(arr, angle, mode, expand, center, fill))
