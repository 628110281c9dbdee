"""Every primitive in the ONNX translation registry exports, runs in onnxruntime and matches deepnotes.

The cases are parametrised over ``deepnotes.onnx.registry.translations()`` itself, not over a hand list:
each registered primitive needs an entry in ``_CASES`` (a small model, preferably the deepnotes layer
that calls it, and its input), and a registered primitive without one fails.  Each case also proves it
exercises its primitive, by tracing the model and finding that primitive among the recorded calls.

The oracle is onnxruntime running the exported graph, compared with deepnotes' forward pass on the same
float32 input, exported at batch 2 and run at batch 3 (the batch dimension is dynamic).
"""

import numpy as np
import onnxruntime as ort
import pytest

import deepnotes as dn
from deepnotes import nn
from deepnotes.autograd import Function
from deepnotes.nn import functional as F
from deepnotes.onnx import export, register_op, registry
from deepnotes.onnx.tracing import as_inputs, trace
from deepnotes.ops import reduction as R

RTOL, ATOL = 1e-5, 1e-5


class Lambda(nn.Module):
    """A model whose forward is ``fn(self, *inputs)``, holding optional parameters ``p0, p1, ...`` made
    from ``arrays`` (so they become initializers, not traced inputs)."""

    def __init__(self, fn, *arrays):
        super().__init__()
        self.fn = fn
        for k, a in enumerate(arrays):
            setattr(self, f"p{k}", nn.Parameter(np.asarray(a, dtype=np.float32)))

    def forward(self, *inputs):
        return self.fn(self, *inputs)


