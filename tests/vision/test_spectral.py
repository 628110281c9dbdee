"""DFT, DCT-II (whole image and 8 x 8 blocks) and Walsh-Hadamard transforms against scipy.fft, scipy.linalg.hadamard
and OpenCV, in float64."""

import cv2
import numpy as np
import pytest
import scipy.fft as sfft
from scipy.linalg import hadamard

from deepnotes import vision

NORMS = [None, "backward", "ortho", "forward"]
SHAPES = [(8, 8), (7, 12), (1, 5), (16, 3)]


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("shape", SHAPES)
def test_dft2_equals_scipy(norm, shape, rng):
    x = rng.normal(size=shape)
    c = vision.dft2(x, norm=norm)
    np.testing.assert_allclose(c, sfft.fft2(x, norm=norm), rtol=0, atol=1e-10)
    np.testing.assert_allclose(vision.idft2(c, norm=norm), sfft.ifft2(c, norm=norm), rtol=0, atol=1e-10)
    np.testing.assert_allclose(vision.idft2(c, norm=norm).real, x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("shape", SHAPES)
def test_dct2_idct2_equal_scipy(norm, shape, rng):
    x = rng.normal(size=shape)
    np.testing.assert_allclose(vision.dct2(x, norm=norm), sfft.dctn(x, type=2, norm=norm), rtol=0, atol=1e-10)
    np.testing.assert_allclose(vision.idct2(x, norm=norm), sfft.idctn(x, type=2, norm=norm), rtol=0, atol=1e-10)
    np.testing.assert_allclose(vision.idct2(vision.dct2(x, norm=norm), norm=norm), x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("norm", [None, "ortho"])
def test_dct2_on_a_photograph(camera, norm):
    c = vision.dct2(camera, norm=norm)
    ref = sfft.dctn(camera.astype(np.float64), type=2, norm=norm)
    np.testing.assert_allclose(c, ref, rtol=0, atol=1e-13 * np.abs(ref).max())
    np.testing.assert_allclose(vision.idct2(c, norm=norm), camera, rtol=0, atol=1e-9)
    if norm == "ortho":  # an orthogonal transform keeps the energy
        assert np.sum(c**2) == pytest.approx(np.sum(camera.astype(np.float64) ** 2), rel=1e-12)


@pytest.mark.parametrize("norm", NORMS)
def test_dct_matrix_and_its_inverse(norm):
    d = vision.dct_matrix(6, norm)
    np.testing.assert_allclose(d, sfft.dct(np.eye(6), type=2, norm=norm, axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(vision.dct_matrix(6, norm, inverse=True) @ d, np.eye(6), rtol=0, atol=1e-12)


def test_block_dct2_is_jpegs_8x8_dct(camera):
    img = camera[:64, :128].astype(np.float64) - 128.0  # JPEG's level shift, done by the caller
    c = vision.block_dct2(img)
    for i in range(0, 64, 8):
        for j in range(0, 128, 8):
            tile = img[i : i + 8, j : j + 8]
            np.testing.assert_allclose(c[i : i + 8, j : j + 8], cv2.dct(tile), rtol=0, atol=1e-10)
            np.testing.assert_allclose(c[i : i + 8, j : j + 8], sfft.dctn(tile, norm="ortho"), rtol=0, atol=1e-10)
    np.testing.assert_allclose(vision.block_idct2(c), img, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("block", "norm"), [(4, None), (2, "forward"), (16, "ortho")])
def test_block_dct2_other_blocks_and_norms(block, norm, rng):
    x = rng.normal(size=(32, 16))
    c = vision.block_dct2(x, block=block, norm=norm)
    tiles = x.reshape(32 // block, block, 16 // block, block)
    ref = sfft.dctn(tiles, type=2, norm=norm, axes=(1, 3)).reshape(32, 16)
    np.testing.assert_allclose(c, ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(vision.block_idct2(c, block=block, norm=norm), x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (2, 8), (16, 4), (32, 32)])
@pytest.mark.parametrize("norm", NORMS)
def test_walsh_hadamard_natural_order_is_scipy_hadamard(shape, norm, rng):
    x = rng.normal(size=shape)
    m, n = shape
    scale = {None: 1.0, "backward": 1.0, "ortho": 1 / np.sqrt(m * n), "forward": 1 / (m * n)}[norm]
    ref = hadamard(m) @ x @ hadamard(n).T * scale
    y = vision.walsh_hadamard(x, norm=norm)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(vision.inverse_walsh_hadamard(y, norm=norm), x, rtol=0, atol=1e-12)


def _sign_changes(h):
    return (np.diff(h, axis=1) != 0).sum(axis=1)


@pytest.mark.parametrize("n", [1, 2, 4, 8, 32, 64])
def test_sequency_order_sorts_rows_by_sign_changes(n):
    h = hadamard(n)
    walsh = h[vision.sequency_order(n)]
    np.testing.assert_array_equal(_sign_changes(walsh), np.arange(n))


def test_walsh_hadamard_sequency_order(rng):
    x = rng.normal(size=(8, 16))
    w8 = hadamard(8)[np.argsort(_sign_changes(hadamard(8)), kind="stable")]
    w16 = hadamard(16)[np.argsort(_sign_changes(hadamard(16)), kind="stable")]
    y = vision.walsh_hadamard(x, order="sequency", norm="ortho")
    np.testing.assert_allclose(y, w8 @ x @ w16.T / np.sqrt(128), rtol=0, atol=1e-12)
    np.testing.assert_allclose(vision.inverse_walsh_hadamard(y, order="sequency", norm="ortho"), x, atol=1e-12)
    # a sequency-ordered coefficient is a natural-ordered one moved
    nat = vision.walsh_hadamard(x, norm="ortho")
    np.testing.assert_allclose(np.sort(y.ravel()), np.sort(nat.ravel()), rtol=0, atol=1e-12)


def test_walsh_hadamard_on_a_photograph(camera):
    h = hadamard(256).astype(np.float64)
    y = vision.walsh_hadamard(camera, norm="ortho")
    np.testing.assert_allclose(y, h @ camera @ h.T / 256.0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(vision.inverse_walsh_hadamard(y, norm="ortho"), camera, rtol=0, atol=1e-10)
    assert y[0, 0] == pytest.approx(camera.mean() * 256)  # the DC coefficient is the mean times sqrt(MN)


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: vision.dct2(np.zeros((4, 4, 3))), ValueError, ["dct2", "2-D", "(4, 4, 3)"]),
        (lambda: vision.dct2([[1.0, 2.0]]), TypeError, ["dct2", "list"]),
        (lambda: vision.dct2(np.zeros((2, 2), bool)), TypeError, ["dct2", "bool"]),
        (lambda: vision.dft2(np.zeros((2, 2), complex)), TypeError, ["dft2", "complex"]),
        (lambda: vision.idct2(np.full((2, 2), np.nan)), ValueError, ["idct2", "NaN"]),
        (lambda: vision.dct2(np.zeros((0, 3))), ValueError, ["dct2", "non-empty"]),
        (lambda: vision.dct2(np.zeros((2, 2)), norm="unit"), ValueError, ["dct2", "norm", "'unit'"]),
        (lambda: vision.idft2(np.zeros(4)), ValueError, ["idft2", "(4,)"]),
        (lambda: vision.dct_matrix(0), ValueError, ["dct_matrix", "positive", "0"]),
        (lambda: vision.block_dct2(np.zeros((12, 16))), ValueError, ["block_dct2", "block=8", "(12, 16)", "pad"]),
        (lambda: vision.block_idct2(np.zeros((8, 8)), block=0), ValueError, ["block_idct2", "block", "0"]),
        (lambda: vision.walsh_hadamard(np.zeros((8, 12))), ValueError, ["walsh_hadamard", "powers of two", "(8, 12)"]),
        (
            lambda: vision.inverse_walsh_hadamard(np.zeros((6, 8))),
            ValueError,
            ["inverse_walsh_hadamard", "powers of two", "(6, 8)"],
        ),
        (lambda: vision.walsh_hadamard(np.zeros((4, 4)), order="dyadic"), ValueError, ["walsh_hadamard", "'dyadic'"]),
        (lambda: vision.walsh_hadamard(np.zeros((4, 4, 1))), ValueError, ["walsh_hadamard", "2-D"]),
        (lambda: vision.sequency_order(12), ValueError, ["sequency_order", "power of two", "12"]),
    ],
)
def test_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value)
