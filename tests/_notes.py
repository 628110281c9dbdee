"""Helpers shared by the executable-notes experiment tests (tests/notes/test_experiments*.py): one cached
quick run per experiment, the verdict its checks imply, and a table column by name."""

from deepnotes.notes.experiments import run
from deepnotes.notes.result import CONTRADICTS, PARTLY, SUPPORTS

_cache = {}


def quick(name):
    """The quick-mode result of experiment ``name`` at seed 0, run once per test process."""
    if name not in _cache:
        _cache[name] = run(name, seed=0, quick=True)
    return _cache[name]


def verdict_of(passed):
    """The verdict that check outcomes ``passed`` imply: supports if all hold, contradicts if none."""
    passed = list(passed)
    return SUPPORTS if all(passed) else CONTRADICTS if not any(passed) else PARTLY


def expected_verdict(result):
    """The verdict that ``result``'s own checks imply."""
    return verdict_of(c.passed for c in result.checks)


def column(table, name):
    return [row[table.columns.index(name)] for row in table.rows]
