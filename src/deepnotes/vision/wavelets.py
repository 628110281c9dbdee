"""Discrete wavelet transforms of images with the orthogonal Daubechies family (Haar = db1): one level
(``dwt2`` / ``idwt2``) and several (``wavedec2`` / ``waverec2``), equal to PyWavelets' functions of the same
names with the same wavelet and mode.

**Filters.**  The scaling filter h of ``dbN`` (2N taps, N vanishing moments) is computed by spectral
factorisation: ``|H(w)|^2 = 2 cos^2(w/2)^N P(sin^2(w/2))`` with ``P(y) = sum_{k<N} C(N-1+k, k) y^k``; every root
y of P gives a reciprocal pair of zeros z, 1/z of ``z^2 - (2 - 4y) z + 1``; keeping the zeros inside the unit
circle (the minimum-phase, "extremal phase" choice of Daubechies' tables) and N zeros at z = -1 gives h,
scaled to sum sqrt(2).  The filter bank is PyWavelets' layout: ``rec_lo = h``, ``rec_hi[k] = (-1)^k h[F-1-k]``,
``dec_lo`` and ``dec_hi`` their reversals.

**One level along an axis.**  With F taps and signal length n, the extended signal is convolved with
``dec_lo`` and ``dec_hi`` and every second output kept:

* boundary modes ``zero``, ``constant`` (edge value repeated), ``symmetric`` (half-sample mirror, ``x[-1] =
  x[0]``), ``reflect`` (whole-sample mirror, ``x[-1] = x[1]``), ``periodic``, ``smooth`` (linear extrapolation
  of the end slopes): the signal is extended by F-1 samples on each side and outputs 1, 3, 5, ... of the
  'valid' convolution are kept: ``floor((n + F - 1) / 2)`` coefficients (more than n/2: the transform is
  redundant).  The inverse upsamples, convolves with ``rec_lo`` / ``rec_hi`` and keeps the central
  ``2 m - F + 2`` samples of m coefficients.
* ``periodization``: the signal (an odd one first gets its last sample repeated) is treated as periodic and
  ``ceil(n / 2)`` coefficients are kept, ``a[o] = sum_j dec_lo[j] x[(F/2 + 2o - j) mod n]``: an orthogonal
  transform, so the inverse is its transpose and the coefficients hold exactly the image's energy.

**2-D.**  Axis 0 (rows index) then axis 1; ``dwt2`` returns ``(cA, (cH, cV, cD))``: cH is low-pass along axis 1
and high-pass along axis 0 (horizontal edges), cV the opposite, cD high-pass along both.  ``wavedec2`` returns
``[cA_n, (cH_n, cV_n, cD_n), ..., (cH_1, cV_1, cD_1)]``, coarsest first; ``waverec2`` drops the extra last
row / column that an odd-sized level's approximation gets before combining it with the next details.
Unlike PyWavelets (which warns), asking ``wavedec2`` for more levels than ``dwt_max_level`` is an error.
"""

from __future__ import annotations

import functools
import math
import numbers
import re

import numpy as np

from .spectral import check_2d

__all__ = [
    "MODES",
    "WAVELETS",
    "daubechies_filter",
    "wavelet_filters",
    "dwt_max_level",
    "dwt2",
    "idwt2",
    "wavedec2",
    "waverec2",
]

MODES = ("zero", "constant", "symmetric", "reflect", "periodic", "smooth", "periodization")
_MAX_DB = 20  # beyond this the root finding loses the 1e-12 agreement with the published coefficients
WAVELETS = ("haar",) + tuple(f"db{n}" for n in range(1, _MAX_DB + 1))
_PAD = {"zero": "constant", "constant": "edge", "symmetric": "symmetric", "reflect": "reflect", "periodic": "wrap"}


@functools.cache
def _daubechies(n: int) -> np.ndarray:
    p = [math.comb(n - 1 + k, k) for k in range(n)]  # P(y), coefficient of y^k
    zeros = [-1.0] * n
    for y in np.roots(p[::-1]) if n > 1 else []:
        b = 1.0 - 2.0 * y  # z^2 - 2 b z + 1 = 0
        r = np.sqrt(b * b - 1.0 + 0j)
        z1, z2 = b + r, b - r
        zeros.append(z1 if abs(z1) < 1 else z2)
    h = np.real(np.poly(zeros))
    h *= np.sqrt(2.0) / h.sum()
    h.flags.writeable = False
    return h


def daubechies_filter(n: int) -> np.ndarray:
    """The scaling (reconstruction low-pass) filter of Daubechies' ``dbn``: 2n taps, n vanishing moments,
    minimum phase, sum sqrt(2), orthonormal to its even shifts."""
    fn = "daubechies_filter"
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= _MAX_DB:
        raise ValueError(f"{fn}: n must be an integer from 1 to {_MAX_DB}, got {n!r}")
    return _daubechies(int(n)).copy()


