"""Image transforms of seed 002 (S002-68): how well the DFT, the DCT (whole image and JPEG's 8 x 8 blocks), the
Walsh-Hadamard transform and the Haar and db4 wavelets pack an image's energy into few coefficients.

The photographs are scikit-image's bundled sample images (a test dependency); without scikit-image the
experiment runs on the generated piecewise-smooth scenes of the image-processing experiments instead, and its
tables say which source was used."""

from __future__ import annotations

import numpy as np

from deepnotes import vision

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import seeded

_PHOTOS = ("camera", "astronaut", "coins", "moon", "chelsea", "coffee", "brick", "grass")
_QUICK_PHOTOS = ("camera", "astronaut", "coffee")
_GLOBAL = ("DFT", "DCT", "WHT")  # one basis function spans the whole image
_WAVELETS = ("Haar", "db4")


def _grey(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    if a.ndim == 3:  # ITU-R 709 luma, as skimage.color.rgb2gray
        a = a[..., :3] @ np.array([0.2125, 0.7154, 0.0721])
    return a


def _shrink(a: np.ndarray, size: int) -> np.ndarray:
    """The central square of ``a`` averaged down to size x size (integer factor)."""
    f = min(a.shape) // size
    h, w = a.shape
    i, j = (h - size * f) // 2, (w - size * f) // 2
    return a[i : i + size * f, j : j + size * f].reshape(size, f, size, f).mean(axis=(1, 3))


def _images(size: int, quick: bool, seed: int):
    """(source, {name: float64 size x size image in [0, 255]})."""
    try:
        import skimage.data as skdata
    except ImportError:
        from .image_processing import _scene

        n = 3 if quick else 6
        rng = seeded(seed)
        imgs = {f"generated scene {k}": np.clip(_scene(rng, size), 0, 255) for k in range(n)}
        return "generated scenes (scikit-image is not installed)", imgs
    names = _QUICK_PHOTOS if quick else _PHOTOS
    return "scikit-image sample photographs", {n: _shrink(_grey(getattr(skdata, n)()), size) for n in names}


def _flatten(coeffs) -> tuple[np.ndarray, list]:
    parts = [coeffs[0], *(c for det in coeffs[1:] for c in det)]
    return np.concatenate([p.ravel() for p in parts]), [p.shape for p in parts]


def _unflatten(flat: np.ndarray, shapes: list) -> list:
    arrays, i = [], 0
    for s in shapes:
        n = s[0] * s[1]
        arrays.append(flat[i : i + n].reshape(s))
        i += n
    return [arrays[0], *(tuple(arrays[k : k + 3]) for k in range(1, len(arrays), 3))]


def _wavelet_pair(name: str):
    def forward(x):
        flat, shapes = _flatten(vision.wavedec2(x, name, "periodization"))
        return flat, shapes

    def inverse(c, shapes):
        return vision.waverec2(_unflatten(c, shapes), name, "periodization")

    return forward, inverse


def _transforms():
    """name -> (forward: image -> (coefficients, context), inverse: (coefficients, context) -> image); every
    transform is orthonormal, so a coefficient's square is its share of the image's energy."""
    haar, db4 = _wavelet_pair("haar"), _wavelet_pair("db4")
    return {
        "DFT": (lambda x: (vision.dft2(x, "ortho"), None), lambda c, _: vision.idft2(c, "ortho").real),
        "DCT": (lambda x: (vision.dct2(x, "ortho"), None), lambda c, _: vision.idct2(c, "ortho")),
        "DCT 8x8 blocks": (lambda x: (vision.block_dct2(x), None), lambda c, _: vision.block_idct2(c)),
        "WHT": (
            lambda x: (vision.walsh_hadamard(x, norm="ortho"), None),
            lambda c, _: vision.inverse_walsh_hadamard(c, norm="ortho"),
        ),
        "Haar": haar,
        "db4": db4,
    }


def _keep_largest(c: np.ndarray, frac: float) -> np.ndarray:
    """``c`` with all but its round(frac * size) largest-magnitude coefficients set to 0 (ties at the cut kept).

    For a DFT (complex ``c``) a coefficient and its conjugate partner F(-u, -v) are ranked by the larger of
    their two magnitudes (the FFT gives them equal up to rounding), so a pair is kept or dropped as a whole:
    the kept complex coefficients then count the real numbers kept, and the inverse stays real."""
    mag = np.abs(c)
    if np.iscomplexobj(c):
        mag = np.maximum(mag, np.roll(mag[::-1, ::-1], 1, axis=(0, 1)))
    flat = mag.ravel()
    k = max(1, int(round(frac * flat.size)))
    cut = np.partition(flat, flat.size - k)[flat.size - k]
    return np.where(mag >= cut, c, 0)


def _psnr(mse: float) -> float:
    return float(10.0 * np.log10(255.0**2 / mse))


_CLAIM = (
    "Transforms concentrate a natural image's energy in few coefficients: the DCT compacts it better than the "
    "DFT (whose periodic extension turns the image borders into jumps) and than the Walsh-Hadamard transform "
    "(square waves), and multi-level wavelets with smooth filters (db4) compact better than Haar; which "
    "transform compacts best is measured, not assumed."
)


@experiment("transform_energy_compaction", ids=["S002-68"], claim=_CLAIM)
def transform_energy_compaction(seed=0, quick=False):
    """Note S002-68.  Eight scikit-image photographs (camera, astronaut, coins, moon, chelsea, coffee, brick,
    grass), grey, central square averaged down to 256 x 256 (quick: camera, astronaut, coffee at 128 x 128),
    go through six orthonormal transforms: DFT, DCT-II, DCT-II on JPEG's 8 x 8 blocks, Walsh-Hadamard, and
    the Haar and db4 wavelets (periodization, deepest level).  For each fraction of coefficients kept (the
    largest magnitudes; 1, 2, 5, 10, 20 %; quick: 2, 5, 10 %) the image is reconstructed by the inverse
    transform and the PSNR (peak 255) measured.  The best transform is the one with the highest PSNR averaged
    over images and fractions.
    Checks: DCT - DFT mean PSNR > 0.5 dB and the DCT ahead of the DFT in >= 90 % of (image, fraction) cases;
    DCT - WHT > 1 dB; db4 - Haar > 0 dB; the reconstruction error equals the dropped coefficients' energy
    (Parseval, relative gap < 1e-9) and keeping everything reconstructs the image (< 1e-9 grey levels)."""
    size = 128 if quick else 256
    fracs = [0.02, 0.05, 0.1] if quick else [0.01, 0.02, 0.05, 0.1, 0.2]
    source, images = _images(size, quick, seed)
    transforms = _transforms()
    names = list(transforms)
    psnr = {t: np.zeros((len(images), len(fracs))) for t in names}
    energy5 = {t: np.zeros(len(images)) for t in names}
    parseval_gap = 0.0
    exact_err = 0.0
    for i, img in enumerate(images.values()):
        total = float(np.sum(img**2))
        for t, (fwd, inv) in transforms.items():
            c, ctx = fwd(img)
            exact_err = max(exact_err, float(np.abs(inv(c, ctx) - img).max()))
            for j, q in enumerate(fracs):
                kept = _keep_largest(c, q)
                err = float(np.sum((inv(kept, ctx) - img) ** 2))
                dropped = float(np.sum(np.abs(c - kept) ** 2))
                parseval_gap = max(parseval_gap, abs(err - dropped) / dropped)
                psnr[t][i, j] = _psnr(err / img.size)
            energy5[t][i] = float(np.sum(np.abs(_keep_largest(c, 0.05)) ** 2)) / total

    mean = {t: float(psnr[t].mean()) for t in names}
    best = max(names, key=mean.get)
    dct_dft = psnr["DCT"] - psnr["DFT"]
    dct_wht = float((psnr["DCT"] - psnr["WHT"]).mean())
    db4_haar = float((psnr["db4"] - psnr["Haar"]).mean())
    best_global = max(_GLOBAL, key=mean.get)
    best_wavelet = max(_WAVELETS, key=mean.get)
    checks = [
        Check("DCT - DFT: mean PSNR gain (dB)", float(dct_dft.mean()), ">", 0.5),
        Check("share of (image, fraction) cases with DCT PSNR > DFT PSNR", float((dct_dft > 0).mean()), ">=", 0.9),
        Check("DCT - WHT: mean PSNR gain (dB)", dct_wht, ">", 1.0),
        Check("db4 - Haar: mean PSNR gain (dB)", db4_haar, ">", 0.0),
        Check("max relative gap between reconstruction error and dropped energy (Parseval)", parseval_gap, "<", 1e-9),
        Check("max |inverse(all coefficients) - image| (grey levels)", exact_err, "<", 1e-9),
    ]
    pct = [f"{q:.0%} kept" for q in fracs]
    names_img = list(images)
    per_image = []
    for i, n in enumerate(names_img):
        j5 = fracs.index(0.05)
        row = [psnr[t][i, j5] for t in names]
        per_image.append([n, *row, names[int(np.argmax(row))]])
    best_per_frac = [[p, max(names, key=lambda t, j=j: psnr[t][:, j].mean())] for j, p in enumerate(pct)]
    return Result(
        experiment="transform_energy_compaction",
        claim=_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"PSNR (dB) vs share of coefficients kept, mean over {len(images)} images of {size}x{size} ({source})",
                ["transform", *pct, "mean", "energy share in top 5%"],
                [[t, *psnr[t].mean(axis=0), mean[t], float(energy5[t].mean())] for t in names],
            ),
            Table(
                "PSNR (dB) per image with 5% of the coefficients kept",
                ["image", *names, "best"],
                per_image,
            ),
            Table("Best transform (highest mean PSNR over the images)", ["coefficients kept", "best"], best_per_frac),
            Table(
                "Summary",
                ["quantity", "value"],
                [
                    ["best transform overall (mean PSNR over images and fractions)", best],
                    ["best whole-image (global) transform", best_global],
                    ["best wavelet", best_wavelet],
                    [f"{best_wavelet} - {best_global}: mean PSNR gain (dB)", mean[best_wavelet] - mean[best_global]],
                    ["DCT - DFT: smallest gain over cases (dB)", float(dct_dft.min())],
                ],
            ),
        ],
        figures=[
            Figure(
                "psnr_vs_kept",
                f"PSNR vs coefficients kept ({len(images)} images, {size}x{size})",
                "share of coefficients kept",
                "PSNR (dB)",
                {t: (fracs, [float(v) for v in psnr[t].mean(axis=0)]) for t in names},
            )
        ],
        seeds=[seed],
        quick=quick,
        notes=f"Images: {', '.join(names_img)} ({source}).",
    )
