"""Issue 17 image-processing experiments (S002-07, S002-74): quick runs, checks re-derived from their tables."""

import math

import numpy as np
import pytest

from deepnotes import vision
from deepnotes.notes.catalogue import load_catalogue
from deepnotes.notes.experiments import get, names
from deepnotes.notes.experiments.image_processing import _scene

from _notes import quick, verdict_of

MINE = {
    "smoothing_and_sharpening": ["S002-07"],
    "image_frequency_content": ["S002-74"],
    "enhancement_on_low_contrast": ["S002-69", "S002-70", "S002-71", "S002-73"],
}


def test_registered_and_catalogued():
    assert set(MINE) <= set(names())
    cat = load_catalogue()
    for name, ids in MINE.items():
        assert set(get(name).ids) == set(ids)
        for i in ids:
            e = cat.get(i)
            assert e.experiment == name and not e.pending
            assert any(c.startswith("deepnotes.vision.") for c in e.code)


@pytest.mark.parametrize("name", sorted(MINE))
def test_quick_run_is_consistent(name):
    r = quick(name)
    assert r.experiment == name and r.quick and r.checks and r.tables and r.seeds == [0]
    assert r.verdict == verdict_of([c.passed for c in r.checks])
    for c in r.checks:
        assert math.isfinite(c.value) and math.isfinite(c.threshold)


def test_smoothing_and_sharpening_from_table():
    r = quick("smoothing_and_sharpening")
    t = r.tables[0]
    rows = {row[0]: dict(zip(t.columns, row)) for row in t.rows}
    none = rows["none"]
    holds = []
    for name in ("box 5x5", "Gaussian 5x5, sigma 1", "median 5x5"):
        row = rows[name]
        holds += [
            row["noise variance ratio"] < 0.5,
            row["high-frequency share"] < none["high-frequency share"],
            row["edge contrast ratio"] < 1.0,
        ]
    holds.append(rows["median 5x5"]["edge contrast ratio"] > rows["box 5x5"]["edge contrast ratio"])
    for name in ("Laplacian sharpening", "unsharp mask x1.5"):
        holds += [rows[name]["edge contrast ratio"] > 1.1, rows[name]["noise variance ratio"] > 1.5]
    lin = {row[0]: row[1] for row in r.tables[1].rows}
    holds += [lin["max |fixed kernel - correlate2d|"] < 1e-9, lin["max |median(a+b) - median(a) - median(b)|"] > 1]
    assert [c.passed for c in r.checks] == holds
    assert r.verdict == verdict_of(holds)
    # unfiltered, the residual is the added white noise itself: variance 20^2 up to sampling error (~2% here)
    assert none["residual noise variance"] == pytest.approx(400.0, rel=0.1)


def test_frequency_content_from_tables():
    r = quick("image_frequency_content")
    share = {row[0]: row[1] for row in r.tables[0].rows}
    band = {row[0]: row[1:] for row in r.tables[1].rows}
    top = {row[0]: row[1] for row in r.tables[2].rows}
    hp = {row[0]: row[1] for row in r.tables[3].rows}
    holds = [
        share["scene, mean removed"] > 0.5,
        share["scene, with its mean"] > 0.9,
        share["white noise"] < 0.05,
        top["Gaussian blur 9x9, sigma 2"] < 0.01,
        band["scene - blur"][0] < 0.15,
        band["scene - blur"][2] > 0.95,
        hp["edges"] / hp["flat"] > 3.0,
    ]
    assert [c.passed for c in r.checks] == holds
    assert r.verdict == verdict_of(holds)


def test_scene_spectrum_measured_independently():
    # the low-frequency share of the quick scene, recomputed here with numpy alone
    from deepnotes.notes.experiments._common import seeded

    img = _scene(seeded(0), 64)
    hann = np.outer(np.hanning(64), np.hanning(64))
    spec = np.abs(np.fft.fftshift(np.fft.fft2((img - img.mean()) * hann))) ** 2
    yy, xx = np.mgrid[0:64, 0:64]
    low = np.hypot(yy - 32, xx - 32) <= 4
    share = {row[0]: row[1] for row in quick("image_frequency_content").tables[0].rows}
    assert share["scene, mean removed"] == pytest.approx(spec[low].sum() / spec.sum(), rel=1e-12)
    np.testing.assert_allclose(vision.distance_grid((64, 64)) <= 4, low)


def test_enhancement_from_table():
    r = quick("enhancement_on_low_contrast")
    t = r.tables[0]
    rows = {row[0]: dict(zip(t.columns, row)) for row in t.rows}
    inp, eq = rows["input"], rows["global equalisation"]
    loc, ls = rows["local equalisation 15x15"], rows["local statistics (E=4)"]
    ks_check = [c for c in r.checks if c.name.startswith("matched:")]
    assert len(ks_check) == 1
    holds = [
        inp["5-95% spread"] / 255 < 0.8,
        eq["5-95% spread"] / 255 > 0.8,
        eq["entropy (bits)"] - inp["entropy (bits)"] <= 1e-12,
        ks_check[0].passed,
        loc["mean local std"] / inp["mean local std"] >= 2,
        ls["dark mean"] / inp["dark mean"] > 2,
    ]
    assert [c.passed for c in r.checks][:-1] == holds
    assert r.verdict == verdict_of([c.passed for c in r.checks])
    # outside the dark square the local-statistics method changes nothing, so that region's mean is the input's
    assert r.checks[-1].value == 1.0
    assert ls["rest mean"] == pytest.approx(inp["rest mean"], abs=1e-9)


def test_entropy_helper_against_a_direct_count():
    from deepnotes.notes.experiments.image_processing import _entropy

    img = np.array([[0, 0, 1, 2]], dtype=np.uint8)
    assert _entropy(img) == pytest.approx(1.5)  # p = 1/2, 1/4, 1/4
