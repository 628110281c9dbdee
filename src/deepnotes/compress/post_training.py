"""Post-training static int8 quantisation of a model: ``prepare`` -> ``calibrate`` -> ``convert``
(the names of ``torch.ao.quantization``'s eager mode).

* :func:`prepare` attaches observers to every quantisable layer (``Linear``, ``Conv2d`` and LeNet-5's
  ``ConnectionTableConv2d``): one on the layer's input and one on its output (``QConfig.activation``,
  by default a quint8 :class:`MinMaxObserver`).
* :func:`calibrate` runs the model in eval mode on a few batches of a loader, so the observers see the
  ranges of real activations.
* :func:`convert` replaces each observed layer by a :class:`QuantizedLinear`/:class:`QuantizedConv2d`
  whose weight is quantised per output channel (``QConfig.weight``, by default symmetric qint8) and
  whose input/output quantisation parameters come from the observers.  Other layers (activations,
  pooling, LeNet-5's subsampling and RBF output) stay in float: each quantised layer takes a float
  input, quantises it, runs the integer GEMM and returns the dequantised float output.

``quantize(model, loader)`` does the three steps; :func:`save_quantized`/:func:`load_quantized` write
and read a converted model's int8 state as safetensors (never pickle).
"""

from __future__ import annotations

import copy
from collections import namedtuple

import numpy as np

from .. import io
from ..autograd import no_grad
from ..models.lenet import ConnectionTableConv2d
from ..nn.modules.conv import Conv2d
from ..nn.modules.linear import Linear
from ..nn.modules.module import Module
from ..tensor import Tensor, tensor
from .quantization import MinMaxObserver, PerChannelMinMaxObserver
from .quantized import BACKENDS, QuantizedConv2d, QuantizedLinear

__all__ = [
    "QConfig",
    "calibrate",
    "convert",
    "default_qconfig",
    "get_default_qconfig",
    "is_prepared",
    "load_quantized",
    "prepare",
    "quantize",
    "quantized_like",
    "save_quantized",
]

QConfig = namedtuple("QConfig", ["activation", "weight"])
QConfig.__doc__ = """Observer factories: ``activation()`` observes a layer's input and output (per tensor),
``weight()`` the float weight at conversion (per output channel)."""


def _activation_observer(reduce_range=False):
    return MinMaxObserver("quint8", quant_min=0, quant_max=127) if reduce_range else MinMaxObserver("quint8")


def _weight_observer():
    return PerChannelMinMaxObserver(0, "qint8", "per_channel_symmetric")


def get_default_qconfig(reduce_range=False):
    """quint8 MinMax activations (0..127 with ``reduce_range``, what torch's x86/fbgemm configuration
    uses against int16 saturation; our integer GEMM does not saturate, so the full range is the default)
    and symmetric per-channel qint8 weights."""
    return QConfig(activation=lambda: _activation_observer(reduce_range), weight=_weight_observer)


default_qconfig = get_default_qconfig()

_TYPES = (Linear, Conv2d, ConnectionTableConv2d)


def _quantisable(m):
    return isinstance(m, _TYPES) and not (isinstance(m, Conv2d) and isinstance(m.padding, str))


class _ObserveInput:
    """Forward pre-hook: the layer's input goes through its input observer."""

    def __call__(self, module, args):
        if args and isinstance(args[0], Tensor):
            module.input_observer(args[0])


class _ObserveOutput:
    """Forward hook: the layer's output goes through its output observer."""

    def __call__(self, module, args, out):
        if isinstance(out, Tensor):
            module.activation_post_process(out)


def _check_model(model, where):
    if not isinstance(model, Module):
        raise TypeError(f"{where}: expected a deepnotes Module, got {type(model).__name__}")


def is_prepared(model):
    """Whether ``model`` carries the observers of :func:`prepare`."""
    return any(hasattr(m, "input_observer") for m in model.modules())


def prepare(model, qconfig=None, inplace=False):
    """Attach input and output observers to every quantisable layer of ``model`` (a copy unless
    ``inplace``); returns the prepared model.  Raises if there is nothing to quantise."""
    _check_model(model, "prepare")
    qconfig = default_qconfig if qconfig is None else qconfig
    if not isinstance(qconfig, QConfig):
        raise TypeError(f"prepare: qconfig must be a QConfig(activation, weight), got {type(qconfig).__name__}")
    if not inplace:
        model = copy.deepcopy(model)
    found = 0
    for m in model.modules():
        if _quantisable(m) and not hasattr(m, "input_observer"):
            object.__setattr__(m, "input_observer", qconfig.activation())
            object.__setattr__(m, "activation_post_process", qconfig.activation())
            object.__setattr__(m, "qconfig", qconfig)
            object.__setattr__(
                m,
                "_observer_handles",
                (m.register_forward_pre_hook(_ObserveInput()), m.register_forward_hook(_ObserveOutput())),
            )
            found += 1
    if not found:
        raise ValueError(
            f"prepare: {type(model).__name__} has no Linear, Conv2d or ConnectionTableConv2d layer to quantise"
        )
    return model


