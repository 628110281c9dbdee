"""Samplers against torch.utils.data (index sequences) and against their sampling distributions."""

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import deepnotes
from deepnotes.data import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

P_MIN = 1e-3  # chi-square tests: fixed seeds, so pass/fail is deterministic; a wrong law gives p ~ 0


def test_sampler_base_is_abstract():
    with pytest.raises(NotImplementedError):
        iter(Sampler())


@pytest.mark.parametrize("n", [0, 1, 5, 17])
def test_sequential_equals_torch(n):
    data = list(range(n))
    assert list(SequentialSampler(data)) == list(tud.SequentialSampler(data))
    assert len(SequentialSampler(data)) == len(tud.SequentialSampler(data))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 40), st.integers(1, 12), st.booleans())
def test_batch_sampler_equals_torch(n, batch_size, drop_last):
    data = list(range(n))
    ours = BatchSampler(SequentialSampler(data), batch_size, drop_last)
    ref = tud.BatchSampler(tud.SequentialSampler(data), batch_size, drop_last)
    assert list(ours) == list(ref)
    assert len(ours) == len(ref)
    # any iterable of indices works as the inner sampler
    perm = list(np.random.default_rng(n).permutation(n))
    assert list(BatchSampler(perm, batch_size, drop_last)) == list(tud.BatchSampler(perm, batch_size, drop_last))


@pytest.mark.parametrize("batch_size", [0, -1, True, 2.0, None, "4"])
def test_batch_sampler_rejects_bad_batch_size(batch_size):
    with pytest.raises(ValueError):
        tud.BatchSampler(range(4), batch_size, False)
    with pytest.raises(ValueError, match="BatchSampler: batch_size should be a positive integer"):
        BatchSampler(range(4), batch_size, False)


def test_batch_sampler_rejects_bad_drop_last():
    with pytest.raises(ValueError, match="BatchSampler: drop_last should be a boolean"):
        BatchSampler(range(4), 2, 1)
    assert list(BatchSampler(range(5), np.int64(2), False)) == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize("n, num_samples", [(1, None), (7, None), (7, 3), (7, 7), (7, 23)])
def test_random_sampler_without_replacement_blocks_are_permutations(n, num_samples):
    s = RandomSampler(range(n), num_samples=num_samples, generator=np.random.default_rng(0))
    ref = tud.RandomSampler(range(n), num_samples=num_samples)
    out = list(s)
    assert len(out) == len(s) == len(ref) == len(list(ref))
    assert all(isinstance(i, int) for i in out)
    for start in range(0, len(out), n):
        block = out[start : start + n]
        assert len(set(block)) == len(block) and set(block) <= set(range(n))
        if len(block) == n:
            assert sorted(block) == list(range(n))


def test_random_sampler_permutations_are_uniform():
    # all 4! = 24 orders of 4 elements appear with equal frequency
    s = RandomSampler(range(4), generator=np.random.default_rng(1))
    counts = {}
    for _ in range(4800):
        key = tuple(s)
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 24
    assert stats.chisquare(list(counts.values())).pvalue > P_MIN


def test_random_sampler_with_replacement_is_uniform():
    n = 10
    s = RandomSampler(range(n), replacement=True, num_samples=20000, generator=np.random.default_rng(2))
    out = np.array(list(s))
    assert out.shape == (20000,) and out.min() >= 0 and out.max() < n
    assert stats.chisquare(np.bincount(out, minlength=n)).pvalue > P_MIN
    # and torch's sampler passes the same test (the oracle of the law)
    torch.manual_seed(0)
    ref = np.array(list(tud.RandomSampler(range(n), replacement=True, num_samples=20000)))
    assert stats.chisquare(np.bincount(ref, minlength=n)).pvalue > P_MIN


def test_random_sampler_determinism():
    data = range(50)
    a = list(RandomSampler(data, generator=np.random.default_rng(5)))
    b = list(RandomSampler(data, generator=np.random.default_rng(5)))
    assert a == b
    s = RandomSampler(data)
    deepnotes.manual_seed(3)
    e1, e2 = list(s), list(s)
    assert e1 != e2  # each epoch draws a fresh order
    deepnotes.manual_seed(3)
    assert [list(s), list(s)] == [e1, e2]


@pytest.mark.parametrize(
    "kwargs, err",
    [
        (dict(replacement=1), TypeError),
        (dict(num_samples=0), ValueError),
        (dict(num_samples=-2), ValueError),
        (dict(num_samples=2.5), ValueError),
    ],
)
def test_random_sampler_errors_match_torch(kwargs, err):
    with pytest.raises(err):
        tud.RandomSampler(range(5), **kwargs)
    with pytest.raises(err, match="RandomSampler"):
        RandomSampler(range(5), **kwargs)


