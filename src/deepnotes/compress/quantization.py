"""Affine int8 quantisation with ``torch``'s arithmetic.

``quantize_per_tensor``/``quantize_per_channel`` compute ``q = clamp(rint(x * (1/scale) + zero_point))``
as torch does: ``1/scale`` in float32, ``x * inv + zero_point`` in float32 (per tensor as one fused
multiply-add rounded once, per channel as a product then a sum), ``rint`` rounding half to even.  The
zero point is added *before* rounding, which matters at ties when it is odd.  They return a
:class:`QTensor`; ``QTensor.dequantize`` gives ``(q - zero_point) * scale`` in float32.  The fake-quant
functions round first and add the zero point after (torch's fake-quant kernels), return a tensor of the
input's dtype (bit-exact with torch for float32 input) and pass gradients straight through where the
rounded value lies inside ``[quant_min, quant_max]`` (0 elsewhere).  The observers compute
``scale``/``zero_point`` as ``torch.ao.quantization``'s (per tensor, float32 arithmetic).
"""

from dataclasses import dataclass

import numpy as np

from ..autograd import Function
from ..tensor import Tensor

__all__ = [
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "PerChannelMinMaxObserver",
    "QTensor",
    "fake_quantize_per_channel_affine",
    "fake_quantize_per_tensor_affine",
    "quantize_per_channel",
    "quantize_per_tensor",
]

_RANGES = {"quint8": (0, 255, np.uint8), "qint8": (-128, 127, np.int8)}
_ALIASES = {"quint8": "quint8", "uint8": "quint8", "qint8": "qint8", "int8": "qint8"}


def _dtype_name(dtype, where):
    key = getattr(dtype, "__name__", None) or str(dtype)
    key = key.replace("torch.", "").replace("numpy.", "")
    if key not in _ALIASES:
        raise ValueError(f"{where}: dtype must be 'quint8' or 'qint8' (or np.uint8 / np.int8), got {dtype!r}")
    return _ALIASES[key]


def _float_array(x, where):
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{where}: expected a real floating array or Tensor, got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if np.isnan(arr).any():
        raise ValueError(
            f"{where}: the input contains NaN ({int(np.isnan(arr).sum())} of {arr.size} values); "
            "NaN has no quantised value"
        )
    return arr


def _check_scale(scale, where):
    s = np.asarray(scale, dtype=np.float64)
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"{where}: scale must be finite and > 0, got {scale!r}")
    return s


def _channel_shape(ndim, axis, where):
    if not -ndim <= axis < ndim:
        raise ValueError(f"{where}: axis {axis} is out of range for an input of {ndim} dims")
    axis %= ndim
    shape = [1] * ndim
    shape[axis] = -1
    return axis, tuple(shape)


@dataclass
class QTensor:
    """A quantised array: integer values ``int_repr`` (uint8 or int8), ``scale`` and ``zero_point``
    (scalars, or 1-D arrays along ``axis`` for per-channel quantisation) and the quantised ``dtype``
    name ('quint8' or 'qint8')."""

    int_repr: np.ndarray
    scale: object
    zero_point: object
    dtype: str
    axis: int = None

    @property
    def shape(self):
        return self.int_repr.shape

    @property
    def qscheme(self):
        return "per_tensor_affine" if self.axis is None else "per_channel_affine"

    def dequantize(self):
        """The float32 values ``(int_repr - zero_point) * scale`` as a Tensor (torch multiplies by a
        float32 scale per tensor, by the float64 scales per channel, then casts to float32)."""
        q = self.int_repr.astype(np.int64)
        if self.axis is None:
            out = (q - self.zero_point).astype(np.float32) * np.float32(self.scale)
        else:
            _, shape = _channel_shape(q.ndim, self.axis, "QTensor.dequantize")
            scale = np.asarray(self.scale, np.float64).reshape(shape)
            out = (q - np.asarray(self.zero_point, np.int64).reshape(shape)) * scale
        return Tensor(out.astype(np.float32))


