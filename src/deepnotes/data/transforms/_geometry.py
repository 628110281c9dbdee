"""Geometric transforms: resize, crops, pad, flips, rotation and affine warps (torchvision v2 names,
parameters and parameter distributions).  Images, masks and boxes of one sample move together."""

from __future__ import annotations

import math
import numbers

from .. import tv_tensors as tvt
from . import functional as F
from ._transform import Transform, _RandomApplyTransform, _range, _setup_size, query_size
from .functional._geometry import _MODES, _parse_padding
from .functional._utils import InterpolationMode, _interpolation

__all__ = [
    "Resize",
    "RandomResize",
    "RandomResizedCrop",
    "RandomCrop",
    "RandomScaleCrop",
    "CenterCrop",
    "Pad",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "RandomRotation",
    "RandomAffine",
]


def _fill_for(fill, inpt):
    """The fill value for this leaf: ``fill`` itself, or ``fill[type]`` when it is a dict keyed by type
    (Image, Mask) with an optional ``"others"`` entry, as torchvision."""
    if isinstance(fill, dict):
        for cls, value in fill.items():
            if isinstance(cls, type) and isinstance(inpt, cls):
                return value
        return fill.get("others", 0)
    if isinstance(inpt, tvt.Mask) and isinstance(fill, (list, tuple)):
        return 0
    return fill


