"""Haar and Daubechies wavelet transforms against PyWavelets (same wavelet, same mode), in float64."""

import numpy as np
import pytest

from deepnotes import vision

pywt = pytest.importorskip("pywt")  # PyWavelets is in the `test` extra; never skipped in CI

MODES = ["zero", "constant", "symmetric", "reflect", "periodic", "smooth", "periodization"]


def _same(a, b, atol=1e-10):
    np.testing.assert_allclose(a, b, rtol=0, atol=atol)


def _same_coeffs(mine, ref, atol=1e-10):
    assert len(mine) == len(ref)
    _same(mine[0], ref[0], atol)
    for d_mine, d_ref in zip(mine[1:], ref[1:]):
        assert len(d_mine) == 3
        for m, r in zip(d_mine, d_ref):
            assert m.shape == r.shape
            _same(m, r, atol)


@pytest.mark.parametrize("name", ["haar"] + [f"db{n}" for n in range(1, 21)])
def test_filter_bank_equals_pywavelets(name):
    mine = vision.wavelet_filters(name)
    ref = pywt.Wavelet(name).filter_bank
    for m, r in zip(mine, ref):
        _same(m, np.asarray(r), atol=1e-11)


@pytest.mark.parametrize("n", [1, 2, 4, 7, 12])
def test_daubechies_filter_properties(n):
    h = vision.daubechies_filter(n)
    assert len(h) == 2 * n
    assert h.sum() == pytest.approx(np.sqrt(2), abs=1e-13)
    for shift in range(0, 2 * n, 2):  # orthonormal to its own even shifts
        assert np.dot(h[shift:], h[: 2 * n - shift]) == pytest.approx(1.0 if shift == 0 else 0.0, abs=1e-12)
    g = (-1.0) ** np.arange(2 * n) * h[::-1]  # the wavelet filter has n vanishing moments
    k = np.arange(2 * n, dtype=np.float64)
    for p in range(n):
        assert abs(np.sum(g * k**p)) < 1e-9 * max(1.0, np.sum(np.abs(g) * k**p))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wavelet", ["haar", "db2", "db3", "db4"])
@pytest.mark.parametrize("shape", [(16, 16), (13, 22), (3, 9)])
def test_dwt2_idwt2_equal_pywavelets(shape, wavelet, mode, rng):
    x = rng.normal(size=shape)
    coeffs = vision.dwt2(x, wavelet, mode)
    ref = pywt.dwt2(x, wavelet, mode)
    _same_coeffs(coeffs, ref)
    rec = vision.idwt2(coeffs, wavelet, mode)
    _same(rec, pywt.idwt2(ref, wavelet, mode))
    _same(rec[: shape[0], : shape[1]], x)  # periodization of an odd side adds one (repeated) sample


@pytest.mark.parametrize("mode", ["periodization", "symmetric", "reflect", "zero"])
@pytest.mark.parametrize("wavelet", ["haar", "db1", "db2", "db4"])
def test_wavedec2_waverec2_on_a_photograph(camera, wavelet, mode):
    img = camera[:200, :136]  # sides that are not powers of two: odd sizes appear at deeper levels
    level = min(pywt.dwt_max_level(s, wavelet) for s in img.shape)
    coeffs = vision.wavedec2(img, wavelet, mode)
    ref = pywt.wavedec2(img.astype(np.float64), wavelet, mode, level=level)
    _same_coeffs(coeffs, ref, atol=1e-10)
    rec = vision.waverec2(coeffs, wavelet, mode)
    _same(rec, pywt.waverec2(ref, wavelet, mode))
    _same(rec, img, atol=1e-9)


@pytest.mark.parametrize(("wavelet", "level"), [("haar", 1), ("db3", 3), ("db4", 2)])
def test_wavedec2_levels_on_a_colour_channel(astronaut, wavelet, level, rng):
    for x in (astronaut[..., 1], rng.normal(size=(45, 70))):
        coeffs = vision.wavedec2(x, wavelet, "periodization", level=level)
        _same_coeffs(coeffs, pywt.wavedec2(x.astype(np.float64), wavelet, "periodization", level=level))
        _same(vision.waverec2(coeffs, wavelet, "periodization")[: x.shape[0], : x.shape[1]], x, atol=1e-9)


