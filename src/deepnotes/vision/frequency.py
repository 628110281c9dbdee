"""Frequency-domain filtering with Gonzalez & Woods' ideal, Butterworth and Gaussian low/high-pass filters.

The spectrum is centred (``np.fft.fftshift`` of ``np.fft.fft2``); on a P x Q grid the distance of (u, v) from
the centre is ``D(u, v) = sqrt((u - P//2)^2 + (v - Q//2)^2)`` (P//2, Q//2 is where fftshift puts the DC term, so
for even sizes it is G&W's P/2, Q/2).  With cut-off ``d0`` and Butterworth order ``n``:

* ideal:       H_lp = 1 if D <= d0 else 0
* Butterworth: H_lp = 1 / (1 + (D / d0)^(2n))
* Gaussian:    H_lp = exp(-D^2 / (2 d0^2))

and every high-pass is ``H_hp = 1 - H_lp`` (for Butterworth this is G&W's 1 / (1 + (d0 / D)^(2n))).  The
filtered image is ``real(ifft2(ifftshift(H * fftshift(fft2(f)))))``.  With ``pad=True`` the image is first
zero-padded to 2H x 2W (G&W's recipe against wrap-around) and the result cropped back; by default the
filtering is circular.  Results are always float64 (a high-pass has negative values); colour images are
filtered per channel.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_image, check_positive, per_channel, to_float

__all__ = [
    "distance_grid",
    "transfer_function",
    "frequency_filter",
    "ideal_lowpass",
    "ideal_highpass",
    "butterworth_lowpass",
    "butterworth_highpass",
    "gaussian_lowpass",
    "gaussian_highpass",
]

_KINDS = ("ideal", "butterworth", "gaussian")


def distance_grid(shape: tuple[int, int]) -> np.ndarray:
    """D(u, v): distance of every frequency from the centre of the shifted spectrum of a ``shape`` grid."""
    p, q = int(shape[0]), int(shape[1])
    u = np.arange(p)[:, None] - p // 2
    v = np.arange(q)[None, :] - q // 2
    return np.sqrt(u * u + v * v)


def transfer_function(kind: str, shape, d0: float, n: int = 2, highpass: bool = False) -> np.ndarray:
    """The centred transfer function H(u, v) of an ``kind`` ('ideal', 'butterworth', 'gaussian') filter."""
    fn = "transfer_function"
    if kind not in _KINDS:
        raise ValueError(f"{fn}: kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    check_positive(d0, fn, "d0")
    if kind == "butterworth" and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"{fn}: the Butterworth order n must be a positive integer, got {n!r}")
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"{fn}: expected a (P, Q) shape of positive sizes, got {tuple(shape)}")
    d = distance_grid(shape)
    if kind == "ideal":
        lp = (d <= d0).astype(np.float64)
    elif kind == "butterworth":
        lp = 1.0 / (1.0 + (d / d0) ** (2 * int(n)))
    else:
        lp = np.exp(-(d * d) / (2.0 * d0 * d0))
    return 1.0 - lp if highpass else lp


def frequency_filter(
    img: np.ndarray, h: np.ndarray | None = None, *, kind=None, d0=None, n=2, highpass=False, pad=False
):
    """Filter ``img`` (per channel) in the frequency domain by a centred transfer function: either ``h`` given
    (its shape must be the (padded) image's) or built from ``kind``, ``d0``, ``n``, ``highpass``."""
    fn = "frequency_filter"
    img = check_image(img, fn)
    hh, ww = img.shape[:2]
    shape = (2 * hh, 2 * ww) if pad else (hh, ww)
    if h is None:
        if kind is None or d0 is None:
            raise ValueError(f"{fn}: expected a transfer function h, or kind and d0, got neither")
        h = transfer_function(kind, shape, d0, n, highpass)
    h = np.asarray(h, dtype=np.float64)
    if h.shape != shape:
        raise ValueError(f"{fn}: transfer function shape must be {shape}, got {h.shape}")

    def one(f):
        f = to_float(f)
        if pad:
            f = np.pad(f, ((0, hh), (0, ww)))
        spec = np.fft.fftshift(np.fft.fft2(f))
        g = np.real(np.fft.ifft2(np.fft.ifftshift(h * spec)))
        return g[:hh, :ww]

    return per_channel(one, img)


def ideal_lowpass(img, d0, pad=False):
    """Ideal low-pass: keep frequencies with D <= d0."""
    return frequency_filter(img, kind="ideal", d0=d0, pad=pad)


def ideal_highpass(img, d0, pad=False):
    """Ideal high-pass: remove frequencies with D <= d0."""
    return frequency_filter(img, kind="ideal", d0=d0, highpass=True, pad=pad)


def butterworth_lowpass(img, d0, n=2, pad=False):
    """Butterworth low-pass of order n: 1 / (1 + (D / d0)^(2n))."""
    return frequency_filter(img, kind="butterworth", d0=d0, n=n, pad=pad)


def butterworth_highpass(img, d0, n=2, pad=False):
    """Butterworth high-pass of order n: 1 / (1 + (d0 / D)^(2n)) = 1 - the low-pass."""
    return frequency_filter(img, kind="butterworth", d0=d0, n=n, highpass=True, pad=pad)


def gaussian_lowpass(img, d0, pad=False):
    """Gaussian low-pass: exp(-D^2 / (2 d0^2))."""
    return frequency_filter(img, kind="gaussian", d0=d0, pad=pad)


def gaussian_highpass(img, d0, pad=False):
    """Gaussian high-pass: 1 - exp(-D^2 / (2 d0^2))."""
    return frequency_filter(img, kind="gaussian", d0=d0, highpass=True, pad=pad)
