"""Model complexity: parameter counts, multiply-accumulates (MACs) and FLOPs per layer (seed 001).

Seed 001's formulas, for a convolution with C_i input and C_o output channels, a K x K kernel and an
H x W output (``groups`` g divides C_i; a depthwise convolution has g = C_i):

    params               = C_i / g * K^2 * C_o (+ C_o with a bias)
    MACs                 = C_i / g * K^2 * H * W * C_o          (one multiply-accumulate = one MAC)
    FLOPs (without bias) = (2 * C_i / g * K^2 - 1) * H * W * C_o  (n products need n - 1 additions)
    FLOPs (with bias)    = 2 * C_i / g * K^2 * H * W * C_o        (the bias is the n-th addition)

and for a fully connected layer I -> O: params = I * O + O, MACs = I * O, FLOPs = (2I - 1) O without
bias, 2 I O with it.  Batch norm has 2 C parameters (gamma, beta).

Every row of :func:`profile` carries ``macs``, ``flops`` (the layer as it is: the with-bias formula
when it has a bias, the without-bias one when it has none) and ``flops_no_bias`` (seed 001's
without-bias formula whatever the layer has).  ``torch.utils.flop_counter.FlopCounterMode`` reports
2 * MACs for convolutions and matrix products, i.e. the with-bias formula.

Counting rules for the other layers (conventions; none of them count as MACs):

    max pooling          k_h k_w - 1 comparisons per output
    average pooling      k_h k_w per output (k_h k_w - 1 additions and one division); adaptive
                         pooling uses each bin's own size
    batch norm (eval)    2 per element (running statistics folded into one scale and one shift)
    group/layer/instance norm   6 per element (+2 with an affine transform): statistics and scaling
    activations          1 per element (ReLU, sigmoid, tanh, ReLU6, h-swish, SiLU, LeNet's scaled tanh, ...)
    LeNet-5's layers     C3 (connection table) as a convolution over its connections only;
                         subsampling as the equivalent depthwise k x k convolution; the RBF output
                         I MACs and 3I - 1 FLOPs per unit.  MACs + bias additions = the notes'
                         "connections" (C1 122,304; S2 5,880; C3 151,600; S4 2,000)
    softmax, log-softmax 3 per element (exponential, sum, division)
    flatten, identity, dropout (evaluation)   0

A leaf module with no rule counts 0 and is listed in ``Profile.uncounted_types``.  Add rules with
:func:`register_cost_rule`, keyed by class or by class name (so a rule can be written before its
layer exists).  Element-wise arithmetic written in a container's ``forward`` (the residual addition of
a ResNet block) is not a module call and is not counted, as in FlopCounterMode.
"""

from __future__ import annotations

import re
from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np

from ..autograd import no_grad
from ..nn.modules.module import Module
from ..tensor import Tensor, get_default_dtype
from . import _rules
from .rf_rules import INPUT_RF, collapse, propagate
from .table import format_profile

__all__ = [
    "LayerCost",
    "LayerProfile",
    "ParameterRow",
    "ParameterTable",
    "Profile",
    "count_parameters",
    "cost_rule_for",
    "parameter_table",
    "parse_input_size",
    "profile",
    "register_cost_rule",
]

LayerCost = namedtuple("LayerCost", ["macs", "flops", "bias_flops"])
LayerCost.__doc__ = """Cost of one layer call: ``macs``, ``flops`` (including the bias additions) and
``bias_flops`` (the bias additions alone; ``flops - bias_flops`` is seed 001's without-bias count)."""


# ------------------------------------------------------------------------------------- parameters
def _check_model(model, name):
    if not isinstance(model, Module):
        raise TypeError(f"{name}: expected a deepnotes.nn.Module, got {type(model).__name__}")


def count_parameters(model, trainable_only=False):
    """Number of scalar parameters of ``model`` (shared parameters once); ``trainable_only`` keeps those
    with ``requires_grad``.  Buffers (batch-norm running statistics) are not parameters."""
    _check_model(model, "count_parameters")
    return int(sum(p.data.size for p in model.parameters() if not trainable_only or p.requires_grad))


