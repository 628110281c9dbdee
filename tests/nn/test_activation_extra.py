"""The issue-3 activations (LeakyReLU, PReLU, ELU/SELU/CELU, SiLU/Swish, Hardtanh/ReLU6, Hardsigmoid,
Hardswish, GELU, Softplus, Maxout, Softmax2d) against torch: values, input and parameter gradients
(also exactly at the kinks, where the conventions differ between libraries), hypothesis-drawn shapes
including empty and size-1 ones, finiteness for logits of magnitude 1e4, gradchecks of the fused
primitives, the error function against scipy, reprs and bad arguments."""

import math
import warnings

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn
from deepnotes.autograd import gradcheck
from deepnotes.ops.activation import erf, erfc

import _oracle as oracle

RTOL, ATOL = 1e-6, 1e-12

# (ours, torch's): module factories with identical arguments
PAIRS = {
    "leaky_relu": (lambda: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU()),
    "leaky_relu_0.2": (lambda: nn.LeakyReLU(0.2, inplace=True), lambda: torch.nn.LeakyReLU(0.2, inplace=True)),
    "elu": (lambda: nn.ELU(), lambda: torch.nn.ELU()),
    "elu_0.5": (lambda: nn.ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5)),
    "selu": (lambda: nn.SELU(), lambda: torch.nn.SELU()),
    "celu_2": (lambda: nn.CELU(alpha=2.0), lambda: torch.nn.CELU(alpha=2.0)),
    "silu": (lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    "hardtanh": (lambda: nn.Hardtanh(), lambda: torch.nn.Hardtanh()),
    "hardtanh_-2_3": (lambda: nn.Hardtanh(-2.0, 3.0), lambda: torch.nn.Hardtanh(-2.0, 3.0)),
    "relu6": (lambda: nn.ReLU6(), lambda: torch.nn.ReLU6()),
    "relu6_inplace": (lambda: nn.ReLU6(inplace=True), lambda: torch.nn.ReLU6(inplace=True)),
    "hardsigmoid": (lambda: nn.Hardsigmoid(), lambda: torch.nn.Hardsigmoid()),
    "hardswish": (lambda: nn.Hardswish(), lambda: torch.nn.Hardswish()),
    "gelu": (lambda: nn.GELU(), lambda: torch.nn.GELU()),
    "gelu_tanh": (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    "softplus": (lambda: nn.Softplus(), lambda: torch.nn.Softplus()),
    "softplus_2_5": (lambda: nn.Softplus(beta=2.0, threshold=5.0), lambda: torch.nn.Softplus(beta=2.0, threshold=5.0)),
    "softplus_neg_beta": (lambda: nn.Softplus(beta=-0.5), lambda: torch.nn.Softplus(beta=-0.5)),
    "softmax2d": (lambda: nn.Softmax2d(), lambda: torch.nn.Softmax2d()),
}

# every kink and boundary of the piecewise definitions, so the gradient conventions are compared too
KINKS = np.array([0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 6.0, -2.0, 2.5, 10.0, 20.0, -20.0])


def _data(shape, rng, dtype):
    x = rng.standard_normal(shape) * 4
    flat = x.reshape(-1)
    k = min(flat.size, KINKS.size)
    flat[:k] = KINKS[:k]
    return x.astype(dtype)


def _check(y, yt, leaves, rng, rtol=RTOL, atol=ATOL):
    """Values of y vs yt, then gradients of a random linear functional for each (ours, theirs) leaf."""
    oracle.assert_matches(y, yt, leaves, rng, rtol, atol, check_dtype=True)


@pytest.mark.parametrize("key", sorted(PAIRS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_modules_match_torch(key, dtype):
    rng = np.random.default_rng(0)
    make, make_t = PAIRS[key]
    m, tm = make(), make_t()
    assert repr(m) == repr(tm)
    x = _data((2, 3, 4, 5), rng, dtype)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    tol = dict(rtol=RTOL, atol=ATOL) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-5)
    _check(m(X), tm(Xt * 1), [(X, Xt)], rng, **tol)  # * 1: torch's inplace modules need a non-leaf


@pytest.mark.parametrize(
    "name,args",
    [
        ("leaky_relu", (0.3,)),
        ("elu", (0.7,)),
        ("selu", ()),
        ("celu", (0.5,)),
        ("silu", ()),
        ("hardtanh", (-0.5, 2.0)),
        ("relu6", ()),
        ("hardsigmoid", ()),
        ("hardswish", ()),
        ("gelu", ()),
        ("softplus", (1.5, 4.0)),
    ],
)
def test_functional_match_torch(name, args):
    rng = np.random.default_rng(1)
    x = _data((4, 7), rng, np.float64)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _check(getattr(F, name)(X, *args), getattr(TF, name)(Xt, *args), [(X, Xt)], rng)


def test_gelu_tanh_functional():
    rng = np.random.default_rng(2)
    x = _data((3, 9), rng, np.float64)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _check(F.gelu(X, approximate="tanh"), TF.gelu(Xt, approximate="tanh"), [(X, Xt)], rng)


@settings(max_examples=30, deadline=None)
@given(
    shape=st.sampled_from([(0, 3), (1, 1), (1, 1, 1, 1), (0, 2, 1, 1), (1, 4, 1, 1), (2, 3, 1, 5), (5,), (3, 2, 2)]),
    key=st.sampled_from(sorted(k for k in PAIRS if k != "softmax2d")),
    seed=st.integers(0, 2**31 - 1),
)
def test_shapes_hypothesis(shape, key, seed):
    rng = np.random.default_rng(seed)
    make, make_t = PAIRS[key]
    x = _data(shape, rng, np.float64)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _check(make()(X), make_t()(Xt * 1), [(X, Xt)], rng)


@pytest.mark.parametrize("num_parameters", [1, 3])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (4, 3), (1, 3, 1, 1), (0, 3, 2)])
def test_prelu_matches_torch_with_weight_gradient(num_parameters, shape):
    rng = np.random.default_rng(3)
    m, tm = (
        nn.PReLU(num_parameters, init=0.1, dtype=np.float64),
        torch.nn.PReLU(num_parameters, init=0.1, dtype=torch.float64),
    )
    w = rng.standard_normal(num_parameters)
    m.weight.data[...] = w
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(w))
    assert repr(m) == repr(tm)
    assert m.state_dict().keys() == tm.state_dict().keys()
    x = _data(shape, rng, np.float64)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _check(m(X), tm(Xt), [(X, Xt), (m.weight, tm.weight)], rng)


