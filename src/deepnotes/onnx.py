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

Translated primitives: Add/Sub/Mul/Div/Pow/Neg, MatMul, Linear (Gemm, or MatMul + Add beyond 2-D),
Conv2d (strides, asymmetric pads, dilation, groups; Conv1d through it), ConvTranspose2d, BatchNorm
(running statistics -> BatchNormalization; batch statistics -> reductions), LayerNorm
(LayerNormalization from opset 17), GroupNorm/InstanceNorm, MaxPool/AvgPool (padding, dilation,
ceil_mode, count_include_pad, divisor_override), adaptive max pooling, the reductions (sum, mean ->
GlobalAveragePool over H, W, var/std, prod, amax/amin, max/min along a dim), exp/log/sqrt/abs/sin/cos/
atan, clamp (Clip), maximum/minimum, where, the activations (ReLU, Sigmoid, Tanh, Softmax, LogSoftmax,
LeakyReLU, PReLU, ELU/SELU/CELU, Hardtanh/ReLU6, Hardsigmoid, Hardswish, SiLU/Swish, GELU, Softplus),
reshape/flatten/squeeze/unsqueeze, permute/transpose, expand, cat/stack, pad (constant, reflect,
replicate; circular from opset 19), indexing (Slice, Squeeze, Unsqueeze, Gather, GatherND; also
``table[ids]`` with ``ids`` a model input), Embedding, interpolation (every ``interpolate`` mode but
'area', as Gather/Mul/Add with the exact taps), dtype casts, the fused recurrent layers (LSTM, GRU, RNN)
and attention's softmax.  Adaptive average pooling, SPP, Maxout and nearest upsampling are compositions
of these.

Only the ONNX *graph-building* package ``onnx`` is needed (imported lazily); the result is checked with
``onnx.checker.check_model`` and runs in any ONNX runtime.  New primitives get a translation with
:func:`register_op`.
"""
from __future__ import annotations

import math
import os
import threading
import warnings

import numpy as np

from .autograd import function as _function
from .autograd.function import Function
from .io import atomic_write_bytes
from .ops import arithmetic as _A
from .ops import conv as _C
from .ops import elementwise as _E
from .ops import linear as _L
from .ops import norm as _N
from .ops import pool as _P
from .ops import reduction as _R
from .ops import shape as _S
from .tensor import Tensor, _Cast, as_tensor

__all__ = ["export", "register_op"]

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min
_MIN_OPSET = 13


# ============================================================================ tracing
class _Record:
    """One traced ``Function.apply`` call."""

    __slots__ = ("cls", "inputs", "kwargs", "out", "module")

    def __init__(self, cls, inputs, kwargs, out, module):
        self.cls, self.inputs, self.kwargs, self.out, self.module = cls, inputs, kwargs, out, module


class _Tracer:
    """The ``Function.apply`` hook: runs each call and records it (only in the thread that traces, and
    never a call made while another one is running, so only the outermost primitives are recorded)."""

    def __init__(self, module_stack):
        self.thread = threading.get_ident()
        self.busy = False
        self.records = []
        self.module_stack = module_stack

    def __call__(self, cls, inputs, kwargs):
        if self.busy or threading.get_ident() != self.thread:
            return None
        # convert non-tensor inputs here, as apply would, so the recorded identities are the real ones
        inputs = tuple(t if isinstance(t, Tensor) else as_tensor(t) for t in inputs)
        self.busy = True
        try:
            out = cls.apply(*inputs, **kwargs)
        finally:
            self.busy = False
        self.records.append(_Record(cls, inputs, dict(kwargs), out,
                                    self.module_stack[-1] if self.module_stack else None))
        return out


def _module_label(name, module):
    return f"{name or '<root>'} ({type(module).__name__})"


def _trace(model, inputs):
    """Run ``model(*inputs)`` with the tracer active; returns (records, outputs as a tuple)."""
    stack = []
    handles = []
    for name, mod in model.named_modules():
        label = _module_label(name, mod)

        def pre(m, args, _label=label):
            stack.append(_label)

        def post(m, args, out):
            if stack:
                stack.pop()

        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post))
    tracer = _Tracer(stack)
    previous = _function.set_trace_hook(tracer)
    try:
        # grad mode stays on (inputs require grad) so that dtype casts are recorded primitives and an
        # in-place change of an activation, which a trace cannot see, raises instead of being lost
        with _function.enable_grad():
            out = model(*inputs)
    except RuntimeError as exc:
        if "in-place" in str(exc) or "item assignment" in str(exc):
            raise NotImplementedError(
                f"export: the model modifies an intermediate tensor in place ({exc}); in-place updates "
                "cannot be traced, use out-of-place operations") from exc
        if "numpy()" in str(exc):
            raise NotImplementedError(
                f"export: the model converts an intermediate tensor to NumPy ({exc}); values computed "
                "outside deepnotes' primitives cannot be traced") from exc
        raise
    finally:
        _function.set_trace_hook(previous)
        for hnd in handles:
            hnd.remove()
    if isinstance(out, Tensor):
        outs = (out,)
    elif isinstance(out, (tuple, list)) and out and all(isinstance(o, Tensor) for o in out):
        outs = tuple(out)
    else:
        raise TypeError(f"export: the model must return a Tensor or a tuple/list of Tensors, got "
                        f"{type(out).__name__}")
    return tracer.records, outs


# ============================================================================ comparison of two traces
def _same(a, b):
    """Structural equality of static arguments (tuples, numbers, slices, arrays, dtypes...)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, slice) and isinstance(b, slice):
        return _same((a.start, a.stop, a.step), (b.start, b.stop, b.step))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - objects without a usable equality
        return a is b


def _sources(records, inputs):
    """For each record, per input: ('op', index) / ('in', k) / ('const', tensor)."""
    made = {}
    ins = {id(t): k for k, t in enumerate(inputs)}
    out = []
    for i, rec in enumerate(records):
        row = []
        for t in rec.inputs:
            key = id(t)
            if key in made:
                row.append(("op", made[key]))
            elif key in ins:
                row.append(("in", ins[key]))
            else:
                row.append(("const", t))
        out.append(row)
        made[id(rec.out)] = i
    return out, made, ins


def _where(rec):
    return f"{rec.cls.__name__} (in module {rec.module})" if rec.module else rec.cls.__name__


