"""nn.utils: gradient clipping against torch.nn.utils, weight penalties against their definitions."""

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes import nn
from deepnotes.nn.utils import clip_grad_norm_, clip_grad_value_, l1_penalty, l2_penalty


def _pairs(rng, scale=1.0):
    shapes = [(3, 4), (5,), (2, 2, 3)]
    ours, theirs = [], []
    for s in shapes:
        w = rng.standard_normal(s)
        g = rng.standard_normal(s) * scale
        p = nn.Parameter(w.copy())
        p.grad = g.copy()
        t = torch.tensor(w, requires_grad=True)
        t.grad = torch.tensor(g)
        ours.append(p)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 100.0])
@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, float("inf")])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    ours, theirs = _pairs(np.random.default_rng(0), scale=3.0)
    n_ours = clip_grad_norm_(ours, max_norm, norm_type)
    n_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(n_ours.item(), n_theirs.item(), rtol=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_clip_grad_norm_nonfinite_and_bad_args():
    ours, _ = _pairs(np.random.default_rng(1))
    ours[0].grad[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm must be a non-negative number"):
        clip_grad_norm_(ours, -1.0)
    assert clip_grad_norm_([nn.Parameter(np.zeros(2))], 1.0).item() == 0.0  # no gradients at all


@pytest.mark.parametrize("value", [0.0, 0.5, 2.0])
def test_clip_grad_value_matches_torch(value):
    ours, theirs = _pairs(np.random.default_rng(2))
    clip_grad_value_(ours, value)
    torch.nn.utils.clip_grad_value_(theirs, value)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())
    with pytest.raises(ValueError, match="clip_value must be a non-negative number"):
        clip_grad_value_(ours, -0.1)


def test_penalties_and_their_gradients():
    rng = np.random.default_rng(3)
    ws = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    ps = [dn.tensor(w, requires_grad=True) for w in ws]
    l1 = l1_penalty(ps, weight=0.1)
    l2 = l2_penalty(ps, weight=0.01)
    np.testing.assert_allclose(l1.item(), 0.1 * sum(np.abs(w).sum() for w in ws), rtol=1e-12)
    np.testing.assert_allclose(l2.item(), 0.005 * sum((w * w).sum() for w in ws), rtol=1e-12)
    (l1 + l2).backward()
    for p, w in zip(ps, ws):
        np.testing.assert_allclose(p.grad, 0.1 * np.sign(w) + 0.01 * w, rtol=1e-12)
    with pytest.raises(ValueError, match="at least one parameter"):
        l1_penalty([])
