"""MNIST and Fashion-MNIST from local IDX files (optionally gzipped), as in ``torchvision.datasets``.

IDX layout (big-endian): two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), a byte with the number of dimensions d, then d uint32 sizes and the
values in row-major order. MNIST images are type 0x08 with 3 dimensions (magic 0x00000803 = 2051),
labels type 0x08 with 1 dimension (magic 0x00000801 = 2049).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib

import numpy as np

from .local import LocalDataset

__all__ = ["read_idx", "IDX_MAX_BYTES", "MNIST", "FashionMNIST"]

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


#: the largest payload :func:`read_idx` accepts by default (EMNIST ByClass, the largest IDX set in use,
#: is 0.55 GB); pass ``max_bytes`` to read a larger file.
IDX_MAX_BYTES = 1 << 31

# deflate cannot expand data by more than about 1032:1, so a gzip file of n bytes holds at most this
# many times n bytes: a header that declares more cannot be honest and is refused before inflating.
_DEFLATE_MAX_RATIO = 1032


class _Source:
    """The bytes of an IDX file, inflated on the fly when the file is gzipped; reads are bounded by the
    caller, so a gzip bomb is never inflated past what the header declares."""

    def __init__(self, path, who):
        self.path, self.who = path, who
        self.size = os.path.getsize(path)
        self._file = open(path, "rb")
        self.gzipped = self._file.read(2) == b"\x1f\x8b"
        self._file.seek(0)
        self._stream = gzip.GzipFile(fileobj=self._file, mode="rb") if self.gzipped else self._file
        self.consumed = 0

    def read(self, n):
        """Up to ``n`` bytes (fewer only at the end of the data)."""
        try:
            data = self._stream.read(n)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{self.who}: {self.path} is a damaged or truncated gzip file ({exc})") from None
        self.consumed += len(data)
        return data

    def close(self):
        if self.gzipped:
            self._stream.close()
        self._file.close()


def read_idx(path, expected_magic=None, who="read_idx", max_bytes=IDX_MAX_BYTES):
    """Read one IDX file (gzipped or not) into a NumPy array of its stored shape and type.

    The header is read first and fixes how many bytes may follow: exactly that many are read (inflated)
    and one byte more is tried, so neither a short or padded file nor a gzip bomb (a small file that
    inflates to gigabytes) gets further than the declared size.  An uncompressed file's size is checked
    before its values are read; a gzip file whose header declares more than deflate could possibly have
    packed into its size is refused before anything is inflated.

    Args:
        path: file path; gzip compression is detected from the content.
        expected_magic: if given, the 4-byte magic number the file must start with (e.g. 2051 for
            MNIST images, 2049 for labels).
        max_bytes: the largest number of value bytes the header may declare (default
            :data:`IDX_MAX_BYTES`, 2 GiB).

    Returns:
        ndarray with the file's shape; multi-byte types are converted to native byte order.

    Raises:
        ValueError naming the file when the magic number is wrong, the type is unknown, the header
        declares more than ``max_bytes``, or the file is shorter or longer than its header says.
    """
    path = os.fspath(path)
    src = _Source(path, who)
    try:
        return _read_idx(src, path, expected_magic, who, max_bytes)
    finally:
        src.close()


def _read_idx(src, path, expected_magic, who, max_bytes):
    head = src.read(4)
    if len(head) < 4:
        raise ValueError(f"{who}: {path} is truncated: {len(head)} bytes, expected at least a 4-byte IDX magic number")
    magic = int.from_bytes(head, "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{who}: {path} has magic number 0x{magic:08X}; expected 0x{expected_magic:08X} "
            f"({_describe_magic(expected_magic)})"
        )
    if head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
        raise ValueError(
            f"{who}: {path} is not an IDX file: magic number 0x{magic:08X}; expected two zero "
            "bytes, a type byte in {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E} and a dimension count"
        )
    dtype, ndim = _IDX_TYPES[head[2]], head[3]
    header = 4 + 4 * ndim
    dims = src.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"{who}: {path} is truncated: {4 + len(dims)} bytes, expected a header of {header} "
            f"bytes for {ndim} dimensions"
        )
    shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    payload = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    expected = header + payload
    if payload > max_bytes:
        raise ValueError(
            f"{who}: {path} declares shape {shape} of {dtype.itemsize}-byte values, "
            f"{payload:,} bytes; at most max_bytes={max_bytes:,} are accepted (pass a larger "
            "max_bytes if the file is genuine)"
        )
    if not src.gzipped and src.size != expected:
        state = "truncated" if src.size < expected else "longer than its header says"
        raise ValueError(
            f"{who}: {path} is {state}: {src.size} bytes, expected {expected} (header "
            f"{header} + shape {shape} x {dtype.itemsize} byte(s))"
        )
    if src.gzipped and expected > _DEFLATE_MAX_RATIO * src.size:
        raise ValueError(
            f"{who}: {path} is truncated: a gzip file of {src.size} bytes cannot hold the "
            f"{expected} bytes its header declares (header {header} + shape {shape} x "
            f"{dtype.itemsize} byte(s))"
        )
    raw = src.read(payload)
    if len(raw) < payload:
        raise ValueError(
            f"{who}: {path} is truncated: {header + len(raw)} bytes, expected {expected} "
            f"(header {header} + shape {shape} x {dtype.itemsize} byte(s))"
        )
    if src.read(1):
        raise ValueError(
            f"{who}: {path} is longer than its header says: more than {expected} bytes, "
            f"expected {expected} (header {header} + shape {shape} x {dtype.itemsize} byte(s))"
        )
    data = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _describe_magic(magic):
    kind = {
        0x08: "unsigned bytes",
        0x09: "signed bytes",
        0x0B: "int16",
        0x0C: "int32",
        0x0D: "float32",
        0x0E: "float64",
    }.get((magic >> 8) & 0xFF, "unknown type")
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

    classes = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]
    _files = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }

    files_described = "IDX files"

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, train, transform, target_transform, download)
        who = type(self).__name__
        image_name, label_name = self._files[self.train]
        image_path, label_path = self._find(image_name), self._find(label_name)
        images = read_idx(image_path, expected_magic=0x00000803, who=who)
        labels = read_idx(label_path, expected_magic=0x00000801, who=who)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{who}: {image_path} holds {images.shape[0]} images but {label_path} holds "
                f"{labels.shape[0]} labels; expected the same count"
            )
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(
                f"{who}: {label_path} holds label {int(labels.max())}; expected labels in 0..{len(self.classes) - 1}"
            )
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

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
