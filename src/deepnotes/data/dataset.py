"""Map-style datasets: an object with ``__len__`` and ``__getitem__(i) -> sample``.

A ``Dataset`` answers "what is sample i?"; the sampler decides which i come next and the
``DataLoader`` groups them into batches (seed 001: Dataset / Sampler / BatchSampler / DataLoader).
The classes mirror ``torch.utils.data``: ``TensorDataset``, ``Subset``, ``ConcatDataset`` and
``random_split``.
"""

from __future__ import annotations

import bisect
import math
import numbers
import warnings

import numpy as np

from ..random import default_generator
from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]


class Dataset:
    """Base class of map-style datasets.

    Subclasses implement ``__getitem__(index) -> sample`` and usually ``__len__``. ``a + b`` concatenates
    two datasets into a ``ConcatDataset``.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of equally long tensors: ``dataset[i] = (t0[i], t1[i], ...)``.

    Args:
        *tensors: ``deepnotes.Tensor`` or ``numpy.ndarray`` objects sharing the size of their first
            dimension N. A tensor yields tensor rows, an array yields NumPy rows; ``default_collate``
            turns either into batched tensors.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor or array, got none")
        for i, t in enumerate(tensors):
            if not isinstance(t, (Tensor, np.ndarray)):
                raise TypeError(
                    f"TensorDataset: argument {i} is a {type(t).__name__}; expected a deepnotes.Tensor or numpy.ndarray"
                )
            if t.ndim == 0:
                raise ValueError(
                    f"TensorDataset: argument {i} is 0-dimensional; expected at least one "
                    "dimension (the sample dimension)"
                )
        sizes = [t.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(
                f"TensorDataset: size mismatch between tensors: first dimensions are {sizes}; "
                "all tensors must have the same number of samples"
            )
        self.tensors = tuple(tensors)
        self._arrays = tuple(t.data if isinstance(t, Tensor) else t for t in tensors)
        self._is_tensor = tuple(isinstance(t, Tensor) for t in tensors)

    def __getitem__(self, index):
        return tuple(
            Tensor(np.asarray(a[index])) if is_t else a[index] for a, is_t in zip(self._arrays, self._is_tensor)
        )

    def __len__(self):
        return self._arrays[0].shape[0]

    def _collated_batch(self, indices):
        """``default_collate([self[i] for i in indices])`` in one gather per tensor."""
        idx = np.asarray(indices, dtype=np.intp)
        return [Tensor(a[idx]) for a in self._arrays]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``: ``subset[i] = dataset[indices[i]]``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        inner = getattr(self.dataset, "__getitems__", None)
        if inner is not None:
            return inner([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self):
        return len(self.indices)

    def _collated_batch(self, indices):
        inner = getattr(self.dataset, "_collated_batch", None)
        if inner is None:
            return NotImplemented
        return inner(np.asarray(self.indices)[np.asarray(indices, dtype=np.intp)])


class ConcatDataset(Dataset):
    """Several datasets one after another; ``cumulative_sizes[k]`` is the length of the first k+1."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if not isinstance(idx, (numbers.Integral, np.integer)):
            raise TypeError(f"ConcatDataset: index must be an integer, got {type(idx).__name__}")
        idx = int(idx)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"ConcatDataset: absolute value of index {idx} should not exceed dataset length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} is out of range for length {n}")
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][idx - start]


def _check_generator(name, generator):
    """``generator`` itself, or the library generator when it is None."""
    if generator is None:
        return default_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{name}: generator must be a numpy.random.Generator or None, got {type(generator).__name__}")
    return generator


def _split_lengths(n, lengths):
    """Integer lengths from ints, or from fractions summing to 1 (torch's rule for the remainder)."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths should not be empty")
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        out = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is {frac}; fractions must lie in [0, 1]")
            out.append(int(math.floor(n * frac)))
        # Hand the samples lost to flooring out one at a time, round robin from the first split.
        for i in range(n - sum(out)):
            out[i % len(out)] += 1
        for i, length in enumerate(out):
            if length == 0:
                warnings.warn(
                    f"random_split: length of split at index {i} is 0; this split will be empty", stacklevel=3
                )
        return out
    for i, length in enumerate(lengths):
        if not isinstance(length, (numbers.Integral, np.integer)) or isinstance(length, bool) or length < 0:
            raise ValueError(
                f"random_split: lengths must be non-negative ints or fractions summing to 1; "
                f"got {lengths!r} (entry {i} is {length!r})"
            )
    lengths = [int(v) for v in lengths]
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length of the input dataset ({n})"
        )
    return lengths


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random subsets.

    Args:
        dataset: a map-style dataset of length N.
        lengths: ints summing to N, or fractions summing to 1. Fractions give ``floor(N * f)`` each,
            and the remaining samples are handed out one per split, round robin (as in torch).
        generator: a ``numpy.random.Generator``; default: the library generator that
            ``deepnotes.manual_seed`` seeds.

    Returns:
        list of ``Subset``, one per length, covering a random permutation of ``range(N)``.
    """
    n = len(dataset)
    lengths = _split_lengths(n, lengths)
    perm = _check_generator("random_split", generator).permutation(n).tolist()
    subsets, offset = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, perm[offset : offset + length]))
        offset += length
    return subsets