def _r(*shape, seed=0, low=None, high=None):
    rng = np.random.default_rng(seed)
    if low is not None:
        return rng.uniform(low, high, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def _batchnorm():
    m = nn.BatchNorm2d(3)
    m.running_mean.data[...] = _r(3, seed=1)
    m.running_var.data[...] = _r(3, seed=2, low=0.5, high=2.0)
    m.weight.data[...] = _r(3, seed=3, low=0.5, high=1.5)
    m.bias.data[...] = _r(3, seed=4)
    return m


class _LastOutput(nn.Module):
    """A recurrent layer's output sequence (the layer returns (output, state))."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)[0]


class _SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.att = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        return self.att(x, x, x)[0]


_IMG, _SEQ, _VEC = (3, 5, 6), (4, 8), (4,)  # per-sample input shapes (the batch is added)

# registered primitive (class name, or the name it is registered under) -> (model factory, sample shape,
# input dtype).  Layers of deepnotes.nn where one calls the primitive, else the Tensor method or the
# primitive itself.
_CASES = {
    # arithmetic
    "Add": (lambda: Lambda(lambda m, x: x + m.p0, _r(*_IMG)), _IMG, np.float32),
    "Sub": (lambda: Lambda(lambda m, x: m.p0 - x, _r(*_IMG)), _IMG, np.float32),
    "Mul": (lambda: Lambda(lambda m, x: x * m.p0, _r(*_IMG)), _IMG, np.float32),
    "Div": (lambda: Lambda(lambda m, x: x / m.p0, _r(*_IMG, low=0.5, high=2.0)), _IMG, np.float32),
    "Pow": (lambda: Lambda(lambda m, x: m.p0**x, _r(*_IMG, low=0.5, high=2.0)), _IMG, np.float32),
    "Neg": (lambda: Lambda(lambda m, x: -x), _IMG, np.float32),
    "MatMul": (lambda: Lambda(lambda m, x: x @ m.p0, _r(6, 4)), _IMG, np.float32),
    # element-wise
    "Exp": (lambda: Lambda(lambda m, x: x.exp()), _IMG, np.float32),
    "Log": (lambda: Lambda(lambda m, x: (x * x + 0.5).log()), _IMG, np.float32),
    "Sqrt": (lambda: Lambda(lambda m, x: (x * x + 0.5).sqrt()), _IMG, np.float32),
    "Abs": (lambda: Lambda(lambda m, x: x.abs()), _IMG, np.float32),
    "Sin": (lambda: Lambda(lambda m, x: dn.sin(x)), _IMG, np.float32),
    "Cos": (lambda: Lambda(lambda m, x: dn.cos(x)), _IMG, np.float32),
    "Atan": (lambda: Lambda(lambda m, x: dn.atan(x)), _IMG, np.float32),
    "Maximum": (lambda: Lambda(lambda m, x: dn.maximum(x, m.p0), _r(*_IMG)), _IMG, np.float32),
    "Minimum": (lambda: Lambda(lambda m, x: dn.minimum(x, m.p0), _r(*_IMG)), _IMG, np.float32),
    "Where": (
        lambda: Lambda(lambda m, x: dn.where(dn.Tensor(_r(*_IMG, seed=5) > 0), x, m.p0), _r(*_IMG)),
        _IMG,
        np.float32,
    ),
    "Clamp": (lambda: Lambda(lambda m, x: x.clamp(-0.5, 0.7)), _IMG, np.float32),
    "_Cast": (lambda: Lambda(lambda m, x: x.to(dn.float64)), _IMG, np.float32),
    # activations
    "ReLU": (lambda: nn.ReLU(), _IMG, np.float32),
    "Sigmoid": (lambda: nn.Sigmoid(), _IMG, np.float32),
    "Tanh": (lambda: nn.Tanh(), _IMG, np.float32),
    "Softmax": (lambda: nn.Softmax(dim=1), _IMG, np.float32),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=1), _IMG, np.float32),
    "HardswishFn": (lambda: nn.Hardswish(), _IMG, np.float32),
    "HardsigmoidFn": (lambda: nn.Hardsigmoid(), _IMG, np.float32),
    "HardtanhFn": (lambda: nn.Hardtanh(-2.0, 1.5), _IMG, np.float32),
    "HardshrinkFn": (lambda: nn.Hardshrink(0.3), _IMG, np.float32),
    "SiLUFn": (lambda: nn.SiLU(), _IMG, np.float32),
    "SwishFn": (lambda: nn.Swish(1.7, learnable=True), _IMG, np.float32),
    "LeakyReLUFn": (lambda: nn.LeakyReLU(0.2), _IMG, np.float32),
    "PReLUFn": (lambda: nn.PReLU(3), _IMG, np.float32),
    "ELUFn": (lambda: nn.SELU(), _IMG, np.float32),
    "SoftplusFn": (lambda: nn.Softplus(2.0, 3.0), _IMG, np.float32),
    "GELUFn": (lambda: nn.GELU(), _IMG, np.float32),
    # layers with weights
    "LinearFn": (lambda: nn.Linear(8, 3), _SEQ, np.float32),
    "Conv2dFn": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), _IMG, np.float32),
    "ConvTranspose2dFn": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), _IMG, np.float32),
    "BatchNormFn": (_batchnorm, _IMG, np.float32),
    "LayerNormFn": (lambda: nn.LayerNorm(6), _IMG, np.float32),
    "GroupNormFn": (lambda: nn.GroupNorm(1, 3), _IMG, np.float32),
    # pooling
    "MaxPool2dFn": (lambda: nn.MaxPool2d(3, stride=2, padding=1), _IMG, np.float32),
    "AvgPool2dFn": (lambda: nn.AvgPool2d(3, stride=2, padding=1), _IMG, np.float32),
    "AdaptiveAvg1dFn": (lambda: nn.AdaptiveAvgPool2d((2, 4)), _IMG, np.float32),
    "AdaptiveMaxPool2dFn": (lambda: nn.AdaptiveMaxPool2d((2, 4)), _IMG, np.float32),
    # reductions
    "Sum": (lambda: Lambda(lambda m, x: x.sum(dim=1)), _IMG, np.float32),
    "Mean": (lambda: Lambda(lambda m, x: x.mean(dim=(1, 3))), _IMG, np.float32),
    "AMax": (lambda: Lambda(lambda m, x: x.amax(dim=2)), _IMG, np.float32),
    "AMin": (lambda: Lambda(lambda m, x: x.amin(dim=2)), _IMG, np.float32),
    "Prod": (lambda: Lambda(lambda m, x: x.prod(dim=1)), _IMG, np.float32),
    "Var": (lambda: Lambda(lambda m, x: x.var(dim=(2, 3))), _IMG, np.float32),
    "MaxDim": (lambda: Lambda(lambda m, x: R.MaxDim.apply(x, dim=1, keepdim=False)), _IMG, np.float32),
    "MinDim": (lambda: Lambda(lambda m, x: R.MinDim.apply(x, dim=3, keepdim=True)), _IMG, np.float32),
    "SelectDim": (lambda: Lambda(lambda m, x: x.max(dim=2)[0]), _IMG, np.float32),
    # shapes
    "Clone": (lambda: Lambda(lambda m, x: x.clone()), _IMG, np.float32),
    "Reshape": (lambda: nn.Flatten(), _IMG, np.float32),
    "Expand": (lambda: Lambda(lambda m, x: x[:, :1].expand(-1, 4, -1, -1)), _IMG, np.float32),
    "Permute": (lambda: Lambda(lambda m, x: x.permute(0, 3, 1, 2)), _IMG, np.float32),
    "Cat": (lambda: Lambda(lambda m, x: dn.cat([x, x * m.p0], dim=2), _r(*_IMG)), _IMG, np.float32),
    "Stack": (lambda: Lambda(lambda m, x: dn.stack([x, m.p0 - x], dim=1), _r(*_IMG)), _IMG, np.float32),
    "Pad": (lambda: Lambda(lambda m, x: F.pad(x, (1, 2, 0, 1), mode="reflect")), _IMG, np.float32),
    # indexing
    "GetItem": (lambda: Lambda(lambda m, x: x[:, 1:, ::2, [0, 5, 2]]), _IMG, np.float32),
    "_EmbeddingFn": (lambda: nn.Embedding(10, 4), (5,), np.int64),
    # resampling, recurrence, attention
    "Interp1dFn": (lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), _IMG, np.float32),
    "RNNLayerFn": (lambda: _LastOutput(nn.LSTM(8, 5, batch_first=True)), _SEQ, np.float32),
    "_AttnSoftmax": (lambda: _SelfAttention(), (5, 8), np.float32),
    # losses
    "_BinaryCrossEntropy": (
        lambda: Lambda(lambda m, x: F.binary_cross_entropy(x.sigmoid(), (x * 3).sigmoid(), reduction="none")),
        _IMG,
        np.float32,
    ),
    "BCEWithLogitsFn": (
        lambda: Lambda(
            lambda m, x: F.binary_cross_entropy_with_logits(  # overflow-safe form
                x * 30, (x * 2).sigmoid(), reduction="none"
            )
        ),
        _IMG,
        np.float32,
    ),
    "_XLogX": (lambda: Lambda(lambda m, x: F.kl_div(m.p0, x.relu(), reduction="none"), _r(*_IMG)), _IMG, np.float32),
}


def _label(entry):
    return entry.key if isinstance(entry.key, str) else entry.key.__name__


def _registered():
    return [pytest.param(e, id=_label(e)) for e in registry.translations()]


def _inputs(shape, dtype, batch, seed):
    rng = np.random.default_rng(seed)
    if dtype == np.int64:
        return rng.integers(0, 10, size=(batch,) + shape)
    return rng.standard_normal((batch,) + shape).astype(dtype)


def _forward(model, x):
    with dn.no_grad():
        return model(dn.Tensor(x)).data


def test_registry_labels_are_unique_and_every_case_is_registered():
    labels = [_label(e) for e in registry.translations()]
    assert len(labels) == len(set(labels)), "two registrations share a label; qualify the table keys"
    stale = set(_CASES) - set(labels)
    assert not stale, f"cases for primitives that are not registered (renamed?): {sorted(stale)}"


@pytest.mark.parametrize("entry", _registered())
def test_every_registered_primitive_exports(tmp_path, entry):
    label = _label(entry)
    if label not in _CASES:
        pytest.fail(
            f"the primitive {label!r} has an ONNX translation but no case in _CASES of "
            f"{__name__}; add a small model that calls it"
        )
    factory, shape, dtype = _CASES[label]
    model = factory()
    model.eval()
    x = _inputs(shape, dtype, 2, seed=10)

    # the case really runs the registered primitive
    records, _ = trace(model, as_inputs([x]))
    called = {r.cls.__name__ for r in records}
    assert any(entry.matches(r.cls) for r in records), (
        f"the case for {label} does not call it (it calls {sorted(called)})"
    )
    assert all(registry.lookup(r.cls) is not None for r in records)

    path = tmp_path / f"{label}.onnx"
    export(model, x, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, seed in ((2, 11), (3, 12)):
        xr = _inputs(shape, dtype, batch, seed)
        got = session.run(None, {session.get_inputs()[0].name: xr})[0]
        want = _forward(model, xr)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------------------------- errors, registry
class _Untranslated(Function):
    def forward(self, a):
        return a * 2


class UntranslatedLayer(nn.Module):
    def forward(self, x):
        return _Untranslated.apply(x)


def test_a_layer_without_translation_names_its_primitive_and_module_type(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3), UntranslatedLayer())
    with pytest.raises(NotImplementedError) as info:
        export(model, _inputs((3,), np.float32, 1, 0), tmp_path / "m.onnx")
    msg = str(info.value)
    assert f"{__name__}._Untranslated has no ONNX translation" in msg
    assert "1 (UntranslatedLayer)" in msg and "register_op" in msg
    assert not (tmp_path / "m.onnx").exists()


@pytest.fixture
def restored_registry():
    by_class, by_name = dict(registry._BY_CLASS), {k: list(v) for k, v in registry._BY_NAME.items()}
    yield
    registry._BY_CLASS.clear()
    registry._BY_CLASS.update(by_class)
    registry._BY_NAME.clear()
    registry._BY_NAME.update(by_name)


def test_register_op_checks_its_arguments(restored_registry):
    with pytest.raises(TypeError, match="register_op: expected a Function subclass or its name"):
        register_op(nn.Linear, lambda g, rec, out: None)
    with pytest.raises(TypeError, match="translator must be callable"):
        register_op(_Untranslated, 3)
    with pytest.raises(ValueError, match="module_prefix applies to a registration by class name"):
        register_op(_Untranslated, lambda g, rec, out: None, module_prefix="deepnotes.")
    with pytest.raises(ValueError, match="must not be empty"):
        register_op("", lambda g, rec, out: None)
    assert registry.lookup(_Untranslated) is None


def test_lookup_by_class_then_by_name_latest_first(restored_registry):
    def by_name(g, rec, out):
        pass

    def by_prefix(g, rec, out):
        pass

    def by_class(g, rec, out):
        pass

    register_op("_Untranslated", by_name)
    assert registry.lookup(_Untranslated).fn is by_name
    register_op("_Untranslated", by_prefix, module_prefix="somewhere.else")
    assert registry.lookup(_Untranslated).fn is by_name  # the prefix does not match this module
    register_op("_Untranslated", by_prefix, module_prefix=__name__.split(".")[0])
    assert registry.lookup(_Untranslated).fn is by_prefix  # the most recent matching name wins
    register_op(_Untranslated, by_class, varying_kwargs="shape")
    entry = registry.lookup(_Untranslated)
    assert entry.fn is by_class and entry.varying == frozenset({"shape"})  # the class comes first


# ------------------------------------------------------------------------------------- every nn layer type
# Every public Module type of deepnotes.nn, found by introspection: a factory and its inputs, each input
# (per-sample shape, kind) with kind "x" (normal floats), "p" (probabilities in (0, 1)), "b" (0/1 floats)
# or an int k (class indices in [0, k)).  A new layer type without an entry here fails.
class _Cell(nn.Module):
    """A recurrent cell over one input step, from the zero state."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x):
        return self.cell(x)


class _OnSigmoid(nn.Module):
    """A loss on probabilities, given logits."""

    def __init__(self, loss):
        super().__init__()
        self.loss = loss

    def forward(self, x, t):
        return self.loss(x.sigmoid(), t)


class _Attend(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, q, k, v):
        return self.layer(q, k, v)


_X = "x"
_LAYERS = {
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d((2, 4)), [(_IMG, _X)]),
    "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d((2, 4)), [(_IMG, _X)]),
    "AdditiveAttention": (lambda: _Attend(nn.AdditiveAttention(8, 6, 5)), [((3, 8), _X), ((4, 6), _X), ((4, 7), _X)]),
    "AvgPool2d": (lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), [(_IMG, _X)]),
    "BCELoss": (lambda: _OnSigmoid(nn.BCELoss()), [(_VEC, _X), (_VEC, "p")]),
    "BCEWithLogitsLoss": (lambda: nn.BCEWithLogitsLoss(), [(_VEC, _X), (_VEC, "p")]),
    "BalancedCrossEntropyLoss": (lambda: nn.BalancedCrossEntropyLoss(alpha=0.3), [(_VEC, _X), (_VEC, "b")]),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(4), [(_SEQ, _X)]),
    "BatchNorm2d": (_batchnorm, [(_IMG, _X)]),
    # outside a multi-rank job, and in evaluation, SyncBatchNorm is BatchNorm (exported as one)
    "SyncBatchNorm": (lambda: nn.SyncBatchNorm.convert_sync_batchnorm(_batchnorm()), [(_IMG, _X)]),
    "CELU": (lambda: nn.CELU(0.5), [(_IMG, _X)]),
    "Conv1d": (lambda: nn.Conv1d(4, 2, 3, padding=1), [(_SEQ, _X)]),
    "Conv2d": (lambda: nn.Conv2d(3, 4, 3, padding=1, groups=1, dilation=2), [(_IMG, _X)]),
    "ConvTranspose1d": (lambda: nn.ConvTranspose1d(4, 2, 3, stride=2), [(_SEQ, _X)]),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2), [(_IMG, _X)]),
    "DropConnect": (lambda: nn.DropConnect(nn.Linear(8, 3), 0.3), [(_SEQ, _X)]),
    "Dropout": (lambda: nn.Dropout(0.5), [(_IMG, _X)]),
    "Dropout1d": (lambda: nn.Dropout1d(0.5), [(_SEQ, _X)]),
    "Dropout2d": (lambda: nn.Dropout2d(0.5), [(_IMG, _X)]),
    "ELU": (lambda: nn.ELU(0.7), [(_IMG, _X)]),
    "Embedding": (lambda: nn.Embedding(10, 4, padding_idx=0), [((5,), 10)]),
    "Flatten": (lambda: nn.Flatten(), [(_IMG, _X)]),
    "GELU": (lambda: nn.GELU(approximate="tanh"), [(_IMG, _X)]),
    "GRU": (lambda: nn.GRU(8, 5, batch_first=True), [(_SEQ, _X)]),
    "GRUCell": (lambda: _Cell(nn.GRUCell(8, 5)), [((8,), _X)]),
    "GlobalAvgPool2d": (lambda: nn.GlobalAvgPool2d(), [(_IMG, _X)]),
    "GroupNorm": (lambda: nn.GroupNorm(1, 3), [(_IMG, _X)]),
    "Hardsigmoid": (lambda: nn.Hardsigmoid(), [(_IMG, _X)]),
    "Hardswish": (lambda: nn.Hardswish(), [(_IMG, _X)]),
    "Hardtanh": (lambda: nn.Hardtanh(-0.5, 0.5), [(_IMG, _X)]),
    "Hardshrink": (lambda: nn.Hardshrink(0.7), [(_IMG, _X)]),
    "Identity": (lambda: nn.Identity(), [(_IMG, _X)]),
    "InstanceNorm1d": (lambda: nn.InstanceNorm1d(4, affine=True), [(_SEQ, _X)]),
    "InstanceNorm2d": (lambda: nn.InstanceNorm2d(3), [(_IMG, _X)]),
    "KLDivLoss": (lambda: nn.KLDivLoss(reduction="sum"), [(_VEC, _X), (_VEC, "p")]),
    "L1Loss": (lambda: nn.L1Loss(), [(_VEC, _X), (_VEC, _X)]),
    "LSTM": (lambda: _LastOutput(nn.LSTM(8, 5, num_layers=2, bidirectional=True, batch_first=True)), [(_SEQ, _X)]),
    "LSTMCell": (lambda: _Cell(nn.LSTMCell(8, 5)), [((8,), _X)]),
    "LayerNorm": (lambda: nn.LayerNorm((5, 6)), [(_IMG, _X)]),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.1), [(_IMG, _X)]),
    "Linear": (lambda: nn.Linear(8, 3), [((8,), _X)]),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=-1), [(_IMG, _X)]),
    "MSELoss": (lambda: nn.MSELoss(reduction="sum"), [(_VEC, _X), (_VEC, _X)]),
    "MaxPool2d": (lambda: nn.MaxPool2d(2, ceil_mode=True), [(_IMG, _X)]),
    "Maxout": (lambda: nn.Maxout(2), [(_SEQ, _X)]),
    "MultiheadAttention": (
        lambda: _Attend(nn.MultiheadAttention(8, 2, batch_first=True)),
        [((5, 8), _X), ((5, 8), _X), ((5, 8), _X)],
    ),
    "PReLU": (lambda: nn.PReLU(), [(_IMG, _X)]),
    "RNN": (lambda: _LastOutput(nn.RNN(8, 5, nonlinearity="relu", batch_first=True)), [(_SEQ, _X)]),
    "RNNBase": (lambda: _LastOutput(nn.RNNBase("GRU", 8, 5, bias=False, batch_first=True)), [(_SEQ, _X)]),
    "RNNCell": (lambda: _Cell(nn.RNNCell(8, 5)), [((8,), _X)]),
    "ReLU": (lambda: nn.ReLU(), [(_IMG, _X)]),
    "ReLU6": (lambda: nn.ReLU6(), [(_IMG, _X)]),
    "SELU": (lambda: nn.SELU(), [(_IMG, _X)]),
    "Sequential": (lambda: nn.Sequential(nn.Linear(8, 3), nn.ReLU()), [(_SEQ, _X)]),
    "SiLU": (lambda: nn.SiLU(), [(_IMG, _X)]),
    "Sigmoid": (lambda: nn.Sigmoid(), [(_IMG, _X)]),
    "SigmoidFocalLoss": (lambda: nn.SigmoidFocalLoss(), [(_VEC, _X), (_VEC, "b")]),
    "Softmax": (lambda: nn.Softmax(dim=1), [(_IMG, _X)]),
    "Softmax2d": (lambda: nn.Softmax2d(), [(_IMG, _X)]),
    "Softplus": (lambda: nn.Softplus(), [(_IMG, _X)]),
    "SpatialPyramidPooling": (lambda: nn.SpatialPyramidPooling((1, 2, 3), "avg"), [(_IMG, _X)]),
    "Swish": (lambda: nn.Swish(), [(_IMG, _X)]),
    "Tanh": (lambda: nn.Tanh(), [(_IMG, _X)]),
    "Upsample": (lambda: nn.Upsample(size=(7, 9), mode="bicubic", align_corners=True), [(_IMG, _X)]),
    "UpsamplingBilinear2d": (lambda: nn.UpsamplingBilinear2d(scale_factor=2), [(_IMG, _X)]),
    "UpsamplingNearest2d": (lambda: nn.UpsamplingNearest2d(scale_factor=2), [(_IMG, _X)]),
}
# types with no forward of their own: bases and containers that only hold layers
_NO_FORWARD = {"Module", "ModuleList", "ModuleDict", "RNNCellBase"}
# types whose forward computes values from the input outside the traced primitives, so export reports
# them (the class-index losses prepare their indices and weights in NumPy, the Huber-type losses choose
# their branch by a NumPy comparison); the message must name the layer type
_CLASS_TARGETS = [((5,), _X), ((), 5)]
_NOT_EXPORTABLE = {
    "CrossEntropyLoss": (lambda: nn.CrossEntropyLoss(), _CLASS_TARGETS, "_PickNLL"),
    "NLLLoss": (lambda: nn.NLLLoss(), _CLASS_TARGETS, "_PickNLL"),
    "SoftmaxFocalLoss": (lambda: nn.SoftmaxFocalLoss(), _CLASS_TARGETS, "_PickNLL"),
    "HuberLoss": (lambda: nn.HuberLoss(delta=0.5), [(_VEC, _X), (_VEC, _X)], "outside deepnotes' traced"),
    "SmoothL1Loss": (lambda: nn.SmoothL1Loss(beta=0.5), [(_VEC, _X), (_VEC, _X)], "outside deepnotes' traced"),
}


