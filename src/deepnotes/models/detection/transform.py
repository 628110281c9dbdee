"""The detectors' input step, as ``torchvision.models.detection.transform.GeneralizedRCNNTransform``.

For every image ``(C, H, W)``: normalise ``(x - mean) / std`` per channel, then resize by
``scale = min(min_size / min(H, W), max_size / max(H, W))`` (bilinear, ``align_corners=False``, output
``floor(H * scale) x floor(W * scale)``), scaling the target boxes by the same per-axis ratios.  The
images are then zero-padded at the bottom and right to one batch whose height and width are multiples
of ``size_divisible``.  After inference :meth:`postprocess` maps the boxes back to the input sizes.

With the small detectors' default ``min_size = max_size = 128`` a 128 x 128 image is not resized at all.
"""

from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...nn import functional as F
from ...tensor import Tensor

__all__ = ["GeneralizedRCNNTransform", "ImageList"]


class ImageList:
    """A padded batch ``tensors`` (N, C, H, W) and the size ``(h, w)`` of each image inside it."""

    def __init__(self, tensors, image_sizes):
        self.tensors = tensors
        self.image_sizes = image_sizes


def _resize_boxes(boxes, original, new):
    # the ratios are float32 numbers, as torchvision computes them
    rh = float(np.float32(new[0]) / np.float32(original[0]))
    rw = float(np.float32(new[1]) / np.float32(original[1]))
    out = np.array(boxes, dtype=np.asarray(boxes).dtype if np.asarray(boxes).dtype.kind == "f" else np.float64)
    out[..., 0::2] *= rw
    out[..., 1::2] *= rh
    return out


class GeneralizedRCNNTransform(nn.Module):
    """Normalise, resize and batch the images (and resize the targets' boxes); see the module docstring.

    ``min_size`` may be a tuple: in training one of its values is drawn per image (multi-scale
    training), in evaluation the last one is used.
    """

    def __init__(self, min_size, max_size, image_mean, image_std, size_divisible=32, fixed_size=None, **kwargs):
        super().__init__()
        if kwargs:
            raise TypeError(f"GeneralizedRCNNTransform: unexpected arguments {sorted(kwargs)}")
        if not isinstance(min_size, (list, tuple)):
            min_size = (min_size,)
        self.min_size = tuple(int(s) for s in min_size)
        self.max_size = int(max_size)
        self.image_mean = [float(v) for v in image_mean]
        self.image_std = [float(v) for v in image_std]
        self.size_divisible = int(size_divisible)
        self.fixed_size = fixed_size

    def normalize(self, image):
        c = image.shape[0]
        if c != len(self.image_mean):
            raise ValueError(
                f"GeneralizedRCNNTransform: images should have {len(self.image_mean)} channels (the length of "
                f"image_mean), got an image of shape {tuple(image.shape)}"
            )
        dt = image.data.dtype
        mean = np.asarray(self.image_mean, dtype=dt)[:, None, None]
        std = np.asarray(self.image_std, dtype=dt)[:, None, None]
        return (image - mean) / std

    def _size(self):
        if self.training and len(self.min_size) > 1:
            from ...random import default_generator

            return float(self.min_size[int(default_generator().integers(len(self.min_size)))])
        return float(self.min_size[-1])

    def resize(self, image, target=None):
        h, w = image.shape[-2:]
        if self.fixed_size is not None:
            out = (int(self.fixed_size[1]), int(self.fixed_size[0]))
            image = F.interpolate(image[None], size=out, mode="bilinear", align_corners=False)[0]
        else:
            size = self._size()
            scale = min(size / min(h, w), self.max_size / max(h, w))
            if scale != 1.0:
                image = F.interpolate(
                    image[None], scale_factor=scale, mode="bilinear", recompute_scale_factor=True, align_corners=False
                )[0]
        if target is not None and (image.shape[-2], image.shape[-1]) != (h, w):
            target = dict(target)
            target["boxes"] = _resize_boxes(target["boxes"], (h, w), image.shape[-2:])
        return image, target

    def batch_images(self, images):
        c = images[0].shape[0]
        max_h = max(int(i.shape[-2]) for i in images)
        max_w = max(int(i.shape[-1]) for i in images)
        s = float(self.size_divisible)
        max_h = int(math.ceil(max_h / s) * s)
        max_w = int(math.ceil(max_w / s) * s)
        padded = []
        for img in images:
            ph, pw = max_h - img.shape[-2], max_w - img.shape[-1]
            padded.append(F.pad(img, (0, pw, 0, ph)) if ph or pw else img)
        from ...tensor import stack

        out = stack(padded, dim=0)
        assert out.shape[1] == c
        return out

    def forward(self, images, targets=None):
        images = list(images)
        targets = None if targets is None else [dict(t) for t in targets]
        for i in range(len(images)):
            image = self.normalize(images[i])
            target = targets[i] if targets is not None else None
            image, target = self.resize(image, target)
            images[i] = image
            if targets is not None:
                targets[i] = target
        image_sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        return ImageList(self.batch_images(images), image_sizes), targets

    def postprocess(self, result, image_shapes, original_image_sizes):
        """Boxes of each detection dict rescaled from the network's image size to the input's size."""
        if self.training:
            return result
        for pred, now, orig in zip(result, image_shapes, original_image_sizes):
            if tuple(now) != tuple(orig):
                pred["boxes"] = _resize_boxes(pred["boxes"], now, orig)
        return result

    def extra_repr(self):
        return (
            f"min_size={self.min_size}, max_size={self.max_size}, mean={self.image_mean}, std={self.image_std}, "
            f"size_divisible={self.size_divisible}"
        )


def as_tensor_images(images, fn):
    """A list of (C, H, W) float Tensors from a list of arrays/Tensors or an (N, C, H, W) batch."""
    if isinstance(images, (Tensor, np.ndarray)):
        arr = images
        if arr.ndim != 4:
            raise ValueError(
                f"{fn}: expected a list of (C, H, W) images or an (N, C, H, W) batch, got shape {arr.shape}"
            )
        images = [arr[i] for i in range(arr.shape[0])]
    if not isinstance(images, (list, tuple)) or len(images) == 0:
        raise ValueError(f"{fn}: expected a non-empty list of (C, H, W) images, got {type(images).__name__}")
    out = []
    for k, img in enumerate(images):
        if not isinstance(img, Tensor):
            arr = np.asarray(img)
            if arr.dtype.kind != "f":
                raise TypeError(f"{fn}: image {k} should hold floats in [0, 1], got dtype {arr.dtype}")
            img = Tensor(np.ascontiguousarray(arr))
        if img.ndim != 3:
            raise ValueError(f"{fn}: image {k} should have shape (C, H, W), got {tuple(img.shape)}")
        out.append(img)
    channels = {int(i.shape[0]) for i in out}
    if len(channels) > 1:
        shapes = [tuple(i.shape) for i in out]
        raise ValueError(f"{fn}: all images of a batch need the same number of channels, got shapes {shapes}")
    return out
