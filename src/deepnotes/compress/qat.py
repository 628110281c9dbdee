"""Quantisation-aware training (``torch.ao.quantization``'s ``prepare_qat`` and ``torch.ao.nn.qat``).

:func:`prepare_qat` swaps every ``Linear``/``Conv2d`` for :class:`QATLinear`/:class:`QATConv2d`, which
compute ``y = layer(fake_quant(x), fake_quant(w)) + b``: the input is fake-quantised per tensor
(quint8, the range tracked by a moving-average observer), the weight per output channel (symmetric
qint8, the range of the current weight), so training sees the rounding error of the int8 model.
Fake quantisation is ``(clamp(rint(v / s) + z, qmin, qmax) - z) * s`` and its gradient is the
straight-through estimator of ``torch.fake_quantize_per_tensor_affine``: 1 where the rounded value
lies inside ``[qmin, qmax]``, 0 where it is clamped.  The output is observed too (its qparams are the
int8 output's).  After training, :func:`deepnotes.compress.post_training.convert` turns the model into
the integer one; it computes what the fake-quantised model computed.  Layers other than ``Linear``
and ``Conv2d`` (LeNet-5's connection-table C3, for one) train in float and stay float after ``convert``;
post-training quantisation (:func:`deepnotes.compress.post_training.quantize`) also covers C3.
"""

from __future__ import annotations

import copy

from ..nn import functional as F
from ..nn.modules.conv import Conv2d
from ..nn.modules.linear import Linear
from ..nn.modules.module import Module
from ..tensor import Tensor
from .post_training import QConfig
from .quantization import (
    MovingAverageMinMaxObserver,
    PerChannelMinMaxObserver,
    fake_quantize_per_channel_affine,
    fake_quantize_per_tensor_affine,
)

__all__ = [
    "FakeQuantize",
    "QATConv2d",
    "QATLinear",
    "default_qat_qconfig",
    "disable_fake_quant",
    "disable_observer",
    "enable_fake_quant",
    "enable_observer",
    "prepare_qat",
]


class FakeQuantize(Module):
    """Observe, then quantise and dequantise (``torch.ao.quantization.FakeQuantize``).

    ``observer`` is a callable returning an observer (per tensor, or per channel with a ``ch_axis``),
    such as a ``QConfig`` field.  With ``dynamic=True`` a fresh observer is made before every call, so
    the quantisation parameters are those of the current input (used for weights).
    ``observer_enabled``/``fake_quant_enabled`` switch the two parts (see :func:`disable_observer`)."""

    def __init__(self, observer, dynamic=False):
        super().__init__()
        made = observer() if callable(observer) else None
        if not hasattr(made, "calculate_qparams"):
            raise TypeError(f"FakeQuantize: expected a callable returning an observer, got {observer!r}")
        self.observer_factory = observer
        self.activation_post_process = made
        self.dynamic = bool(dynamic)
        self.observer_enabled = True
        self.fake_quant_enabled = True

    @property
    def quant_min(self):
        return self.activation_post_process.quant_min

    @property
    def quant_max(self):
        return self.activation_post_process.quant_max

    def calculate_qparams(self):
        return self.activation_post_process.calculate_qparams()

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"FakeQuantize.forward: expected a Tensor, got {type(x).__name__}")
        obs = self.activation_post_process
        if self.observer_enabled:
            if self.dynamic:
                obs = self.activation_post_process = self.observer_factory()
            obs(x.detach())
        if not self.fake_quant_enabled:
            return x
        scale, zp = obs.calculate_qparams()
        if hasattr(obs, "ch_axis"):
            if scale.size != x.shape[obs.ch_axis]:
                raise ValueError(
                    f"FakeQuantize.forward: {scale.size} channel scales for an input with "
                    f"{x.shape[obs.ch_axis]} channels along axis {obs.ch_axis}; run the observer first"
                )
            return fake_quantize_per_channel_affine(x, scale, zp, obs.ch_axis, self.quant_min, self.quant_max)
        return fake_quantize_per_tensor_affine(x, float(scale[0]), int(zp[0]), self.quant_min, self.quant_max)

    def extra_repr(self):
        return (
            f"{type(self.activation_post_process).__name__}, quant_min={self.quant_min}, quant_max={self.quant_max}, "
            f"observer_enabled={self.observer_enabled}, fake_quant_enabled={self.fake_quant_enabled}"
        )


def _qat_activation():
    return MovingAverageMinMaxObserver(0.01, "quint8")


def _qat_weight():
    return PerChannelMinMaxObserver(0, "qint8", "per_channel_symmetric")


#: moving-average quint8 activations, symmetric per-channel qint8 weights (torch's QAT defaults)
default_qat_qconfig = QConfig(activation=_qat_activation, weight=_qat_weight)


