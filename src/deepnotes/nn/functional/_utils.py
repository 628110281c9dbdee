"""Argument helpers shared by the functional modules: int/pair/tuple parsing, tensor conversion with a
named error, floating-point checks and the loss reductions.  Private: the public functions validate
their arguments with these at the entry, and the code after that trusts them."""

import numpy as np

from ...tensor import Tensor, as_tensor, get_default_dtype

_REDUCTIONS = ("none", "mean", "sum")


# ------------------------------------------------------------------------------------- helpers
def _pair(v, name="argument"):
    """An int or a pair of ints as a pair of ints (torch's ``_pair``)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name}: expected an int or a pair of ints, got {v!r}")
        return tuple(_int(i, name) for i in v)
    return (_int(v, name), _int(v, name))


def _int(v, name):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {v!r} of type {type(v).__name__}")
    return int(v)


def _tensor(x, name):
    if isinstance(x, Tensor):
        return x
    try:
        return as_tensor(x)
    except TypeError:
        raise TypeError(f"{name}: expected a Tensor or an array, got {type(x).__name__}") from None


def _check_float(x, name):
    """``x`` as a Tensor; a TypeError naming ``name`` when it does not hold floating-point values."""
    x = _tensor(x, name)
    if x.data.dtype.kind != "f":
        raise TypeError(
            f"{name}: expected a floating-point input, got dtype {x.data.dtype} (convert it with .float() or .double())"
        )
    return x


def _float_or_cast(x, name):
    """Integer and boolean inputs become the default float dtype (torch's sigmoid/tanh on ints)."""
    x = _tensor(x, name)
    if x.data.dtype.kind in "biu":
        return x.to(get_default_dtype())
    return _check_float(x, name)


def _array(v):
    return v.data if isinstance(v, Tensor) else np.asarray(v)


def _legacy_reduction(size_average, reduce, reduction):
    """Map torch's deprecated ``size_average``/``reduce`` flags onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction, name):
    _check_reduction(reduction, name)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _ntuple(v, n, name):
    """An int or a sequence of ``n`` ints as an n-tuple of ints (torch's ``_single``/``_pair``)."""
    if n == 2:
        return _pair(v, name)
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"{name}: expected an int or a sequence of {n} int(s), got {v!r}")
        return tuple(_int(i, name) for i in v)
    return (_int(v, name),) * n


def _number(v, name, label):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: {label} must be a number, got {v!r} of type {type(v).__name__}")
    return float(v)
