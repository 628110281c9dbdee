"""Dropout: elementwise inverted dropout and channel (feature-map) dropout."""

import warnings

import numpy as np

from ...random import default_generator
from ...tensor import Tensor
from ._utils import _check_float


# ------------------------------------------------------------------------------------- dropout
def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p), so the
    expectation is unchanged and evaluation needs no rescaling.  Identity when not training."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be a number in [0, 1], got {p!r}")
    x = _check_float(input, "dropout")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = default_generator().random(x.shape) >= p
    mask = keep.astype(x.data.dtype) * x.data.dtype.type(1.0 / (1.0 - p))
    return x * Tensor(mask)


# ------------------------------------------------------------------------------------- channel dropout
def _check_p(p, name):
    if (
        isinstance(p, (bool, np.bool_))
        or not isinstance(p, (int, float, np.integer, np.floating))
        or not 0.0 <= p <= 1.0
    ):
        raise ValueError(f"{name}: probability p must be a number in [0, 1], got {p!r}")
    return float(p)


def _feature_dropout(x, p, training):
    """Zero whole feature maps x[n, c] with probability p, scale the kept ones by 1 / (1 - p)."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    shape = x.shape[:2] + (1,) * (x.ndim - 2)
    keep = default_generator().random(shape) >= p
    return x * Tensor(keep.astype(x.data.dtype) * x.data.dtype.type(1.0 / (1.0 - p)))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Channel dropout for (N, C, L) or (C, L) inputs: each channel is zeroed with probability p, the
    others scaled by 1 / (1 - p).  Identity when not training."""
    p = _check_p(p, "dropout1d")
    x = _check_float(input, "dropout1d")
    if x.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {x.shape}")
    if x.ndim == 2:
        return _feature_dropout(x.unsqueeze(0), p, training).squeeze(0)
    return _feature_dropout(x, p, training)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout: each feature map x[n, c] of an (N, C, H, W) input is zeroed with probability
    p and the kept maps are scaled by 1 / (1 - p) (neighbouring pixels are correlated, so dropping
    single pixels would regularise little).  Identity when not training.  Like torch, a 3-D input is
    treated as (N, C, L) (with a warning), other ranks drop per (dim 0, dim 1) entry, also warned."""
    p = _check_p(p, "dropout2d")
    x = _check_float(input, "dropout2d")
    if x.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: received a {x.ndim}-D input; dropout2d expects (N, C, H, W) or (C, H, W) "
            "inputs (use dropout for other shapes)",
            stacklevel=2,
        )
    if x.ndim == 3:
        warnings.warn(
            "dropout2d: received a 3-D input; as in torch it is read as (N, C, L) and whole "
            "channels are dropped per sample (use dropout1d for that)",
            stacklevel=2,
        )
    if x.ndim < 2:
        raise ValueError(f"dropout2d: expected an input with a batch and a channel dimension, got shape {x.shape}")
    return _feature_dropout(x, p, training)
