"""The local-statistics enhancement of seed 002 against a direct per-pixel loop, and its described behaviour."""

import numpy as np
import pytest

from deepnotes import vision


def _loop(img, E, k0, k1, k2, s):
    f = img.astype(np.float64)
    mg, sg = f.mean(), f.std()
    out = f.copy()
    h, w = f.shape
    for y in range(h):
        for x in range(w):
            win = f[max(0, y - s) : y + s + 1, max(0, x - s) : x + s + 1]
            ml, sl = win.mean(), win.std()
            if ml <= k0 * mg and k1 * sg <= sl <= k2 * sg:
                out[y, x] = E * f[y, x]
    return out


def _dark_region_image(rng):
    # a bright textured background with a dark, faintly textured square: the case the notes target
    img = 180 + rng.normal(0, 25, (48, 48))
    img[12:36, 12:36] = 20 + rng.normal(0, 4, (24, 24))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("params"), [(4.0, 0.4, 0.02, 0.4, 1), (2.0, 0.5, 0.0, 0.8, 2), (3.0, 0.3, 0.05, 0.3, 3)])
def test_equals_per_pixel_loop(rng, params):
    img = _dark_region_image(rng)
    E, k0, k1, k2, s = params
    ref = _loop(img, *params)
    np.testing.assert_array_equal(vision.local_statistics_enhance(img, E, k0, k1, k2, s), np.clip(np.rint(ref), 0, 255))
    f = rng.random((19, 23)) ** 2
    np.testing.assert_allclose(vision.local_statistics_enhance(f, E, k0, k1, k2, s), _loop(f, *params), atol=1e-12)


def test_local_mean_std_equals_loop(rng):
    f = rng.random((15, 12)) * 100 + 1000
    m, s = vision.local_mean_std(f, 2)
    for y in range(15):
        for x in range(12):
            win = f[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3]
            assert abs(m[y, x] - win.mean()) < 1e-9 and abs(s[y, x] - win.std()) < 1e-7


def test_dark_region_brightened_bright_region_unchanged(rng):
    img = _dark_region_image(rng)
    out = vision.local_statistics_enhance(img)  # E=4, k0=0.4, k1=0.02, k2=0.4, 3x3: Gonzalez & Woods' example
    inner = (slice(14, 34), slice(14, 34))
    changed = out != img
    assert changed[inner].mean() > 0.9  # nearly every dark pixel is enhanced
    assert out[inner].mean() > 3 * img[inner].mean()
    bright = np.ones(img.shape, bool)
    bright[10:38, 10:38] = False
    np.testing.assert_array_equal(out[bright], img[bright])
    mask = vision.local_statistics_mask(img)
    np.testing.assert_array_equal(mask, changed | ((img == 0) & mask))


def test_flat_dark_region_is_not_enhanced():
    # sigma_L = 0 < k1 * sigma_G: a perfectly flat dark area has no detail to bring out and is left alone
    img = np.full((30, 30), 200, np.uint8)
    img[5:25, 5:25] = 10
    out = vision.local_statistics_enhance(img)
    np.testing.assert_array_equal(out[8:22, 8:22], img[8:22, 8:22])


def test_colour_uses_each_channel(astronaut):
    out = vision.local_statistics_enhance(astronaut, 2.0, 0.5, 0.02, 0.6, 1)
    for c in range(3):
        np.testing.assert_array_equal(
            out[..., c],
            vision.local_statistics_enhance(np.ascontiguousarray(astronaut[..., c]), 2.0, 0.5, 0.02, 0.6, 1),
        )
