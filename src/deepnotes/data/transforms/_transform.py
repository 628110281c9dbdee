"""The ``Transform`` base class: one draw of random parameters applied to every typed element of a
sample (torchvision.transforms.v2's model).

A sample is any nesting of tuples, lists and dicts.  Its leaves are sorted by type:
:class:`~deepnotes.data.tv_tensors.Image`, :class:`~deepnotes.data.tv_tensors.Mask` and
:class:`~deepnotes.data.tv_tensors.BoundingBoxes` are transformed; a plain array or deepnotes Tensor is
transformed as an image only if the sample holds no ``Image`` and it is the first such leaf (v2's rule,
so ``(image, label_array)`` works); everything else (ints, strings, label arrays) passes through.

``make_params(flat_inputs)`` draws the random parameters once per call (from deepnotes' seeded
generator, so ``deepnotes.manual_seed`` and the DataLoader's worker seeding reproduce a pipeline), and
``transform(inpt, params)`` applies them to one leaf.  Call ``make_params`` yourself and then
``transform`` to apply fixed parameters.
"""

from __future__ import annotations

import numbers

import numpy as np

from ... import random as _random
from .. import tv_tensors as tvt
from .functional._meta import _convert_boxes
from .functional._utils import _check_layout, _is_tensor, _kind, is_pure_image

__all__ = ["Transform"]


def _flatten(obj):
    """(leaves, spec) of nested tuples, lists and dicts; arrays and everything else are leaves."""
    if isinstance(obj, np.ndarray) or _is_tensor(obj):
        return [obj], None
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        leaves, specs = _flatten_seq(obj)
        return leaves, ("namedtuple", type(obj), specs)
    if isinstance(obj, (tuple, list)):
        leaves, specs = _flatten_seq(obj)
        return leaves, (type(obj), specs)
    if isinstance(obj, dict):
        leaves, specs = _flatten_seq(list(obj.values()))
        return leaves, ("dict", type(obj), list(obj.keys()), specs)
    return [obj], None


def _flatten_seq(items):
    leaves, specs = [], []
    for item in items:
        sub, spec = _flatten(item)
        leaves.extend(sub)
        specs.append((len(sub), spec))
    return leaves, specs


def _unflatten(leaves, spec):
    if spec is None:
        return leaves[0]
    if spec[0] == "dict":
        _, cls, keys, specs = spec
        values = _unflatten_seq(leaves, specs)
        out = cls() if cls is not dict else {}
        for k, v in zip(keys, values):
            out[k] = v
        return out
    if spec[0] == "namedtuple":
        return spec[1](*_unflatten_seq(leaves, spec[2]))
    cls, specs = spec
    return cls(_unflatten_seq(leaves, specs))


def _unflatten_seq(leaves, specs):
    out, pos = [], 0
    for n, spec in specs:
        out.append(_unflatten(leaves[pos : pos + n], spec))
        pos += n
    return out


def _leaf_size(inpt):
    kind = _kind(inpt)
    if kind == "boxes":
        return tuple(inpt.canvas_size), "BoundingBoxes canvas_size"
    if kind == "mask":
        return tuple(inpt.shape[-2:]), "Mask"
    arr = np.asarray(inpt.detach().numpy()) if _is_tensor(inpt) else inpt
    return tuple(arr.shape[-2:]), "image"


def query_size(flat_inputs, where="transform"):
    """The (height, width) shared by every image, mask and box canvas of a sample."""
    sizes = {}
    for inpt in flat_inputs:
        if _kind(inpt) is not None:
            size, what = _leaf_size(inpt)
            sizes.setdefault(size, what)
    if not sizes:
        raise TypeError(f"{where}: no image, mask or bounding boxes found in the sample")
    if len(sizes) > 1:
        found = ", ".join(f"{what} {size}" for size, what in sizes.items())
        raise ValueError(f"{where}: the image, masks and boxes of a sample must share one (height, width); got {found}")
    return next(iter(sizes))


def query_chw(flat_inputs, where="transform"):
    """(channels, height, width) of the sample's image."""
    h, w = query_size(flat_inputs, where)
    for inpt in flat_inputs:
        if _kind(inpt) == "image":
            arr = np.asarray(inpt.detach().numpy()) if _is_tensor(inpt) else inpt
            return int(arr.shape[-3]), h, w
    raise TypeError(f"{where}: no image found in the sample")