def test_prelu_unbatched_1d_single_slope():
    rng = np.random.default_rng(4)
    x = _data((6,), rng, np.float64)
    w = np.array([0.3])
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    W, Wt = dn.Tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    _check(F.prelu(X, W), TF.prelu(Xt, Wt), [(X, Xt), (W, Wt)], rng)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.5, -1.0])
def test_swish_learnable_beta_matches_torch_composition(beta):
    rng = np.random.default_rng(5)
    m = nn.Swish(beta=beta, learnable=True, dtype=np.float64)
    assert [n for n, _ in m.named_parameters()] == ["beta"]
    x = _data((3, 4, 5), rng, np.float64)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    bt = torch.tensor([beta], dtype=torch.float64, requires_grad=True)
    _check(m(X), Xt * torch.sigmoid(bt * Xt), [(X, Xt), (m.beta, bt)], rng)


@pytest.mark.parametrize("beta", [1.0, 0.25, 3.0])
def test_swish_fixed_beta_matches_torch(beta):
    rng = np.random.default_rng(6)
    x = _data((5, 6), rng, np.float64)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    m = nn.Swish(beta)
    assert list(m.parameters()) == []
    _check(m(X), Xt * torch.sigmoid(beta * Xt), [(X, Xt)], rng)


@pytest.mark.parametrize(
    "pool_size,dim,shape", [(2, 1, (3, 8, 4)), (3, -1, (2, 5, 9)), (4, 1, (1, 4, 1, 1)), (1, 0, (3, 2)), (2, 1, (0, 6))]
)
def test_maxout_matches_torch_composition(pool_size, dim, shape):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape)
    m = nn.Maxout(pool_size, dim)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    d = dim % len(shape)
    yt = Xt.unflatten(d, (shape[d] // pool_size, pool_size)).max(dim=d + 1).values
    _check(m(X), yt, [(X, Xt)], rng)


def test_maxout_after_linear_learns_through_argmax():
    rng = np.random.default_rng(8)
    lin, tlin = nn.Linear(5, 6, dtype=np.float64), torch.nn.Linear(5, 6, dtype=torch.float64)
    lin.load_state_dict(tlin.state_dict())
    x = rng.standard_normal((4, 5))
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = nn.Maxout(3)(lin(X))
    yt = tlin(Xt).unflatten(1, (2, 3)).max(dim=2).values
    _check(y, yt, [(X, Xt), (lin.weight, tlin.weight), (lin.bias, tlin.bias)], rng)


# ------------------------------------------------------------------------------------- extreme logits
BIG = np.array([[1e4, -1e4, 0.0, 3.0], [-1e4, -1e4, -1e4, -1e4 + 1], [1e4, 1e4 - 2, 1e4, -3.0]])


@pytest.mark.parametrize(
    "fn,tfn",
    [
        (F.sigmoid, torch.sigmoid),
        (F.tanh, torch.tanh),
        (lambda x: F.softmax(x, dim=1), lambda x: TF.softmax(x, dim=1)),
        (lambda x: F.softmax(x, dim=0), lambda x: TF.softmax(x, dim=0)),
        (lambda x: F.log_softmax(x, dim=1), lambda x: TF.log_softmax(x, dim=1)),
        (lambda x: F.log_softmax(x, dim=0), lambda x: TF.log_softmax(x, dim=0)),
        (F.silu, TF.silu),
        (F.softplus, TF.softplus),
        (F.gelu, TF.gelu),
        (F.elu, TF.elu),
        (F.selu, TF.selu),
        (F.hardswish, TF.hardswish),
        (F.leaky_relu, TF.leaky_relu),
        (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
        (lambda x: F.softplus(x, beta=3.0, threshold=30.0), lambda x: TF.softplus(x, beta=3.0, threshold=30.0)),
    ],
)
def test_logits_of_magnitude_1e4_stay_finite_and_exact(fn, tfn):
    X, Xt = dn.Tensor(BIG, requires_grad=True), torch.tensor(BIG, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid-value warnings from NumPy
        y = fn(X)
        cot = np.random.default_rng(9).standard_normal(BIG.shape)
        (y * dn.Tensor(cot)).sum().backward()
    yt = tfn(Xt)
    (yt * torch.tensor(cot)).sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(X.grad).all()
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------------------------- gradchecks
@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.leaky_relu(x, 0.1),
        lambda x: F.elu(x, 0.8),
        F.selu,
        lambda x: F.celu(x, 1.5),
        F.silu,
        lambda x: F.hardtanh(x, -0.7, 0.9),
        F.relu6,
        F.hardsigmoid,
        F.hardswish,
        F.gelu,
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: F.softplus(x, 2.0, 3.0),
        lambda x: F.maxout(x, 2, 1),
    ],
    ids=[
        "leaky_relu",
        "elu",
        "selu",
        "celu",
        "silu",
        "hardtanh",
        "relu6",
        "hardsigmoid",
        "hardswish",
        "gelu",
        "gelu_tanh",
        "softplus",
        "maxout",
    ],
)
def test_gradcheck_fused_primitives(fn):
    rng = np.random.default_rng(10)
    x = rng.uniform(-5, 5, (3, 4))
    for kink in (0.0, 1.0, -1.0, 3.0, -3.0, 6.0, -0.7, 0.9, 1.5):  # keep central differences off the kinks
        x[np.abs(x - kink) < 1e-3] += 0.01
    assert gradcheck(fn, [dn.Tensor(x, requires_grad=True)])


def test_gradcheck_prelu_and_swish_parameters():
    rng = np.random.default_rng(11)
    x = rng.uniform(-3, 3, (2, 3, 2))
    x[np.abs(x) < 1e-3] = 0.5
    w = dn.Tensor(rng.uniform(0, 0.5, 3), requires_grad=True)
    assert gradcheck(lambda a, b: F.prelu(a, b), [dn.Tensor(x, requires_grad=True), w])
    beta = dn.Tensor(np.array([1.3]), requires_grad=True)
    assert gradcheck(lambda a, b: F.swish(a, b), [dn.Tensor(x, requires_grad=True), beta])


# ------------------------------------------------------------------------------------- error function
def test_erf_erfc_match_scipy_to_the_last_bits():
    x = np.concatenate(
        [
            np.linspace(-30, 30, 20001),
            np.random.default_rng(12).standard_normal(5000),
            [0.0, 0.84375, -0.84375, 1.25, -1.25, 1 / 0.35, 6.0, 27.0, 1e-300],
        ]
    )
    np.testing.assert_allclose(erf(x), scipy.special.erf(x), rtol=1e-15, atol=1e-300)
    ref = scipy.special.erfc(x)
    keep = ref > 1e-290  # below, both are in the subnormal range
    np.testing.assert_allclose(erfc(x)[keep], ref[keep], rtol=1e-13)
    assert erf(np.array([np.inf, -np.inf])).tolist() == [1.0, -1.0]
    assert erfc(np.array([np.inf, -np.inf])).tolist() == [0.0, 2.0]
    assert np.isnan(erf(np.array([np.nan]))).all()
    assert erf(np.float32(0.5)).dtype == np.float32
    assert erf(np.array([1, 2])).dtype == np.float64
    assert math.isclose(float(erf(np.array(0.3))), math.erf(0.3), rel_tol=1e-16)


# ------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda x: F.prelu(x, dn.Tensor(np.ones(2))), ValueError, "prelu: weight must hold 1 or 3"),
        (lambda x: F.gelu(x, approximate="fast"), ValueError, "gelu: approximate must be 'none' or 'tanh'"),
        (lambda x: F.maxout(x, 2), ValueError, "maxout: the size 3 of dimension 1 must be divisible by pool_size=2"),
        (lambda x: F.maxout(x, 0), ValueError, "maxout: pool_size must be >= 1"),
        (lambda x: F.softplus(x, beta=0), ValueError, "softplus: beta must be nonzero"),
        (lambda x: F.hardtanh(x, 2.0, 1.0), ValueError, r"hardtanh: min_val \(2.0\) must not exceed max_val"),
        (lambda x: F.leaky_relu(x, "big"), TypeError, "leaky_relu: negative_slope must be a number"),
        (lambda x: F.celu(x, 0.0), ValueError, "celu: alpha must be nonzero"),
        (lambda x: F.silu(dn.Tensor(np.array([1, 2]))), TypeError, "silu: expected a floating-point input"),
        (lambda x: F.swish(x, dn.Tensor(np.ones(5))), ValueError, "swish: beta of shape"),
        (lambda x: nn.Softmax2d()(x[0, 0]), ValueError, "Softmax2d: expected a 3-D or 4-D input"),
    ],
)
def test_bad_arguments_raise(call, exc, match):
    x = dn.Tensor(np.ones((2, 3, 4)))
    with pytest.raises(exc, match=match):
        call(x)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: nn.PReLU(0), "PReLU: num_parameters must be a positive int"),
        (lambda: nn.GELU("x"), "GELU: approximate must be 'none' or 'tanh'"),
        (lambda: nn.Maxout(0), "Maxout: pool_size must be a positive int"),
        (lambda: nn.Hardtanh(1.0, -1.0), r"Hardtanh: min_val \(1.0\) must not exceed max_val"),
    ],
)
def test_bad_constructor_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_prelu_state_dict_loads_from_torch():
    tm = torch.nn.PReLU(4)
    with torch.no_grad():
        tm.weight.uniform_(0, 1)
    m = nn.PReLU(4)
    m.load_state_dict(tm.state_dict())
    np.testing.assert_array_equal(m.weight.data, tm.weight.detach().numpy())