ParameterRow = namedtuple("ParameterRow", ["name", "type", "shapes", "params", "trainable"])
ParameterRow.__doc__ = """One module's own parameters: ``shapes`` maps parameter name to shape;
``params`` and ``trainable`` are scalar counts."""


class ParameterTable(list):
    """A list of :class:`ParameterRow`; ``str()`` gives an aligned table with the total."""

    @property
    def total(self):
        return sum(r.params for r in self)

    @property
    def trainable(self):
        return sum(r.trainable for r in self)

    def __str__(self):
        head = ("Layer", "Type", "Shapes", "Param #")
        body = [
            (r.name or "(root)", r.type, ", ".join(f"{k} {tuple(v)}" for k, v in r.shapes.items()), f"{r.params:,}")
            for r in self
        ]
        foot = ("Total", "", "", f"{self.total:,}")
        widths = [max(len(row[i]) for row in [head, foot] + body) for i in range(4)]

        def fmt(row):
            return "  ".join(c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

        rule = "-" * len(fmt(tuple("x" * w for w in widths)))
        return "\n".join([fmt(head), rule] + [fmt(r) for r in body] + [rule, fmt(foot)])


def parameter_table(model):
    """Per-module parameter counts: one :class:`ParameterRow` for every module that owns parameters
    directly (a shared parameter is listed once, under its first owner)."""
    _check_model(model, "parameter_table")
    seen = set()
    rows = ParameterTable()
    for name, mod in model.named_modules():
        shapes, params, trainable = {}, 0, 0
        for pname, p in mod.named_parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            shapes[pname] = tuple(p.shape)
            params += int(p.data.size)
            trainable += int(p.data.size) if p.requires_grad else 0
        if shapes:
            rows.append(ParameterRow(name, type(mod).__name__, shapes, params, trainable))
    return rows


# ------------------------------------------------------------------------------------- input sizes
def parse_input_size(value, name="parse_input_size"):
    """``"3x224x224"``, ``"3,224,224"``, ``(3, 224, 224)`` or ``784`` -> a tuple of positive ints."""
    if isinstance(value, str):
        text = value.strip().strip("()[]").strip()
        parts = re.split(r"\s*[xX×,]\s*|\s+", text)
        if not all(re.fullmatch(r"[0-9]+", p) for p in parts):
            raise ValueError(
                f"{name}: expected an input size such as 3x224x224 (positive integers separated by 'x'), got {value!r}"
            )
        sizes = tuple(int(p) for p in parts)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        sizes = (int(value),)
    elif isinstance(value, (tuple, list)):
        for v in value:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name}: input size entries must be ints, got {value!r}")
        sizes = tuple(int(v) for v in value)
        if not sizes:
            raise ValueError(f"{name}: expected a non-empty input size such as (3, 224, 224), got {value!r}")
    else:
        raise TypeError(
            f"{name}: expected an input size such as (3, 224, 224) or '3x224x224', got {type(value).__name__}"
        )
    if min(sizes) < 1:
        raise ValueError(f"{name}: input sizes must be positive, got {value!r}")
    return sizes


def _check_batch(batch_size, name):
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{name}: batch_size must be a positive int, got {batch_size!r}")
    return int(batch_size)


def _model_dtype(model):
    for p in model.parameters():
        if p.data.dtype.kind == "f":
            return p.data.dtype
    return np.dtype(get_default_dtype())


def make_input(model, input_size, batch_size=1, name="profile", seed=0):
    """A standard-normal input of shape (batch_size, *input_size) in the model's parameter dtype, drawn
    from a private generator (the global random state is left alone)."""
    sizes = parse_input_size(input_size, name)
    batch_size = _check_batch(batch_size, name)
    shape = (batch_size,) + sizes
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(shape).astype(_model_dtype(model)))