def _layer_types():
    return sorted(n for n in dir(nn) if isinstance(getattr(nn, n), type) and issubclass(getattr(nn, n), nn.Module))


def _layer_inputs(specs, batch, seed):
    rng = np.random.default_rng(seed)
    out = []
    for shape, kind in specs:
        full = (batch,) + tuple(shape)
        if isinstance(kind, int):
            out.append(rng.integers(0, kind, size=full))
        elif kind == "p":
            out.append(rng.uniform(0.05, 0.95, full).astype(np.float32))
        elif kind == "b":
            out.append((rng.random(full) < 0.3).astype(np.float32))
        else:
            out.append(rng.standard_normal(full).astype(np.float32))
    return out


def test_layer_table_names_only_existing_types():
    types = set(_layer_types())
    listed = [set(_LAYERS), _NO_FORWARD, set(_NOT_EXPORTABLE)]
    assert not set().union(*listed) - types, "entries for types deepnotes.nn no longer has"
    assert sum(len(s) for s in listed) == len(set().union(*listed)), "a type is listed twice"


@pytest.mark.parametrize("name", _layer_types())
def test_every_nn_layer_type_exports(tmp_path, name):
    if name in _NO_FORWARD:
        with pytest.raises(NotImplementedError, match="does not define forward"):
            getattr(nn, name).forward(object(), dn.zeros(1))
        return
    if name in _NOT_EXPORTABLE:
        factory, specs, match = _NOT_EXPORTABLE[name]
        with pytest.raises(NotImplementedError, match=match) as info:
            export(factory(), tuple(_layer_inputs(specs, 2, 20)), tmp_path / "no.onnx", input_names=("a", "b"))
        assert f"({name})" in str(info.value)
        assert not (tmp_path / "no.onnx").exists()
        return
    if name not in _LAYERS:
        pytest.fail(
            f"deepnotes.nn.{name} has no case in _LAYERS of {__name__}; add a small instance and "
            "its inputs (or, for a type with no forward, list it in _NO_FORWARD)"
        )
    factory, specs = _LAYERS[name]
    model = factory()
    assert any(isinstance(m, getattr(nn, name)) for m in model.modules())
    model.eval()
    path = tmp_path / f"{name}.onnx"
    export(model, tuple(_layer_inputs(specs, 2, 20)), path, input_names=tuple(f"in{k}" for k in range(len(specs))))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, seed in ((2, 21), (3, 22)):
        xs = _layer_inputs(specs, batch, seed)
        got = session.run(None, {f"in{k}": x for k, x in enumerate(xs)})
        with dn.no_grad():
            want = model(*[dn.Tensor(x) for x in xs])
        want = [w.data for w in (want if isinstance(want, (tuple, list)) else (want,))]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)
