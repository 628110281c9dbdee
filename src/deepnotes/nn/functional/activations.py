"""Activation functions: ReLU family, sigmoid/tanh, softmax/log-softmax, ELU family, GELU, softplus,
hard approximations and maxout."""

import numpy as np

from ...ops import activation as _act
from ...ops.elementwise import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ...tensor import Tensor
from ._utils import _check_float, _float_or_cast, _int, _number, _tensor


# ------------------------------------------------------------------------------------- activations
def relu(input, inplace=False):
    """max(x, 0); the gradient is 1 where x > 0 and 0 elsewhere (0 at x = 0, as torch)."""
    return ReLU.apply(_tensor(input, "relu"))


def sigmoid(input):
    """1 / (1 + e^-x), evaluated without overflow for any x."""
    return Sigmoid.apply(_float_or_cast(input, "sigmoid"))


def tanh(input):
    return Tanh.apply(_float_or_cast(input, "tanh"))


def _softmax_dim(x, dim, name):
    if dim is None:  # torch's legacy implicit choice
        dim = 0 if x.ndim in (0, 1, 3) else 1
    dim = _int(dim, f"{name} dim")
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor with {x.ndim} dimensions")
    return dim % max(x.ndim, 1)


def _softmax_input(input, dtype, name):
    x = _tensor(input, name)
    if dtype is not None:
        x = x.to(dtype)
    return _check_float(x, name)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x), finite for any finite logits."""
    x = _softmax_input(input, dtype, "softmax")
    if x.ndim == 0:
        return Softmax.apply(x.reshape(1), dim=0).reshape(())
    return Softmax.apply(x, dim=_softmax_dim(x, dim, "softmax"))


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log softmax(x)_i = (x_i - max x) - log sum_j exp(x_j - max x), exact for logits of any size."""
    x = _softmax_input(input, dtype, "log_softmax")
    if x.ndim == 0:
        return LogSoftmax.apply(x.reshape(1), dim=0).reshape(())
    return LogSoftmax.apply(x, dim=_softmax_dim(x, dim, "log_softmax"))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """LeakyReLU(x) = x for x > 0, negative_slope * x otherwise; gradient 1 or negative_slope (at 0:
    negative_slope, as torch)."""
    slope = _number(negative_slope, "leaky_relu", "negative_slope")
    return _act.LeakyReLUFn.apply(_check_float(input, "leaky_relu"), negative_slope=slope)


def prelu(input, weight):
    """PReLU(x) = x for x > 0, a_c x otherwise, with learnable slopes ``weight``: one value, or one per
    channel (dimension 1 of the input; inputs of fewer than 2 dimensions have one channel)."""
    x = _check_float(input, "prelu")
    w = _check_float(weight, "prelu")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.ndim > 1 or w.data.size not in (1, channels):
        raise ValueError(
            f"prelu: weight must hold 1 or {channels} (the input's channels) values, got shape "
            f"{w.shape} for input of shape {x.shape}"
        )
    if w.data.dtype != x.data.dtype:
        raise TypeError(f"prelu: weight dtype {w.data.dtype} differs from input dtype {x.data.dtype}")
    return _act.PReLUFn.apply(x, w)


def elu(input, alpha=1.0, inplace=False):
    """ELU(x) = x for x > 0, alpha (e^x - 1) otherwise; smooth at 0 when alpha = 1."""
    return _act.ELUFn.apply(
        _check_float(input, "elu"), alpha=_number(alpha, "elu", "alpha"), scale=1.0, input_scale=1.0
    )


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """SELU(x) = scale * ELU(x, alpha) with alpha ~ 1.6733, scale ~ 1.0507 (self-normalising)."""
    return _act.ELUFn.apply(_check_float(input, "selu"), alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0)


def celu(input, alpha=1.0, inplace=False):
    """CELU(x) = max(0, x) + min(0, alpha (e^(x / alpha) - 1))."""
    alpha = _number(alpha, "celu", "alpha")
    if alpha == 0:
        raise ValueError("celu: alpha must be nonzero, got 0")
    return _act.ELUFn.apply(_check_float(input, "celu"), alpha=alpha, scale=1.0, input_scale=1.0 / alpha)


def silu(input, inplace=False):
    """SiLU(x) = x * sigmoid(x) (Swish with beta = 1); finite for any x."""
    return _act.SiLUFn.apply(_check_float(input, "silu"))