# ============================================================================ graph construction
class _Graph:
    """Collects nodes and initializers and names the traced tensors."""

    def __init__(self, onnx, opset, recs_b, batch, named, sized, traced_a, traced_b):
        self.onnx, self.helper, self.nph = onnx, onnx.helper, onnx.numpy_helper
        self.opset = opset
        self.nodes, self.initializers = [], []
        self.names = {}            # id(tensor) -> value name
        self.const_keys = {}       # dedupe key -> initializer name
        self.keep = []             # keep arrays alive so ids stay unique
        self.recs_b = recs_b       # the second trace, aligned with the first (g.position)
        self.position = 0          # index of the record being translated
        self.scope = ""            # module path of that record, for node names
        self.batch = batch         # (batch size in trace A, in trace B) or None
        self.named = named         # id(array) -> parameter/buffer name
        self.sized = sized         # id(tensor) -> shape in trace B, for filled constants following the batch
        self.traced_a, self.traced_b = traced_a, traced_b   # id(array) -> traced tensor (inputs, results)
        self.used_names = set()
        self.counter = 0
        self.batch_value = None
        self.input_names = []

    # ------------------------------------------------------------------ names
    def unique(self, base):
        base = base.replace(" ", "_")
        name, k = base, 1
        while name in self.used_names:
            name = f"{base}_{k}"
            k += 1
        self.used_names.add(name)
        return name

    def const(self, array, hint="const"):
        """An initializer holding ``array``: deduplicated by identity, and by value when small."""
        arr = np.asarray(array)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"export: cannot store a constant of dtype {arr.dtype} in ONNX")
        key = ("id", id(array), arr.dtype.str) if isinstance(array, np.ndarray) and arr.size > 16 \
            else ("val", arr.dtype.str, arr.shape, arr.tobytes())
        name = self.const_keys.get(key)
        if name is None:
            name = self.unique(self.named.get(id(array), hint) if isinstance(array, np.ndarray) else hint)
            self.initializers.append(self.nph.from_array(np.ascontiguousarray(arr), name))
            self.const_keys[key] = name
            self.keep.append(array)
        return name

    def ints(self, values, hint="ints"):
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), hint)

    def scalar(self, value, dtype, hint="scalar"):
        return self.const(np.asarray(value, dtype=dtype), hint)

    def value(self, t):
        """The value name of an input tensor of a recorded call (an initializer for constants)."""
        name = self.names.get(id(t))
        if name is None:
            shape_b = self.sized.get(id(t))
            if shape_b is None:
                name = self.const(t.data, "const")
            else:
                fill = self.const(np.asarray(t.data.flat[0], dtype=t.data.dtype).reshape((1,) * t.ndim), "fill")
                name = self.node("Expand", [fill, self.shape_tensor(t.shape, shape_b, "a filled constant")],
                                 hint="filled")
            self.names[id(t)] = name
        return name

    def node(self, op_type, inputs, outputs=None, n_out=1, hint=None, **attrs):
        """Append a node; returns its output name (or the list when ``n_out`` > 1)."""
        self.counter += 1
        if outputs is None:
            outputs = [self.unique(f"{hint or op_type}_{self.counter}") for _ in range(n_out)]
        elif isinstance(outputs, str):
            outputs = [outputs]
        node_name = self.unique(f"{self.scope}/{op_type}_{self.counter}")
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outputs, name=node_name,
                                                **{k: v for k, v in attrs.items() if v is not None}))
        return outputs[0] if len(outputs) == 1 else outputs

    # ------------------------------------------------------------------ batch-dependent shapes
    def batch_size(self):
        """A 1-element int64 tensor holding the runtime batch size (dim 0 of the first input)."""
        if self.batch_value is None:
            shape = self.node("Shape", [self.input_names[0]], hint="input_shape")
            self.batch_value = self.node("Gather", [shape, self.ints([0], "zero")], hint="batch", axis=0)
        return self.batch_value

    def shape_tensor(self, dims_a, dims_b, what):
        """An int64 shape: constant where the two traces agree, k * batch where a dim follows the batch."""
        if list(dims_a) == list(dims_b):
            return self.ints(dims_a, "shape")
        if self.batch is None:
            raise ValueError(f"export: {what} changes with the input values ({tuple(dims_a)} vs "
                             f"{tuple(dims_b)}); it cannot be frozen into the graph")
        ba, bb = self.batch
        parts, pending = [], []
        for a, b in zip(dims_a, dims_b):
            if a == b:
                pending.append(a)
                continue
            if ba == 0 or a % ba or b != (a // ba) * bb:
                raise ValueError(f"export: {what} has a dimension that changes with the input ({a} for batch "
                                 f"{ba}, {b} for batch {bb}) but is not a multiple of the batch size; export "
                                 "with dynamic_batch=False")
            if pending:
                parts.append(self.ints(pending, "shape"))
                pending = []
            k = a // ba
            bs = self.batch_size()
            parts.append(bs if k == 1 else self.node("Mul", [bs, self.ints([k], "k")], hint="dim"))
        if pending:
            parts.append(self.ints(pending, "shape"))
        return parts[0] if len(parts) == 1 else self.node("Concat", parts, hint="shape", axis=0)

    # ------------------------------------------------------------------ opset-dependent reductions
    def reduce(self, op_type, x, axes, keepdim, out=None):
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes, "axes")], out, keepdims=int(bool(keepdim)))
        return self.node(op_type, [x], out, axes=axes, keepdims=int(bool(keepdim)))

    def unsqueeze(self, x, axes, out=None):
        return self.node("Unsqueeze", [x, self.ints(axes, "axes")], out)

    def squeeze(self, x, axes, out=None):
        return self.node("Squeeze", [x, self.ints(axes, "axes")], out)


# ============================================================================ translations
_TRANSLATORS = {}        # Function subclass -> translator
_BY_NAME = {}            # class name -> translator registered by users (any module)
_BUILTIN_NAMES = {}      # class name -> translator for deepnotes primitives added after this module
_VARYING_OK = {}         # translator -> kwargs it may see change between the traces


def register_op(function_cls, translator=None, *, varying_kwargs=()):
    """Register ``translator(g, rec, out_name)`` as the ONNX translation of the primitive
    ``function_cls`` (a :class:`deepnotes.autograd.Function` subclass, or its class name).

    The translator reads ``rec.inputs`` (input tensors of the traced call), ``rec.kwargs`` (its static
    arguments) and ``rec.out`` (its output), gets input value names from ``g.value(t)``, builds nodes
    with ``g.node(op_type, inputs, out_name, **attributes)`` and constants with ``g.const(array)``, and
    must produce the value ``out_name``.  ``varying_kwargs`` lists static arguments that may legitimately
    differ between the example input and a second input of another batch size.  Usable as a decorator.
    """
    def deco(fn):
        if isinstance(function_cls, str):
            _BY_NAME[function_cls] = fn
        elif isinstance(function_cls, type) and issubclass(function_cls, Function):
            _TRANSLATORS[function_cls] = fn
        else:
            raise TypeError(f"register_op: expected a Function subclass or its name, got {function_cls!r}")
        _VARYING_OK[fn] = frozenset(varying_kwargs)
        return fn
    if translator is not None:
        return deco(translator)
    return deco


def _simple(op_type, **attrs):
    def tr(g, rec, out):
        g.node(op_type, [g.value(t) for t in rec.inputs], out, **attrs)
    return tr


for _cls, _op in ((_A.Add, "Add"), (_A.Sub, "Sub"), (_A.Mul, "Mul"), (_A.Div, "Div"), (_A.Pow, "Pow"),
                  (_A.Neg, "Neg"), (_A.MatMul, "MatMul"), (_E.Exp, "Exp"), (_E.Log, "Log"),
                  (_E.Sqrt, "Sqrt"), (_E.Abs, "Abs"), (_E.Sin, "Sin"), (_E.Cos, "Cos"), (_E.Atan, "Atan"),
                  (_E.Maximum, "Max"), (_E.Minimum, "Min"), (_E.Where, "Where"), (_E.ReLU, "Relu"),
                  (_E.Sigmoid, "Sigmoid"), (_E.Tanh, "Tanh"), (_S.Clone, "Identity")):
    register_op(_cls, _simple(_op))


@register_op(_E.Clamp)
def _clamp(g, rec, out):
    x = rec.inputs[0]
    dt = x.data.dtype
    lo, hi = rec.kwargs.get("min"), rec.kwargs.get("max")
    ins = [g.value(x), "" if lo is None else g.scalar(lo, dt, "min"),
           "" if hi is None else g.scalar(hi, dt, "max")]
    while ins[-1] == "":
        ins.pop()
    g.node("Clip", ins, out)


@register_op(_E.Softmax)
def _softmax(g, rec, out):
    g.node("Softmax", [g.value(rec.inputs[0])], out, axis=int(rec.kwargs["dim"]))


@register_op(_E.LogSoftmax)
def _log_softmax(g, rec, out):
    g.node("LogSoftmax", [g.value(rec.inputs[0])], out, axis=int(rec.kwargs["dim"]))


@register_op(_Cast)
def _cast(g, rec, out):
    to = g.helper.np_dtype_to_tensor_dtype(np.dtype(rec.kwargs["dtype"]))
    g.node("Cast", [g.value(rec.inputs[0])], out, to=to)


# ---------------------------------------------------------------------------- linear / conv / norm
@register_op(_L.LinearFn)
def _linear(g, rec, out):
    x, w = rec.inputs[0], rec.inputs[1]
    b = rec.inputs[2] if len(rec.inputs) > 2 else None
    if x.ndim == 2:
        ins = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
        g.node("Gemm", ins, out, transB=1)
        return
    wt = g.node("Transpose", [g.value(w)], hint="weight_t", perm=[1, 0])
    if b is None:
        g.node("MatMul", [g.value(x), wt], out)
    else:
        y = g.node("MatMul", [g.value(x), wt])
        g.node("Add", [y, g.value(b)], out)


@register_op(_C.Conv2dFn)
def _conv(g, rec, out):
    kw = rec.kwargs
    w = rec.inputs[1]
    (t, b), (l, r) = kw["pads"]
    g.node("Conv", [g.value(t_) for t_ in rec.inputs], out, kernel_shape=list(w.shape[2:]),
           strides=list(kw["stride"]), pads=[int(t), int(l), int(b), int(r)],
           dilations=list(kw["dilation"]), group=int(kw["groups"]))


