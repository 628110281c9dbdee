"""Colour transforms: ColorJitter, GaussianBlur, GaussianNoise, Normalize, Grayscale (torchvision v2
parameters and distributions).  They change images only; masks and boxes pass through."""

from __future__ import annotations

import numbers

from . import functional as F
from ._transform import Transform, _range

__all__ = ["ColorJitter", "GaussianBlur", "GaussianNoise", "Normalize", "Grayscale"]


def _jitter_range(value, name, center=1.0, bound=(0.0, float("inf")), clip_first_on_zero=True):
    if value is None:
        return None
    where = "ColorJitter"
    if isinstance(value, numbers.Real):
        if value < 0:
            raise ValueError(f"{where}: if {name} is a single number, it must be non-negative, got {value}")
        lo, hi = center - value, center + value
        if clip_first_on_zero:
            lo = max(lo, 0.0)
    else:
        vals = [float(v) for v in value]
        if len(vals) != 2:
            raise ValueError(f"{where}: {name} must be a number or a (min, max) pair, got {value!r}")
        lo, hi = vals
    if not bound[0] <= lo <= hi <= bound[1]:
        raise ValueError(f"{where}: {name} values must be within {bound} and ordered, got ({lo}, {hi})")
    return None if lo == hi == center else (float(lo), float(hi))


class ColorJitter(Transform):
    """Random brightness, contrast, saturation (factors uniform in [max(0, 1 - v), 1 + v] or a given
    range) and hue (shift uniform in [-v, v] within [-0.5, 0.5]), applied in a random order."""

    def __init__(self, brightness=None, contrast=None, saturation=None, hue=None):
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.hue = _jitter_range(hue, "hue", center=0.0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    def make_params(self, flat_inputs):
        rng = self._rng()
        order = [int(i) for i in rng.permutation(4)]

        def draw(r):
            return None if r is None else float(rng.uniform(r[0], r[1]))

        return dict(
            fn_idx=order,
            brightness_factor=draw(self.brightness),
            contrast_factor=draw(self.contrast),
            saturation_factor=draw(self.saturation),
            hue_factor=draw(self.hue),
        )

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """torchvision's static form: ``(order, brightness, contrast, saturation, hue)`` from (min, max)
        ranges (None for a factor left alone)."""
        t = ColorJitter.__new__(ColorJitter)
        t.brightness, t.contrast, t.saturation, t.hue = brightness, contrast, saturation, hue
        p = t.make_params([])
        return (
            p["fn_idx"],
            p["brightness_factor"],
            p["contrast_factor"],
            p["saturation_factor"],
            p["hue_factor"],
        )

    def transform(self, inpt, params):
        out = inpt
        for fn_id in params["fn_idx"]:
            if fn_id == 0 and params["brightness_factor"] is not None:
                out = F.adjust_brightness(out, params["brightness_factor"])
            elif fn_id == 1 and params["contrast_factor"] is not None:
                out = F.adjust_contrast(out, params["contrast_factor"])
            elif fn_id == 2 and params["saturation_factor"] is not None:
                out = F.adjust_saturation(out, params["saturation_factor"])
            elif fn_id == 3 and params["hue_factor"] is not None:
                out = F.adjust_hue(out, params["hue_factor"])
        return out


class GaussianBlur(Transform):
    """Blur with ``kernel_size`` and a sigma uniform in ``sigma`` (a number means that fixed sigma)."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        from .functional._color import _blur_params

        self.kernel_size, _ = _blur_params(kernel_size, None, "GaussianBlur")
        if isinstance(sigma, numbers.Real):
            if sigma <= 0:
                raise ValueError(f"GaussianBlur: sigma must be positive, got {sigma}")
            sigma = (float(sigma), float(sigma))
        self.sigma = _range(sigma, "GaussianBlur", "sigma", bound=(1e-12, float("inf")))

    def make_params(self, flat_inputs):
        s = float(self._rng().uniform(self.sigma[0], self.sigma[1]))
        return dict(sigma=[s, s])

    def transform(self, inpt, params):
        return F.gaussian_blur(inpt, self.kernel_size, params["sigma"])


class GaussianNoise(Transform):
    """Add N(mean, sigma^2) noise (in the [0, 1] scale), clipped to the value range by default."""

    def __init__(self, mean=0.0, sigma=0.1, clip=True):
        if sigma < 0:
            raise ValueError(f"GaussianNoise: sigma must be non-negative, got {sigma}")
        self.mean, self.sigma, self.clip = float(mean), float(sigma), bool(clip)

    def transform(self, inpt, params):
        return F.gaussian_noise(inpt, self.mean, self.sigma, self.clip, generator=self._rng())


class Normalize(Transform):
    """``(image - mean) / std`` per channel (float images)."""

    def __init__(self, mean, std, inplace=False):
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std must not contain zeros, got {self.std}")
        self.inplace = inplace

    def transform(self, inpt, params):
        return F.normalize(inpt, self.mean, self.std, self.inplace)


class Grayscale(Transform):
    """Convert RGB to grey (1 or 3 output channels)."""

    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels must be 1 or 3, got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def transform(self, inpt, params):
        return F.rgb_to_grayscale(inpt, self.num_output_channels)