def swish(input, beta=1.0):
    """Swish(x) = x * sigmoid(beta * x).  ``beta`` is a number or a tensor that broadcasts against the
    input (a learnable beta receives its gradient sum(x^2 s (1 - s)), s = sigmoid(beta x))."""
    x = _check_float(input, "swish")
    if isinstance(beta, Tensor):
        b = _check_float(beta, "swish")
        try:
            np.broadcast_shapes(b.shape, x.shape)
        except ValueError:
            raise ValueError(f"swish: beta of shape {b.shape} does not broadcast to input shape {x.shape}") from None
        return _act.SwishFn.apply(x, b.to(x.data.dtype))
    b = _number(beta, "swish", "beta")
    if b == 1.0:
        return _act.SiLUFn.apply(x)
    return _act.SwishFn.apply(x, Tensor(np.asarray(b, dtype=x.data.dtype)))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Hardtanh(x) = clip(x, min_val, max_val); gradient 1 strictly between the bounds, else 0."""
    lo, hi = _number(min_val, "hardtanh", "min_val"), _number(max_val, "hardtanh", "max_val")
    if lo > hi:
        raise ValueError(f"hardtanh: min_val ({lo}) must not exceed max_val ({hi})")
    return _act.HardtanhFn.apply(_check_float(input, "hardtanh"), min_val=lo, max_val=hi)


def hardshrink(input, lambd=0.5):
    """Hardshrink(x) = x where |x| > lambd, else 0: hard thresholding, which zeroes small values and
    keeps the others unchanged (soft thresholding, softshrink, would also pull them towards 0 by lambd).
    Gradient 1 outside [-lambd, lambd], 0 on it."""
    lambd = _number(lambd, "hardshrink", "lambd")
    return _act.HardshrinkFn.apply(_check_float(input, "hardshrink"), lambd=lambd)


def relu6(input, inplace=False):
    """ReLU6(x) = min(max(x, 0), 6) (Hardtanh(0, 6)); gradient 1 on (0, 6), else 0."""
    return _act.HardtanhFn.apply(_check_float(input, "relu6"), min_val=0.0, max_val=6.0)


def hardsigmoid(input, inplace=False):
    """Hardsigmoid(x) = ReLU6(x + 3) / 6: 0 below -3, 1 above 3, x / 6 + 1/2 between."""
    return _act.HardsigmoidFn.apply(_check_float(input, "hardsigmoid"))


def hardswish(input, inplace=False):
    """Hardswish(x) = x * ReLU6(x + 3) / 6 (MobileNetV3's h-swish)."""
    return _act.HardswishFn.apply(_check_float(input, "hardswish"))


def gelu(input, approximate="none"):
    """GELU(x) = x * Phi(x), Phi the standard normal CDF (``approximate='none'``), or
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) with ``approximate='tanh'``."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _act.GELUFn.apply(_check_float(input, "gelu"), approximate=approximate)


def softplus(input, beta=1.0, threshold=20.0):
    """Softplus(x) = log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (torch's
    linear region).  Never overflows."""
    beta = _number(beta, "softplus", "beta")
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero, got 0")
    return _act.SoftplusFn.apply(
        _check_float(input, "softplus"), beta=beta, threshold=_number(threshold, "softplus", "threshold")
    )


def maxout(input, pool_size, dim=1):
    """Maxout: split dimension ``dim`` (size C * pool_size) into C groups of ``pool_size`` consecutive
    entries and keep each group's maximum, (N, C * k, *) -> (N, C, *).  The gradient flows to each
    group's arg-max (the first one on ties)."""
    x = _check_float(input, "maxout")
    k = _int(pool_size, "maxout pool_size")
    if k < 1:
        raise ValueError(f"maxout: pool_size must be >= 1, got {k}")
    if x.ndim == 0:
        raise ValueError("maxout: expected an input with at least one dimension, got a scalar")
    d = _int(dim, "maxout dim")
    if not -x.ndim <= d < x.ndim:
        raise IndexError(f"maxout: dim {d} is out of range for a tensor with {x.ndim} dimensions")
    d %= x.ndim
    if x.shape[d] % k:
        raise ValueError(
            f"maxout: the size {x.shape[d]} of dimension {d} must be divisible by pool_size={k} (input shape {x.shape})"
        )
    return x.unflatten(d, (x.shape[d] // k, k)).max(dim=d + 1)[0]