def _channel_shape(ndim, c):
    shape = [1] * ndim
    shape[1] = c
    return shape


@register_op(_N.BatchNormFn)
def _batch_norm(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    dt = x.data.dtype
    C = x.shape[1]
    weight = rec.inputs[1] if kw["has_weight"] else None
    bias = rec.inputs[-1] if kw["has_bias"] else None
    eps = float(kw["eps"])
    if not kw["training"]:
        scale = g.value(weight) if weight is not None else g.const(np.ones(C, dt), "bn_ones")
        shift = g.value(bias) if bias is not None else g.const(np.zeros(C, dt), "bn_zeros")
        mean = g.const(np.asarray(kw["running_mean"]).astype(dt, copy=False), "running_mean")
        var = g.const(np.asarray(kw["running_var"]).astype(dt, copy=False), "running_var")
        g.node("BatchNormalization", [g.value(x), scale, shift, mean, var], out, epsilon=eps)
        return
    # batch statistics (a BatchNorm without running estimates): (x - mean) / sqrt(var + eps) * w + b
    axes = [0] + list(range(2, x.ndim))
    xv = g.value(x)
    mean = g.reduce("ReduceMean", xv, axes, True)
    centred = g.node("Sub", [xv, mean])
    var = g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axes, True)
    std = g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, dt, "eps")])])
    y = g.node("Div", [centred, std])
    cshape = g.ints(_channel_shape(x.ndim, C), "channel_shape")
    if weight is not None:
        y = g.node("Mul", [y, g.node("Reshape", [g.value(weight), cshape])])
    if bias is not None:
        y = g.node("Add", [y, g.node("Reshape", [g.value(bias), cshape])])
    g.node("Identity", [y], out)