def _quantize(arr, scale, zp, dtype, fused):
    qmin, qmax, npdt = _RANGES[dtype]
    inv = np.float32(1.0) / scale.astype(np.float32)
    if fused:
        # torch's per-tensor kernel is a fused multiply-add ``x * inv + zp`` rounded once to float32:
        # the float64 product of two float32 values is exact, so float64 then one cast reproduces it
        q = np.rint((arr.astype(np.float64) * inv.astype(np.float64) + zp).astype(np.float32))
    else:  # the per-channel kernel rounds the product to float32, then adds the zero point
        q = np.rint(arr * inv + zp.astype(np.float32))
    return np.clip(q, qmin, qmax).astype(npdt)


def quantize_per_tensor(x, scale, zero_point, dtype):
    """Quantise ``x`` with one ``scale``/``zero_point``; returns a :class:`QTensor` (torch's
    ``quantize_per_tensor``; ``.int_repr`` holds its ``int_repr()``)."""
    where = "quantize_per_tensor"
    arr = _float_array(x, where)
    name = _dtype_name(dtype, where)
    s = _check_scale(scale, where)
    if s.ndim != 0:
        raise ValueError(f"{where}: scale must be a scalar, got shape {s.shape}")
    qmin, qmax, _ = _RANGES[name]
    if int(zero_point) != zero_point or not qmin <= int(zero_point) <= qmax:
        raise ValueError(f"{where}: zero_point must be an int in [{qmin}, {qmax}] for {name}, got {zero_point!r}")
    zp = np.asarray(int(zero_point))
    return QTensor(_quantize(arr, s, zp, name, fused=True), float(s), int(zero_point), name)


def quantize_per_channel(x, scales, zero_points, axis, dtype):
    """Quantise ``x`` with one scale/zero point per index along ``axis`` (torch's
    ``quantize_per_channel``)."""
    where = "quantize_per_channel"
    arr = _float_array(x, where)
    name = _dtype_name(dtype, where)
    s = _check_scale(scales.data if isinstance(scales, Tensor) else scales, where).reshape(-1)
    z = np.asarray(zero_points.data if isinstance(zero_points, Tensor) else zero_points).reshape(-1)
    axis, shape = _channel_shape(arr.ndim, int(axis), where)
    if s.size != arr.shape[axis] or z.size != arr.shape[axis]:
        raise ValueError(
            f"{where}: expected {arr.shape[axis]} scales and zero points (the size of axis {axis}), "
            f"got {s.size} and {z.size}"
        )
    if np.any(z != np.round(z)):
        raise ValueError(f"{where}: zero_points must be integers, got {z!r}")
    z = z.astype(np.int64)
    return QTensor(
        _quantize(arr, s.reshape(shape), z.reshape(shape), name, fused=False), s.copy(), z.copy(), name, axis
    )


def _check_range(quant_min, quant_max, where):
    if (
        not (isinstance(quant_min, (int, np.integer)) and isinstance(quant_max, (int, np.integer)))
        or quant_min > quant_max
    ):
        raise ValueError(f"{where}: expected ints quant_min <= quant_max, got {quant_min!r} and {quant_max!r}")


class _FakeQuantize(Function):
    """``(clamp(rint(x / s) + z) - z) * s`` with the straight-through gradient.  As torch's kernels:
    ``x * (1/s)`` in the input's dtype with ``1/s`` taken in float32; the final product is in float32
    per tensor (then cast to the input's dtype) and in the input's dtype per channel."""

    def forward(self, x, scale=None, zero_point=None, quant_min=0, quant_max=255, per_channel=False):
        inv = (np.float32(1.0) / scale.astype(np.float32)).astype(x.dtype)
        zp = zero_point.astype(x.dtype)
        q = np.rint(x * inv) + zp
        inside = (q >= quant_min) & (q <= quant_max)
        if self.needs_input_grad[0]:
            self.inside = inside
        steps = np.clip(q, quant_min, quant_max) - zp
        if per_channel:
            out = steps * scale.astype(np.float64 if x.dtype == np.float64 else np.float32)
        else:
            out = steps.astype(np.float32) * scale.astype(np.float32)
        return out.astype(x.dtype, copy=False)

    def backward(self, grad):
        return grad * self.inside


