"""Spatial filters: box, Gaussian and median smoothing; Laplacian and unsharp-mask sharpening; Sobel gradients.

Border mode: every linear filter here (``box_blur``, ``gaussian_blur``, ``laplacian``, ``sharpen_laplacian``,
``unsharp_mask``, ``sobel``) extends the image by mirroring without repeating the edge pixel
(``dcb|abcd|cba``), which is OpenCV's default ``BORDER_REFLECT_101``, NumPy's ``np.pad(mode="reflect")`` and
scipy.ndimage's ``mode="mirror"``.  ``median_blur`` repeats the edge pixel (``aaa|abcd|ddd``), which is what
``cv2.medianBlur`` does (``BORDER_REPLICATE``, scipy's ``mode="nearest"``).

Arithmetic is float64 throughout.  Smoothing and sharpening return the input's dtype: float images come
back as float (same precision), uint8 images are rounded half to even and saturated to [0, 255].  OpenCV's
8-bit Gaussian and box filters use fixed-point arithmetic, so they can differ from this exact rounding by one
grey level on some pixels; the float results equal OpenCV's and scipy's to rounding error.  ``laplacian`` and
``sobel`` are derivatives (negative values), so they always return float64 (OpenCV's ``ddepth=cv2.CV_64F``).

Colour images (H, W, C) are filtered channel by channel.  Filters correlate (no kernel flip), as OpenCV does.
"""

from __future__ import annotations

import numpy as np

from ._checks import back_to, check_image, check_ksize, check_positive, per_channel, to_float

__all__ = [
    "correlate2d",
    "box_blur",
    "gaussian_kernel",
    "gaussian_blur",
    "median_blur",
    "laplacian",
    "sharpen_laplacian",
    "unsharp_mask",
    "sobel",
]


def _reflect_pad(f: np.ndarray, ph: int, pw: int) -> np.ndarray:
    # np.pad's "reflect" needs pad < size on each pass; repeat for tiny images (OpenCV reflects periodically)
    out = f
    while ph > 0 or pw > 0:
        h, w = out.shape
        a = min(ph, max(h - 1, 0))
        b = min(pw, max(w - 1, 0))
        if a == 0 and b == 0:  # a 1-pixel side: reflect-101 of a single pixel is that pixel
            return np.pad(out, ((ph, ph), (pw, pw)), mode="edge")
        out = np.pad(out, ((a, a), (b, b)), mode="reflect")
        ph -= a
        pw -= b
    return out


def _separable(f: np.ndarray, ky: np.ndarray, kx: np.ndarray) -> np.ndarray:
    """Correlate a float64 (H, W) plane with the outer product ky x kx, reflect-101 borders."""
    ry, rx = len(ky) // 2, len(kx) // 2
    p = _reflect_pad(f, ry, rx)
    h, w = f.shape
    rows = np.zeros((p.shape[0], w))
    for j, c in enumerate(kx):
        if c != 0:
            rows += c * p[:, j : j + w]
    out = np.zeros((h, w))
    for i, c in enumerate(ky):
        if c != 0:
            out += c * rows[i : i + h, :]
    return out


