"""deepnotes.compress.quantization against torch's quantize/fake-quantize functions and torch.ao's
observers, bit for bit."""

import warnings

import numpy as np
import pytest
import torch
from torch.ao.quantization import MinMaxObserver as TorchMinMax
from torch.ao.quantization import MovingAverageMinMaxObserver as TorchMovingAverage

import deepnotes as dn
from deepnotes.compress import quantization as q

TORCH_DTYPES = {"quint8": torch.quint8, "qint8": torch.qint8}
RANGES = {"quint8": (0, 255), "qint8": (-128, 127)}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notice for quantised tensors
        yield


def _inputs(seed, scale, shape=(10, 40)):
    """Random values plus exact ties x = (k + 1/2) * scale, where the rounding rule shows."""
    rng = np.random.default_rng(seed)
    ties = (np.arange(-150, 150) + 0.5) * scale
    rand = rng.normal(0, 40 * scale, size=int(np.prod(shape)) - ties.size)
    return np.concatenate([ties, rand]).astype(np.float32).reshape(shape)


@pytest.mark.parametrize("dtype", ["quint8", "qint8"])
@pytest.mark.parametrize(("scale", "zero_point"), [(0.25, 7), (0.1, 3), (0.5, 0), (0.037, -5), (2.0**-6, 1)])
def test_quantize_per_tensor_matches_torch_bit_for_bit(dtype, scale, zero_point):
    lo, hi = RANGES[dtype]
    zero_point = min(max(zero_point, lo), hi)
    x = _inputs(0, scale)
    ours = q.quantize_per_tensor(x, scale, zero_point, dtype)
    theirs = torch.quantize_per_tensor(torch.from_numpy(x), scale, zero_point, TORCH_DTYPES[dtype])
    assert ours.int_repr.dtype == theirs.int_repr().numpy().dtype
    np.testing.assert_array_equal(ours.int_repr, theirs.int_repr().numpy())
    np.testing.assert_array_equal(ours.dequantize().data, theirs.dequantize().numpy())
    assert ours.qscheme == "per_tensor_affine" and ours.scale == scale and ours.zero_point == zero_point


def test_rounding_is_half_to_even_after_adding_the_zero_point():
    # 0.5 * 4 + 7 = 9.5 -> 10 (even); rounding first then adding 7 would give 7 + 2 = 9 (x = 0.5)
    out = q.quantize_per_tensor(np.array([0.125, 0.375], np.float32), 0.25, 7, "quint8").int_repr
    ref = torch.quantize_per_tensor(torch.tensor([0.125, 0.375]), 0.25, 7, torch.quint8).int_repr().numpy()
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(out, [8, 8])