def _as_input(x, where):
    if not isinstance(x, Tensor):
        x = Tensor(np.asarray(x))
    if x.data.dtype.kind != "f":
        raise TypeError(f"{where}: expected a floating Tensor, got dtype {x.data.dtype}")
    return x


def fake_quantize_per_tensor_affine(x, scale, zero_point, quant_min, quant_max):
    """Quantise and dequantise ``x`` in one step (torch's ``fake_quantize_per_tensor_affine``); the
    gradient is 1 where ``rint(x / scale) + zero_point`` lies in ``[quant_min, quant_max]``, else 0."""
    where = "fake_quantize_per_tensor_affine"
    x = _as_input(x, where)
    s = _check_scale(scale, where)
    _check_range(quant_min, quant_max, where)
    if np.isnan(x.data).any():
        raise ValueError(f"{where}: the input contains NaN; NaN has no quantised value")
    return _FakeQuantize.apply(
        x, scale=s, zero_point=np.asarray(int(zero_point)), quant_min=int(quant_min), quant_max=int(quant_max)
    )


def fake_quantize_per_channel_affine(x, scale, zero_point, axis, quant_min, quant_max):
    """Per-channel fake quantisation along ``axis`` (torch's ``fake_quantize_per_channel_affine``)."""
    where = "fake_quantize_per_channel_affine"
    x = _as_input(x, where)
    s = _check_scale(scale.data if isinstance(scale, Tensor) else scale, where).reshape(-1)
    z = np.asarray(zero_point.data if isinstance(zero_point, Tensor) else zero_point).reshape(-1)
    _check_range(quant_min, quant_max, where)
    axis, shape = _channel_shape(x.data.ndim, int(axis), where)
    if s.size != x.data.shape[axis] or z.size != x.data.shape[axis]:
        raise ValueError(
            f"{where}: expected {x.data.shape[axis]} scales and zero points (the size of axis {axis}), "
            f"got {s.size} and {z.size}"
        )
    if np.isnan(x.data).any():
        raise ValueError(f"{where}: the input contains NaN; NaN has no quantised value")
    return _FakeQuantize.apply(
        x,
        scale=s.reshape(shape),
        zero_point=np.rint(z).astype(np.int64).reshape(shape),
        quant_min=int(quant_min),
        quant_max=int(quant_max),
        per_channel=True,
    )


