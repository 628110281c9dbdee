"""Detection-level transforms that combine several samples: Mosaic (YOLOv4/YOLOv5) and Copy-Paste
(Ghiasi et al., 2021).

A sample is ``(image, target)``: the image ``(C, H, W)`` (NumPy array, :class:`~deepnotes.data.tv_tensors.Image`
or deepnotes Tensor) and the target a dict with ``'boxes'`` (:class:`~deepnotes.data.tv_tensors.BoundingBoxes`,
or a plain ``(N, 4)`` array read as XYXY pixels), ``'labels'`` ``(N,)`` and optionally ``'masks'`` (``(N, H, W)``
instance masks).  The result is one sample of the same kind; its target holds ``'boxes'`` (BoundingBoxes in the
input's format, on the new canvas), ``'labels'`` and, when the inputs had them, ``'masks'``.  Other target keys
are not carried over (their meaning after the transform is unknown).

Boxes derived from masks are the masks' tight boxes in pixel-edge coordinates: a mask covering columns
``x0..x1`` gets ``x1 + 1`` as its right edge (the COCO convention, ``pycocotools.mask.toBbox``).

Randomness comes from deepnotes' seeded generator (``deepnotes.manual_seed``) unless a
``numpy.random.Generator`` is given.  ``make_params`` draws the parameters and ``transform`` applies given
ones, so every random choice can be fixed.
"""

from __future__ import annotations

import math

import numpy as np

from ...random import default_generator
from ...tensor import Tensor
from ..tv_tensors import BoundingBoxes, BoundingBoxFormat, Image, Mask

__all__ = ["Mosaic", "CopyPaste", "masks_to_tight_boxes"]

_INTERPOLATIONS = ("nearest", "bilinear")


# ------------------------------------------------------------------ helpers
def _generator(generator, where):
    if generator is None:
        return default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"{where}: generator must be a numpy.random.Generator or None, got {type(generator).__name__}")


def _array(x):
    if isinstance(x, Tensor):
        return x.detach().numpy()
    return np.asarray(x).view(np.ndarray)


def _to_xyxy(boxes, fmt):
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if fmt is BoundingBoxFormat.XYWH:
        return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
    if fmt is BoundingBoxFormat.CXCYWH:
        return np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], axis=1)
    return b


def _from_xyxy(b, fmt):
    if fmt is BoundingBoxFormat.XYWH:
        return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
    if fmt is BoundingBoxFormat.CXCYWH:
        return np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], axis=1)
    return b


def masks_to_tight_boxes(masks):
    """Tight XYXY boxes ``(N, 4)`` of ``(N, H, W)`` masks in pixel-edge coordinates (``x2`` is one past the
    last column the mask covers, as COCO's ``toBbox``), and a bool ``(N,)`` saying which masks are non-empty
    (the box of an empty mask is all zeros)."""
    m = np.asarray(masks).astype(bool)
    n = m.shape[0]
    boxes = np.zeros((n, 4), dtype=np.float64)
    cols, rows = m.any(axis=1), m.any(axis=2)  # (N, W), (N, H)
    present = cols.any(axis=1)
    if present.any():
        w, h = m.shape[2], m.shape[1]
        c, r = cols[present], rows[present]
        boxes[present, 0] = c.argmax(axis=1)
        boxes[present, 2] = w - c[:, ::-1].argmax(axis=1)
        boxes[present, 1] = r.argmax(axis=1)
        boxes[present, 3] = h - r[:, ::-1].argmax(axis=1)
    return boxes, present


