"""Colour and pixel-value ops on images (torchvision's ``_color`` and ``_misc`` functionals): masks and
boxes pass through them unchanged.

Integer images are computed in float32 and brought back as torch does (truncation after blends,
rounding after blurs), so uint8 results match torch exactly or within one grey level.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .... import random as _random
from ._meta import _to_dtype_image
from ._utils import _image_array, _kind, _max_value, _round_to, _work_dtype

__all__ = [
    "normalize",
    "rgb_to_grayscale",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
    "gaussian_blur",
    "gaussian_noise",
    "erase",
]


def _image_only(name, inpt, fn):
    """Apply ``fn`` to images; masks and boxes are returned as they are (colour does not move them)."""
    if _kind(inpt) in ("boxes", "mask"):
        return inpt
    arr, back = _image_array(inpt, name)
    return back(fn(arr))


def _channels(image, where, allowed=(1, 3)):
    c = image.shape[-3]
    if c not in allowed:
        raise TypeError(f"{where}: expected an image with {' or '.join(map(str, allowed))} channels, got {c}")
    return c


def normalize(inpt, mean, std, inplace=False):
    """``(image - mean) / std`` per channel, for float images (as torchvision, integers are refused)."""

    def fn(image):
        if image.dtype.kind != "f":
            raise TypeError(
                f"normalize: expected a float image, got dtype {image.dtype}; convert it with "
                f"to_dtype(image, float32, scale=True) first"
            )
        m = np.asarray(mean, dtype=image.dtype)
        s = np.asarray(std, dtype=image.dtype)
        if np.any(s == 0):
            raise ValueError(f"normalize: std must not contain zeros, got {std!r}")
        c = image.shape[-3]
        for name, v in (("mean", m), ("std", s)):
            if v.ndim == 1 and v.shape[0] not in (1, c):
                raise ValueError(f"normalize: {name} has {v.shape[0]} values but the image has {c} channels")
        if m.ndim == 1:
            m = m.reshape(-1, 1, 1)
        if s.ndim == 1:
            s = s.reshape(-1, 1, 1)
        if inplace:
            image -= m
            image /= s
            return image
        return (image - m) / s

    return _image_only("normalize", inpt, fn)


def _gray(image, preserve_dtype):
    """Luma 0.2989 R + 0.587 G + 0.114 B in the work dtype (float32 for integer images), (..., 1, H, W)."""
    dt = _work_dtype(image.dtype).type
    r, g, b = (image[..., i, :, :].astype(dt, copy=False) for i in range(3))
    out = (r * dt(0.2989) + g * dt(0.587) + b * dt(0.114))[..., None, :, :]
    return out.astype(image.dtype) if preserve_dtype else out


def rgb_to_grayscale(inpt, num_output_channels=1):
    """Grey image (1 or 3 identical channels) from RGB."""
    if num_output_channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: num_output_channels must be 1 or 3, got {num_output_channels}")

    def fn(image):
        c = _channels(image, "rgb_to_grayscale")
        gray = image.copy() if c == 1 else _gray(image, True)
        if num_output_channels == 3:
            gray = np.repeat(gray, 3, axis=-3)
        return gray

    return _image_only("rgb_to_grayscale", inpt, fn)


def _blend(image1, image2, ratio):
    """``ratio * image1 + (1 - ratio) * image2`` clamped to the dtype's range (torch's ``_blend``)."""
    dt = _work_dtype(image1.dtype).type
    out = image1.astype(dt, copy=False) * dt(ratio) + image2 * dt(1.0 - ratio)
    out = np.clip(out, 0, _max_value(image1.dtype))
    return out.astype(image1.dtype)  # truncation for integers, as torch's .to()


def _check_factor(value, name, where):
    if not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"{where}: {name} must be a non-negative number, got {value!r}")
    return float(value)


def adjust_brightness(inpt, brightness_factor):
    """Multiply by ``brightness_factor`` (0 black, 1 unchanged), clamped to the value range."""
    f = _check_factor(brightness_factor, "brightness_factor", "adjust_brightness")

    def fn(image):
        _channels(image, "adjust_brightness")
        dt = _work_dtype(image.dtype).type
        out = np.clip(image.astype(dt, copy=False) * dt(f), 0, _max_value(image.dtype))
        return out.astype(image.dtype)

    return _image_only("adjust_brightness", inpt, fn)


def adjust_saturation(inpt, saturation_factor):
    """Blend with the grey image (0 grey, 1 unchanged, 2 twice as saturated)."""
    f = _check_factor(saturation_factor, "saturation_factor", "adjust_saturation")

    def fn(image):
        if _channels(image, "adjust_saturation") == 1:
            return image.copy()
        gray = _gray(image, False)
        if image.dtype.kind != "f":
            gray = np.floor(gray)
        return _blend(image, gray, f)

    return _image_only("adjust_saturation", inpt, fn)


def adjust_contrast(inpt, contrast_factor):
    """Blend with the mean grey level (0 flat grey, 1 unchanged)."""
    f = _check_factor(contrast_factor, "contrast_factor", "adjust_contrast")

    def fn(image):
        c = _channels(image, "adjust_contrast")
        dt = _work_dtype(image.dtype).type
        if c == 3:
            gray = _gray(image, False)
            if image.dtype.kind != "f":
                gray = np.floor(gray)
        else:
            gray = image.astype(dt, copy=False)
        mean = gray.mean(axis=(-3, -2, -1), keepdims=True, dtype=dt)
        return _blend(image, mean, f)

    return _image_only("adjust_contrast", inpt, fn)


def _rgb_to_hsv(image):
    r, g = image[..., 0, :, :], image[..., 1, :, :]
    maxc = image.max(axis=-3)
    minc = image.min(axis=-3)
    eqc = maxc == minc
    crange = maxc - minc
    one = np.ones_like(maxc)
    s = crange / np.where(eqc, one, maxc)
    div = np.where(eqc, one, crange)[..., None, :, :]
    rc, gc, bc = np.moveaxis((maxc[..., None, :, :] - image) / div, -3, 0)
    not_r = maxc != r
    is_g = maxc == g
    hr = (bc - gc) * ~not_r
    hg = (rc + 2 - bc) * (is_g & not_r)
    hb = (gc + 4 - rc) * (not_r & ~is_g)
    h = hr + hg + hb
    dt = image.dtype.type
    h = np.fmod(h * dt(1.0 / 6.0) + dt(1.0), dt(1.0))
    return h, s, maxc


def _hsv_to_rgb(h, s, v):
    dt = h.dtype.type
    h6 = h * dt(6)
    i = np.floor(h6)
    f = h6 - i
    i = np.remainder(i.astype(np.int32), 6)
    sxf = s * f
    one_minus_s = dt(1) - s
    q = np.clip((dt(1) - sxf) * v, 0, 1)
    t = np.clip((sxf + one_minus_s) * v, 0, 1)
    p = np.clip(one_minus_s * v, 0, 1)
    vpqt = np.stack((v, p, q, t), axis=-3)
    select = np.array([[0, 2, 1, 1, 3, 0], [3, 0, 0, 2, 1, 1], [1, 1, 3, 0, 0, 2]])
    idx = np.moveaxis(select[:, i], 0, -3)  # (..., 3, H, W)
    return np.take_along_axis(vpqt, idx, axis=-3)


def adjust_hue(inpt, hue_factor):
    """Shift the hue by ``hue_factor`` turns (in [-0.5, 0.5]); computed in float32 as torchvision."""
    if not isinstance(hue_factor, numbers.Real) or not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"adjust_hue: hue_factor must be in [-0.5, 0.5], got {hue_factor!r}")

    def fn(image):
        if _channels(image, "adjust_hue") == 1 or image.size == 0:
            return image.copy()
        work = _to_dtype_image(image, np.float32, True)
        h, s, v = _rgb_to_hsv(work)
        h = np.remainder(h + np.float32(hue_factor), np.float32(1.0))
        return _to_dtype_image(_hsv_to_rgb(h, s, v), image.dtype, True)

    return _image_only("adjust_hue", inpt, fn)


def _gaussian_kernel1d(size, sigma, dt):
    lim = (size - 1) / (2.0 * math.sqrt(2.0))
    x = np.linspace(-lim, lim, size).astype(dt)
    z = -((x / dt(sigma)) ** 2)
    e = np.exp(z - z.max())
    return (e / e.sum(dtype=dt)).astype(dt)


def _blur_params(kernel_size, sigma, where="gaussian_blur"):
    if isinstance(kernel_size, numbers.Integral):
        kernel_size = [int(kernel_size)] * 2
    kernel_size = [int(k) for k in kernel_size]
    if len(kernel_size) != 2:
        raise ValueError(f"{where}: kernel_size must be an int or two ints, got {kernel_size}")
    if any(k <= 0 or k % 2 == 0 for k in kernel_size):
        raise ValueError(f"{where}: kernel_size must be odd and positive, got {kernel_size}")
    if sigma is None:
        sigma = [k * 0.15 + 0.35 for k in kernel_size]
    elif isinstance(sigma, numbers.Real):
        sigma = [float(sigma)] * 2
    else:
        sigma = [float(s) for s in sigma]
        if len(sigma) == 1:
            sigma = sigma * 2
        if len(sigma) != 2:
            raise ValueError(f"{where}: sigma must be a number or one or two numbers, got {sigma}")
    if any(s <= 0 for s in sigma):
        raise ValueError(f"{where}: sigma must be positive, got {sigma}")
    return kernel_size, sigma


def _blur_array(image, kernel_size, sigma, where="gaussian_blur"):
    if image.size == 0:
        return image.copy()
    dt = _work_dtype(image.dtype).type
    kx = _gaussian_kernel1d(kernel_size[0], sigma[0], dt)
    ky = _gaussian_kernel1d(kernel_size[1], sigma[1], dt)
    px, py = kernel_size[0] // 2, kernel_size[1] // 2
    h, w = image.shape[-2:]
    if px >= w or py >= h:
        raise ValueError(
            f"{where}: reflect padding of the kernel (half size x={px}, y={py}) must be smaller than the image "
            f"(height {h}, width {w}); use a smaller kernel_size"
        )
    x = image.astype(dt, copy=False)
    widths = [(0, 0)] * (x.ndim - 2) + [(py, py), (px, px)]
    x = np.pad(x, widths, mode="reflect")
    # separable correlation: along the width, then the height
    out = x[..., :, 0:w] * kx[0]
    for k in range(1, len(kx)):
        out += x[..., :, k : k + w] * kx[k]
    res = out[..., 0:h, :] * ky[0]
    for k in range(1, len(ky)):
        res += out[..., k : k + h, :] * ky[k]
    return _round_to(res, image.dtype)


def gaussian_blur(inpt, kernel_size, sigma=None):
    """Blur with a Gaussian of odd ``kernel_size`` (x, y) and ``sigma`` (default ``0.3 * ((k - 1) / 2 -
    1) + 0.8`` as torchvision), reflecting at the borders."""
    kernel_size, sigma = _blur_params(kernel_size, sigma)
    return _image_only("gaussian_blur", inpt, lambda a: _blur_array(a, kernel_size, sigma))


def gaussian_noise(inpt, mean=0.0, sigma=0.1, clip=True, generator=None):
    """Add N(mean, sigma^2) noise (in the [0, 1] scale; times 255 for uint8), clipped to the range.
    The noise comes from ``generator`` or deepnotes' seeded generator."""
    if sigma < 0:
        raise ValueError(f"gaussian_noise: sigma must be non-negative, got {sigma}")
    gen = generator if generator is not None else _random.default_generator()

    def fn(image):
        if image.dtype.kind == "f":
            out = gen.standard_normal(image.shape, dtype=image.dtype)
            out *= image.dtype.type(sigma)
            out += image.dtype.type(mean)
            out += image
            return np.clip(out, 0, 1, out=out) if clip else out
        if image.dtype == np.uint8:
            z = gen.standard_normal(image.shape, dtype=np.float32)
            z *= np.float32(sigma * 255)
            z += np.float32(mean * 255)
            out = z.astype(np.int16)
            out += image
            if clip:
                np.clip(out, 0, 255, out=out)
            return out.astype(np.uint8)
        raise ValueError(f"gaussian_noise: expected a uint8 or float image, got dtype {image.dtype}")

    return _image_only("gaussian_noise", inpt, fn)


def erase(inpt, i, j, h, w, v, inplace=False):
    """Image with the ``h`` x ``w`` window at row ``i``, column ``j`` replaced by ``v`` (a number or an
    array broadcastable to ``(C, h, w)``).  Masks and boxes pass through."""

    def fn(image):
        out = image if inplace else image.copy()
        out[..., i : i + h, j : j + w] = np.asarray(v).astype(image.dtype, copy=False)
        return out

    return _image_only("erase", inpt, fn)