def _wavelet_order(wavelet, fn: str) -> int:
    if isinstance(wavelet, str):
        w = wavelet.strip().lower()
        if w == "haar":
            return 1
        m = re.fullmatch(r"db(\d+)", w)
        if m and 1 <= int(m.group(1)) <= _MAX_DB:
            return int(m.group(1))
    raise ValueError(f"{fn}: unknown wavelet {wavelet!r}; expected 'haar' or 'db1' ... 'db{_MAX_DB}'")


def wavelet_filters(wavelet: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(dec_lo, dec_hi, rec_lo, rec_hi)`` of ``wavelet`` ('haar', 'db1' ... 'db20'), the layout of
    ``pywt.Wavelet(wavelet).filter_bank``."""
    h = _daubechies(_wavelet_order(wavelet, "wavelet_filters"))
    f = len(h)
    rec_lo = h.copy()
    rec_hi = (-1.0) ** np.arange(f) * h[::-1]
    return rec_lo[::-1].copy(), rec_hi[::-1].copy(), rec_lo, rec_hi


def _check_mode(mode, fn: str) -> str:
    if mode not in MODES:
        raise ValueError(f"{fn}: unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return mode


def dwt_max_level(size: int, wavelet: str) -> int:
    """The deepest useful level for a signal of ``size`` samples: ``floor(log2(size / (F - 1)))`` with F taps
    (0 when size < F - 1), as ``pywt.dwt_max_level``; the level at which the last approximation still has at
    least F - 1 samples."""
    fn = "dwt_max_level"
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"{fn}: size must be a positive integer, got {size!r}")
    f = 2 * _wavelet_order(wavelet, fn)
    if size < f - 1:
        return 0
    return int(math.floor(math.log2(size / (f - 1))))


# ----------------------------------------------------------------------------------- one axis (the last one)


def _extend(x: np.ndarray, p: int, mode: str) -> np.ndarray:
    """x extended by p samples at both ends of its last axis."""
    if mode == "smooth":
        n = x.shape[-1]
        if n < 2:
            return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(p, p)], mode="edge")
        k = np.arange(1, p + 1)
        left = x[..., :1] + (x[..., :1] - x[..., 1:2]) * k[::-1]
        right = x[..., -1:] + (x[..., -1:] - x[..., -2:-1]) * k
        return np.concatenate([left, x, right], axis=-1)
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(p, p)], mode=_PAD[mode])


def _analysis(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, mode: str):
    """One level along the last axis: (approximation, detail)."""
    f = len(lo)
    if mode == "periodization":
        if x.shape[-1] % 2:
            x = np.concatenate([x, x[..., -1:]], axis=-1)
        n = x.shape[-1]
        idx = (f // 2 + 2 * np.arange(n // 2)[:, None] - np.arange(f)[None, :]) % n
        win = x[..., idx]  # (..., n/2, F): the samples under each output's filter taps
        return win @ lo, win @ hi
    ext = _extend(x, f - 1, mode)
    win = np.lib.stride_tricks.sliding_window_view(ext, f, axis=-1)[..., 1::2, :]
    return win @ lo[::-1], win @ hi[::-1]


def _synthesis(a: np.ndarray, d: np.ndarray, wav: tuple, mode: str, fn: str) -> np.ndarray:
    """Inverse of :func:`_analysis` along the last axis."""
    dec_lo, dec_hi, rec_lo, rec_hi = wav
    f = len(rec_lo)
    m = a.shape[-1]
    if mode == "periodization":
        n = 2 * m
        t = np.arange(n)[:, None] - f // 2 + np.arange(f)[None, :]  # 2 o = n - F/2 + j (mod n)
        idx = (t // 2) % m
        even = (t % 2 == 0).astype(np.float64)
        return (a[..., idx] * (even * dec_lo)).sum(-1) + (d[..., idx] * (even * dec_hi)).sum(-1)
    if 2 * m - f + 2 < 1:
        raise ValueError(
            f"{fn}: {m} coefficients along an axis are too few for a {f}-tap filter in mode {mode!r} "
            f"(at least {f // 2} are needed)"
        )
    up = np.zeros(a.shape[:-1] + (2 * m + 1,))
    up[..., 1::2] = a
    out = np.lib.stride_tricks.sliding_window_view(up, f, axis=-1) @ rec_lo[::-1]
    up[..., 1::2] = d
    out = out + np.lib.stride_tricks.sliding_window_view(up, f, axis=-1) @ rec_hi[::-1]
    return out


def _on_axis(func, x: np.ndarray, axis: int):
    out = func(np.moveaxis(x, axis, -1))
    if isinstance(out, tuple):
        return tuple(np.moveaxis(o, -1, axis) for o in out)
    return np.moveaxis(out, -1, axis)


# ------------------------------------------------------------------------------------------------------- 2-D


def _dwt2(x, wav, mode):
    dec_lo, dec_hi = wav[0], wav[1]
    lo, hi = _on_axis(lambda v: _analysis(v, dec_lo, dec_hi, mode), x, 0)
    ca, cv = _on_axis(lambda v: _analysis(v, dec_lo, dec_hi, mode), lo, 1)
    ch, cd = _on_axis(lambda v: _analysis(v, dec_lo, dec_hi, mode), hi, 1)
    return ca, (ch, cv, cd)


def _idwt2(ca, ch, cv, cd, wav, mode, fn):
    lo = _on_axis(lambda v: _synthesis(v, np.moveaxis(cv, 1, -1), wav, mode, fn), ca, 1)
    hi = _on_axis(lambda v: _synthesis(v, np.moveaxis(cd, 1, -1), wav, mode, fn), ch, 1)
    return _on_axis(lambda v: _synthesis(v, np.moveaxis(hi, 0, -1), wav, mode, fn), lo, 0)


def dwt2(x: np.ndarray, wavelet: str = "haar", mode: str = "symmetric"):
    """One level of the 2-D discrete wavelet transform of a real 2-D array: ``(cA, (cH, cV, cD))``, equal to
    ``pywt.dwt2(x, wavelet, mode)``.  float64."""
    fn = "dwt2"
    x = check_2d(x, fn)
    wav = wavelet_filters(_name(wavelet, fn))
    return _dwt2(x, wav, _check_mode(mode, fn))


def _name(wavelet, fn):
    _wavelet_order(wavelet, fn)
    return wavelet


def _check_coeff_set(ca, details, fn: str):
    if not isinstance(details, (tuple, list)) or len(details) != 3:
        raise ValueError(f"{fn}: expected the details as a tuple (cH, cV, cD), got {type(details).__name__}")
    arrays = [check_2d(c, fn) for c in (ca, *details)]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"{fn}: cA, cH, cV, cD must have one shape, got {', '.join(str(a.shape) for a in arrays)}")
    return arrays


def idwt2(coeffs, wavelet: str = "haar", mode: str = "symmetric") -> np.ndarray:
    """Inverse of :func:`dwt2`: ``coeffs = (cA, (cH, cV, cD))``; equals ``pywt.idwt2``."""
    fn = "idwt2"
    if not isinstance(coeffs, (tuple, list)) or len(coeffs) != 2:
        raise ValueError(f"{fn}: expected coeffs = (cA, (cH, cV, cD)), got {type(coeffs).__name__}")
    wav = wavelet_filters(_name(wavelet, fn))
    mode = _check_mode(mode, fn)
    ca, ch, cv, cd = _check_coeff_set(coeffs[0], coeffs[1], fn)
    return _idwt2(ca, ch, cv, cd, wav, mode, fn)


def wavedec2(x: np.ndarray, wavelet: str = "haar", mode: str = "symmetric", level: int | None = None) -> list:
    """Multi-level 2-D wavelet decomposition ``[cA_n, (cH_n, cV_n, cD_n), ..., (cH_1, cV_1, cD_1)]``, equal to
    ``pywt.wavedec2``.  ``level`` defaults to the deepest useful one (:func:`dwt_max_level` of the shorter
    side); a deeper level is an error."""
    fn = "wavedec2"
    x = check_2d(x, fn)
    wav = wavelet_filters(_name(wavelet, fn))
    mode = _check_mode(mode, fn)
    top = min(dwt_max_level(s, wavelet) for s in x.shape)
    if level is None:
        level = top
        if level < 1:
            raise ValueError(f"{fn}: an image of shape {x.shape} is too small for even one level of {wavelet!r}")
    if isinstance(level, bool) or not isinstance(level, numbers.Integral) or level < 1:
        raise ValueError(f"{fn}: level must be a positive integer or None, got {level!r}")
    if level > top:
        raise ValueError(
            f"{fn}: level={level} is too many for shape {x.shape} with {wavelet!r}; the deepest useful level "
            f"(dwt_max_level) is {top}"
        )
    out = []
    a = x
    for _ in range(int(level)):
        a, det = _dwt2(a, wav, mode)
        out.append(det)
    return [a, *out[::-1]]


def waverec2(coeffs, wavelet: str = "haar", mode: str = "symmetric") -> np.ndarray:
    """Inverse of :func:`wavedec2`; equals ``pywt.waverec2``."""
    fn = "waverec2"
    if not isinstance(coeffs, (tuple, list)) or len(coeffs) < 2:
        raise ValueError(f"{fn}: expected [cA_n, (cH_n, cV_n, cD_n), ..., (cH_1, cV_1, cD_1)], got {coeffs!r:.80}")
    wav = wavelet_filters(_name(wavelet, fn))
    mode = _check_mode(mode, fn)
    a = check_2d(coeffs[0], fn)
    for det in coeffs[1:]:
        if not isinstance(det, (tuple, list)) or len(det) != 3:
            raise ValueError(f"{fn}: every detail level must be a tuple (cH, cV, cD), got {type(det).__name__}")
        ds = det[0].shape if isinstance(det[0], np.ndarray) else None
        if ds is not None and len(ds) == 2:
            # an odd-sized level leaves its approximation one longer than the next details: drop that sample
            a = a[tuple(slice(None, -1) if sa == sd + 1 else slice(None) for sa, sd in zip(a.shape, ds))]
        ca, ch, cv, cd = _check_coeff_set(a, det, fn)
        a = _idwt2(ca, ch, cv, cd, wav, mode, fn)
    return a
