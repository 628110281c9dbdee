"""Image-processing claims of seed 002: smoothing and sharpening (S002-07) and the high/low-frequency parts of an
image (S002-74), measured with deepnotes.vision on a synthetic piecewise-smooth scene with additive noise.

The scene is drawn from the seed: a smooth illumination ramp, a few rectangles and discs of random grey levels
(sharp edges) and a faint sinusoidal texture; noise is white Gaussian (sigma 20 grey levels).  Nothing here
needs a data set, so the figures are reproducible from the seed alone."""

from __future__ import annotations

import numpy as np

from deepnotes import vision

from ..result import Check, Result, Table
from . import experiment
from ._common import seeded


def _scene(rng: np.random.Generator, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    img = 60.0 + 50.0 * x + 30.0 * y  # slow illumination change: low frequencies
    for _ in range(4):  # rectangles: straight edges
        y0, x0 = rng.integers(0, size // 2, 2)
        h, w = rng.integers(size // 6, size // 2, 2)
        img[y0 : y0 + h, x0 : x0 + w] = rng.uniform(20, 230)
    for _ in range(3):  # discs: curved edges
        cy, cx = rng.uniform(0.2, 0.8, 2)
        r = rng.uniform(0.08, 0.2)
        img[(y - cy) ** 2 + (x - cx) ** 2 <= r * r] = rng.uniform(20, 230)
    img += 4.0 * np.sin(2 * np.pi * 6 * x) * np.sin(2 * np.pi * 5 * y)  # faint texture
    return img


def _edge_mask(clean: np.ndarray) -> np.ndarray:
    g = np.hypot(vision.sobel(clean, 1, 0), vision.sobel(clean, 0, 1))
    return g > 0.125 * g.max()  # the step edges of the noiseless scene (texture and ramp stay far below)


def _high_share(img: np.ndarray, radius: float) -> float:
    """Fraction of the (mean-removed, Hann-windowed) spectral energy at distance > radius from the centre."""
    hann = np.outer(np.hanning(img.shape[0]), np.hanning(img.shape[1]))
    spec = np.abs(np.fft.fftshift(np.fft.fft2((img - img.mean()) * hann))) ** 2
    d = vision.distance_grid(img.shape)
    return float(spec[d > radius].sum() / spec.sum())


def _edge_contrast(img: np.ndarray, edges: np.ndarray) -> float:
    """Mean gradient magnitude (3x3 Sobel) on the scene's edge pixels: how steep its edges are."""
    return float(np.hypot(vision.sobel(img, 1, 0), vision.sobel(img, 0, 1))[edges].mean())


_SMOOTH_CLAIM = (
    "Smoothing (box, Gaussian, median) is low-pass filtering: it removes high-frequency content and noise but "
    "blurs edges, the median preserving edges better; sharpening (Laplacian, unsharp masking) boosts high "
    "frequencies: crisper edges but amplified noise; box, Gaussian and Laplacian are fixed-kernel "
    "convolutions, the median is not linear."
)


@experiment("smoothing_and_sharpening", ids=["S002-07"], claim=_SMOOTH_CLAIM)
def smoothing_and_sharpening(seed=0, quick=False):
    """Note S002-07.  On a synthetic scene (128x128; 64x64 in quick mode) with white noise (sigma 20), every
    filter of deepnotes.vision (5x5 box, 5x5 Gaussian sigma 1, 5x5 median, Laplacian sharpening c = 1, unsharp
    mask amount 1.5) is measured for: the residual noise variance ``var(filter(noisy) - filter(clean))``
    (how much of the noise passes), the share of spectral energy beyond a quarter of the Nyquist radius, and
    the edge contrast (mean Sobel magnitude on the clean scene's edges, filtering the clean scene).
    Checks: each smoothing filter lowers the noise variance (< 0.5x) and the high-frequency share and the edge
    contrast; the median keeps more edge contrast than the box filter; each sharpening filter raises the edge
    contrast (> 1.1x) and the noise variance (> 1.5x); box, Gaussian and Laplacian sharpening equal
    ``correlate2d`` with their kernel (< 1e-9) while the median breaks additivity (> 1 grey level)."""
    size = 64 if quick else 128
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    filters = {
        "box 5x5": lambda f: vision.box_blur(f, 5),
        "Gaussian 5x5, sigma 1": lambda f: vision.gaussian_blur(f, 5, 1.0),
        "median 5x5": lambda f: vision.median_blur(f, 5),
        "Laplacian sharpening": lambda f: vision.sharpen_laplacian(f, 1.0),
        "unsharp mask x1.5": lambda f: vision.unsharp_mask(f, 5, 1.0, 1.5),
    }
    acc = {name: np.zeros(3) for name in ["none", *filters]}
    for s in seeds:
        rng = seeded(s)
        clean = _scene(rng, size)
        noisy = clean + rng.normal(0, 20.0, clean.shape)
        edges = _edge_mask(clean)
        radius = size / 8  # a quarter of the Nyquist radius (size / 2)
        acc["none"] += [np.var(noisy - clean), _high_share(noisy, radius), _edge_contrast(clean, edges)]
        for name, f in filters.items():
            acc[name] += [
                np.var(f(noisy) - f(clean)),
                _high_share(f(noisy), radius),
                _edge_contrast(f(clean), edges),
            ]
    m = {k: v / len(seeds) for k, v in acc.items()}
    noise0, high0, edge0 = m["none"]
    rows = [[k, v[0], v[0] / noise0, v[1], v[2] / edge0] for k, v in m.items()]

    # linearity: fixed kernels vs explicit correlation; the median is not additive
    rng = seeded(seed)
    a, b = _scene(rng, size), rng.normal(0, 20.0, (size, size))
    box_k = np.full((5, 5), 1 / 25)
    g1 = vision.gaussian_kernel(5, 1.0)
    lap_sharp_k = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float)
    lin_err = max(
        np.abs(vision.box_blur(a, 5) - vision.correlate2d(a, box_k)).max(),
        np.abs(vision.gaussian_blur(a, 5, 1.0) - vision.correlate2d(a, np.outer(g1, g1))).max(),
        np.abs(vision.sharpen_laplacian(a) - vision.correlate2d(a, lap_sharp_k)).max(),
    )
    median_gap = np.abs(vision.median_blur(a + b, 5) - vision.median_blur(a, 5) - vision.median_blur(b, 5)).max()

    checks = []
    for name in ("box 5x5", "Gaussian 5x5, sigma 1", "median 5x5"):
        checks += [
            Check(f"{name}: residual noise variance / unfiltered", m[name][0] / noise0, "<", 0.5),
            Check(f"{name}: high-frequency energy share - unfiltered share", m[name][1] - high0, "<", 0),
            Check(f"{name}: edge contrast / unfiltered", m[name][2] / edge0, "<", 1.0),
        ]
    checks.append(Check("median edge contrast - box edge contrast", m["median 5x5"][2] - m["box 5x5"][2], ">", 0))
    for name in ("Laplacian sharpening", "unsharp mask x1.5"):
        checks += [
            Check(f"{name}: edge contrast / unfiltered", m[name][2] / edge0, ">", 1.1),
            Check(f"{name}: noise variance / unfiltered", m[name][0] / noise0, ">", 1.5),
        ]
    checks += [
        Check("max |fixed-kernel filter - correlate2d with its kernel|", lin_err, "<", 1e-9),
        Check("max |median(a + b) - median(a) - median(b)| (grey levels)", median_gap, ">", 1.0),
    ]
    return Result(
        experiment="smoothing_and_sharpening",
        claim=_SMOOTH_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Filters on a {size}x{size} scene with white noise sigma 20 (mean over {len(seeds)} seeds)",
                [
                    "filter",
                    "residual noise variance",
                    "noise variance ratio",
                    "high-frequency share",
                    "edge contrast ratio",
                ],
                rows,
            ),
            Table(
                "Linearity",
                ["quantity", "value"],
                [
                    ["max |fixed kernel - correlate2d|", lin_err],
                    ["max |median(a+b) - median(a) - median(b)|", median_gap],
                ],
            ),
        ],
        seeds=seeds,
        quick=quick,
    )


