"""A minimal PNG writer (8-bit grey or RGB, no interlacing) and a torchvision-style image grid, so sample
grids need no optional package."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from ..io import atomic_write_bytes

__all__ = ["encode_png", "write_png", "make_grid"]


def _chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_png(image):
    """The PNG bytes of a uint8 array (H, W) (grey) or (H, W, 3) (RGB)."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise TypeError(f"encode_png: expected a uint8 array, got dtype {a.dtype}")
    if a.ndim == 2:
        colour = 0
    elif a.ndim == 3 and a.shape[2] == 3:
        colour = 2
    else:
        raise ValueError(f"encode_png: expected (H, W) grey or (H, W, 3) RGB, got shape {a.shape}")
    h, w = a.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"encode_png: the image is empty (shape {a.shape})")
    rows = np.ascontiguousarray(a).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    )


def write_png(path, image):
    """Write ``image`` (see :func:`encode_png`) to ``path`` atomically."""
    atomic_write_bytes(path, encode_png(image))


def make_grid(images, nrow=10, padding=2, pad_value=0.0, value_range=(0.0, 1.0), scale=1):
    """Tile images (N, C, H, W) (C = 1 or 3) into one uint8 picture, ``nrow`` images per row.

    Pixels are mapped from ``value_range`` to 0..255 (clipped); ``scale`` repeats every pixel (nearest
    upscaling) so tiny digits stay visible."""
    a = np.asarray(images.numpy() if hasattr(images, "numpy") else images, dtype=np.float64)
    if a.ndim != 4 or a.shape[1] not in (1, 3) or a.shape[0] == 0:
        raise ValueError(f"make_grid: expected images (N, 1 or 3, H, W) with N >= 1, got shape {a.shape}")
    lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        raise ValueError(f"make_grid: value_range must be (low, high) with high > low, got {value_range!r}")
    if scale > 1:
        a = a.repeat(scale, axis=2).repeat(scale, axis=3)
    n, c, h, w = a.shape
    ncol = min(nrow, n)
    nrows = -(-n // ncol)
    fill = np.clip((pad_value - lo) / (hi - lo), 0, 1)
    grid = np.full((c, padding + nrows * (h + padding), padding + ncol * (w + padding)), fill)
    for i in range(n):
        r, col = divmod(i, ncol)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, y : y + h, x : x + w] = np.clip((a[i] - lo) / (hi - lo), 0, 1)
    out = np.round(grid * 255).astype(np.uint8)
    return out[0] if c == 1 else out.transpose(1, 2, 0)
