"""Model compression.

* ``prune``: pruning with ``torch.nn.utils.prune``'s semantics (``weight_orig`` + ``weight_mask``,
  re-applied before every forward, ``remove`` to make it permanent); ``iterative_pruning``: iterative
  magnitude pruning with fine-tuning and a per-layer sparsity table.
* ``quantization``: affine int8 quantise/dequantise and fake quantisation (torch's arithmetic bit for
  bit), MinMax, moving-average and per-channel observers.
* ``quantized``: ``QuantizedLinear``/``QuantizedConv2d``, int8 weights and an exact int32 accumulator
  (``torch.ao.nn.quantized``'s arithmetic); ``post_training``: ``prepare`` -> ``calibrate`` ->
  ``convert`` (``quantize`` does all three), int8 safetensors files; ``qat``: quantisation-aware
  training (``prepare_qat``, fake quantisation with the straight-through estimator).
* ``distillation``: the Hinton distillation loss and a teacher-student training helper.
* ``cli``: ``deepnotes compress prune|quantize|distill``.

Example::

    import numpy as np
    import deepnotes as dn
    from deepnotes.compress import prune, quantization as q

    layer = dn.nn.Linear(8, 4)
    prune.l1_unstructured(layer, "weight", amount=0.5)   # weight_orig + weight_mask, re-applied on forward
    prune.ln_structured(layer, "weight", amount=1, n=2, dim=0)   # then drop one whole output row
    print(float((layer.weight.data == 0).mean()), sorted(layer.state_dict()))
    prune.remove(layer, "weight")                         # permanent: weight is a Parameter again

    obs = q.MinMaxObserver(dtype="quint8")
    x = np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)
    obs(x)
    scale, zero_point = obs.calculate_qparams()
    qx = q.quantize_per_tensor(x, float(scale[0]), int(zero_point[0]), "quint8")
    err = np.abs(qx.dequantize().data - x).max()          # at most scale / 2 inside the range

    from deepnotes.compress import quantize
    model = dn.nn.Sequential(dn.nn.Linear(8, 16), dn.nn.ReLU(), dn.nn.Linear(16, 3))
    int8 = quantize(model, [x[:8], x[8:]])               # calibrated on two batches; int8 GEMMs inside
    y = int8(dn.tensor(x))                                # float in, dequantised float out
"""

from . import distillation, iterative_pruning, post_training, prune, qat, quantization, quantized
from .distillation import DistillationLoss, distill, distillation_loss
from .iterative_pruning import PruningStep, iterative_magnitude_pruning, sparsity_table
from .post_training import QConfig, calibrate, convert, load_quantized, prepare, quantize, save_quantized
from .qat import FakeQuantize, QATConv2d, QATLinear, prepare_qat
from .quantization import (
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    PerChannelMinMaxObserver,
    QTensor,
    fake_quantize_per_channel_affine,
    fake_quantize_per_tensor_affine,
    quantize_per_channel,
    quantize_per_tensor,
)
from .quantized import QuantizedConv2d, QuantizedLinear, int_matmul

__all__ = [
    "DistillationLoss",
    "FakeQuantize",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "PerChannelMinMaxObserver",
    "PruningStep",
    "QATConv2d",
    "QATLinear",
    "QConfig",
    "QTensor",
    "QuantizedConv2d",
    "QuantizedLinear",
    "calibrate",
    "convert",
    "distill",
    "distillation",
    "distillation_loss",
    "fake_quantize_per_channel_affine",
    "fake_quantize_per_tensor_affine",
    "int_matmul",
    "iterative_magnitude_pruning",
    "iterative_pruning",
    "load_quantized",
    "post_training",
    "prepare",
    "prepare_qat",
    "prune",
    "qat",
    "quantization",
    "quantize",
    "quantize_per_channel",
    "quantize_per_tensor",
    "quantized",
    "save_quantized",
    "sparsity_table",
]