@pytest.mark.parametrize("dtype", ["quint8", "qint8"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_quantize_per_channel_matches_torch_bit_for_bit(dtype, axis):
    x = _inputs(1, 0.25, shape=(6, 5, 20))
    n = x.shape[axis]
    scales = np.resize([0.25, 0.1, 0.5, 0.03, 1.0, 2.0**-5, 0.07], n)
    zps = np.resize([7, 3, 0, -4, 1, 9, -1], n) + (0 if dtype == "qint8" else 100)
    ours = q.quantize_per_channel(x, scales, zps, axis, dtype)
    theirs = torch.quantize_per_channel(
        torch.from_numpy(x), torch.from_numpy(scales), torch.from_numpy(zps), axis % 3, TORCH_DTYPES[dtype]
    )
    np.testing.assert_array_equal(ours.int_repr, theirs.int_repr().numpy())
    np.testing.assert_array_equal(ours.dequantize().data, theirs.dequantize().numpy())
    assert ours.qscheme == "per_channel_affine" and ours.axis == axis % 3


@pytest.mark.parametrize(("quant_min", "quant_max"), [(0, 255), (-128, 127), (0, 15)])
@pytest.mark.parametrize(("scale", "zero_point"), [(0.25, 7), (0.1, 3), (0.05, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fake_quantize_per_tensor_forward_and_gradient_match_torch(quant_min, quant_max, scale, zero_point, dtype):
    x = _inputs(2, scale, shape=(9, 50)).astype(dtype)
    g = np.random.default_rng(3).normal(size=x.shape).astype(dtype)
    xt = torch.from_numpy(x).requires_grad_()
    ref = torch.fake_quantize_per_tensor_affine(xt, scale, zero_point, quant_min, quant_max)
    ref.backward(torch.from_numpy(g))
    ours_x = dn.tensor(x, requires_grad=True)
    out = q.fake_quantize_per_tensor_affine(ours_x, scale, zero_point, quant_min, quant_max)
    out.backward(dn.tensor(g))
    assert out.data.dtype == dtype == ref.detach().numpy().dtype
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    np.testing.assert_array_equal(ours_x.grad.data, xt.grad.numpy())
    assert np.any(ours_x.grad.data == 0) and np.any(ours_x.grad.data != 0)  # both regions are exercised


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize(("quant_min", "quant_max"), [(0, 255), (-128, 127)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fake_quantize_per_channel_forward_and_gradient_match_torch(axis, quant_min, quant_max, dtype):
    x = _inputs(4, 0.1, shape=(4, 6, 25)).astype(dtype)
    n = x.shape[axis]
    scales = np.array([0.1, 0.25, 0.05, 0.5, 0.01, 0.2], np.float32)[:n]
    zps = np.array([3, 7, 0, 1, 5, 2], np.int32)[:n] + (100 if quant_min == 0 else -2)
    g = np.random.default_rng(5).normal(size=x.shape).astype(dtype)
    xt = torch.from_numpy(x).requires_grad_()
    ref = torch.fake_quantize_per_channel_affine(
        xt, torch.from_numpy(scales), torch.from_numpy(zps), axis, quant_min, quant_max
    )
    ref.backward(torch.from_numpy(g))
    ours_x = dn.tensor(x, requires_grad=True)
    out = q.fake_quantize_per_channel_affine(ours_x, scales, zps, axis, quant_min, quant_max)
    out.backward(dn.tensor(g))
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    np.testing.assert_array_equal(ours_x.grad.data, xt.grad.numpy())
    assert np.any(ours_x.grad.data == 0) and np.any(ours_x.grad.data != 0)


def _observer_inputs():
    rng = np.random.default_rng(6)
    return {
        "mixed": [rng.normal(0.3, 2.0, size=(8, 16)).astype(np.float32) for _ in range(4)],
        "positive": [rng.uniform(0.5, 3.0, size=50).astype(np.float32) for _ in range(3)],
        "negative": [rng.uniform(-7.0, -0.1, size=50).astype(np.float32) for _ in range(3)],
        "zero-range": [np.full((5, 5), 1.5, np.float32), np.full(7, 1.5, np.float32)],
        "zeros": [np.zeros(10, np.float32)],
        "tiny": [rng.normal(0, 1e-9, size=30).astype(np.float32)],
    }


@pytest.mark.parametrize("case", list(_observer_inputs()))
@pytest.mark.parametrize("dtype", ["quint8", "qint8"])
@pytest.mark.parametrize("qscheme", ["per_tensor_affine", "per_tensor_symmetric"])
@pytest.mark.parametrize("moving", [False, True])
def test_observers_match_torch_ao(case, dtype, qscheme, moving):
    batches = _observer_inputs()[case]
    tq = getattr(torch, qscheme)
    if moving:
        ours = q.MovingAverageMinMaxObserver(averaging_constant=0.3, dtype=dtype, qscheme=qscheme)
        theirs = TorchMovingAverage(averaging_constant=0.3, dtype=TORCH_DTYPES[dtype], qscheme=tq)
    else:
        ours = q.MinMaxObserver(dtype=dtype, qscheme=qscheme)
        theirs = TorchMinMax(dtype=TORCH_DTYPES[dtype], qscheme=tq)
    for b in batches:
        ours(b)
        theirs(torch.from_numpy(b))
        assert ours.min_val == theirs.min_val.item() and ours.max_val == theirs.max_val.item()
        scale, zp = ours.calculate_qparams()
        tscale, tzp = theirs.calculate_qparams()
        np.testing.assert_array_equal(scale, tscale.numpy())
        np.testing.assert_array_equal(zp, tzp.numpy())
        assert scale.dtype == np.float32 and zp.dtype == np.int64


def test_observer_without_data_gives_torchs_defaults():
    with pytest.warns(UserWarning):
        tscale, tzp = TorchMinMax().calculate_qparams()
    scale, zp = q.MinMaxObserver().calculate_qparams()
    np.testing.assert_array_equal(scale, tscale.numpy())
    np.testing.assert_array_equal(zp, tzp.numpy())


def test_observer_qparams_quantise_their_data_within_half_a_step():
    x = np.random.default_rng(7).normal(size=(32, 8)).astype(np.float32)
    obs = q.MinMaxObserver(dtype="quint8")
    obs(dn.tensor(x))
    scale, zp = obs.calculate_qparams()
    back = q.quantize_per_tensor(x, float(scale[0]), int(zp[0]), "quint8").dequantize().data
    assert np.abs(back - x).max() <= scale[0] / 2 * (1 + 1e-5)


def test_nan_and_bad_arguments_give_clear_errors():
    x = np.array([1.0, np.nan], np.float32)
    with pytest.raises(ValueError, match="quantize_per_tensor: the input contains NaN"):
        q.quantize_per_tensor(x, 0.1, 0, "quint8")
    with pytest.raises(ValueError, match="quantize_per_channel: the input contains NaN"):
        q.quantize_per_channel(x.reshape(2, 1), [0.1, 0.1], [0, 0], 0, "qint8")
    with pytest.raises(ValueError, match="fake_quantize_per_tensor_affine: the input contains NaN"):
        q.fake_quantize_per_tensor_affine(dn.tensor(x), 0.1, 0, 0, 255)
    with pytest.raises(ValueError, match="MinMaxObserver.forward: the input contains NaN"):
        q.MinMaxObserver()(x)
    with pytest.raises(ValueError, match="quantize_per_tensor: scale must be finite and > 0"):
        q.quantize_per_tensor(np.ones(3), 0.0, 0, "quint8")
    with pytest.raises(ValueError, match=r"zero_point must be an int in \[-128, 127\]"):
        q.quantize_per_tensor(np.ones(3), 0.1, 200, "qint8")
    with pytest.raises(ValueError, match="dtype must be 'quint8' or 'qint8'"):
        q.quantize_per_tensor(np.ones(3), 0.1, 0, "int4")
    with pytest.raises(ValueError, match="expected 3 scales and zero points"):
        q.quantize_per_channel(np.ones((3, 2)), [0.1, 0.2], [0, 0], 0, "quint8")
    with pytest.raises(ValueError, match="qscheme must be"):
        q.MinMaxObserver(qscheme="per_channel_affine")


def test_numpy_dtypes_and_tensors_are_accepted():
    x = _inputs(8, 0.1)
    a = q.quantize_per_tensor(dn.tensor(x), 0.1, 3, np.int8)
    b = q.quantize_per_tensor(x, 0.1, 3, "qint8")
    np.testing.assert_array_equal(a.int_repr, b.int_repr)
    assert a.dtype == "qint8"


@pytest.mark.parametrize(
    ("dtype", "qscheme", "quant_min", "quant_max"),
    [
        ("quint8", "per_tensor_symmetric", 0, 127),
        ("quint8", "per_tensor_affine", 0, 15),
        ("qint8", "per_tensor_affine", -64, 63),
        ("qint8", "per_tensor_symmetric", -8, 7),
    ],
)
def test_observers_with_a_custom_range_match_torch_ao(dtype, qscheme, quant_min, quant_max):
    rng = np.random.default_rng(9)
    ours = q.MinMaxObserver(dtype=dtype, qscheme=qscheme, quant_min=quant_min, quant_max=quant_max)
    theirs = TorchMinMax(
        dtype=TORCH_DTYPES[dtype], qscheme=getattr(torch, qscheme), quant_min=quant_min, quant_max=quant_max
    )
    for _ in range(3):
        b = rng.normal(0.5, 2.0, size=40).astype(np.float32)
        ours(b)
        theirs(torch.from_numpy(b))
        scale, zp = ours.calculate_qparams()
        tscale, tzp = theirs.calculate_qparams()
        np.testing.assert_array_equal(scale, tscale.numpy())
        np.testing.assert_array_equal(zp, tzp.numpy().astype(np.int64))


def test_the_package_docstring_example_runs():
    import deepnotes.compress as package

    code = package.__doc__.split("Example::", 1)[1]
    namespace = {}
    exec(compile("\n".join(line[4:] for line in code.splitlines()), "compress-example", "exec"), namespace)
    assert namespace["err"] <= namespace["scale"][0] / 2 * (1 + 1e-5)
    assert not namespace["prune"].is_pruned(namespace["layer"])
