"""Export a deepnotes model to ONNX by tracing its primitives.

``export(model, example_input, path)`` runs the model once on ``example_input`` (in evaluation mode)
while a tracer records every ``Function.apply`` call: the primitive's class, its input tensors (by
identity), its static keyword arguments and its output tensor.  Each recorded call is then translated
into standard ONNX nodes (Conv, Gemm, BatchNormalization, MaxPool, ...).  A tensor that no recorded call
produced and that is not a model input (a parameter, a buffer, a constant) becomes an initializer.

A second trace on a different input (another batch size when ``dynamic_batch`` is set, other values
always) makes the export safe: an operation sequence that changes with the input, a constant computed
from the input outside the traced primitives (a comparison, ``argmax``, a NumPy round trip) or a static
argument that depends on the input is reported instead of being silently frozen into the graph; the
static arguments that follow the batch size (reshape targets, expand shapes) become expressions of the
input's batch dimension.

Only the ONNX *graph-building* package ``onnx`` is needed (imported lazily); the result is checked with
``onnx.checker.check_model`` and runs in any ONNX runtime.

Layout
------
The exporter core knows no operation:

- ``registry.py``: the one table primitive -> translator (:func:`register_op`, ``lookup``);
- ``tracing.py``: recording the primitive calls; ``consistency.py``: comparing two traces;
- ``graph.py``: the graph under construction and the node-building helpers translators use;
- ``exporter.py``: :func:`export` itself.

Each family of primitives has its translators in its own file, registered there with the
``@register_op`` decorator: ``arithmetic`` (Add/Sub/Mul/Div/Pow/Neg, MatMul), ``elementwise``
(exp/log/sqrt/abs/sin/cos/atan, max/min, where, clamp, dtype casts), ``activations`` (ReLU, Sigmoid,
Tanh, Softmax, LogSoftmax, LeakyReLU, PReLU, ELU/SELU/CELU, Hardtanh/ReLU6, Hardsigmoid, Hardswish,
SiLU, Swish, GELU, Softplus), ``linear`` (Gemm, or MatMul + Add beyond 2-D), ``convolution`` (Conv,
ConvTranspose), ``normalization`` (BatchNorm, LayerNorm, GroupNorm/InstanceNorm), ``pooling``
(max/average pooling with their geometry options, adaptive pooling), ``reduction`` (sum, mean, var/std,
prod, amax/amin, max/min along a dim), ``shape`` (reshape, expand, permute, cat/stack, pad),
``indexing`` (Slice/Gather/GatherND, Embedding), ``upsampling`` (every ``interpolate`` mode but
'area'), ``recurrent`` (LSTM, GRU, RNN), ``attention`` (attention's masked softmax) and ``losses``
(binary cross entropy on probabilities and on logits, t log t).  Adaptive average pooling, SPP, Maxout
and nearest upsampling are compositions of these.  The family files are imported once, below, from the
single list ``_FAMILIES`` (an explicit list rather than discovery, so the import order is fixed and a
stray file is never loaded by accident).  ``registry.translations()`` lists what is registered.

Adding a translator
-------------------
1. Find the primitive the layer calls (a :class:`deepnotes.autograd.Function` subclass in
   ``deepnotes.ops`` or beside its functional wrapper); ``export`` names it in its error when it has no
   translation.
2. In the family file it belongs to, write ``translate(g, rec, out)``: read ``rec.inputs``,
   ``rec.kwargs`` and ``rec.out``; name inputs with ``g.value(t)``, constants with ``g.const(array)`` /
   ``g.ints(values)`` / ``g.scalar(value, dtype)``; write nodes with ``g.node(op_type, inputs, out,
   **attributes)``, the last of which must produce ``out``.  Decorate it with
   ``@register_op(ThePrimitive)`` (or ``@register_op("ClassName", module_prefix="deepnotes.")`` when
   importing the class would tie the exporter to the file that defines it).  A static argument that
   follows the batch size is declared with ``varying_kwargs=("name",)``.
3. A new family file is added to ``_FAMILIES`` below; an op in an existing family touches nothing else
   in this package.
4. Add a case for the primitive to the table of ``tests/test_onnx_registry.py``: that test builds a
   small model for every registered primitive, exports it and compares onnxruntime with deepnotes'
   forward, and fails for a registered primitive without a case.  A new ``deepnotes.nn`` layer type
   likewise needs an entry in that file's ``_LAYERS`` table (every public layer type must export).

User code registers translations for its own primitives the same way, with :func:`register_op`.
"""

from __future__ import annotations

import importlib as _importlib

from .exporter import export
from .registry import register_op

__all__ = ["export", "register_op"]

# the translator families, imported once for their registrations (see "Adding a translator" above)
_FAMILIES = (
    "arithmetic",
    "elementwise",
    "activations",
    "linear",
    "convolution",
    "normalization",
    "pooling",
    "reduction",
    "shape",
    "indexing",
    "upsampling",
    "recurrent",
    "attention",
    "losses",
)

for _family in _FAMILIES:
    _importlib.import_module(f"{__name__}.{_family}")
del _family
