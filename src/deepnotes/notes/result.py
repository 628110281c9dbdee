"""What an experiment returns: measured tables, figure data, checks, and a verdict computed from them.

An experiment never writes its verdict by hand.  It states each claim it tests as a :class:`Check`: a
measured value, the threshold it is compared with and the comparison, all in code.  The verdict of the
:class:`Result` follows from the checks alone:

- every check passes -> ``supports``
- no check passes -> ``contradicts``
- some pass -> ``partly`` (the failing checks say what does not hold)
- the experiment could not measure the claim -> ``not measurable here`` (with the reason)

Figures are data (series of points), not pictures: the command line and the book draw them with
matplotlib when it is installed, so experiments stay free of plotting code.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

SUPPORTS = "supports"
CONTRADICTS = "contradicts"
PARTLY = "partly"
NOT_MEASURABLE = "not measurable here"
VERDICTS = (SUPPORTS, PARTLY, CONTRADICTS, NOT_MEASURABLE)

_RELATIONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Check:
    """One measured comparison: ``value <relation> threshold``, e.g. ``Check("ReLU/sigmoid gradient
    ratio at layer 1", 250.0, ">", 10.0)``.  ``spread`` carries the standard deviation over seeds
    where the value is a mean."""

    name: str
    value: float
    relation: str
    threshold: float
    spread: float | None = None

    def __post_init__(self):
        if self.relation not in _RELATIONS:
            raise ValueError(f"Check: relation must be one of {sorted(_RELATIONS)}, got {self.relation!r}")

    @property
    def passed(self) -> bool:
        value = float(self.value)
        return not math.isnan(value) and _RELATIONS[self.relation](value, float(self.threshold))

    def describe(self) -> str:
        spread = f" +- {self.spread:.3g}" if self.spread is not None else ""
        mark = "holds" if self.passed else "fails"
        return f"{self.name}: {self.value:.4g}{spread} {self.relation} {self.threshold:.4g} ({mark})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": float(self.value),
            "relation": self.relation,
            "threshold": float(self.threshold),
            "spread": None if self.spread is None else float(self.spread),
            "passed": self.passed,
        }


@dataclass
class Table:
    """A measured table: column names and rows of numbers or short strings."""

    title: str
    columns: list[str]
    rows: list[list[Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [[_plain(v) for v in row] for row in self.rows],
        }

    def format(self) -> str:
        cells = [[_fmt(v) for v in row] for row in self.rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(self.columns)]
        lines = [
            self.title,
            "  ".join(c.ljust(w) for c, w in zip(self.columns, widths)),
            "  ".join("-" * w for w in widths),
        ]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
        return "\n".join(lines)


@dataclass
class Figure:
    """Data for one plot.  ``series`` maps a label to ``(x, y)`` sequences; ``kind`` is ``"line"`` or
    ``"bar"``; ``logy`` draws the y axis on a log scale."""

    name: str
    title: str
    xlabel: str
    ylabel: str
    series: dict[str, tuple[Sequence[float], Sequence[float]]]
    kind: str = "line"
    logy: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "xlabel": self.xlabel,
            "ylabel": self.ylabel,
            "kind": self.kind,
            "logy": self.logy,
            "series": {k: [[_plain(v) for v in x], [_plain(v) for v in y]] for k, (x, y) in self.series.items()},
        }


@dataclass
class Result:
    """The outcome of one experiment run."""

    experiment: str
    claim: str
    checks: list[Check] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    quick: bool = False
    not_measurable: str | None = None
    notes: str = ""
    seconds: float | None = None

    @property
    def verdict(self) -> str:
        if self.not_measurable:
            return NOT_MEASURABLE
        if not self.checks:
            raise ValueError(f"Result of {self.experiment}: no checks, so no verdict can be computed")
        passed = sum(c.passed for c in self.checks)
        if passed == len(self.checks):
            return SUPPORTS
        return CONTRADICTS if passed == 0 else PARTLY

    @property
    def explanation(self) -> str:
        """What holds and what does not, one line per check (or the reason it was not measurable)."""
        if self.not_measurable:
            return self.not_measurable
        return "\n".join(c.describe() for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "claim": self.claim,
            "verdict": self.verdict,
            "explanation": self.explanation,
            "checks": [c.to_dict() for c in self.checks],
            "tables": [t.to_dict() for t in self.tables],
            "figures": [f.to_dict() for f in self.figures],
            "seeds": list(self.seeds),
            "quick": self.quick,
            "not_measurable": self.not_measurable,
            "notes": self.notes,
            "seconds": self.seconds,
        }


def over_seeds(measure: Callable[[int], float], seeds: Sequence[int]) -> tuple[float, float, list[float]]:
    """Run ``measure(seed)`` for every seed; return (mean, standard deviation, values)."""
    values = [float(measure(s)) for s in seeds]
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return mean, spread, values


def _plain(v):
    if hasattr(v, "item"):
        return v.item()
    return v


def _fmt(v) -> str:
    v = _plain(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
