"""The experiments registry.

An experiment is a function ``f(seed=0, quick=False) -> Result`` in a module of this package, registered
with the :func:`experiment` decorator::

    from deepnotes.notes.experiments import experiment
    from deepnotes.notes.result import Check, Result

    @experiment("sigmoid_vs_relu_gradients", ids=["S001-03"], claim="Sigmoid gradients vanish with depth")
    def sigmoid_vs_relu_gradients(seed=0, quick=False):
        ...
        return Result(experiment="sigmoid_vs_relu_gradients", claim=..., checks=[...])

:func:`run` imports every module of the package on first use (so the registry is complete without a
hand-written list), runs the experiment, times it and checks what it returned.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..result import VERDICTS, Result

__all__ = ["Experiment", "EXPERIMENTS", "experiment", "run", "get", "names", "load_all"]


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its name, the catalogue ids it answers, the claim it tests, the function."""

    name: str
    ids: tuple[str, ...]
    claim: str
    func: Callable[..., Result]
    module: str

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip()


EXPERIMENTS: dict[str, Experiment] = {}
_loaded = False


def experiment(name: str, ids=(), claim: str = ""):
    """Register the decorated function as experiment ``name`` (answers catalogue ``ids``, tests ``claim``).

    The function is returned unchanged.  A second registration under the same name from a different
    function raises a ValueError (two modules claiming one name is a mistake, not an override)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"experiment: name must be a Python identifier string, got {name!r}")
    if isinstance(ids, str):
        raise TypeError(f"experiment {name!r}: ids must be a list of catalogue ids, got the string {ids!r}")
    ids = tuple(ids)
    for i in ids:
        if not isinstance(i, str):
            raise TypeError(f"experiment {name!r}: ids must be strings, got {i!r}")
    if not isinstance(claim, str):
        raise TypeError(f"experiment {name!r}: claim must be a string, got {type(claim).__name__}")

    def register(func):
        if not callable(func):
            raise TypeError(f"experiment {name!r}: decorates a function, got {type(func).__name__}")
        old = EXPERIMENTS.get(name)
        where = f"{func.__module__}.{func.__qualname__}"
        if old is not None and f"{old.module}.{old.func.__qualname__}" != where:
            raise ValueError(
                f"experiment {name!r} is registered twice: by {old.module}.{old.func.__qualname__} and by {where}"
            )
        EXPERIMENTS[name] = Experiment(name=name, ids=ids, claim=claim, func=func, module=func.__module__)
        return func

    return register


def load_all() -> dict[str, Experiment]:
    """Import every module of this package (once), so that all experiments are registered."""
    global _loaded
    if not _loaded:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return EXPERIMENTS


def names() -> list[str]:
    """The registered experiment names, sorted."""
    return sorted(load_all())


def get(name: str) -> Experiment:
    """The registered experiment ``name``; a KeyError-free ValueError listing the known names otherwise."""
    registry = load_all()
    if name not in registry:
        known = ", ".join(sorted(registry)) or "(none)"
        raise ValueError(f"unknown experiment {name!r}; registered experiments: {known}")
    return registry[name]


def run(name: str, seed: int = 0, quick: bool = False) -> Result:
    """Run experiment ``name`` with ``seed``; ``quick`` asks for the small version (<= 10 s).

    Returns its :class:`Result` with ``seconds`` set to the wall time of the run.  A function that does not
    return a Result, returns one for another experiment, or a Result whose verdict cannot be computed
    (no checks and no not_measurable reason) raises a TypeError/ValueError naming the experiment."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"run({name!r}): seed must be an int, got {seed!r}")
    exp = get(name)
    start = time.perf_counter()
    result = exp.func(seed=seed, quick=bool(quick))
    seconds = time.perf_counter() - start
    if not isinstance(result, Result):
        raise TypeError(f"experiment {name!r} ({exp.module}) returned {type(result).__name__}, expected a Result")
    if result.experiment != name:
        raise ValueError(f"experiment {name!r} returned a Result labelled {result.experiment!r}")
    verdict = result.verdict  # raises a ValueError naming the experiment if there are no checks
    if verdict not in VERDICTS:
        raise ValueError(f"experiment {name!r}: verdict {verdict!r} is not one of {VERDICTS}")
    if not result.claim:
        result.claim = exp.claim
    result.quick = bool(quick)
    if not result.seeds:
        result.seeds = [seed]
    result.seconds = seconds
    return result