def test_random_sampler_rejects_empty_and_bad_generator():
    with pytest.raises(ValueError):
        tud.RandomSampler([])
    with pytest.raises(ValueError, match="RandomSampler: num_samples should be a positive integer"):
        RandomSampler([])
    with pytest.raises(TypeError, match="RandomSampler: generator"):
        RandomSampler(range(3), generator=42)


def test_subset_random_sampler():
    idx = [10, 3, 77, 5, 8]
    s = SubsetRandomSampler(idx, generator=np.random.default_rng(0))
    out = list(s)
    assert sorted(out) == sorted(idx) and len(s) == len(tud.SubsetRandomSampler(idx)) == 5
    assert out == list(SubsetRandomSampler(idx, generator=np.random.default_rng(0)))
    counts = np.zeros((5, 5))
    for _ in range(2500):
        for pos, v in enumerate(s):
            counts[pos, idx.index(v)] += 1
    # every index is equally likely at every position
    assert stats.chisquare(counts.ravel()).pvalue > P_MIN


def test_weighted_sampler_with_replacement_follows_weights():
    w = np.array([0.1, 0.0, 2.0, 1.0, 0.4, 3.5])
    n = 30000
    s = WeightedRandomSampler(w, n, generator=np.random.default_rng(7))
    out = np.array(list(s))
    assert len(s) == len(out) == n
    counts = np.bincount(out, minlength=w.size)
    assert counts[1] == 0
    keep = w > 0
    assert stats.chisquare(counts[keep], n * w[keep] / w.sum()).pvalue > P_MIN
    torch.manual_seed(0)
    ref = np.bincount(np.array(list(tud.WeightedRandomSampler(w.tolist(), n))), minlength=w.size)
    assert stats.chisquare(ref[keep], n * w[keep] / w.sum()).pvalue > P_MIN
    # a wrong law would fail the same test
    assert stats.chisquare(counts[keep], np.full(keep.sum(), n / keep.sum())).pvalue < P_MIN


def test_weighted_sampler_without_replacement_is_successive_sampling():
    # P(first = i, second = j) = p_i * p_j / (1 - p_i): draws one by one, renormalising over the rest
    w = np.array([1.0, 2.0, 3.0, 0.0])
    p = w / w.sum()
    s = WeightedRandomSampler(w, 2, replacement=False, generator=np.random.default_rng(3))
    trials = 6000
    pairs = np.zeros((4, 4))
    for _ in range(trials):
        i, j = list(s)
        pairs[i, j] += 1
    expected = p[:, None] * p[None, :] / (1 - p[:, None])
    np.fill_diagonal(expected, 0)
    mask = expected > 0
    assert pairs[~mask].sum() == 0
    assert stats.chisquare(pairs[mask], trials * expected[mask]).pvalue > P_MIN
    torch.manual_seed(1)
    ref = np.zeros((4, 4))
    rs = tud.WeightedRandomSampler(w.tolist(), 2, replacement=False)
    for _ in range(trials):
        i, j = list(rs)
        ref[i, j] += 1
    assert stats.chisquare(ref[mask], trials * expected[mask]).pvalue > P_MIN


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 10), min_size=1, max_size=8).filter(lambda v: sum(v) > 0), st.integers(0, 10**6))
def test_weighted_sampler_without_replacement_never_repeats(weights, seed):
    nonzero = sum(1 for v in weights if v > 0)
    out = list(WeightedRandomSampler(weights, nonzero, replacement=False, generator=np.random.default_rng(seed)))
    assert sorted(out) == sorted(i for i, v in enumerate(weights) if v > 0)


@pytest.mark.parametrize(
    "weights, num_samples, replacement, words",
    [
        ([1.0, 2.0], 0, True, "num_samples"),
        ([1.0, 2.0], 3, 1, "replacement"),
        ([[1.0, 2.0]], 3, True, "1d"),
        ([1.0, -2.0], 3, True, "non-negative"),
        ([0.0, 0.0], 3, True, "positive sum"),
        ([1.0, np.nan], 3, True, "finite"),
        ([1.0, 0.0, 1.0], 3, False, "without replacement"),
    ],
)
def test_weighted_sampler_errors(weights, num_samples, replacement, words):
    with pytest.raises(ValueError, match=f"WeightedRandomSampler.*{words}"):
        WeightedRandomSampler(weights, num_samples, replacement=replacement)
