"""A validation set held out from the training set, for model selection.

Early stopping, ReduceLROnPlateau and "restore the best weights" choose among models; if they looked
at the test set, the test accuracy would be the best of many tries on it and no longer an unbiased
estimate.  So they look at a slice of the training set instead, and the test set is scored once.
"""

import numbers

import numpy as np

from ..data import random_split
from ..errors import OptionError

__all__ = ["validation_count", "split_validation"]


def validation_count(n, val_size):
    """How many of ``n`` training samples ``val_size`` holds out: a fraction in [0, 1) of ``n``
    (rounded to the nearest sample) or a count in [0, n)."""
    where = "split_validation"
    if isinstance(val_size, bool) or not isinstance(val_size, numbers.Real):
        raise TypeError(f"{where}: val_size should be a fraction or a count, got {type(val_size).__name__}")
    if isinstance(val_size, numbers.Integral) or (float(val_size).is_integer() and val_size >= 1):
        count = int(val_size)
    elif 0 <= val_size < 1:
        count = int(round(float(val_size) * n))
    else:
        count = -1
    if not 0 <= count < n:
        raise OptionError(
            f"{where}: val_size {val_size!r} does not leave a training set: expected a fraction "
            f"in [0, 1) or a count in [0, {n}) of the {n} training samples"
        )
    return count


def split_validation(dataset, val_size=0.1, seed=0):
    """Split ``dataset`` into (train, validation) subsets with :func:`deepnotes.data.random_split` and
    a generator seeded with ``seed`` (independent of ``deepnotes.manual_seed``, so the same samples
    are held out whatever the training seed).  ``val_size`` 0 gives ``(dataset, None)``."""
    count = validation_count(len(dataset), val_size)
    if count == 0:
        return dataset, None
    train, val = random_split(dataset, [len(dataset) - count, count], generator=np.random.default_rng(seed))
    return train, val
