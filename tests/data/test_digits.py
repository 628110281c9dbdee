"""The bundled digits asset against scikit-learn, and Digits' resizing against torch and scipy."""

import importlib.util
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from sklearn.datasets import load_digits

import deepnotes
from deepnotes.data import DataLoader, Digits, default_collate, load_digits_arrays
from deepnotes.data.datasets.digits import _ASSET, resize_bilinear

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_asset_equals_sklearn_load_digits():
    ref = load_digits()
    with np.load(_ASSET, allow_pickle=False) as f:
        assert set(f.files) == {"images", "labels", "train_indices", "test_indices", "split_seed"}
        images, labels = f["images"], f["labels"]
    assert images.dtype == np.uint8 and images.shape == (1797, 8, 8)
    assert labels.dtype == np.uint8 and labels.shape == (1797,)
    np.testing.assert_array_equal(images.astype(np.float64), ref.images)
    np.testing.assert_array_equal(labels.astype(np.int64), ref.target)
    assert images.max() == 16 and images.min() == 0


def test_split_is_fixed_stratified_and_complete():
    a = load_digits_arrays()
    train, test = a.train_indices, a.test_indices
    assert train.shape == (1437,) and test.shape == (360,)
    assert train.dtype == test.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(1797))
    counts = np.bincount(a.labels, minlength=10)
    test_counts = np.bincount(a.labels[test], minlength=10)
    # each class gives its share of 360, rounded: within one image of 360 * n_c / 1797
    assert np.all(np.abs(test_counts - 360 * counts / 1797) < 1)


def test_build_script_reproduces_asset(tmp_path):
    spec = importlib.util.spec_from_file_location("build_digits", os.path.join(ROOT, "tools", "build_digits.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = str(tmp_path / "digits.npz")
    mod.main(out)
    with np.load(out, allow_pickle=False) as new, np.load(_ASSET, allow_pickle=False) as old:
        assert new.files == old.files
        for k in old.files:
            np.testing.assert_array_equal(new[k], old[k])
            assert new[k].dtype == old[k].dtype


def test_load_digits_arrays_returns_copies():
    a = load_digits_arrays()
    a.images[0] = 99
    assert load_digits_arrays().images[0].max() <= 16


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("size", [32, 28, 13, 8, 5])
def test_digits_images_equal_torch_interpolate(train, size):
    ds = Digits(train=train, size=size)
    a = load_digits_arrays()
    idx = a.train_indices if train else a.test_indices
    assert len(ds) == idx.size
    x = torch.from_numpy(a.images[idx].astype(np.float64) / 16)[:, None]
    ref = x.numpy() if size == 8 else F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).numpy()
    assert ds.images.dtype == np.float32 and ds.images.shape == (idx.size, 1, size, size)
    np.testing.assert_allclose(ds.images, ref, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(ds.targets, a.labels[idx].astype(np.int64))
    image, label = ds[3]
    assert isinstance(label, int) and label == a.labels[idx[3]]
    np.testing.assert_array_equal(image, ds.images[3])


def test_digits_upsampling_equals_scipy_zoom():
    ds = Digits(train=False, size=32)
    x = load_digits_arrays()
    imgs = x.images[x.test_indices].astype(np.float64) / 16
    ref = ndimage.zoom(imgs, (1, 4, 4), order=1, mode="nearest", grid_mode=True)
    np.testing.assert_allclose(ds.images[:, 0], ref, rtol=0, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.integers(1, 20))
def test_resize_bilinear_equals_torch(n, h, w, size):
    x = np.random.default_rng(h * 100 + w).standard_normal((n, h, w))
    ref = F.interpolate(torch.from_numpy(x)[:, None], size=(size, size), mode="bilinear", align_corners=False)[
        :, 0
    ].numpy()
    np.testing.assert_allclose(resize_bilinear(x, size), ref, rtol=1e-12, atol=1e-12)


def test_digits_loader_batches():
    ds = Digits(train=True, size=32)
    deepnotes.manual_seed(0)
    x, y = next(iter(DataLoader(ds, batch_size=64, shuffle=True)))
    assert x.shape == (64, 1, 32, 32) and x.data.dtype == np.float32
    assert y.shape == (64,) and y.data.dtype == np.int64
    assert 0.0 <= x.data.min() and x.data.max() <= 1.0
    # the one-gather batch path equals collating sample by sample
    fast = list(DataLoader(ds, batch_size=100, shuffle=True, generator=np.random.default_rng(4)))
    slow = list(
        DataLoader(
            ds,
            batch_size=100,
            shuffle=True,
            generator=np.random.default_rng(4),
            collate_fn=lambda b: default_collate(b),
        )
    )
    for (a, b), (c, d) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a.data, c.data)
        np.testing.assert_array_equal(b.data, d.data)
        assert b.data.dtype == d.data.dtype == np.int64


def test_digits_transforms_and_samples_are_independent():
    ds = Digits(train=False, size=8, transform=lambda im: im * 2, target_transform=lambda t: t + 10)
    image, target = ds[0]
    plain = Digits(train=False, size=8)
    np.testing.assert_array_equal(image, plain.images[0] * 2)
    assert target == int(plain.targets[0]) + 10
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    np.testing.assert_array_equal(x.data, plain.images[:4] * 2)
    np.testing.assert_array_equal(y.data, plain.targets[:4] + 10)
    sample, _ = plain[0]
    sample += 1  # an in-place change to a sample does not reach the dataset
    np.testing.assert_array_equal(plain[0][0], plain.images[0])
    assert plain.images[0].max() <= 1.0


@pytest.mark.parametrize(
    "kwargs, err, words",
    [
        (dict(size=0), ValueError, "Digits: size should be a positive int"),
        (dict(size=2.5), ValueError, "size"),
        (dict(train="yes"), TypeError, "Digits: train should be a bool"),
        (dict(transform=3), TypeError, "Digits: transform should be callable"),
    ],
)
def test_digits_errors(kwargs, err, words):
    with pytest.raises(err, match=words):
        Digits(**kwargs)


def test_resize_bilinear_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"resize_bilinear: expected images of shape \(N, H, W\)"):
        resize_bilinear(np.zeros((4, 4)), 8)