# ---------------------------------------------------------------------- observers
class MinMaxObserver:
    """Tracks the running min and max of the tensors it sees and derives per-tensor quantisation
    parameters as ``torch.ao.quantization.MinMaxObserver`` (float32 arithmetic, ``eps`` = float32
    epsilon, zero point rounded half to even and clamped).  ``qscheme`` is 'per_tensor_affine' or
    'per_tensor_symmetric'; ``dtype`` 'quint8' or 'qint8'."""

    def __init__(self, dtype="quint8", qscheme="per_tensor_affine", quant_min=None, quant_max=None):
        where = type(self).__name__
        self.dtype = _dtype_name(dtype, where)
        qscheme = str(qscheme).replace("torch.", "")
        if qscheme not in ("per_tensor_affine", "per_tensor_symmetric"):
            raise ValueError(f"{where}: qscheme must be 'per_tensor_affine' or 'per_tensor_symmetric', got {qscheme!r}")
        self.qscheme = qscheme
        lo, hi, _ = _RANGES[self.dtype]
        self.has_customized_qrange = quant_min is not None or quant_max is not None
        self.quant_min = lo if quant_min is None else int(quant_min)
        self.quant_max = hi if quant_max is None else int(quant_max)
        if not lo <= self.quant_min < self.quant_max <= hi:
            raise ValueError(f"{where}: need {lo} <= quant_min < quant_max <= {hi}, got {quant_min} and {quant_max}")
        self.eps = np.finfo(np.float32).eps
        self.reset_min_max_vals()

    def reset_min_max_vals(self):
        self.min_val = np.float32(np.inf)
        self.max_val = np.float32(-np.inf)

    def _observe(self, arr):
        return np.float32(arr.min()), np.float32(arr.max())

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        """Record ``x``'s range and return ``x`` unchanged."""
        arr = x.data if isinstance(x, Tensor) else np.asarray(x)
        if arr.size == 0:
            return x
        arr = arr.astype(np.float32, copy=False)
        if np.isnan(arr).any():
            raise ValueError(f"{type(self).__name__}.forward: the input contains NaN; its range is undefined")
        lo, hi = self._observe(arr)
        self.min_val = np.minimum(self.min_val, lo)
        self.max_val = np.maximum(self.max_val, hi)
        return x

    def calculate_qparams(self):
        """``(scale, zero_point)``: a float32 and an int64 array of shape (1,), like torch's."""
        if self.min_val == np.inf and self.max_val == -np.inf:
            return np.array([1.0], np.float32), np.array([0], np.int64)
        if not self.min_val <= self.max_val:
            raise ValueError(f"{type(self).__name__}.calculate_qparams: min {self.min_val} > max {self.max_val}")
        f32 = np.float32
        qmin, qmax = self.quant_min, self.quant_max
        lo = np.minimum(self.min_val, f32(0))
        hi = np.maximum(self.max_val, f32(0))
        if self.qscheme == "per_tensor_symmetric":
            hi = np.maximum(-lo, hi)
            scale = np.maximum(f32(hi / f32((qmax - qmin) / 2)), f32(self.eps))
            zp = 0
            if self.dtype == "quint8":
                zp = (qmin + qmax) // 2 if self.has_customized_qrange else 128
        else:
            scale = np.maximum(f32(f32(hi - lo) / f32(qmax - qmin)), f32(self.eps))
            zp = qmin - int(np.rint(f32(lo / scale)))
            zp = min(max(zp, qmin), qmax)
        return np.array([scale], np.float32), np.array([zp], np.int64)


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Like :class:`MinMaxObserver`, but the range is an exponential moving average of each batch's
    min and max (the first batch sets it): ``m <- m + c * (batch_min - m)``."""

    def __init__(
        self, averaging_constant=0.01, dtype="quint8", qscheme="per_tensor_affine", quant_min=None, quant_max=None
    ):
        if not 0.0 <= float(averaging_constant) <= 1.0:
            raise ValueError(
                f"MovingAverageMinMaxObserver: averaging_constant must be in [0, 1], got {averaging_constant!r}"
            )
        self.averaging_constant = float(averaging_constant)
        super().__init__(dtype, qscheme, quant_min, quant_max)

    def forward(self, x):
        arr = x.data if isinstance(x, Tensor) else np.asarray(x)
        if arr.size == 0:
            return x
        arr = arr.astype(np.float32, copy=False)
        if np.isnan(arr).any():
            raise ValueError("MovingAverageMinMaxObserver.forward: the input contains NaN; its range is undefined")
        lo, hi = self._observe(arr)
        if self.min_val == np.inf and self.max_val == -np.inf:
            self.min_val, self.max_val = lo, hi
        else:
            c = np.float32(self.averaging_constant)
            self.min_val = np.float32(self.min_val + c * np.float32(lo - self.min_val))
            self.max_val = np.float32(self.max_val + c * np.float32(hi - self.max_val))
        return x


class PerChannelMinMaxObserver:
    """Per-channel running min/max along ``ch_axis`` and the quantisation parameters of each channel, as
    ``torch.ao.quantization.PerChannelMinMaxObserver`` (float32 arithmetic): 'per_channel_symmetric'
    (the default for weights: zero point 0 for qint8, 128 for quint8) or 'per_channel_affine'."""

    def __init__(self, ch_axis=0, dtype="qint8", qscheme="per_channel_symmetric", quant_min=None, quant_max=None):
        where = type(self).__name__
        if isinstance(ch_axis, bool) or not isinstance(ch_axis, (int, np.integer)):
            raise TypeError(f"{where}: ch_axis must be an int, got {ch_axis!r}")
        self.ch_axis = int(ch_axis)
        self.dtype = _dtype_name(dtype, where)
        qscheme = str(qscheme).replace("torch.", "")
        if qscheme not in ("per_channel_affine", "per_channel_symmetric"):
            raise ValueError(
                f"{where}: qscheme must be 'per_channel_affine' or 'per_channel_symmetric', got {qscheme!r}"
            )
        self.qscheme = qscheme
        lo, hi, _ = _RANGES[self.dtype]
        self.has_customized_qrange = quant_min is not None or quant_max is not None
        self.quant_min = lo if quant_min is None else int(quant_min)
        self.quant_max = hi if quant_max is None else int(quant_max)
        if not lo <= self.quant_min < self.quant_max <= hi:
            raise ValueError(f"{where}: need {lo} <= quant_min < quant_max <= {hi}, got {quant_min} and {quant_max}")
        self.eps = np.finfo(np.float32).eps
        self.min_val = np.zeros(0, np.float32)
        self.max_val = np.zeros(0, np.float32)

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        """Record the per-channel range of ``x`` and return ``x`` unchanged."""
        where = f"{type(self).__name__}.forward"
        arr = x.data if isinstance(x, Tensor) else np.asarray(x)
        if arr.size == 0:
            return x
        arr = arr.astype(np.float32, copy=False)
        if np.isnan(arr).any():
            raise ValueError(f"{where}: the input contains NaN; its range is undefined")
        if not -arr.ndim <= self.ch_axis < arr.ndim:
            raise ValueError(f"{where}: ch_axis {self.ch_axis} is out of range for an input of {arr.ndim} dims")
        rows = np.moveaxis(arr, self.ch_axis, 0).reshape(arr.shape[self.ch_axis], -1)
        lo, hi = rows.min(axis=1), rows.max(axis=1)
        if self.min_val.size == 0:
            self.min_val, self.max_val = lo, hi
        elif self.min_val.shape != lo.shape:
            raise ValueError(f"{where}: saw {self.min_val.size} channels before, now {lo.size}")
        else:
            self.min_val, self.max_val = np.minimum(self.min_val, lo), np.maximum(self.max_val, hi)
        return x

    def calculate_qparams(self):
        """``(scales, zero_points)``: float32 and int64 arrays with one entry per channel."""
        if self.min_val.size == 0:
            return np.array([1.0], np.float32), np.array([0], np.int64)
        f32 = np.float32
        qmin, qmax = self.quant_min, self.quant_max
        lo = np.minimum(self.min_val, f32(0))
        hi = np.maximum(self.max_val, f32(0))
        if self.qscheme == "per_channel_symmetric":
            hi = np.maximum(-lo, hi)
            scale = np.maximum((hi / f32((qmax - qmin) / 2)).astype(f32), f32(self.eps))
            zp = np.zeros(scale.shape, np.int64)
            if self.dtype == "quint8":
                zp[:] = (qmin + qmax) // 2 if self.has_customized_qrange else 128
        else:
            scale = np.maximum(((hi - lo) / f32(qmax - qmin)).astype(f32), f32(self.eps))
            zp = qmin - np.rint((lo / scale).astype(f32)).astype(np.int64)
            zp = np.clip(zp, qmin, qmax)
        return scale.astype(f32), zp.astype(np.int64)
