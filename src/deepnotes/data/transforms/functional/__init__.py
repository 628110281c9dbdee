"""Pure functions of ``deepnotes.data.transforms``, shaped like ``torchvision.transforms.v2.functional``.

Each takes an image (an :class:`~deepnotes.data.tv_tensors.Image`, a channels-first NumPy array or a
deepnotes Tensor, float in [0, 1] or uint8), a :class:`~deepnotes.data.tv_tensors.Mask` or
:class:`~deepnotes.data.tv_tensors.BoundingBoxes`, and returns the same type: geometric ops move boxes and
masks exactly as the pixels (as torchvision.transforms.v2), colour ops leave them alone.

Supported resampling: ``resize`` nearest, nearest-exact, bilinear and bicubic, each with or without
antialiasing; ``rotate``/``affine`` nearest and bilinear.
"""

from ._affine import affine, rotate
from ._color import (
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    erase,
    gaussian_blur,
    gaussian_noise,
    normalize,
    rgb_to_grayscale,
)
from ._geometry import center_crop, crop, hflip, horizontal_flip, pad, resized_crop, vertical_flip, vflip
from ._meta import (
    clamp_bounding_boxes,
    convert_bounding_box_format,
    convert_image_dtype,
    get_dimensions,
    get_num_channels,
    get_size,
    sanitize_bounding_boxes,
    to_dtype,
    to_image,
)
from ._resize import resize
from ._utils import InterpolationMode

__all__ = [
    "InterpolationMode",
    "get_size",
    "get_dimensions",
    "get_num_channels",
    "convert_bounding_box_format",
    "clamp_bounding_boxes",
    "sanitize_bounding_boxes",
    "to_dtype",
    "to_image",
    "convert_image_dtype",
    "normalize",
    "resize",
    "crop",
    "center_crop",
    "resized_crop",
    "pad",
    "horizontal_flip",
    "vertical_flip",
    "hflip",
    "vflip",
    "rotate",
    "affine",
    "rgb_to_grayscale",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
    "gaussian_blur",
    "gaussian_noise",
    "erase",
]
