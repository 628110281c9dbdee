"""Dataset, TensorDataset, Subset, ConcatDataset and random_split against torch.utils.data."""

import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from hypothesis import given, settings
from hypothesis import strategies as st

import deepnotes
from deepnotes.data import ConcatDataset, Dataset, Subset, TensorDataset, random_split


def _np(x):
    return x.data if isinstance(x, deepnotes.Tensor) else (x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x))


def test_tensor_dataset_rows_equal_torch(rng):
    x = rng.standard_normal((7, 3, 2))
    y = rng.integers(0, 5, 7)
    ours = TensorDataset(deepnotes.tensor(x), y)
    ref = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    assert len(ours) == len(ref) == 7
    for i in list(range(7)) + [-1, -7]:
        a, b = ours[i], ref[i]
        assert isinstance(a, tuple) and len(a) == 2
        assert isinstance(a[0], deepnotes.Tensor)
        for u, v in zip(a, b):
            np.testing.assert_array_equal(_np(u), v.numpy())
    # slices behave like torch's too
    np.testing.assert_array_equal(ours[2:5][0].data, ref[2:5][0].numpy())
    with pytest.raises(IndexError):
        ours[7]


def test_tensor_dataset_keeps_array_rows_as_numpy():
    x = np.arange(12).reshape(4, 3)
    ds = TensorDataset(x)
    assert isinstance(ds[1][0], np.ndarray)
    np.testing.assert_array_equal(ds[1][0], x[1])


@pytest.mark.parametrize(
    "args, err, words",
    [
        ((np.zeros((3, 2)), np.zeros(4)), ValueError, ["TensorDataset", "[3, 4]"]),
        ((), ValueError, ["TensorDataset", "at least one"]),
        (([1, 2, 3],), TypeError, ["TensorDataset", "list"]),
        ((np.float64(1.0),), TypeError, ["TensorDataset"]),
        ((np.zeros(()),), ValueError, ["TensorDataset", "0-dimensional"]),
    ],
)
def test_tensor_dataset_errors(args, err, words):
    with pytest.raises(err) as info:
        TensorDataset(*args)
    for w in words:
        assert w in str(info.value)


def test_dataset_base_and_add():
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    a, b = TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 15))
    both = a + b
    assert isinstance(both, ConcatDataset)
    assert [int(both[i][0]) for i in range(len(both))] == [0, 1, 2, 10, 11, 12, 13, 14]


def test_subset_equals_torch():
    base = np.arange(20) * 3
    idx = [5, 0, 19, 7, 7]
    ours = Subset(TensorDataset(base), idx)
    ref = tud.Subset(tud.TensorDataset(torch.from_numpy(base)), idx)
    assert len(ours) == len(ref)
    assert [int(ours[i][0]) for i in range(len(ours))] == [int(ref[i][0]) for i in range(len(ref))]
    np.testing.assert_array_equal(ours[[0, 2]][0], ref[[0, 2]][0].numpy())
    assert [int(s[0]) for s in ours.__getitems__([1, 3])] == [int(s[0]) for s in ref.__getitems__([1, 3])]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=5))
def test_concat_dataset_equals_torch(sizes):
    parts = []
    start = 0
    for n in sizes:
        parts.append(np.arange(start, start + n))
        start += n
    ours = ConcatDataset([TensorDataset(p) if len(p) else _Empty() for p in parts])
    ref = tud.ConcatDataset([tud.TensorDataset(torch.from_numpy(p)) for p in parts])
    assert ours.cumulative_sizes == ref.cumulative_sizes
    assert len(ours) == len(ref)
    for i in range(-len(ref), len(ref)):
        assert int(ours[i][0]) == int(ref[i][0])
    for bad in (len(ref), -len(ref) - 1):
        with pytest.raises((IndexError, ValueError)):
            ref[bad]
        with pytest.raises((IndexError, ValueError)):
            ours[bad]


class _Empty(Dataset):
    def __len__(self):
        return 0


def test_concat_dataset_errors():
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="ConcatDataset"):
        ConcatDataset([TensorDataset(np.arange(3))])[1.5]


def _torch_lengths(n, lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return [len(s) for s in tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))]
        except ValueError:
            return None


def _our_lengths(n, lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return [len(s) for s in random_split(range(n), lengths, generator=np.random.default_rng(0))]
        except ValueError:
            return None


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 60), st.lists(st.integers(0, 9), min_size=1, max_size=5))
def test_random_split_fraction_lengths_equal_torch(n, weights):
    if sum(weights) == 0:
        weights = [1] + weights[1:]
    fractions = [w / sum(weights) for w in weights]
    expected = _torch_lengths(n, fractions)
    assert _our_lengths(n, fractions) == expected


@pytest.mark.parametrize(
    "n, lengths",
    [
        (10, [0.3, 0.3, 0.4]),
        (11, [0.5, 0.5]),
        (7, [0.1, 0.1, 0.1, 0.7]),
        (3, [1 / 3] * 3),
        (10, [3, 7]),
        (10, [0, 10]),
        (10, [3, 6]),
        (10, [0.5, 0.6]),
        (0, [0, 0]),
        (10, [0.2, 0.3]),
    ],
)
def test_random_split_lengths_cases_equal_torch(n, lengths):
    assert _our_lengths(n, lengths) == _torch_lengths(n, lengths)


def test_random_split_partitions_and_repeats():
    data = list(range(23))
    parts = random_split(data, [0.5, 0.25, 0.25], generator=np.random.default_rng(3))
    got = sorted(i for p in parts for i in p.indices)
    assert got == data
    again = random_split(data, [0.5, 0.25, 0.25], generator=np.random.default_rng(3))
    assert [p.indices for p in parts] == [p.indices for p in again]
    deepnotes.manual_seed(11)
    a = [p.indices for p in random_split(data, [10, 13])]
    deepnotes.manual_seed(11)
    b = [p.indices for p in random_split(data, [10, 13])]
    assert a == b
    assert [parts[0][i] for i in range(len(parts[0]))] == parts[0].indices


def test_random_split_errors():
    with pytest.raises(ValueError, match=r"random_split: sum of input lengths \(9\).*\(10\)"):
        random_split(range(10), [4, 5])
    with pytest.raises(ValueError, match="random_split"):
        random_split(range(10), [1.5, -0.5])
    with pytest.raises(ValueError, match="random_split"):
        random_split(range(10), [])
    with pytest.raises(TypeError, match="random_split: generator"):
        random_split(range(10), [5, 5], generator=torch.Generator())
    with pytest.warns(UserWarning, match="is 0; this split will be empty"):
        random_split(range(2), [0.9, 0.05, 0.05])
