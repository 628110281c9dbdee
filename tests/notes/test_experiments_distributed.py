"""S002-24's experiment in quick mode: the verdict follows from the measured gradient differences."""

from deepnotes.notes.experiments import run
from deepnotes.notes.result import SUPPORTS


def test_data_parallel_equivalence_quick():
    r = run("data_parallel_equivalence", seed=0, quick=True)
    assert r.quick and r.seconds < 10
    t = r.tables[0]
    rows = {row[0]: row for row in t.rows}
    worst = t.columns.index("max relative gradient difference")
    assert rows["no BN"][worst] < 1e-12 and rows["SyncBatchNorm"][worst] < 1e-12
    assert rows["BatchNorm per worker"][t.columns.index("mean relative gradient difference")] > 1e-3
    assert all(c.passed for c in r.checks) and r.verdict == SUPPORTS