def _check_boxes(boxes, where):
    arr = boxes.view(np.ndarray).reshape(-1, 4)
    if arr.size == 0:
        return
    if not np.isfinite(arr).all():
        raise ValueError(f"{where}: bounding boxes must be finite, got {arr[~np.isfinite(arr).all(1)][0].tolist()}")
    fmt = boxes.format
    if fmt is tvt.BoundingBoxFormat.XYXY:
        bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{where}: boxes in format XYXY need x1 <= x2 and y1 <= y2, got box {i} = {arr[i].tolist()}; are they "
                f"in another format (XYWH, CXCYWH)?"
            )
    else:
        bad = (arr[:, 2] < 0) | (arr[:, 3] < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{where}: boxes in format {fmt.value} need a non-negative width and height, got box {i} = "
                f"{arr[i].tolist()}; are they in format XYXY?"
            )
    h, w = boxes.canvas_size
    xyxy = _convert_boxes(arr.astype(np.float64), fmt, tvt.BoundingBoxFormat.XYXY)
    outside = (xyxy[:, 0] > w) | (xyxy[:, 1] > h) | (xyxy[:, 2] < 0) | (xyxy[:, 3] < 0)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{where}: box {i} = {arr[i].tolist()} ({fmt.value}) lies entirely outside its canvas (height, width) = "
            f"{(h, w)}; wrong canvas_size, or coordinates normalised to [0, 1]?"
        )


class Transform:
    """Base class: subclasses set ``make_params`` (random draws, once per call) and ``transform`` (one
    leaf).  ``transform`` is only called on the leaves that need it (see the module's notes)."""

    #: validate boxes (format consistency, inside the canvas) before transforming them
    _check_box_inputs = True

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        flat, spec = _flatten(sample)
        needs = self._needs_transform_list(flat)
        todo = [x for x, n in zip(flat, needs) if n]
        self.check_inputs(todo)
        params = self.make_params(todo)
        out = [self.transform(x, params) if n else x for x, n in zip(flat, needs)]
        return _unflatten(out, spec)

    forward = __call__

    @property
    def _name(self):
        return type(self).__name__

    def _needs_transform_list(self, flat):
        has_image = any(isinstance(x, tvt.Image) for x in flat)
        pure_left = not has_image
        needs = []
        for x in flat:
            kind = _kind(x)
            if kind is None:
                needs.append(False)
            elif is_pure_image(x):
                needs.append(pure_left)
                pure_left = False
            else:
                needs.append(True)
        return needs

    def check_inputs(self, flat_inputs):
        """Clear errors for malformed samples, naming the transform (see the subclasses' needs)."""
        for x in flat_inputs:
            kind = _kind(x)
            if kind == "image":
                arr = np.asarray(x.detach().numpy()) if _is_tensor(x) else x.view(np.ndarray)
                _check_layout(arr, self._name)
            elif kind == "boxes" and self._check_box_inputs:
                _check_boxes(x, self._name)
        if len(flat_inputs) > 1 and self._needs_size():
            query_size(flat_inputs, self._name)

    def _needs_size(self):
        return True

    def make_params(self, flat_inputs):
        """The random parameters of one call (empty for deterministic transforms)."""
        return {}

    def transform(self, inpt, params):
        raise NotImplementedError(f"{self._name}: transform() is not implemented")

    @staticmethod
    def _rng():
        return _random.default_generator()

    def extra_repr(self):
        parts = []
        for k, v in self.__dict__.items():
            if k.startswith("_") or not isinstance(v, (bool, numbers.Number, str, tuple, list, type(None))):
                continue
            parts.append(f"{k}={v!r}")
        return ", ".join(parts)

    def __repr__(self):
        return f"{self._name}({self.extra_repr()})"


class _RandomApplyTransform(Transform):
    """A transform applied with probability ``p`` (one uniform draw per call, before the parameters)."""

    def __init__(self, p=0.5):
        if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        flat, spec = _flatten(sample)
        needs = self._needs_transform_list(flat)
        todo = [x for x, n in zip(flat, needs) if n]
        self.check_inputs(todo)
        if self._rng().random() >= self.p:
            return sample
        params = self.make_params(todo)
        out = [self.transform(x, params) if n else x for x, n in zip(flat, needs)]
        return _unflatten(out, spec)

    forward = __call__


def _setup_size(size, where, name="size"):
    if isinstance(size, numbers.Integral):
        return [int(size), int(size)]
    vals = [int(v) for v in size]
    if len(vals) == 1:
        return [vals[0], vals[0]]
    if len(vals) != 2:
        raise ValueError(f"{where}: {name} must be an int or (height, width), got {size!r}")
    return vals


def _range(value, where, name, center=None, bound=(0.0, float("inf")), clip_first=True):
    """(lo, hi) from a number v (-> [center - v, center + v]) or a pair, checked against ``bound``."""
    if isinstance(value, numbers.Real):
        if value < 0:
            raise ValueError(f"{where}: if {name} is a single number, it must be non-negative, got {value}")
        lo, hi = (center - value, center + value) if center is not None else (-value, value)
        if clip_first:
            lo = max(lo, 0.0) if bound[0] == 0.0 else lo
    else:
        vals = [float(v) for v in value]
        if len(vals) != 2:
            raise ValueError(f"{where}: {name} must be a number or a (min, max) pair, got {value!r}")
        lo, hi = vals
    if not bound[0] <= lo <= hi <= bound[1]:
        raise ValueError(
            f"{where}: {name} values must satisfy {bound[0]} <= min <= max <= {bound[1]}, got ({lo}, {hi})"
        )
    return float(lo), float(hi)
