"""Histogram equalisation and matching against OpenCV / scikit-image; local equalisation against a per-pixel loop
and skimage.filters.rank.equalize."""

import cv2
import numpy as np
import pytest
from skimage import data, exposure
from skimage.filters import rank

from deepnotes import vision


def test_equalize_hist_uint8_equals_cv2(rng, camera):
    imgs = [
        camera,
        data.moon(),
        rng.integers(0, 256, (40, 60)).astype(np.uint8),
        rng.integers(90, 140, (31, 17)).astype(np.uint8),  # a low-contrast image
        np.array([[7, 7], [7, 200]], dtype=np.uint8),
    ]
    for img in imgs:
        ours = vision.equalize_hist(img)
        assert ours.dtype == np.uint8
        np.testing.assert_array_equal(ours, cv2.equalizeHist(img))


def test_equalize_hist_constant_and_colour(astronaut):
    flat = np.full((5, 6), 42, np.uint8)
    np.testing.assert_array_equal(vision.equalize_hist(flat), cv2.equalizeHist(flat))
    ours = vision.equalize_hist(astronaut)
    for c in range(3):
        np.testing.assert_array_equal(ours[..., c], cv2.equalizeHist(np.ascontiguousarray(astronaut[..., c])))


@pytest.mark.parametrize("nbins", [256, 64])
def test_equalize_hist_float_equals_skimage(rng, camera, nbins):
    for img in (rng.random((33, 47)), camera / 255.0, (rng.random((20, 20)) ** 3).astype(np.float32)):
        ours = vision.equalize_hist(img, nbins)
        assert ours.dtype == img.dtype
        np.testing.assert_allclose(
            ours, exposure.equalize_hist(img, nbins=nbins), atol=1e-6 if img.dtype == np.float32 else 1e-14
        )


def test_equalize_hist_spreads_a_low_contrast_histogram(camera):
    low = (camera // 4 + 100).astype(np.uint8)  # grey levels squeezed into [100, 163]
    out = vision.equalize_hist(low)
    assert out.min() == 0 and out.max() == 255
    assert out.std() > 3 * low.std()


def test_match_histograms_equals_skimage(rng, camera, astronaut):
    ref_u8 = data.coins()
    # uint8: skimage returns the float quantile mapping; ours rounds it half to even
    np.testing.assert_array_equal(
        vision.match_histograms(camera, ref_u8), np.rint(exposure.match_histograms(camera, ref_u8))
    )
    f, g = rng.random((30, 40)), rng.standard_normal((25, 19)) * 0.1 + 0.5
    np.testing.assert_allclose(vision.match_histograms(f, g), exposure.match_histograms(f, g), atol=1e-14)
    other = data.chelsea()[::4, ::4]
    ours = vision.match_histograms(astronaut, other)
    for c in range(3):
        a, b = np.ascontiguousarray(astronaut[..., c]), np.ascontiguousarray(other[..., c])
        np.testing.assert_array_equal(ours[..., c], np.rint(exposure.match_histograms(a, b)))
    # skimage's colour path stores the float mapping into a uint8 array (truncation); ours rounds: within one level
    trunc = exposure.match_histograms(astronaut, other, channel_axis=-1)
    assert np.abs(ours.astype(int) - trunc).max() <= 1


def test_match_histograms_reproduces_the_reference_distribution(rng):
    src = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    ref = np.sort(rng.integers(0, 256, (64, 64)).ravel()).reshape(64, 64).astype(np.uint8)
    out = vision.match_histograms(src, ref)
    # the sorted values agree with the reference's up to rounding and ties
    assert np.abs(np.sort(out.ravel()).astype(int) - np.sort(ref.ravel()).astype(int)).mean() < 2.0


def _local_loop(img, r):
    h, w = img.shape
    out = np.empty_like(img)
    for y in range(h):
        for x in range(w):
            win = img[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
            out[y, x] = (255 * int((win <= img[y, x]).sum())) // win.size
    return out


@pytest.mark.parametrize("r", [1, 2, 5])
def test_equalize_local_equals_loop_and_skimage_rank(rng, r):
    img = rng.integers(0, 256, (23, 31)).astype(np.uint8)
    ours = vision.equalize_local(img, r)
    np.testing.assert_array_equal(ours, _local_loop(img, r))
    np.testing.assert_array_equal(ours, rank.equalize(img, footprint=np.ones((2 * r + 1, 2 * r + 1), bool)))


def test_equalize_local_on_photographs(camera, astronaut):
    np.testing.assert_array_equal(
        vision.equalize_local(camera, 7), rank.equalize(camera, footprint=np.ones((15, 15), bool))
    )
    ours = vision.equalize_local(astronaut, 3)
    for c in range(3):
        ref = rank.equalize(np.ascontiguousarray(astronaut[..., c]), footprint=np.ones((7, 7), bool))
        np.testing.assert_array_equal(ours[..., c], ref)


def _local_match_loop(img, ref, r):
    h, w = img.shape
    G = np.cumsum(np.bincount(ref.ravel(), minlength=256)) / ref.size
    out = np.empty_like(img)
    for y in range(h):
        for x in range(w):
            win = img[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
            t = (win <= img[y, x]).sum() / win.size
            out[y, x] = next(q for q in range(256) if G[q] >= t - 1e-12)
    return out


@pytest.mark.parametrize("r", [1, 3])
def test_match_histograms_local_equals_loop(rng, r):
    img = rng.integers(0, 256, (19, 24)).astype(np.uint8)
    ref = rng.integers(40, 90, (30, 30)).astype(np.uint8)
    ours = vision.match_histograms_local(img, ref, r)
    np.testing.assert_array_equal(ours, _local_match_loop(img, ref, r))
    assert ours.min() >= 40 and ours.max() <= 89  # only the reference's levels appear


def test_match_histograms_local_with_a_flat_target_is_local_equalisation_up_to_rounding(camera):
    flat = np.arange(256, dtype=np.uint8)[None, :]
    a = vision.match_histograms_local(camera[:64, :64], flat, 4).astype(int)
    b = vision.equalize_local(camera[:64, :64], 4).astype(int)
    assert np.abs(a - b).max() <= 1  # ceil(256 T) - 1 vs floor(255 T)
