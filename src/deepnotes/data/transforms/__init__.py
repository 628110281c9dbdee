"""Data augmentation and preprocessing, shaped like ``torchvision.transforms.v2``.

Classes take a whole sample (an image, a tuple ``(image, target)``, a dict ...) and change every typed
element consistently with one draw of their random parameters: an
:class:`~deepnotes.data.tv_tensors.Image` (or the sample's first plain array / Tensor) is resampled,
:class:`~deepnotes.data.tv_tensors.BoundingBoxes` are moved, clamped to the canvas and given its new
size, :class:`~deepnotes.data.tv_tensors.Mask` s are resampled with nearest neighbours; labels and
other values pass through (``SanitizeBoundingBoxes`` drops degenerate boxes with their labels and
masks).  Batch-level ``MixUp`` and ``CutMix`` (soft targets), the ``LabelSmoothing`` target transform
and the detection-level ``Mosaic`` and ``CopyPaste`` take several samples at once.  Randomness comes
from deepnotes' seeded generator (``deepnotes.manual_seed``; DataLoader workers are seeded from it),
so a seed reproduces a pipeline bit for bit.

The pure functions are in :mod:`deepnotes.data.transforms.functional`.
"""

from . import functional
from ._augment import Cutout, RandomErasing
from ._color import ColorJitter, GaussianBlur, GaussianNoise, Grayscale, Normalize
from ._container import Compose, RandomApply, RandomChoice, RandomOrder
from ._geometry import (
    CenterCrop,
    Pad,
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
    RandomResize,
    RandomResizedCrop,
    RandomRotation,
    RandomScaleCrop,
    RandomVerticalFlip,
    Resize,
)
from ._meta import ClampBoundingBoxes, ConvertBoundingBoxFormat, SanitizeBoundingBoxes, ToDtype, ToImage
from ._transform import Transform
from .batch import CutMix, LabelSmoothing, MixUp, cutmix_box
from .detection import CopyPaste, Mosaic, masks_to_tight_boxes
from .functional import InterpolationMode

__all__ = [
    "functional",
    "InterpolationMode",
    "Transform",
    "Compose",
    "RandomApply",
    "RandomChoice",
    "RandomOrder",
    "ToImage",
    "ToDtype",
    "ConvertBoundingBoxFormat",
    "ClampBoundingBoxes",
    "SanitizeBoundingBoxes",
    "Normalize",
    "Resize",
    "RandomResize",
    "RandomResizedCrop",
    "RandomScaleCrop",
    "RandomCrop",
    "CenterCrop",
    "Pad",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "RandomRotation",
    "RandomAffine",
    "ColorJitter",
    "Grayscale",
    "GaussianNoise",
    "GaussianBlur",
    "RandomErasing",
    "Cutout",
    "MixUp",
    "CutMix",
    "cutmix_box",
    "LabelSmoothing",
    "Mosaic",
    "CopyPaste",
    "masks_to_tight_boxes",
]
