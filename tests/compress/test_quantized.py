"""Quantised Linear/Conv2d against torch.ao.nn.quantized (run here with the x86, fbgemm and qnnpack
engines) on the same int8 weights and the same scales/zero points; the integer accumulator against an
int64 product; the per-channel observer against torch.ao's."""

import warnings

import numpy as np
import pytest
import torch
import torch.ao.nn.quantized as nnq
from torch.ao.quantization import PerChannelMinMaxObserver as TorchPerChannel

import deepnotes as dn
from deepnotes.compress import quantization as q
from deepnotes.compress.quantized import QuantizedConv2d, QuantizedLinear, int_matmul

ENGINES = [e for e in ("x86", "fbgemm", "qnnpack") if e in torch.backends.quantized.supported_engines]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture
def engine(request):
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = request.param
    yield request.param
    torch.backends.quantized.engine = old


@pytest.mark.parametrize("backend", ["blas", "integer"])
@pytest.mark.parametrize("K", [7, 400, 700, 30000])
def test_int_matmul_is_the_exact_int32_accumulator(backend, K):
    rng = np.random.default_rng(K)
    M, N = (3, 2) if K == 30000 else (9, 5)
    a = rng.integers(0, 256, size=(M, K)).astype(np.uint8)
    b = rng.integers(-128, 128, size=(K, N)).astype(np.int8)
    a[0] = 255  # extreme rows: the largest accumulators, where float32 would round
    b[:, 0] = -128
    zb = rng.integers(-3, 4, size=N)
    ref = (a.astype(np.int64) - 3) @ (b.astype(np.int64) - zb)
    out = int_matmul(a, b, 3, zb, backend=backend)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, ref)


def test_int_matmul_refuses_what_an_int32_accumulator_cannot_hold():
    a = np.full((1, 70000), 255, np.uint8)
    with pytest.raises(OverflowError, match="beyond int32"):
        int_matmul(a, np.full((70000, 1), -128, np.int8))


def test_int_matmul_bad_input():
    with pytest.raises(TypeError, match="int_matmul: a must hold integers"):
        int_matmul(np.ones((2, 2)), np.ones((2, 2), np.int8))
    with pytest.raises(ValueError, match=r"int_matmul: expected a \(..., M, K\)"):
        int_matmul(np.ones((2, 3), np.int8), np.ones((2, 2), np.int8))
    with pytest.raises(ValueError, match="backend must be one of"):
        int_matmul(np.ones((2, 2), np.int8), np.ones((2, 2), np.int8), backend="avx")


def _weights(rng, shape):
    w = (rng.normal(size=shape) * 0.2).astype(np.float32)
    obs = q.PerChannelMinMaxObserver(0, "qint8", "per_channel_symmetric")
    obs(w)
    return w, obs.calculate_qparams()


def _torch_qweight(w, qparams):
    scales, zps = qparams
    return torch.quantize_per_channel(
        torch.from_numpy(w), torch.from_numpy(scales.astype(np.float64)), torch.from_numpy(zps), 0, torch.qint8
    )