# ---------------------------------------------------------------------------- pooling
def _pool_end_pads(x, out, kernel, stride, padding, dilation):
    """Bottom/right padding that makes ONNX's floor-mode output size equal the traced one (torch's
    ceil_mode adds windows that start inside the input; the extra rows never hold a window's maximum
    nor enter an average's divisor)."""
    ends = []
    for i in range(2):
        size, n_out = x.shape[2 + i], out.shape[2 + i]
        need = (n_out - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
        ends.append(max(need - size - padding[i], 0))
    return ends


@register_op(_P.MaxPool2dFn)
def _max_pool(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    k, s, p, d = kw["kernel"], kw["stride"], kw["padding"], kw["dilation"]
    ends = _pool_end_pads(x, rec.out, k, s, p, d)
    g.node("MaxPool", [g.value(x)], out, kernel_shape=list(k), strides=list(s),
           pads=[int(p[0]), int(p[1]), int(ends[0]), int(ends[1])], dilations=list(d))


@register_op(_P.AdaptiveAvg1dFn)
def _adaptive_avg_1d(g, rec, out):
    # mean over torch's adaptive bins along one of the last two axes: a MatMul with the averaging matrix
    x = rec.inputs[0]
    axis = int(rec.kwargs["axis"])
    m = _P.adaptive_matrix(x.shape[axis], int(rec.kwargs["out"]), x.data.dtype)
    if axis == x.ndim - 1:
        g.node("MatMul", [g.value(x), g.const(np.ascontiguousarray(m.T), "adaptive_avg")], out)
    else:
        g.node("MatMul", [g.const(m, "adaptive_avg"), g.value(x)], out)


@register_op(_P.AvgPool2dFn)
def _avg_pool(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    k, s, p = kw["kernel"], kw["stride"], kw["padding"]
    xv = g.value(x)
    if kw.get("divisor_override"):
        # sum over each window / divisor_override; every window lies inside the padded tensor, so an
        # average with count_include_pad=1 divides by exactly kh * kw
        ends = _pool_end_pads(x, rec.out, k, s, p, (1, 1))
        avg = g.node("AveragePool", [xv], kernel_shape=list(k), strides=list(s), count_include_pad=1,
                     pads=[int(p[0]), int(p[1]), int(ends[0]), int(ends[1])])
        ratio = np.asarray(k[0] * k[1] / float(kw["divisor_override"]), dtype=x.data.dtype)
        g.node("Mul", [avg, g.const(ratio, "divisor")], out)
        return
    if kw["count_include_pad"] and (p[0] or p[1]):
        # torch counts the zero padding but not the ceil_mode overhang: pad explicitly with zeros,
        # then average with count_include_pad=0 over the padded tensor
        pads = g.ints([0, 0, p[0], p[1], 0, 0, p[0], p[1]], "pads")
        xv = g.node("Pad", [xv, pads, g.scalar(0, x.data.dtype, "zero")], mode="constant")
        shape = (x.shape[0], x.shape[1], x.shape[2] + 2 * p[0], x.shape[3] + 2 * p[1])
        ends = _pool_end_pads(_Shape(shape), rec.out, k, s, (0, 0), (1, 1))
        begins = [0, 0]
    else:
        ends = _pool_end_pads(x, rec.out, k, s, p, (1, 1))
        begins = [int(p[0]), int(p[1])]
    g.node("AveragePool", [xv], out, kernel_shape=list(k), strides=list(s), count_include_pad=0,
           pads=begins + [int(ends[0]), int(ends[1])])


class _Shape:
    def __init__(self, shape):
        self.shape = shape


# ---------------------------------------------------------------------------- reductions
def _reducer(op_type):
    def tr(g, rec, out):
        axes, keepdim = rec.kwargs["axes"], rec.kwargs["keepdim"]
        x = rec.inputs[0]
        if not axes:
            g.node("Identity", [g.value(x)], out)
        elif op_type == "ReduceMean" and x.ndim == 4 and tuple(axes) == (2, 3) and keepdim:
            g.node("GlobalAveragePool", [g.value(x)], out)
        else:
            g.reduce(op_type, g.value(x), axes, keepdim, out)
    return tr


register_op(_R.Sum, _reducer("ReduceSum"))
register_op(_R.Mean, _reducer("ReduceMean"))
register_op(_R.AMax, _reducer("ReduceMax"))
register_op(_R.AMin, _reducer("ReduceMin"))


@register_op(_R.Prod)
def _prod(g, rec, out):
    g.reduce("ReduceProd", g.value(rec.inputs[0]), [rec.kwargs["axis"]], rec.kwargs["keepdim"], out)


@register_op(_R.Var)
def _var(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    axes = list(kw["axes"])
    n = 1
    for a in axes:
        n *= x.shape[a]
    xv = g.value(x)
    mean = g.reduce("ReduceMean", xv, axes, True)
    c = g.node("Sub", [xv, mean])
    s = g.reduce("ReduceSum", g.node("Mul", [c, c]), axes, kw["keepdim"])
    denom = np.asarray(max(n - kw["correction"], 0), dtype=x.data.dtype)
    g.node("Div", [s, g.const(denom, "denominator")], out)


def _minmax_dim(largest):
    def tr(g, rec, out):
        g.reduce("ReduceMax" if largest else "ReduceMin", g.value(rec.inputs[0]), [rec.kwargs["dim"]],
                 rec.kwargs["keepdim"], out)
    return tr


register_op(_R.MaxDim, _minmax_dim(True))
register_op(_R.MinDim, _minmax_dim(False))


@register_op(_R.SelectDim, varying_kwargs=("index",))
def _select_dim(g, rec, out):
    # max(dim)/min(dim) values: the index is an arg-max/arg-min computed outside the primitive; it is
    # exported as the reduction it stands for, after checking that in both traces
    kw = rec.kwargs
    kinds = []
    for r in (rec, g.recs_b[g.position]):
        x = r.inputs[0].data
        picked = np.take_along_axis(x, r.kwargs["index"], axis=r.kwargs["dim"])
        kinds.append("max" if np.array_equal(picked, x.max(axis=r.kwargs["dim"], keepdims=True)) else
                     "min" if np.array_equal(picked, x.min(axis=r.kwargs["dim"], keepdims=True)) else None)
    if kinds[0] is None or kinds[0] != kinds[1]:
        raise NotImplementedError(f"export: {_where(rec)} selects elements by an index computed outside "
                                  "the traced primitives; only max(dim)/min(dim) selections are exported")
    g.reduce("ReduceMax" if kinds[0] == "max" else "ReduceMin", g.value(rec.inputs[0]), [kw["dim"]],
             kw["keepdim"], out)


# ---------------------------------------------------------------------------- shapes
@register_op(_S.Reshape, varying_kwargs=("shape",))
def _reshape(g, rec, out):
    rb = g.recs_b[g.position]
    oa, ob = list(rec.out.shape), list(rb.out.shape)
    if len(oa) != len(ob):
        raise ValueError(f"export: {_where(rec)} gives outputs of different ranks for the example input "
                         f"{tuple(oa)} and a batch of another size {tuple(ob)}; export with "
                         "dynamic_batch=False")
    varying = [i for i in range(len(oa)) if oa[i] != ob[i]]
    allowzero = 1 if 0 in oa and not varying else None
    if len(varying) == 1 and g.batch is not None:
        dims = list(oa)
        dims[varying[0]] = -1
        shape = g.ints(dims, "shape")
    else:
        shape = g.shape_tensor(oa, ob, f"the reshape target of {_where(rec)}")
    if allowzero and g.opset >= 14:
        g.node("Reshape", [g.value(rec.inputs[0]), shape], out, allowzero=1)
    else:
        g.node("Reshape", [g.value(rec.inputs[0]), shape], out)


@register_op(_S.Expand, varying_kwargs=("shape",))
def _expand(g, rec, out):
    # ONNX Expand broadcasts both ways, so a 1 keeps every dimension the input already has
    rb = g.recs_b[g.position]
    ta, tb = list(rec.out.shape), list(rb.out.shape)
    sa, sb = rec.inputs[0].shape, rb.inputs[0].shape
    lead = len(ta) - len(sa)
    dims_a, dims_b = [], []
    for i in range(len(ta)):
        j = i - lead
        if j >= 0 and sa[j] == ta[i] and sb[j] == tb[i]:
            dims_a.append(1)
            dims_b.append(1)
        else:
            dims_a.append(ta[i])
            dims_b.append(tb[i])
    g.node("Expand", [g.value(rec.inputs[0]), g.shape_tensor(dims_a, dims_b, f"the shape of {_where(rec)}")],
           out)


@register_op(_S.Permute)
def _permute(g, rec, out):
    g.node("Transpose", [g.value(rec.inputs[0])], out, perm=[int(d) for d in rec.kwargs["dims"]])


@register_op(_S.Cat)
def _cat(g, rec, out):
    g.node("Concat", [g.value(t) for t in rec.inputs], out, axis=int(rec.kwargs["dim"]))


@register_op(_S.Stack)
def _stack(g, rec, out):
    d = int(rec.kwargs["dim"])
    parts = [g.unsqueeze(g.value(t), [d]) for t in rec.inputs]
    g.node("Concat", parts, out, axis=d)


@register_op(_S.Pad)
def _pad(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    width = kw["pad_width"]
    mode = kw.get("mode", "constant")
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    if onnx_mode == "wrap" and g.opset < 19:
        raise NotImplementedError(f"export: circular padding ({_where(rec)}) needs opset_version >= 19, "
                                  f"got {g.opset}")
    pads = g.ints([int(b) for b, _ in width] + [int(e) for _, e in width], "pads")
    ins = [g.value(x), pads]
    if onnx_mode == "constant":
        ins.append(g.scalar(kw.get("value", 0.0), x.data.dtype, "pad_value"))
    g.node("Pad", ins, out, mode=onnx_mode)


def _index_items(index):
    items = list(index) if isinstance(index, tuple) else [index]
    return [np.asarray(i) if isinstance(i, list) else i for i in items]


def _check_index(g, rec):
    """The index of a GetItem call may change between the traces only where it is the array of a
    traced tensor (x[idx] with idx a model input or computed by traced operations); returns the set
    of positions holding such arrays."""
    rb = g.recs_b[g.position]
    ia, ib = _index_items(rec.kwargs["index"]), _index_items(rb.kwargs["index"])
    dynamic = set()
    same = len(ia) == len(ib)
    for k, (a, b) in enumerate(zip(ia, ib)):
        if isinstance(a, np.ndarray) and id(a) in g.traced_a and isinstance(b, np.ndarray) and id(b) in g.traced_b:
            dynamic.add(k)
        elif not _same(a, b):
            same = False
    if not same:
        raise NotImplementedError(
            f"export: the index of {_where(rec)} changes with the input ({rec.kwargs['index']!r} vs "
            f"{rb.kwargs['index']!r}): it is computed outside deepnotes' traced primitives (or follows the "
            "batch size) and would be frozen into the graph")
    return dynamic


@register_op(_S.GetItem, varying_kwargs=("index",))
def _getitem(g, rec, out):
    x = rec.inputs[0]
    index = rec.kwargs["index"]
    dynamic = _check_index(g, rec)
    if dynamic:
        items = _index_items(index)
        k = min(dynamic)
        arr = items[k]
        rest = items[:k] + items[k + 1:]
        if len(dynamic) > 1 or arr.dtype == np.bool_ or any(
                isinstance(i, np.ndarray) or i is None or i is Ellipsis or isinstance(i, (int, np.integer))
                for i in rest) or len(items) > x.ndim:
            raise NotImplementedError(f"export: {_where(rec)}: indexing with a traced tensor is exported only "
                                      "as x[..slices.., idx, ..slices..] with one integer index tensor")
        sliced = _basic_index(g, g.value(x), x.shape, [slice(None) if j == k else i for j, i in
                                                         enumerate(items + [slice(None)] * (x.ndim - len(items)))],
                              None)
        idx = g.value(g.traced_a[id(arr)])
        if arr.dtype not in (np.int32, np.int64):
            idx = g.node("Cast", [idx], to=g.helper.np_dtype_to_tensor_dtype(np.dtype(np.int64)))
        g.node("Gather", [sliced, idx], out, axis=k)
        return
    items = _index_items(index)
    n_consume = sum(1 for i in items if i is not None and i is not Ellipsis
                    and not (isinstance(i, np.ndarray) and i.dtype == np.bool_))
    n_consume += sum(i.ndim for i in items if isinstance(i, np.ndarray) and i.dtype == np.bool_)
    if any(i is Ellipsis for i in items):
        k = items.index(Ellipsis)
        items[k:k + 1] = [slice(None)] * (x.ndim - n_consume)
    items += [slice(None)] * (x.ndim - n_consume)
    # a boolean mask over k axes stands for the k integer arrays of its nonzero positions
    expanded = []
    for i in items:
        if isinstance(i, np.ndarray) and i.dtype == np.bool_:
            expanded.extend(np.nonzero(i) if i.ndim else [np.asarray(0)])
        else:
            expanded.append(i)
    items = expanded
    arrays = [k for k, i in enumerate(items) if isinstance(i, np.ndarray)]
    where = _where(rec)
    xv = g.value(x)
    if not arrays:
        _basic_index(g, xv, x.shape, items, out)
        return
    if len(arrays) == 1 and not any(isinstance(i, (int, np.integer)) or i is None for i in items):
        # one integer array among slices: slice first, then Gather along the array's axis
        axis = arrays[0]
        rest = [slice(None) if k == axis else i for k, i in enumerate(items)]
        sliced = _basic_index(g, xv, x.shape, rest, None)
        idx = items[axis].astype(np.int64)
        g.node("Gather", [sliced, g.const(idx, "indices")], out, axis=axis)
        return
    advanced = [isinstance(i, (np.ndarray, int, np.integer)) for i in items]
    lead = advanced.index(False) if False in advanced else len(items)
    if not any(advanced[lead:]) and all(isinstance(i, slice) and i == slice(None) for i in items[lead:]):
        # leading advanced indices, whole trailing axes: GatherND with the broadcast index tuples
        parts = [np.asarray(i, dtype=np.int64) for i in items[:lead]]
        parts = [np.where(p < 0, p + x.shape[k], p) for k, p in enumerate(parts)]
        idx = np.stack(np.broadcast_arrays(*parts), axis=-1)
        g.node("GatherND", [xv, g.const(idx, "indices")], out)
        return
    raise NotImplementedError(f"export: {where}: this mix of integer-array and other indices "
                              f"({index!r}) has no ONNX translation")


def _basic_index(g, xv, shape, items, out):
    """ints, slices and None over ``shape``: one Slice, a Squeeze for ints, an Unsqueeze for None."""
    starts, ends, axes, steps = [], [], [], []
    squeeze, unsqueeze = [], []
    ax = 0
    pos = 0
    for i in items:
        if i is None:
            unsqueeze.append(pos)
            pos += 1
            continue
        if isinstance(i, slice):
            step = 1 if i.step is None else int(i.step)
            start = (0 if step > 0 else -1) if i.start is None else int(i.start)
            stop = (_INT64_MAX if step > 0 else _INT64_MIN) if i.stop is None else int(i.stop)
            if not (start == 0 and stop == _INT64_MAX and step == 1):
                starts.append(start)
                ends.append(stop)
                axes.append(ax)
                steps.append(step)
            pos += 1
        else:
            k = int(i)
            starts.append(k)
            ends.append(k + 1 if k != -1 else _INT64_MAX)
            axes.append(ax)
            steps.append(1)
            squeeze.append(ax)
        ax += 1
    v = xv
    steps_needed = [starts, ends, axes, steps] if starts else None
    last = [bool(steps_needed), bool(squeeze), bool(unsqueeze)]
    final = max((k for k, f in enumerate(last) if f), default=-1)
    if final == -1:
        return v if out is None else g.node("Identity", [v], out)
    if steps_needed:
        v = g.node("Slice", [v, g.ints(starts, "starts"), g.ints(ends, "ends"), g.ints(axes, "axes"),
                             g.ints(steps, "steps")], out if final == 0 else None)
    if squeeze:
        v = g.squeeze(v, squeeze, out if final == 1 else None)
    if unsqueeze:
        v = g.unsqueeze(v, unsqueeze, out)
    return v


# ---------------------------------------------------------------------------- activations (by name)
def _param(g, rec, names, position, default):
    """A scalar parameter of an activation: a keyword argument, or a constant positional input (the
    ``position``-th input tensor); a traced tensor there cannot become an attribute."""
    for n in names:
        if n in rec.kwargs:
            return rec.kwargs[n]
    if len(rec.inputs) > position:
        t = rec.inputs[position]
        if id(t) in g.names or t.data.size != 1:
            raise NotImplementedError(f"export: {_where(rec)}: parameter {names[0]!r} must be a constant number")
        return t.data.reshape(()).item()
    return default


def _hardswish(g, rec, out):
    x = g.value(rec.inputs[0])
    if g.opset >= 14:
        g.node("HardSwish", [x], out)
    else:
        g.node("Mul", [x, g.node("HardSigmoid", [x], alpha=1.0 / 6, beta=0.5)], out)


def _hardsigmoid(g, rec, out):
    g.node("HardSigmoid", [g.value(rec.inputs[0])], out, alpha=1.0 / 6, beta=0.5)


def _clip(g, rec, out, lo, hi):
    x = rec.inputs[0]
    dt = x.data.dtype
    g.node("Clip", [g.value(x), g.scalar(lo, dt, "min"), g.scalar(hi, dt, "max")], out)


def _relu6(g, rec, out):
    _clip(g, rec, out, 0.0, 6.0)


def _hardtanh(g, rec, out):
    _clip(g, rec, out, float(_param(g, rec, ("min_val",), 1, -1.0)), float(_param(g, rec, ("max_val",), 2, 1.0)))


def _silu(g, rec, out):
    x = g.value(rec.inputs[0])
    g.node("Mul", [x, g.node("Sigmoid", [x])], out)


def _swish(g, rec, out):
    # x sigma(beta x); beta is a (learnable) tensor input or a keyword number
    x = rec.inputs[0]
    xv = g.value(x)
    if len(rec.inputs) > 1:
        beta = g.value(rec.inputs[1])
    else:
        beta = g.scalar(rec.kwargs.get("beta", 1.0), x.data.dtype, "beta")
    g.node("Mul", [xv, g.node("Sigmoid", [g.node("Mul", [beta, xv])])], out)


def _leaky_relu(g, rec, out):
    slope = _param(g, rec, ("negative_slope", "slope", "alpha"), 1, 0.01)
    g.node("LeakyRelu", [g.value(rec.inputs[0])], out, alpha=float(slope))


def _prelu(g, rec, out):
    # slopes per channel (axis 1): reshaped to (C, 1, ...) so they broadcast against (N, C, ...)
    x, w = rec.inputs[0], rec.inputs[1]
    wv = g.value(w)
    if x.ndim >= 2:
        wv = g.node("Reshape", [wv, g.ints([w.data.size] + [1] * (x.ndim - 2), "slope_shape")])
    else:
        wv = g.node("Reshape", [wv, g.ints([1] if x.ndim else [], "slope_shape")])
    g.node("PRelu", [g.value(x), wv], out)


def _elu(g, rec, out):
    # scale * (x if x > 0 else alpha (exp(input_scale x) - 1)): ELU, and SELU/CELU through the scales
    alpha = float(_param(g, rec, ("alpha",), 1, 1.0))
    scale = float(_param(g, rec, ("scale",), 2, 1.0))
    input_scale = float(_param(g, rec, ("input_scale",), 3, 1.0))
    x = rec.inputs[0]
    xv = g.value(x)
    if scale == 1.0 and input_scale == 1.0:
        g.node("Elu", [xv], out, alpha=alpha)
        return
    dt = x.data.dtype
    neg = g.node("Mul", [g.node("Min", [xv, g.scalar(0, dt, "zero")]), g.scalar(input_scale, dt, "input_scale")])
    neg = g.node("Mul", [g.node("Sub", [g.node("Exp", [neg]), g.scalar(1, dt, "one")]),
                         g.scalar(alpha * scale, dt, "alpha_scale")])
    pos = g.node("Mul", [xv, g.scalar(scale, dt, "scale")])
    g.node("Where", [g.node("Greater", [xv, g.scalar(0, dt, "zero")]), pos, neg], out)


def _softplus(g, rec, out):
    beta = float(_param(g, rec, ("beta",), 1, 1.0))
    threshold = float(_param(g, rec, ("threshold",), 2, 20.0))
    x = rec.inputs[0]
    dt = x.data.dtype
    xv = g.value(x)
    bx = g.node("Mul", [xv, g.scalar(beta, dt, "beta")]) if beta != 1 else xv
    sp = g.node("Softplus", [bx])
    if beta != 1:
        sp = g.node("Div", [sp, g.scalar(beta, dt, "beta")])
    # torch reverts to the identity where beta * x > threshold
    cond = g.node("Greater", [bx, g.scalar(threshold, dt, "threshold")])
    g.node("Where", [cond, xv, sp], out)


def _gelu(g, rec, out):
    approximate = rec.kwargs.get("approximate", "none")
    x = rec.inputs[0]
    dt = x.data.dtype
    xv = g.value(x)
    if g.opset >= 20:
        g.node("Gelu", [xv], out, approximate=str(approximate))
        return
    half = g.scalar(0.5, dt, "half")
    one = g.scalar(1.0, dt, "one")
    if approximate == "tanh":
        c = g.scalar(math.sqrt(2 / math.pi), dt, "sqrt_2_over_pi")
        x3 = g.node("Mul", [g.node("Mul", [xv, xv]), xv])
        inner = g.node("Mul", [c, g.node("Add", [xv, g.node("Mul", [x3, g.scalar(0.044715, dt, "c")])])])
        t = g.node("Tanh", [inner])
    else:
        t = g.node("Erf", [g.node("Div", [xv, g.scalar(math.sqrt(2.0), dt, "sqrt2")])])
    g.node("Mul", [g.node("Mul", [xv, half]), g.node("Add", [one, t])], out)


# ---------------------------------------------------------------------------- newer primitives (by name)
def _conv_transpose(g, rec, out):
    kw = rec.kwargs
    w = rec.inputs[1]
    (p0, p1), (q0, q1) = kw["padding"], kw["output_padding"]
    g.node("ConvTranspose", [g.value(t) for t in rec.inputs], out, kernel_shape=list(w.shape[2:]),
           strides=list(kw["stride"]), pads=[int(p0), int(p1), int(p0), int(p1)],
           output_padding=[int(q0), int(q1)], dilations=list(kw["dilation"]), group=int(kw["groups"]))


def _interp1d(g, rec, out):
    # y = sum_k w_k * x[idx_k] along one axis (every interpolate mode but 'area'): Gather, Mul, Add
    x = rec.inputs[0]
    axis = int(rec.kwargs["axis"])
    xv = g.value(x)
    bshape = [1] * x.ndim
    bshape[axis] = -1
    terms = []
    for idx, w in rec.kwargs["taps"]:
        v = g.node("Gather", [xv, g.const(np.asarray(idx, dtype=np.int64), "taps")], axis=axis)
        if w is not None:
            v = g.node("Mul", [v, g.const(np.asarray(w, dtype=x.data.dtype).reshape(bshape), "tap_weights")])
        terms.append(v)
    while len(terms) > 1:
        terms = [g.node("Add", terms[:2])] + terms[2:]
    g.node("Identity", terms, out)


def _normalise(g, xv, axes, eps, dtype):
    """(x - mean) / sqrt(biased var + eps) over ``axes`` (kept)."""
    mean = g.reduce("ReduceMean", xv, axes, True)
    centred = g.node("Sub", [xv, mean])
    var = g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axes, True)
    return g.node("Div", [centred, g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, dtype, "eps")])])])


