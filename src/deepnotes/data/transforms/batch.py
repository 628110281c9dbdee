"""Batch-level transforms: MixUp, CutMix (soft targets) and label smoothing as a target transform.

Shaped like ``torchvision.transforms.v2.MixUp`` / ``CutMix``: they act on a whole batch, images
``(N, C, H, W)`` and integer labels ``(N,)`` (or probabilities ``(N, num_classes)``), and pair each
sample with the batch rolled by one (sample ``i`` with sample ``i - 1``), so the batch should be
shuffled.  One mixing weight ``lam ~ Beta(alpha, alpha)`` is drawn per batch from deepnotes' seeded
generator (``deepnotes.manual_seed`` reproduces it).  The labels come back as soft targets: sample
``i`` gets ``lam * onehot(y_i) + (1 - lam) * onehot(y_{i-1})``, rows summing to 1, ready for
``cross_entropy`` with probability targets.

* MixUp blends whole images: ``lam * x_i + (1 - lam) * x_{i-1}``.
* CutMix pastes a rectangle of ``x_{i-1}`` into ``x_i``.  The rectangle has sides ``sqrt(1 - lam)``
  times the image's, centred on a uniformly drawn pixel and clipped to the image; the label weight is
  recomputed from the pasted area after clipping, so it equals the share of pixels each image keeps.

``make_params`` draws the random parameters and ``transform`` applies given ones, as in torchvision,
so a test (or a user) can fix them.

Two places to run them: ``Trainer(..., batch_transform=CutMix(num_classes=10))`` (applied to every
training batch in the main process), or the loader's collate function,
``DataLoader(ds, batch_size=32, shuffle=True, collate_fn=lambda b: cutmix(*default_collate(b)))``.

:class:`LabelSmoothing` turns an integer label into the smoothed distribution
``(1 - eps) * onehot(y) + eps / C``; cross entropy against it equals torch's
``cross_entropy(..., label_smoothing=eps)`` (the class form of ``deepnotes.nn.functional.smooth_labels``,
for a data set's ``target_transform``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ...random import default_generator
from ...tensor import Tensor
from ..tv_tensors import BoundingBoxes, Image, Mask, TVTensor

__all__ = ["MixUp", "CutMix", "LabelSmoothing", "cutmix_box"]


def _generator(generator, where):
    if generator is None:
        return default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"{where}: generator must be a numpy.random.Generator or None, got {type(generator).__name__}")


def _is_array(x):
    """A plain array or tensor (not a typed box/mask): the things that can be images or labels."""
    return isinstance(x, (np.ndarray, Tensor)) and not isinstance(x, (BoundingBoxes, Mask))


def _data(x):
    return x.detach().numpy() if isinstance(x, Tensor) else np.asarray(x).view(np.ndarray)


def _like(array, original):
    """``array`` returned as the kind of container ``original`` was (Tensor, Image or plain array)."""
    if isinstance(original, Tensor):
        return Tensor(array)
    if isinstance(original, Image):
        return Image(array)
    return array


def _flatten(obj):
    """Leaves of nested tuples/lists/dicts, and a function that rebuilds the structure from new leaves."""
    kind = type(obj)
    if isinstance(obj, (tuple, list, Mapping)):
        keys = list(obj) if isinstance(obj, Mapping) else list(range(len(obj)))
        parts = [_flatten(obj[k]) for k in keys]
        leaves = [leaf for p in parts for leaf in p[0]]

        def rebuild(new):
            out, i = [], 0
            for p_leaves, p_rebuild in parts:
                out.append(p_rebuild(new[i : i + len(p_leaves)]))
                i += len(p_leaves)
            if isinstance(obj, Mapping):
                return dict(zip(keys, out)) if kind is dict else kind(zip(keys, out))
            return kind(out) if kind in (tuple, list) else kind(*out)  # a namedtuple takes fields

        return leaves, rebuild
    return [obj], lambda new: new[0]


def _default_labels(inputs, where):
    """torchvision's heuristic: the second item of a pair, itself or the 'labels' (or first
    label-like) entry of a dict; or the 'labels' entry of a dict given alone."""
    item = inputs[1] if isinstance(inputs, (tuple, list)) and len(inputs) > 1 else inputs
    if _is_array(item):
        return item
    if isinstance(item, Mapping):
        keys = [k for k in item if isinstance(k, str) and k.lower() == "labels"]
        keys = keys or [k for k in item if isinstance(k, str) and "label" in k.lower()]
        if keys:
            return item[keys[0]]
    raise ValueError(
        f"{where}: cannot find the labels; pass (images, labels), (images, {{'labels': ...}}) or a "
        f"labels_getter callable, got {type(inputs).__name__}"
    )


class _MixBase:
    """What MixUp and CutMix share: parameters, finding labels and images, mixing the labels."""

    def __init__(self, *, alpha=1.0, num_classes=None, labels_getter="default", generator=None):
        name = type(self).__name__
        alpha = float(alpha)
        if not (alpha > 0 and math.isfinite(alpha)):
            raise ValueError(f"{name}: alpha must be a positive finite number (Beta(alpha, alpha)), got {alpha}")
        is_int = isinstance(num_classes, (int, np.integer)) and not isinstance(num_classes, bool)
        if num_classes is not None and not (is_int and num_classes >= 1):
            raise ValueError(f"{name}: num_classes must be a positive int or None, got {num_classes!r}")
        if labels_getter != "default" and not callable(labels_getter):
            raise ValueError(f"{name}: labels_getter must be 'default' or a callable, got {labels_getter!r}")
        self.alpha = alpha
        self.num_classes = None if num_classes is None else int(num_classes)
        self.labels_getter = labels_getter
        self.generator = generator

    def __repr__(self):
        return f"{type(self).__name__}(alpha={self.alpha}, num_classes={self.num_classes})"

    def _draw_lam(self, gen):
        return float(gen.beta(self.alpha, self.alpha))

    def _check_labels(self, labels):
        name = type(self).__name__
        if not _is_array(labels):
            raise ValueError(f"{name}: the labels must be an array or Tensor, got {type(labels).__name__}")
        y = _data(labels)
        if y.ndim not in (1, 2):
            raise ValueError(
                f"{name}: labels must be class indices of shape (batch_size,) or probabilities of shape "
                f"(batch_size, num_classes), got shape {y.shape}"
            )
        if y.ndim == 1:
            if self.num_classes is None:
                raise ValueError(f"{name}: num_classes must be given when the labels are class indices (1-D)")
            if y.dtype.kind not in "iu":
                raise ValueError(f"{name}: 1-D labels must be integer class indices, got dtype {y.dtype}")
            if y.size and (y.min() < 0 or y.max() >= self.num_classes):
                raise ValueError(
                    f"{name}: labels must lie in [0, {self.num_classes}), got values from {y.min()} to {y.max()}"
                )
        elif self.num_classes is not None and y.shape[1] != self.num_classes:
            raise ValueError(
                f"{name}: 2-D labels must have num_classes={self.num_classes} columns, got shape {y.shape}"
            )
        return y

    def _mix_labels(self, y, lam):
        if y.ndim == 1:
            onehot = np.zeros((y.shape[0], self.num_classes), dtype=np.float32)
            onehot[np.arange(y.shape[0]), y] = 1.0
            y = onehot
        elif y.dtype.kind != "f":
            y = y.astype(np.float32)
        return np.roll(y, 1, axis=0) * (1.0 - lam) + y * lam

    def _check_images(self, x, batch_size):
        name = type(self).__name__
        if x.ndim != 4:
            raise ValueError(f"{name}: expected a batch of images (N, C, H, W), got an array of shape {x.shape}")
        if x.shape[1] not in (1, 2, 3, 4) and x.shape[3] in (1, 3, 4):
            raise ValueError(
                f"{name}: the batch of shape {x.shape} looks channels-last (N, H, W, C); expected (N, C, H, W)"
            )
        if x.shape[0] != batch_size:
            raise ValueError(
                f"{name}: the images hold {x.shape[0]} samples but the labels {batch_size}; they must match"
            )

    def __call__(self, *inputs):
        name = type(self).__name__
        if not inputs:
            raise TypeError(f"{name}: expected (images, labels), got no input")
        inputs = inputs if len(inputs) > 1 else inputs[0]
        leaves, rebuild = _flatten(inputs)
        if any(isinstance(leaf, (BoundingBoxes, Mask)) for leaf in leaves):
            raise ValueError(f"{name}: works on image batches and labels only, not on bounding boxes or masks")
        labels = self.labels_getter(inputs) if callable(self.labels_getter) else _default_labels(inputs, name)
        y = self._check_labels(labels)
        # the images: every Image, or else the first plain array that is not the labels (torchvision's rule)
        has_image = any(isinstance(leaf, Image) for leaf in leaves)
        targets = []
        for i, leaf in enumerate(leaves):
            if leaf is labels:
                continue
            if isinstance(leaf, Image) or (not has_image and _is_array(leaf) and not isinstance(leaf, TVTensor)):
                targets.append(i)
                if not has_image:
                    break
        if not targets:
            raise ValueError(f"{name}: found no image batch beside the labels")
        for i in targets:
            self._check_images(_data(leaves[i]), y.shape[0])
        params = self.make_params(_data(leaves[targets[0]]).shape[-2:])
        out = list(leaves)
        for i, leaf in enumerate(leaves):
            if leaf is labels:
                out[i] = self.transform_labels(labels, params)
            elif i in targets:
                out[i] = self.transform(leaf, params)
        return rebuild(out)

    def transform_labels(self, labels, params):
        """The soft targets for ``labels`` under ``params`` (same container kind as ``labels``)."""
        y = self._check_labels(labels)
        soft = self._mix_labels(y, params[self._label_weight])
        return Tensor(soft) if isinstance(labels, Tensor) else soft


class MixUp(_MixBase):
    """MixUp (Zhang et al., 2018) on a batch: ``MixUp(alpha=1.0, num_classes=10)(images, labels)``
    returns ``(lam * x + (1 - lam) * x.roll(1), soft targets)``.

    Images must be floating point (convert integer images first).  Soft targets are float32 for
    integer labels (as torchvision's), the labels' own dtype for probability labels.
    """

    _label_weight = "lam"

    def make_params(self, size=None):
        """``{'lam': lam}``, lam drawn from Beta(alpha, alpha); ``size`` (H, W) is not used."""
        return {"lam": self._draw_lam(_generator(self.generator, "MixUp"))}

    def transform(self, images, params):
        """Mix a batch ``(N, C, H, W)`` with itself rolled by one sample using ``params['lam']``."""
        x = _data(images)
        if x.dtype.kind != "f":
            raise ValueError(
                f"MixUp: images must be floating point (blending integers would round), got dtype {x.dtype}; "
                "convert them to float first"
            )
        if x.ndim != 4:
            raise ValueError(f"MixUp: expected a batch of images (N, C, H, W), got an array of shape {x.shape}")
        lam = float(params["lam"])
        return _like(np.roll(x, 1, axis=0) * (1.0 - lam) + x * lam, images)


def cutmix_box(lam, center_x, center_y, height, width):
    """The CutMix rectangle for ``lam`` centred on pixel (center_x, center_y) of a height x width
    image: half-sides ``int(sqrt(1 - lam) / 2 * side)``, clipped to the image.  Returns
    ``((x1, y1, x2, y2), lam_adjusted)`` with ``lam_adjusted = 1 - pasted area / image area``."""
    half = 0.5 * math.sqrt(1.0 - lam)
    half_w, half_h = int(half * width), int(half * height)
    x1, y1 = max(center_x - half_w, 0), max(center_y - half_h, 0)
    x2, y2 = min(center_x + half_w, width), min(center_y + half_h, height)
    box = (int(x1), int(y1), int(x2), int(y2))
    return box, float(1.0 - (x2 - x1) * (y2 - y1) / (width * height))


class CutMix(_MixBase):
    """CutMix (Yun et al., 2019) on a batch: ``CutMix(alpha=1.0, num_classes=10)(images, labels)``
    pastes a rectangle of the batch rolled by one into each image; the soft targets weigh the two
    labels by the share of pixels each image contributes (after the rectangle is clipped).

    Works on any image dtype (pixels are copied, not blended).
    """

    _label_weight = "lam_adjusted"

    def make_params(self, size):
        """``{'box': (x1, y1, x2, y2), 'lam_adjusted': ...}`` for images of ``size`` (H, W): lam from
        Beta(alpha, alpha), then the centre uniform over the pixels (x first, then y)."""
        h, w = (int(s) for s in size)
        if h < 1 or w < 1:
            raise ValueError(f"CutMix: images must have a positive height and width, got {h}x{w}")
        gen = _generator(self.generator, "CutMix")
        lam = self._draw_lam(gen)
        cx, cy = int(gen.integers(w)), int(gen.integers(h))
        box, lam_adjusted = cutmix_box(lam, cx, cy, h, w)
        return {"box": box, "lam_adjusted": lam_adjusted}

    def transform(self, images, params):
        """Paste ``params['box']`` of the batch rolled by one sample into each image."""
        x = _data(images)
        if x.ndim != 4:
            raise ValueError(f"CutMix: expected a batch of images (N, C, H, W), got an array of shape {x.shape}")
        x1, y1, x2, y2 = params["box"]
        out = x.copy()
        out[..., y1:y2, x1:x2] = np.roll(x, 1, axis=0)[..., y1:y2, x1:x2]
        return _like(out, images)


class LabelSmoothing:
    """Target transform: class index ``y`` -> ``(1 - eps) * onehot(y) + eps / num_classes``.

    ``LabelSmoothing(num_classes=10, label_smoothing=0.1)`` takes an int, an integer array of labels
    (any shape; a class axis is appended) or probabilities whose last axis has ``num_classes``
    entries (smoothed the same way, as torch does for probability targets).  Cross entropy against the
    result equals ``torch.nn.functional.cross_entropy(logits, y, label_smoothing=eps)``; use it as a
    data set's ``target_transform`` to smooth per sample.
    """

    def __init__(self, num_classes, label_smoothing=0.1, dtype=np.float32):
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"LabelSmoothing: num_classes must be a positive int, got {num_classes!r}")
        eps = float(label_smoothing)
        if not 0.0 <= eps <= 1.0:
            raise ValueError(f"LabelSmoothing: label_smoothing must be in [0, 1], got {label_smoothing}")
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise ValueError(f"LabelSmoothing: dtype must be a floating dtype, got {dt}")
        self.num_classes, self.label_smoothing, self.dtype = int(num_classes), eps, dt

    def __repr__(self):
        return f"LabelSmoothing(num_classes={self.num_classes}, label_smoothing={self.label_smoothing})"

    def __call__(self, target):
        c, eps = self.num_classes, self.label_smoothing
        y = _data(target) if _is_array(target) else np.asarray(target)
        if y.dtype.kind == "f":
            if y.ndim == 0 or y.shape[-1] != c:
                raise ValueError(
                    f"LabelSmoothing: probability targets must have {c} entries on the last axis, got shape {y.shape}"
                )
            soft = y.astype(self.dtype) * (1.0 - eps) + eps / c
        elif y.dtype.kind in "iu":
            if y.size and (y.min() < 0 or y.max() >= c):
                raise ValueError(f"LabelSmoothing: labels must lie in [0, {c}), got values from {y.min()} to {y.max()}")
            soft = np.full(y.shape + (c,), eps / c, dtype=self.dtype)
            np.put_along_axis(soft, y[..., None].astype(np.intp), 1.0 - eps + eps / c, axis=-1)
        else:
            raise ValueError(f"LabelSmoothing: expected integer class labels or probabilities, got dtype {y.dtype}")
        return Tensor(soft) if isinstance(target, Tensor) else soft
