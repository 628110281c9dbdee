"""Issue 17 compression experiments (S002-59): quick runs, checks re-derived from the tables they return."""

import math

import numpy as np
import pytest

from deepnotes.notes.catalogue import load_catalogue
from deepnotes.notes.experiments import get, names

from _notes import column, quick, verdict_of

MINE = ["pruning_sparsity_accuracy", "int8_quantisation", "distillation_vs_alone"]


def test_registered_and_catalogued():
    assert set(MINE) <= set(names())
    cat = load_catalogue()
    entry = cat.get("S002-59")
    assert entry.experiment == "pruning_sparsity_accuracy" and not entry.pending
    assert any(c.startswith("deepnotes.compress.") for c in entry.code)
    for name in MINE:
        assert get(name).ids == ("S002-59",)
    assert cat.get("S002-78").repeat_of == "S002-59"


@pytest.mark.slow
@pytest.mark.parametrize("name", MINE)
def test_quick_run_is_consistent(name):
    r = quick(name)
    assert r.experiment == name and r.quick and r.checks and r.tables
    assert r.verdict == verdict_of([c.passed for c in r.checks])
    for c in r.checks:
        assert math.isfinite(c.value) and math.isfinite(c.threshold)


@pytest.mark.slow
def test_pruning_checks_from_the_table():
    r = quick("pruning_sparsity_accuracy")
    t = r.tables[0]
    rows = {(row[0], row[1]): dict(zip(t.columns, row)) for row in t.rows}
    u80 = rows[("unstructured", 0.8)]
    dense = rows[("dense", 0.0)]["accuracy fine-tuned"]
    assert u80["fine-tuned - dense fine-tuned"] == pytest.approx(u80["accuracy fine-tuned"] - dense)
    sparsities = sorted({s for k, s in rows if k != "dense"})
    gap = np.mean([rows[("unstructured", s)]["accuracy"] - rows[("structured", s)]["accuracy"] for s in sparsities])
    u90 = rows[("unstructured", 0.9)]
    holds = [
        dense - u80["accuracy fine-tuned"] <= 0.02,
        gap > 0,
        u90["accuracy fine-tuned"] - u90["accuracy"] > 0,
        rows[("structured", 0.5)]["dense MACs ratio"] < 0.5,
        rows[("unstructured", 0.5)]["dense MACs ratio"] >= 1.0,
    ]
    assert [c.passed for c in r.checks] == holds
    # structured pruning zeroes whole rows: its dense network shrinks as the sparsity grows
    ratios = [rows[("structured", s)]["dense MACs ratio"] for s in sparsities]
    assert ratios == sorted(ratios, reverse=True)
    assert {f.name for f in r.figures} == {"accuracy_vs_sparsity"}


@pytest.mark.slow
def test_int8_checks_from_the_tables():
    r = quick("int8_quantisation")
    drops = column(r.tables[0], "drop")
    np.testing.assert_allclose(drops, np.array(column(r.tables[0], "float32")) - column(r.tables[0], "int8"))
    size = {row[0]: row[1:] for row in r.tables[1].rows}
    file_ratio = size["weights file (bytes)"][1] / size["weights file (bytes)"][0]
    mem_ratio = size["weight bytes in memory"][1] / size["weight bytes in memory"][0]
    holds = [float(np.mean(drops)) <= 0.01, file_ratio < 0.30, mem_ratio < 0.27]
    assert [c.passed for c in r.checks] == holds
    assert all(row[1] > 0 and row[2] > 0 for row in r.tables[1].rows)


@pytest.mark.slow
def test_distillation_checks_from_the_table():
    r = quick("distillation_vs_alone")
    t = r.tables[0]
    gains = np.array(column(t, "distilled (T=4, alpha=0.9)")) - np.array(column(t, "alone"))
    np.testing.assert_allclose(gains, column(t, "gain"), atol=1e-12)
    tstat = gains.mean() / (gains.std(ddof=1) / math.sqrt(len(gains)))
    assert [c.passed for c in r.checks] == [gains.mean() > 0, tstat > 2]
    assert r.checks[1].value == pytest.approx(tstat)
    assert len(t.rows) == len(r.seeds) == 3