def _resize(arr, out_h, out_w, mode):
    """Resize the last two axes of ``arr`` to (out_h, out_w): 'nearest' as torch's (source index
    floor(i * in / out)) or 'bilinear' with half-pixel centres (torch's align_corners=False)."""
    h, w = arr.shape[-2:]
    if (h, w) == (out_h, out_w):
        return arr.copy()
    if mode == "nearest":
        rows = np.minimum(np.floor(np.arange(out_h) * (h / out_h)).astype(np.intp), h - 1)
        cols = np.minimum(np.floor(np.arange(out_w) * (w / out_w)).astype(np.intp), w - 1)
        return arr[..., rows[:, None], cols[None, :]]

    def axis_weights(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        lo = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    y0, y1, fy = axis_weights(h, out_h)
    x0, x1, fx = axis_weights(w, out_w)
    a = arr.astype(np.float64)
    top = a[..., y0, :] * (1 - fy)[:, None] + a[..., y1, :] * fy[:, None]
    out = top[..., x0] * (1 - fx) + top[..., x1] * fx
    if arr.dtype.kind in "iub":
        info = np.iinfo(arr.dtype) if arr.dtype.kind != "b" else None
        out = np.rint(out)
        if info is not None:
            out = np.clip(out, info.min, info.max)
    return out.astype(arr.dtype)


def _paste(canvas, patch, ox, oy):
    """Copy ``patch`` (..., h, w) into ``canvas`` (..., H, W) with its top-left corner at (ox, oy), clipped
    to the canvas; returns the canvas window (x1, y1, x2, y2) that was written."""
    H, W = canvas.shape[-2:]
    h, w = patch.shape[-2:]
    x1, y1, x2, y2 = max(ox, 0), max(oy, 0), min(ox + w, W), min(oy + h, H)
    if x2 > x1 and y2 > y1:
        canvas[..., y1:y2, x1:x2] = patch[..., y1 - oy : y2 - oy, x1 - ox : x2 - ox]
    return x1, y1, max(x2, x1), max(y2, y1)


def _check_sample(sample, where, need_masks=False):
    """Validate one (image, target) pair; returns (image array, xyxy boxes, labels, masks or None, format)."""
    if not (isinstance(sample, (tuple, list)) and len(sample) == 2 and isinstance(sample[1], dict)):
        raise ValueError(f"{where}: each sample must be an (image, target dict) pair, got {type(sample).__name__}")
    image, target = sample
    img = _array(image)
    if img.ndim != 3:
        raise ValueError(f"{where}: expected an image of shape (C, H, W), got shape {img.shape}")
    if img.shape[0] not in (1, 3, 4) and img.shape[-1] in (1, 3, 4):
        raise ValueError(
            f"{where}: the image of shape {img.shape} looks channels-last (H, W, C); expected channels first (C, H, W)"
        )
    H, W = img.shape[1:]
    if "boxes" not in target or "labels" not in target:
        raise ValueError(f"{where}: the target needs 'boxes' and 'labels', got keys {sorted(target)}")
    raw = target["boxes"]
    fmt = raw.format if isinstance(raw, BoundingBoxes) else BoundingBoxFormat.XYXY
    b = _array(raw)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{where}: boxes must have shape (N, 4), got {b.shape}")
    if isinstance(raw, BoundingBoxes) and tuple(raw.canvas_size) != (H, W):
        raise ValueError(f"{where}: the boxes' canvas_size {raw.canvas_size} differs from the image size {(H, W)}")
    xyxy = _to_xyxy(b, fmt)
    if xyxy.size and (
        (xyxy[:, 2] < xyxy[:, 0]).any()
        or (xyxy[:, 3] < xyxy[:, 1]).any()
        or xyxy[:, [0, 2]].min() < -1e-6
        or xyxy[:, [1, 3]].min() < -1e-6
        or xyxy[:, [0, 2]].max() > W + 1e-6
        or xyxy[:, [1, 3]].max() > H + 1e-6
    ):
        raise ValueError(
            f"{where}: boxes must be valid and inside the {H}x{W} canvas in format {fmt.value}; got (as XYXY) "
            f"x from {xyxy[:, [0, 2]].min():g} to {xyxy[:, [0, 2]].max():g}, y from {xyxy[:, [1, 3]].min():g} "
            f"to {xyxy[:, [1, 3]].max():g}"
        )
    labels = _array(target["labels"])
    if labels.ndim != 1 or labels.shape[0] != xyxy.shape[0]:
        raise ValueError(
            f"{where}: got {xyxy.shape[0]} boxes but labels of shape {labels.shape}; expected one label per box"
        )
    masks = target.get("masks")
    if masks is not None:
        masks = _array(masks)
        if masks.shape != (xyxy.shape[0], H, W):
            raise ValueError(
                f"{where}: masks must have shape (N, H, W) = {(xyxy.shape[0], H, W)} (one per box, image size), "
                f"got {masks.shape}"
            )
    elif need_masks:
        raise ValueError(f"{where}: the target needs instance 'masks' (N, H, W)")
    return img, xyxy, labels, masks, fmt


def _image_like(array, original):
    if isinstance(original, Tensor):
        return Tensor(array)
    if isinstance(original, Image):
        return Image(array)
    return array


def _target(xyxy, labels, masks, fmt, canvas, mask_dtype):
    out = {
        "boxes": BoundingBoxes(_from_xyxy(xyxy, fmt), format=fmt, canvas_size=canvas),
        "labels": labels,
    }
    if masks is not None:
        out["masks"] = Mask(masks.astype(mask_dtype, copy=False))
    return out


def _check_pair(value, name, where, low=None):
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be a pair (low, high), got {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b) and a <= b) or (low is not None and a < low):
        bound = f" with low >= {low}" if low is not None else ""
        raise ValueError(f"{where}: {name} must be finite numbers low <= high{bound}, got {value!r}")
    return a, b


