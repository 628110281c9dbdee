"""Dropout1d/Dropout2d (channel dropout) and DropConnect (weight dropout).

Random masks cannot equal torch's draws, so: deterministic cases (evaluation, p = 0, p = 1) against
torch; the structure of the masks (whole channels, scale 1/(1-p)); drop rates against torch's on the
same large input (binomial tolerance); gradients equal to the sampled mask's; DropConnect's output and
gradients equal torch's linear/conv2d with the same masked weights; bad probabilities raise."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn

RTOL, ATOL = 1e-6, 1e-12


def _channel_masks(y, x, p):
    """Per (n, c): the kept-and-scaled factor y / x, which must be constant over the map and 0 or 1/(1-p)."""
    ratio = y / x
    flat = ratio.reshape(ratio.shape[0], ratio.shape[1], -1)
    np.testing.assert_allclose(flat, flat[..., :1] * np.ones_like(flat), rtol=1e-12, atol=0)
    factors = flat[..., 0]
    assert np.all(np.isclose(factors, 0.0) | np.isclose(factors, 1.0 / (1.0 - p), rtol=1e-12))
    return factors


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
@pytest.mark.parametrize(
    "cls,shape", [("Dropout2d", (40, 50, 3, 2)), ("Dropout1d", (40, 50, 4)), ("Dropout1d", (2000, 3))]
)
def test_channel_dropout_structure_rate_and_gradient(cls, shape, p):
    dn.manual_seed(0)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 1.5, shape)
    m, tm = getattr(nn, cls)(p), getattr(torch.nn, cls)(p)
    assert repr(m) == repr(tm)
    X = dn.Tensor(x, requires_grad=True)
    y = m(X)
    yt = tm(torch.tensor(x)).numpy()
    unbatched = len(shape) == 2
    view = (lambda a: a[None]) if unbatched else (lambda a: a)
    factors = _channel_masks(view(y.data), view(x), p)
    factors_t = _channel_masks(view(yt), view(x), p)
    n = factors.size
    sd = np.sqrt(n * p * (1 - p))
    dropped, dropped_t = np.sum(factors == 0), np.sum(np.isclose(factors_t, 0))
    assert abs(dropped - n * p) < 5 * sd and abs(dropped_t - n * p) < 5 * sd
    assert abs(dropped - dropped_t) < 7 * sd
    y.sum().backward()
    np.testing.assert_allclose(X.grad, y.data / x, rtol=1e-12)  # d y / d x is the scaled mask


@pytest.mark.parametrize("cls,shape", [("Dropout2d", (2, 3, 4, 5)), ("Dropout1d", (2, 3, 4)), ("Dropout1d", (3, 4))])
def test_channel_dropout_deterministic_cases_match_torch(cls, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    for p, train in [(0.0, True), (1.0, True), (0.5, False), (1.0, False)]:
        m, tm = getattr(nn, cls)(p), getattr(torch.nn, cls)(p)
        if not train:
            m.eval(), tm.eval()
        X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, yt = m(X), tm(Xt)
        np.testing.assert_array_equal(y.data, yt.detach().numpy())
        y.sum().backward(), yt.sum().backward()
        np.testing.assert_array_equal(X.grad, Xt.grad.numpy())


def test_dropout2d_three_dimensional_input_is_read_as_batched_channels_like_torch():
    dn.manual_seed(1)
    x = np.ones((60, 40, 5))
    with pytest.warns(UserWarning, match="dropout2d: received a 3-D input"):
        y = F.dropout2d(dn.Tensor(x), 0.5)
    factors = _channel_masks(y.data, x, 0.5)  # one decision per (dim 0, dim 1) entry, as torch
    assert factors.shape == (60, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yt = TF.dropout2d(torch.tensor(x), 0.5).numpy()
    _channel_masks(yt, x, 0.5)


def test_dropout2d_empty_batch_and_1x1_maps():
    y = nn.Dropout2d(0.3)(dn.Tensor(np.zeros((0, 4, 2, 2))))
    assert y.shape == (0, 4, 2, 2)
    dn.manual_seed(2)
    x = np.full((500, 2, 1, 1), 2.0)
    y = nn.Dropout2d(0.25)(dn.Tensor(x)).data
    assert set(np.unique(y)) <= {0.0, 2.0 / 0.75}


# ------------------------------------------------------------------------------------- DropConnect
def _linear_pair(rng):
    m, tm = nn.Linear(6, 4, dtype=np.float64), torch.nn.Linear(6, 4, dtype=torch.float64)
    m.load_state_dict(tm.state_dict())
    return m, tm


@pytest.mark.parametrize("p", [0.3, 0.6])
def test_dropconnect_linear_equals_torch_with_the_sampled_mask(p):
    dn.manual_seed(3)
    rng = np.random.default_rng(3)
    lin, tlin = _linear_pair(rng)
    m = nn.DropConnect(lin, p)
    assert list(m.state_dict()) == ["module.weight", "module.bias"]
    x = rng.standard_normal((5, 6))
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = m(X)
    mask = m.mask
    assert mask.shape == (4, 6) and mask.dtype == np.bool_
    assert lin.weight is lin._parameters["weight"] and isinstance(lin.weight, nn.Parameter)
    wt = tlin.weight * torch.tensor(mask / (1 - p))
    yt = TF.linear(Xt, wt, tlin.bias)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    cot = rng.standard_normal(y.shape)
    (y * dn.Tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(lin.weight.grad, tlin.weight.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(lin.bias.grad, tlin.bias.grad.numpy(), rtol=RTOL, atol=ATOL)
    assert np.all(lin.weight.grad.data[~mask] == 0)  # dropped connections learn nothing


def test_dropconnect_conv2d_equals_torch_with_the_sampled_mask():
    dn.manual_seed(4)
    rng = np.random.default_rng(4)
    conv = nn.Conv2d(3, 5, 3, padding=1, stride=2, dtype=np.float64)
    tconv = torch.nn.Conv2d(3, 5, 3, padding=1, stride=2, dtype=torch.float64)
    conv.load_state_dict(tconv.state_dict())
    m = nn.DropConnect(conv, 0.4)
    x = rng.standard_normal((2, 3, 7, 6))
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = m(X)
    yt = TF.conv2d(Xt, tconv.weight * torch.tensor(m.mask / 0.6), tconv.bias, stride=2, padding=1)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    cot = rng.standard_normal(y.shape)
    (y * dn.Tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(conv.weight.grad, tconv.weight.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_dropconnect_eval_is_exact_and_masks_are_resampled_with_the_right_rate():
    dn.manual_seed(5)
    rng = np.random.default_rng(5)
    lin, tlin = _linear_pair(rng)
    m = nn.DropConnect(lin, 0.25)
    x = rng.standard_normal((3, 6))
    m(dn.Tensor(x))
    first = m.mask.copy()
    m(dn.Tensor(x))
    assert not np.array_equal(first, m.mask)
    big = nn.DropConnect(nn.Linear(300, 200), 0.25)
    big(dn.randn(1, 300))
    n = big.mask.size
    assert abs((~big.mask).sum() - 0.25 * n) < 5 * np.sqrt(n * 0.25 * 0.75)
    m.eval()
    exact = tlin(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(m(dn.Tensor(x)).data, exact, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(m(dn.Tensor(x)).data, lin(dn.Tensor(x)).data)
    zero = nn.DropConnect(lin, 0.0)
    np.testing.assert_array_equal(zero(dn.Tensor(x)).data, lin(dn.Tensor(x)).data)
    everything = nn.DropConnect(lin, 1.0)
    np.testing.assert_allclose(everything(dn.Tensor(x)).data, np.broadcast_to(lin.bias.data, (3, 4)), rtol=0, atol=0)


def test_dropconnect_is_unbiased():
    """E[W * mask / (1 - p)] = W: the mean output over many masks approaches the evaluation output."""
    dn.manual_seed(6)
    rng = np.random.default_rng(6)
    lin, tlin = _linear_pair(rng)
    m = nn.DropConnect(lin, 0.5)
    x = dn.Tensor(rng.standard_normal((2, 6)))
    mean = np.mean([m(x).data for _ in range(4000)], axis=0)
    exact = tlin(torch.tensor(x.data)).detach().numpy()
    np.testing.assert_allclose(mean, exact, atol=0.06)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: nn.Dropout2d(-0.1), ValueError, r"Dropout2d: probability p must be a number in \[0, 1\], got -0.1"),
        (lambda: nn.Dropout1d(1.5), ValueError, r"Dropout1d: probability p must be a number in \[0, 1\], got 1.5"),
        (lambda: F.dropout2d(dn.randn(2, 3, 4, 4), p=-0.5), ValueError, "dropout2d: probability p must be"),
        (lambda: F.dropout1d(dn.randn(2, 3, 4), p=2), ValueError, "dropout1d: probability p must be"),
        (lambda: F.dropout(dn.randn(2, 3), p=-0.01), ValueError, "dropout: probability p must be"),
        (lambda: nn.DropConnect(nn.Linear(2, 2), -0.2), ValueError, "DropConnect: probability p must be"),
        (lambda: nn.DropConnect(nn.ReLU(), 0.5), TypeError, "DropConnect: expected a layer with a weight parameter"),
        (lambda: F.dropout1d(dn.randn(2, 3, 4, 5)), ValueError, r"dropout1d: expected a 2-D \(C, L\) or 3-D"),
        (
            lambda: F.dropout2d(dn.Tensor(np.ones((2, 2, 2, 2), dtype=np.int64))),
            TypeError,
            "dropout2d: expected a floating-point input",
        ),
    ],
)
def test_bad_arguments_raise(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
