"""MNIST and Fashion-MNIST from local IDX files (optionally gzipped), as in ``torchvision.datasets``.

IDX layout (big-endian): two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), a byte with the number of dimensions d, then d uint32 sizes and the
values in row-major order. MNIST images are type 0x08 with 3 dimensions (magic 0x00000803 = 2051),
labels type 0x08 with 1 dimension (magic 0x00000801 = 2049).
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from .local import LocalDataset

__all__ = ["read_idx", "MNIST", "FashionMNIST"]

_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path, who):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{who}: {path} is a damaged or truncated gzip file ({exc})") from None
    return raw


def read_idx(path, expected_magic=None, who="read_idx"):
    """Read one IDX file (gzipped or not) into a NumPy array of its stored shape and type.

    Args:
        path: file path; gzip compression is detected from the content.
        expected_magic: if given, the 4-byte magic number the file must start with (e.g. 2051 for
            MNIST images, 2049 for labels).

    Returns:
        ndarray with the file's shape; multi-byte types are converted to native byte order.

    Raises:
        ValueError naming the file when the magic number is wrong, the type is unknown, or the file
        is shorter or longer than its header says.
    """
    path = os.fspath(path)
    raw = _read_bytes(path, who)
    if len(raw) < 4:
        raise ValueError(f"{who}: {path} is truncated: {len(raw)} bytes, expected at least a 4-byte IDX "
                         "magic number")
    magic = int.from_bytes(raw[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"{who}: {path} has magic number 0x{magic:08X}; expected 0x{expected_magic:08X} "
                         f"({_describe_magic(expected_magic)})")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{who}: {path} is not an IDX file: magic number 0x{magic:08X}; expected two zero "
                         "bytes, a type byte in {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E} and a dimension count")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{who}: {path} is truncated: {len(raw)} bytes, expected a header of {header} bytes "
                         f"for {ndim} dimensions")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(f"{who}: {path} is {state}: {len(raw)} bytes, expected {expected} (header "
                         f"{header} + shape {shape} x {dtype.itemsize} byte(s))")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _describe_magic(magic):
    kind = {0x08: "unsigned bytes", 0x09: "signed bytes", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32",
            0x0E: "float64"}.get((magic >> 8) & 0xFF, "unknown type")
    what = {2051: ": images", 2049: ": labels"}.get(magic, "")
    return f"IDX file of {kind} with {magic & 0xFF} dimension(s){what}"


def _to_unit_float(u8):
    return u8.astype(np.float32) / np.float32(255.0)


class MNIST(LocalDataset):
    """MNIST digits read from the four IDX files in a local folder.

    Looks for ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` (train) or
    ``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte`` (test), each optionally with ``.gz`` (or
    with ``.idx`` in place of ``-idx``), in ``root``, ``root/<ClassName>/raw`` (torchvision's layout)
    or ``root/<ClassName>``.

    Sample i is ``(image, label)``: image float32 (1, 28, 28) = byte / 255, label an int; ``data``
    holds the uint8 images (N, H, W) and ``targets`` the int64 labels (N,).

    Args:
        root: folder holding the files.
        train: training files (True) or test files (False).
        transform, target_transform: callables applied to the image and the label.
        download: must stay False; deepnotes never downloads.
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]
    _files = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

    files_described = "IDX files"

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, train, transform, target_transform, download)
        who = type(self).__name__
        image_name, label_name = self._files[self.train]
        image_path, label_path = self._find(image_name), self._find(label_name)
        images = read_idx(image_path, expected_magic=0x00000803, who=who)
        labels = read_idx(label_path, expected_magic=0x00000801, who=who)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{who}: {image_path} holds {images.shape[0]} images but {label_path} holds "
                             f"{labels.shape[0]} labels; expected the same count")
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(f"{who}: {label_path} holds label {int(labels.max())}; expected labels in "
                             f"0..{len(self.classes) - 1}")
        self.data = images
        self.targets = labels.astype(np.int64)

    def _find(self, name):
        who = type(self).__name__
        folders = [self.root, os.path.join(self.root, who, "raw"), os.path.join(self.root, who)]
        names = [name, name.replace("-idx", ".idx")]
        tried = []
        for folder in folders:
            for base in names:
                for suffix in ("", ".gz"):
                    path = os.path.join(folder, base + suffix)
                    if os.path.isfile(path):
                        return path
                    tried.append(path)
        raise FileNotFoundError(f"{who}: cannot find {name}[.gz]; looked for: " + ", ".join(tried))

    def _image(self, index):
        return _to_unit_float(self.data[index])[None]

    def _images(self, idx):
        return _to_unit_float(self.data[idx])[:, None]

    def __repr__(self):
        return f"{type(self).__name__}(root={self.root!r}, split={'train' if self.train else 'test'}, n={len(self)})"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): same IDX files and layout as ``MNIST``, clothing classes."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
