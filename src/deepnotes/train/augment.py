"""Data-augmentation presets for training runs (``deepnotes train --augment PRESET``).

A preset says what to do to each training sample (``sample``: a transform of the image, applied by the
data set as it is read) and to each training batch (``batch``: a ``callable(inputs, target) -> (inputs,
target)`` the :class:`~deepnotes.train.Trainer` applies before the forward pass).  Validation and test data
are never augmented.  ``PRESETS`` maps a name to an :class:`AugmentPreset` whose factories build both
parts; new presets are added to the dict.

* ``none``: no augmentation (the default).
* ``mixup``: MixUp with alpha 0.2 (torchvision's classification recipe; the notes quote 0.2-0.4).
* ``cutmix``: CutMix with alpha 1.0 (the CutMix paper's and torchvision's recipe's value).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from ..data.dataset import Dataset
from ..data.transforms.batch import CutMix, MixUp
from ..errors import UnknownNameError

__all__ = ["AugmentPreset", "PRESETS", "build_augment", "AugmentedImages"]


@dataclass(frozen=True)
class AugmentPreset:
    """``sample(num_classes)`` -> image transform or None; ``batch(num_classes)`` -> batch transform or None."""

    description: str
    sample: Callable[[int], Callable | None] = lambda num_classes: None
    batch: Callable[[int], Callable | None] = lambda num_classes: None


PRESETS: dict[str, AugmentPreset] = {
    "none": AugmentPreset("no augmentation"),
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
