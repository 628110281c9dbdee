"""Embedding (module and functional) against torch: looked-up values and weight gradients with repeated
indices, padding_idx (positive and negative), scale_grad_by_freq, max_norm renormalisation, empty and
0-d index tensors; initialisation, from_pretrained, state_dict and bad arguments."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn

import _oracle as oracle

RTOL, ATOL = 1e-6, 1e-12


def _run(weight, idx, rng, **kwargs):
    """Our and torch's embedding on copies of ``weight``; compares outputs, weight gradients and the
    (possibly renormalised) weights."""
    W = dn.Tensor(weight.copy(), requires_grad=True)
    Wt = torch.tensor(weight.copy(), requires_grad=True)
    y = F.embedding(dn.Tensor(idx), W, **kwargs)
    yt = TF.embedding(torch.tensor(idx), Wt, **kwargs)
    oracle.assert_matches(y, yt, [(W, Wt)], rng, RTOL, ATOL)
    oracle.assert_close(W, Wt, RTOL, ATOL, what="weights after renormalisation")
    return y


@pytest.mark.parametrize(
    "idx",
    [
        np.array([[1, 2, 1], [0, 4, 1]]),
        np.array([3, 3, 3, 3]),
        np.array(2),
        np.zeros((0,), dtype=np.int64),
        np.zeros((2, 0), dtype=np.int64),
        np.arange(5, dtype=np.int32),
    ],
)
@pytest.mark.parametrize("padding_idx", [None, 1, -1, 0])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_embedding_matches_torch(idx, padding_idx, scale_grad_by_freq):
    rng = np.random.default_rng(0)
    _run(rng.standard_normal((5, 3)), idx, rng, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)


@pytest.mark.parametrize("max_norm,norm_type", [(1.0, 2.0), (0.5, 1.0), (0.8, float("inf")), (10.0, 2.0), (1.2, 3.0)])
def test_embedding_max_norm_renormalises_like_torch(max_norm, norm_type):
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((6, 4)) * 2
    y = _run(weight, np.array([[0, 2, 2], [5, 0, 1]]), rng, max_norm=max_norm, norm_type=norm_type)
    assert y.shape == (2, 3, 4)


@settings(max_examples=30, deadline=None)
@given(
    num=st.integers(1, 6),
    dim=st.integers(0, 4),
    shape=st.lists(st.integers(0, 3), min_size=0, max_size=3),
    pad=st.one_of(st.none(), st.integers(-6, 5)),
    freq=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_embedding_hypothesis(num, dim, shape, pad, freq, seed):
    rng = np.random.default_rng(seed)
    if pad is not None and not -num <= pad < num:
        pad = None
    idx = rng.integers(0, num, size=tuple(shape))
    _run(rng.standard_normal((num, dim)), idx, rng, padding_idx=pad, scale_grad_by_freq=freq)


def test_module_matches_torch_and_initialises_like_it():
    rng = np.random.default_rng(2)
    m = nn.Embedding(7, 3, padding_idx=-2, dtype=np.float64)
    tm = torch.nn.Embedding(7, 3, padding_idx=-2, dtype=torch.float64)
    assert repr(m) == repr(tm)
    assert m.padding_idx == tm.padding_idx == 5
    np.testing.assert_array_equal(m.weight.data[5], np.zeros(3))
    assert list(m.state_dict()) == list(tm.state_dict())
    m.load_state_dict(tm.state_dict())
    idx = np.array([[5, 1, 6], [0, 5, 1]])
    y, yt = m(dn.Tensor(idx)), tm(torch.tensor(idx))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    cot = rng.standard_normal(y.shape)
    (y * dn.Tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(m.weight.grad, tm.weight.grad.numpy(), rtol=RTOL, atol=ATOL)
    big = nn.Embedding(400, 250)  # N(0, 1) entries, as torch's normal_ initialisation
    assert abs(big.weight.data.mean()) < 0.01 and abs(big.weight.data.std() - 1) < 0.01


@pytest.mark.parametrize(
    "kwargs",
    [dict(max_norm=1.5), dict(norm_type=1.0, max_norm=2.0), dict(scale_grad_by_freq=True), dict(padding_idx=0)],
)
def test_module_repr_matches_torch(kwargs):
    assert repr(nn.Embedding(4, 2, **kwargs)) == repr(torch.nn.Embedding(4, 2, **kwargs))


def test_from_pretrained_freezes_and_copies():
    w = np.arange(12, dtype=np.float64).reshape(4, 3)
    m = nn.Embedding.from_pretrained(dn.Tensor(w))
    tm = torch.nn.Embedding.from_pretrained(torch.tensor(w))
    assert m.weight.requires_grad == tm.weight.requires_grad is False
    np.testing.assert_array_equal(m(dn.Tensor(np.array([3, 0]))).data, tm(torch.tensor([3, 0])).numpy())
    w[0, 0] = 100.0  # a copy: later changes to the source do not leak
    assert m.weight.data[0, 0] == 0.0
    m2 = nn.Embedding.from_pretrained(w, freeze=False, padding_idx=1)
    assert m2.weight.requires_grad and m2.padding_idx == 1


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (
            lambda: nn.Embedding(5, 2, padding_idx=5),
            ValueError,
            "Embedding: padding_idx=5 must be within num_embeddings=5",
        ),
        (lambda: nn.Embedding(5, 2, padding_idx=-6), ValueError, "Embedding: padding_idx=-6 must be within"),
        (
            lambda: F.embedding(dn.Tensor(np.array([0])), dn.randn(3, 2), padding_idx=3),
            ValueError,
            "embedding: padding_idx=3 must be within num_embeddings=3",
        ),
        (
            lambda: F.embedding(dn.Tensor(np.array([0.0])), dn.randn(3, 2)),
            TypeError,
            "embedding: expected integer indices",
        ),
        (
            lambda: F.embedding(dn.Tensor(np.array([0, 3])), dn.randn(3, 2)),
            IndexError,
            "embedding: index 3 is out of range for 3 embeddings",
        ),
        (lambda: F.embedding(dn.Tensor(np.array([-1])), dn.randn(3, 2)), IndexError, "index -1 is out of range"),
        (lambda: F.embedding(dn.Tensor(np.array([0])), dn.randn(3)), ValueError, "embedding: weight must be 2-D"),
        (lambda: nn.Embedding(3, 2, sparse=True), ValueError, "sparse=True"),
        (lambda: nn.Embedding(3, 2, _weight=np.zeros((2, 2))), ValueError, r"_weight has shape \(2, 2\)"),
        (lambda: nn.Embedding.from_pretrained(np.zeros(3)), ValueError, "embeddings must be 2-D"),
        (lambda: nn.Embedding(-1, 2), ValueError, "num_embeddings must be a non-negative int"),
    ],
)
def test_bad_arguments_raise(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_gradcheck_embedding():
    """The plain lookup's gradient is the true derivative (padding_idx and scale_grad_by_freq alter it on
    purpose, so they are compared with torch above instead)."""
    from deepnotes.autograd import gradcheck

    rng = np.random.default_rng(3)
    idx = dn.Tensor(np.array([[0, 2, 2], [3, 0, 1]]))
    w = dn.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.embedding(idx, t), [w])