def _batches(loader, num_batches):
    for i, batch in enumerate(loader):
        if num_batches is not None and i >= num_batches:
            return
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        yield x if isinstance(x, Tensor) else tensor(x)


def calibrate(model, loader, num_batches=None):
    """Run the prepared ``model`` in eval mode (no gradients) on the inputs of ``loader`` (batches of
    ``(input, target)`` or inputs), at most ``num_batches`` of them; returns the model."""
    _check_model(model, "calibrate")
    if not is_prepared(model):
        raise ValueError("calibrate: the model has no observers; call prepare(model) first")
    if num_batches is not None and (
        isinstance(num_batches, bool) or not isinstance(num_batches, int) or num_batches < 1
    ):
        raise ValueError(f"calibrate: num_batches must be a positive int or None, got {num_batches!r}")
    model.eval()
    seen = 0
    with no_grad():
        for x in _batches(loader, num_batches):
            model(x)
            seen += 1
    if not seen:
        raise ValueError("calibrate: the loader gave no batch")
    return model


def _replace_children(model, make):
    """Swap every quantisable child for ``make(child)`` (None keeps it), depth first."""
    for parent in list(model.modules()):
        for name, child in list(parent._modules.items()):
            if child is not None and _quantisable(child):
                new = make(child)
                if new is not None:
                    parent._modules[name] = new


def _dense(m):
    return m.dense_weight().data if isinstance(m, ConnectionTableConv2d) else m.weight.data


def _from_observed(m, backend):
    if not hasattr(m, "input_observer"):
        return None
    where = "convert"
    obs_in, obs_out = m.input_observer, m.activation_post_process
    if obs_in.min_val > obs_in.max_val:
        raise ValueError(
            f"{where}: the {type(m).__name__} layer never ran during calibration (its observers saw no data); "
            "calibrate on inputs that reach every layer"
        )
    w = _dense(m)
    fq = getattr(m, "weight_fake_quant", None)  # a QAT layer: the weight qparams its training used
    wobs = fq.activation_post_process if fq is not None else None
    if wobs is None or wobs.min_val.size != w.shape[0]:
        wobs = m.qconfig.weight()
        wobs(w)
    wq, iq, oq = wobs.calculate_qparams(), obs_in.calculate_qparams(), obs_out.calculate_qparams()
    if isinstance(m, Linear):
        return QuantizedLinear.from_float(m, wq, iq, oq, backend=backend)
    return QuantizedConv2d.from_float(m, wq, iq, oq, backend=backend, weight=w)


def convert(model, inplace=False, backend="blas"):
    """Replace the observed layers of a calibrated ``model`` (a copy unless ``inplace``) by quantised
    ones running integer GEMMs with ``backend`` ('blas' or 'integer'); returns the converted model in
    eval mode."""
    _check_model(model, "convert")
    if backend not in BACKENDS:
        raise ValueError(f"convert: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not is_prepared(model):
        raise ValueError("convert: the model has no observers; call prepare(model) and calibrate it first")
    if not inplace:
        model = copy.deepcopy(model)
    _replace_children(model, lambda m: _from_observed(m, backend))
    if isinstance(model, _TYPES) and hasattr(model, "input_observer"):
        model = _from_observed(model, backend)
    return model.eval()


def quantize(model, loader, num_batches=None, qconfig=None, backend="blas"):
    """``convert(calibrate(prepare(model), loader, num_batches))``: an int8 copy of ``model``."""
    prepared = prepare(model, qconfig)
    calibrate(prepared, loader, num_batches)
    return convert(prepared, inplace=True, backend=backend)


def _empty_like(m, backend):
    if isinstance(m, Linear):
        return QuantizedLinear(m.in_features, m.out_features, m.bias is not None, backend)
    w = np.zeros_like(_dense(m))
    unit = (np.ones(w.shape[0]), np.zeros(w.shape[0], np.int64))
    return QuantizedConv2d.from_float(m, unit, None, None, backend, weight=w)


def quantized_like(model, backend="blas"):
    """A copy of float ``model`` with every quantisable layer replaced by an empty quantised one of the
    same shape: the skeleton a saved int8 state dict loads into."""
    _check_model(model, "quantized_like")
    model = copy.deepcopy(model)
    _replace_children(model, lambda m: _empty_like(m, backend))
    return model.eval()


def save_quantized(model, path):
    """Write a converted model's state (int8 weights, float32 rest) to ``path`` as safetensors."""
    _check_model(model, "save_quantized")
    if not any(isinstance(m, (QuantizedLinear, QuantizedConv2d)) for m in model.modules()):
        raise ValueError("save_quantized: the model has no quantised layer; convert it first")
    io.save_weights(model.state_dict(), path, metadata={"deepnotes": "int8 post-training quantised model"})


def load_quantized(float_model, path, backend="blas"):
    """Load a file of :func:`save_quantized` into ``quantized_like(float_model)`` and return it."""
    model = quantized_like(float_model, backend)
    model.load_state_dict(io.load_weights(path))
    return model
