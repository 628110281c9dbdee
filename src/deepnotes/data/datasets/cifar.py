"""CIFAR-10 from the local binary batches (``cifar-10-batches-bin``), as in ``torchvision.datasets``.

Each batch file is a run of 3,073-byte records: one label byte (0..9), then the 32x32 image as 1,024
red, 1,024 green and 1,024 blue bytes (channel-major, rows top to bottom). The binary version is read
rather than the Python one, whose pickles can run code when loaded.
"""

from __future__ import annotations

import os

import numpy as np

from .local import LocalDataset
from .mnist import _to_unit_float

__all__ = ["CIFAR10", "read_cifar10_batch"]

_RECORD = 1 + 3 * 32 * 32


def read_cifar10_batch(path, who="read_cifar10_batch"):
    """Read one CIFAR-10 binary batch file.

    Returns:
        (images, labels): uint8 (N, 32, 32, 3) in HWC order, as torchvision's ``data``, and int64 (N,).

    The file is not compressed, so its size on disk is its size: it is checked before any byte is read.

    Raises:
        ValueError naming the file when its size is not a positive multiple of 3,073 bytes or a label
        byte is not in 0..9.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size  # checked before anything is read
        if size == 0 or size % _RECORD:
            raise ValueError(
                f"{who}: {path} has {size} bytes; expected a positive multiple of {_RECORD} "
                "(1 label byte + 3x32x32 pixel bytes per record): the file is truncated or not "
                "a CIFAR-10 binary batch"
            )
        raw = f.read(size)
    if len(raw) != size:
        raise ValueError(f"{who}: {path} changed while it was read ({len(raw)} of {size} bytes)")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _RECORD)
    labels = records[:, 0].astype(np.int64)
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise ValueError(
            f"{who}: {path} is not a CIFAR-10 binary batch: record {int(bad[0])} has label byte "
            f"{int(labels[bad[0]])}; expected 0..9"
        )
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    return images, labels


class CIFAR10(LocalDataset):
    """CIFAR-10 read from ``data_batch_1.bin`` .. ``data_batch_5.bin`` (train) or ``test_batch.bin``.

    The files are looked for in ``root`` and in ``root/cifar-10-batches-bin``. Sample i is
    ``(image, label)``: image float32 (3, 32, 32) = byte / 255, label an int; ``data`` holds the uint8
    images (N, 32, 32, 3) and ``targets`` the int64 labels (N,).

    Args:
        root: folder holding the batch files.
        train: the five training batches (True) or the test batch (False).
        transform, target_transform: callables applied to the image and the label.
        download: must stay False; deepnotes never downloads.
    """

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    base_folder = "cifar-10-batches-bin"
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]

    files_described = "binary batches"

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, train, transform, target_transform, download)
        who = type(self).__name__
        parts = [
            read_cifar10_batch(self._find(name), who=who)
            for name in (self.train_list if self.train else self.test_list)
        ]
        self.data = np.concatenate([p[0] for p in parts])
        self.targets = np.concatenate([p[1] for p in parts])

    def _find(self, name):
        tried = [os.path.join(self.root, name), os.path.join(self.root, self.base_folder, name)]
        for path in tried:
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(f"{type(self).__name__}: cannot find {name}; looked for: " + ", ".join(tried))

    def _image(self, index):
        return np.ascontiguousarray(_to_unit_float(self.data[index]).transpose(2, 0, 1))

    def _images(self, idx):
        return np.ascontiguousarray(_to_unit_float(self.data[idx]).transpose(0, 3, 1, 2))

    def __repr__(self):
        return f"CIFAR10(root={self.root!r}, split={'train' if self.train else 'test'}, n={len(self)})"
