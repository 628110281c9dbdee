"""BatchNorm1d/2d against torch over several training steps then evaluation: outputs, gradients
(input, weight, bias), running statistics, num_batches_tracked, state_dict layout, and the options
momentum=None, affine=False, bias=False, track_running_stats=False; gradcheck of the fused primitive."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn
from deepnotes.autograd import gradcheck

RTOL, ATOL = 1e-6, 1e-9

CASES = [
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 4)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (5, 4, 3)),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 4, 5, 2)),
]


def _step(m, tm, shape, rng, scale=2.0, shift=1.0):
    x = rng.standard_normal(shape) * scale + shift
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = m(X), tm(Xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    cot = rng.standard_normal(shape)
    (y * dn.Tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    for name in ("weight", "bias"):
        p, pt = getattr(m, name), getattr(tm, name)
        assert (p is None) == (pt is None)
        if p is not None:
            np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=RTOL, atol=ATOL)


def _same_state(m, tm):
    sd, sdt = m.state_dict(), tm.state_dict()
    assert list(sd) == list(sdt)
    for k in sd:
        assert sd[k].shape == tuple(sdt[k].shape), k
        assert sd[k].data.dtype == sdt[k].numpy().dtype, k
        np.testing.assert_allclose(sd[k].data, sdt[k].numpy(), rtol=RTOL, atol=ATOL, err_msg=k)


@pytest.mark.parametrize("cls,tcls,shape", CASES)
@pytest.mark.parametrize(
    "momentum,affine,bias,track",
    [c for c in itertools.product([0.1, None, 0.5], [True, False], [True, False], [True, False]) if c[1] or c[2]],
)
def test_batchnorm_matches_torch_over_steps(cls, tcls, shape, momentum, affine, bias, track):
    rng = np.random.default_rng(0)
    C = shape[1]
    tm = tcls(C, momentum=momentum, affine=affine, track_running_stats=track, bias=bias).double()
    m = cls(C, momentum=momentum, affine=affine, track_running_stats=track, bias=bias, dtype=np.float64)
    assert repr(m) == repr(tm)
    if affine:  # non-trivial affine parameters, copied across with load_state_dict
        with torch.no_grad():
            tm.weight.copy_(torch.tensor(rng.standard_normal(C)))
            if bias:
                tm.bias.copy_(torch.tensor(rng.standard_normal(C)))
    m.load_state_dict(tm.state_dict())
    for _ in range(4):
        _step(m, tm, shape, rng)
        for p in (m.weight, m.bias, tm.weight, tm.bias):
            if p is not None:
                p.grad = None
    _same_state(m, tm)
    if track:
        assert int(m.num_batches_tracked.data) == 4
    m.eval(), tm.eval()
    _step(m, tm, shape, rng)
    _same_state(m, tm)  # evaluation changes nothing
    m.train(), tm.train()
    _step(m, tm, shape, rng)
    _same_state(m, tm)


def test_batchnorm_float32_default_module():
    rng = np.random.default_rng(1)
    m, tm = nn.BatchNorm2d(8), torch.nn.BatchNorm2d(8)
    for _ in range(3):
        x = (rng.standard_normal((4, 8, 6, 6)) * 3 + 2).astype(np.float32)
        y, yt = m(dn.Tensor(x)), tm(torch.tensor(x))
        assert y.data.dtype == np.float32
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    for k in ("running_mean", "running_var"):
        np.testing.assert_allclose(m.state_dict()[k].data, tm.state_dict()[k].numpy(), rtol=1e-4, atol=1e-6)
    assert m.state_dict()["num_batches_tracked"].data.dtype == np.int64


def test_batchnorm_loads_a_torch_checkpoint_and_evaluates_like_torch():
    rng = np.random.default_rng(2)
    tm = torch.nn.BatchNorm2d(3).double()
    with torch.no_grad():
        tm.running_mean.copy_(torch.tensor(rng.standard_normal(3)))
        tm.running_var.copy_(torch.tensor(rng.random(3) + 0.5))
        tm.weight.copy_(torch.tensor(rng.standard_normal(3)))
        tm.bias.copy_(torch.tensor(rng.standard_normal(3)))
        tm.num_batches_tracked.fill_(17)
    m = nn.BatchNorm2d(3, dtype=np.float64)
    m.load_state_dict(tm.state_dict())
    assert int(m.num_batches_tracked.data) == 17
    m.eval(), tm.eval()
    _step(m, tm, (2, 3, 4, 4), rng)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("with_affine", [True, False])
def test_batch_norm_functional_matches_torch(training, with_affine):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 5))
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    args = (dn.Tensor(w), dn.Tensor(b)) if with_affine else (None, None)
    targs = (torch.tensor(w), torch.tensor(b)) if with_affine else (None, None)
    y = F.batch_norm(X, rm, rv, *args, training=training, momentum=0.3, eps=1e-3)
    yt = TF.batch_norm(Xt, rm_t, rv_t, *targs, training=training, momentum=0.3, eps=1e-3)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(rm, rm_t.numpy(), rtol=RTOL, atol=ATOL)  # updated in place
    np.testing.assert_allclose(rv, rv_t.numpy(), rtol=RTOL, atol=ATOL)
    cot = rng.standard_normal(x.shape)
    (y * dn.Tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_batch_norm_weight_without_bias_and_no_running_stats():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((5, 2, 3)), rng.standard_normal(2)
    X, W = dn.Tensor(x, requires_grad=True), dn.Tensor(w, requires_grad=True)
    Xt, Wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y = F.batch_norm(X, None, None, W, None, training=True)
    yt = TF.batch_norm(Xt, None, None, Wt, None, training=True)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(W.grad, Wt.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_batchnorm_needs_more_than_one_value_per_channel_in_training():
    m = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\).*more than 1 value per channel"):
        m(dn.randn(1, 3))
    m.eval()
    assert m(dn.randn(1, 3)).shape == (1, 3)  # fine in evaluation, as torch


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_gradcheck(training, affine):
    rng = np.random.default_rng(5)
    x = dn.Tensor(rng.standard_normal((4, 3, 2, 2)), requires_grad=True)
    ins = [x]
    if affine:
        ins += [
            dn.Tensor(rng.standard_normal(3), requires_grad=True),
            dn.Tensor(rng.standard_normal(3), requires_grad=True),
        ]
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5

    def fn(x, w=None, b=None):
        # fresh copies so the running-stat updates of repeated evaluations do not accumulate
        return F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training, eps=1e-3)

    assert gradcheck(fn, ins)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_on_a_channel_major_input_matches_torch(training):
    """The im2col convolution returns NCHW views of (C, N, H, W) memory; batch norm works on that
    layout without a copy: values, running statistics and gradients as for a contiguous input."""
    rng = np.random.default_rng(6)
    x_cm = rng.standard_normal((3, 4, 5, 2)) * 2 + 1  # memory (C, N, H, W)
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)
    Xl = dn.Tensor(x_cm, requires_grad=True)
    X = Xl.transpose(0, 1)  # (N, C, H, W) view, channel-major memory
    assert not X.data.flags.c_contiguous and X.data.swapaxes(0, 1).flags.c_contiguous
    Xt = torch.tensor(x_cm, requires_grad=True)
    y = F.batch_norm(X, rm, rv, dn.Tensor(w), dn.Tensor(b), training=training, momentum=0.3, eps=1e-3)
    yt = TF.batch_norm(
        Xt.transpose(0, 1), rm_t, rv_t, torch.tensor(w), torch.tensor(b), training=training, momentum=0.3, eps=1e-3
    )
    assert y.shape == (4, 3, 5, 2)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(rm, rm_t.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(rv, rv_t.numpy(), rtol=RTOL, atol=ATOL)
    for cot in (rng.standard_normal((4, 3, 5, 2)), rng.standard_normal((3, 4, 5, 2)).swapaxes(0, 1)):
        Xl.grad, Xt.grad = None, None
        y = F.batch_norm(X, rm.copy(), rv.copy(), dn.Tensor(w), dn.Tensor(b), training=training, eps=1e-3)
        yt = TF.batch_norm(
            Xt.transpose(0, 1),
            torch.tensor(rm),
            torch.tensor(rv),
            torch.tensor(w),
            torch.tensor(b),
            training=training,
            eps=1e-3,
        )
        (y * dn.Tensor(cot)).sum().backward()
        (yt * torch.tensor(np.ascontiguousarray(cot))).sum().backward()
        np.testing.assert_allclose(Xl.grad, Xt.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("training", [True, False])
def test_negative_eps_is_rejected(training):
    x = np.random.default_rng(0).standard_normal((4, 3))
    if training:  # torch refuses it in training mode
        with pytest.raises(ValueError, match="eps must be positive"):
            TF.batch_norm(torch.tensor(x), None, None, training=True, eps=-1.0)
    with pytest.raises(ValueError, match=r"batch_norm: eps must be a non-negative number.*-1\.0"):
        F.batch_norm(
            dn.tensor(x), dn.zeros(3, dtype=np.float64), dn.ones(3, dtype=np.float64), training=training, eps=-1.0
        )
    for cls in (nn.BatchNorm1d, nn.BatchNorm2d):
        with pytest.raises(ValueError, match=rf"{cls.__name__}: eps must be a non-negative number"):
            cls(3, eps=-1e-5)
    if training:
        with pytest.raises(ValueError, match="eps must be positive during training"):
            TF.batch_norm(torch.tensor(x), None, None, training=True, eps=0.0)
        with pytest.raises(ValueError, match=r"batch_norm: eps must be positive during training, got 0\.0"):
            F.batch_norm(dn.tensor(x), None, None, training=True, eps=0.0)
    else:
        rm, rv = np.zeros(3), np.full(3, 2.0)
        np.testing.assert_allclose(
            F.batch_norm(dn.tensor(x), dn.tensor(rm), dn.tensor(rv), eps=0.0).data,
            TF.batch_norm(torch.tensor(x), torch.tensor(rm), torch.tensor(rv), eps=0.0).numpy(),
            rtol=1e-12,
            atol=1e-12,
        )


def _float16_pair(x, affine_dtype, rng, c):
    w = (1 + 0.5 * rng.standard_normal(c)).astype(affine_dtype)
    b = rng.standard_normal(c).astype(affine_dtype)
    return (
        dn.Tensor(x, requires_grad=True),
        dn.Tensor(w, requires_grad=True),
        dn.Tensor(b, requires_grad=True),
        torch.tensor(x, requires_grad=True),
        torch.tensor(w, requires_grad=True),
        torch.tensor(b, requires_grad=True),
    )


@pytest.mark.parametrize("affine_dtype", [np.float16, np.float32])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_float16_accumulates_in_float32_like_torch(affine_dtype, training):
    """A 64x16x16x16 float16 batch of std 4: sum(x^2) per channel is ~2.6e5, past float16's 65504,
    so float16 statistics would be inf and the output 0.  torch computes them in float32 and rounds
    the output to float16; float32 parameters and running statistics (autocast's layout) stay float32."""
    rng = np.random.default_rng(0)
    x = (4 * rng.standard_normal((64, 16, 16, 16)) + 2).astype(np.float16)
    X, W, B, Xt, Wt, Bt = _float16_pair(x, affine_dtype, rng, 16)
    rm = (rng.standard_normal(16)).astype(affine_dtype)
    rv = (rng.random(16) * 16 + 1).astype(affine_dtype)
    rmt, rvt = torch.tensor(rm), torch.tensor(rv)
    y = F.batch_norm(X, rm, rv, W, B, training=training)
    yt = TF.batch_norm(Xt, rmt, rvt, Wt, Bt, training=training)
    assert y.dtype == np.float16
    np.testing.assert_allclose(y.data.astype(np.float64), yt.detach().double().numpy(), rtol=2e-3, atol=4e-3)
    assert rm.dtype == affine_dtype and rv.dtype == affine_dtype
    np.testing.assert_allclose(rm, rmt.numpy(), rtol=2e-3, atol=1e-3)
    np.testing.assert_allclose(rv, rvt.numpy(), rtol=2e-3, atol=1e-3)
    cot = rng.standard_normal(x.shape).astype(np.float16)
    y.backward(dn.Tensor(cot))
    yt.backward(torch.tensor(cot))
    for p, pt in ((X, Xt), (W, Wt), (B, Bt)):
        assert p.grad.dtype == pt.grad.numpy().dtype
        ref = pt.grad.double().numpy()
        np.testing.assert_allclose(
            p.grad.data.astype(np.float64), ref, rtol=5e-3, atol=5e-3 * max(1.0, np.abs(ref).max())
        )


def _digits_accuracy(dtype, epochs=2, batch=128):
    """Test accuracy of a batch-norm LeNet trained entirely in ``dtype`` (``model.to(dtype)``: weights,
    gradients, optimizer and running statistics) on the bundled digits given as raw pixel counts
    (0..16, unnormalised: a channel's 128 x 64 squares of up to 256 overflow float16 sums)."""
    dn.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 2 * 2, 32),
        nn.BatchNorm1d(32),
        nn.ReLU(),
        nn.Linear(32, 10),
    ).to(dtype)
    train, test = dn.data.datasets.Digits(train=True, size=8), dn.data.datasets.Digits(train=False, size=8)
    x = (train.images * 16).astype(dtype)
    opt = dn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for lo in range(0, len(x) - batch + 1, batch):
            idx = order[lo : lo + batch]
            opt.zero_grad()
            F.cross_entropy(model(dn.tensor(x[idx])).float(), dn.tensor(train.targets[idx])).backward()
            opt.step()
    model.eval()
    with dn.no_grad():
        pred = model(dn.tensor((test.images * 16).astype(dtype))).data.argmax(1)
    return float((pred == test.targets).mean())


def test_float16_batch_norm_model_trains_on_digits_like_float32():
    """model.half() with batch norm (no autocast) learns the digits as well as float32: with float16
    statistics the batch norms overflow and the model stays at chance (10%)."""
    acc32 = _digits_accuracy(np.float32)
    acc16 = _digits_accuracy(np.float16)
    assert acc32 > 0.85
    assert abs(acc16 - acc32) <= 0.03, (acc16, acc32)
