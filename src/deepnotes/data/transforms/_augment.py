"""Occlusion augmentations: RandomErasing (Zhong et al., torchvision's parameters) and Cutout (DeVries &
Taylor: fixed-size square holes at uniformly random centres, clipped at the borders)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import functional as F
from ._transform import Transform, _RandomApplyTransform, _range, query_chw, query_size
from .functional._utils import _kind

__all__ = ["RandomErasing", "Cutout"]


class RandomErasing(_RandomApplyTransform):
    """With probability ``p``, erase a window of area fraction in ``scale`` and log-uniform aspect ratio in
    ``ratio`` with ``value`` (a number, one per channel, or ``"random"`` for standard normal noise).
    Masks and boxes pass through (as torchvision)."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0, inplace=False):
        super().__init__(p)
        where = "RandomErasing"
        if isinstance(value, str):
            if value != "random":
                raise ValueError(f"{where}: a string value must be 'random', got {value!r}")
            self.value = None
        elif isinstance(value, numbers.Real):
            self.value = [float(value)]
        elif isinstance(value, (tuple, list)):
            self.value = [float(v) for v in value]
        else:
            raise TypeError(f"{where}: value must be a number, a sequence or 'random', got {value!r}")
        self.scale = _range(scale, where, "scale", bound=(0.0, 1.0))
        self.ratio = _range(ratio, where, "ratio", bound=(1e-12, float("inf")))
        self.inplace = inplace

    def make_params(self, flat_inputs):
        img_c, img_h, img_w = query_chw(flat_inputs, self._name)
        if self.value is not None and len(self.value) not in (1, img_c):
            raise ValueError(f"{self._name}: value has {len(self.value)} entries; give 1 or {img_c} (the channels)")
        area = img_h * img_w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        rng = self._rng()
        for _ in range(10):
            erase_area = area * rng.uniform(self.scale[0], self.scale[1])
            aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            h = int(round(math.sqrt(erase_area * aspect)))
            w = int(round(math.sqrt(erase_area / aspect)))
            if not (h < img_h and w < img_w):
                continue
            if self.value is None:
                v = rng.standard_normal((img_c, h, w), dtype=np.float32)
            else:
                v = np.asarray(self.value, dtype=np.float32)[:, None, None]
            i = int(rng.integers(0, img_h - h + 1))
            j = int(rng.integers(0, img_w - w + 1))
            return dict(i=i, j=j, h=h, w=w, v=v)
        return dict(i=0, j=0, h=img_h, w=img_w, v=None)

    def transform(self, inpt, params):
        if params["v"] is None or _kind(inpt) != "image":
            return inpt
        return F.erase(inpt, params["i"], params["j"], params["h"], params["w"], params["v"], self.inplace)


class Cutout(Transform):
    """Cutout (DeVries & Taylor, 2017): ``n_holes`` squares of side ``length`` centred at uniformly random
    pixels, clipped at the image border, set to ``fill`` (0 in the paper), applied with probability ``p``.

    Unlike RandomErasing the size and shape are fixed and the fill is a constant colour (the notes'
    distinction).  Masks and boxes pass through."""

    def __init__(self, n_holes=1, length=16, fill=0.0, p=1.0):
        if not isinstance(n_holes, numbers.Integral) or n_holes < 1:
            raise ValueError(f"Cutout: n_holes must be a positive int, got {n_holes!r}")
        if not isinstance(length, numbers.Integral) or length < 1:
            raise ValueError(f"Cutout: length must be a positive int, got {length!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Cutout: p must be a probability in [0, 1], got {p!r}")
        self.n_holes, self.length, self.fill, self.p = int(n_holes), int(length), fill, float(p)

    def make_params(self, flat_inputs):
        h, w = query_size(flat_inputs, self._name)
        rng = self._rng()
        apply = bool(rng.random() < self.p)
        holes = []
        for _ in range(self.n_holes):
            cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
            y1, y2 = max(cy - self.length // 2, 0), min(cy + self.length - self.length // 2, h)
            x1, x2 = max(cx - self.length // 2, 0), min(cx + self.length - self.length // 2, w)
            holes.append((y1, y2, x1, x2))
        return dict(apply=apply, holes=holes)

    def transform(self, inpt, params):
        if not params["apply"] or _kind(inpt) != "image":
            return inpt
        out = inpt
        for y1, y2, x1, x2 in params["holes"]:
            out = F.erase(out, y1, x1, y2 - y1, x2 - x1, self.fill)
        return out
