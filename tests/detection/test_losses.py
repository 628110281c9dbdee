"""Detection losses against torchvision.ops / torch.nn.functional in float64, values and autograd."""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import deepnotes as dn
from deepnotes.autograd import gradcheck
from deepnotes.detection import (
    binary_cross_entropy_with_logits,
    complete_box_iou_loss,
    distance_box_iou_loss,
    generalized_box_iou_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
)

tv_giou = importlib.import_module("torchvision.ops.giou_loss")
tv_diou = importlib.import_module("torchvision.ops.diou_loss")
tv_ciou = importlib.import_module("torchvision.ops.ciou_loss")
tv_focal = importlib.import_module("torchvision.ops.focal_loss")

BOX_LOSSES = [
    (generalized_box_iou_loss, tv_giou.generalized_box_iou_loss),
    (distance_box_iou_loss, tv_diou.distance_box_iou_loss),
    (complete_box_iou_loss, tv_ciou.complete_box_iou_loss),
]
IDS = ["giou", "diou", "ciou"]


def T(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def box_pairs(rng, n, scale=5.0):
    """Pairs with overlapping, disjoint and nested configurations."""
    xy = rng.uniform(-scale, scale, (n, 2))
    wh = rng.uniform(0.3, scale, (n, 2))
    b1 = np.concatenate([xy, xy + wh], 1)
    shift = rng.uniform(-scale, scale, (n, 2))
    wh2 = rng.uniform(0.3, scale, (n, 2))
    b2 = np.concatenate([xy + shift, xy + shift + wh2], 1)
    b2[0] = [b1[0, 0] + 0.1, b1[0, 1] + 0.1, b1[0, 2] - 0.05, b1[0, 3] - 0.05]  # nested
    b2[1] = b1[1] + 3 * scale  # disjoint
    return b1, b2


# --------------------------------------------------------------------------- box losses
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("ours,ref", BOX_LOSSES, ids=IDS)
def test_box_losses_match_torchvision(rng, ours, ref, reduction):
    b1, b2 = box_pairs(rng, 12)
    np.testing.assert_allclose(
        ours(b1, b2, reduction=reduction), ref(T(b1), T(b2), reduction=reduction).numpy(), rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize("ours,ref", BOX_LOSSES, ids=IDS)
def test_box_losses_eps_and_single_box(rng, ours, ref):
    b1, b2 = box_pairs(rng, 3)
    np.testing.assert_allclose(ours(b1[0], b2[0], eps=1e-3), ref(T(b1[0]), T(b2[0]), eps=1e-3).numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("ours,ref", BOX_LOSSES, ids=IDS)
def test_box_loss_gradients_match_torch_autograd(rng, ours, ref, reduction):
    b1, b2 = box_pairs(rng, 8)
    x1, x2 = dn.tensor(b1, requires_grad=True), dn.tensor(b2, requires_grad=True)
    loss = ours(x1, x2, reduction=reduction)
    t1, t2 = T(b1, True), T(b2, True)
    r = ref(t1, t2, reduction=reduction)
    cot = np.random.default_rng(1).standard_normal(r.shape)
    loss.backward(dn.tensor(cot))
    r.backward(T(cot))
    np.testing.assert_allclose(loss.data, r.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x1.grad, t1.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x2.grad, t2.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ours", [generalized_box_iou_loss, distance_box_iou_loss], ids=IDS[:2])
def test_box_loss_gradcheck(rng, ours):
    # the CIoU loss treats alpha as a constant (torchvision), so only torch autograd can judge it
    b1, b2 = box_pairs(rng, 4)
    assert gradcheck(
        lambda a, b: ours(a, b, reduction="sum"), [dn.tensor(b1, requires_grad=True), dn.tensor(b2, requires_grad=True)]
    )


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 4)] * 8), min_size=1, max_size=6))
def test_box_losses_with_touching_and_identical_boxes(rows):
    """Integer coordinates: touching edges, shared corners, identical boxes (ties in max/min)."""
    r = np.array(rows, dtype=np.float64)
    b1 = np.stack([r[:, 0], r[:, 1], r[:, 0] + 1 + r[:, 2], r[:, 1] + 1 + r[:, 3]], 1)
    b2 = np.stack([r[:, 4], r[:, 5], r[:, 4] + 1 + r[:, 6], r[:, 5] + 1 + r[:, 7]], 1)
    b2[0] = b1[0]
    for ours, ref in BOX_LOSSES:
        x1, x2 = dn.tensor(b1, requires_grad=True), dn.tensor(b2, requires_grad=True)
        t1, t2 = T(b1, True), T(b2, True)
        loss, rl = ours(x1, x2, reduction="sum"), ref(t1, t2, reduction="sum")
        loss.backward()
        rl.backward()
        np.testing.assert_allclose(loss.data, rl.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(x1.grad, t1.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(x2.grad, t2.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_box_losses_empty_inputs():
    e = np.zeros((0, 4))
    for ours, ref in BOX_LOSSES:
        assert ours(e, e).shape == (0,)
        assert float(ours(e, e, reduction="mean")) == float(ref(T(e), T(e), reduction="mean")) == 0.0
        x = dn.tensor(e, requires_grad=True)
        loss = ours(x, e, reduction="mean")
        loss.backward()
        assert x.grad.shape == (0, 4)


def test_box_losses_reject_bad_input():
    good = np.array([[0.0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"generalized_box_iou_loss: boxes2\[0\] = .* has x2 < x1"):
        generalized_box_iou_loss(good, np.array([[1.0, 0, 0, 1]]))
    with pytest.raises(ValueError, match="distance_box_iou_loss: invalid reduction='avg'"):
        distance_box_iou_loss(good, good, reduction="avg")
    with pytest.raises(ValueError, match="complete_box_iou_loss: boxes1 .* broadcastable"):
        complete_box_iou_loss(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"generalized_box_iou_loss: expected boxes1 of shape \(\.\.\., 4\)"):
        generalized_box_iou_loss(np.zeros((2, 3)), good)


# --------------------------------------------------------------------------- focal loss and BCE
def logits_and_targets(rng, shape=(6, 5)):
    x = rng.standard_normal(shape) * 4
    x.flat[0], x.flat[1], x.flat[2] = 0.0, 60.0, -60.0  # exact zero and saturated logits
    t = (rng.random(shape) < 0.3).astype(np.float64)
    t.flat[3] = 0.7  # soft label
    return x, t


@pytest.mark.parametrize("alpha,gamma", [(0.25, 2), (-1, 2), (0.5, 0), (0.75, 1.5), (1.0, 3)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_sigmoid_focal_loss_matches_torchvision(rng, alpha, gamma, reduction):
    x, t = logits_and_targets(rng)
    ours = sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma, reduction=reduction)
    ref = tv_focal.sigmoid_focal_loss(T(x), T(t), alpha=alpha, gamma=gamma, reduction=reduction)
    # (1 - p_t) cancels for confident logits: last-bit differences of sigmoid grow to ~1e-11 relative
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("alpha,gamma", [(0.25, 2), (-1, 0), (0.75, 1.5)])
def test_sigmoid_focal_loss_gradients_match_torch(rng, alpha, gamma):
    x, t = logits_and_targets(rng)
    xx, tt = dn.tensor(x, requires_grad=True), dn.tensor(t, requires_grad=True)
    loss = sigmoid_focal_loss(xx, tt, alpha=alpha, gamma=gamma, reduction="sum")
    loss.backward()
    xr, tr = T(x, True), T(t, True)
    tv_focal.sigmoid_focal_loss(xr, tr, alpha=alpha, gamma=gamma, reduction="sum").backward()
    np.testing.assert_allclose(xx.grad, xr.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(tt.grad, tr.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_sigmoid_focal_loss_gradcheck(rng):
    x = rng.standard_normal((3, 4))
    t = (rng.random((3, 4)) < 0.5).astype(np.float64)
    assert gradcheck(
        lambda a, b: sigmoid_focal_loss(a, b, reduction="mean"),
        [dn.tensor(x, requires_grad=True), dn.tensor(t, requires_grad=True)],
    )


def test_focal_loss_down_weights_easy_examples():
    """Seed 002: with gamma = 2 a well-classified example (p_t = 0.9) costs 100x less than under BCE."""
    x = np.array([np.log(9.0)])  # sigmoid = 0.9
    t = np.array([1.0])
    ratio = sigmoid_focal_loss(x, t, alpha=-1, gamma=2) / binary_cross_entropy_with_logits(x, t, "none")
    np.testing.assert_allclose(ratio, 0.01, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_bce_with_logits_matches_torch(rng, reduction):
    x, t = logits_and_targets(rng)
    np.testing.assert_allclose(
        binary_cross_entropy_with_logits(x, t, reduction),
        F.binary_cross_entropy_with_logits(T(x), T(t), reduction=reduction).numpy(),
        rtol=1e-10,
        atol=1e-300,
    )  # torch uses log(1 + e^-|x|), we log1p
    xx = dn.tensor(x, requires_grad=True)
    binary_cross_entropy_with_logits(xx, t, reduction).sum().backward()
    xr = T(x, True)
    F.binary_cross_entropy_with_logits(xr, T(t), reduction=reduction).sum().backward()
    np.testing.assert_allclose(xx.grad, xr.grad.numpy(), rtol=1e-12, atol=1e-300)


def test_focal_loss_rejects_bad_input():
    x = np.zeros((2, 2))
    with pytest.raises(ValueError, match="sigmoid_focal_loss: alpha must be in \\[0, 1\\] or -1"):
        sigmoid_focal_loss(x, x, alpha=1.5)
    with pytest.raises(ValueError, match="sigmoid_focal_loss: invalid reduction='max'"):
        sigmoid_focal_loss(x, x, reduction="max")
    with pytest.raises(ValueError, match="sigmoid_focal_loss: inputs \\(2, 2\\) and targets \\(3,\\) do not"):
        sigmoid_focal_loss(x, np.zeros(3))
    with pytest.raises(TypeError, match="sigmoid_focal_loss: expected floating inputs"):
        sigmoid_focal_loss(np.zeros((2, 2), dtype=np.int64), x)


# --------------------------------------------------------------------------- smooth L1
@pytest.mark.parametrize("beta", [1.0, 0.5, 1 / 9, 0.0])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_smooth_l1_matches_torch(rng, beta, reduction):
    a = rng.standard_normal((5, 4)) * 2
    b = rng.standard_normal((5, 4))
    a[0, 0] = b[0, 0] + beta  # exactly on the switch point
    a[0, 1] = b[0, 1] - beta
    a[0, 2] = b[0, 2]  # zero difference
    x, y = dn.tensor(a, requires_grad=True), dn.tensor(b, requires_grad=True)
    loss = smooth_l1_loss(x, y, beta=beta, reduction=reduction)
    xr, yr = T(a, True), T(b, True)
    ref = F.smooth_l1_loss(xr, yr, beta=beta, reduction=reduction)
    np.testing.assert_allclose(loss.data, ref.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(smooth_l1_loss(a, b, beta=beta, reduction=reduction), ref.detach().numpy(), rtol=1e-13)
    cot = np.ones(ref.shape)
    loss.backward(dn.tensor(cot))
    ref.backward(T(cot))
    np.testing.assert_allclose(x.grad, xr.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(y.grad, yr.grad.numpy(), rtol=1e-13)


def test_smooth_l1_gradcheck_and_bad_input(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert gradcheck(
        lambda p, q: smooth_l1_loss(p, q, beta=0.7),
        [dn.tensor(a, requires_grad=True), dn.tensor(b, requires_grad=True)],
    )
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be non-negative, got -1"):
        smooth_l1_loss(a, b, beta=-1)
    with pytest.raises(ValueError, match="smooth_l1_loss: invalid reduction='avg'"):
        smooth_l1_loss(a, b, reduction="avg")
