"""Shapes: a generated object-detection data set that needs no download (issue 15).

Every image is drawn from its own random stream, ``numpy.random.default_rng([seed, index])``, so sample
``i`` is the same on every machine, in every worker process and in any access order, and two data sets
with different seeds do not share images (train on ``seed=0``, validate on ``seed=1``).

An image (default 128 x 128, RGB, float32 in [0, 1]) holds 1 to 8 objects of five classes

    1 circle   2 square   3 triangle   4 cross   5 ring       (label 0 is the background, as in torchvision)

with random colours, rotations and sizes spread over COCO's three area ranges (small: area < 32^2,
medium: 32^2 <= area < 96^2, large: area >= 96^2, with ``area`` the number of visible mask pixels as in
COCO; a large object may run over the image border and is then truncated).  Objects are painted in
decreasing size, so later (smaller) ones may hide parts of earlier ones; an object that keeps less than
a quarter of its pixels (or fewer than 12) visible is removed from the scene altogether, so every
annotated object can be seen.  Backgrounds are flat, a colour gradient, a smooth random texture or
stripes, and Gaussian pixel noise covers everything.

A sample is ``(image, target)`` with ``image`` a :class:`~deepnotes.data.tv_tensors.Image` of shape
``(3, H, W)`` and ``target`` a dict in torchvision's detection layout:

* ``boxes``: :class:`~deepnotes.data.tv_tensors.BoundingBoxes` ``(N, 4)`` float32, XYXY, the tight box of
  each *visible* mask in pixel-edge coordinates: a mask whose pixels span columns ``x0..x1`` and rows
  ``y0..y1`` has the box ``[x0, y0, x1 + 1, y1 + 1]`` (so a one-pixel mask has a 1 x 1 box);
* ``labels``: int64 ``(N,)`` in 1..5; ``masks``: :class:`~deepnotes.data.tv_tensors.Mask` ``(N, H, W)`` bool;
* ``iscrowd``: int64 zeros ``(N,)``; ``area``: float32 ``(N,)`` visible mask pixels; ``image_id``: the index.

``transforms(image, target) -> (image, target)`` is applied last (box-aware transforms plug in here).
:meth:`Shapes.to_coco` writes the ground truth as a COCO JSON file, and :func:`detection_collate` is the
DataLoader ``collate_fn`` that keeps a batch as lists (images of a detection batch may differ in size).
"""

from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np

from ..dataset import Dataset
from ..tv_tensors import BoundingBoxes, Image, Mask

__all__ = ["Shapes", "detection_collate"]

CLASSES = ("circle", "square", "triangle", "cross", "ring")

# a size class draws the object's full mask area (pixels, at 128 x 128; scaled with the image) from a
# range inside COCO's class: small < 32^2 <= medium < 96^2 <= large
_AREA_RANGES = {"small": (50.0, 900.0), "medium": (1200.0, 8000.0), "large": (12000.0, 15500.0)}
# mask area per squared circumradius, by class (circle, square, triangle, cross, ring)
_AREA_FACTOR = (math.pi, 2.0, 3 * math.sqrt(3) / 4, 8 * 0.3 / math.sqrt(1.09) - 4 * 0.09, math.pi * (1 - 0.55**2))
_MIN_VISIBLE_FRACTION = 0.25
_MIN_VISIBLE_PIXELS = 12


def _positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"Shapes: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _shape_mask(kind, u, v, r):
    """Inside test of a shape of radius ``r`` in its own rotated coordinates ``(u, v)``."""
    if kind == "circle":
        return u * u + v * v <= r * r
    if kind == "square":
        a = r / math.sqrt(2.0)  # the corners touch the circle of radius r
        return (np.abs(u) <= a) & (np.abs(v) <= a)
    if kind == "triangle":
        # equilateral, circumradius r, one vertex at angle 90 degrees: three half-planes at distance r/2
        inside = np.ones(u.shape, dtype=bool)
        for k in range(3):
            ang = math.pi / 2 + math.pi + 2 * math.pi * k / 3  # outward normal opposite vertex k
            inside &= u * math.cos(ang) + v * math.sin(ang) <= r / 2
        return inside
    if kind == "cross":
        w = 0.3 * r
        a = r / math.sqrt(1 + 0.09)  # bar ends (a, w) lie on the circle of radius r
        au, av = np.abs(u), np.abs(v)
        return ((au <= a) & (av <= w)) | ((au <= w) & (av <= a))
    if kind == "ring":
        d2 = u * u + v * v
        return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
    raise AssertionError(kind)