@pytest.mark.parametrize("wavelet", ["haar", "db2", "db4"])
def test_periodization_keeps_the_energy(camera, wavelet):
    x = camera.astype(np.float64)
    coeffs = vision.wavedec2(x, wavelet, "periodization", level=3)
    energy = np.sum(coeffs[0] ** 2) + sum(np.sum(c**2) for det in coeffs[1:] for c in det)
    assert energy == pytest.approx(np.sum(x**2), rel=1e-12)
    assert sum(c.size for det in coeffs[1:] for c in det) + coeffs[0].size == x.size


def test_dwt_max_level_equals_pywavelets():
    for wavelet in ("haar", "db2", "db4", "db10"):
        for n in range(1, 300, 7):
            assert vision.dwt_max_level(n, wavelet) == pywt.dwt_max_level(n, wavelet)


def test_haar_subbands_by_hand():
    # one 2x2 block: cA = (a+b+c+d)/2, cH = (a+b-c-d)/2, cV = (a-b+c-d)/2, cD = (a-b-c+d)/2
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    ca, (ch, cv, cd) = vision.dwt2(x, "haar", "periodization")
    assert (ca.item(), ch.item(), cv.item(), cd.item()) == pytest.approx((5.5, -2.5, -1.5, 0.5))


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: vision.dwt2(np.zeros((8, 8)), "sym4"), ["dwt2", "unknown wavelet", "'sym4'", "db20"]),
        (lambda: vision.dwt2(np.zeros((8, 8)), "db21"), ["dwt2", "'db21'"]),
        (lambda: vision.wavedec2(np.zeros((8, 8)), "db0"), ["wavedec2", "'db0'"]),
        (lambda: vision.dwt2(np.zeros((8, 8)), "haar", "wrap"), ["dwt2", "unknown mode", "'wrap'", "periodization"]),
        (lambda: vision.waverec2([np.zeros((4, 4)), (np.zeros((4, 4)),) * 3], "haar", "edge"), ["waverec2", "'edge'"]),
        (lambda: vision.dwt2(np.zeros((8, 8, 3))), ["dwt2", "2-D", "(8, 8, 3)"]),
        (
            lambda: vision.wavedec2(np.zeros((64, 64)), "db4", level=4),
            ["wavedec2", "level=4", "too many", "(64, 64)", "is 3"],
        ),
        (lambda: vision.wavedec2(np.zeros((64, 64)), "haar", level=0), ["wavedec2", "positive", "0"]),
        (lambda: vision.wavedec2(np.zeros((4, 4)), "db4"), ["wavedec2", "too small", "(4, 4)"]),
        (
            lambda: vision.idwt2((np.zeros((4, 4)), (np.zeros((4, 4)), np.zeros((4, 3)), np.zeros((4, 4)))), "haar"),
            ["idwt2", "one shape", "(4, 3)"],
        ),
        (lambda: vision.idwt2((np.ones((1, 1)), (np.ones((1, 1)),) * 3), "db4"), ["idwt2", "too few", "8-tap"]),
        (lambda: vision.idwt2(np.zeros((4, 4)), "haar"), ["idwt2", "(cA, (cH, cV, cD))"]),
        (lambda: vision.waverec2([np.zeros((4, 4)), np.zeros((4, 4))], "haar"), ["waverec2", "tuple (cH, cV, cD)"]),
        (lambda: vision.daubechies_filter(0), ["daubechies_filter", "1 to 20", "0"]),
        (lambda: vision.dwt_max_level(0, "haar"), ["dwt_max_level", "positive", "0"]),
    ],
)
def test_bad_input(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for w in words:
        assert w in str(info.value)
