"""cross_entropy, nll_loss and mse_loss (functional and modules) against torch: every reduction,
class weights, ignore_index, label smoothing, class-probability targets, (N, C, d1, d2) inputs,
values and input gradients; gradchecks of the fused log-softmax + nll path."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn
from deepnotes.autograd import gradcheck

import _oracle as oracle

RTOL, ATOL = 1e-6, 1e-10
SHAPES = [(6, 5), (3, 4, 2, 3), (5,), (4, 3, 7)]


def _targets(rng, shape, ignore_index):
    C = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, C, tshape)
    if ignore_index >= 0 and t.ndim:
        t.reshape(-1)[::3] = ignore_index  # some targets are ignored
    return t, C


def _check(y, yt, X, Xt, rng, rtol=RTOL, atol=ATOL):
    oracle.assert_matches(y, yt, [(X, Xt)], rng, rtol, atol)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "weighted,ignore_index,smoothing,reduction",
    list(itertools.product([False, True], [-100, 1], [0.0, 0.25], ["none", "mean", "sum"])),
)
def test_cross_entropy_class_indices_matches_torch(shape, weighted, ignore_index, smoothing, reduction):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3
    t, C = _targets(rng, shape, ignore_index)
    w = rng.random(C) + 0.5 if weighted else None
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.cross_entropy(
        X,
        dn.Tensor(t),
        None if w is None else dn.Tensor(w),
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=smoothing,
    )
    yt = TF.cross_entropy(
        Xt,
        torch.tensor(t),
        None if w is None else torch.tensor(w),
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=smoothing,
    )
    _check(y, yt, X, Xt, rng)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "weighted,smoothing,reduction", list(itertools.product([False, True], [0.0, 0.3], ["none", "mean", "sum"]))
)
def test_cross_entropy_probability_targets_matches_torch(shape, weighted, smoothing, reduction):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 2
    cdim = 0 if len(shape) == 1 else 1
    q = rng.random(shape)
    q /= q.sum(axis=cdim, keepdims=True)
    C = shape[cdim]
    w = rng.random(C) + 0.5 if weighted else None
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.cross_entropy(X, q, None if w is None else w, reduction=reduction, label_smoothing=smoothing)
    yt = TF.cross_entropy(
        Xt, torch.tensor(q), None if w is None else torch.tensor(w), reduction=reduction, label_smoothing=smoothing
    )
    _check(y, yt, X, Xt, rng)


def test_cross_entropy_float32_and_extreme_logits():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((8, 10)) * 50).astype(np.float32)
    x[0, 3] = 1e4  # would overflow a naive exp
    t = rng.integers(0, 10, 8)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.cross_entropy(X, t)
    assert y.data.dtype == np.float32 and np.isfinite(y.data)
    _check(y, TF.cross_entropy(Xt, torch.tensor(t)), X, Xt, rng, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "weighted,ignore_index,reduction", list(itertools.product([False, True], [-100, 2], ["none", "mean", "sum"]))
)
def test_nll_loss_matches_torch(shape, weighted, ignore_index, reduction):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    t, C = _targets(rng, shape, ignore_index)
    w = rng.random(C) + 0.5 if weighted else None
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.nll_loss(X, t, None if w is None else dn.Tensor(w), ignore_index=ignore_index, reduction=reduction)
    yt = TF.nll_loss(
        Xt, torch.tensor(t), None if w is None else torch.tensor(w), ignore_index=ignore_index, reduction=reduction
    )
    _check(y, yt, X, Xt, rng)


def test_nll_loss_repeated_targets_accumulate():
    x = np.log(np.full((4, 3), 1 / 3))
    t = np.array([1, 1, 1, 0])
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _check(
        F.nll_loss(X, t, reduction="sum"),
        TF.nll_loss(Xt, torch.tensor(t), reduction="sum"),
        X,
        Xt,
        np.random.default_rng(4),
    )


def test_all_targets_ignored_mean_is_nan_like_torch():
    x = np.random.default_rng(5).standard_normal((3, 4))
    t = np.full(3, -100)
    yt = TF.cross_entropy(torch.tensor(x), torch.tensor(t))
    y = F.cross_entropy(dn.Tensor(x), t)
    assert np.isnan(yt.item()) and np.isnan(y.item())
    assert (
        F.cross_entropy(dn.Tensor(x), t, reduction="sum").item()
        == TF.cross_entropy(torch.tensor(x), torch.tensor(t), reduction="sum").item()
        == 0.0
    )


def test_legacy_size_average_and_reduce_flags():
    rng = np.random.default_rng(6)
    x, t = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    import warnings

    for sa, red in itertools.product([None, True, False], [None, True, False]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yt = TF.cross_entropy(torch.tensor(x), torch.tensor(t), size_average=sa, reduce=red)
            ym = TF.mse_loss(torch.tensor(x), torch.tensor(x[::-1].copy()), size_average=sa, reduce=red)
        y = F.cross_entropy(dn.Tensor(x), t, size_average=sa, reduce=red)
        np.testing.assert_allclose(y.data, yt.numpy(), rtol=RTOL, atol=ATOL)
        y = F.mse_loss(dn.Tensor(x), dn.Tensor(x[::-1].copy()), size_average=sa, reduce=red)
        np.testing.assert_allclose(y.data, ym.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_mse_loss_matches_torch(reduction, weighted):
    rng = np.random.default_rng(7)
    x, y_, w = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2)), rng.random((4, 3, 2))
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    Y, Yt = dn.Tensor(y_, requires_grad=True), torch.tensor(y_, requires_grad=True)
    out = F.mse_loss(X, Y, reduction=reduction, weight=dn.Tensor(w) if weighted else None)
    outt = TF.mse_loss(Xt, Yt, reduction=reduction, weight=torch.tensor(w) if weighted else None)
    _check(out, outt, X, Xt, rng)
    np.testing.assert_allclose(Y.grad, Yt.grad.numpy(), rtol=RTOL, atol=ATOL)  # the target's gradient too


def test_mse_loss_broadcasting_warns_like_torch():
    rng = np.random.default_rng(8)
    x, y_ = rng.standard_normal((4, 3)), rng.standard_normal(3)
    with pytest.warns(UserWarning):
        yt = TF.mse_loss(torch.tensor(x), torch.tensor(y_))
    with pytest.warns(UserWarning, match="mse_loss"):
        y = F.mse_loss(dn.Tensor(x), dn.Tensor(y_))
    np.testing.assert_allclose(y.data, yt.numpy(), rtol=RTOL)


def test_loss_modules_match_torch_and_share_state_dict_keys():
    rng = np.random.default_rng(9)
    w = rng.random(4) + 0.5
    x = rng.standard_normal((6, 4, 3))
    t = rng.integers(0, 4, (6, 3))
    pairs = [
        (
            nn.CrossEntropyLoss(weight=dn.Tensor(w), ignore_index=2, label_smoothing=0.1, reduction="sum"),
            torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=2, label_smoothing=0.1, reduction="sum"),
        ),
        (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()),
        (nn.NLLLoss(weight=w, reduction="none"), torch.nn.NLLLoss(weight=torch.tensor(w), reduction="none")),
    ]
    for m, tm in pairs:
        assert list(m.state_dict()) == list(tm.state_dict())
        assert repr(m) == repr(tm)
        X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        _check(m(X, t), tm(Xt, torch.tensor(t)), X, Xt, rng)
    m, tm = nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum")
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _check(m(X, x[::-1].copy()), tm(Xt, torch.tensor(x[::-1].copy())), X, Xt, rng)
    assert repr(m) == repr(tm)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(weight=[0.5, 2.0, 1.0], ignore_index=1),
        dict(label_smoothing=0.2, reduction="sum"),
        dict(reduction="none"),
    ],
)
def test_cross_entropy_gradcheck(kwargs):
    rng = np.random.default_rng(10)
    x = dn.Tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    t = rng.integers(0, 3, (4, 2))
    if "weight" in kwargs:
        kwargs = dict(kwargs, weight=dn.Tensor(np.array(kwargs["weight"])))
    assert gradcheck(lambda x: F.cross_entropy(x, t, **kwargs), [x])
    q = rng.random((4, 3, 2))
    assert gradcheck(lambda x: F.cross_entropy(x, q / q.sum(1, keepdims=True), label_smoothing=0.1), [x])


def test_nll_loss_gradcheck():
    rng = np.random.default_rng(11)
    x = dn.Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    t = np.array([0, 3, 3, -100, 1])
    assert gradcheck(lambda x: F.nll_loss(x, t, weight=np.array([1.0, 2.0, 0.5, 3.0])), [x])


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2, 3), (5,)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing,weighted", [(0.0, False), (0.2, True)])
def test_cross_entropy_probability_target_gradient_like_torch(shape, reduction, smoothing, weighted, rng):
    """A probability target that requires grad receives d loss / d q = -w logp, as in torch."""
    C = shape[0] if len(shape) == 1 else shape[1]
    xv = rng.standard_normal(shape)
    qv = rng.dirichlet(np.ones(C), size=int(np.prod(shape)) // C)
    qv = np.moveaxis(
        qv.reshape((shape[0],) + shape[2:] + (C,)) if len(shape) > 1 else qv.reshape(C), -1, min(1, len(shape) - 1)
    )
    wv = rng.uniform(0.5, 2.0, C) if weighted else None
    x, q = dn.tensor(xv, requires_grad=True), dn.tensor(qv, requires_grad=True)
    xt, qt = torch.tensor(xv, requires_grad=True), torch.tensor(qv, requires_grad=True)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    out = F.cross_entropy(x, q, weight=None if wv is None else dn.tensor(wv), **kw)
    ref = TF.cross_entropy(xt, qt, weight=None if wv is None else torch.tensor(wv), **kw)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(dn.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(q.grad.data, qt.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    # the module form too, and the target's dtype follows the input's
    q32 = dn.tensor(qv.astype(np.float32), requires_grad=True)
    nn.CrossEntropyLoss(**kw)(x, q32).sum().backward()
    assert q32.grad is not None and q32.grad.dtype == np.float32