def _layer_norm(g, rec, out):
    kw = rec.kwargs
    x = rec.inputs[0]
    dt = x.data.dtype
    m = int(kw["m"])
    weight = rec.inputs[1] if kw["has_weight"] else None
    bias = rec.inputs[-1] if kw["has_bias"] else None
    if weight is not None:
        k = weight.ndim
    else:       # the fewest trailing dimensions holding m elements
        k, n = 0, 1
        while k < x.ndim and n != m:
            k += 1
            n *= x.shape[x.ndim - k]
    norm_shape = x.shape[x.ndim - k:]
    xv = g.value(x)
    if g.opset >= 17:
        scale = g.value(weight) if weight is not None else g.const(np.ones(norm_shape, dt), "ln_ones")
        ins = [xv, scale] + ([g.value(bias)] if bias is not None else [])
        g.node("LayerNormalization", ins, out, axis=-k if k else -1, epsilon=float(kw["eps"]))
        return
    y = _normalise(g, xv, list(range(x.ndim - k, x.ndim)), float(kw["eps"]), dt)
    if weight is not None:
        y = g.node("Mul", [y, g.value(weight)])
    if bias is not None:
        y = g.node("Add", [y, g.value(bias)])
    g.node("Identity", [y], out)


def _group_norm(g, rec, out):
    # statistics per (sample, group of C / G channels): reshape to (N, G, rest), normalise, reshape back
    kw = rec.kwargs
    x = rec.inputs[0]
    dt = x.data.dtype
    C = x.shape[1]
    xv = g.value(x)
    grouped = g.node("Reshape", [xv, g.ints([0, int(kw["groups"]), -1], "group_shape")])
    y = g.node("Reshape", [_normalise(g, grouped, [2], float(kw["eps"]), dt), g.node("Shape", [xv])])
    cshape = g.ints(_channel_shape(x.ndim, C), "channel_shape")
    if kw["has_weight"]:
        y = g.node("Mul", [y, g.node("Reshape", [g.value(rec.inputs[1]), cshape])])
    if kw["has_bias"]:
        y = g.node("Add", [y, g.node("Reshape", [g.value(rec.inputs[-1]), cshape])])
    g.node("Identity", [y], out)