class Resize(Transform):
    """Resize to ``size`` ((h, w), or an int for the smaller edge; ``max_size`` caps the longer edge)."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        if isinstance(size, numbers.Integral):
            size = [int(size)]
        elif size is not None:
            size = [int(s) for s in size]
            if len(size) not in (1, 2):
                raise ValueError(f"Resize: size must be an int or one or two ints, got {size}")
        if size is None and max_size is None:
            raise ValueError("Resize: size and max_size cannot both be None")
        self.size = size
        self.interpolation = _interpolation(interpolation, "Resize")
        self.max_size = max_size
        self.antialias = antialias

    def transform(self, inpt, params):
        return F.resize(inpt, self.size, self.interpolation, self.max_size, self.antialias)


class RandomResize(Transform):
    """Random scale (the notes' "random zoom"): resize the smaller edge to an integer drawn uniformly
    from ``[min_size, max_size)``, keeping the aspect ratio (torchvision's ``RandomResize``)."""

    def __init__(self, min_size, max_size, interpolation=InterpolationMode.BILINEAR, antialias=True):
        if not (isinstance(min_size, numbers.Integral) and isinstance(max_size, numbers.Integral)):
            raise TypeError(f"RandomResize: min_size and max_size must be ints, got {min_size!r} and {max_size!r}")
        if not 0 < min_size < max_size:
            raise ValueError(f"RandomResize: need 0 < min_size < max_size, got {min_size} and {max_size}")
        self.min_size, self.max_size = int(min_size), int(max_size)
        self.interpolation = _interpolation(interpolation, "RandomResize")
        self.antialias = antialias

    def make_params(self, flat_inputs):
        return dict(size=[int(self._rng().integers(self.min_size, self.max_size))])

    def transform(self, inpt, params):
        return F.resize(inpt, params["size"], self.interpolation, antialias=self.antialias)


class RandomResizedCrop(Transform):
    """Crop a random window of area fraction in ``scale`` and aspect ratio (log-uniform) in ``ratio``,
    then resize it to ``size`` (the Inception crop; torchvision's 10 tries, then a central crop)."""

    def __init__(
        self,
        size,
        scale=(0.08, 1.0),
        ratio=(3.0 / 4.0, 4.0 / 3.0),
        interpolation=InterpolationMode.BILINEAR,
        antialias=True,
    ):
        self.size = _setup_size(size, "RandomResizedCrop")
        self.scale = _range(scale, "RandomResizedCrop", "scale", bound=(0.0, float("inf")))
        self.ratio = _range(ratio, "RandomResizedCrop", "ratio", bound=(1e-12, float("inf")))
        self.interpolation = _interpolation(interpolation, "RandomResizedCrop")
        self.antialias = antialias

    def make_params(self, flat_inputs):
        height, width = query_size(flat_inputs, self._name)
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        rng = self._rng()
        for _ in range(10):
            target_area = area * rng.uniform(self.scale[0], self.scale[1])
            aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                i = int(rng.integers(0, height - h + 1))
                j = int(rng.integers(0, width - w + 1))
                return dict(top=i, left=j, height=h, width=w)
        in_ratio = width / height
        if in_ratio < min(self.ratio):
            w, h = width, int(round(width / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            h, w = height, int(round(height * max(self.ratio)))
        else:
            w, h = width, height
        return dict(top=(height - h) // 2, left=(width - w) // 2, height=h, width=w)

    @staticmethod
    def get_params(img, scale, ratio):
        """torchvision's static form: ``(top, left, height, width)`` of a random crop of ``img``."""
        p = RandomResizedCrop(1, scale, ratio).make_params([img])
        return p["top"], p["left"], p["height"], p["width"]

    def transform(self, inpt, params):
        return F.resized_crop(
            inpt, **params, size=self.size, interpolation=self.interpolation, antialias=self.antialias
        )


class RandomScaleCrop(Transform):
    """The notes' random crop (seed 001: "crop 0.6-1 of the picture"): a window whose sides are the
    fraction ``r ~ U(side)`` of the image's sides (the aspect ratio is kept), at a uniformly random
    position, resized back to ``size`` (default: the input's own size).

    Equivalent to ``RandomResizedCrop`` with area fraction ``r**2`` and ratio fixed to the image's.
    """

    def __init__(self, side=(0.6, 1.0), size=None, interpolation=InterpolationMode.BILINEAR, antialias=True):
        self.side = _range(side, "RandomScaleCrop", "side", bound=(1e-12, 1.0))
        self.size = None if size is None else _setup_size(size, "RandomScaleCrop")
        self.interpolation = _interpolation(interpolation, "RandomScaleCrop")
        self.antialias = antialias

    def make_params(self, flat_inputs):
        height, width = query_size(flat_inputs, self._name)
        rng = self._rng()
        r = rng.uniform(self.side[0], self.side[1])
        h = min(max(int(round(height * r)), 1), height)
        w = min(max(int(round(width * r)), 1), width)
        top = int(rng.integers(0, height - h + 1))
        left = int(rng.integers(0, width - w + 1))
        return dict(top=top, left=left, height=h, width=w, size=self.size or [height, width])

    def transform(self, inpt, params):
        return F.resized_crop(inpt, **params, interpolation=self.interpolation, antialias=self.antialias)


class RandomCrop(Transform):
    """Crop a random ``size`` window, after optional ``padding`` (and padding up to ``size`` with
    ``pad_if_needed``), as torchvision."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _setup_size(size, "RandomCrop")
        self.padding = None if padding is None else _parse_padding(padding, "RandomCrop")
        self.pad_if_needed = bool(pad_if_needed)
        if padding_mode not in _MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {', '.join(_MODES)}, got {padding_mode!r}")
        self.fill = fill
        self.padding_mode = padding_mode

    def make_params(self, flat_inputs):
        ph, pw = query_size(flat_inputs, self._name)
        if self.padding is not None:
            left, right, top, bottom = self.padding
            ph += top + bottom
            pw += left + right
        else:
            left = right = top = bottom = 0
        ch, cw = self.size
        if self.pad_if_needed:
            if ph < ch:
                diff = ch - ph
                top, bottom, ph = top + diff, bottom + diff, ph + 2 * diff
            if pw < cw:
                diff = cw - pw
                left, right, pw = left + diff, right + diff, pw + 2 * diff
        if ph < ch or pw < cw:
            raise ValueError(
                f"RandomCrop: crop size {(ch, cw)} is larger than the "
                f"{'padded ' if self.padding is not None else ''}input size {(ph, pw)}; use pad_if_needed=True"
            )
        padding = [left, top, right, bottom]
        rng = self._rng()
        crop_top = int(rng.integers(0, ph - ch + 1)) if ph > ch else 0
        crop_left = int(rng.integers(0, pw - cw + 1)) if pw > cw else 0
        return dict(
            needs_crop=ph > ch or pw > cw,
            top=crop_top,
            left=crop_left,
            height=ch,
            width=cw,
            needs_pad=any(padding),
            padding=padding,
        )

    @staticmethod
    def get_params(img, output_size):
        """torchvision's static form: ``(top, left, height, width)`` of a random ``output_size`` crop."""
        p = RandomCrop(output_size).make_params([img])
        return p["top"], p["left"], p["height"], p["width"]

    def transform(self, inpt, params):
        if params["needs_pad"]:
            inpt = F.pad(inpt, params["padding"], fill=_fill_for(self.fill, inpt), padding_mode=self.padding_mode)
        if params["needs_crop"]:
            inpt = F.crop(inpt, params["top"], params["left"], params["height"], params["width"])
        return inpt


class CenterCrop(Transform):
    """The central ``size`` window (zero-padded where the image is smaller)."""

    def __init__(self, size):
        self.size = _setup_size(size, "CenterCrop")

    def transform(self, inpt, params):
        return F.center_crop(inpt, self.size)


class Pad(Transform):
    """Pad by ``padding`` with ``fill`` or ``edge``/``reflect``/``symmetric`` copies."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        _parse_padding(padding, "Pad")
        if padding_mode not in _MODES:
            raise ValueError(f"Pad: padding_mode must be one of {', '.join(_MODES)}, got {padding_mode!r}")
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def transform(self, inpt, params):
        return F.pad(inpt, self.padding, fill=_fill_for(self.fill, inpt), padding_mode=self.padding_mode)


class RandomHorizontalFlip(_RandomApplyTransform):
    """Mirror left-right with probability ``p``."""

    def transform(self, inpt, params):
        return F.horizontal_flip(inpt)


class RandomVerticalFlip(_RandomApplyTransform):
    """Mirror top-bottom with probability ``p``."""

    def transform(self, inpt, params):
        return F.vertical_flip(inpt)


def _center(center, where):
    if center is None:
        return None
    vals = [float(c) for c in center]
    if len(vals) != 2:
        raise ValueError(f"{where}: center must be (x, y), got {center!r}")
    return vals


class RandomRotation(Transform):
    """Rotate by an angle uniform in ``degrees`` (a number d means [-d, d]), counter-clockwise."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=0):
        self.degrees = _range(degrees, "RandomRotation", "degrees", bound=(-float("inf"), float("inf")))
        self.interpolation = _interpolation(
            interpolation, "RandomRotation", (InterpolationMode.NEAREST, InterpolationMode.BILINEAR)
        )
        self.expand = bool(expand)
        self.center = _center(center, "RandomRotation")
        self.fill = fill

    def make_params(self, flat_inputs):
        return dict(angle=float(self._rng().uniform(self.degrees[0], self.degrees[1])))

    @staticmethod
    def get_params(degrees):
        """torchvision's static form: an angle uniform in ``degrees`` = (min, max)."""
        return RandomRotation(degrees).make_params([])["angle"]

    def transform(self, inpt, params):
        return F.rotate(inpt, params["angle"], self.interpolation, self.expand, self.center, _fill_for(self.fill, inpt))


class RandomAffine(Transform):
    """Random rotation (``degrees``), translation (fractions ``translate`` of the width and height,
    rounded to whole pixels), ``scale`` and ``shear`` (x range, or x and y ranges), as torchvision."""

    def __init__(
        self,
        degrees,
        translate=None,
        scale=None,
        shear=None,
        interpolation=InterpolationMode.NEAREST,
        fill=0,
        center=None,
    ):
        where = "RandomAffine"
        inf = float("inf")
        self.degrees = _range(degrees, where, "degrees", bound=(-inf, inf))
        if translate is not None:
            translate = [float(t) for t in translate]
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"{where}: translate must be two fractions in [0, 1], got {translate!r}")
        self.translate = translate
        if scale is not None:
            scale = [float(s) for s in scale]
            if len(scale) != 2 or any(s <= 0 for s in scale):
                raise ValueError(f"{where}: scale must be two positive numbers, got {scale!r}")
        self.scale = scale
        if shear is not None:
            if isinstance(shear, numbers.Real):
                if shear < 0:
                    raise ValueError(f"{where}: a single shear must be non-negative, got {shear}")
                shear = [-float(shear), float(shear)]
            else:
                shear = [float(s) for s in shear]
                if len(shear) not in (2, 4):
                    raise ValueError(f"{where}: shear must be a number or 2 or 4 numbers, got {shear!r}")
        self.shear = shear
        self.interpolation = _interpolation(
            interpolation, where, (InterpolationMode.NEAREST, InterpolationMode.BILINEAR)
        )
        self.fill = fill
        self.center = _center(center, where)

    def make_params(self, flat_inputs):
        height, width = query_size(flat_inputs, self._name)
        rng = self._rng()
        angle = float(rng.uniform(self.degrees[0], self.degrees[1]))
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * width, self.translate[1] * height
            translate = (int(round(rng.uniform(-max_dx, max_dx))), int(round(rng.uniform(-max_dy, max_dy))))
        else:
            translate = (0, 0)
        scale = float(rng.uniform(self.scale[0], self.scale[1])) if self.scale is not None else 1.0
        shear_x = shear_y = 0.0
        if self.shear is not None:
            shear_x = float(rng.uniform(self.shear[0], self.shear[1]))
            if len(self.shear) == 4:
                shear_y = float(rng.uniform(self.shear[2], self.shear[3]))
        return dict(angle=angle, translate=translate, scale=scale, shear=(shear_x, shear_y))

    def transform(self, inpt, params):
        return F.affine(
            inpt,
            params["angle"],
            list(params["translate"]),
            params["scale"],
            list(params["shear"]),
            self.interpolation,
            _fill_for(self.fill, inpt),
            self.center,
        )