class _QATMixin:
    def _init_qat(self, qconfig):
        self.qconfig = qconfig
        self.input_fake_quant = FakeQuantize(qconfig.activation)
        self.weight_fake_quant = FakeQuantize(qconfig.weight, dynamic=True)
        object.__setattr__(self, "activation_post_process", qconfig.activation())

    @property
    def input_observer(self):
        """The observer of the input's fake quantisation: its qparams become the int8 layer's input's."""
        return self.input_fake_quant.activation_post_process

    def _observe_output(self, y):
        fq = self.input_fake_quant  # the input's switch also governs the output observer
        if fq.observer_enabled:
            self.activation_post_process(y.detach())
        return y


class QATLinear(_QATMixin, Linear):
    """``Linear`` computing with a fake-quantised input and weight (``torch.ao.nn.qat.Linear`` plus the
    input's fake quantisation)."""

    def __init__(self, in_features, out_features, bias=True, qconfig=None, dtype=None):
        super().__init__(in_features, out_features, bias, dtype=dtype)
        self._init_qat(default_qat_qconfig if qconfig is None else qconfig)

    @classmethod
    def from_float(cls, mod, qconfig=None):
        """The QAT layer sharing ``mod``'s parameters."""
        q = cls(mod.in_features, mod.out_features, mod.bias is not None, qconfig, dtype=mod.weight.data.dtype)
        q.weight = mod.weight
        if mod.bias is not None:
            q.bias = mod.bias
        return q

    def forward(self, x):
        y = F.linear(self.input_fake_quant(x), self.weight_fake_quant(self.weight), self.bias)
        return self._observe_output(y)


class QATConv2d(_QATMixin, Conv2d):
    """``Conv2d`` computing with a fake-quantised input and weight (``torch.ao.nn.qat.Conv2d`` plus the
    input's fake quantisation)."""

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
        qconfig=None,
        dtype=None,
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, dtype=dtype)
        self._init_qat(default_qat_qconfig if qconfig is None else qconfig)

    @classmethod
    def from_float(cls, mod, qconfig=None):
        """The QAT layer sharing ``mod``'s parameters."""
        if isinstance(mod.padding, str):
            raise ValueError(f"QATConv2d.from_float: padding {mod.padding!r} is not supported; give numbers")
        q = cls(
            mod.in_channels,
            mod.out_channels,
            mod.kernel_size,
            mod.stride,
            mod.padding,
            mod.dilation,
            mod.groups,
            mod.bias is not None,
            qconfig,
            dtype=mod.weight.data.dtype,
        )
        q.weight = mod.weight
        if mod.bias is not None:
            q.bias = mod.bias
        return q

    def forward(self, x):
        x, name = self._input(x)
        w = self.weight_fake_quant(self.weight)
        x = self.input_fake_quant(x)
        y = F._conv(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups, 2, name)
        return self._observe_output(y)


def prepare_qat(model, qconfig=None, inplace=False):
    """Swap every ``Linear``/``Conv2d`` of ``model`` (a copy unless ``inplace``) for its QAT version,
    sharing the parameters, and put the model in training mode.  Train it as usual, then call
    ``convert`` (optionally after :func:`disable_observer` for the last steps)."""
    if not isinstance(model, Module):
        raise TypeError(f"prepare_qat: expected a deepnotes Module, got {type(model).__name__}")
    qconfig = default_qat_qconfig if qconfig is None else qconfig
    if not isinstance(qconfig, QConfig):
        raise TypeError(f"prepare_qat: qconfig must be a QConfig(activation, weight), got {type(qconfig).__name__}")
    if not inplace:
        model = copy.deepcopy(model)

    def swap(m):
        if isinstance(m, (QATLinear, QATConv2d)):
            return None
        if type(m) is Linear:
            return QATLinear.from_float(m, qconfig)
        if type(m) is Conv2d and not isinstance(m.padding, str):
            return QATConv2d.from_float(m, qconfig)
        return None

    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent._modules.items()):
            new = swap(child) if child is not None else None
            if new is not None:
                parent._modules[name] = new
                swapped += 1
    if isinstance(model, (Linear, Conv2d)) and swap(model) is not None:
        model, swapped = swap(model), swapped + 1
    if not swapped:
        raise ValueError(f"prepare_qat: {type(model).__name__} has no Linear or Conv2d layer to train quantised")
    return model.train()


def _switch(attr, value):
    def apply(module):
        for m in module.modules():
            if isinstance(m, FakeQuantize):
                setattr(m, attr, value)
        return module

    return apply


#: ``model.apply``-style switches (torch's names); each returns the module
disable_observer = _switch("observer_enabled", False)
enable_observer = _switch("observer_enabled", True)
disable_fake_quant = _switch("fake_quant_enabled", False)
enable_fake_quant = _switch("fake_quant_enabled", True)
