"""Post-training int8 quantisation of the digits LeNet-5: prepare/calibrate/convert, calibration equal to
torch.ao's MinMaxObserver, the converted model equal to the dequantised arithmetic computed with torch,
at most 1 point of test accuracy lost, int8 weights on disk (safetensors) a quarter of float32's."""

import os
import warnings

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits
from torch.ao.quantization import MinMaxObserver as TorchMinMax

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes.compress import post_training as pt
from deepnotes.compress.quantized import QuantizedConv2d, QuantizedLinear
from deepnotes.data.datasets import Digits


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def digits():
    tr, te = Digits(train=True, size=32), Digits(train=False, size=32)
    return tr.images, tr.targets, te.images, te.targets


def _train(name, digits, epochs=4, seed=0):
    with threadpool_limits(1):  # small matrices: one BLAS thread is several times faster here
        return _train_loop(name, digits, epochs, seed)


def _train_loop(name, digits, epochs, seed):
    xtr, ytr, _, _ = digits
    dn.manual_seed(seed)
    model = dn.models.get_model(name)
    opt = dn.optim.Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        model.train()
        for idx in np.array_split(rng.permutation(len(xtr)), len(xtr) // 32):
            loss = F.cross_entropy(model(dn.tensor(xtr[idx])), dn.tensor(ytr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def trained(digits):
    return {name: _train(name, digits) for name in ("lenet5", "lenet5_modern")}


def _accuracy(model, x, y):
    with dn.no_grad():
        return float((model(dn.tensor(x)).numpy().argmax(1) == y).mean())


def _calibration(digits, n=512, batch=128):
    x = digits[0]
    return [(x[i : i + batch], None) for i in range(0, n, batch)]


@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern"])
def test_int8_lenet_loses_at_most_one_point(trained, digits, name):
    model = trained[name]
    _, _, xte, yte = digits
    qmodel = pt.quantize(model, _calibration(digits))
    before, after = _accuracy(model, xte, yte), _accuracy(qmodel, xte, yte)
    assert before > 0.9  # a trained network, or the comparison says nothing
    assert before - after <= 0.01, (before, after)
    kinds = [type(m) for m in qmodel.modules()]
    n_quant = sum(k in (QuantizedLinear, QuantizedConv2d) for k in kinds)
    assert n_quant == (5 if name == "lenet5_modern" else 4)  # classic: c1, c3 (table), c5, f6; RBF stays float
    assert not pt.is_prepared(model)  # the float model is untouched


def test_calibration_equals_torch_minmax_observer(trained, digits):
    model = trained["lenet5_modern"]
    prepared = pt.prepare(model)
    batches = _calibration(digits)
    pt.calibrate(prepared, batches)
    ref_in, ref_out = TorchMinMax(dtype=torch.quint8), TorchMinMax(dtype=torch.quint8)
    first = model.features[0]
    for x, _ in batches:
        ref_in(torch.from_numpy(x))
        with dn.no_grad():
            ref_out(torch.from_numpy(first(dn.tensor(x)).numpy()))
    conv = prepared.features[0]
    for ours, theirs in ((conv.input_observer, ref_in), (conv.activation_post_process, ref_out)):
        s, z = ours.calculate_qparams()
        ts, tz = theirs.calculate_qparams()
        np.testing.assert_array_equal(s, ts.numpy())
        np.testing.assert_array_equal(z, tz.numpy())


def test_converted_model_is_the_dequantised_arithmetic(trained, digits):
    """Each quantised layer of the converted model, on the input it received: the input quantised with
    the layer's qparams (torch.quantize_per_tensor) times the per-channel dequantised weight
    (torch.quantize_per_channel), plus the bias, in float64."""
    model = trained["lenet5"]  # the classic network: its C3 connection table becomes a dense int8 kernel
    qmodel = pt.quantize(model, _calibration(digits))
    floats = dict(model.named_modules())
    seen = []
    for name, m in qmodel.named_modules():
        if isinstance(m, (QuantizedConv2d, QuantizedLinear)):
            m.register_forward_hook(lambda mod, args, out, name=name: seen.append((name, mod, args[0], out)))
    with dn.no_grad():
        qmodel(dn.tensor(digits[2][:64]))
    assert [s[0] for s in seen] == ["c1", "c3", "c5", "f6"]
    for name, m, x, out in seen:
        fm = floats[name]
        dense = fm.dense_weight().data if hasattr(fm, "dense_weight") else fm.weight.data
        xq = torch.quantize_per_tensor(
            torch.from_numpy(x.data), float(m.input_scale.data), int(m.input_zero_point.data), torch.quint8
        )
        wq = torch.quantize_per_channel(
            torch.from_numpy(dense),
            torch.from_numpy(m.weight_scale.data),
            torch.from_numpy(m.weight_zero_point.data),
            0,
            torch.qint8,
        )
        np.testing.assert_array_equal(m.weight.data, wq.int_repr().numpy())
        h, w, b = xq.dequantize().double(), wq.dequantize().double(), torch.from_numpy(m.bias.data).double()
        if isinstance(m, QuantizedConv2d):
            ref = torch.nn.functional.conv2d(h, w, b)
        else:
            ref = torch.nn.functional.linear(h, w, b)
        np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-5, atol=1e-5 * float(np.abs(ref.numpy()).max()))
    # the table's missing connections stay exact zeros in the int8 kernel
    c3 = dict(qmodel.named_modules())["c3"].weight.data
    assert np.all(c3[~model.c3.connection_table.T] == 0)


@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern"])
def test_saved_int8_weights_are_a_quarter_and_load_back(trained, digits, tmp_path, name):
    model = trained[name]
    qmodel = pt.quantize(model, _calibration(digits))
    fp, qp = str(tmp_path / "float.safetensors"), str(tmp_path / "int8.safetensors")
    dn.io.save_weights(model.state_dict(), fp)
    pt.save_quantized(qmodel, qp)
    ratio = os.path.getsize(qp) / os.path.getsize(fp)
    assert ratio < 0.3, ratio
    stored = dn.io.load_weights(qp)
    int8 = [k for k, v in stored.items() if v.dtype == np.int8]
    assert len(int8) == (5 if name == "lenet5_modern" else 4)
    back = pt.load_quantized(model, qp)
    x = dn.tensor(digits[2][:50])
    with dn.no_grad():
        np.testing.assert_array_equal(back(x).numpy(), qmodel(x).numpy())


def test_integer_backend_gives_the_same_model_outputs(trained, digits):
    model = trained["lenet5_modern"]
    prepared = pt.calibrate(pt.prepare(model), _calibration(digits, 256))
    a, b = pt.convert(prepared, backend="blas"), pt.convert(prepared, backend="integer")
    x = dn.tensor(digits[2][:40])
    with dn.no_grad():
        np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_errors_name_the_step():
    model = dn.models.get_model("lenet5_modern")
    with pytest.raises(ValueError, match="calibrate: the model has no observers"):
        pt.calibrate(model, [np.zeros((1, 1, 32, 32), np.float32)])
    with pytest.raises(ValueError, match="convert: the model has no observers"):
        pt.convert(model)
    with pytest.raises(ValueError, match="convert: the Conv2d layer never ran"):
        pt.convert(pt.prepare(model))
    with pytest.raises(ValueError, match="prepare: ReLU has no Linear"):
        pt.prepare(dn.nn.ReLU())
    with pytest.raises(ValueError, match="calibrate: the loader gave no batch"):
        pt.calibrate(pt.prepare(model), [])
    with pytest.raises(ValueError, match="convert: backend must be one of"):
        pt.convert(pt.prepare(model), backend="gpu")
    with pytest.raises(ValueError, match="save_quantized: the model has no quantised layer"):
        pt.save_quantized(model, "never-written.safetensors")
    with pytest.raises(ValueError, match="Quantized(Linear|Conv2d).forward: the input contains NaN"):
        qm = pt.quantize(model, [np.zeros((2, 1, 32, 32), np.float32)])
        qm(dn.tensor(np.full((1, 1, 32, 32), np.nan, np.float32)))
