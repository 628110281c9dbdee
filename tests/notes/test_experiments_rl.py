"""Issue 17 DQN experiment (S002-50): registered and catalogued, quick run consistent, checks re-derived from
its table."""

import math

import pytest

from deepnotes.notes.catalogue import load_catalogue
from deepnotes.notes.experiments import get, names

from _notes import column, quick, verdict_of

NAME = "dqn_replay_and_target"


def test_registered_and_catalogued():
    assert NAME in names() and get(NAME).ids == ("S002-50",)
    entry = load_catalogue().get("S002-50")
    assert entry.experiment == NAME and not entry.pending
    assert "deepnotes.rl.DQNAgent" in entry.code


@pytest.mark.slow  # the quick run trains 4 agents for 2,000 steps each: about 6 s on one core
def test_quick_run_is_consistent_with_its_table():
    r = quick(NAME)
    assert r.experiment == NAME and r.quick and r.seeds == [0]
    table = r.tables[0]
    variants = column(table, "variant")
    assert variants == ["replay + target network", "replay, no target network", "target network, no replay", "neither"]
    assert column(table, "replay") == [True, True, False, False]
    assert column(table, "target network") == [True, False, True, False]
    score = dict(zip(variants, column(table, "score"), strict=True))
    q_max = dict(zip(variants, column(table, "max Q at the upright state"), strict=True))
    assert all(math.isfinite(q) for q in q_max.values())
    for v, s in score.items():
        assert 8 <= s <= 500, (v, s)  # CartPole returns: every episode lasts 8 to 500 steps
    full = score["replay + target network"]
    expected = [
        full / max(score["target network, no replay"], 1) > 1.5,
        full / max(score["neither"], 1) > 2,
        full / max(score["replay, no target network"], 1) >= 1,
        q_max["replay + target network"] * (1 - 0.99) < 1,
        q_max["replay, no target network"] * (1 - 0.99) > 1,
    ]
    assert [c.passed for c in r.checks] == expected
    assert r.verdict == verdict_of(expected)
    for c in r.checks:
        assert math.isfinite(c.value)
    curves = r.figures[0].series
    assert set(curves) == set(variants)
    assert all(list(xs) == [500, 1000, 1500, 2000] for xs, _ in curves.values())
