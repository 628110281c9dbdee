"""The two action/observation spaces CartPole needs, shaped like gymnasium's ``Discrete`` and ``Box``."""

import numpy as np

__all__ = ["Discrete", "Box"]


class Discrete:
    """The integers ``0 .. n-1`` (gymnasium's ``spaces.Discrete(n)`` with ``start=0``)."""

    def __init__(self, n):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"Discrete: n must be a positive integer, got {n!r}")
        self.n = int(n)
        self.shape = ()
        self.dtype = np.dtype(np.int64)

    def sample(self, rng=None):
        """One action drawn uniformly with ``rng`` (a ``numpy.random.Generator``; a fresh one if None)."""
        rng = np.random.default_rng() if rng is None else rng
        return int(rng.integers(self.n))

    def contains(self, x):
        """True when ``x`` is an integer (Python, NumPy or a 0-d integer array, not a bool) in ``[0, n)``."""
        if isinstance(x, np.ndarray) and x.shape == () and np.issubdtype(x.dtype, np.integer):
            x = x.item()
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
            return False
        return 0 <= int(x) < self.n

    def __repr__(self):
        return f"Discrete({self.n})"


class Box:
    """A box ``low <= x <= high`` of arrays of one shape and dtype (gymnasium's ``spaces.Box``)."""

    def __init__(self, low, high, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.low = np.asarray(low, dtype=self.dtype)
        self.high = np.asarray(high, dtype=self.dtype)
        if self.low.shape != self.high.shape:
            raise ValueError(f"Box: low has shape {self.low.shape} but high has shape {self.high.shape}")
        self.shape = self.low.shape

    def contains(self, x):
        """True when ``x`` has this shape and lies inside the bounds."""
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all(x >= self.low) and np.all(x <= self.high))

    def __repr__(self):
        return f"Box({self.low}, {self.high}, {self.shape}, {self.dtype})"
