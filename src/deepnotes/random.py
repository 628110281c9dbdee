"""One seeded random generator for the whole library, so ``manual_seed`` makes runs repeatable."""
import random as _pyrandom

import numpy as np

_generator = [np.random.default_rng()]


def manual_seed(seed):
    """Seed every source of randomness deepnotes uses (its generator, NumPy's legacy one and ``random``).

    The same seed makes a training run bit-for-bit repeatable (seed 001's ``setup_seed``).
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}")
    seed = int(seed)
    _generator[0] = np.random.default_rng(seed)
    np.random.seed(seed % 2**32)
    _pyrandom.seed(seed)
    return _generator[0]


def default_generator():
    return _generator[0]


def _gen(generator):
    if generator is None:
        return _generator[0]
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"expected a numpy.random.Generator, got {type(generator).__name__}")


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _dtype(dtype):
    from .tensor import get_default_dtype
    return get_default_dtype() if dtype is None else dtype


def rand(*shape, dtype=None, generator=None, requires_grad=False):
    from .tensor import Tensor
    data = _gen(generator).random(_shape(shape)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def randn(*shape, dtype=None, generator=None, requires_grad=False):
    from .tensor import Tensor
    data = _gen(generator).standard_normal(_shape(shape)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=np.int64, generator=None):
    from .tensor import Tensor
    if high is None:
        low, high = 0, low
    return Tensor(_gen(generator).integers(low, high, size=_shape((size,)) if isinstance(size, int)
                                            else tuple(size)).astype(dtype))


def randperm(n, generator=None):
    from .tensor import Tensor
    return Tensor(_gen(generator).permutation(int(n)).astype(np.int64))
