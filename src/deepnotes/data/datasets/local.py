"""Base of the readers of local data-set files (MNIST IDX, CIFAR-10 binary batches).

Nothing is ever downloaded: the files must already be under ``root``.
"""

import os

from ._labelled import LabelledImages


class LocalDataset(LabelledImages):
    """Checks and stores the arguments every local reader shares, like torchvision's datasets."""

    files_described = "files"  # what the error for download=True tells the user to place under root

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        who = type(self).__name__
        if download:
            raise ValueError(
                f"{who}: download=True is not supported (deepnotes never uses the network); "
                f"place the {self.files_described} under {root!r}"
            )
        self._set_transforms(transform, target_transform)
        self.root = os.fspath(root)
        self.train = bool(train)
