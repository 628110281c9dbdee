"""Quantised ``Linear`` and ``Conv2d`` layers that compute with integers (``torch.ao.nn.quantized``'s
arithmetic).

A quantised layer stores its weight as int8 (per output channel: ``w ~ (q_w - z_w[o]) * s_w[o]``),
its bias in float32, and the quantisation parameters of its input (``input_scale``/``input_zero_point``,
from calibration) and of its output (``scale``/``zero_point``).  A forward pass:

1. quantises the input to quint8, ``q_x = clamp(rint(x / s_x) + z_x, 0, 255)`` (or takes a
   :class:`~deepnotes.compress.quantization.QTensor` as it is);
2. accumulates ``acc[n, o] = sum_k (q_x[n, k] - z_x) (q_w[o, k] - z_w[o])`` exactly, as the int32
   accumulator of an int8 x int8 GEMM (a convolution lays the input windows out with im2col first);
3. rescales ``y = acc * (s_x s_w[o]) + bias[o]`` in float32 and either returns ``y`` (float input:
   the dequantised output, so the layer drops into a float network) or requantises it to
   ``clamp(rint(y / s_y) + z_y, 0, 255)`` (QTensor input: a quint8 QTensor, as torch's quantised
   layers return).

How the exact accumulation is carried out (``backend``):

* ``"blas"`` (default): the centred integers are multiplied by the single-precision BLAS.  A float32
  holds every integer below 2**24 exactly, so a dot product of ``c`` terms bounded by
  ``max|q_x - z_x| * max|q_w - z_w|`` (255 x 128 for symmetric weights) is exact when ``c`` times
  that bound stays below 2**24 (c = 513 here): the reduction is cut into chunks of ``c`` terms, each
  chunk one exact float32 GEMM, and the chunks are added in int32.  The result is the int32
  accumulator bit for bit, at BLAS speed.
* ``"integer"``: NumPy's integer matmul on int32 arrays (a plain loop, no BLAS: exact by
  construction, but tens of times slower than the BLAS on this machine).

Both give identical accumulators (the tests check them against an int64 product).  The memory of the
weights is a quarter of float32's (int8 plus one scale and zero point per channel).
"""

from __future__ import annotations

import numpy as np

from ..nn.modules.module import Module
from ..ops.conv import im2col, pad_input
from ..tensor import Tensor
from .quantization import QTensor, quantize_per_channel

__all__ = ["BACKENDS", "QuantizedConv2d", "QuantizedLinear", "int_matmul"]

BACKENDS = ("blas", "integer")
_F32_EXACT = 2**24
_INT32_LIMIT = 2**31


