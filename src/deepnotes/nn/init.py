"""Weight initialisers with torch's formulas; each fills a tensor in place and returns it.

Xavier (Glorot): Var(w) = gain^2 * 2 / (fan_in + fan_out).  Kaiming (He): Var(w) = gain^2 / fan_mode,
with gain = sqrt(2 / (1 + a^2)) for (leaky) ReLU.  Also a truncated normal and (semi-)orthogonal
matrices.  The generator is the library's seeded one unless ``generator`` is given.
"""

import math
import warnings

import numpy as np

from ..random import default_generator
from ..tensor import Tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (torch.nn.init.calculate_gain)."""
    linear = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fill(tensor, values):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a Tensor, got {type(tensor).__name__}")
    tensor.data[...] = values
    tensor._bump_version()  # an in-place change, as torch's initializers count it
    return tensor


def _draw_in_place(tensor, g, method):
    """Fill a float64 tensor with generator ``g``'s ``method(out=...)`` straight into its memory (no
    temporary array and no copy); True when done, False when the tensor's array cannot be the
    generator's ``out``.  Float32 tensors keep float64 draws rounded to float32: drawing float32
    directly would be several times faster for large models, but it changes every seeded
    initialisation, and the defaults (learning rates, the main job's accuracy) were chosen on these."""
    data = tensor.data if isinstance(tensor, Tensor) else None
    if data is None or not isinstance(g, np.random.Generator) or data.dtype != np.float64:
        return False
    if not data.flags.c_contiguous:
        return False
    getattr(g, method)(out=data)
    return True


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Values uniform on [a, b), the values of ``Generator.uniform`` (rounded to the tensor's dtype)."""
    g = generator or default_generator()
    if not _draw_in_place(tensor, g, "random"):
        return _fill(tensor, g.uniform(a, b, size=tensor.shape))
    data = tensor.data
    data *= b - a
    data += a
    tensor._bump_version()
    return tensor


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Gaussian values, those of ``Generator.normal`` (rounded to the tensor's dtype)."""
    g = generator or default_generator()
    if not _draw_in_place(tensor, g, "standard_normal"):
        return _fill(tensor, g.normal(mean, std, size=tensor.shape))
    data = tensor.data
    data *= std
    data += mean
    tensor._bump_version()
    return tensor


def constant_(tensor, val):
    return _fill(tensor, val)


def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def _std_normal_cdf(z):
    from ..ops.activation import erfc

    return 0.5 * float(erfc(np.array(-z / math.sqrt(2.0))))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with samples of N(mean, std^2) conditioned on a <= x <= b (``a``, ``b`` are absolute
    bounds, not multiples of std: ``trunc_normal_(w, std=0.02)`` is practically untruncated).

    Exact sampling by rejection: normal proposals when the interval holds more than 30 % of the mass,
    otherwise uniform proposals on [a, b] accepted with probability exp(-(x - mean)^2 / (2 std^2))
    relative to the density's peak on the interval, so tails far from the mean stay fast.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"trunc_normal_: expected a Tensor, got {type(tensor).__name__}")
    if not std > 0:
        raise ValueError(f"trunc_normal_: std must be positive, got {std!r}")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a!r}, b={b!r}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "trunc_normal_: mean is more than 2 std from [a, b]; the distribution of values may be incorrect",
            stacklevel=2,
        )
    g = generator or default_generator()
    n = int(np.prod(tensor.shape))
    mass = _std_normal_cdf((b - mean) / std) - _std_normal_cdf((a - mean) / std)
    if mass > 0.3:
        out = g.normal(mean, std, size=n)
        bad = np.flatnonzero((out < a) | (out > b))
        while bad.size:
            out[bad] = g.normal(mean, std, size=bad.size)
            bad = bad[(out[bad] < a) | (out[bad] > b)]
    else:
        peak = min(max(mean, a), b)
        log_peak = -0.5 * ((peak - mean) / std) ** 2
        out = np.empty(n)
        todo = np.arange(n)
        while todo.size:
            cand = g.uniform(a, b, size=todo.size)
            log_ratio = -0.5 * ((cand - mean) / std) ** 2 - log_peak
            ok = np.log(g.random(todo.size)) <= log_ratio
            out[todo[ok]] = cand[ok]
            todo = todo[~ok]
    dt = tensor.data.dtype.type
    return _fill(tensor, np.clip(out.astype(tensor.data.dtype), dt(a), dt(b)).reshape(tensor.shape))


def orthogonal_(tensor, gain=1, generator=None):
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2013): rows x (product of the
    other dims); the Q factor of a Gaussian matrix with the signs of R's diagonal folded in, so Q is
    Haar-distributed.  W W^T = gain^2 I (rows <= cols) or W^T W = gain^2 I (rows >= cols)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"orthogonal_: expected a Tensor, got {type(tensor).__name__}")
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor
    g = generator or default_generator()
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = np.asarray(g.normal(0.0, 1.0, size=(rows, cols)), dtype=np.float64)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (q * gain).reshape(tensor.shape))
