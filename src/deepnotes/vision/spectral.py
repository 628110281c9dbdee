"""Separable 2-D image transforms with a fixed basis: the discrete Fourier transform, the DCT-II (whole image and
in JPEG's 8 x 8 blocks) and the Walsh-Hadamard transform.

All of them act on one 2-D array (an image or a single channel) and are separable: the 2-D transform of X is
``A_M @ X @ A_N.T`` with A_n the 1-D transform matrix of size n.  Inputs are real (the inverse DFT also takes
complex arrays) and results are float64 (complex128 for the DFT).

Normalisation follows ``scipy.fft``'s ``norm`` argument for every transform here:

* ``None`` or ``"backward"``: the forward transform is unscaled, the inverse carries the whole 1/n factor;
* ``"ortho"``: both directions are scaled so that the transform matrix is orthogonal (energy is preserved);
* ``"forward"``: the forward transform carries the factor, the inverse is unscaled.

* ``dft2`` / ``idft2`` equal ``scipy.fft.fft2`` / ``ifft2`` (they are ``numpy.fft``).
* ``dct2`` / ``idct2`` equal ``scipy.fft.dctn(x, type=2, norm=norm)`` / ``idctn``.  Unnormalised, the 1-D DCT-II
  is ``y[k] = 2 sum_n x[n] cos(pi k (2n + 1) / (2N))``; with ``"ortho"`` row k is multiplied by
  ``sqrt(1 / (4N))`` for k = 0 and ``sqrt(1 / (2N))`` otherwise; with ``"forward"`` by ``1 / (2N)``.
* ``block_dct2`` / ``block_idct2`` apply the 2-D DCT to every ``block x block`` tile (default 8 x 8 and
  orthonormal: exactly JPEG's ``F(u, v) = 1/4 C(u) C(v) sum f(x, y) cos(...) cos(...)``, C(0) = 1/sqrt(2));
  the coefficients of each tile are stored in the tile's place.  JPEG subtracts 128 from the pixels first
  and pads the image to a multiple of 8 by repeating its last row and column; both are left to the caller
  (``img - 128.0``, ``np.pad(img, ..., mode="edge")``).
* ``walsh_hadamard`` / ``inverse_walsh_hadamard``: ``H_M @ X @ H_N`` with the Sylvester Hadamard matrix of
  ``scipy.linalg.hadamard`` (``order="hadamard"``, the natural order) or its rows sorted by sequency, the number
  of sign changes (``order="sequency"``, the Walsh order).  Sizes must be powers of two.  Computed with the
  fast butterfly (n log n additions), not a matrix product.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

__all__ = [
    "dft2",
    "idft2",
    "dct_matrix",
    "dct2",
    "idct2",
    "block_dct2",
    "block_idct2",
    "walsh_hadamard",
    "inverse_walsh_hadamard",
    "sequency_order",
]

_NORMS = (None, "backward", "ortho", "forward")
_ORDERS = ("hadamard", "sequency")


def check_2d(x, fn: str, *, complex_ok: bool = False) -> np.ndarray:
    """Return ``x`` as a float64 (or complex128) 2-D array after checking it is one: a NumPy array of real
    numbers (bool excluded), finite, with two non-empty axes."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{fn}: expected a 2-D NumPy array, got {type(x).__name__}")
    kinds = "iuf" + ("c" if complex_ok else "")
    if x.dtype.kind not in kinds:
        what = "a real or complex" if complex_ok else "a real"
        raise TypeError(f"{fn}: expected {what} numeric array, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{fn}: expected a 2-D array (one grey image or one channel), got shape {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{fn}: expected a non-empty 2-D array, got shape {x.shape}")
    out = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64, copy=False)
    if not np.isfinite(out).all():
        raise ValueError(f"{fn}: expected finite values, got NaN or infinity")
    return out


def _check_norm(norm, fn: str) -> str:
    if norm not in _NORMS:
        raise ValueError(f"{fn}: norm must be one of None, 'backward', 'ortho', 'forward', got {norm!r}")
    return "backward" if norm is None else norm


# ----------------------------------------------------------------------------------------------------- DFT


