"""The bundled handwritten-digits set (UCI optdigits, 1,797 images of 8x8), so training needs no download.

The asset ``deepnotes/data/assets/digits.npz`` (see ``assets/DIGITS.md``) holds the raw pixel counts
(0..16), the labels and a fixed stratified split of 1,437 train / 360 test images.
"""

from __future__ import annotations

import collections
import os

import numpy as np

from ._labelled import LabelledImages

__all__ = ["Digits", "load_digits_arrays", "DigitsArrays"]

_ASSET = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets", "digits.npz")
_cache: dict[str, DigitsArrays] = {}

DigitsArrays = collections.namedtuple("DigitsArrays", ["images", "labels", "train_indices", "test_indices"])


def _arrays():
    if "arrays" not in _cache:
        if not os.path.exists(_ASSET):
            raise FileNotFoundError(
                f"Digits: the bundled asset {_ASSET} is missing; rebuild it with `python tools/build_digits.py`"
            )
        with np.load(_ASSET, allow_pickle=False) as f:
            arrays = DigitsArrays(f["images"], f["labels"], f["train_indices"], f["test_indices"])
        for a in arrays:
            a.setflags(write=False)
        _cache["arrays"] = arrays
    return _cache["arrays"]


def load_digits_arrays():
    """The raw bundled arrays (fresh copies).

    Returns:
        DigitsArrays(images, labels, train_indices, test_indices): ``images`` uint8 (1797, 8, 8) with
        values 0..16, ``labels`` uint8 (1797,) in 0..9, and the int64 index arrays of the fixed split,
        sorted, 1,437 train and 360 test, disjoint and covering all images.
    """
    return DigitsArrays(*(a.copy() for a in _arrays()))


def _bilinear_matrix(in_size, out_size):
    """(out_size, in_size) matrix W with ``out = W @ in`` = 1-D linear interpolation, half-pixel centres.

    Output pixel o samples the input at ``s = max((o + 0.5) * in_size / out_size - 0.5, 0)``, i.e.
    ``(1 - t) * in[i] + t * in[min(i + 1, in_size - 1)]`` with ``i = floor(s)``, ``t = s - i``: the
    ``align_corners=False`` convention of ``torch.nn.functional.interpolate`` (edges clamp).
    """
    s = np.maximum((np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5, 0.0)
    i0 = np.minimum(np.floor(s).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    t = s - i0
    w = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(w, (rows, i0), 1.0 - t)
    np.add.at(w, (rows, i1), t)
    return w


def resize_bilinear(images, size):
    """Resize a stack of images (N, H, W) to (N, size, size) by separable bilinear interpolation.

    ``out[n] = Wy @ images[n] @ Wx^T`` with ``_bilinear_matrix`` (align_corners=False, no
    antialiasing), computed in float64; equals ``F.interpolate(x[:, None], size, mode='bilinear',
    align_corners=False)``.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(f"resize_bilinear: expected images of shape (N, H, W), got {images.shape}")
    wy = _bilinear_matrix(images.shape[1], size)
    wx = _bilinear_matrix(images.shape[2], size)
    return np.einsum("oh,nhw,pw->nop", wy, images, wx, optimize=True)


class Digits(LabelledImages):
    """The bundled 8x8 digits, scaled to [0, 1] and resized to ``size x size``.

    Sample i is ``(image, label)``: ``image`` a float32 array (1, size, size) equal to the pixel
    count / 16, bilinearly upsampled (``resize_bilinear``; no resampling when ``size == 8``), and
    ``label`` an int in 0..9. The whole split is resized once, at construction.

    Args:
        train: the 1,437-image training split (True) or the 360-image test split (False).
        size: output side in pixels (32 suits LeNet-5).
        transform: callable applied to the image array.
        target_transform: callable applied to the label.

    Attributes: ``data`` (uint8 (n, 8, 8) raw counts), ``targets`` (int64 (n,)), ``images``
    (float32 (n, 1, size, size)), ``classes``.
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, train=True, size=32, transform=None, target_transform=None):
        if not isinstance(train, (bool, np.bool_)):
            raise TypeError(f"Digits: train should be a bool, got {type(train).__name__}")
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size <= 0:
            raise ValueError(f"Digits: size should be a positive int (output side in pixels), got {size!r}")
        self._set_transforms(transform, target_transform)
        arrays = _arrays()
        idx = arrays.train_indices if train else arrays.test_indices
        self.train = bool(train)
        self.size = int(size)
        self.data = arrays.images[idx].copy()
        self.targets = arrays.labels[idx].astype(np.int64)
        scaled = self.data.astype(np.float64) / 16.0
        if self.size != 8:
            scaled = resize_bilinear(scaled, self.size)
        self.images = scaled.astype(np.float32)[:, None]

    def _image(self, index):
        return self.images[index].copy()

    def _images(self, idx):
        return self.images[idx]

    def __repr__(self):
        return (
            f"Digits(split={'train' if self.train else 'test'}, n={len(self)}, size={self.size}, "
            f"transform={self.transform!r})"
        )
