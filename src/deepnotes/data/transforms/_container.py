"""Transforms made of transforms: Compose, RandomApply, RandomChoice, RandomOrder (torchvision v2's
semantics; the random draws come from deepnotes' seeded generator)."""

from __future__ import annotations

import numbers

import numpy as np

from ._transform import Transform

__all__ = ["Compose", "RandomApply", "RandomChoice", "RandomOrder"]


def _check_transforms(transforms, where):
    if not isinstance(transforms, (list, tuple)):
        raise TypeError(f"{where}: transforms must be a list or tuple of callables, got {type(transforms).__name__}")
    for t in transforms:
        if not callable(t):
            raise TypeError(f"{where}: every transform must be callable, got {type(t).__name__}")
    return list(transforms)


def _run(transforms, inputs):
    sample = inputs if len(inputs) > 1 else inputs[0]
    for t in transforms:
        sample = t(sample)
    return sample


class Compose(Transform):
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = _check_transforms(transforms, "Compose")

    def __call__(self, *inputs):
        return _run(self.transforms, inputs)

    forward = __call__

    def __repr__(self):
        body = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({body}\n)"


class RandomApply(Transform):
    """Apply all of ``transforms`` (in order) with probability ``p``, else none."""

    def __init__(self, transforms, p=0.5):
        self.transforms = _check_transforms(transforms, "RandomApply")
        if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomApply: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)

    def __call__(self, *inputs):
        if self._rng().random() >= self.p:
            return inputs if len(inputs) > 1 else inputs[0]
        return _run(self.transforms, inputs)

    forward = __call__


class RandomChoice(Transform):
    """Apply one of ``transforms``, chosen with probabilities ``p`` (uniform by default, normalised)."""

    def __init__(self, transforms, p=None):
        self.transforms = _check_transforms(transforms, "RandomChoice")
        if p is None:
            p = [1.0] * len(self.transforms)
        p = [float(v) for v in p]
        if len(p) != len(self.transforms):
            raise ValueError(f"RandomChoice: p has {len(p)} values for {len(self.transforms)} transforms")
        if any(v < 0 for v in p) or sum(p) <= 0:
            raise ValueError(f"RandomChoice: p must be non-negative with a positive sum, got {p}")
        total = sum(p)
        self.p = [v / total for v in p]

    def __call__(self, *inputs):
        idx = int(self._rng().choice(len(self.transforms), p=np.asarray(self.p)))
        return self.transforms[idx](*inputs)

    forward = __call__


class RandomOrder(Transform):
    """Apply all of ``transforms`` in a random order."""

    def __init__(self, transforms):
        self.transforms = _check_transforms(transforms, "RandomOrder")

    def __call__(self, *inputs):
        order = self._rng().permutation(len(self.transforms))
        return _run([self.transforms[i] for i in order], inputs)

    forward = __call__
