"""Frequency-domain filters: G&W's transfer functions, checked against a direct numpy.fft computation."""

import numpy as np
import pytest

from deepnotes import vision


def _direct(f, H):
    F = np.fft.fftshift(np.fft.fft2(f))
    return np.real(np.fft.ifft2(np.fft.ifftshift(H * F)))


def _gw_H(kind, P, Q, d0, n, high):
    H = np.zeros((P, Q))
    for u in range(P):
        for v in range(Q):
            D = np.hypot(u - P // 2, v - Q // 2)
            if kind == "ideal":
                lp = 1.0 if D <= d0 else 0.0
            elif kind == "butterworth":
                lp = 1.0 / (1.0 + (D / d0) ** (2 * n))
            else:
                lp = np.exp(-(D**2) / (2 * d0**2))
            if not high:
                H[u, v] = lp
            elif kind == "ideal":
                H[u, v] = 0.0 if D <= d0 else 1.0
            elif kind == "butterworth":
                H[u, v] = 0.0 if D == 0 else 1.0 / (1.0 + (d0 / D) ** (2 * n))
            else:
                H[u, v] = 1.0 - np.exp(-(D**2) / (2 * d0**2))
    return H


FUNCS = {
    ("ideal", False): vision.ideal_lowpass,
    ("ideal", True): vision.ideal_highpass,
    ("butterworth", False): vision.butterworth_lowpass,
    ("butterworth", True): vision.butterworth_highpass,
    ("gaussian", False): vision.gaussian_lowpass,
    ("gaussian", True): vision.gaussian_highpass,
}


@pytest.mark.parametrize(("kind", "high"), list(FUNCS))
@pytest.mark.parametrize("shape", [(32, 48), (31, 20)])
def test_transfer_function_and_filter_equal_direct_fft(rng, kind, high, shape):
    d0, n = 7.5, 3
    H = vision.transfer_function(kind, shape, d0, n, highpass=high)
    np.testing.assert_allclose(H, _gw_H(kind, *shape, d0, n, high), atol=1e-12)
    f = rng.random(shape)
    fn = FUNCS[(kind, high)]
    out = fn(f, d0, n) if kind == "butterworth" else fn(f, d0)
    np.testing.assert_allclose(out, _direct(f, H), atol=1e-12)
    assert out.dtype == np.float64


@pytest.mark.parametrize("kind", ["ideal", "butterworth", "gaussian"])
def test_lowpass_plus_highpass_is_the_image(camera, kind):
    lo = vision.frequency_filter(camera, kind=kind, d0=20)
    hi = vision.frequency_filter(camera, kind=kind, d0=20, highpass=True)
    np.testing.assert_allclose(lo + hi, camera.astype(np.float64), atol=1e-9)


@pytest.mark.parametrize("kind", ["ideal", "butterworth", "gaussian"])
def test_dc_behaviour(camera, kind):
    lo = vision.frequency_filter(camera, kind=kind, d0=10)
    hi = vision.frequency_filter(camera, kind=kind, d0=10, highpass=True)
    assert abs(lo.mean() - camera.mean()) < 1e-9  # H(0, 0) = 1: the mean survives the low-pass
    assert abs(hi.mean()) < 1e-9  # H(0, 0) = 0: the high-pass removes it


def test_padding_follows_gw_recipe(rng):
    f = rng.random((20, 26))
    H = vision.transfer_function("gaussian", (40, 52), 6.0)
    ref = _direct(np.pad(f, ((0, 20), (0, 26))), H)[:20, :26]
    np.testing.assert_allclose(vision.gaussian_lowpass(f, 6.0, pad=True), ref, atol=1e-12)


def test_colour_per_channel(astronaut):
    out = vision.butterworth_lowpass(astronaut, 15, 2)
    for c in range(3):
        np.testing.assert_allclose(
            out[..., c], vision.butterworth_lowpass(np.ascontiguousarray(astronaut[..., c]), 15, 2), atol=1e-12
        )


def test_butterworth_order_sharpens_the_cutoff():
    d = vision.distance_grid((64, 64))
    h1 = vision.transfer_function("butterworth", (64, 64), 10, 1)
    h8 = vision.transfer_function("butterworth", (64, 64), 10, 8)
    ideal = vision.transfer_function("ideal", (64, 64), 10)
    assert np.allclose(h1[d == 10], 0.5) and np.allclose(h8[d == 10], 0.5)
    assert np.abs(h8 - ideal)[d != 10].mean() < np.abs(h1 - ideal)[d != 10].mean()