def _adaptive_max_pool(g, rec, out):
    # torch's bins [floor(i H / oh), ceil((i + 1) H / oh)), shorter bins padded by repeating their last
    # row/column (harmless for a maximum): gather rows and columns, then ReduceMax over each bin
    x = rec.inputs[0]
    oh, ow = rec.kwargs["output_size"]
    xv = g.value(x)
    dims = []
    for axis, (size, n) in enumerate(((x.shape[2], oh), (x.shape[3], ow)), start=2):
        i = np.arange(n)
        start, end = (i * size) // n, -(-((i + 1) * size) // n)
        k = int((end - start).max())
        idx = np.minimum(start[:, None] + np.arange(k), end[:, None] - 1)
        xv = g.node("Gather", [xv, g.const(idx.reshape(-1).astype(np.int64), "bins")], axis=axis)
        dims += [int(n), k]
    grouped = g.node("Reshape", [xv, g.ints([0, 0] + dims, "bin_shape")])
    g.reduce("ReduceMax", grouped, [3, 5], False, out)


def _embedding(g, rec, out):
    # weight[indices]: the indices are a keyword array, taken from the graph when they are the data of
    # a traced tensor (the model input), else a constant
    weight = rec.inputs[0]
    idx = _array_kwarg(g, rec, "indices")
    g.node("Gather", [g.value(weight), idx], out, axis=0)


def _array_kwarg(g, rec, name):
    """The value name of an array keyword argument: the traced tensor it belongs to, or a constant when
    both traces agree on it."""
    a, b = rec.kwargs[name], g.recs_b[g.position].kwargs[name]
    if isinstance(a, np.ndarray) and id(a) in g.traced_a and isinstance(b, np.ndarray) and id(b) in g.traced_b:
        v = g.value(g.traced_a[id(a)])
        if a.dtype not in (np.int32, np.int64):
            v = g.node("Cast", [v], to=g.helper.np_dtype_to_tensor_dtype(np.dtype(np.int64)))
        return v
    if _same(a, b):
        return g.const(np.asarray(a), name)
    raise NotImplementedError(f"export: the argument {name!r} of {_where(rec)} changes with the input but is not "
                              "a traced tensor (it is computed outside deepnotes' primitives)")


# ONNX gate order from deepnotes'/torch's: LSTM (i, f, g, o) -> (i, o, f, c); GRU (r, z, n) -> (z, r, h)
_RNN_GATE_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "rnn_tanh": (0,), "rnn_relu": (0,)}


def _rnn_layer(g, rec, out):
    """deepnotes.ops.rnn.RNNLayerFn (one layer, one direction) as an ONNX LSTM/GRU/RNN node, with the
    packed output rebuilt: forward P = [h0, y_1..y_T, (c_T)], reverse P = [y_1..y_T, h0, (c_T)]."""
    kw = rec.kwargs
    mode, reverse, has_bias = kw["mode"], kw.get("reverse", False), kw.get("has_bias", True)
    lstm = mode == "lstm"
    ins = list(rec.inputs)
    x, h0 = ins[0], ins[1]
    c0 = ins[2] if lstm else None
    rest = ins[3:] if lstm else ins[2:]
    w_ih, w_hh = rest[0], rest[1]
    H = w_hh.shape[1]
    rows = np.concatenate([np.arange(k * H, (k + 1) * H) for k in _RNN_GATE_ORDER[mode]])
    perm = g.ints(rows, "gate_order")

    def weight(t):     # (G H, ...) -> gates reordered, with a leading num_directions axis of 1
        return g.unsqueeze(g.node("Gather", [g.value(t), perm], axis=0), [0])

    inputs = [g.value(x), weight(w_ih), weight(w_hh)]
    if has_bias:
        b = g.node("Concat", [g.node("Gather", [g.value(t), perm], axis=0) for t in rest[2:4]], axis=0)
        inputs.append(g.unsqueeze(b, [0]))
    else:
        inputs.append("")
    inputs += ["", g.unsqueeze(g.value(h0), [0])]
    if lstm:
        inputs.append(g.unsqueeze(g.value(c0), [0]))
    op_type = {"lstm": "LSTM", "gru": "GRU"}.get(mode, "RNN")
    attrs = {"hidden_size": int(H), "direction": "reverse" if reverse else "forward"}
    if mode == "gru":
        attrs["linear_before_reset"] = 1
    if mode in ("rnn_tanh", "rnn_relu"):
        attrs["activations"] = ["Tanh" if mode == "rnn_tanh" else "Relu"]
    results = g.node(op_type, inputs, n_out=3 if lstm else 2, **attrs)
    y = g.squeeze(results[0], [1])                          # (T, 1, B, H) -> (T, B, H)
    first = g.unsqueeze(g.value(h0), [0])
    parts = [y, first] if reverse else [first, y]
    if lstm:
        parts.append(results[2])                            # Y_c (1, B, H)
    g.node("Concat", parts, out, axis=0)


def _attn_softmax(g, rec, out):
    # softmax over the last axis; with safe=True a row whose scores are all -inf gives zeros
    x = rec.inputs[0]
    xv = g.value(x)
    axis = x.ndim - 1
    if not rec.kwargs.get("safe", True):
        g.node("Softmax", [xv], out, axis=axis)
        return
    y = g.node("Softmax", [xv], axis=axis)
    dead = g.node("IsInf", [g.reduce("ReduceMax", xv, [axis], True)], detect_positive=0)
    g.node("Where", [dead, g.scalar(0, x.data.dtype, "zero"), y], out)


