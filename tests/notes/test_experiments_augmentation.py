"""Issue 14 experiments (augmentation claims of seed 001): each runs in quick mode, its checks are re-derived
from the measured tables, and its verdict follows from the checks."""

import math

import numpy as np
import pytest

from deepnotes.notes.catalogue import load_catalogue
from deepnotes.notes.experiments import get, names

from _notes import column, expected_verdict, quick

EXPERIMENTS = ["mixup_generalisation", "mosaic_small_objects"]


def test_registered_and_named_by_their_catalogue_entries():
    assert set(EXPERIMENTS) <= set(names())
    cat = load_catalogue()
    for name in EXPERIMENTS:
        entries = cat.for_experiment(name)
        assert entries and {e.id for e in entries} == set(get(name).ids), name
        assert not any(e.pending for e in entries)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_quick_run_is_consistent(name):
    r = quick(name)
    assert r.experiment == name and r.quick and r.checks and r.tables and r.figures
    assert r.verdict == expected_verdict(r)
    assert all(math.isfinite(c.threshold) for c in r.checks)


def _t(values):
    v = np.asarray(values, float)
    return v.mean() / (v.std(ddof=1) / math.sqrt(len(v)))


def test_mixup_checks_follow_from_the_per_seed_table():
    r = quick("mixup_generalisation")
    per_seed = r.tables[0]
    none, mix = column(per_seed, "held-out accuracy, none"), column(per_seed, "held-out accuracy, mixup")
    assert len(none) == len(r.seeds) >= 3
    assert all(0.8 < a <= 1 for a in none + mix)  # both train a working classifier
    acc_check, gap_check = r.checks
    assert acc_check.value == pytest.approx(_t(np.subtract(mix, none)))
    gap_none = np.subtract(column(per_seed, "train accuracy, none"), none)
    gap_mix = np.subtract(column(per_seed, "train accuracy, mixup"), mix)
    assert gap_check.value == pytest.approx(_t(gap_none - gap_mix))
    means = {row[0]: row for row in r.tables[1].rows}
    assert means["mixup"][2] == pytest.approx(np.mean(mix))


def test_mosaic_checks_follow_from_the_counts():
    r = quick("mosaic_small_objects")
    table = r.tables[0]
    rows = {row[0]: row for row in table.rows}
    assert set(rows) == {"plain", "plain, random scale", "mosaic", "mosaic, random scale"}
    small = dict(zip(column(table, "samples"), column(table, "small objects per batch")))
    total = dict(zip(column(table, "samples"), column(table, "objects per batch")))
    assert all(small[k] <= total[k] for k in small)
    # four images per sample: a mosaic holds more objects per batch than one image does
    assert total["mosaic"] > 2 * total["plain"]
    ratio_check = r.checks[0]
    assert ratio_check.value == pytest.approx(small["mosaic, random scale"] / small["plain"])
    # the second check's sign agrees with the table's means
    assert np.sign(r.checks[1].value) == np.sign(small["mosaic, random scale"] - small["mosaic"])
