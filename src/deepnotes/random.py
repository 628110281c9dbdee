"""One seeded random generator for the whole library, so ``manual_seed`` makes runs repeatable."""

import random as _pyrandom

import numpy as np

from .devices import check_device

_generator = [np.random.default_rng()]


def manual_seed(seed):
    """Seed every source of randomness deepnotes uses (its generator, NumPy's legacy one and ``random``).

    The same seed makes a training run bit-for-bit repeatable (seed 001's ``setup_seed``).  Returns the
    new default ``numpy.random.Generator``.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        seed += 2**64  # torch accepts negative seeds by wrapping them into 64 bits
    if not 0 <= seed < 2**64:
        raise ValueError(f"manual_seed: seed must fit in 64 bits, got {seed}")
    _generator[0] = np.random.default_rng(seed)
    np.random.seed(seed % 2**32)
    _pyrandom.seed(seed)
    return _generator[0]


def default_generator():
    """The library-wide ``numpy.random.Generator`` that ``manual_seed`` replaces."""
    return _generator[0]


def _gen(generator, name):
    if generator is None:
        return _generator[0]
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"{name}: generator must be a numpy.random.Generator, got {type(generator).__name__}")


def _size(size, name):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        size = tuple(int(s) for s in size)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: size must be ints or a sequence of ints, got {size!r}") from None
    if any(s < 0 for s in size):
        raise ValueError(f"{name}: negative dimension in size {size}")
    return size


def _float_dtype(dtype, name):
    from .tensor import get_default_dtype

    dt = np.dtype(get_default_dtype() if dtype is None else dtype)
    if dt.kind != "f":
        raise TypeError(f"{name}: expected a floating dtype, got {dt}")
    return dt


def _sample(method, size, dt, gen):
    # float32/float64 are drawn natively; float16 is drawn in float32 and rounded
    if dt in (np.float32, np.float64):
        return method(gen)(size, dtype=dt)
    return method(gen)(size, dtype=np.float32).astype(dt)


def rand(*size, dtype=None, generator=None, device=None, requires_grad=False):
    """Uniform samples on [0, 1) of the given size (default float dtype)."""
    check_device(device, "rand")
    from .tensor import Tensor

    dt = _float_dtype(dtype, "rand")
    data = _sample(lambda g: g.random, _size(size, "rand"), dt, _gen(generator, "rand"))
    return Tensor(data, requires_grad=requires_grad)


def randn(*size, dtype=None, generator=None, device=None, requires_grad=False):
    """Standard normal samples of the given size (default float dtype)."""
    check_device(device, "randn")
    from .tensor import Tensor

    dt = _float_dtype(dtype, "randn")
    data = _sample(lambda g: g.standard_normal, _size(size, "randn"), dt, _gen(generator, "randn"))
    return Tensor(data, requires_grad=requires_grad)


def randint(*args, size=None, dtype=np.int64, generator=None, device=None, low=None, high=None):
    """Integers uniform on [low, high): ``randint(high, size)`` or ``randint(low, high, size)`` as torch."""
    check_device(device, "randint")
    from .tensor import Tensor

    args = list(args)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif args:
        raise TypeError(
            f"randint: expected randint(high, size) or randint(low, high, size), got {len(args)} positional values"
        )
    if high is None or size is None:
        raise TypeError("randint: high and size are required (randint(high, size) or randint(low, high, size))")
    low = 0 if low is None else int(low)
    high = int(high)
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    size = _size((size,) if isinstance(size, (int, np.integer)) else (tuple(size),), "randint")
    data = _gen(generator, "randint").integers(low, high, size=size, dtype=np.int64)
    return Tensor(data.astype(dtype, copy=False))


def randperm(n, dtype=np.int64, generator=None, device=None):
    """A random permutation of 0 .. n-1."""
    check_device(device, "randperm")
    from .tensor import Tensor

    n = int(n)
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    return Tensor(_gen(generator, "randperm").permutation(n).astype(dtype, copy=False))


def _like_shape(input):
    return input.shape if hasattr(input, "shape") else np.shape(input)


def _like_dtype(input, dtype):
    if dtype is not None:
        return dtype
    dt = np.dtype(getattr(input, "dtype", np.float32))
    return dt if dt.kind == "f" else None


def rand_like(input, dtype=None, generator=None, device=None, requires_grad=False):
    check_device(device, "rand_like")
    return rand(_like_shape(input), dtype=_like_dtype(input, dtype), generator=generator, requires_grad=requires_grad)


def randn_like(input, dtype=None, generator=None, device=None, requires_grad=False):
    check_device(device, "randn_like")
    return randn(_like_shape(input), dtype=_like_dtype(input, dtype), generator=generator, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, generator=None, device=None):
    check_device(device, "randint_like")
    if high is None:
        low, high = 0, low
    dt = dtype if dtype is not None else np.dtype(getattr(input, "dtype", np.int64))
    return randint(low, high, tuple(_like_shape(input)), dtype=dt, generator=generator)


def normal(mean=0.0, std=1.0, size=None, generator=None, device=None, dtype=None):
    """Gaussian samples with the given mean and standard deviation (numbers) and ``size``."""
    check_device(device, "normal")
    if size is None:
        raise TypeError("normal: size is required")
    t = randn(size, dtype=dtype, generator=generator)
    t.data *= t.data.dtype.type(std)
    t.data += t.data.dtype.type(mean)
    return t


def bernoulli(input, p=None, generator=None):
    """Samples 1 with probability ``input`` (or ``p``) elementwise, else 0, in the input's dtype."""
    from .tensor import Tensor, _to_array

    probs = _to_array(input, name="bernoulli")
    if p is not None:
        probs = np.full(probs.shape, p, dtype=probs.dtype)
    if probs.size and (probs.min() < 0 or probs.max() > 1):
        raise ValueError("bernoulli: probabilities must lie in [0, 1]")
    draw = _gen(generator, "bernoulli").random(probs.shape)
    dt = probs.dtype if probs.dtype.kind == "f" else np.float32
    return Tensor((draw < probs).astype(dt))
