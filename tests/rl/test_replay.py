"""deepnotes.rl.ReplayBuffer: ring order, uniform sampling without replacement, shapes, dtypes, errors."""

import itertools

import numpy as np
import pytest
from scipy import stats

from deepnotes.rl import ReplayBuffer, Transitions


def _fill(buffer, n, start=0):
    for i in range(start, start + n):
        buffer.push(np.full(buffer.obs_shape, i), i % 2, float(i), np.full(buffer.obs_shape, i + 0.5), i % 3 == 0)


def test_ring_overwrites_the_oldest_first():
    buffer = ReplayBuffer(5, 2)
    _fill(buffer, 3)
    assert len(buffer) == 3
    _fill(buffer, 5, start=3)  # 8 pushes into 5 slots: 0, 1, 2 are overwritten by 5, 6, 7 in that order
    assert len(buffer) == 5
    np.testing.assert_array_equal(buffer.obs[:, 0], [5, 6, 7, 3, 4])
    np.testing.assert_array_equal(buffer.next_obs[:, 1], [5.5, 6.5, 7.5, 3.5, 4.5])
    np.testing.assert_array_equal(buffer.rewards, [5, 6, 7, 3, 4])
    np.testing.assert_array_equal(buffer.actions, [1, 0, 1, 1, 0])
    np.testing.assert_array_equal(buffer.dones, [False, True, False, True, False])
    batch = buffer.sample(5, np.random.default_rng(0))
    assert sorted(batch.rewards.tolist()) == [3, 4, 5, 6, 7]  # all five, only the five most recent
    # each row stays one transition
    np.testing.assert_array_equal(batch.obs[:, 0], batch.rewards)
    np.testing.assert_array_equal(batch.next_obs[:, 0], batch.rewards + 0.5)
    np.testing.assert_array_equal(batch.actions, batch.rewards.astype(int) % 2)
    np.testing.assert_array_equal(batch.dones, batch.rewards.astype(int) % 3 == 0)


def test_sampling_is_uniform_without_replacement():
    buffer = ReplayBuffer(8, 1)
    _fill(buffer, 13)  # wrapped: holds transitions 5..12
    rng = np.random.default_rng(1234)
    draws = 6000
    item_counts = np.zeros(8)
    pair_counts = {}
    for _ in range(draws):
        batch = buffer.sample(3, rng)
        ids = batch.rewards.astype(int) - 5
        assert len(set(ids.tolist())) == 3, "a batch repeats a transition"
        item_counts[ids] += 1
        for pair in itertools.combinations(sorted(ids.tolist()), 2):
            pair_counts[pair] = pair_counts.get(pair, 0) + 1
    # every stored transition appears in a batch with probability 3/8
    chi2 = stats.chisquare(item_counts, np.full(8, draws * 3 / 8))
    assert chi2.pvalue > 1e-3, chi2
    # and every unordered pair is equally likely (28 pairs, 3 per batch)
    assert len(pair_counts) == 28
    observed = np.array(list(pair_counts.values()), dtype=float)
    chi2 = stats.chisquare(observed, np.full(28, draws * 3 / 28))
    assert chi2.pvalue > 1e-3, chi2


def test_a_partly_filled_buffer_samples_only_what_it_holds():
    buffer = ReplayBuffer(100, 3)
    _fill(buffer, 4)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(50):
        seen.update(buffer.sample(2, rng).rewards.tolist())
    assert seen == {0.0, 1.0, 2.0, 3.0}


def test_shapes_dtypes_and_copies():
    buffer = ReplayBuffer(10, (2, 3))
    _fill(buffer, 6)
    batch = buffer.sample(4, np.random.default_rng(0))
    assert isinstance(batch, Transitions)
    assert batch.obs.shape == batch.next_obs.shape == (4, 2, 3)
    assert batch.actions.shape == batch.rewards.shape == batch.dones.shape == (4,)
    assert batch.obs.dtype == batch.next_obs.dtype == np.float32
    assert batch.actions.dtype == np.int64 and batch.rewards.dtype == np.float32 and batch.dones.dtype == bool
    batch.obs[:] = -1  # a batch is a copy: editing it leaves the buffer alone
    assert buffer.obs[:6].min() >= 0
    assert ReplayBuffer(4, 2, obs_dtype=np.float64).obs.dtype == np.float64
    # the same generator state gives the same batch
    a = buffer.sample(4, np.random.default_rng(9))
    b = buffer.sample(4, np.random.default_rng(9))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_sampling_more_than_stored_is_an_error():
    buffer = ReplayBuffer(10, 4)
    _fill(buffer, 3)
    with pytest.raises(ValueError, match=r"ReplayBuffer\.sample: batch_size 4 is more than the 3 transitions stored"):
        buffer.sample(4, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"ReplayBuffer\.sample: batch_size must be a positive integer, got 0"):
        buffer.sample(0, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"ReplayBuffer\.sample: rng must be a numpy\.random\.Generator, got int"):
        buffer.sample(2, 0)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros(3), 0, 1.0, np.zeros(4), False), r"obs must have shape \(4,\), got \(3,\)"),
        ((np.zeros(4), 0, 1.0, np.zeros((1, 4)), False), r"next_obs must have shape \(4,\), got \(1, 4\)"),
        ((np.zeros(4), 0.5, 1.0, np.zeros(4), False), "action must be one integer, got 0.5"),
        ((np.zeros(4), [0, 1], 1.0, np.zeros(4), False), "action must be one integer"),
        ((np.zeros(4), 0, "1", np.zeros(4), False), "reward must be one real number"),
        ((np.zeros(4), 0, [1.0], np.zeros(4), False), "reward must be one real number"),
        ((np.zeros(4), 0, 1.0, np.zeros(4), 0.5), "done must be one bool, got 0.5"),
    ],
)
def test_push_rejects_wrong_shapes_and_types(args, match):
    buffer = ReplayBuffer(10, 4)
    with pytest.raises(ValueError, match=r"ReplayBuffer\.push: " + match):
        buffer.push(*args)
    assert len(buffer) == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"capacity": 0, "obs_shape": 4}, "capacity must be a positive integer, got 0"),
        ({"capacity": 2.5, "obs_shape": 4}, "capacity must be a positive integer"),
        ({"capacity": 10, "obs_shape": "four"}, "obs_shape must be an int or a tuple of ints"),
        ({"capacity": 10, "obs_shape": (-1, 2)}, "obs_shape must not have negative sizes"),
    ],
)
def test_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=r"ReplayBuffer: " + match):
        ReplayBuffer(**kwargs)