def _background(rng, h, w):
    kind = rng.choice(["flat", "gradient", "texture", "stripes"])
    base = rng.uniform(0.0, 1.0, size=3)
    if kind == "flat":
        img = np.broadcast_to(base[:, None, None], (3, h, w)).copy()
    elif kind == "gradient":
        other = rng.uniform(0.0, 1.0, size=3)
        ang = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:h, 0:w]
        t = (np.cos(ang) * xx / max(w - 1, 1) + np.sin(ang) * yy / max(h - 1, 1)) * 0.5 + 0.5
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-9)
        img = base[:, None, None] * (1 - t) + other[:, None, None] * t
    elif kind == "texture":
        cells = int(rng.integers(4, 12))
        coarse = rng.uniform(-0.25, 0.25, size=(3, cells + 1, cells + 1))
        ys = np.linspace(0, cells, h)
        xs = np.linspace(0, cells, w)
        y0 = np.minimum(ys.astype(int), cells - 1)
        x0 = np.minimum(xs.astype(int), cells - 1)
        fy = (ys - y0)[:, None]
        fx = (xs - x0)[None, :]
        c00 = coarse[:, y0][:, :, x0]
        c01 = coarse[:, y0][:, :, x0 + 1]
        c10 = coarse[:, y0 + 1][:, :, x0]
        c11 = coarse[:, y0 + 1][:, :, x0 + 1]
        smooth = (c00 * (1 - fx) + c01 * fx) * (1 - fy) + (c10 * (1 - fx) + c11 * fx) * fy
        img = base[:, None, None] + smooth
    else:  # stripes
        period = rng.uniform(6, 24)
        ang = rng.uniform(0, math.pi)
        yy, xx = np.mgrid[0:h, 0:w]
        s = 0.5 + 0.5 * np.sin(2 * math.pi * (np.cos(ang) * xx + np.sin(ang) * yy) / period)
        amp = rng.uniform(0.05, 0.2)
        img = base[:, None, None] + amp * (s[None] - 0.5)
    return np.clip(img, 0.0, 1.0)


def _contrasting_colour(rng, background_mean):
    for _ in range(20):
        colour = rng.uniform(0.0, 1.0, size=3)
        if np.abs(colour - background_mean).max() >= 0.35:
            return colour
    return np.where(background_mean > 0.5, 0.0, 1.0)  # the far corner of the colour cube


def _tight_box(mask):
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return [float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)]


def _rle(mask):
    """COCO's uncompressed RLE of a 2-D bool mask: run lengths in column-major order, starting with
    a run of zeros."""
    flat = np.asarray(mask, dtype=np.uint8).ravel(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0] + counts
    return {"counts": counts, "size": [int(mask.shape[0]), int(mask.shape[1])]}