def dft2(x: np.ndarray, norm: str | None = None) -> np.ndarray:
    """2-D discrete Fourier transform ``F(u, v) = sum_{x, y} f(x, y) exp(-2 pi i (u x / M + v y / N))`` (with
    ``norm``'s scaling) of a real 2-D array, DC term at [0, 0] (``np.fft.fftshift`` centres it).  complex128."""
    fn = "dft2"
    x = check_2d(x, fn)
    return np.fft.fft2(x, norm=_check_norm(norm, fn))


def idft2(coeffs: np.ndarray, norm: str | None = None) -> np.ndarray:
    """Inverse of :func:`dft2` (complex128; take ``.real`` for the image of a real input)."""
    fn = "idft2"
    c = check_2d(coeffs, fn, complex_ok=True)
    return np.fft.ifft2(c, norm=_check_norm(norm, fn))


# ----------------------------------------------------------------------------------------------------- DCT


@functools.lru_cache(maxsize=64)
def _dct_ortho(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    phase = (k * (2 * j + 1)) % (4 * n)  # exact integer reduction of the angle keeps large n accurate
    m = np.cos(np.pi * phase / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    m.flags.writeable = False
    return m


def _row_scale(n: int, norm: str) -> np.ndarray:
    """The factor s_k with (DCT-II under ``norm``) = diag(s) @ (orthonormal DCT-II)."""
    s = np.full(n, np.sqrt(2.0 * n))  # unnormalised row k != 0 is sqrt(2N) times the orthonormal one
    s[0] = 2.0 * np.sqrt(n)
    if norm == "ortho":
        return np.ones(n)
    if norm == "forward":
        return s / (2.0 * n)
    return s


def dct_matrix(n: int, norm: str | None = None, inverse: bool = False) -> np.ndarray:
    """The n x n matrix of the 1-D DCT-II under ``norm`` (or of its inverse): ``dct2(x) = D_M @ x @ D_N.T``."""
    fn = "dct_matrix"
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{fn}: n must be a positive integer, got {n!r}")
    norm = _check_norm(norm, fn)
    o = _dct_ortho(int(n))
    s = _row_scale(int(n), norm)
    if inverse:
        return o.T / s[None, :]  # (diag(s) O)^-1 = O^T diag(1/s): O is orthogonal
    return s[:, None] * o


def dct2(x: np.ndarray, norm: str | None = None) -> np.ndarray:
    """2-D DCT-II of a real 2-D array; equals ``scipy.fft.dctn(x, type=2, norm=norm)``.  float64."""
    fn = "dct2"
    x = check_2d(x, fn)
    norm = _check_norm(norm, fn)
    return dct_matrix(x.shape[0], norm) @ x @ dct_matrix(x.shape[1], norm).T


def idct2(coeffs: np.ndarray, norm: str | None = None) -> np.ndarray:
    """Inverse of :func:`dct2` (a scaled 2-D DCT-III); equals ``scipy.fft.idctn(c, type=2, norm=norm)``."""
    fn = "idct2"
    c = check_2d(coeffs, fn)
    norm = _check_norm(norm, fn)
    return dct_matrix(c.shape[0], norm, inverse=True) @ c @ dct_matrix(c.shape[1], norm, inverse=True).T


def _check_block(x: np.ndarray, block, fn: str) -> int:
    if isinstance(block, bool) or not isinstance(block, numbers.Integral) or block < 1:
        raise ValueError(f"{fn}: block must be a positive integer, got {block!r}")
    block = int(block)
    h, w = x.shape
    if h % block or w % block:
        raise ValueError(
            f"{fn}: the image sides must be multiples of block={block}, got shape {x.shape} "
            "(pad it first, e.g. np.pad(img, ..., mode='edge') as JPEG does)"
        )
    return block


def _blockwise(x: np.ndarray, m: np.ndarray, block: int) -> np.ndarray:
    h, w = x.shape
    tiles = x.reshape(h // block, block, w // block, block)
    out = np.einsum("ik,akbl,jl->aibj", m, tiles, m, optimize=True)
    return out.reshape(h, w)


def block_dct2(x: np.ndarray, block: int = 8, norm: str | None = "ortho") -> np.ndarray:
    """2-D DCT-II of every ``block x block`` tile (JPEG's 8 x 8 orthonormal DCT by default); each tile's
    coefficients replace it, DC term at the tile's top-left.  The sides must be multiples of ``block``."""
    fn = "block_dct2"
    x = check_2d(x, fn)
    block = _check_block(x, block, fn)
    return _blockwise(x, dct_matrix(block, _check_norm(norm, fn)), block)


def block_idct2(coeffs: np.ndarray, block: int = 8, norm: str | None = "ortho") -> np.ndarray:
    """Inverse of :func:`block_dct2`."""
    fn = "block_idct2"
    c = check_2d(coeffs, fn)
    block = _check_block(c, block, fn)
    return _blockwise(c, dct_matrix(block, _check_norm(norm, fn), inverse=True), block)


# ------------------------------------------------------------------------------------------- Walsh-Hadamard


def _check_pow2(x: np.ndarray, fn: str) -> None:
    for n in x.shape:
        if n & (n - 1):
            raise ValueError(f"{fn}: both sides must be powers of two (1, 2, 4, 8, ...), got shape {x.shape}")


def _check_order(order, fn: str) -> str:
    if order not in _ORDERS:
        raise ValueError(f"{fn}: order must be 'hadamard' (natural) or 'sequency' (Walsh), got {order!r}")
    return order


@functools.lru_cache(maxsize=64)
def _sequency_perm(n: int) -> np.ndarray:
    # the natural-order row with k sign changes is the bit reversal of the Gray code of k
    bits = n.bit_length() - 1
    k = np.arange(n)
    g = k ^ (k >> 1)
    rev = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        rev |= ((g >> b) & 1) << (bits - 1 - b)
    rev.flags.writeable = False
    return rev


def sequency_order(n: int) -> np.ndarray:
    """For a power of two n: the natural-order (Sylvester) row index of the Hadamard row with k sign changes,
    for k = 0 .. n-1 (``hadamard(n)[sequency_order(n)]`` is the Walsh matrix in sequency order)."""
    fn = "sequency_order"
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1 or n & (n - 1):
        raise ValueError(f"{fn}: n must be a power of two (1, 2, 4, ...), got {n!r}")
    return _sequency_perm(int(n)).copy()


def _fwht_axis0(x: np.ndarray) -> np.ndarray:
    """Natural-order (unnormalised) Hadamard transform along axis 0 by butterflies: ``hadamard(n) @ x``."""
    n = x.shape[0]
    rest = x.shape[1:]
    h = 1
    while h < n:
        t = x.reshape(n // (2 * h), 2, h, *rest)
        a, b = t[:, 0], t[:, 1]
        x = np.stack((a + b, a - b), axis=1).reshape(n, *rest)
        h *= 2
    return x


def _scale(norm: str, size: int, forward: bool) -> float:
    if norm == "ortho":
        return 1.0 / np.sqrt(size)
    if (norm == "forward") == forward:
        return 1.0 / size
    return 1.0


def walsh_hadamard(x: np.ndarray, order: str = "hadamard", norm: str | None = None) -> np.ndarray:
    """2-D Walsh-Hadamard transform ``W_M @ x @ W_N.T`` of a real array with power-of-two sides, W the
    Hadamard matrix in natural (``"hadamard"``, ``scipy.linalg.hadamard``) or sequency (``"sequency"``) order.
    ``norm`` as in scipy.fft: unscaled forward by default, ``"ortho"`` divides by sqrt(M N)."""
    fn = "walsh_hadamard"
    x = check_2d(x, fn)
    _check_pow2(x, fn)
    order = _check_order(order, fn)
    norm = _check_norm(norm, fn)
    y = _fwht_axis0(_fwht_axis0(x).T).T
    if order == "sequency":
        y = y[_sequency_perm(y.shape[0])][:, _sequency_perm(y.shape[1])]
    return y * _scale(norm, x.size, forward=True)


def inverse_walsh_hadamard(coeffs: np.ndarray, order: str = "hadamard", norm: str | None = None) -> np.ndarray:
    """Inverse of :func:`walsh_hadamard` with the same ``order`` and ``norm`` (H H = n I, so the inverse is
    the same butterflies and the remaining scale)."""
    fn = "inverse_walsh_hadamard"
    c = check_2d(coeffs, fn)
    _check_pow2(c, fn)
    order = _check_order(order, fn)
    norm = _check_norm(norm, fn)
    if order == "sequency":
        nat = np.empty_like(c)
        nat[np.ix_(_sequency_perm(c.shape[0]), _sequency_perm(c.shape[1]))] = c
        c = nat
    return _fwht_axis0(_fwht_axis0(c).T).T * _scale(norm, c.size, forward=False)
