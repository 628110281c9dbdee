"""Issue 16 generative experiments (S002-30, S002-57, S002-62, S002-63): quick runs, checks re-derived from
their tables."""

import math

import pytest

from deepnotes.notes.catalogue import load_catalogue
from deepnotes.notes.experiments import get, names

from _notes import column, quick, verdict_of

MINE = {
    "gan_saturating_vs_nonsaturating": ["S002-30"],
    "inception_score_properties": ["S002-57"],
    "cyclegan_cycle_consistency": ["S002-62"],
    "wgan_mode_collapse": ["S002-63"],
    "wgan_clipping_vs_gradient_penalty": ["S002-63"],
}


def test_registered_and_catalogued():
    assert set(MINE) <= set(names())
    cat = load_catalogue()
    for name, ids in MINE.items():
        assert set(get(name).ids) == set(ids)
        for i in ids:
            e = cat.get(i)
            assert not e.pending and e.experiment in MINE
            assert any(c.startswith("deepnotes.generative.") for c in e.code)
    assert cat.get("S002-63").experiment == "wgan_mode_collapse"


SLOW = {"cyclegan_cycle_consistency", "wgan_mode_collapse"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(MINE)])
def test_quick_run_is_consistent(name):
    r = quick(name)
    assert r.experiment == name and r.quick and r.checks and r.tables
    assert r.verdict == verdict_of([c.passed for c in r.checks])
    for c in r.checks:
        assert math.isfinite(c.value) and math.isfinite(c.threshold)


def test_saturation_checks_from_tables():
    r = quick("gan_saturating_vs_nonsaturating")
    curve, summary = r.tables
    mm, ns = column(curve, "|grad| minimax"), column(curve, "|grad| non-saturating")
    d_fake = column(curve, "mean D(G(z))")
    # before D has learned anything, D(G(z)) ~ 1/2 and the two losses give similar gradients
    assert d_fake[0] == pytest.approx(0.5, abs=0.05) and ns[0] / mm[0] == pytest.approx(1.0, abs=0.2)
    row = summary.rows[0]
    assert (
        row[1] == d_fake[-1] and row[2] == pytest.approx(ns[-1] / mm[-1]) and row[3] == pytest.approx(mm[-1] / max(mm))
    )
    holds = [d_fake[-1] < 0.2, ns[-1] / mm[-1] > 5, mm[-1] / max(mm) < 0.5]
    assert [c.passed for c in r.checks] == holds


def test_inception_score_checks_from_tables():
    r = quick("inception_score_properties")
    t = r.tables[0]
    rows = {row[0]: dict(zip(t.columns, row)) for row in t.rows}
    real = rows["real test digits"]
    one = next(v for k, v in rows.items() if k.startswith("one class"))
    collapsed = rows["one image per class x 36"]
    scores = [v["IS"] for v in rows.values()]
    holds = [
        real["IS"] > 8,
        one["IS"] < 1.5,
        abs(rows["half the classes"]["IS"] / 5 - 1) < 0.2,
        min(scores) >= 1,
        max(scores) <= 10,
        collapsed["IS"] / real["IS"] >= 0.9,
        collapsed["digits FID"] / real["digits FID"] > 5,
        max(abs(v["IS"] - v["exp(H(y) - E H(y|x))"]) for v in rows.values()) < 1e-9,
    ]
    assert [c.passed for c in r.checks] == holds
    for v in rows.values():  # IS = exp(H(y) - E H(y|x)) recomputed from the table's entropies
        assert v["IS"] == pytest.approx(math.exp(v["H(y)"] - v["E H(y|x)"]), rel=1e-9)


def test_clipping_checks_from_table():
    r = quick("wgan_clipping_vs_gradient_penalty")
    t = r.tables[0]
    rows = {row[0]: dict(zip(t.columns, row)) for row in t.rows}
    clip, gp = rows["clipping"], rows["penalty"]
    holds = [
        clip["weights at the extreme"] > 0.5,
        gp["weights at the extreme"] < 0.1,
        abs(gp["mean |grad_x critic|"] - 1) < 0.25,
        clip["mean |grad_x critic|"] < 0.5,
    ]
    assert [c.passed for c in r.checks] == holds
    # the figure's histogram is a distribution over the weights of each constraint
    for _, ys in r.figures[0].series.values():
        assert sum(ys) == pytest.approx(1.0)


@pytest.mark.slow
def test_mode_collapse_checks_from_tables():
    r = quick("wgan_mode_collapse")
    per_run, means = r.tables
    by_loss = {}
    for row in per_run.rows:
        by_loss.setdefault(row[0], []).append(row)
    mean = {k: sum(row[2] for row in v) / len(v) for k, v in by_loss.items()}
    even = {k: sum(row[3] for row in v) / len(v) for k, v in by_loss.items()}
    assert set(by_loss) == {"gan", "wgan", "wgan-gp"} and all(len(v) == len(r.seeds) for v in by_loss.values())
    holds = [mean["wgan-gp"] >= mean["gan"], mean["wgan"] >= mean["gan"], even["wgan-gp"] >= even["gan"]]
    assert [c.passed for c in r.checks] == holds
    assert all(1 <= c <= 10 for c in column(per_run, "classes covered"))


@pytest.mark.slow
def test_cycle_checks_from_table():
    r = quick("cyclegan_cycle_consistency")
    t = r.tables[0]
    rows = {row[0]: dict(zip(t.columns, row)) for row in t.rows}
    a, b = rows["cycle + identity (10, 0.5)"], rows["adversarial only"]
    holds = [a["|F(G(x)) - x|"] / b["|F(G(x)) - x|"] < 0.5, a["accuracy on F(G(x))"] - b["accuracy on F(G(x))"] > 0]
    assert [c.passed for c in r.checks] == holds
