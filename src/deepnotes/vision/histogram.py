"""Histogram equalisation, histogram matching and local (sliding-window) histogram equalisation.

Conventions:

* ``equalize_hist`` on uint8 follows OpenCV's ``cv2.equalizeHist``: with ``h`` the 256-bin histogram, ``i0`` the
  lowest occupied level and ``N`` the pixel count, level ``v`` maps to ``rint(float32(cdf(v) - h[i0]) *
  float32(255 / (N - h[i0])))`` (float32 arithmetic and round-half-to-even, as OpenCV computes it), and a
  constant image is returned unchanged.  On float images it follows ``skimage.exposure.equalize_hist``:
  ``nbins`` equal bins over [min, max], the normalised cumulative histogram sampled at the bin centres and
  linearly interpolated at every pixel, giving floats in (0, 1].
* ``match_histograms`` maps each source value to the reference value at the same quantile: the source's
  cumulative fraction ``cdf_s(v)`` is looked up on the reference's (value, cumulative fraction) curve by linear
  interpolation (``skimage.exposure.match_histograms``); uint8 results are rounded half to even (skimage
  returns the unrounded floats for grey uint8 input and truncates them for colour uint8 input).
* ``match_histograms_local`` sends each pixel's rank in its window to the reference's quantile (see the function).
* ``equalize_local`` is histogram equalisation inside a square window centred on each pixel:
  ``out = floor(255 * #{window pixels <= centre} / #{window pixels})`` on uint8 images, where the window is
  clipped at the image border (only pixels inside the image count).  This equals
  ``skimage.filters.rank.equalize(img, footprint=np.ones((2r+1, 2r+1)))``.

Colour images are processed channel by channel.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._checks import check_image, per_channel

__all__ = ["equalize_hist", "match_histograms", "equalize_local", "match_histograms_local"]


def _equalize_u8(f: np.ndarray) -> np.ndarray:
    h = np.bincount(f.ravel(), minlength=256)
    total = f.size
    i0 = int(np.flatnonzero(h)[0])
    if h[i0] == total:
        return f.copy()
    scale = np.float32(255.0) / np.float32(total - h[i0])
    cum = np.cumsum(h) - h[i0]
    lut = np.rint(cum.astype(np.float32) * scale)
    lut[: i0 + 1] = 0
    return np.clip(lut, 0, 255).astype(np.uint8)[f]


def _equalize_float(f: np.ndarray, nbins: int) -> np.ndarray:
    lo, hi = float(f.min()), float(f.max())
    hist, edges = np.histogram(f, bins=nbins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2.0
    cdf = np.cumsum(hist) / f.size
    return np.interp(f.ravel(), centres, cdf).reshape(f.shape).astype(f.dtype, copy=False)


def equalize_hist(img: np.ndarray, nbins: int = 256) -> np.ndarray:
    """Global histogram equalisation (per channel); uint8 in -> uint8 out (OpenCV's formula), float in -> float in
    (0, 1] (scikit-image's; ``nbins`` applies to floats only).  See the module docstring for the exact mapping."""
    fn = "equalize_hist"
    img = check_image(img, fn)
    if isinstance(nbins, bool) or not isinstance(nbins, numbers.Integral) or nbins < 2:
        raise ValueError(f"{fn}: nbins must be an integer >= 2, got {nbins!r}")
    if img.dtype == np.uint8:
        return per_channel(_equalize_u8, img)
    return per_channel(lambda f: _equalize_float(f, int(nbins)), img)


def _match_plane(src: np.ndarray, ref: np.ndarray) -> np.ndarray:
    s_vals, s_idx, s_cnt = np.unique(src.ravel(), return_inverse=True, return_counts=True)
    r_vals, r_cnt = np.unique(ref.ravel(), return_counts=True)
    s_q = np.cumsum(s_cnt) / src.size
    r_q = np.cumsum(r_cnt) / ref.size
    mapped = np.interp(s_q, r_q, r_vals.astype(np.float64))
    return mapped[s_idx.ravel()].reshape(src.shape)


def match_histograms(img: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Give ``img`` the histogram of ``reference`` (quantile mapping, per channel); both must have the same number
    of channels (their sizes may differ).  Returns ``img``'s dtype (uint8 rounded half to even and saturated)."""
    fn = "match_histograms"
    img = check_image(img, fn)
    reference = check_image(reference, fn)
    if img.ndim != reference.ndim or (img.ndim == 3 and img.shape[2] != reference.shape[2]):
        raise ValueError(
            f"{fn}: image and reference must have the same number of channels, got shapes {img.shape} and "
            f"{reference.shape}"
        )
    if img.ndim == 2:
        out = _match_plane(img, reference)
    else:
        out = np.stack([_match_plane(img[..., c], reference[..., c]) for c in range(img.shape[2])], axis=-1)
    if img.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(img.dtype, copy=False)


def _local_counts(f: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel: how many pixels of its window (clipped at the border) are <= it, and the window size."""
    h, w = f.shape
    k = 2 * r + 1
    p = np.pad(f.astype(np.int16), r, mode="constant", constant_values=256)  # 256: outside, never <= a level
    below = np.empty((h, w), dtype=np.int64)
    inside = np.empty((h, w), dtype=np.int64)
    step = max(1, 4_000_000 // max(1, w * k * k))
    for y0 in range(0, h, step):
        y1 = min(h, y0 + step)
        win = np.lib.stride_tricks.sliding_window_view(p[y0 : y1 + 2 * r], (k, k))
        centre = f[y0:y1, :, None, None].astype(np.int16)
        below[y0:y1] = (win <= centre).sum(axis=(2, 3))
        inside[y0:y1] = (win < 256).sum(axis=(2, 3))
    return below, inside


def _local_plane(f: np.ndarray, r: int) -> np.ndarray:
    below, inside = _local_counts(f, r)
    return ((255 * below) // inside).astype(np.uint8)


def equalize_local(img: np.ndarray, radius: int = 7) -> np.ndarray:
    """Local histogram equalisation of a uint8 image over (2 radius + 1)^2 windows clipped at the border:
    ``floor(255 * #{window <= centre} / #{window})`` (as ``skimage.filters.rank.equalize`` with a square
    footprint).  Colour images are processed per channel."""
    fn = "equalize_local"
    img = check_image(img, fn, uint8_only=True)
    if isinstance(radius, bool) or not isinstance(radius, numbers.Integral) or radius < 1:
        raise ValueError(f"{fn}: radius must be a positive integer, got {radius!r}")
    return per_channel(lambda f: _local_plane(f, int(radius)), img)


def match_histograms_local(img: np.ndarray, reference: np.ndarray, radius: int = 7) -> np.ndarray:
    """Local histogram matching of a uint8 image: each pixel's rank in its (2 radius + 1)^2 window (clipped at the
    border), ``T = #{window <= centre} / #{window}``, is sent to the smallest grey level ``q`` whose cumulative
    share in ``reference`` (a uint8 image with the target distribution) reaches it: ``G(q) >= T``.
    Colour images are processed per channel (the reference must have the same number of channels)."""
    fn = "match_histograms_local"
    img = check_image(img, fn, uint8_only=True)
    reference = check_image(reference, fn, uint8_only=True)
    if isinstance(radius, bool) or not isinstance(radius, numbers.Integral) or radius < 1:
        raise ValueError(f"{fn}: radius must be a positive integer, got {radius!r}")
    if img.ndim != reference.ndim or (img.ndim == 3 and img.shape[2] != reference.shape[2]):
        raise ValueError(
            f"{fn}: image and reference must have the same number of channels, got shapes {img.shape} and "
            f"{reference.shape}"
        )

    def one(f, ref):
        below, inside = _local_counts(f, int(radius))
        counts = np.cumsum(np.bincount(ref.ravel(), minlength=256))
        # G(q) >= below / inside  <=>  counts[q] * inside >= below * ref.size (exact integer comparison)
        q = np.empty(f.shape, dtype=np.int64)
        for n in np.unique(inside):  # few window sizes: the full one and the clipped ones near the border
            sel = inside == n
            q[sel] = np.searchsorted(counts * int(n), below[sel] * ref.size)
        return np.minimum(q, 255).astype(np.uint8)

    if img.ndim == 2:
        return one(img, reference)
    return np.stack([one(img[..., c], reference[..., c]) for c in range(img.shape[2])], axis=-1)