# ------------------------------------------------------------------ Mosaic
class Mosaic:
    """Four (image, target) samples stitched into one canvas of ``output_size`` (H, W) around a random centre
    (YOLOv5's ``load_mosaic``, with the canvas playing the part of its 2s x 2s mosaic).

    The centre is drawn uniformly: x in ``center_range`` times W/2, y in ``center_range`` times H/2 (YOLOv5:
    (0.5, 1.5), so the centre stays in the middle half).  Image ``i`` is scaled to fit a quadrant (long side
    W/2 or H/2, as YOLOv5 resizes each image to the side s) times a random factor from ``scale_range``, and put
    with its bottom-right, bottom-left, top-right or top-left corner on the centre (images 0-3: top-left,
    top-right, bottom-left, bottom-right quadrant).  Boxes move with their image and are clipped to the
    canvas; a box is dropped with its label and mask when its width or height is at most ``min_size`` pixels
    or less than ``min_area_ratio`` of its scaled area stays visible (the size and area rules of YOLOv5's
    box candidates; its aspect-ratio limit is not applied).  With masks,
    each box becomes the tight box of its moved mask, and the visible share is counted in mask pixels.

    ``Mosaic(...)(samples)`` takes a sequence of four samples.
    """

    def __init__(
        self,
        output_size,
        center_range=(0.5, 1.5),
        scale_range=(0.5, 1.5),
        min_size=2.0,
        min_area_ratio=0.1,
        fill=0,
        interpolation="bilinear",
        generator=None,
    ):
        try:
            h, w = (int(v) for v in ((output_size, output_size) if np.isscalar(output_size) else output_size))
        except (TypeError, ValueError):
            raise ValueError(f"Mosaic: output_size must be an int or (height, width), got {output_size!r}") from None
        if h < 2 or w < 2:
            raise ValueError(f"Mosaic: output_size must be at least 2x2, got {(h, w)}")
        self.output_size = (h, w)
        self.center_range = _check_pair(center_range, "center_range", "Mosaic", low=0.0)
        if self.center_range[1] > 2.0:
            raise ValueError(
                f"Mosaic: center_range must lie in [0, 2] (fractions of half the side), got {center_range}"
            )
        self.scale_range = _check_pair(scale_range, "scale_range", "Mosaic")
        if self.scale_range[0] <= 0:
            raise ValueError(f"Mosaic: scale_range must be positive, got {scale_range}")
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f"Mosaic: interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}")
        if min_size < 0 or not 0 <= min_area_ratio <= 1:
            raise ValueError(
                f"Mosaic: min_size must be >= 0 and min_area_ratio in [0, 1], got {min_size} and {min_area_ratio}"
            )
        self.min_size, self.min_area_ratio = float(min_size), float(min_area_ratio)
        self.fill, self.interpolation, self.generator = fill, interpolation, generator

    def __repr__(self):
        return (
            f"Mosaic(output_size={self.output_size}, center_range={self.center_range}, scale_range={self.scale_range})"
        )

    def make_params(self, sizes):
        """Random parameters for four images of ``sizes`` [(h, w)] * 4: ``{'center': (xc, yc), 'sizes':
        [(new_h, new_w)] * 4}`` (the centre drawn first, x then y, then the four scale factors)."""
        gen = _generator(self.generator, "Mosaic")
        H, W = self.output_size
        lo, hi = self.center_range
        xc = int(gen.uniform(lo * W / 2, hi * W / 2))
        yc = int(gen.uniform(lo * H / 2, hi * H / 2))
        factors = gen.uniform(self.scale_range[0], self.scale_range[1], size=4)
        new = []
        for (h, w), f in zip(sizes, factors):
            fit = min(H / 2 / h, W / 2 / w) * f
            new.append((max(1, int(round(h * fit))), max(1, int(round(w * fit)))))
        return {"center": (xc, yc), "sizes": new}

    def __call__(self, samples):
        checked = self._check(samples)
        params = self.make_params([c[0].shape[1:] for c in checked])
        return self._apply(samples, checked, params)

    def transform(self, samples, params):
        """Stitch ``samples`` with given ``params`` (as returned by :meth:`make_params`)."""
        return self._apply(samples, self._check(samples), params)

    def _check(self, samples):
        if not isinstance(samples, (tuple, list)) or len(samples) != 4:
            got = len(samples) if isinstance(samples, (tuple, list)) else type(samples).__name__
            raise ValueError(f"Mosaic: expected a sequence of 4 (image, target) samples, got {got}")
        checked = [_check_sample(s, "Mosaic") for s in samples]
        channels = {c[0].shape[0] for c in checked}
        dtypes = {c[0].dtype for c in checked}
        if len(channels) > 1 or len(dtypes) > 1:
            raise ValueError(
                f"Mosaic: the four images must share channels and dtype, got channels {sorted(channels)} and "
                f"dtypes {sorted(map(str, dtypes))}"
            )
        with_masks = {c[3] is not None for c in checked}
        if len(with_masks) > 1:
            raise ValueError("Mosaic: either all four targets have 'masks' or none has")
        return checked

    def _apply(self, samples, checked, params):
        H, W = self.output_size
        xc, yc = params["center"]
        first = checked[0]
        canvas = np.full((first[0].shape[0], H, W), self.fill, dtype=first[0].dtype)
        use_masks = first[3] is not None
        mask_dtype = first[3].dtype if use_masks else None
        all_boxes, all_labels, all_masks = [], [], []
        for i, ((img, xyxy, labels, masks, _), (nh, nw)) in enumerate(zip(checked, params["sizes"])):
            h, w = img.shape[1:]
            ox = xc - nw if i in (0, 2) else xc
            oy = yc - nh if i in (0, 1) else yc
            _paste(canvas, _resize(img, nh, nw, self.interpolation), ox, oy)
            sx, sy = nw / w, nh / h
            scaled = xyxy * np.array([sx, sy, sx, sy]) + np.array([ox, oy, ox, oy])
            if use_masks:
                placed = np.zeros((len(labels), H, W), dtype=bool)
                moved = _resize(masks.astype(bool), nh, nw, "nearest")
                _paste(placed, moved, ox, oy)
                boxes, present = masks_to_tight_boxes(placed)
                full = moved.sum(axis=(1, 2))
                visible = placed.sum(axis=(1, 2))
                ratio = np.where(full > 0, visible / np.maximum(full, 1), 0.0)
                keep = present & (ratio >= self.min_area_ratio)
                all_masks.append(placed)
            else:
                full_area = (scaled[:, 2] - scaled[:, 0]) * (scaled[:, 3] - scaled[:, 1])
                boxes = scaled.copy()
                boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, W)
                boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, H)
                area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
                keep = area >= self.min_area_ratio * full_area
            wide = (boxes[:, 2] - boxes[:, 0] > self.min_size) & (boxes[:, 3] - boxes[:, 1] > self.min_size)
            keep = keep & wide
            all_boxes.append(boxes[keep])
            all_labels.append(labels[keep])
            if use_masks:
                all_masks[-1] = all_masks[-1][keep]
        labels = np.concatenate(all_labels)
        masks = np.concatenate(all_masks) if use_masks else None
        target = _target(np.concatenate(all_boxes), labels, masks, first[4], (H, W), mask_dtype)
        return _image_like(canvas, samples[0][0]), target


