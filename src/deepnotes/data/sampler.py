"""Samplers: iterables of dataset indices, and ``BatchSampler`` that groups them into lists.

The ``DataLoader`` asks a sampler for the order of the indices (sequential, shuffled, weighted) and a
``BatchSampler`` for how to cut that order into batches (seed 001). Random samplers draw from their
``generator`` (a ``numpy.random.Generator``) or, when it is None, from the library generator that
``deepnotes.manual_seed`` seeds; the draw happens when iteration starts, so each epoch gets a fresh
order and the same seed repeats the whole sequence of epochs.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor
from .dataset import _check_generator

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]


def _is_int(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


class Sampler:
    """Base class: ``__iter__`` yields indices (or lists of indices for a batch sampler)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices into ``data_source``.

    Without replacement: whole random permutations of ``range(N)``, repeated and cut to
    ``num_samples`` when that exceeds N (as in torch). With replacement: ``num_samples`` independent
    uniform draws from ``range(N)``.

    Args:
        data_source: dataset of length N.
        replacement: draw with replacement (bool).
        num_samples: number of indices per epoch, default N.
        generator: ``numpy.random.Generator``; None uses the library generator.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, got replacement={replacement!r}")
        if not _is_int(self.num_samples) or self.num_samples <= 0:
            raise ValueError(
                f"RandomSampler: num_samples should be a positive integer value, got num_samples={self.num_samples!r}"
            )
        _check_generator("RandomSampler", generator)

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        gen = _check_generator("RandomSampler", self.generator)
        m = int(self.num_samples)
        if self.replacement:
            return iter(gen.integers(0, n, size=m).tolist())
        full, rest = divmod(m, n)
        parts = [gen.permutation(n) for _ in range(full)]
        if rest:
            parts.append(gen.permutation(n)[:rest])
        return iter(np.concatenate(parts).tolist())

    def __len__(self):
        return int(self.num_samples)


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (no replacement): ``indices[p]`` for a permutation p."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator
        _check_generator("SubsetRandomSampler", generator)

    def __iter__(self):
        perm = _check_generator("SubsetRandomSampler", self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in perm.tolist())

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Indices ``0..len(weights)-1`` drawn with probability ``p_i = w_i / sum_j w_j``.

    Args:
        weights: 1-D sequence of non-negative weights (need not sum to one).
        num_samples: number of indices per epoch.
        replacement: with replacement (default), or without, in which case ``num_samples`` may not
            exceed the number of non-zero weights (successive draws renormalise over the rest).
        generator: ``numpy.random.Generator``; None uses the library generator.
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not _is_int(num_samples) or num_samples <= 0:
            raise ValueError(
                f"WeightedRandomSampler: num_samples should be a positive integer value, got "
                f"num_samples={num_samples!r}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(
                f"WeightedRandomSampler: replacement should be a boolean value, got replacement={replacement!r}"
            )
        w = np.asarray(weights.data if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(
                f"WeightedRandomSampler: weights should be a 1d sequence but given weights have shape {w.shape}"
            )
        if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                "WeightedRandomSampler: weights must be finite, non-negative and have a "
                f"positive sum; got {w.size} weights with sum {w.sum() if w.size else 0.0}"
            )
        nonzero = int(np.count_nonzero(w))
        if not replacement and num_samples > nonzero:
            raise ValueError(
                f"WeightedRandomSampler: cannot draw num_samples={num_samples} without "
                f"replacement from {nonzero} non-zero weights"
            )
        _check_generator("WeightedRandomSampler", generator)
        self.weights = w
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        gen = _check_generator("WeightedRandomSampler", self.generator)
        w = self.weights
        if self.replacement:
            p = w / w.max()  # rescaled first so the sum cannot overflow
            return iter(gen.choice(w.size, size=self.num_samples, p=p / p.sum()).tolist())
        # Exponential race: item i finishes at E_i / w_i with E_i ~ Exp(1); the finishing order is
        # successive sampling without replacement. Logs keep tiny (even subnormal) weights in the race.
        with np.errstate(divide="ignore"):
            keys = np.log(gen.exponential(size=w.size)) - np.log(w)
        return iter(np.argsort(keys, kind="stable")[: self.num_samples].tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``.

    The last, shorter list is kept unless ``drop_last``; ``len`` is ``floor(N / B)`` with
    ``drop_last`` and ``ceil(N / B)`` without, N being ``len(sampler)``.
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(
                f"BatchSampler: batch_size should be a positive integer value, got batch_size={batch_size!r}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, got drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