def _compare(ours, theirs):
    """At most 1 LSB apart; almost all equal (the two round the same float32 value)."""
    diff = np.abs(ours.astype(np.int64) - theirs.astype(np.int64))
    assert diff.max() <= 1
    assert (diff == 0).mean() > 0.99


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
@pytest.mark.parametrize("backend", ["blas", "integer"])
@pytest.mark.parametrize("bias", [True, False])
def test_quantized_linear_matches_torch(engine, backend, bias):
    rng = np.random.default_rng(1)
    w, wq = _weights(rng, (24, 50))
    b = rng.normal(size=24).astype(np.float32)
    x = rng.normal(size=(40, 50)).astype(np.float32)
    # 7-bit activations (fbgemm's reduce_range) keep x86's int16 pair sums from saturating
    qx = q.quantize_per_tensor(x, 0.04, 61, "quint8")
    qx.int_repr[...] = np.minimum(qx.int_repr, 127)
    theirs = nnq.Linear(50, 24, bias_=bias)
    theirs.set_weight_bias(_torch_qweight(w, wq), torch.from_numpy(b) if bias else None)
    theirs.scale, theirs.zero_point = 0.09, 77
    tx = torch._make_per_tensor_quantized_tensor(torch.from_numpy(qx.int_repr), 0.04, 61)
    ref = theirs(tx)

    lin = dn.nn.Linear(50, 24, bias=bias)
    lin.weight.data[...] = w
    if bias:
        lin.bias.data[...] = b
    ours = QuantizedLinear.from_float(lin, wq, (0.04, 61), (0.09, 77), backend=backend)
    out = ours(qx)
    assert isinstance(out, q.QTensor) and out.scale == 0.09 and out.zero_point == 77
    np.testing.assert_array_equal(ours.weight.data, _torch_qweight(w, wq).int_repr().numpy())
    _compare(out.int_repr, ref.int_repr().numpy())


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
@pytest.mark.parametrize(
    ("cin", "cout", "k", "stride", "padding", "dilation", "groups"),
    [
        (3, 8, 3, 1, 1, 1, 1),
        (4, 6, 5, 2, 0, 1, 1),
        (6, 6, 3, 1, 2, 2, 2),
        (16, 32, 3, 2, 1, 1, 1),
        (8, 8, 3, 1, 1, 1, 8),
        (8, 12, 1, 2, 0, 1, 1),
        (6, 4, 1, 3, 0, 1, 2),
    ],
)
def test_quantized_conv2d_matches_torch(engine, cin, cout, k, stride, padding, dilation, groups):
    rng = np.random.default_rng(cin * 7 + cout)
    w, wq = _weights(rng, (cout, cin // groups, k, k))
    b = rng.normal(size=cout).astype(np.float32)
    x = rng.normal(size=(2, cin, 11, 10)).astype(np.float32)
    qx = q.quantize_per_tensor(x, 0.03, 64, "quint8")
    qx.int_repr[...] = np.minimum(qx.int_repr, 127)
    theirs = nnq.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation, groups=groups)
    theirs.set_weight_bias(_torch_qweight(w, wq), torch.from_numpy(b))
    theirs.scale, theirs.zero_point = 0.05, 100
    tx = torch._make_per_tensor_quantized_tensor(torch.from_numpy(qx.int_repr), 0.03, 64)
    ref = theirs(tx).int_repr().numpy()

    conv = dn.nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation, groups=groups)
    conv.weight.data[...] = w
    conv.bias.data[...] = b
    for backend in ("blas", "integer"):
        ours = QuantizedConv2d.from_float(conv, wq, (0.03, 64), (0.05, 100), backend=backend)
        out = ours(qx)
        assert out.shape == ref.shape
        _compare(out.int_repr, ref)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_float_path_is_the_dequantised_arithmetic(kind):
    """Float in, float out: y = dequant(quant(x)) * dequant(w) + b, checked in float64 with torch."""
    rng = np.random.default_rng(5)
    if kind == "linear":
        layer, x = dn.nn.Linear(30, 12), rng.normal(size=(8, 30)).astype(np.float32)
    else:
        layer, x = dn.nn.Conv2d(3, 5, 3, padding=1, stride=2), rng.normal(size=(2, 3, 9, 9)).astype(np.float32)
    obs = q.PerChannelMinMaxObserver()
    obs(layer.weight.data)
    cls = QuantizedLinear if kind == "linear" else QuantizedConv2d
    ql = cls.from_float(layer, obs.calculate_qparams(), (0.02, 128))
    out = ql(dn.tensor(x))
    assert isinstance(out, dn.Tensor) and out.dtype == np.float32
    xd = torch.quantize_per_tensor(torch.from_numpy(x), 0.02, 128, torch.quint8).dequantize().double()
    wd = torch.from_numpy(ql.dequantized_weight().data).double()
    bd = torch.from_numpy(layer.bias.data).double()
    if kind == "linear":
        ref = torch.nn.functional.linear(xd, wd, bd)
    else:
        ref = torch.nn.functional.conv2d(xd, wd, bd, stride=2, padding=1)
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-5, atol=1e-5)
    # and the weights really are int8 with a per-channel scale
    assert ql.weight.data.dtype == np.int8 and ql.weight_scale.data.shape == (layer.weight.data.shape[0],)


@pytest.mark.parametrize(
    ("dtype", "qscheme"),
    [
        ("qint8", "per_channel_symmetric"),
        ("qint8", "per_channel_affine"),
        ("quint8", "per_channel_symmetric"),
        ("quint8", "per_channel_affine"),
    ],
)
@pytest.mark.parametrize("axis", [0, 1])
def test_per_channel_observer_matches_torch(dtype, qscheme, axis):
    rng = np.random.default_rng(3)
    ours = q.PerChannelMinMaxObserver(axis, dtype, qscheme)
    tdt = {"qint8": torch.qint8, "quint8": torch.quint8}[dtype]
    theirs = TorchPerChannel(ch_axis=axis, dtype=tdt, qscheme=getattr(torch, qscheme))
    for i in range(3):
        x = (rng.normal(size=(6, 5, 4)) * (i + 1) + (i - 1)).astype(np.float32)
        x[1] = np.abs(x[1])  # a channel with no negative values (the range still includes 0)
        ours(x)
        theirs(torch.from_numpy(x))
    s, z = ours.calculate_qparams()
    ts, tz = theirs.calculate_qparams()
    np.testing.assert_array_equal(s, ts.numpy())
    np.testing.assert_array_equal(z, tz.numpy())


def test_bad_inputs_are_named():
    ql = QuantizedLinear(4, 3)
    with pytest.raises(TypeError, match="QuantizedLinear.forward: expected a Tensor or a quint8 QTensor"):
        ql(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"QuantizedLinear.forward: expected input \(..., 4\)"):
        ql(dn.ones(2, 5))
    with pytest.raises(ValueError, match="Quantized(Linear|Conv2d).forward: the input contains NaN"):
        ql(dn.tensor(np.array([[np.nan, 0, 0, 0]], np.float32)))
    with pytest.raises(ValueError, match="set_qparams: expected a scale > 0"):
        ql.set_qparams((0.0, 3))
    qc = QuantizedConv2d(3, 4, 3)
    with pytest.raises(TypeError, match="QuantizedConv2d.forward: expected a Tensor or a quint8 QTensor, got list"):
        qc([[1.0]])
    with pytest.raises(ValueError, match=r"QuantizedConv2d.forward: expected input \(N, 3, H, W\)"):
        qc(dn.ones(1, 2, 5, 5))
    with pytest.raises(ValueError, match="PerChannelMinMaxObserver: qscheme must be"):
        q.PerChannelMinMaxObserver(qscheme="per_tensor_affine")