# ------------------------------------------------------------------ Copy-Paste
class CopyPaste:
    """Simple Copy-Paste (Ghiasi et al., 2021): instances of a source sample pasted onto a destination sample.

    ``CopyPaste(...)(destination, source)``.  The source image and its masks are rescaled by a random factor
    from ``scale_range`` (the paper's large scale jitter, 0.1-2.0), flipped horizontally with probability
    ``flip_p``, and placed at a random offset on a canvas of the destination's size (a random crop when larger,
    a random position when smaller).  A random non-empty subset of the source instances that remain visible is
    pasted: their pixels replace the destination's.  The destination's masks lose the pasted pixels
    (occlusion); their boxes are recomputed from the masks, and instances left with fewer than ``min_area``
    pixels (fully occluded by default) are dropped with their labels.  Pasted instances get the tight boxes of
    their masks and their source labels, after the destination's.  Both samples need instance masks.

    The paper jitters and flips both images; here the destination is taken as it comes, so put the usual
    single-image scale jitter and flip before CopyPaste in the pipeline.  The paper's optional Gaussian
    smoothing of the pasted edges (which it found not to help) is not done: pasted pixels replace the
    destination's outright, so the masks describe the image exactly.
    """

    def __init__(self, scale_range=(0.1, 2.0), flip_p=0.5, min_area=1, interpolation="bilinear", generator=None):
        self.scale_range = _check_pair(scale_range, "scale_range", "CopyPaste")
        if self.scale_range[0] <= 0:
            raise ValueError(f"CopyPaste: scale_range must be positive, got {scale_range}")
        if not 0.0 <= float(flip_p) <= 1.0:
            raise ValueError(f"CopyPaste: flip_p must be a probability in [0, 1], got {flip_p}")
        if int(min_area) != min_area or min_area < 1:
            raise ValueError(f"CopyPaste: min_area must be a positive pixel count, got {min_area}")
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f"CopyPaste: interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}")
        self.flip_p, self.min_area = float(flip_p), int(min_area)
        self.interpolation, self.generator = interpolation, generator

    def __repr__(self):
        return f"CopyPaste(scale_range={self.scale_range}, flip_p={self.flip_p}, min_area={self.min_area})"

    def make_params(self, dst_size, src_size, num_instances):
        """Random parameters: ``{'size': (new_h, new_w), 'flip': bool, 'offset': (ox, oy), 'order': a
        permutation of the source instances, 'count': how many of them to try}``; the pasted ones are the
        first ``count`` of ``order`` that are still visible after the jitter."""
        gen = _generator(self.generator, "CopyPaste")
        H, W = (int(v) for v in dst_size)
        h, w = (int(v) for v in src_size)
        f = gen.uniform(*self.scale_range)
        nh, nw = max(1, int(round(h * f))), max(1, int(round(w * f)))
        flip = bool(gen.random() < self.flip_p)
        ox = int(gen.integers(min(0, W - nw), max(0, W - nw) + 1))
        oy = int(gen.integers(min(0, H - nh), max(0, H - nh) + 1))
        order = gen.permutation(num_instances)
        count = int(gen.integers(1, num_instances + 1)) if num_instances else 0
        return {"size": (nh, nw), "flip": flip, "offset": (ox, oy), "order": order, "count": count}

    def __call__(self, destination, source):
        dst = _check_sample(destination, "CopyPaste", need_masks=True)
        src = _check_sample(source, "CopyPaste", need_masks=True)
        params = self.make_params(dst[0].shape[1:], src[0].shape[1:], len(src[2]))
        return self._apply(destination, dst, src, params)

    def transform(self, destination, source, params):
        """Paste with given ``params`` (as returned by :meth:`make_params`)."""
        dst = _check_sample(destination, "CopyPaste", need_masks=True)
        src = _check_sample(source, "CopyPaste", need_masks=True)
        return self._apply(destination, dst, src, params)

    def _apply(self, destination, dst, src, params):
        d_img, _, d_labels, d_masks, fmt = dst
        s_img, _, s_labels, s_masks, _ = src
        if s_img.shape[0] != d_img.shape[0]:
            raise ValueError(
                f"CopyPaste: the source has {s_img.shape[0]} channels and the destination {d_img.shape[0]}; "
                "they must match"
            )
        H, W = d_img.shape[1:]
        nh, nw = params["size"]
        ox, oy = params["offset"]
        jittered = _resize(s_img, nh, nw, self.interpolation).astype(d_img.dtype)
        jmasks = _resize(s_masks.astype(bool), nh, nw, "nearest")
        if params["flip"]:
            jittered, jmasks = jittered[..., ::-1], jmasks[..., ::-1]
        src_canvas = np.zeros_like(d_img)
        _paste(src_canvas, jittered, ox, oy)
        placed = np.zeros((len(s_labels), H, W), dtype=bool)
        _paste(placed, jmasks, ox, oy)
        order = [int(i) for i in params["order"][: params["count"]]]
        chosen = [i for i in order if placed[i].sum() >= self.min_area]
        pasted = placed[chosen]
        alpha = pasted.any(axis=0)
        image = np.where(alpha[None], src_canvas, d_img)
        kept_masks = d_masks.astype(bool) & ~alpha[None]
        survive = kept_masks.sum(axis=(1, 2)) >= self.min_area
        masks = np.concatenate([kept_masks[survive], pasted])
        labels = np.concatenate([d_labels[survive], s_labels[chosen].astype(d_labels.dtype)])
        boxes, _ = masks_to_tight_boxes(masks)
        target = _target(boxes, labels, masks, fmt, (H, W), d_masks.dtype)
        return _image_like(image, destination[0]), target
