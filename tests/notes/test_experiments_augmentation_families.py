"""Issue 14 experiments on the augmentation families (S001-51 random crop 0.6-1, S001-56 random erasing):
registered under their catalogue entries, quick runs whose checks are re-derived from the per-seed table
and whose verdicts follow from the checks."""

import math

import numpy as np
import pytest

from deepnotes.data import transforms as T
from deepnotes.notes.catalogue import load_catalogue
from deepnotes.notes.experiments import get, names
from deepnotes.notes.experiments.augmentation_families import FAMILIES, _family_transform, _occluded

from _notes import column, expected_verdict, quick

EXPERIMENTS = {"random_crop_generalisation": "S001-51", "random_erasing_occlusion": "S001-56"}


def test_registered_and_named_by_their_catalogue_entries():
    assert set(EXPERIMENTS) <= set(names())
    cat = load_catalogue()
    for name, entry_id in EXPERIMENTS.items():
        entries = cat.for_experiment(name)
        assert {e.id for e in entries} == {entry_id} == set(get(name).ids)
        assert not any(e.pending for e in entries)


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_quick_run_is_consistent(name):
    r = quick(name)
    assert r.experiment == name and r.quick and r.checks and r.tables and r.figures
    assert r.verdict == expected_verdict(r)
    assert all(math.isfinite(c.threshold) for c in r.checks)


def _t(values):
    v = np.asarray(values, float)
    return v.mean() / (v.std(ddof=1) / math.sqrt(len(v)))


def test_both_read_one_grid_of_runs_with_every_family():
    crop, erasing = quick("random_crop_generalisation"), quick("random_erasing_occlusion")
    assert crop.tables[1].rows == erasing.tables[1].rows and crop.seeds == erasing.seeds
    assert column(crop.tables[0], "family") == list(FAMILIES)
    per_seed = crop.tables[1]
    assert len(per_seed.rows) == len(crop.seeds) >= 3
    # every family still trains a classifier far above chance (10%)
    assert all(0.5 < a <= 1 for f in FAMILIES for a in column(per_seed, f))


def test_crop_checks_follow_from_the_tables():
    r = quick("random_crop_generalisation")
    per_seed = r.tables[1]
    none, crop = column(per_seed, "none"), column(per_seed, "crop 0.6-1")
    acc_check, gap_check = r.checks
    assert acc_check.value == pytest.approx(_t(np.subtract(crop, none)))
    summary = {row[0]: row for row in r.tables[0].rows}
    cols = r.tables[0].columns
    held, train = cols.index("held-out accuracy"), cols.index("train accuracy")
    assert summary["crop 0.6-1"][held] == pytest.approx(np.mean(crop))
    # the gap check's mean is the difference of the summary's gaps
    gap_mean = (summary["none"][train] - summary["none"][held]) - (
        summary["crop 0.6-1"][train] - summary["crop 0.6-1"][held]
    )
    assert f"(mean {gap_mean:+.4f})" in gap_check.name


def test_erasing_checks_follow_from_the_tables():
    r = quick("random_erasing_occlusion")
    per_seed = r.tables[1]
    none, erasing = column(per_seed, "none"), column(per_seed, "random erasing")
    occluded_check, acc_check, train_check = r.checks
    assert acc_check.value == pytest.approx(_t(np.subtract(erasing, none)))
    summary = {row[0]: row for row in r.tables[0].rows}
    cols = r.tables[0].columns
    t_occ, train = cols.index("occluded accuracy vs none, t"), cols.index("train accuracy")
    assert occluded_check.value == pytest.approx(summary["random erasing"][t_occ])
    assert train_check.value == pytest.approx(summary["random erasing"][train] - summary["none"][train])


def test_families_are_the_transforms_they_name():
    crop = _family_transform("crop 0.6-1")
    assert isinstance(crop, T.RandomScaleCrop) and crop.side == (0.6, 1.0)
    assert isinstance(_family_transform("random erasing"), T.RandomErasing)
    assert isinstance(_family_transform("cutout"), T.Cutout)
    assert _family_transform("none") is None and _family_transform("mixup") is None


def test_occluded_test_digits_hide_one_square_each():
    x = np.ones((20, 1, 8, 8), np.float32)
    out = _occluded(x, seed=0)
    hidden = (out == 0).reshape(20, -1).sum(1)
    assert (hidden == 9).all()
    for img in out[:, 0]:
        ys, xs = np.nonzero(img == 0)
        assert ys.max() - ys.min() == 2 and xs.max() - xs.min() == 2
    np.testing.assert_array_equal(_occluded(x, seed=0), out)