_FREQ_CLAIM = (
    "Low frequencies (smooth regions, overall brightness, layout) carry most of an image's energy; high "
    "frequencies are edges, fine detail and noise; a Gaussian blur removes the high ones and the image minus "
    "its blur (a high-pass) isolates them."
)


@experiment("image_frequency_content", ids=["S002-74"], claim=_FREQ_CLAIM)
def image_frequency_content(seed=0, quick=False):
    """Note S002-74.  On the synthetic scene (128x128; 64x64 in quick mode), with D the distance from the
    centre of the shifted spectrum of the Hann-windowed image and R = size / 16 (the disc D <= R is about 1%
    of the spectrum's area): the share of the image's energy (mean removed, and with the mean) inside the
    disc; the same share for white noise; the energy kept by a Gaussian blur (9x9, sigma 2) and by image minus
    blur in the bands D <= R, D > R and D > size / 4; and where a Gaussian high-pass (frequency domain,
    D0 = R) puts its response: mean |high-pass| on edge pixels vs flat pixels.
    Checks: the image has most (> 50%) of its AC energy and > 90% of its total energy in the disc; noise has
    < 5% there; the blur keeps < 1% of the energy in D > size / 4; image minus blur keeps < 15% of the
    low-frequency AC energy and > 95% of its own energy lies in D > R; the high-pass response on edges is
    > 3x that on flat regions."""
    size = 64 if quick else 128
    rng = seeded(seed)
    clean = _scene(rng, size)
    noise = rng.normal(0, 20.0, clean.shape)
    radius = size / 16
    d = vision.distance_grid(clean.shape)
    low = d <= radius

    # a separable Hann window before the FFT: without it the jump between opposite borders of the periodic
    # extension puts edge-like energy at every frequency, which no spatial filter of the picture removes
    hann = np.outer(np.hanning(size), np.hanning(size))

    def energy(img, region, ac=True):
        f = (img - img.mean() if ac else img) * hann
        spec = np.abs(np.fft.fftshift(np.fft.fft2(f))) ** 2
        return float(spec[region].sum())

    total_ac = energy(clean, d >= 0)
    low_ac_share = energy(clean, low) / total_ac
    low_share_dc = energy(clean, low, ac=False) / energy(clean, d >= 0, ac=False)
    noise_low = energy(noise, low) / energy(noise, d >= 0)
    blur = vision.gaussian_blur(clean, 9, 2.0)
    detail = clean - blur
    high_clean = energy(clean, ~low)
    top = d > size / 4  # the upper half of the Nyquist radius, where a sigma-2 Gaussian's gain is < 1%
    blur_top = energy(blur, top) / energy(clean, top)
    detail_high = energy(detail, ~low) / high_clean
    detail_own_high = energy(detail, ~low) / energy(detail, d >= 0)
    detail_low = energy(detail, low) / energy(clean, low)
    hp = np.abs(vision.gaussian_highpass(clean, radius))
    edges = _edge_mask(clean)
    g = np.hypot(vision.sobel(clean, 1, 0), vision.sobel(clean, 0, 1))
    flat = g < 0.02 * g.max()
    edge_ratio = float(hp[edges].mean() / hp[flat].mean())
    area = float(low.mean())
    checks = [
        Check(f"image AC energy share in D <= R ({area:.1%} of the spectrum)", low_ac_share, ">", 0.5),
        Check("image total energy share (with the mean) in D <= R", low_share_dc, ">", 0.9),
        Check("white-noise energy share in D <= R", noise_low, "<", 0.05),
        Check("Gaussian blur 9x9 sigma 2: kept share of the energy in D > size/4", blur_top, "<", 0.01),
        Check("image - blur: kept share of low-frequency AC energy", detail_low, "<", 0.15),
        Check("image - blur: share of its own energy in D > R", detail_own_high, ">", 0.95),
        Check("mean |Gaussian high-pass| on edges / on flat regions", edge_ratio, ">", 3.0),
    ]
    return Result(
        experiment="image_frequency_content",
        claim=_FREQ_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Energy in the low-frequency disc D <= {radius:g} of a {size}x{size} spectrum (area share {area:.4f})",
                ["signal", "share of energy in D <= R", "share of energy in D > R"],
                [
                    ["scene, mean removed", low_ac_share, 1 - low_ac_share],
                    ["scene, with its mean", low_share_dc, 1 - low_share_dc],
                    ["white noise", noise_low, 1 - noise_low],
                ],
            ),
            Table(
                "Blur and detail (relative to the scene's energy in the same band)",
                ["signal", "low band kept", "high band kept", "own energy share in D > R"],
                [
                    [
                        "Gaussian blur 9x9, sigma 2",
                        energy(blur, low) / energy(clean, low),
                        energy(blur, ~low) / high_clean,
                        energy(blur, ~low) / energy(blur, d >= 0),
                    ],
                    ["scene - blur", detail_low, detail_high, detail_own_high],
                ],
            ),
            Table(
                "Top band D > size/4",
                ["signal", "energy kept"],
                [["Gaussian blur 9x9, sigma 2", blur_top], ["scene - blur", energy(detail, top) / energy(clean, top)]],
            ),
            Table(
                "Gaussian high-pass response (D0 = R)",
                ["region", "mean |response|"],
                [["edges", float(hp[edges].mean())], ["flat", float(hp[flat].mean())], ["ratio", edge_ratio]],
            ),
        ],
        seeds=[seed],
        quick=quick,
    )


