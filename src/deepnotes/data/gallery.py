"""A gallery of augmentations: one image (with its boxes, for a detection sample) under each transform of
:mod:`deepnotes.data.transforms`, several random draws each, drawn as a PNG grid (``deepnotes augment``).

Sources of the image:

* ``"digits"``: a training image of the bundled digits (:class:`~deepnotes.data.Digits`, grey, 32x32).
* ``"shapes"``: a detection sample with boxes.  When :class:`deepnotes.data.datasets.Shapes` (the generated
  detection set) is importable its sample is used; otherwise :func:`generated_shapes` draws one here:
  rectangles and discs of random colours on a dark, slightly noisy background, each with the tight box of
  its pixels (``BoundingBoxes`` in XYXY).  Boxes follow every geometric transform and
  ``SanitizeBoundingBoxes`` drops those that leave the canvas or shrink below a pixel.

Every row is drawn after ``deepnotes.manual_seed(seed)``, so a row depends only on the seed and its
transform, not on which other transforms were asked for.
"""

from __future__ import annotations

import difflib

import numpy as np

from .. import random as _random
from ..errors import OptionError, UnknownNameError, require
from . import transforms as T
from .tv_tensors import BoundingBoxes

__all__ = ["GALLERY_TRANSFORMS", "DATASETS", "resolve_transforms", "generated_shapes", "gallery", "save_gallery"]

DATASETS = ("digits", "shapes")


def _side(h, w):
    return max(1, min(h, w))