class Shapes(Dataset):
    """The generated detection data set described in the module docstring.

    Args:
        num_images: number of images (the data set's length).
        image_size: ``H = W`` of the square images, or ``(H, W)``; at least 32.
        min_objects, max_objects: bounds of the number of objects drawn per image (inclusive; objects
            too hidden to see are then removed, but never the last one).
        seed: the data set's seed; image ``i`` comes from ``default_rng([seed, i])``.
        transforms: optional ``transforms(image, target) -> (image, target)``.
        noise: standard deviation range ``(lo, hi)`` of the Gaussian pixel noise.
        size_weights: relative frequencies of drawing a small, medium and large object (at most one
            large object per image; a second one is drawn medium).  The defaults give about 50 % small,
            45 % medium and 2-3 % large annotations by visible area (large objects lose area to the
            objects painted over them); ``(0, 1, 1)`` makes an easier set without small objects.
    """

    classes = CLASSES
    num_classes = len(CLASSES) + 1  # with the background, as torchvision's detectors count them

    def __init__(
        self,
        num_images=1000,
        image_size=128,
        min_objects=1,
        max_objects=8,
        seed=0,
        transforms=None,
        noise=(0.01, 0.06),
        size_weights=(0.45, 0.4, 0.15),
    ):
        self.num_images = _positive_int(num_images, "num_images", 0)
        if isinstance(image_size, (tuple, list)):
            if len(image_size) != 2:
                raise ValueError(f"Shapes: image_size must be an int or (height, width), got {image_size!r}")
            h, w = (_positive_int(s, "image_size", 32) for s in image_size)
        else:
            h = w = _positive_int(image_size, "image_size", 32)
        self.image_size = (h, w)
        self.min_objects = _positive_int(min_objects, "min_objects")
        self.max_objects = _positive_int(max_objects, "max_objects")
        if self.max_objects < self.min_objects:
            raise ValueError(f"Shapes: max_objects ({max_objects}) must be >= min_objects ({min_objects})")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"Shapes: seed must be a non-negative int, got {seed!r}")
        self.seed = int(seed)
        if transforms is not None and not callable(transforms):
            raise TypeError(f"Shapes: transforms should be callable or None, got {type(transforms).__name__}")
        self.transforms = transforms
        lo, hi = noise
        if not 0 <= lo <= hi:
            raise ValueError(f"Shapes: noise must be a range (lo, hi) with 0 <= lo <= hi, got {noise!r}")
        self.noise = (float(lo), float(hi))
        weights = np.asarray(size_weights, dtype=np.float64)
        if weights.shape != (3,) or not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(
                f"Shapes: size_weights must be three non-negative numbers (small, medium, large) with a positive "
                f"sum, got {size_weights!r}"
            )
        self.size_weights = tuple(float(w) for w in weights / weights.sum())

    def __len__(self):
        return self.num_images

    def __repr__(self):
        h, w = self.image_size
        return f"Shapes(num_images={self.num_images}, image_size=({h}, {w}), seed={self.seed})"

    # ------------------------------------------------------------------ generation
    def _index(self, index):
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"Shapes: index must be an int, got {type(index).__name__}")
        i = int(index)
        if i < 0:
            i += self.num_images
        if not 0 <= i < self.num_images:
            raise IndexError(f"Shapes: index {index} is out of range for {self.num_images} images")
        return i

    def _objects(self, rng):
        """Random object parameters, largest first: (kind index, centre x, centre y, radius, angle)."""
        h, w = self.image_size
        scale = min(h, w) / 128.0
        n = int(rng.integers(self.min_objects, self.max_objects + 1))
        names = ["small", "medium", "large"]
        probs = np.array(self.size_weights)
        objects = []
        has_large = False
        for _ in range(n):
            size = names[int(rng.choice(len(names), p=probs))]
            if size == "large":
                if has_large:  # one large object per image leaves room for the others
                    size = "medium"
                has_large = True
            kind = int(rng.integers(len(CLASSES)))
            lo, hi = _AREA_RANGES[size]
            area = math.exp(rng.uniform(math.log(lo), math.log(hi))) * scale * scale
            r = math.sqrt(area / _AREA_FACTOR[kind])
            if size == "large":
                # the centre stays in the middle third; the shape may run over the border (truncated)
                cx = rng.uniform(w / 3, 2 * w / 3)
                cy = rng.uniform(h / 3, 2 * h / 3)
                for _ in range(2):  # grow it until its part inside the image has the drawn area
                    inside = int(self._full_mask((kind, cx, cy, r, 0.0)).sum())
                    if inside == 0:
                        break
                    r = min(r * math.sqrt(area / inside), 0.75 * min(h, w))
            else:
                # the whole shape (its enclosing circle) inside the image
                r = min(r, 0.5 * min(h, w) - 1)
                cx = rng.uniform(r, w - r)
                cy = rng.uniform(r, h - r)
            angle = rng.uniform(0, 2 * math.pi)
            objects.append((kind, cx, cy, r, angle))
        objects.sort(key=lambda o: -o[3])
        return objects

    def _full_mask(self, obj):
        h, w = self.image_size
        kind, cx, cy, r, angle = obj
        x0, x1 = max(int(math.floor(cx - r)) - 1, 0), min(int(math.ceil(cx + r)) + 1, w)
        y0, y1 = max(int(math.floor(cy - r)) - 1, 0), min(int(math.ceil(cy + r)) + 1, h)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        dx = xx + 0.5 - cx  # pixel centres
        dy = yy + 0.5 - cy
        c, s = math.cos(angle), math.sin(angle)
        u = c * dx + s * dy
        v = -s * dx + c * dy
        mask = np.zeros((h, w), dtype=bool)
        mask[y0:y1, x0:x1] = _shape_mask(CLASSES[kind], u, v, r)
        return mask

    def generate(self, index):
        """The raw sample ``index``: ``(image (3, H, W) float32, labels, masks (N, H, W) bool)``."""
        i = self._index(index)
        rng = np.random.default_rng([self.seed, i])
        h, w = self.image_size
        image = _background(rng, h, w)
        for _ in range(100):  # a scene whose every shape misses the canvas (a ring around it) is redrawn
            objects = self._objects(rng)
            full = [self._full_mask(o) for o in objects]
            if any(m.any() for m in full):
                break
        colours = [_contrasting_colour(rng, image.reshape(3, -1).mean(axis=1)) for _ in objects]
        keep = [m.any() for m in full]
        # painter's order: an object is hidden by every kept object painted after it; dropping a hidden
        # object only uncovers others, so one pass from the top down settles the visible set
        visible = [None] * len(objects)
        cover = np.zeros((h, w), dtype=bool)
        for k in range(len(objects) - 1, -1, -1):
            if not keep[k]:
                continue
            vis = full[k] & ~cover
            n_vis = int(vis.sum())
            if n_vis < max(_MIN_VISIBLE_PIXELS, _MIN_VISIBLE_FRACTION * int(full[k].sum())):
                if sum(keep) > 1:
                    keep[k] = False
                    continue
            visible[k] = vis
            cover |= full[k]
        labels, masks = [], []
        for k, obj in enumerate(objects):
            if not keep[k]:
                continue
            image[:, full[k]] = colours[k][:, None]
            labels.append(obj[0] + 1)
            masks.append(visible[k])
        sigma = rng.uniform(*self.noise)
        image = np.clip(image + rng.normal(0.0, sigma, size=image.shape), 0.0, 1.0).astype(np.float32)
        masks = np.stack(masks) if masks else np.zeros((0, h, w), dtype=bool)
        return image, np.asarray(labels, dtype=np.int64), masks

    def target(self, index, labels, masks):
        """The target dict of sample ``index`` from its labels and visible masks."""
        h, w = self.image_size
        boxes = np.array([_tight_box(m) for m in masks], dtype=np.float32).reshape(-1, 4)
        return {
            "boxes": BoundingBoxes(boxes, format="XYXY", canvas_size=(h, w)),
            "labels": labels,
            "masks": Mask(masks),
            "iscrowd": np.zeros(len(labels), dtype=np.int64),
            "area": masks.reshape(len(labels), -1).sum(axis=1).astype(np.float32),
            "image_id": self._index(index),
        }

    def __getitem__(self, index):
        image, labels, masks = self.generate(index)
        target = self.target(index, labels, masks)
        image = Image(image)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    # ------------------------------------------------------------------ COCO export
    def coco_dict(self, indices=None):
        """The ground truth as a COCO data set dict (untransformed samples): ``images``, ``annotations``
        (``bbox`` ``[x, y, w, h]``, ``area`` = visible mask pixels, ``iscrowd`` 0, ``segmentation`` as
        uncompressed RLE) and ``categories`` (ids 1..5, the labels).  Image ids are the indices."""
        h, w = self.image_size
        idx = range(self.num_images) if indices is None else [self._index(i) for i in indices]
        images, annotations = [], []
        ann_id = 1  # pycocotools reserves id 0 for "unmatched"
        for i in idx:
            _, labels, masks = self.generate(i)
            images.append({"id": i, "width": w, "height": h, "file_name": f"shapes_{self.seed}_{i:06d}.png"})
            for label, mask in zip(labels.tolist(), masks):
                x0, y0, x1, y1 = _tight_box(mask)
                annotations.append(
                    {
                        "id": ann_id,
                        "image_id": i,
                        "category_id": int(label),
                        "bbox": [x0, y0, x1 - x0, y1 - y0],
                        "area": float(mask.sum()),
                        "iscrowd": 0,
                        "segmentation": _rle(mask),
                    }
                )
                ann_id += 1
        categories = [{"id": k + 1, "name": name, "supercategory": "shape"} for k, name in enumerate(CLASSES)]
        info = {"description": f"deepnotes Shapes, seed {self.seed}", "version": "1"}
        return {"info": info, "images": images, "annotations": annotations, "categories": categories}

    def to_coco(self, path, indices=None):
        """Write :meth:`coco_dict` to ``path`` as JSON (atomically: a temporary file, then a rename);
        returns the path."""
        data = self.coco_dict(indices)
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".shapes-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        return path


def detection_collate(batch):
    """DataLoader ``collate_fn`` for detection: ``[(image, target), ...] -> (images, targets)`` as two
    tuples (torchvision's detection references do ``tuple(zip(*batch))``); images are not stacked,
    since a detection batch may mix sizes, and targets stay dicts of per-image arrays."""
    if not isinstance(batch, (list, tuple)) or len(batch) == 0:
        raise ValueError(f"detection_collate: expected a non-empty list of (image, target) samples, got {batch!r}")
    for k, sample in enumerate(batch):
        if not isinstance(sample, (list, tuple)) or len(sample) != 2:
            raise ValueError(
                f"detection_collate: sample {k} should be an (image, target) pair, got {type(sample).__name__}"
            )
    images, targets = zip(*batch)
    return tuple(images), tuple(targets)
