"""l1, smooth L1, Huber, BCE, BCE-with-logits, KL divergence, balanced cross entropy, sigmoid and softmax
focal losses and the label-smoothing target transform, functional and modules, against torch /
torchvision: every reduction, weights, pos_weight, log_target; values and gradients w.r.t. input and
target; hypothesis-drawn shapes including empty ones; numerical gradient checks; bad input."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops.focal_loss import sigmoid_focal_loss as tv_sigmoid_focal_loss

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn
from deepnotes.autograd import gradcheck

import _oracle as oracle

RTOL, ATOL = 1e-6, 1e-10
REDUCTIONS = ["none", "mean", "sum"]


def _run(fn, fn_t, arrays, grads, rng, rtol=RTOL, atol=ATOL, **kw):
    """fn(*arrays, **kw) vs fn_t: values, then gradients of the arrays flagged in ``grads``."""
    dins = [dn.Tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    tins = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    y, yt = fn(*dins, **kw), fn_t(*tins, **kw)
    assert isinstance(y, dn.Tensor)
    oracle.assert_close(y, yt, rtol, atol)
    if any(grads) and yt.requires_grad:
        oracle.backward_pair(y, yt, rng)
        oracle.assert_grads_close([(a, b) for a, b, g in zip(dins, tins, grads) if g], rtol, atol)
    return y


# --------------------------------------------------------------------------- regression losses
@pytest.mark.parametrize("reduction,weighted", list(itertools.product(REDUCTIONS, [False, True])))
def test_l1_loss_matches_torch(reduction, weighted):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    t[0, :2] = x[0, :2]  # zero differences: gradient sign(0) = 0
    arrays = [x, t] + ([rng.random((4, 5))] if weighted else [])
    fn = lambda a, b, w=None, **kw: F.l1_loss(a, b, weight=w, **kw)  # noqa: E731
    fn_t = lambda a, b, w=None, **kw: TF.l1_loss(a, b, weight=w, **kw)  # noqa: E731
    _run(fn, fn_t, arrays, [True, True, False][: len(arrays)], rng, reduction=reduction)


@pytest.mark.parametrize("reduction,beta", list(itertools.product(REDUCTIONS, [0.0, 0.5, 1.0, 2.0])))
def test_smooth_l1_loss_matches_torch(reduction, beta):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((6, 3)) * 2, rng.standard_normal((6, 3))
    t[0, 0] = x[0, 0] - beta  # |d| == beta exactly: the linear branch
    t[1, 0] = x[1, 0]
    _run(F.smooth_l1_loss, TF.smooth_l1_loss, [x, t], [True, True], rng, reduction=reduction, beta=beta)
    y = nn.SmoothL1Loss(reduction=reduction, beta=beta)(dn.Tensor(x), dn.Tensor(t))
    yt = torch.nn.SmoothL1Loss(reduction=reduction, beta=beta)(torch.tensor(x), torch.tensor(t))
    np.testing.assert_allclose(y.data, yt.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "reduction,delta,weighted", list(itertools.product(REDUCTIONS, [0.3, 1.0, 2.5], [False, True]))
)
def test_huber_loss_matches_torch(reduction, delta, weighted):
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((5, 4)) * 2, rng.standard_normal((5, 4))
    t[0, 0] = x[0, 0] + delta
    w = rng.random((5, 4)) if weighted else None
    fn = lambda a, b, **kw: F.huber_loss(a, b, weight=None if w is None else dn.Tensor(w), **kw)  # noqa: E731
    fn_t = lambda a, b, **kw: TF.huber_loss(a, b, weight=None if w is None else torch.tensor(w), **kw)  # noqa
    _run(fn, fn_t, [x, t], [True, True], rng, reduction=reduction, delta=delta)
    y = nn.HuberLoss(reduction=reduction, delta=delta)(dn.Tensor(x), dn.Tensor(t))
    yt = torch.nn.HuberLoss(reduction=reduction, delta=delta)(torch.tensor(x), torch.tensor(t))
    np.testing.assert_allclose(y.data, yt.numpy(), rtol=RTOL, atol=ATOL)


def test_regression_losses_broadcast_with_a_warning_like_torch():
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal(3)
    for fn, fn_t in ((F.l1_loss, TF.l1_loss), (F.smooth_l1_loss, TF.smooth_l1_loss), (F.huber_loss, TF.huber_loss)):
        with pytest.warns(UserWarning):
            yt = fn_t(torch.tensor(x), torch.tensor(t))
        with pytest.warns(UserWarning, match=fn.__name__):
            y = fn(dn.Tensor(x), dn.Tensor(t))
        np.testing.assert_allclose(y.data, yt.numpy(), rtol=RTOL)


# --------------------------------------------------------------------------- binary cross entropy
@pytest.mark.parametrize("reduction,weight", list(itertools.product(REDUCTIONS, [None, "full", "row"])))
def test_binary_cross_entropy_matches_torch(reduction, weight):
    rng = np.random.default_rng(4)
    p = rng.uniform(0.02, 0.98, (5, 4))
    t = rng.random((5, 4))
    t[0] = [0.0, 1.0, 0.0, 1.0]
    w = None if weight is None else rng.random((5, 4) if weight == "full" else 4) + 0.5
    arrays = [p, t] + ([w] if w is not None else [])
    _run(
        F.binary_cross_entropy,
        TF.binary_cross_entropy,
        arrays,
        [True, True, False][: len(arrays)],
        rng,
        reduction=reduction,
    )
    m = nn.BCELoss(weight=None if w is None else dn.Tensor(w), reduction=reduction)
    tm = torch.nn.BCELoss(weight=None if w is None else torch.tensor(w), reduction=reduction)
    assert list(m.state_dict()) == list(tm.state_dict()) and repr(m) == repr(tm)
    np.testing.assert_allclose(
        m(dn.Tensor(p), dn.Tensor(t)).data, tm(torch.tensor(p), torch.tensor(t)).numpy(), rtol=RTOL, atol=ATOL
    )


def test_binary_cross_entropy_at_0_and_1_clamps_like_torch():
    """log is clamped at -100 in the value; the input gradient divides by max(x(1-x), 1e-12), as torch."""
    rng = np.random.default_rng(5)
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-20])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.3, 0.7])
    _run(F.binary_cross_entropy, TF.binary_cross_entropy, [p, t], [True, False], rng, reduction="none")
    # the target gradient log(1 - x) - log(x) is infinite at x = 0 or 1 in torch as well
    _run(F.binary_cross_entropy, TF.binary_cross_entropy, [p[4:], t[4:]], [True, True], rng, reduction="sum")


@pytest.mark.parametrize(
    "reduction,weighted,pos_weighted", list(itertools.product(REDUCTIONS, [False, True], [False, True]))
)
def test_binary_cross_entropy_with_logits_matches_torch(reduction, weighted, pos_weighted):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((6, 4)) * 3
    x[0] = [1e4, -1e4, 40.0, -40.0]  # stays finite and exact for huge logits
    t = rng.random((6, 4))
    t[1] = [0.0, 1.0, 1.0, 0.0]
    w = rng.random(4) + 0.5 if weighted else None
    pw = rng.random(4) * 3 if pos_weighted else None

    def fn(a, b, **kw):
        return F.binary_cross_entropy_with_logits(
            a, b, None if w is None else dn.Tensor(w), pos_weight=None if pw is None else dn.Tensor(pw), **kw
        )

    def fn_t(a, b, **kw):
        return TF.binary_cross_entropy_with_logits(
            a, b, None if w is None else torch.tensor(w), pos_weight=None if pw is None else torch.tensor(pw), **kw
        )

    y = _run(fn, fn_t, [x, t], [True, True], rng, reduction=reduction)
    assert np.isfinite(y.data).all()
    m = nn.BCEWithLogitsLoss(weight=w, reduction=reduction, pos_weight=pw)
    tm = torch.nn.BCEWithLogitsLoss(
        weight=None if w is None else torch.tensor(w),
        reduction=reduction,
        pos_weight=None if pw is None else torch.tensor(pw),
    )
    assert list(m.state_dict()) == list(tm.state_dict())
    np.testing.assert_allclose(
        m(dn.Tensor(x), dn.Tensor(t)).data, tm(torch.tensor(x), torch.tensor(t)).numpy(), rtol=RTOL, atol=ATOL
    )


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=3),
    reduction=st.sampled_from(["none", "sum", "mean"]),
    seed=st.integers(0, 2**16),
)
def test_elementwise_losses_hypothesis(shape, reduction, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    x, t = rng.standard_normal(shape), rng.random(shape)
    p = rng.uniform(0.05, 0.95, shape)
    cases = [
        (F.l1_loss, TF.l1_loss, [x, t]),
        (F.smooth_l1_loss, TF.smooth_l1_loss, [x, t]),
        (F.huber_loss, TF.huber_loss, [x, t]),
        (F.binary_cross_entropy, TF.binary_cross_entropy, [p, t]),
        (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, [x, t]),
    ]
    for fn, fn_t, arrays in cases:
        y = _run(fn, fn_t, arrays, [True, True], rng, reduction=reduction)
        if reduction == "mean" and not x.size:
            assert np.isnan(y.data)  # torch's mean of nothing


# --------------------------------------------------------------------------- KL divergence
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "reduction,log_target", list(itertools.product(["none", "batchmean", "sum", "mean"], [False, True]))
)
def test_kl_div_matches_torch(reduction, log_target):
    rng = np.random.default_rng(8)
    x = np.log(rng.dirichlet(np.ones(5), size=4))
    q = rng.dirichlet(np.ones(5), size=4)
    t = np.log(q) if log_target else q
    _run(F.kl_div, TF.kl_div, [x, t], [True, True], rng, reduction=reduction, log_target=log_target)
    m, tm = (
        nn.KLDivLoss(reduction=reduction, log_target=log_target),
        torch.nn.KLDivLoss(reduction=reduction, log_target=log_target),
    )
    np.testing.assert_allclose(
        m(dn.Tensor(x), dn.Tensor(t)).data, tm(torch.tensor(x), torch.tensor(t)).numpy(), rtol=RTOL, atol=ATOL
    )


def test_kl_div_zero_targets_and_mean_warning():
    rng = np.random.default_rng(9)
    x = np.log(rng.dirichlet(np.ones(4), size=3))
    t = rng.dirichlet(np.ones(4), size=3)
    t[0, 1] = 0.0  # 0 log 0 = 0: no NaN in the value
    y = _run(F.kl_div, TF.kl_div, [x, t], [True, False], rng, reduction="batchmean")
    assert np.isfinite(y.data)
    T, Tt = dn.Tensor(t, requires_grad=True), torch.tensor(t, requires_grad=True)
    F.kl_div(dn.Tensor(x), T, reduction="sum").backward()
    TF.kl_div(torch.tensor(x), Tt, reduction="sum").backward()
    np.testing.assert_allclose(T.grad, Tt.grad.numpy(), rtol=RTOL, atol=ATOL)  # NaN where t = 0, as torch
    with pytest.warns(UserWarning, match=r"kl_div: reduction='mean' divides the total loss by both"):
        F.kl_div(dn.Tensor(x), dn.Tensor(t))
    assert F.kl_div(dn.zeros(2, 0), dn.zeros(2, 0), reduction="batchmean").item() == 0.0


# --------------------------------------------------------------------------- balanced CE and focal losses
def _torch_balanced(x, t, alpha, reduction):
    loss = -(alpha * t * TF.logsigmoid(x) + (1 - alpha) * (1 - t) * TF.logsigmoid(-x))
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


@pytest.mark.parametrize("reduction,alpha", list(itertools.product(REDUCTIONS, [None, 0.75, 0.0, 1.0])))
def test_balanced_cross_entropy_matches_torch(reduction, alpha):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((5, 6)) * 2
    t = (rng.random((5, 6)) < 0.2).astype(np.float64)  # imbalanced: about 20% positives
    a = 1 - t.mean() if alpha is None else alpha  # #neg / #total, alpha/(1-alpha) = #neg/#pos
    _run(
        lambda u, v, **kw: F.balanced_cross_entropy(u, v, alpha=alpha, **kw),
        lambda u, v, **kw: _torch_balanced(u, v, a, **kw),
        [x, t],
        [True, False],
        rng,
        reduction=reduction,
    )
    m = nn.BalancedCrossEntropyLoss(alpha=alpha, reduction=reduction)
    np.testing.assert_allclose(
        m(dn.Tensor(x), dn.Tensor(t)).data,
        _torch_balanced(torch.tensor(x), torch.tensor(t), a, reduction).numpy(),
        rtol=RTOL,
        atol=ATOL,
    )
    if alpha is None:  # both classes then carry the same total weight
        lpos = F.balanced_cross_entropy(dn.Tensor(np.zeros_like(x)), dn.Tensor(t), reduction="none").data
        np.testing.assert_allclose(lpos[t == 1].sum(), lpos[t == 0].sum(), rtol=1e-12)


@pytest.mark.parametrize(
    "reduction,alpha,gamma",
    [("none", 0.25, 2), ("mean", 0.25, 2), ("sum", 0.5, 1), ("mean", -1, 2), ("sum", 0.25, 0), ("none", 0.9, 3.5)],
)
def test_sigmoid_focal_loss_matches_torchvision(reduction, alpha, gamma):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 3)) * 3
    t = (rng.random((8, 3)) < 0.3).astype(np.float64)
    _run(
        F.sigmoid_focal_loss,
        tv_sigmoid_focal_loss,
        [x, t],
        [True, False],
        rng,
        alpha=alpha,
        gamma=gamma,
        reduction=reduction,
    )
    m = nn.SigmoidFocalLoss(alpha=alpha, gamma=gamma, reduction=reduction)
    np.testing.assert_allclose(
        m(dn.Tensor(x), dn.Tensor(t)).data,
        tv_sigmoid_focal_loss(torch.tensor(x), torch.tensor(t), alpha, gamma, reduction).numpy(),
        rtol=RTOL,
        atol=ATOL,
    )
    assert nn.SigmoidFocalLoss().reduction == "mean" and nn.SigmoidFocalLoss().alpha == 0.25


def _torch_softmax_focal(x, t, gamma, alpha, reduction, ignore_index=-100):
    logp = TF.log_softmax(x, dim=1 if x.ndim > 1 else 0)
    valid = t != ignore_index
    tt = torch.where(valid, t, torch.zeros_like(t))
    if x.ndim == 1:
        logpt = logp[tt]
    else:
        logpt = logp.gather(1, tt.unsqueeze(1)).squeeze(1)
    a = torch.ones_like(logpt) if alpha is None else torch.as_tensor(alpha, dtype=x.dtype)[tt]
    loss = -a * (1 - logpt.exp()) ** gamma * logpt * valid
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / valid.sum()


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3), (5,)])
@pytest.mark.parametrize(
    "reduction,gamma,alpha,ignore",
    [
        ("mean", 2.0, None, False),
        ("sum", 0.5, "class", True),
        ("none", 2.0, "class", True),
        ("mean", 0.0, None, False),
        ("mean", 1.5, 0.25, True),
    ],
)
def test_softmax_focal_loss_matches_torch(shape, reduction, gamma, alpha, ignore):
    rng = np.random.default_rng(12)
    C = shape[0] if len(shape) == 1 else shape[1]
    x = rng.standard_normal(shape) * 2
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, C, tshape)
    if ignore and t.ndim:
        t.reshape(-1)[::3] = 1
    a = rng.random(C) + 0.5 if alpha == "class" else alpha
    a_t = None if a is None else (np.full(C, a) if np.ndim(a) == 0 else a)
    ii = 1 if ignore else -100
    _run(
        lambda u, **kw: F.softmax_focal_loss(u, t, gamma, a, ignore_index=ii, **kw),
        lambda u, **kw: _torch_softmax_focal(u, torch.tensor(t), gamma, a_t, ignore_index=ii, **kw),
        [x],
        [True],
        rng,
        reduction=reduction,
    )
    if gamma == 0.0 and alpha is None:  # gamma = 0 without weights is cross entropy
        np.testing.assert_allclose(
            F.softmax_focal_loss(dn.Tensor(x), t, 0.0).data,
            TF.cross_entropy(torch.tensor(x), torch.tensor(t)).numpy(),
            rtol=RTOL,
        )
    m = nn.SoftmaxFocalLoss(gamma, alpha=a, reduction=reduction, ignore_index=ii)
    np.testing.assert_allclose(
        m(dn.Tensor(x), t).data,
        _torch_softmax_focal(torch.tensor(x), torch.tensor(t), gamma, a_t, reduction, ii).numpy(),
        rtol=RTOL,
        atol=ATOL,
    )


# --------------------------------------------------------------------------- label smoothing
@pytest.mark.parametrize(
    "shape,eps,reduction",
    [
        ((6, 5), 0.1, "mean"),
        ((3, 4, 2, 3), 0.3, "none"),
        ((5,), 0.2, "sum"),
        ((4, 3), 0.0, "mean"),
        ((4, 3), 1.0, "sum"),
    ],
)
def test_smooth_labels_equals_cross_entropy_label_smoothing(shape, eps, reduction):
    rng = np.random.default_rng(13)
    C = shape[0] if len(shape) == 1 else shape[1]
    x = rng.standard_normal(shape)
    t = rng.integers(0, C, () if len(shape) == 1 else (shape[0],) + shape[2:])
    q = F.smooth_labels(t, C, eps, dtype=dn.float64)
    assert q.shape == shape and q.data.dtype == np.float64
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.cross_entropy(X, q, reduction=reduction)
    yt = TF.cross_entropy(Xt, torch.tensor(t), reduction=reduction, label_smoothing=eps)
    oracle.assert_matches(y, yt, [(X, Xt)], rng, RTOL, ATOL)
    # probability targets: smoothing a one-hot distribution gives the same transform
    np.testing.assert_allclose(
        F.smooth_labels(F.smooth_labels(t, C, 0.0, dtype=dn.float64), C, eps).data, q.data, rtol=1e-6
    )


# --------------------------------------------------------------------------- gradchecks and errors
def test_new_loss_primitives_gradcheck():
    rng = np.random.default_rng(14)
    p = dn.Tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    t = dn.Tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"), [p, t])
    x = dn.Tensor(np.log(rng.dirichlet(np.ones(4), size=3)), requires_grad=True)
    q = dn.Tensor(rng.dirichlet(np.ones(4), size=3), requires_grad=True)
    assert gradcheck(lambda a, b: F.kl_div(a, b, reduction="none"), [x, q])
    z = dn.Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    pw = dn.Tensor(rng.random(3) * 2, requires_grad=True)
    tt = dn.Tensor(rng.random((5, 3)))
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, tt, pos_weight=b, reduction="none"), [z, pw])
    assert gradcheck(
        lambda a: F.softmax_focal_loss(a, np.array([0, 2, 1, 1, 0]), 1.5, [0.2, 0.5, 0.3], reduction="none"), [z]
    )


def test_loss_extra_bad_input():
    x = dn.zeros(3, 4)
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy: all elements of input must be probabilities in "
        r"\[0, 1\], got values in \[-0.5, 2.0\]",
    ):
        F.binary_cross_entropy(dn.Tensor([[-0.5, 2.0]]), dn.Tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: expected a target of the input's shape"):
        F.binary_cross_entropy(dn.full((2, 3), 0.5), dn.zeros(3))
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy_with_logits: target size must be the same as "
        r"input size, got target shape \(4,\), input shape \(3, 4\)",
    ):
        F.binary_cross_entropy_with_logits(x, dn.zeros(4))
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy_with_logits: pos_weight of shape \(3,\) does not "
        r"broadcast to the input shape \(3, 4\)",
    ):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=dn.ones(3))
    with pytest.raises(ValueError, match=r"huber_loss: delta must be a positive number, got 0"):
        F.huber_loss(x, x, delta=0)
    with pytest.raises(ValueError, match=r"smooth_l1_loss: beta must be non-negative, got -1"):
        F.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(ValueError, match=r"l1_loss: reduction must be one of"):
        F.l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match=r"l1_loss: weight must have the input's shape \(3, 4\), got \(4,\)"):
        F.l1_loss(x, x, weight=dn.ones(4))
    with pytest.raises(ValueError, match=r"kl_div: reduction must be one of \('none', 'batchmean'"):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(
        ValueError,
        match=r"balanced_cross_entropy: alpha must be a number in \[0, 1\] or None, "
        r"got 1.5",
    ):
        F.balanced_cross_entropy(x, x, alpha=1.5)
    with pytest.raises(ValueError, match=r"sigmoid_focal_loss: alpha must be in \[0, 1\] or -1"):
        F.sigmoid_focal_loss(x, x, alpha=2.0)
    with pytest.raises(ValueError, match=r"softmax_focal_loss: gamma must be a non-negative number, got -1"):
        F.softmax_focal_loss(x, np.zeros(3, dtype=np.int64), gamma=-1)
    with pytest.raises(IndexError, match=r"softmax_focal_loss: target label 4 is out of range for 4 classes"):
        F.softmax_focal_loss(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"softmax_focal_loss: weight must hold one value per class, shape \(4,\)"):
        F.softmax_focal_loss(x, np.array([0, 1, 1]), alpha=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"smooth_labels: eps must be a number in \[0, 1\], got 1.5"):
        F.smooth_labels(np.array([0, 1]), 3, eps=1.5)
    with pytest.raises(IndexError, match=r"smooth_labels: class values must be in \[0, 3\), got range \[0, 3\]"):
        F.smooth_labels(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"smooth_labels: probability targets need 3 classes along dim 1"):
        F.smooth_labels(np.zeros((2, 4)), 3)
    with pytest.raises(ValueError, match=r"KLDivLoss: reduction must be 'none', 'batchmean', 'sum' or 'mean'"):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"HuberLoss: delta must be positive, got -2"):
        nn.HuberLoss(delta=-2)
    with pytest.raises(ValueError, match=r"SoftmaxFocalLoss: gamma must be non-negative"):
        nn.SoftmaxFocalLoss(gamma=-0.5)
