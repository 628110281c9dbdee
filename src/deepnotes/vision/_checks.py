"""Input checks shared by the image functions: every error names the function, what it got and what it expects."""

from __future__ import annotations

import numbers

import numpy as np

_DTYPES = (np.uint8, np.float32, np.float64)


def check_image(img, fn: str, *, uint8_only: bool = False) -> np.ndarray:
    """Return ``img`` after checking it is a grey (H, W) or colour (H, W, C) image of an accepted dtype."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{fn}: expected a NumPy array image, got {type(img).__name__}")
    allowed = (np.uint8,) if uint8_only else _DTYPES
    if img.dtype not in [np.dtype(d) for d in allowed]:
        names = ", ".join(np.dtype(d).name for d in allowed)
        raise TypeError(f"{fn}: expected an image of dtype {names}, got dtype {img.dtype}")
    if img.ndim not in (2, 3):
        raise ValueError(f"{fn}: expected a grey (H, W) or colour (H, W, C) image, got shape {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1 or (img.ndim == 3 and img.shape[2] < 1):
        raise ValueError(f"{fn}: expected a non-empty image, got shape {img.shape}")
    if img.dtype.kind == "f" and not np.isfinite(img).all():
        raise ValueError(f"{fn}: expected finite pixel values, got NaN or infinity")
    return img


def check_ksize(k, fn: str, name: str = "ksize") -> int:
    """An odd positive integer kernel size."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be an odd positive integer, got {k!r}")
    k = int(k)
    if k < 1 or k % 2 == 0:
        raise ValueError(f"{fn}: {name} must be an odd positive integer, got {k}")
    return k


def check_positive(x, fn: str, name: str, *, allow_zero: bool = False) -> float:
    """A finite real number > 0 (or >= 0)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(x):
        raise TypeError(f"{fn}: {name} must be a finite real number, got {x!r}")
    if x < 0 or (x == 0 and not allow_zero):
        raise ValueError(f"{fn}: {name} must be {'>= 0' if allow_zero else '> 0'}, got {x}")
    return float(x)


def to_float(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64, copy=False)


def back_to(img_like: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Cast a float64 result to the input's dtype: uint8 rounds half to even (np.rint) and saturates to [0, 255]."""
    if img_like.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(img_like.dtype, copy=False)


def per_channel(func, img: np.ndarray) -> np.ndarray:
    """Apply ``func`` (an (H, W) -> (H, W) map) to a grey image or to every channel of a colour one."""
    if img.ndim == 2:
        return func(img)
    return np.stack([func(img[..., c]) for c in range(img.shape[2])], axis=-1)