_ENH_CLAIM = (
    "On a low-contrast image, histogram equalisation spreads the histogram over most of the range (it cannot add "
    "information: a level-to-level map never raises the entropy); histogram matching imposes a target "
    "histogram; local equalisation raises local contrast everywhere; the local-statistics method brightens "
    "dark, textured regions and leaves the rest unchanged."
)


def _entropy(img: np.ndarray) -> float:
    p = np.bincount(img.ravel(), minlength=256) / img.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _spread(img: np.ndarray) -> float:
    lo, hi = np.percentile(img, [5, 95])
    return float(hi - lo)


@experiment("enhancement_on_low_contrast", ids=["S002-69", "S002-70", "S002-71", "S002-73"], claim=_ENH_CLAIM)
def enhancement_on_low_contrast(seed=0, quick=False):
    """Notes S002-69/70/71/73.  The synthetic scene (128x128; 64x64 in quick mode) is squeezed into grey levels
    [100, 160] with a dark textured square (levels about 15 +- 4) and rounded to uint8.  For the input and each
    enhancement (global equalisation, matching to a uniform reference, local equalisation with 15x15
    windows, local-statistics enhancement with E = 4, k0 = 0.4, k1 = 0.02, k2 = 0.4, 3x3) the table gives the
    5-95 percentile spread, the standard deviation, the histogram entropy (bits), the mean local (7x7)
    standard deviation, and the mean of the dark square and of the rest.
    Checks: the input spans < 80% of the range and the equalised image > 80% (5-95 percentiles); equalisation
    does not raise the entropy; the matched image's cumulative histogram is within the largest input level's
    share (+ 1/256) of the flat reference's, the best a level-to-level map can guarantee; local equalisation
    at least doubles the mean local standard deviation; the local-statistics method raises the dark square's
    mean > 2x and leaves > 99% of the pixels outside it unchanged."""
    size = 64 if quick else 128
    rng = seeded(seed)
    scene = _scene(rng, size)
    low = 100 + 60 * (scene - scene.min()) / np.ptp(scene)
    a, b = size // 4, 3 * size // 4
    low[a:b, a:b] = 15 + rng.normal(0, 4, (b - a, b - a))
    img = np.clip(np.rint(low), 0, 255).astype(np.uint8)
    dark = np.zeros(img.shape, bool)
    dark[a + 2 : b - 2, a + 2 : b - 2] = True  # the square's interior (windows straddling its border excluded)
    outside = np.ones(img.shape, bool)
    outside[a - 2 : b + 2, a - 2 : b + 2] = False
    reference = np.tile(np.arange(256, dtype=np.uint8), (size, 1))  # a flat histogram
    results = {
        "input": img,
        "global equalisation": vision.equalize_hist(img),
        "matched to a flat histogram": vision.match_histograms(img, reference),
        "local equalisation 15x15": vision.equalize_local(img, 7),
        "local statistics (E=4)": vision.local_statistics_enhance(img, 4.0, 0.4, 0.02, 0.4, 1),
    }
    rows, stats = [], {}
    for name, out in results.items():
        local_sd = float(vision.local_mean_std(out, 3)[1].mean())
        st = [
            _spread(out),
            float(out.std()),
            _entropy(out),
            local_sd,
            float(out[dark].mean()),
            float(out[outside].mean()),
        ]
        stats[name] = st
        rows.append([name, *st])
    matched = results["matched to a flat histogram"]
    cdf_out = np.cumsum(np.bincount(matched.ravel(), minlength=256)) / matched.size
    cdf_ref = np.cumsum(np.bincount(reference.ravel(), minlength=256)) / reference.size
    ks = float(np.abs(cdf_out - cdf_ref).max())
    # a level-to-level map cannot split a grey level, so no map gets closer than about the largest level's share
    bound = float(np.bincount(img.ravel()).max() / img.size + 1 / 256)
    enh = results["local statistics (E=4)"]
    unchanged = float((enh[outside] == img[outside]).mean())
    inp = stats["input"]
    checks = [
        Check("input: 5-95 percentile spread / 255", inp[0] / 255, "<", 0.8),
        Check("global equalisation: 5-95 percentile spread / 255", stats["global equalisation"][0] / 255, ">", 0.8),
        Check(
            "global equalisation: entropy - input entropy (bits)", stats["global equalisation"][2] - inp[2], "<=", 1e-12
        ),
        Check("matched: max |CDF - flat reference CDF| - (largest input level share + 1/256)", ks - bound, "<=", 0),
        Check("local equalisation: mean local std / input's", stats["local equalisation 15x15"][3] / inp[3], ">=", 2),
        Check("local statistics: dark-square mean / input's", stats["local statistics (E=4)"][4] / inp[4], ">", 2),
        Check("local statistics: share of pixels outside the square unchanged", unchanged, ">", 0.99),
    ]
    return Result(
        experiment="enhancement_on_low_contrast",
        claim=_ENH_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Enhancements of a {size}x{size} low-contrast uint8 image with a dark textured square",
                ["image", "5-95% spread", "std", "entropy (bits)", "mean local std", "dark mean", "rest mean"],
                rows,
            )
        ],
        seeds=[seed],
        quick=quick,
    )