for _names, _tr in ((("_AttnSoftmax",), _attn_softmax),
                    (("RNNLayerFn",), _rnn_layer),
                    (("AdaptiveMaxPool2dFn",), _adaptive_max_pool),
                    (("_EmbeddingFn",), _embedding),
                    (("ConvTranspose2dFn",), _conv_transpose),
                    (("Interp1dFn",), _interp1d),
                    (("LayerNormFn",), _layer_norm),
                    (("GroupNormFn",), _group_norm),
                    (("HardswishFn", "Hardswish", "HardSwish", "HardSwishFn"), _hardswish),
                    (("HardsigmoidFn", "Hardsigmoid", "HardSigmoid", "HardSigmoidFn"), _hardsigmoid),
                    (("ReLU6", "Relu6", "ReLU6Fn"), _relu6),
                    (("HardtanhFn", "Hardtanh"), _hardtanh),
                    (("SiLUFn", "SiLU", "Silu"), _silu),
                    (("SwishFn", "Swish"), _swish),
                    (("LeakyReLUFn", "LeakyReLU", "LeakyRelu"), _leaky_relu),
                    (("PReLUFn", "PReLU"), _prelu),
                    (("ELUFn", "ELU", "Elu"), _elu),
                    (("SoftplusFn", "Softplus"), _softplus),
                    (("GELUFn", "GELU", "Gelu"), _gelu)):
    for _n in _names:
        _BUILTIN_NAMES[_n] = _tr
        _VARYING_OK[_tr] = frozenset({"indices"} if _tr is _embedding else ())


def _translator(cls):
    fn = _TRANSLATORS.get(cls) or _BY_NAME.get(cls.__name__)
    if fn is None and cls.__module__.startswith("deepnotes."):
        fn = _BUILTIN_NAMES.get(cls.__name__)
    return fn


# ============================================================================ export
def _check_inputs(example_input):
    items = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    if not items:
        raise ValueError("export: example_input must hold at least one tensor")
    out = []
    for k, t in enumerate(items):
        if isinstance(t, Tensor):
            arr = t.data
        elif isinstance(t, np.ndarray):
            arr = t
        else:
            raise TypeError(f"export: example_input must be a Tensor, a NumPy array or a tuple of them, got "
                            f"{type(t).__name__}" + (f" at position {k}" if len(items) > 1 else ""))
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"export: example inputs must hold numbers, got dtype {arr.dtype}")
        out.append(np.array(arr))
    return out


def _names_arg(names, n, what, default_base):
    if isinstance(names, str):
        names = (names,)
    try:
        names = tuple(names)
    except TypeError:
        raise TypeError(f"export: {what} must be a sequence of strings, got {names!r}") from None
    if not all(isinstance(s, str) and s for s in names):
        raise TypeError(f"export: {what} must be non-empty strings, got {names!r}")
    if len(names) != n:
        if len(names) == 1 and n > 1:
            return tuple(f"{names[0]}_{k}" for k in range(n))
        raise ValueError(f"export: {what} names {len(names)} values, but the model has {n}")
    if len(set(names)) != len(names):
        raise ValueError(f"export: {what} must be distinct, got {names!r}")
    return names


def _perturbed(arrays, dynamic_batch, seed=12345):
    """Other inputs for the second trace: other values, and one more sample when the batch is dynamic."""
    rng = np.random.default_rng(seed)
    out = []
    for a in arrays:
        shape = list(a.shape)
        if dynamic_batch:
            shape[0] += 1
        if a.dtype.kind == "f":
            scale = float(np.std(a)) if a.size else 1.0
            centre = float(np.mean(a)) if a.size else 0.0
            b = rng.standard_normal(shape) * (scale if scale > 0 else 1.0) + centre
        elif a.dtype.kind in "iu":
            lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 1)
            b = rng.integers(lo, hi + 1, size=shape)
        else:
            b = rng.random(shape) < 0.5
        out.append(np.asarray(b).astype(a.dtype))
    return out


def _two_traces(model, arrays, dynamic_batch):
    inputs_a = _as_inputs(arrays)
    recs_a, outs_a = _trace(model, inputs_a)
    inputs_b = _as_inputs(_perturbed(arrays, dynamic_batch))
    try:
        recs_b, outs_b = _trace(model, inputs_b)
    except (ValueError, IndexError, RuntimeError) as exc:
        if not dynamic_batch:
            raise
        raise ValueError(f"export: dynamic_batch=True, but the model fails on a batch of another size "
                         f"({exc}); export with dynamic_batch=False") from exc
    return inputs_a, recs_a, outs_a, inputs_b, recs_b, outs_b


def _same_structure(recs_a, recs_b):
    return len(recs_a) == len(recs_b) and all(a.cls is b.cls for a, b in zip(recs_a, recs_b))


def _first_difference(recs_a, recs_b):
    k = next((i for i, (a, b) in enumerate(zip(recs_a, recs_b)) if a.cls is not b.cls),
             min(len(recs_a), len(recs_b)))
    first = _where(recs_a[k]) if k < len(recs_a) else "the end of the trace"
    other = _where(recs_b[k]) if k < len(recs_b) else "the end of the trace"
    return f"operation {k}: {first} vs {other}"


def _as_inputs(arrays):
    tensors = []
    for a in arrays:
        t = Tensor(a)
        if a.dtype.kind == "f":
            t.requires_grad_(True)
        tensors.append(t)
    return tensors