class _EvalMode:
    """Evaluation mode for the duration of a ``with`` block; every module's own flag is restored."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.flags = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        return self

    def __exit__(self, *exc):
        for m, flag in self.flags:
            object.__setattr__(m, "training", flag)
        return False


# ------------------------------------------------------------------------------------- cost rules
_COST_RULES = {}


def register_cost_rule(*keys):
    """Decorator registering ``rule(module, inputs, output) -> LayerCost`` for module classes or class
    names.  ``inputs`` is the tuple of positional arguments of the call.  Lookup walks the class
    hierarchy (a subclass inherits its parent's rule); a module with a rule is counted as one unit and
    its children are not visited."""
    return _rules.register(_COST_RULES, keys)


def cost_rule_for(module):
    """The cost rule for ``module`` (by class, then class name, along the MRO), or None."""
    return _rules.lookup(_COST_RULES, module)


def _tensors(obj):
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def _first(obj):
    ts = _tensors(obj)
    return ts[0] if ts else None


def _numel(t):
    return int(t.data.size) if t is not None else 0


def _pair(v):
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _has_bias(m):
    return getattr(m, "bias", None) is not None


@register_cost_rule("Conv2d", "Conv1d", "Conv3d")
def _conv_cost(m, inputs, output):
    """MACs = outputs * C_i/g * prod(kernel); FLOPs = outputs * (2n - 1) (+ outputs for the bias)."""
    out = _numel(_first(output))
    ks = m.kernel_size if isinstance(m.kernel_size, (tuple, list)) else (m.kernel_size,)
    n = m.in_channels // m.groups * int(np.prod(ks))
    bias = out if _has_bias(m) else 0
    return LayerCost(out * n, out * (2 * n - 1) + bias, bias)


@register_cost_rule("Linear")
def _linear_cost(m, inputs, output):
    """MACs = outputs * I; FLOPs = outputs * (2I - 1) (+ outputs for the bias)."""
    out = _numel(_first(output))
    n = m.in_features
    bias = out if _has_bias(m) else 0
    return LayerCost(out * n, out * max(2 * n - 1, 0) + bias, bias)


@register_cost_rule("ConnectionTableConv2d")
def _table_conv_cost(m, inputs, output):
    """LeNet-5's C3: output map o sums only its fan_in(o) connected input maps, so MACs = P * sum_o
    fan_in(o) * kh * kw = P * connections * kh * kw for P outputs per map; FLOPs as a convolution."""
    out = _numel(_first(output))
    per_map = out // m.out_channels
    kh, kw = m.kernel_size
    macs = per_map * int(m.connection_table.sum()) * kh * kw
    bias = out if _has_bias(m) else 0
    return LayerCost(macs, 2 * macs - out + bias, bias)


@register_cost_rule("Subsampling")
def _subsampling_cost(m, inputs, output):
    """LeNet-5's S2/S4, y = w_c * (sum of a k x k window) + b_c, counted as the equivalent depthwise
    k x k convolution whose kernel is w_c everywhere: k^2 MACs per output, plus the bias.  MACs + bias
    additions is then the notes' connection count (S2: 6 * 5 * 14 * 14 = 5,880)."""
    out = _numel(_first(output))
    n = m.kernel_size * m.kernel_size
    return LayerCost(out * n, out * (2 * n - 1) + out, out)


@register_cost_rule("EuclideanRBF")
def _rbf_cost(m, inputs, output):
    """y_i = sum_j (x_j - w_ij)^2: per output, I subtractions and I multiply-accumulates, so
    MACs = outputs * I and FLOPs = outputs * (3I - 1)."""
    out = _numel(_first(output))
    n = m.in_features
    return LayerCost(out * n, out * max(3 * n - 1, 0), 0)


@register_cost_rule("ConvTranspose2d", "ConvTranspose1d")
def _conv_transpose_cost(m, inputs, output):
    """Every input element is scattered through C_o/g * prod(kernel) weights: MACs = inputs * that;
    FLOPs = 2 MACs (+ outputs for the bias)."""
    inp = _numel(_first(inputs))
    ks = m.kernel_size if isinstance(m.kernel_size, (tuple, list)) else (m.kernel_size,)
    macs = inp * (m.out_channels // m.groups) * int(np.prod(ks))
    bias = _numel(_first(output)) if _has_bias(m) else 0
    return LayerCost(macs, 2 * macs + bias, bias)


@register_cost_rule("MaxPool2d")
def _maxpool_cost(m, inputs, output):
    kh, kw = _pair(m.kernel_size)
    return LayerCost(0, _numel(_first(output)) * (kh * kw - 1), 0)


@register_cost_rule("AvgPool2d")
def _avgpool_cost(m, inputs, output):
    kh, kw = _pair(m.kernel_size)
    return LayerCost(0, _numel(_first(output)) * kh * kw, 0)


def _bin_lengths(n, o):
    i = np.arange(o)
    return -(-((i + 1) * n) // o) - (i * n) // o


def _adaptive_window_total(inputs, output):
    """Sum of the adaptive bins' areas over all outputs: N * C * sum(bin_h) * sum(bin_w)."""
    x, y = _first(inputs), _first(output)
    (H, W), (oh, ow) = x.shape[-2:], y.shape[-2:]
    planes = _numel(y) // (oh * ow)
    return planes * int(_bin_lengths(H, oh).sum()) * int(_bin_lengths(W, ow).sum()), _numel(y)


@register_cost_rule("AdaptiveAvgPool2d")
def _adaptive_avg_cost(m, inputs, output):
    total, _ = _adaptive_window_total(inputs, output)
    return LayerCost(0, total, 0)


@register_cost_rule("AdaptiveMaxPool2d")
def _adaptive_max_cost(m, inputs, output):
    total, out = _adaptive_window_total(inputs, output)
    return LayerCost(0, total - out, 0)


@register_cost_rule("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm")
def _batchnorm_cost(m, inputs, output):
    return LayerCost(0, 2 * _numel(_first(output)), 0)


@register_cost_rule("GroupNorm", "LayerNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm")
def _runtime_norm_cost(m, inputs, output):
    per = 6 + (2 if getattr(m, "weight", None) is not None else 0)
    return LayerCost(0, per * _numel(_first(output)), 0)


_ELEMENTWISE = (
    "ReLU",
    "Sigmoid",
    "Tanh",
    "ReLU6",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "SELU",
    "CELU",
    "GELU",
    "SiLU",
    "Swish",
    "Mish",
    "Hardswish",
    "Hardsigmoid",
    "HardSwish",
    "HardSigmoid",
    "Hardtanh",
    "Softplus",
    "Softsign",
    "Threshold",
    "LogSigmoid",
    "ScaledTanh",
    "Hardshrink",
)


@register_cost_rule(*_ELEMENTWISE)
def _elementwise_cost(m, inputs, output):
    return LayerCost(0, _numel(_first(output)), 0)


@register_cost_rule("Softmax", "LogSoftmax", "Softmin", "Softmax2d")
def _softmax_cost(m, inputs, output):
    return LayerCost(0, 3 * _numel(_first(output)), 0)


@register_cost_rule(
    "Flatten",
    "Unflatten",
    "Identity",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "AlphaDropout",
    "DropConnect",
    "DropPath",
    "ZeroPad2d",
    "ConstantPad2d",
)
def _free_cost(m, inputs, output):
    return LayerCost(0, 0, 0)


# ------------------------------------------------------------------------------------- profile
@dataclass
class LayerProfile:
    """One module call.  For a leaf (``leaf=True``: no children, or a module with a cost rule) the
    numbers are its own; for a container they total its sub-tree (plus its own direct parameters).
    ``params`` count a module's parameters at its first call only (a shared layer called twice shows
    its parameters once, its MACs twice).  ``receptive_field``/``jump``/``start`` are (h, w) pairs or
    ``None`` (see :mod:`deepnotes.analysis.receptive_field`)."""

    name: str
    type: str
    depth: int
    leaf: bool
    input_shape: tuple | None = None
    output_shape: tuple | list | None = None
    params: int = 0
    trainable_params: int = 0
    macs: int = 0
    flops: int = 0
    flops_no_bias: int = 0
    receptive_field: tuple | None = None
    jump: tuple | None = None
    start: tuple | None = None
    counted: bool = True
    output_bytes: int = 0
    parent: int | None = field(default=None, repr=False)

    @property
    def label(self):
        return f"{self.name} ({self.type})" if self.name else self.type


@dataclass
class Profile:
    """Result of :func:`profile`.

    ``rows``: the leaf layer calls in execution order; ``calls``: every module call (containers too,
    parents before children).  Totals: ``params`` (all parameters of the model, shared ones once),
    ``trainable_params``, ``macs``, ``flops``, ``flops_no_bias`` (sums over ``rows``).  Sizes in bytes:
    ``input_bytes``, ``params_bytes``, ``forward_bytes`` (all leaf outputs).
    """

    model: str
    input_shape: tuple
    output_shape: object
    rows: list
    calls: list
    params: int
    trainable_params: int
    macs: int
    flops: int
    flops_no_bias: int
    input_bytes: int
    params_bytes: int
    forward_bytes: int

    @property
    def non_trainable_params(self):
        return self.params - self.trainable_params

    @property
    def uncounted_types(self):
        """Leaf module types that had no cost rule (counted as 0)."""
        return sorted({r.type for r in self.rows if not r.counted})

    def __getitem__(self, name):
        """The first call of the module named ``name`` (dotted path; ``""`` is the model)."""
        for r in self.calls:
            if r.name == name:
                return r
        raise KeyError(
            f"Profile: no module named {name!r} was called (leaf layers: "
            f"{', '.join(r.name for r in self.rows[:12])}{', ...' if len(self.rows) > 12 else ''})"
        )

    def by_type(self):
        """{type name: LayerCost-like totals} over the leaf rows: macs, flops and call count."""
        out = {}
        for r in self.rows:
            d = out.setdefault(r.type, {"calls": 0, "params": 0, "macs": 0, "flops": 0})
            d["calls"] += 1
            d["params"] += r.params
            d["macs"] += r.macs
            d["flops"] += r.flops
        return out

    def table(self, depth=None, receptive_field=True):
        """The torchinfo-style summary text (see :func:`deepnotes.analysis.summary`)."""
        return format_profile(self, depth=depth, receptive_field=receptive_field)

    def __str__(self):
        return self.table()


def _shape_of(obj):
    if isinstance(obj, Tensor):
        return tuple(obj.shape)
    ts = _tensors(obj)
    if not ts:
        return None
    return [tuple(t.shape) for t in ts]


def _same_kind(err, msg):
    try:
        new = type(err)(msg)
        if str(new) == msg:
            return new
    except Exception:  # noqa: BLE001 - exotic constructors: fall back to RuntimeError
        pass
    return RuntimeError(msg)


class _Tracer:
    """Hooks every module (not below a leaf), records each call and follows receptive fields."""

    def __init__(self, model, caller):
        self.model, self.caller = model, caller
        self.names, self.leaves = {}, set()
        self.handles, self.calls, self.stack = [], [], []
        self.rf = {}  # id(tensor) -> (tensor, RFInfo or None)
        self.order = []  # (tensor, info) in production order
        self.params_seen = set()
        self._walk("", model)

    def _walk(self, name, module):
        if id(module) in self.names:
            return
        self.names[id(module)] = name
        leaf = cost_rule_for(module) is not None or next(iter(module.children()), None) is None
        if leaf:
            self.leaves.add(id(module))
        self.handles.append(module.register_forward_pre_hook(self._pre))
        self.handles.append(module.register_forward_hook(self._post))
        if not leaf:
            for child_name, child in module.named_children():
                self._walk(f"{name}.{child_name}" if name else child_name, child)

    def _record(self, t, info):
        self.rf[id(t)] = (t, info)
        self.order.append((t, info))

    def _lookup(self, x):
        if x is None:
            return None
        hit = self.rf.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        if x.ndim == 4:  # made outside any module: the union of same-size fields seen so far
            best = None
            for t, info in self.order:
                if info is not None and info.jump is not None and t.ndim == 4 and t.shape[2:] == x.shape[2:]:
                    if best is None or sum(info.size) >= sum(best.size):
                        best = info
            return best
        if self.order:  # a flat tensor made outside any module sees all of the latest map
            t, info = self.order[-1]
            if info is None or info.jump is None:
                return info
            return collapse(info, t.shape)
        return None

    def _pre(self, module, inputs):
        x = _first(inputs)
        rec = LayerProfile(
            name=self.names[id(module)],
            type=type(module).__name__,
            depth=len(self.stack),
            leaf=id(module) in self.leaves,
            input_shape=tuple(x.shape) if x is not None else None,
            parent=self.stack[-1] if self.stack else None,
        )
        self.calls.append(rec)
        self.stack.append(len(self.calls) - 1)

    def _post(self, module, inputs, output):
        rec = self.calls[self.stack.pop()]
        outs = _tensors(output)
        rec.output_shape = _shape_of(output)
        rec.output_bytes = int(sum(t.data.nbytes for t in outs))
        first_call = id(module) not in self.params_seen
        self.params_seen.add(id(module))
        if rec.leaf:
            rule = cost_rule_for(module)
            cost = rule(module, inputs, output) if rule is not None else LayerCost(0, 0, 0)
            rec.counted = rule is not None
            rec.macs, rec.flops = int(cost.macs), int(cost.flops)
            rec.flops_no_bias = int(cost.flops - cost.bias_flops)
            params = list(module.parameters()) if first_call else []
            x = _first(inputs)
            info = propagate(
                module,
                self._lookup(x),
                tuple(x.shape) if x is not None else None,
                tuple(outs[0].shape) if outs else None,
            )
        else:
            params = list(module.parameters(recurse=False)) if first_call else []
            info = self._lookup(outs[0]) if outs else None
        rec.params = int(sum(p.data.size for p in params))
        rec.trainable_params = int(sum(p.data.size for p in params if p.requires_grad))
        for t in outs:
            self._record(t, info)
        if info is not None:
            rec.receptive_field, rec.jump, rec.start = info

    def run(self, x):
        if x.ndim == 4:
            self._record(x, INPUT_RF)
        try:
            with no_grad(), _EvalMode(self.model):
                return self.model(x)
        except MemoryError:
            raise
        except Exception as err:
            if not self.stack:
                raise
            rec = self.calls[self.stack[-1]]
            shape = f" on input of shape {rec.input_shape}" if rec.input_shape is not None else ""
            where = rec.label if rec.name else f"{rec.type} (the model's own forward)"
            msg = (
                f"{self.caller}: forward pass of {type(self.model).__name__} with input {tuple(x.shape)} "
                f"failed at {where}{shape}: {err}"
            )
            raise _same_kind(err, msg) from err
        finally:
            for h in self.handles:
                h.remove()

    def aggregate(self):
        for rec in reversed(self.calls):
            if rec.parent is not None:
                parent = self.calls[rec.parent]
                for attr in ("params", "trainable_params", "macs", "flops", "flops_no_bias"):
                    setattr(parent, attr, getattr(parent, attr) + getattr(rec, attr))
                parent.counted = parent.counted and rec.counted


def profile(model, input_size=None, batch_size=1, *, input_data=None, _caller="profile"):
    """Run ``model`` once on a (batch_size, *input_size) input and count every layer.

    ``input_size`` excludes the batch: (3, 224, 224), ``"3x224x224"`` or (784,).  ``input_data`` (a
    Tensor) replaces the generated standard-normal input.  The pass runs under ``no_grad`` in
    evaluation mode (batch-norm statistics are not updated; every module's mode is restored after).
    Returns a :class:`Profile`; rows carry name, type, output shape, parameters, MACs, FLOPs (with and
    without bias, seed 001) and receptive field.  A failing forward pass is re-raised naming the
    module where it failed, e.g. ``features.5 (MaxPool2d)``.
    """
    _check_model(model, _caller)
    if input_data is not None:
        if not isinstance(input_data, Tensor):
            raise TypeError(f"{_caller}: input_data must be a deepnotes Tensor, got {type(input_data).__name__}")
        x = input_data
    else:
        if input_size is None:
            raise ValueError(f"{_caller}: give input_size (e.g. (3, 224, 224)) or input_data")
        x = make_input(model, input_size, batch_size, _caller)
    tracer = _Tracer(model, _caller)
    out = tracer.run(x)
    tracer.aggregate()
    rows = [r for r in tracer.calls if r.leaf]
    params = list(model.parameters())
    return Profile(
        model=type(model).__name__,
        input_shape=tuple(x.shape),
        output_shape=_shape_of(out),
        rows=rows,
        calls=tracer.calls,
        params=count_parameters(model),
        trainable_params=count_parameters(model, trainable_only=True),
        macs=sum(r.macs for r in rows),
        flops=sum(r.flops for r in rows),
        flops_no_bias=sum(r.flops_no_bias for r in rows),
        input_bytes=int(x.data.nbytes),
        params_bytes=int(sum(p.data.nbytes for p in params)),
        forward_bytes=sum(r.output_bytes for r in rows),
    )
