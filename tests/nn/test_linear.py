"""Linear, Identity and Flatten against torch: values, gradients, state_dict both ways, default
initialisation, repr and a numerical gradient check of the fused linear primitive."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn
from deepnotes.autograd import gradcheck

import _oracle as oracle


def _grads(ins, tins, y, yt, rng):
    oracle.backward_pair(y, yt, rng)
    return [(a.grad, None if b.grad is None else b.grad.numpy()) for a, b in zip(ins, tins)]


@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3), (2, 1, 2, 3), (0, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_functional_matches_torch(x_shape, bias):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((4, 3)), rng.standard_normal(4)
    ins = [dn.Tensor(a, requires_grad=True) for a in (x, w, b)]
    tins = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.linear(ins[0], ins[1], ins[2] if bias else None)
    yt = TF.linear(tins[0], tins[1], tins[2] if bias else None)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-6, atol=1e-9)
    pairs = _grads(ins, tins, y, yt, rng)
    for g, gt in pairs[: 2 + bias]:
        np.testing.assert_allclose(g, gt, rtol=1e-6, atol=1e-9)
    if not bias:
        assert ins[2].grad is None


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-6), (np.float32, 1e-4)])
def test_linear_module_state_dict_both_ways(dtype, rtol):
    rng = np.random.default_rng(1)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    tm = torch.nn.Linear(6, 5).to(tdtype)
    m = nn.Linear(6, 5, dtype=dtype)
    assert list(m.state_dict()) == list(tm.state_dict()) == ["weight", "bias"]
    m.load_state_dict(tm.state_dict())
    x = rng.standard_normal((7, 6)).astype(dtype)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = m(X), tm(Xt)
    assert y.data.dtype == dtype
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=rtol * 1e-2)
    _grads([X], [Xt], y, yt, rng)
    np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(m.weight.grad, tm.weight.grad.numpy(), rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(m.bias.grad, tm.bias.grad.numpy(), rtol=rtol, atol=rtol * 1e-2)
    # deepnotes -> torch
    m2, tm2 = nn.Linear(6, 5, bias=False, dtype=dtype), torch.nn.Linear(6, 5, bias=False).to(tdtype)
    tm2.load_state_dict({k: torch.from_numpy(v.data.copy()) for k, v in m2.state_dict().items()})
    np.testing.assert_allclose(m2(dn.Tensor(x)).data, tm2(torch.tensor(x)).detach().numpy(), rtol=rtol)


def test_linear_state_dict_shares_memory_and_layout():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    assert sd["weight"].shape == (2, 3) and sd["bias"].shape == (2,)
    assert sd["weight"].data is m.weight.data  # like torch: a detached view, not a copy
    assert not sd["weight"].requires_grad


@pytest.mark.parametrize("fan_in,fan_out", [(3, 256), (100, 64), (1000, 16)])
def test_linear_default_init_follows_torch(fan_in, fan_out):
    dn.manual_seed(1)
    m = nn.Linear(fan_in, fan_out)
    bound = 1 / np.sqrt(fan_in)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.bias.data).max() <= bound
    w = m.weight.data.astype(np.float64)
    n = w.size
    assert abs(w.var() - bound**2 / 3) < 5 * bound**2 * np.sqrt(4 / 45 / n)
    assert abs(w.mean()) < 5 * bound / np.sqrt(3 * n)


def test_linear_init_is_seeded():
    dn.manual_seed(7)
    a = nn.Linear(4, 3).weight.data.copy()
    dn.manual_seed(7)
    b = nn.Linear(4, 3).weight.data.copy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore:Initializing zero-element")
def test_linear_zero_features_and_repr():
    m, tm = nn.Linear(0, 3), torch.nn.Linear(0, 3)
    assert repr(m) == repr(tm)
    y = m(dn.zeros(2, 0))
    np.testing.assert_array_equal(y.data, tm(torch.zeros(2, 0)).detach().numpy())  # the bias only
    assert repr(nn.Linear(3, 4, bias=False)) == repr(torch.nn.Linear(3, 4, bias=False))


def test_linear_gradcheck():
    rng = np.random.default_rng(2)
    ins = [dn.Tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3, 4), (5, 4), (5,))]
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), ins)
    assert gradcheck(lambda x, w: F.linear(x, w), ins[:2])


def test_identity_and_flatten_match_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4, 5))
    ident = nn.Identity(54, unused="argument")
    X = dn.Tensor(x)
    assert ident(X) is X
    assert repr(ident) == repr(torch.nn.Identity())
    for args in [(), (0,), (2,), (1, 2), (0, -2)]:
        m, tm = nn.Flatten(*args), torch.nn.Flatten(*args)
        assert repr(m) == repr(tm)
        assert m(X).shape == tuple(tm(torch.tensor(x)).shape)
        np.testing.assert_array_equal(m(X).data, tm(torch.tensor(x)).numpy())
    Xg = dn.Tensor(x, requires_grad=True)
    (nn.Flatten()(Xg) * 2).sum().backward()
    np.testing.assert_array_equal(Xg.grad, np.full(x.shape, 2.0))
