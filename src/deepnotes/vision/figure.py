"""A figure that shows an image, the result of processing it and both histograms (needs matplotlib, which is
not a runtime dependency: it is imported only when a figure is drawn)."""

from __future__ import annotations

import numpy as np

from ._checks import check_image

__all__ = ["image_histogram", "compare_figure"]


def image_histogram(img: np.ndarray, bins: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges of all pixel values (all channels together): uint8 images get one bin per grey
    level (edges 0, 1, ..., 256), float images ``bins`` equal bins over [min, max] (``np.histogram``)."""
    fn = "image_histogram"
    img = check_image(img, fn)
    if img.dtype == np.uint8:
        return np.bincount(img.ravel(), minlength=256), np.arange(257, dtype=np.float64)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"{fn}: bins must be a positive integer, got {bins!r}")
    lo, hi = float(img.min()), float(img.max())
    return np.histogram(img, bins=int(bins), range=(lo, hi) if hi > lo else (lo - 0.5, hi + 0.5))


def _show(ax, img, title):
    if img.ndim == 3 and img.shape[2] in (3, 4):
        shown = img if img.dtype == np.uint8 else np.clip((img - img.min()) / max(np.ptp(img), 1e-12), 0, 1)
        ax.imshow(shown)
    else:
        plane = img if img.ndim == 2 else img[..., 0]
        kw = {"vmin": 0, "vmax": 255} if img.dtype == np.uint8 else {}
        ax.imshow(plane, cmap="gray", **kw)
    ax.set_title(title)
    ax.axis("off")


def compare_figure(img, result, path=None, titles=("input", "result"), bins=256):
    """Draw ``img`` and ``result`` side by side with their histograms underneath; save a PNG to ``path`` when
    given.  Returns the matplotlib Figure (four axes: the two images, then the two histograms)."""
    fn = "compare_figure"
    img = check_image(img, fn)
    result = check_image(result, fn)
    if len(titles) != 2:
        raise ValueError(f"{fn}: titles must be two strings, got {titles!r}")
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(8, 6.5), gridspec_kw={"height_ratios": [3, 1.4]})
    for col, (im, title) in enumerate(zip((img, result), titles)):
        _show(axes[0, col], im, title)
        counts, edges = image_histogram(im, bins)
        axes[1, col].bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="0.3")
        axes[1, col].set_xlabel("pixel value")
        axes[1, col].set_ylabel("count")
        axes[1, col].set_title(f"histogram of {title}")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