def correlate2d(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate an image (per channel) with an odd-sized 2-D ``kernel`` (reflect-101 borders); returns float64.

    Equal to ``cv2.filter2D(img, cv2.CV_64F, kernel)`` and ``scipy.ndimage.correlate(img, kernel, mode="mirror")``."""
    fn = "correlate2d"
    img = check_image(img, fn)
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ValueError(f"{fn}: expected a 2-D kernel with odd sides, got shape {kernel.shape}")
    ry, rx = kernel.shape[0] // 2, kernel.shape[1] // 2

    def one(f):
        p = _reflect_pad(to_float(f), ry, rx)
        h, w = f.shape
        out = np.zeros((h, w))
        for i in range(kernel.shape[0]):
            for j in range(kernel.shape[1]):
                if kernel[i, j] != 0:
                    out += kernel[i, j] * p[i : i + h, j : j + w]
        return out

    return per_channel(one, img)


def box_blur(img: np.ndarray, ksize: int = 3) -> np.ndarray:
    """Mean over a ``ksize`` x ``ksize`` window (odd ``ksize``), reflect-101 borders; as ``cv2.blur``."""
    fn = "box_blur"
    img = check_image(img, fn)
    k = check_ksize(ksize, fn)
    kern = np.full(k, 1.0 / k)
    return back_to(img, per_channel(lambda f: _separable(to_float(f), kern, kern), img))


def gaussian_kernel(ksize: int, sigma: float) -> np.ndarray:
    """The normalised 1-D Gaussian ``exp(-x^2 / (2 sigma^2))`` on x = -(ksize//2) .. ksize//2 (``cv2.getGaussianKernel``
    with a positive sigma)."""
    fn = "gaussian_kernel"
    k = check_ksize(ksize, fn)
    s = check_positive(sigma, fn, "sigma")
    x = np.arange(k) - k // 2
    g = np.exp(-(x**2) / (2.0 * s * s))
    return g / g.sum()


def gaussian_blur(img: np.ndarray, ksize: int = 5, sigma: float = 1.0) -> np.ndarray:
    """Gaussian smoothing with a ``ksize`` x ``ksize`` kernel of standard deviation ``sigma`` (both axes), reflect-101
    borders; as ``cv2.GaussianBlur(img, (ksize, ksize), sigma)``."""
    fn = "gaussian_blur"
    img = check_image(img, fn)
    check_ksize(ksize, fn)
    check_positive(sigma, fn, "sigma")
    g = gaussian_kernel(ksize, sigma)
    return back_to(img, per_channel(lambda f: _separable(to_float(f), g, g), img))


def median_blur(img: np.ndarray, ksize: int = 3) -> np.ndarray:
    """Median over a ``ksize`` x ``ksize`` window (odd ``ksize``), edge pixels repeated at the border; as
    ``cv2.medianBlur`` and ``scipy.ndimage.median_filter(mode="nearest")``.  The window has an odd number of
    pixels, so the median is one of them: uint8 results need no rounding."""
    fn = "median_blur"
    img = check_image(img, fn)
    k = check_ksize(ksize, fn)
    r = k // 2

    def one(f):
        p = np.pad(f, r, mode="edge")
        h, w = f.shape
        out = np.empty((h, w), dtype=f.dtype)
        step = max(1, 2_000_000 // max(1, w * k * k))  # bound the window stack's memory
        for y0 in range(0, h, step):
            y1 = min(h, y0 + step)
            win = np.lib.stride_tricks.sliding_window_view(p[y0 : y1 + 2 * r], (k, k))
            out[y0:y1] = np.median(win.reshape(y1 - y0, w, k * k), axis=-1)
        return out

    return per_channel(one, img)


def laplacian(img: np.ndarray) -> np.ndarray:
    """The 4-neighbour Laplacian ``f(x+1,y) + f(x-1,y) + f(x,y+1) + f(x,y-1) - 4 f(x,y)``, reflect-101 borders;
    float64, as ``cv2.Laplacian(img, cv2.CV_64F)`` (ksize 1)."""
    fn = "laplacian"
    img = check_image(img, fn)

    def one(f):
        f = to_float(f)
        p = _reflect_pad(f, 1, 1)
        h, w = f.shape
        return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * f

    return per_channel(one, img)


def sharpen_laplacian(img: np.ndarray, c: float = 1.0) -> np.ndarray:
    """Laplacian sharpening ``g = f - c * laplacian(f)`` (the kernel's centre is negative, so subtracting adds the
    detail back); returns the input's dtype (uint8: rint and saturate)."""
    fn = "sharpen_laplacian"
    img = check_image(img, fn)
    check_positive(c, fn, "c", allow_zero=True)
    return back_to(img, to_float(img) - c * laplacian(img))


def unsharp_mask(img: np.ndarray, ksize: int = 5, sigma: float = 1.0, amount: float = 1.0) -> np.ndarray:
    """Unsharp masking ``g = f + amount * (f - gaussian_blur(f))`` (blur computed in float64, before any rounding);
    returns the input's dtype (uint8: rint and saturate)."""
    fn = "unsharp_mask"
    img = check_image(img, fn)
    check_ksize(ksize, fn)
    check_positive(sigma, fn, "sigma")
    check_positive(amount, fn, "amount", allow_zero=True)
    f = to_float(img)
    blur = gaussian_blur(f, ksize, sigma)
    return back_to(img, f + amount * (f - blur))


def _deriv_kernel(order: int, ksize: int) -> np.ndarray:
    # binomial smoothing of length ksize - order convolved ``order`` times with the difference [-1, 1]
    k = np.array([1.0])
    for _ in range(ksize - 1 - order):
        k = np.convolve(k, [1.0, 1.0])
    for _ in range(order):
        k = np.convolve(k, [-1.0, 1.0])
    return k


def sobel(img: np.ndarray, dx: int = 1, dy: int = 0, ksize: int = 3) -> np.ndarray:
    """Sobel derivative of order ``dx`` along x (columns) and ``dy`` along y (rows), ``ksize`` in {3, 5, 7};
    float64, reflect-101 borders; as ``cv2.Sobel(img, cv2.CV_64F, dx, dy, ksize=ksize)``.  With ksize 3 and
    dx=1 the kernel is [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]."""
    fn = "sobel"
    img = check_image(img, fn)
    k = check_ksize(ksize, fn)
    if k not in (3, 5, 7):
        raise ValueError(f"{fn}: ksize must be 3, 5 or 7, got {k}")
    for name, v in (("dx", dx), ("dy", dy)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= 2:
            raise ValueError(f"{fn}: {name} must be an integer in 0..2, got {v!r}")
    if dx + dy == 0:
        raise ValueError(f"{fn}: expected a derivative (dx + dy >= 1), got dx=0 and dy=0")
    kx = _deriv_kernel(int(dx), k)
    ky = _deriv_kernel(int(dy), k)
    return per_channel(lambda f: _separable(to_float(f), ky, kx), img)
