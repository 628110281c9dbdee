"""Base of the image classification data sets (bundled digits, MNIST, CIFAR-10): ``(image, label)``
samples, optional transforms, and whole-batch collation when no transform is set."""

import numpy as np

from ...tensor import Tensor
from ..dataset import Dataset


class LabelledImages(Dataset):
    """Samples ``(image, int(targets[i]))``.  Subclasses set ``targets`` and define ``_image(index)``
    (one float32 (C, H, W) array the caller may modify) and ``_images(indices)`` (the (B, C, H, W)
    batch), and call :meth:`_set_transforms` from ``__init__``."""

    def _set_transforms(self, transform, target_transform):
        for name, fn in (("transform", transform), ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{type(self).__name__}: {name} should be callable or None, got {type(fn).__name__}")
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return self.targets.shape[0]

    def __getitem__(self, index):
        image = self._image(index)
        target = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _collated_batch(self, indices):
        if self.transform is not None or self.target_transform is not None:
            return NotImplemented
        idx = np.asarray(indices, dtype=np.intp)
        return [Tensor(self._images(idx)), Tensor(self.targets[idx])]
