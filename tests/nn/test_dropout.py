"""Dropout: inverted scaling, identity in evaluation, kept-fraction statistics next to torch's,
gradient through the same mask, p = 0 and p = 1 as torch, reproducible under manual_seed."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_kept_fraction_and_scaling_match_torch(p):
    dn.manual_seed(0)
    torch.manual_seed(0)
    n = 200_000
    x = np.ones(n) * 3.0
    y = F.dropout(dn.Tensor(x), p, training=True).data
    yt = TF.dropout(torch.tensor(x), p, training=True).numpy()
    kept, kept_t = (y != 0).mean(), (yt != 0).mean()
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(kept - (1 - p)) < 5 * sigma
    assert abs(kept - kept_t) < 7 * sigma
    # inverted dropout: survivors are scaled by 1/(1-p), exactly as torch scales them
    np.testing.assert_allclose(np.unique(y[y != 0]), np.unique(yt[yt != 0]), rtol=1e-12)
    np.testing.assert_allclose(y[y != 0], 3.0 / (1 - p), rtol=1e-12)
    assert abs(y.mean() - 3.0) < 5 * 3.0 * math.sqrt(p / (1 - p) / n)  # expectation preserved


def test_dropout_elements_are_independent():
    dn.manual_seed(1)
    y = F.dropout(dn.ones(400, 500, dtype=np.float64), 0.5).data != 0
    # neighbouring elements are kept together about (1-p)^2 of the time
    both = (y[:, 1:] & y[:, :-1]).mean()
    assert abs(both - 0.25) < 5 * math.sqrt(0.25 * 0.75 / y[:, 1:].size)


def test_dropout_gradient_uses_the_same_mask():
    dn.manual_seed(2)
    x = dn.Tensor(np.random.default_rng(0).standard_normal((50, 40)), requires_grad=True)
    y = F.dropout(x, 0.3)
    y.sum().backward()
    mask = y.data / x.data
    np.testing.assert_allclose(x.grad, mask, rtol=1e-12)
    assert set(np.round(np.unique(mask), 12)) == {0.0, round(1 / 0.7, 12)}


def test_dropout_module_train_and_eval():
    m, tm = nn.Dropout(0.4), torch.nn.Dropout(0.4)
    assert repr(m) == repr(tm)
    x = dn.Tensor(np.random.default_rng(3).standard_normal((20, 30)))
    assert (m(x).data == 0).any()
    m.eval()
    np.testing.assert_array_equal(m(x).data, x.data)  # identity, no rescaling at test time
    m.train()
    assert (m(x).data == 0).any()
    np.testing.assert_array_equal(F.dropout(x, 0.4, training=False).data, x.data)


def test_dropout_extreme_probabilities_like_torch():
    x = np.random.default_rng(4).standard_normal((5, 6))
    np.testing.assert_array_equal(F.dropout(dn.Tensor(x), 0.0).data, TF.dropout(torch.tensor(x), 0.0).numpy())
    np.testing.assert_array_equal(F.dropout(dn.Tensor(x), 1.0).data, TF.dropout(torch.tensor(x), 1.0).numpy())


def test_dropout_is_reproducible_under_manual_seed():
    x = dn.ones(100, dtype=np.float64)
    dn.manual_seed(11)
    a = F.dropout(x, 0.5).data.copy()
    dn.manual_seed(11)
    b = F.dropout(x, 0.5).data.copy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5"])
def test_dropout_rejects_bad_probability(p):
    with pytest.raises(ValueError, match="Dropout.*probability"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="dropout.*probability"):
        F.dropout(dn.ones(2), p)
