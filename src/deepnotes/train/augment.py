"""Data-augmentation presets for training runs (``deepnotes train --augment PRESET``).

A preset says what to do to each training sample (``sample``: a transform of the image, applied by the
data set as it is read) and to each training batch (``batch``: a ``callable(inputs, target) -> (inputs,
target)`` the :class:`~deepnotes.train.Trainer` applies before the forward pass).  Validation and test data
are never augmented.  ``PRESETS`` maps a name to an :class:`AugmentPreset` whose factories build both
parts; new presets are added to the dict.

* ``none``: no augmentation (the default).
* ``light``: a random crop of 0.8-1 of the side resized back (the notes' 0.6-1 crop, narrowed: the digits
  fill their frame, so a 0.6 crop can cut a stroke that tells 7 from 1 or 8 from 0) and a small random
  affine map (rotation within +-10 degrees, shifts of up to 10% of the side, scale 0.9-1.1), bilinear.
  No flips: a mirrored digit is another symbol or none (2, 3, 4, 5, 7 mirrored are not digits; 6 and 9
  swap under a vertical flip), so flipping would train on wrong labels.  Rotation stays small for the
  same reason (6 and 9 are a half turn apart).
* ``strong``: ``light``, then photometric changes and occlusion: ColorJitter on brightness and contrast
  (+-30%; saturation and hue do nothing to grey images), GaussianNoise with sigma 0.05 (on the [0, 1]
  scale, clipped), and RandomErasing (p 0.5, 2-15% of the area, filled with 0, the background colour).
* ``mixup``: MixUp with alpha 0.2 (torchvision's classification recipe; the notes quote 0.2-0.4).
* ``cutmix``: CutMix with alpha 1.0 (the CutMix paper's and torchvision's recipe's value).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from ..data.dataset import Dataset
from ..data.transforms import (
    ColorJitter,
    Compose,
    GaussianNoise,
    InterpolationMode,
    RandomAffine,
    RandomErasing,
    RandomScaleCrop,
)
from ..data.transforms.batch import CutMix, MixUp
from ..errors import UnknownNameError

__all__ = ["AugmentPreset", "PRESETS", "build_augment", "AugmentedImages", "light_transforms", "strong_transforms"]


@dataclass(frozen=True)
class AugmentPreset:
    """``sample(num_classes)`` -> image transform or None; ``batch(num_classes)`` -> batch transform or None."""

    description: str
    sample: Callable[[int], Callable | None] = lambda num_classes: None
    batch: Callable[[int], Callable | None] = lambda num_classes: None


def light_transforms():
    """The geometric, digit-safe part shared by ``light`` and ``strong`` (see the module's docstring)."""
    return [
        RandomScaleCrop(side=(0.8, 1.0)),
        RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1), interpolation=InterpolationMode.BILINEAR),
    ]


def strong_transforms():
    """``light_transforms()`` followed by colour, noise and erasing (see the module's docstring)."""
    return light_transforms() + [
        ColorJitter(brightness=0.3, contrast=0.3),
        GaussianNoise(sigma=0.05),
        RandomErasing(p=0.5, scale=(0.02, 0.15), value=0.0),
    ]


PRESETS: dict[str, AugmentPreset] = {
    "none": AugmentPreset("no augmentation"),
    "light": AugmentPreset(
        "random 0.8-1 crop and a small affine map (+-10 degrees, shifts up to a tenth of the side, "
        "scale 0.9-1.1); no flips, which change a digit's identity",
        sample=lambda num_classes: Compose(light_transforms()),
    ),
    "strong": AugmentPreset(
        "light, then brightness/contrast jitter 0.3, Gaussian noise sigma 0.05 and random erasing p 0.5",
        sample=lambda num_classes: Compose(strong_transforms()),
    ),
    "mixup": AugmentPreset(
        "MixUp, alpha 0.2, on every training batch",
        batch=lambda num_classes: MixUp(alpha=0.2, num_classes=num_classes),
    ),
    "cutmix": AugmentPreset(
        "CutMix, alpha 1.0, on every training batch",
        batch=lambda num_classes: CutMix(alpha=1.0, num_classes=num_classes),
    ),
}


def build_augment(name, num_classes):
    """(sample transform or None, batch transform or None) of preset ``name`` for ``num_classes`` classes;
    an unknown name raises :class:`~deepnotes.errors.UnknownNameError` with the close matches."""
    key = str(name).lower()
    if key not in PRESETS:
        near = difflib.get_close_matches(key, list(PRESETS), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise UnknownNameError(f"unknown augmentation preset {name!r}{hint} (known: {', '.join(PRESETS)})")
    preset = PRESETS[key]
    return preset.sample(num_classes), preset.batch(num_classes)


class AugmentedImages(Dataset):
    """``dataset``'s ``(image, target)`` samples with ``transform`` applied to the image as it is read."""

    def __init__(self, dataset, transform):
        if not callable(transform):
            raise TypeError(f"AugmentedImages: transform must be callable, got {type(transform).__name__}")
        self.dataset, self.transform = dataset, transform

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        image, target = self.dataset[index]
        return self.transform(image), target

    def __repr__(self):
        return f"AugmentedImages({self.dataset!r}, {self.transform!r})"