def _kwarg_arrays(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _kwarg_arrays(v)


def _reachable(records, outputs):
    """Indices of the records the outputs depend on (through inputs, and through index arrays that are
    the data of a traced result)."""
    made = {id(r.out): i for i, r in enumerate(records)}
    made_data = {id(r.out.data): i for i, r in enumerate(records)}
    need = set()
    stack = [made[id(o)] for o in outputs if id(o) in made]
    while stack:
        i = stack.pop()
        if i in need:
            continue
        need.add(i)
        deps = [made.get(id(t)) for t in records[i].inputs]
        deps += [made_data.get(id(a)) for v in records[i].kwargs.values() for a in _kwarg_arrays(v)]
        stack.extend(j for j in deps if j is not None and j not in need and j < i)
    return need


def _compare_traces(recs_a, recs_b, srcs_a, srcs_b, need, dynamic_batch):
    """Check that the second trace repeats the first; report what depends on the input."""
    hint = "; export with dynamic_batch=False" if dynamic_batch else ""
    sized = {}
    if not _same_structure(recs_a, recs_b):
        raise ValueError(f"export: the model runs different operations for different inputs"
                         f"{' (other values and another batch size)' if dynamic_batch else ''}: "
                         f"{_first_difference(recs_a, recs_b)}; data-dependent control flow cannot be "
                         f"exported{hint}")
    for i in sorted(need):
        a, b = recs_a[i], recs_b[i]
        fn = _translator(a.cls)
        ok = _VARYING_OK.get(fn, frozenset())
        for key in a.kwargs.keys() | b.kwargs.keys():
            if key in ok:
                continue
            if not _same(a.kwargs.get(key), b.kwargs.get(key)):
                raise ValueError(f"export: the static argument {key!r} of {_where(a)} changes with the input "
                                 f"({a.kwargs.get(key)!r} vs {b.kwargs.get(key)!r}); it would be frozen into "
                                 f"the graph{hint}")
        for j, (sa, sb) in enumerate(zip(srcs_a[i], srcs_b[i])):
            if sa[0] != sb[0] or (sa[0] != "const" and sa[1] != sb[1]):
                raise ValueError(f"export: input {j} of {_where(a)} comes from different operations for "
                                 f"different inputs; the graph depends on the data{hint}")
            if sa[0] == "const":
                if sa[1] is sb[1]:
                    continue
                da, db = sa[1].data, sb[1].data
                if da.shape != db.shape and da.ndim == db.ndim and da.dtype == db.dtype and da.size and \
                        db.size and (da == da.flat[0]).all() and (db == da.flat[0]).all():
                    # a filled tensor whose shape follows the batch (zeros(n, ...)): Expand of a scalar
                    sized[id(sa[1])] = db.shape
                    continue
                if da.shape != db.shape or da.dtype != db.dtype or \
                        not np.array_equal(da, db, equal_nan=da.dtype.kind == "f"):
                    raise NotImplementedError(
                        f"export: input {j} of {_where(a)} is computed from the model input outside "
                        "deepnotes' traced primitives (a comparison, argmax, floor/round, a NumPy round trip "
                        "or a tensor built from .data); it would be frozen into the graph as a constant")
    return sized


def export(model, example_input, path, input_names=("input",), output_names=("output",), opset_version=17,
           dynamic_batch=True):
    """Write ``model`` as an ONNX graph to ``path`` and return the ``onnx.ModelProto``.

    The model runs in evaluation mode on ``example_input`` (a Tensor/array, or a tuple of them for a
    model with several inputs) while every primitive call is traced; its training flags are restored
    afterwards.  Parameters and buffers become initializers named after their ``state_dict`` keys.
    ``dynamic_batch`` makes dim 0 of every input and output symbolic (``"batch"``).  The graph is checked
    with ``onnx.checker.check_model`` and written atomically.  Needs the ``onnx`` package.

    Raises ``TypeError`` for a model that is not a ``deepnotes.nn.Module`` or inputs that are not
    tensors, ``NotImplementedError`` for a primitive with no ONNX translation (naming the primitive and
    the module that called it; add one with :func:`register_op`) and ``ValueError`` for models whose
    operations or constants change with the input.
    """
    from .nn import Module
    if not isinstance(model, Module):
        raise TypeError(f"export: expected a deepnotes.nn.Module as the model, got {type(model).__name__}")
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"export: path must be a str or os.PathLike, got {type(path).__name__}")
    if isinstance(opset_version, bool) or not isinstance(opset_version, (int, np.integer)):
        raise TypeError(f"export: opset_version must be an int, got {opset_version!r}")
    if not isinstance(dynamic_batch, (bool, np.bool_)):
        raise TypeError(f"export: dynamic_batch must be a bool, got {dynamic_batch!r}")
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("export: the 'onnx' package is required (pip install onnx)") from exc
    top = onnx.defs.onnx_opset_version()
    if not _MIN_OPSET <= int(opset_version) <= top:
        raise ValueError(f"export: opset_version must be between {_MIN_OPSET} and {top}, got {opset_version}")
    opset = int(opset_version)
    arrays = _check_inputs(example_input)
    input_names = _names_arg(input_names, len(arrays), "input_names", "input")
    if dynamic_batch and any(a.ndim == 0 for a in arrays):
        raise ValueError("export: dynamic_batch=True needs inputs with a batch dimension, got a 0-d input")
    if dynamic_batch and len({a.shape[0] for a in arrays}) > 1:
        raise ValueError(f"export: dynamic_batch=True needs inputs with one batch size, got dim 0 sizes "
                         f"{[a.shape[0] for a in arrays]}")

    modes = [(m, m.training) for m in model.modules()]
    # parameters stop requiring grad while tracing: only the input's path records a graph, so layers
    # keep no weight-gradient buffers (im2col patches) alive; both flags are restored afterwards
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        inputs_a, recs_a, outs_a, inputs_b, recs_b, outs_b = _two_traces(model, arrays, dynamic_batch)
        if dynamic_batch and arrays[0].shape[0] == 1 and not _same_structure(recs_a, recs_b):
            # Tensor methods skip no-op calls (an expand or reshape to the shape a batch of one already
            # has), so a batch of one may trace fewer operations: trace batches of 2 and 3 instead
            arrays2 = [np.concatenate([a, p[:1]]) for a, p in zip(arrays, _perturbed(arrays, False, seed=7))]
            traced = _two_traces(model, arrays2, dynamic_batch)
            if _same_structure(traced[1], traced[4]):
                warnings.warn(
                    "export: the model runs different operations for a batch of one than for larger batches "
                    f"({_first_difference(recs_a, recs_b)}); the exported graph follows batches of 2 and "
                    "more. This is harmless for no-op shape calls skipped at batch size 1, but wrong for "
                    "code that branches on the batch size: check a batch of one, or export with "
                    "dynamic_batch=False", UserWarning, stacklevel=2)
                arrays = arrays2
                inputs_a, recs_a, outs_a, inputs_b, recs_b, outs_b = traced
    finally:
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad_(flag)
    output_names = _names_arg(output_names, len(outs_a), "output_names", "output")
    if set(output_names) & set(input_names):
        raise ValueError(f"export: input_names {input_names} and output_names {output_names} must not share a "
                         "name")
    if len(outs_b) != len(outs_a):
        raise ValueError("export: the model returns a different number of outputs for different inputs")

    srcs_a, made_a, ins_a = _sources(recs_a, inputs_a)
    srcs_b, made_b, ins_b = _sources(recs_b, inputs_b)
    need = _reachable(recs_a, outs_a)
    for i in sorted(need):
        rec = recs_a[i]
        if _translator(rec.cls) is None:
            raise NotImplementedError(
                f"export: the primitive {rec.cls.__module__}.{rec.cls.__qualname__} has no ONNX translation "
                f"(called in module {rec.module or '<root>'}); register one with deepnotes.onnx.register_op")
    sized = _compare_traces(recs_a, recs_b, srcs_a, srcs_b, need, bool(dynamic_batch))
    for k, (oa, ob) in enumerate(zip(outs_a, outs_b)):
        ka = ("op", made_a[id(oa)]) if id(oa) in made_a else ("in", ins_a[id(oa)]) if id(oa) in ins_a \
            else ("const", None)
        kb = ("op", made_b[id(ob)]) if id(ob) in made_b else ("in", ins_b[id(ob)]) if id(ob) in ins_b \
            else ("const", None)
        if ka != kb:
            raise ValueError(f"export: output {k} comes from different operations for different inputs")
        if ka[0] == "const" and (oa.shape != ob.shape or not np.array_equal(oa.data, ob.data)):
            raise NotImplementedError(f"export: output {k} is computed from the input outside deepnotes' "
                                      "traced primitives; it cannot be exported")

    named = {}
    for name, p in list(model.named_parameters()) + list(model.named_buffers()):
        named.setdefault(id(p.data if isinstance(p, Tensor) else p), name)
    batch = (arrays[0].shape[0], arrays[0].shape[0] + 1) if dynamic_batch else None
    # arrays of traced tensors (inputs and results), for indices taken from them (x[idx])
    traced_a = {id(t.data): t for t in list(inputs_a) + [r.out for r in recs_a]}
    traced_b = {id(t.data): t for t in list(inputs_b) + [r.out for r in recs_b]}
    g = _Graph(onnx, opset, recs_b, batch, named, sized, traced_a, traced_b)
    helper = onnx.helper

    graph_inputs = []
    for name, t in zip(input_names, inputs_a):
        g.used_names.add(name)
        g.names[id(t)] = name
        g.input_names.append(name)
        dims = list(t.shape)
        if dynamic_batch:
            dims[0] = "batch"
        graph_inputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(t.data.dtype), dims))
    # an output made by a traced call takes the output name directly; others go through Identity
    direct = {}
    for name, o in zip(output_names, outs_a):
        g.used_names.add(name)
        if id(o) in made_a and id(o) not in direct:
            direct[id(o)] = name

    for i, rec in enumerate(recs_a):
        if i not in need:
            continue
        fn = _translator(rec.cls)
        g.position = i
        g.scope = (rec.module or "<root>").split(" ")[0]
        out_name = direct.get(id(rec.out)) or g.unique(f"{g.scope}/{rec.cls.__name__}_{i}")
        fn(g, rec, out_name)
        g.names[id(rec.out)] = out_name

    graph_outputs = []
    for k, (name, oa, ob) in enumerate(zip(output_names, outs_a, outs_b)):
        if direct.get(id(oa)) != name:
            g.node("Identity", [g.value(oa)], name)
        dims = []
        for d, (da, db) in enumerate(zip(oa.shape, ob.shape)):
            dims.append(da if da == db else ("batch" if batch and (da, db) == batch else f"{name}_dim{d}"))
        graph_outputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(oa.data.dtype), dims))

    graph = helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs,
                              initializer=g.initializers)
    opset_ids = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opset_ids, producer_name="deepnotes",
                              ir_version=max(helper.find_min_ir_version_for(opset_ids), 7))
    if proto.ByteSize() > 2 ** 31 - 1:
        raise ValueError(f"export: the model needs {proto.ByteSize() / 2 ** 30:.1f} GiB, more than the 2 GiB a "
                         "single ONNX protobuf can hold")
    payload = proto.SerializeToString()
    onnx.checker.check_model(payload)
    atomic_write_bytes(path, payload)
    return proto
