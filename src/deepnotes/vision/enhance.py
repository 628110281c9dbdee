"""Local-statistics enhancement (seed 002's algorithm; Gonzalez & Woods' "enhancement using histogram statistics").

With ``M_G``, ``sigma_G`` the global mean and standard deviation and ``M_L(x, y)``, ``sigma_L(x, y)`` those of the
(2 s + 1) x (2 s + 1) neighbourhood of (x, y), a pixel is multiplied by ``E`` when

    M_L <= k0 * M_G   and   k1 * sigma_G <= sigma_L <= k2 * sigma_G,

i.e. when it sits in a region that is dark (low local mean) but not flat (some local contrast) and not an edge
(not too much contrast); every other pixel is kept.  The neighbourhood is clipped at the image border (only
pixels inside the image count), standard deviations are population ones (divide by n), and uint8 results are
rounded half to even and saturated at 255.  Colour images use each channel's own statistics.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._checks import back_to, check_image, check_positive, per_channel, to_float

__all__ = ["local_mean_std", "local_statistics_mask", "local_statistics_enhance"]


def _box_sum(a: np.ndarray, r: int) -> np.ndarray:
    h, w = a.shape
    c = np.zeros((h + 1, w + 1))
    c[1:, 1:] = a.cumsum(0).cumsum(1)
    y0 = np.clip(np.arange(h) - r, 0, h)
    y1 = np.clip(np.arange(h) + r + 1, 0, h)
    x0 = np.clip(np.arange(w) - r, 0, w)
    x1 = np.clip(np.arange(w) + r + 1, 0, w)
    return c[y1][:, x1] - c[y0][:, x1] - c[y1][:, x0] + c[y0][:, x0]


def local_mean_std(plane: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population standard deviation over (2 s + 1)^2 neighbourhoods clipped at the border (float64)."""
    f = to_float(plane)
    n = _box_sum(np.ones_like(f), s)
    mean = _box_sum(f, s) / n
    centred = f - f.mean()  # shift before squaring for accuracy; the variance is shift invariant
    m1 = _box_sum(centred, s) / n
    m2 = _box_sum(centred * centred, s) / n
    return mean, np.sqrt(np.maximum(m2 - m1 * m1, 0.0))


def _check_params(fn, E, k0, k1, k2, s):
    check_positive(E, fn, "E")
    check_positive(k0, fn, "k0")
    check_positive(k1, fn, "k1", allow_zero=True)
    check_positive(k2, fn, "k2")
    if k1 > k2:
        raise ValueError(f"{fn}: expected k1 <= k2, got k1={k1} and k2={k2}")
    if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
        raise ValueError(f"{fn}: s (the window half-width) must be a positive integer, got {s!r}")


def _mask_plane(f, k0, k1, k2, s):
    f = to_float(f)
    mg, sg = f.mean(), f.std()
    ml, sl = local_mean_std(f, s)
    return (ml <= k0 * mg) & (sl >= k1 * sg) & (sl <= k2 * sg)


def local_statistics_mask(img, k0=0.4, k1=0.02, k2=0.4, s=1) -> np.ndarray:
    """The boolean map of the pixels that ``local_statistics_enhance`` multiplies by E (same shape as ``img``)."""
    fn = "local_statistics_mask"
    img = check_image(img, fn)
    _check_params(fn, 1.0, k0, k1, k2, s)
    return per_channel(lambda f: _mask_plane(f, k0, k1, k2, int(s)), img)


def local_statistics_enhance(img, E=4.0, k0=0.4, k1=0.02, k2=0.4, s=1) -> np.ndarray:
    """Multiply by ``E`` the pixels whose neighbourhood is dark and moderately textured (see the module docstring).

    Defaults are Gonzalez & Woods' example (E = 4, k0 = 0.4, k1 = 0.02, k2 = 0.4, a 3 x 3 window: s = 1)."""
    fn = "local_statistics_enhance"
    img = check_image(img, fn)
    _check_params(fn, E, k0, k1, k2, s)

    def one(f):
        m = _mask_plane(f, k0, k1, k2, int(s))
        return np.where(m, E * to_float(f), to_float(f))

    return back_to(img, per_channel(one, img))
