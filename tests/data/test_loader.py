"""default_collate / default_convert and the single-process DataLoader against torch.utils.data."""

import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data._utils.collate import default_convert as torch_default_convert

import deepnotes
from deepnotes.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    default_convert,
    get_worker_info,
)

Point = collections.namedtuple("Point", ["xy", "label"])


def to_torch_sample(obj):
    """The same sample with deepnotes Tensors replaced by torch tensors (numpy stays numpy)."""
    if isinstance(obj, deepnotes.Tensor):
        return torch.from_numpy(obj.data.copy())
    if isinstance(obj, dict):
        return {k: to_torch_sample(v) for k, v in obj.items()}
    if isinstance(obj, Point):
        return Point(*(to_torch_sample(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_torch_sample(v) for v in obj)
    return obj


def assert_same(ours, ref):
    """Structure, container types, dtypes and values equal those of torch's result."""
    if isinstance(ref, torch.Tensor):
        assert isinstance(ours, deepnotes.Tensor), type(ours)
        expected = ref.numpy()
        assert ours.data.dtype == expected.dtype, (ours.data.dtype, expected.dtype)
        assert ours.shape == expected.shape
        np.testing.assert_array_equal(ours.data, expected)
        return
    assert type(ours) is type(ref), (type(ours), type(ref))
    if isinstance(ref, dict):
        assert list(ours) == list(ref)
        for k in ref:
            assert_same(ours[k], ref[k])
    elif isinstance(ref, (list, tuple)):
        assert len(ours) == len(ref)
        for a, b in zip(ours, ref):
            assert_same(a, b)
    else:
        assert ours == ref


def make_samples(rng, n):
    out = []
    for i in range(n):
        out.append(
            {
                "image": rng.standard_normal((2, 3)).astype(np.float32),
                "mask": rng.integers(0, 2, (3,)).astype(np.uint8),
                "t": deepnotes.tensor(rng.standard_normal(4)),
                "meta": (float(i) / 3, i, i % 2 == 0, f"id{i}", np.int16(i), np.float32(i / 7)),
                "pair": [np.float64(i), rng.standard_normal(2)],
                "point": Point(np.array([i, i + 1]), i),
                "name": "x" * i,
            }
        )
    return out


@pytest.mark.parametrize("n", [1, 2, 5])
def test_default_collate_equals_torch_on_nested_samples(rng, n):
    samples = make_samples(rng, n)
    assert_same(default_collate(samples), tud.default_collate(to_torch_sample(samples)))


@pytest.mark.parametrize(
    "samples",
    [
        [(1, 2.5), (3, 4.5)],
        [[1, 2], [3, 4]],
        [True, False, True],
        [1, 2.5],
        ["a", "b"],
        [(np.zeros(3, np.int32), "s"), (np.ones(3, np.int32), "t")],
        [np.float16(1), np.float16(2)],
        [np.arange(6, dtype=np.uint8).reshape(2, 3)] * 2,
        [{"a": 1, "b": [np.zeros(2), 3.0]}, {"a": 2, "b": [np.ones(2), 4.0]}],
        [np.bool_(True), np.bool_(False)],
    ],
)
def test_default_collate_small_cases_equal_torch(samples):
    assert_same(default_collate(samples), tud.default_collate(to_torch_sample(samples)))


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 6),
    st.lists(st.integers(1, 4), min_size=0, max_size=3),
    st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]),
)
def test_default_collate_array_stacking_equals_torch(b, shape, dtype):
    rng = np.random.default_rng(b)
    samples = [(rng.standard_normal(shape) * 5).astype(dtype) for _ in range(b)]
    assert_same(default_collate(samples), tud.default_collate(samples))


@pytest.mark.parametrize(
    "sample",
    [
        np.arange(3),
        np.float32(2.0),
        (np.zeros(2), 1, "a"),
        {"k": np.ones(2), "s": "t"},
        [np.int8(3), 4.0],
        Point(np.zeros(1), np.int64(3)),
        5,
        "str",
    ],
)
def test_default_convert_equals_torch(sample):
    assert_same(default_convert(sample), torch_default_convert(sample))


