"""Issue 22's energy-compaction experiment (S002-68): quick run, checks re-derived from its tables, and PSNR
figures recomputed with scipy.fft and PyWavelets."""

import math
import sys

import numpy as np
import pytest
import scipy.fft as sfft

from deepnotes.notes.catalogue import load_catalogue
from deepnotes.notes.experiments import get, names
from deepnotes.notes.experiments.image_transforms import _grey, _keep_largest, _shrink

from _notes import column, quick, verdict_of

NAME = "transform_energy_compaction"
skdata = pytest.importorskip("skimage.data")  # test extra; never skipped in CI
pywt = pytest.importorskip("pywt")


def test_registered_and_catalogued():
    assert NAME in names()
    assert get(NAME).ids == ("S002-68",)
    e = load_catalogue().get("S002-68")
    assert e.experiment == NAME and not e.pending
    for fn in ("dct2", "walsh_hadamard", "wavedec2", "waverec2", "dft2", "block_dct2"):
        assert f"deepnotes.vision.{fn}" in e.code


def test_quick_run_is_consistent_with_its_tables():
    r = quick(NAME)
    assert r.experiment == NAME and r.quick and r.seeds == [0] and r.figures
    assert r.verdict == verdict_of(c.passed for c in r.checks)
    for c in r.checks:
        assert math.isfinite(c.value) and math.isfinite(c.threshold)
    t = r.tables[0]
    assert "scikit-image" in t.title
    mean = dict(zip(column(t, "transform"), column(t, "mean")))
    per_frac = {row[0]: row[1 : 1 + 3] for row in t.rows}  # quick: 2, 5, 10 %
    for tr in mean:
        assert mean[tr] == pytest.approx(np.mean(per_frac[tr]), rel=1e-12)
    values = {c.name: c.value for c in r.checks}
    assert values["DCT - DFT: mean PSNR gain (dB)"] == pytest.approx(mean["DCT"] - mean["DFT"], rel=1e-9)
    assert values["DCT - WHT: mean PSNR gain (dB)"] == pytest.approx(mean["DCT"] - mean["WHT"], rel=1e-9)
    assert values["db4 - Haar: mean PSNR gain (dB)"] == pytest.approx(mean["db4"] - mean["Haar"], rel=1e-9)
    summary = {row[0]: row[1] for row in r.tables[3].rows}
    assert summary["best transform overall (mean PSNR over images and fractions)"] == max(mean, key=mean.get)
    # the per-image table's "best" column is the argmax of its own row
    t2 = r.tables[1]
    for row in t2.rows:
        scores = dict(zip(t2.columns[1:-1], row[1:-1]))
        assert row[-1] == max(scores, key=scores.get)


def _psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a - b) ** 2))


def test_psnr_recomputed_with_scipy_and_pywavelets():
    img = _shrink(_grey(skdata.camera()), 128)
    # an independent downsampling: 512 -> 128 by 4 x 4 means
    np.testing.assert_allclose(img, skdata.camera().astype(float).reshape(128, 4, 128, 4).mean((1, 3)))
    k = round(0.05 * img.size)

    def keep(c):
        cut = np.sort(np.abs(c).ravel())[-k]
        return np.where(np.abs(c) >= cut, c, 0)

    dct = _psnr(sfft.idctn(keep(sfft.dctn(img, norm="ortho")), norm="ortho"), img)
    arr, slices = pywt.coeffs_to_array(pywt.wavedec2(img, "db4", "periodization", level=4))
    db4 = _psnr(pywt.waverec2(pywt.array_to_coeffs(keep(arr), slices, "wavedec2"), "db4", "periodization"), img)
    t = quick(NAME).tables[1]
    row = dict(zip(t.columns, next(r for r in t.rows if r[0] == "camera")))
    assert row["DCT"] == pytest.approx(dct, abs=1e-9)
    assert row["db4"] == pytest.approx(db4, abs=1e-9)


def test_keep_largest_keeps_dft_pairs_together(rng):
    c = np.fft.fft2(rng.normal(size=(16, 10)))
    kept = _keep_largest(c, 0.1)
    assert np.abs(np.fft.ifft2(kept).imag).max() < 1e-12  # a real image stays real
    assert 16 <= np.count_nonzero(kept) <= 17  # round(0.1 * 160), plus the partner of a pair cut in two


def test_runs_on_generated_scenes_without_scikit_image(monkeypatch):
    from deepnotes.notes.experiments import run

    monkeypatch.setitem(sys.modules, "skimage.data", None)  # `import skimage.data` now raises ImportError
    r = run(NAME, seed=0, quick=True)
    assert "generated scenes" in r.tables[0].title
    assert r.verdict == verdict_of(c.passed for c in r.checks)