# name -> factory(height, width) of the transform shown under that name; the settings are strong enough to
# see at a glance, and probabilistic transforms are applied on every draw (p = 1)
GALLERY_TRANSFORMS = {
    "RandomResizedCrop": lambda h, w: T.RandomResizedCrop((h, w), scale=(0.3, 1.0)),
    "RandomScaleCrop": lambda h, w: T.RandomScaleCrop(side=(0.6, 1.0)),
    "RandomCrop": lambda h, w: T.RandomCrop((h, w), padding=_side(h, w) // 8),
    "RandomHorizontalFlip": lambda h, w: T.RandomHorizontalFlip(p=1.0),
    "RandomVerticalFlip": lambda h, w: T.RandomVerticalFlip(p=1.0),
    "RandomRotation": lambda h, w: T.RandomRotation(30, interpolation=T.InterpolationMode.BILINEAR),
    "RandomAffine": lambda h, w: T.RandomAffine(
        degrees=15, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=10, interpolation=T.InterpolationMode.BILINEAR
    ),
    "ColorJitter": lambda h, w: T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
    "GaussianNoise": lambda h, w: T.GaussianNoise(sigma=0.08),
    "GaussianBlur": lambda h, w: T.GaussianBlur(kernel_size=5, sigma=(0.1, 2.0)),
    "RandomErasing": lambda h, w: T.RandomErasing(p=1.0, value="random"),
    "Cutout": lambda h, w: T.Cutout(n_holes=1, length=max(1, _side(h, w) // 3)),
}


def resolve_transforms(names):
    """The gallery names of ``names`` (matched without regard to case; None or empty: all of them, in
    ``GALLERY_TRANSFORMS``' order).  An unknown name raises
    :class:`~deepnotes.errors.UnknownNameError` with the close matches."""
    if not names:
        return list(GALLERY_TRANSFORMS)
    by_lower = {k.lower(): k for k in GALLERY_TRANSFORMS}
    out = []
    for name in names:
        key = str(name).lower()
        if key not in by_lower:
            near = difflib.get_close_matches(key, list(by_lower), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(by_lower[n] for n in near)}?" if near else ""
            raise UnknownNameError(f"unknown transform {name!r}{hint} (known: {', '.join(GALLERY_TRANSFORMS)})")
        out.append(by_lower[key])
    return out


def generated_shapes(seed=0, size=96, n_objects=4):
    """One generated detection sample ``(image, target)``, drawn from ``seed`` with NumPy's generator:
    ``image`` float32 (3, size, size) in [0, 1], a dark background with faint noise and ``n_objects``
    filled rectangles and discs of random bright colours (later ones may overlap earlier ones);
    ``target`` holds ``boxes`` (:class:`~deepnotes.data.tv_tensors.BoundingBoxes`, XYXY, the tight box
    of each shape's drawn pixels, in pixel-edge coordinates) and ``labels`` (0 rectangle, 1 disc)."""
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"generated_shapes: size must be an int of at least 8, got {size!r}")
    if not isinstance(n_objects, (int, np.integer)) or n_objects < 1:
        raise ValueError(f"generated_shapes: n_objects must be a positive int, got {n_objects!r}")
    rng = np.random.default_rng([int(seed), 14])
    image = 0.1 + 0.03 * rng.standard_normal((3, size, size))
    rows, cols = np.mgrid[0:size, 0:size]
    boxes, labels = [], []
    for _ in range(int(n_objects)):
        kind = int(rng.integers(0, 2))
        if kind == 0:
            h, w = (int(v) for v in rng.integers(size // 8, size // 2, size=2))
            y1, x1 = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
            mask = (rows >= y1) & (rows < y1 + h) & (cols >= x1) & (cols < x1 + w)
        else:
            r = float(rng.uniform(size / 16, size / 5))
            cy, cx = rng.uniform(r, size - r, size=2)
            mask = (rows + 0.5 - cy) ** 2 + (cols + 0.5 - cx) ** 2 <= r * r
        colour = rng.uniform(0.45, 1.0, size=3)
        image[:, mask] = colour[:, None]
        boxes.append(mask)
        labels.append(kind)
    # the boxes of the pixels each shape still shows (a later shape may cover part of an earlier one)
    visible = []
    for i, mask in enumerate(boxes):
        for later in boxes[i + 1 :]:
            mask = mask & ~later
        visible.append(mask)
    xyxy, kept = [], []
    for mask, label in zip(visible, labels):
        ys, xs = np.nonzero(mask)
        if len(ys):
            xyxy.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            kept.append(label)
    target = {
        "boxes": BoundingBoxes(np.asarray(xyxy, np.float32).reshape(-1, 4), format="XYXY", canvas_size=(size, size)),
        "labels": np.asarray(kept, np.int64),
    }
    return np.clip(image, 0.0, 1.0).astype(np.float32), target


def _shapes_sample(index):
    """Sample ``index`` of ``deepnotes.data.datasets.Shapes`` when that set exists, else None."""
    try:
        from .datasets import Shapes
    except ImportError:
        return None
    image, target = Shapes()[index]
    boxes = target["boxes"]
    image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    if not isinstance(boxes, BoundingBoxes):
        boxes = BoundingBoxes(np.asarray(boxes, np.float32), format="XYXY", canvas_size=image.shape[-2:])
    return image.astype(np.float32), {"boxes": boxes, "labels": np.asarray(target["labels"])}


def _source(dataset, index):
    if dataset == "digits":
        from .datasets import Digits

        digits = Digits(train=True)
        if not 0 <= index < len(digits):
            raise OptionError(f"gallery: index {index} is outside the {len(digits)} training digits")
        return digits[index][0], None, "bundled digits"
    if dataset == "shapes":
        sample = _shapes_sample(index)
        if sample is not None:
            return sample[0], sample[1], "deepnotes.data.datasets.Shapes"
        image, target = generated_shapes(seed=index)
        return image, target, "generated rectangles and discs"
    raise UnknownNameError(f"gallery: unknown dataset {dataset!r} (known: {', '.join(DATASETS)})")


def gallery(dataset="digits", transforms=None, draws=4, seed=0, index=0):
    """The cells of the gallery, without drawing them.

    Returns:
        (source, rows): ``source`` names where the image came from; ``rows`` is a list of ``(name,
        cells)``, the first named ``"original"`` with the untouched sample, then one per transform with
        ``draws`` cells.  A cell is ``(image, boxes)``: ``image`` float (C, H, W), ``boxes`` an (n, 4)
        XYXY array in that image's pixels, or None for a sample without boxes.
    """
    if not isinstance(draws, (int, np.integer)) or isinstance(draws, bool) or draws < 1:
        raise ValueError(f"gallery: draws must be a positive int, got {draws!r}")
    names = resolve_transforms(transforms)
    image, target, source = _source(dataset, int(index))
    h, w = image.shape[-2:]

    def cell(img, tgt):
        boxes = None if tgt is None else np.asarray(tgt["boxes"], np.float64).reshape(-1, 4)
        return np.asarray(img, np.float64), boxes

    rows = [("original", [cell(image, target)])]
    for name in names:
        transform = GALLERY_TRANSFORMS[name](h, w)
        if target is not None:
            transform = T.Compose([transform, T.SanitizeBoundingBoxes()])
        _random.manual_seed(int(seed))
        cells = []
        for _ in range(int(draws)):
            if target is None:
                cells.append(cell(transform(image.copy()), None))
            else:
                out_image, out_target = transform(image.copy(), dict(target))
                cells.append(cell(out_image, out_target))
        rows.append((name, cells))
    return source, rows


def _display(image):
    """(H, W) or (H, W, 3) in [0, 1] for imshow."""
    image = np.clip(image, 0.0, 1.0)
    return image[0] if image.shape[0] == 1 else np.moveaxis(image[:3], 0, -1)


def save_gallery(path, dataset="digits", transforms=None, draws=4, seed=0, index=0):
    """Draw :func:`gallery` as a PNG grid at ``path``: one row per transform (the original first), its
    name on the left, boxes as red outlines; needs matplotlib (the ``plot`` extra).  Returns
    ``(source, number of transform rows)``."""
    matplotlib = require("matplotlib", "the augmentation gallery", "plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    source, rows = gallery(dataset, transforms, draws, seed, index)
    n_cols = max(len(cells) for _, cells in rows)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.6 * n_cols + 1.2, 1.6 * len(rows)), squeeze=False)
    for r, (name, cells) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(cells):
                ax.axis("off")
                continue
            image, boxes = cells[c]
            ax.imshow(_display(image), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            for x1, y1, x2, y2 in [] if boxes is None else boxes:
                ax.add_patch(
                    Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor="red", linewidth=1)
                )
            if c == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.suptitle(f"{source}: seed {seed}, {draws} draws per transform", fontsize=9)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return source, len(rows) - 1
