"""Quantisation-aware training against torch.ao (FakeQuantize on the input, torch.ao.nn.qat.Linear/Conv2d
with a per-channel weight fake quantiser): forward values, straight-through gradients and SGD steps; then
a QAT LeNet-5 on the digits converted to the integer model."""

import warnings

import numpy as np
import pytest
import torch
import torch.ao.nn.qat as tqat
from threadpoolctl import threadpool_limits
from torch.ao import quantization as tq

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes.compress import post_training as pt
from deepnotes.compress import qat
from deepnotes.compress.quantized import QuantizedConv2d, QuantizedLinear
from deepnotes.data.datasets import Digits


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _torch_qconfig():
    act = tq.FakeQuantize.with_args(
        observer=tq.MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8
    )
    # averaging constant 1: the range of the current weight, as our weight fake quantiser uses
    weight = tq.FakeQuantize.with_args(
        observer=tq.MovingAveragePerChannelMinMaxObserver,
        averaging_constant=1.0,
        quant_min=-128,
        quant_max=127,
        dtype=torch.qint8,
        qscheme=torch.per_channel_symmetric,
        ch_axis=0,
    )
    return tq.QConfig(activation=act, weight=weight)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_qat_layer_steps_match_torch(kind):
    rng = np.random.default_rng(0)
    qconfig = _torch_qconfig()
    if kind == "linear":
        float_layer = dn.nn.Linear(20, 7)
        theirs = tqat.Linear(20, 7, qconfig=qconfig)
        xs = [rng.normal(size=(16, 20)).astype(np.float32) * (1 + i) for i in range(3)]
    else:
        float_layer = dn.nn.Conv2d(3, 5, 3, padding=1, stride=2)
        theirs = tqat.Conv2d(3, 5, 3, padding=1, stride=2, qconfig=qconfig)
        xs = [rng.normal(size=(4, 3, 9, 9)).astype(np.float32) * (1 + i) for i in range(3)]
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(float_layer.weight.data))
        theirs.bias.copy_(torch.from_numpy(float_layer.bias.data))
    ours = qat.prepare_qat(float_layer)
    assert isinstance(ours, qat.QATLinear if kind == "linear" else qat.QATConv2d)
    in_fq = qconfig.activation()
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1)
    opt_o = dn.optim.SGD(ours.parameters(), lr=0.1)
    n_clamped = 0
    for x in xs:
        g = rng.normal(size=theirs(in_fq(torch.from_numpy(x))).shape).astype(np.float32)
        # (the call above advanced torch's moving average once more; ours makes the same extra call)
        # float32 SGD steps differ in the last bit, which can flip a weight's rounding: start every step
        # from torch's weights (the steps themselves are compared below)
        ours.weight.data[...] = theirs.weight.detach().numpy()
        ours.bias.data[...] = theirs.bias.detach().numpy()
        xt = torch.from_numpy(x).requires_grad_()
        yt = theirs(in_fq(xt))
        xo = dn.tensor(x, requires_grad=True)
        ours(xo)  # the same extra observation on our side
        yo = ours(xo)
        scale = float(np.abs(yt.detach().numpy()).max())  # float32 sums in another order: relative to the output
        np.testing.assert_allclose(yo.data, yt.detach().numpy(), rtol=1e-5, atol=1e-6 * scale)
        opt_t.zero_grad()
        opt_o.zero_grad()
        yt.backward(torch.from_numpy(g))
        xo.grad = None
        yo.backward(dn.tensor(g))
        np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-5, atol=1e-6 * float(np.abs(g).max()))
        np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
        # the straight-through estimator: no gradient where the input was clamped
        s, z = ours.input_fake_quant.calculate_qparams()
        level = np.rint(x * (np.float32(1) / s[0])) + z[0]
        clamped = (level < 0) | (level > 255)
        n_clamped += int(clamped.sum())
        assert np.all(xo.grad.data[clamped] == 0)
        opt_t.step()
        opt_o.step()
        np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert n_clamped > 0  # the later, wider batches exceed the lagging moving-average range
    s, z = ours.input_observer.calculate_qparams()
    ts, tz = in_fq.calculate_qparams()
    np.testing.assert_array_equal(s, ts.numpy())
    np.testing.assert_array_equal(z, tz.numpy())


def test_observer_and_fake_quant_switches():
    layer = qat.prepare_qat(dn.nn.Linear(4, 3))
    x = dn.tensor(np.arange(8, dtype=np.float32).reshape(2, 4))
    layer(x)
    before = layer.input_observer.max_val
    qat.disable_observer(layer)
    layer(x * 10)
    assert layer.input_observer.max_val == before
    qat.disable_fake_quant(layer)
    out = layer(x * 10)
    ref = F.linear(x * 10, layer.weight, layer.bias)
    np.testing.assert_allclose(out.data, ref.data, rtol=1e-6)
    qat.enable_fake_quant(layer)
    qat.enable_observer(layer)
    layer(x * 10)
    assert layer.input_observer.max_val > before


def test_qat_lenet_trains_and_converts_to_the_integer_model():
    with threadpool_limits(1):
        tr, te = Digits(train=True, size=32), Digits(train=False, size=32)
        xtr, ytr, xte, yte = tr.images, tr.targets, te.images, te.targets
        dn.manual_seed(0)
        model = qat.prepare_qat(dn.models.get_model("lenet5_modern"))
        opt = dn.optim.Adam(model.parameters(), lr=2e-3)
        rng = np.random.default_rng(0)
        for epoch in range(2):
            if epoch == 1:
                qat.disable_observer(model)  # freeze the ranges for the last epoch, as usual
            model.train()
            for idx in np.array_split(rng.permutation(len(xtr)), len(xtr) // 32):
                loss = F.cross_entropy(model(dn.tensor(xtr[idx])), dn.tensor(ytr[idx]))
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        int8 = pt.convert(model)
        assert sum(isinstance(m, (QuantizedConv2d, QuantizedLinear)) for m in int8.modules()) == 5
        with dn.no_grad():
            fq_logits = model(dn.tensor(xte)).numpy()
            q_logits = int8(dn.tensor(xte)).numpy()
    acc_fq = float((fq_logits.argmax(1) == yte).mean())
    acc_q = float((q_logits.argmax(1) == yte).mean())
    assert acc_fq > 0.9
    # the integer model computes what the fake-quantised one did (up to ties and float32 sums)
    assert abs(acc_fq - acc_q) <= 0.01
    assert np.median(np.abs(fq_logits - q_logits)) < 1e-3


def test_bad_input():
    with pytest.raises(TypeError, match="prepare_qat: expected a deepnotes Module"):
        qat.prepare_qat(object())
    with pytest.raises(ValueError, match="prepare_qat: ReLU has no Linear or Conv2d"):
        qat.prepare_qat(dn.nn.ReLU())
    with pytest.raises(TypeError, match="FakeQuantize: expected a callable returning an observer"):
        qat.FakeQuantize(3)
    layer = qat.prepare_qat(dn.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="fake_quantize_per_tensor_affine: the input contains NaN"):
        qat.disable_observer(layer)(dn.tensor(np.array([[np.nan, 1.0]], np.float32)))