def _accumulate(a, b, amax, bmax, backend):
    """``a @ b`` of centred integers held in float32 or integer arrays, exactly: ``a`` (..., M, K),
    ``b`` (..., K, N), ``|a| <= amax`` and ``|b| <= bmax``.  Returns float32 or int32 values equal to
    the int32 accumulator.

    With the BLAS, the reduction is cut into chunks of ``c = (2**24 - 1) // (amax * bmax)`` terms: every
    product and partial sum of a chunk is an integer below 2**24, exact in float32, so each chunk's
    single-precision GEMM is exact; the chunks are added in int32."""
    K = a.shape[-1]
    if K * amax * bmax >= _INT32_LIMIT:
        raise OverflowError(
            f"int8 GEMM: the accumulator can reach {K * amax * bmax}, beyond int32 (2**31 - 1); the "
            f"reduction dimension {K} is too long for an int32 accumulator"
        )
    if backend == "integer":
        return np.matmul(a.astype(np.int32, copy=False), b.astype(np.int32, copy=False))
    a, b = a.astype(np.float32, copy=False), b.astype(np.float32, copy=False)
    step = max(1, (_F32_EXACT - 1) // max(1, amax * bmax))
    if K <= step:
        return np.matmul(a, b)
    acc = None
    for i in range(0, K, step):
        part = np.matmul(a[..., i : i + step], b[..., i : i + step, :]).astype(np.int32)
        if acc is None:
            acc = part
        else:
            acc += part
    return acc


def _quantize_centred(arr, scale, zero_point, where):
    """``quantize_per_tensor(arr, scale, zero_point, 'quint8').int_repr - zero_point`` as float32, in
    place on one float64 and one float32 buffer (the same arithmetic: ``1/scale`` in float32, the
    product and the zero point added in float64, one rounding to float32, ``rint``, clamp)."""
    arr = np.asarray(arr)
    if arr.dtype.kind != "f":
        raise TypeError(f"{where}: expected a floating input, got dtype {arr.dtype}")
    t = arr.astype(np.float32, copy=False).astype(np.float64)
    t *= np.float64(np.float32(1.0) / np.float32(scale))
    t += zero_point
    q = t.astype(np.float32)
    if np.isnan(q).any():
        raise ValueError(
            f"{where}: the input contains NaN ({int(np.isnan(q).sum())} of {q.size} values); NaN has no quantised value"
        )
    np.rint(q, out=q)
    np.maximum(q, 0, out=q)
    np.minimum(q, 255, out=q)
    q -= np.float32(zero_point)
    return q


def _check_input_type(x, where):
    if not isinstance(x, (Tensor, QTensor)):
        raise TypeError(f"{where}: expected a Tensor or a quint8 QTensor, got {type(x).__name__}")


def _check_backend(backend, where):
    if backend not in BACKENDS:
        raise ValueError(f"{where}: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def int_matmul(a, b, a_zero_point=0, b_zero_point=0, backend="blas"):
    """The int32 accumulator ``(a - a_zero_point) @ (b - b_zero_point)`` of integer arrays ``a``
    (..., M, K) and ``b`` (..., K, N) (uint8/int8 quantised values), exactly; ``b_zero_point`` may be
    one per column of ``b``.  See the module's notes for the two backends."""
    where = "int_matmul"
    _check_backend(backend, where)
    a, b = np.asarray(a), np.asarray(b)
    for name, arr in (("a", a), ("b", b)):
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{where}: {name} must hold integers (uint8/int8 quantised values), got dtype {arr.dtype}")
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"{where}: expected a (..., M, K) and b (..., K, N), got shapes {a.shape} and {b.shape}")
    ac = a.astype(np.int64) - np.int64(a_zero_point)
    bc = b.astype(np.int64) - np.asarray(b_zero_point, np.int64)
    amax = int(np.abs(ac).max(initial=0))
    bmax = int(np.abs(bc).max(initial=0))
    return _accumulate(ac, bc, amax, bmax, backend).astype(np.int32)


class _QuantizedBase(Module):
    """Buffers shared by the quantised layers: int8 ``weight``, float64 ``weight_scale`` and int64
    ``weight_zero_point`` (one per output channel), float32 ``bias`` (optional), the input and output
    quantisation parameters (0-d arrays).  All of them are in the state dict, so a converted model
    saves and loads with ``deepnotes.io.save_weights``/``load_weights``."""

    _name = "Quantized"

    def _init_buffers(self, weight_shape, bias, backend):
        _check_backend(backend, type(self).__name__)
        self.backend = backend
        out = weight_shape[0]
        self.register_buffer("weight", Tensor(np.zeros(weight_shape, np.int8)))
        self.register_buffer("weight_scale", Tensor(np.ones(out, np.float64)))
        self.register_buffer("weight_zero_point", Tensor(np.zeros(out, np.int64)))
        if bias:
            self.register_buffer("bias", Tensor(np.zeros(out, np.float32)))
        else:
            self.bias = None
        self.register_buffer("input_scale", Tensor(np.array(1.0, np.float64)))
        self.register_buffer("input_zero_point", Tensor(np.array(0, np.int64)))
        self.register_buffer("scale", Tensor(np.array(1.0, np.float64)))
        self.register_buffer("zero_point", Tensor(np.array(0, np.int64)))

    def set_weight(self, weight, scales, zero_points):
        """Quantise float ``weight`` per output channel (axis 0) to qint8 with ``scales``/``zero_points``
        (``quantize_per_channel``, bit for bit torch's)."""
        qw = quantize_per_channel(weight, np.asarray(scales, np.float64), np.asarray(zero_points), 0, "qint8")
        if qw.int_repr.shape != self.weight.data.shape:
            raise ValueError(
                f"{type(self).__name__}.set_weight: weight of shape {qw.int_repr.shape}, "
                f"expected {self.weight.data.shape}"
            )
        self.weight.data[...] = qw.int_repr
        self.weight_scale.data[...] = qw.scale
        self.weight_zero_point.data[...] = qw.zero_point

    def set_qparams(self, input_qparams=None, output_qparams=None):
        """Set ``(scale, zero_point)`` of the input and/or of the output (quint8)."""
        for qp, s_name, z_name in (
            (input_qparams, "input_scale", "input_zero_point"),
            (output_qparams, "scale", "zero_point"),
        ):
            if qp is None:
                continue
            s, z = (float(np.asarray(v).reshape(-1)[0]) for v in qp)
            if not (np.isfinite(s) and s > 0) or z != int(z) or not 0 <= z <= 255:
                raise ValueError(
                    f"{type(self).__name__}.set_qparams: expected a scale > 0 and a quint8 zero point in [0, 255], "
                    f"got {qp!r}"
                )
            getattr(self, s_name).data[...] = s
            getattr(self, z_name).data[...] = int(z)

    def dequantized_weight(self):
        """The float32 weight ``(q_w - z_w) * s_w`` the layer computes with."""
        qt = QTensor(self.weight.data, self.weight_scale.data, self.weight_zero_point.data, "qint8", axis=0)
        return qt.dequantize()

    def _centred_weight(self):
        """``q_w - z_w`` as float32 (exact) and the bound of its magnitude: 128 for the symmetric
        weights (zero point 0), else the largest distance of a zero point to the qint8 range's ends."""
        w, z = self.weight.data, self.weight_zero_point.data
        if not z.any():
            return w.astype(np.float32), 128
        wf = w.astype(np.float32) - z.reshape((-1,) + (1,) * (w.ndim - 1)).astype(np.float32)
        return wf, int(max(z.max() + 128, 127 - z.min()))

    def _centred_input(self, x, where):
        """(``q_x - z_x`` as float32, the bound of its magnitude, s_x, returns_qtensor).  A float input is
        quantised with the stored qparams, as ``quantize_per_tensor`` (torch's rounding) does."""
        if isinstance(x, QTensor):
            if x.dtype != "quint8" or x.axis is not None:
                raise TypeError(f"{where}: a QTensor input must be per-tensor quint8, got {x.dtype} {x.qscheme}")
            z = int(x.zero_point)
            return x.int_repr.astype(np.float32) - np.float32(z), max(z, 255 - z), float(x.scale), True
        if not isinstance(x, Tensor):
            raise TypeError(f"{where}: expected a Tensor or a quint8 QTensor, got {type(x).__name__}")
        s, z = float(self.input_scale.data), int(self.input_zero_point.data)
        return _quantize_centred(x.data, s, z, where), max(z, 255 - z), s, False

    def _finish(self, acc, s_x, as_qtensor, channel_axis):
        """``acc * (s_x s_w) + bias`` in float32, requantised to the output qparams for a QTensor."""
        shape = [1] * acc.ndim
        shape[channel_axis] = -1
        f32 = np.float32
        mult = (f32(s_x) * self.weight_scale.data.astype(f32)).reshape(shape)
        y = acc.astype(f32, copy=False) * mult
        if self.bias is not None:
            y += self.bias.data.astype(f32).reshape(shape)
        if not as_qtensor:
            return Tensor(y)
        s_y, z_y = float(self.scale.data), int(self.zero_point.data)
        q = np.clip(np.rint(y / f32(s_y)) + z_y, 0, 255).astype(np.uint8)
        return QTensor(q, s_y, z_y, "quint8")

    def extra_repr(self):
        return (
            f"{self._describe()}, input_scale={float(self.input_scale.data):.4g}, "
            f"input_zero_point={int(self.input_zero_point.data)}, scale={float(self.scale.data):.4g}, "
            f"zero_point={int(self.zero_point.data)}, backend={self.backend!r}"
        )


class QuantizedLinear(_QuantizedBase):
    """A Linear layer with an int8 per-channel weight computing with an int32 accumulator.

    ``forward(x)``: a float Tensor (N, in_features) gives the dequantised float32 output; a quint8
    :class:`QTensor` gives a quint8 QTensor requantised to ``scale``/``zero_point`` (what
    ``torch.ao.nn.quantized.Linear`` computes)."""

    def __init__(self, in_features, out_features, bias=True, backend="blas"):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._init_buffers((self.out_features, self.in_features), bias, backend)

    def _describe(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"

    @classmethod
    def from_float(cls, linear, weight_qparams, input_qparams, output_qparams=None, backend="blas"):
        """The quantised copy of a float ``Linear`` with the given ``(scales, zero_points)`` of its
        weight (per output channel) and ``(scale, zero_point)`` of its input and output."""
        q = cls(linear.in_features, linear.out_features, linear.bias is not None, backend)
        q.set_weight(linear.weight.data, *weight_qparams)
        if linear.bias is not None:
            q.bias.data[...] = linear.bias.data
        q.set_qparams(input_qparams, output_qparams)
        return q

    def forward(self, x):
        where = "QuantizedLinear.forward"
        _check_input_type(x, where)
        shape = x.shape
        if len(shape) < 1 or shape[-1] != self.in_features:
            raise ValueError(f"{where}: expected input (..., {self.in_features}), got shape {tuple(shape)}")
        xc, xmax, s_x, as_q = self._centred_input(x, where)
        w, wmax = self._centred_weight()
        acc = _accumulate(xc, w.T, xmax, wmax, self.backend)
        return self._finish(acc, s_x, as_q, acc.ndim - 1)


class QuantizedConv2d(_QuantizedBase):
    """A Conv2d layer (zero padding, any stride, dilation and groups) with an int8 per-channel weight,
    computing with im2col and an int32 accumulator.  Padding adds the input zero point, the quantised
    value of a real 0.  Float input -> float32 output; quint8 QTensor -> quint8 QTensor (as
    ``torch.ao.nn.quantized.Conv2d``)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        backend="blas",
    ):
        super().__init__()
        pair = lambda v: (int(v), int(v)) if np.isscalar(v) else tuple(int(i) for i in v)  # noqa: E731
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.dilation = pair(kernel_size), pair(stride), pair(dilation)
        self.padding, self.groups = pair(padding), int(groups)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"QuantizedConv2d: in_channels {in_channels} and out_channels {out_channels} must be divisible "
                f"by groups {groups}"
            )
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self._init_buffers(shape, bias, backend)

    def _describe(self):
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}"
        )

    @classmethod
    def from_float(cls, conv, weight_qparams, input_qparams, output_qparams=None, backend="blas", weight=None):
        """The quantised copy of a float ``Conv2d`` (or of any layer given as its dense ``weight`` with
        ``conv``'s geometry attributes)."""
        padding = getattr(conv, "padding", 0)
        if isinstance(padding, str):
            raise ValueError(f"QuantizedConv2d.from_float: padding {padding!r} is not supported; give numbers")
        w = conv.weight.data if weight is None else weight
        q = cls(
            w.shape[1] * getattr(conv, "groups", 1),
            w.shape[0],
            w.shape[2:],
            getattr(conv, "stride", 1),
            padding,
            getattr(conv, "dilation", 1),
            getattr(conv, "groups", 1),
            conv.bias is not None,
            backend,
        )
        q.set_weight(w, *weight_qparams)
        if conv.bias is not None:
            q.bias.data[...] = conv.bias.data
        q.set_qparams(input_qparams, output_qparams)
        return q

    def forward(self, x):
        where = "QuantizedConv2d.forward"
        _check_input_type(x, where)
        if len(x.shape) != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{where}: expected input (N, {self.in_channels}, H, W), got shape {tuple(x.shape)}")
        kh, kw = self.kernel_size
        (sh, sw), (dh, dw), (ph, pw) = self.stride, self.dilation, self.padding
        stride = self.stride
        if kh == kw == 1 and ph == pw == 0 and (sh, sw) != (1, 1):
            # a strided 1x1 convolution reads every sh-th row and sw-th column only: quantise just those
            if isinstance(x, QTensor):
                x = QTensor(x.int_repr[:, :, ::sh, ::sw], x.scale, x.zero_point, x.dtype)
            elif isinstance(x, Tensor):
                x = Tensor(x.data[:, :, ::sh, ::sw])
            sh = sw = 1
            stride = (1, 1)
        xc, xmax, s_x, as_q = self._centred_input(x, where)
        N, C, H, W = xc.shape
        Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        if Ho <= 0 or Wo <= 0:
            raise ValueError(f"{where}: input {H}x{W} is smaller than the dilated kernel")
        w, wmax = self._centred_weight()
        g = self.groups
        K = C // g * kh * kw
        # padding the centred input with 0 is padding the raw input with the zero point
        cols = im2col(pad_input(xc, ((ph, ph), (pw, pw))), kh, kw, Ho, Wo, stride, self.dilation, g)
        acc = _accumulate(w.reshape(g, self.out_channels // g, K), cols, wmax, xmax, self.backend)
        acc = acc.reshape(self.out_channels, N, Ho, Wo).transpose(1, 0, 2, 3)
        return self._finish(acc, s_x, as_q, 1)
