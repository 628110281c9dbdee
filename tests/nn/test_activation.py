"""ReLU, Sigmoid, Tanh, Softmax and LogSoftmax (modules and functional) against torch: values and
gradients, extreme logits without overflow, implicit dims, and gradchecks of softmax/log_softmax."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn
from deepnotes.autograd import gradcheck

import _oracle as oracle

RTOL, ATOL = 1e-6, 1e-12

PAIRS = [
    (lambda: nn.ReLU(), lambda: torch.nn.ReLU()),
    (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    (lambda: nn.Tanh(), lambda: torch.nn.Tanh()),
    (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    (lambda: nn.Softmax(dim=-1), lambda: torch.nn.Softmax(dim=-1)),
    (lambda: nn.LogSoftmax(dim=0), lambda: torch.nn.LogSoftmax(dim=0)),
    (lambda: nn.LogSoftmax(dim=2), lambda: torch.nn.LogSoftmax(dim=2)),
]


def _compare(y, yt, X, Xt, rng, rtol=RTOL, atol=ATOL):
    oracle.assert_matches(y, yt, [(X, Xt)], rng, rtol, atol)


@pytest.mark.parametrize("make,make_t", PAIRS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_modules_match_torch(make, make_t, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 4, 5)) * 4).astype(dtype)
    x[0, 0, :3] = 0.0  # ReLU's kink: torch's gradient there is 0
    m, tm = make(), make_t()
    assert repr(m) == repr(tm)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = m(X)
    assert y.data.dtype == dtype
    tol = dict(rtol=RTOL, atol=ATOL) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-6)
    _compare(y, tm(Xt), X, Xt, rng, **tol)


def test_relu_repr_inplace():
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))


@pytest.mark.parametrize("fn,tfn", [(F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)])
def test_softmax_never_overflows(fn, tfn):
    x = np.array([[1000.0, 0.0, -1000.0], [-1e300, 1e300, 0.0], [88.0, 89.0, 90.0]])
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow/invalid warnings from numpy
        y = fn(X, dim=1)
    assert np.isfinite(y.data).all()
    _compare(y, tfn(Xt, dim=1), X, Xt, np.random.default_rng(1))
    s = F.sigmoid(dn.Tensor(np.array([-1000.0, 1000.0, 0.0])))
    np.testing.assert_array_equal(
        s.data, torch.sigmoid(torch.tensor([-1000.0, 1000.0, 0.0], dtype=torch.float64)).numpy()
    )


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("fn,tfn", [(F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)])
def test_softmax_implicit_dim_matches_torch(shape, fn, tfn):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about the implicit dim
        yt = tfn(torch.tensor(x))
    np.testing.assert_allclose(fn(dn.Tensor(x)).data, yt.numpy(), rtol=RTOL, atol=ATOL)


def test_softmax_dtype_argument():
    x = np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32)
    y = F.softmax(dn.Tensor(x), dim=1, dtype=np.float64)
    yt = TF.softmax(torch.tensor(x), dim=1, dtype=torch.float64)
    assert y.data.dtype == np.float64
    np.testing.assert_allclose(y.data, yt.numpy(), rtol=RTOL, atol=ATOL)


def test_relu_on_integers_and_sigmoid_tanh_promote_like_torch():
    x = np.array([-2, 0, 3])
    np.testing.assert_array_equal(F.relu(dn.Tensor(x)).data, TF.relu(torch.tensor(x)).numpy())
    for fn, tfn in ((F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh)):
        y = fn(dn.Tensor(x))
        assert y.data.dtype == np.float32
        np.testing.assert_allclose(y.data, tfn(torch.tensor(x)).numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.softmax(x, dim=1),
        lambda x: F.log_softmax(x, dim=0),
        lambda x: F.log_softmax(x, dim=-1),
        F.sigmoid,
        F.tanh,
        F.relu,
    ],
)
def test_activation_gradcheck(fn):
    rng = np.random.default_rng(4)
    x = dn.Tensor(rng.standard_normal((3, 4, 2)) * 2 + 0.05, requires_grad=True)
    assert gradcheck(fn, [x])