def test_default_collate_errors():
    with pytest.raises(ValueError, match=r"default_collate: array 1 of the batch has shape \(3,\), expected \(2,\)"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="default_collate: tensor 1"):
        default_collate([deepnotes.tensor(np.zeros(2)), deepnotes.tensor(np.zeros(3))])
    with pytest.raises(ValueError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate.*NoneType"):
        default_collate([None, None])
    with pytest.raises(TypeError, match="default_collate.*<U1"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(ValueError, match="non-empty"):
        default_collate([])
    # torch refuses the same inputs
    for bad in ([None, None], [np.array(["a"]), np.array(["b"])], [[1, 2], [3]]):
        with pytest.raises((TypeError, RuntimeError)):
            tud.default_collate(bad)


class DictDataset(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full((2, 2), i, dtype=np.float32), "y": i, "name": f"s{i}", "w": i * 0.5}


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 23), st.integers(1, 7), st.booleans())
def test_loader_batches_equal_torch(n, batch_size, drop_last):
    ours = DataLoader(DictDataset(n), batch_size=batch_size, drop_last=drop_last)
    ref = tud.DataLoader(DictDataset(n), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(ref)
    got, expected = list(ours), list(ref)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert_same(a, b)


def test_loader_tensor_dataset_equals_torch(rng):
    x = rng.standard_normal((11, 3))
    y = rng.integers(0, 4, 11)
    ours = DataLoader(TensorDataset(deepnotes.tensor(x), y), batch_size=4)
    ref = tud.DataLoader(tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=4)
    for a, b in zip(ours, ref, strict=True):
        assert_same(a, b)


def test_loader_without_auto_batching_equals_torch():
    ours = list(DataLoader(DictDataset(4), batch_size=None))
    ref = list(tud.DataLoader(DictDataset(4), batch_size=None))
    for a, b in zip(ours, ref, strict=True):
        assert_same(a, b)
    assert len(DataLoader(DictDataset(4), batch_size=None)) == 4


def test_loader_with_batch_sampler_and_sampler_equals_torch():
    bs = [[3, 1], [0], [2, 2, 2]]
    for a, b in zip(
        DataLoader(DictDataset(4), batch_sampler=bs), tud.DataLoader(DictDataset(4), batch_sampler=bs), strict=True
    ):
        assert_same(a, b)
    sampler = [3, 0, 2]
    for a, b in zip(
        DataLoader(DictDataset(4), batch_size=2, sampler=sampler),
        tud.DataLoader(DictDataset(4), batch_size=2, sampler=sampler),
        strict=True,
    ):
        assert_same(a, b)
    ours = DataLoader(DictDataset(5), batch_sampler=BatchSampler(SequentialSampler(range(5)), 2, True))
    assert len(ours) == 2 and [b["y"].tolist() for b in ours] == [[0, 1], [2, 3]]


def test_custom_collate_fn_receives_samples():
    seen = []
    loader = DataLoader(TensorDataset(np.arange(5)), batch_size=2, collate_fn=lambda b: seen.append(b) or len(b))
    assert list(loader) == [2, 2, 1]
    assert [[int(s[0]) for s in b] for b in seen] == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize(
    "make",
    [
        lambda x, y: TensorDataset(deepnotes.tensor(x), deepnotes.tensor(y)),
        lambda x, y: TensorDataset(x, y),
        lambda x, y: Subset(TensorDataset(x, y), [9, 2, 4, 4, 0, 1, 7]),
    ],
)
def test_fast_batch_path_equals_per_sample_collate(rng, make):
    x = rng.standard_normal((10, 2, 3)).astype(np.float32)
    y = rng.integers(0, 9, 10)
    ds = make(x, y)
    fast = list(DataLoader(ds, batch_size=3, shuffle=True, generator=np.random.default_rng(1)))
    slow = list(
        DataLoader(
            ds, batch_size=3, shuffle=True, generator=np.random.default_rng(1), collate_fn=lambda b: default_collate(b)
        )
    )
    assert len(fast) == len(slow) == len(DataLoader(ds, batch_size=3))
    for a, b in zip(fast, slow):
        assert isinstance(a, list) and len(a) == 2
        for u, v in zip(a, b):
            assert u.data.dtype == v.data.dtype
            np.testing.assert_array_equal(u.data, v.data)


def _epoch_ids(loader):
    return [b[0].data.tolist() for b in loader]


def test_shuffle_is_a_permutation_and_repeats_under_seed():
    ds = TensorDataset(np.arange(37))
    loader = DataLoader(ds, batch_size=5, shuffle=True)
    deepnotes.manual_seed(123)
    e1, e2 = _epoch_ids(loader), _epoch_ids(loader)
    assert sorted(sum(e1, [])) == list(range(37)) and sorted(sum(e2, [])) == list(range(37))
    assert e1 != e2
    assert [len(b) for b in e1] == [5] * 7 + [2]
    deepnotes.manual_seed(123)
    assert [_epoch_ids(loader), _epoch_ids(loader)] == [e1, e2]
    g1 = DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(9))
    g2 = DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(9))
    assert [_epoch_ids(g1), _epoch_ids(g1)] == [_epoch_ids(g2), _epoch_ids(g2)]


def test_get_worker_info_is_none_in_main_process():
    assert get_worker_info() is None


@pytest.mark.parametrize(
    "kwargs, err, words",
    [
        (dict(batch_size=0), ValueError, "DataLoader: batch_size should be a positive integer"),
        (dict(batch_size=-3), ValueError, "batch_size=-3"),
        (dict(batch_size=1.5), ValueError, "batch_size=1.5"),
        (dict(shuffle=True, sampler=[0, 1]), ValueError, "mutually exclusive with shuffle"),
        (dict(batch_sampler=[[0]], batch_size=2), ValueError, "batch_sampler option is mutually exclusive"),
        (dict(batch_sampler=[[0]], drop_last=True), ValueError, "batch_sampler option is mutually exclusive"),
        (dict(batch_size=None, drop_last=True), ValueError, "drop_last"),
        (dict(num_workers=-1), ValueError, "num_workers"),
        (dict(persistent_workers=True), ValueError, "persistent_workers"),
        (dict(timeout=-1), ValueError, "timeout"),
        (dict(prefetch_factor=0), ValueError, "prefetch_factor"),
        (dict(generator=torch.Generator()), TypeError, "DataLoader: generator"),
        (dict(collate_fn=3), TypeError, "collate_fn"),
        (dict(worker_init_fn="f"), TypeError, "worker_init_fn"),
    ],
)
def test_loader_errors(kwargs, err, words):
    with pytest.raises(err, match=words.replace("(", r"\(")):
        DataLoader(TensorDataset(np.arange(4)), **kwargs)


def test_loader_errors_match_torch_on_exclusive_options():
    ds = TensorDataset(np.arange(4))
    for kwargs in (
        dict(shuffle=True, sampler=[0, 1]),
        dict(batch_sampler=[[0]], batch_size=2),
        dict(batch_size=None, drop_last=True),
        dict(num_workers=-1),
        dict(persistent_workers=True),
        dict(batch_size=0),
    ):
        with pytest.raises(ValueError):
            tud.DataLoader(list(range(4)), **kwargs)
        with pytest.raises(ValueError):
            DataLoader(ds, **kwargs)
