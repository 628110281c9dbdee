"""The experiments registry: the decorator, lazy loading of the experiment modules, run()'s checks."""

import pkgutil

import pytest

from deepnotes.notes import experiments as exps
from deepnotes.notes.result import Check, Result


@pytest.fixture
def registry(monkeypatch):
    """An empty, already-loaded registry (the real experiments stay untouched)."""
    monkeypatch.setattr(exps, "EXPERIMENTS", {})
    monkeypatch.setattr(exps, "_loaded", True)
    return exps.EXPERIMENTS


def test_decorator_registers_and_returns_the_function(registry):
    def f(seed=0, quick=False):
        return Result("toy", "a claim", checks=[Check("x", seed + 1.0, ">", 0.5)])

    assert exps.experiment("toy", ids=["S000-02"], claim="a claim")(f) is f
    assert registry["toy"].ids == ("S000-02",) and registry["toy"].claim == "a claim"
    assert exps.names() == ["toy"] and exps.get("toy").func is f
    result = exps.run("toy", seed=3, quick=True)
    assert result.verdict == "supports" and result.checks[0].value == 4.0
    assert result.quick is True and result.seeds == [3]
    assert isinstance(result.seconds, float) and result.seconds >= 0


def test_decorator_rejects_bad_arguments(registry):
    with pytest.raises(ValueError, match="identifier"):
        exps.experiment("not a name")
    with pytest.raises(TypeError, match="ids must be a list"):
        exps.experiment("x", ids="S000-01")
    with pytest.raises(TypeError, match="decorates a function"):
        exps.experiment("x")(3)

    def one(seed=0, quick=False):
        pass

    def two(seed=0, quick=False):
        pass

    exps.experiment("dup")(one)
    exps.experiment("dup")(one)  # the same function again (a module reloaded) is fine
    with pytest.raises(ValueError, match="registered twice"):
        exps.experiment("dup")(two)


def test_run_validates_what_the_experiment_returns(registry):
    exps.experiment("not_a_result")(lambda seed=0, quick=False: {"verdict": "supports"})
    exps.experiment("mislabelled")(lambda seed=0, quick=False: Result("other", "c", checks=[Check("x", 1, ">", 0)]))
    exps.experiment("no_checks")(lambda seed=0, quick=False: Result("no_checks", "c"))
    exps.experiment("unmeasurable", claim="from the decorator")(
        lambda seed=0, quick=False: Result("unmeasurable", "", not_measurable="needs a GPU")
    )
    with pytest.raises(TypeError, match="'not_a_result'.*returned dict, expected a Result"):
        exps.run("not_a_result")
    with pytest.raises(ValueError, match="'mislabelled' returned a Result labelled 'other'"):
        exps.run("mislabelled")
    with pytest.raises(ValueError, match="no_checks: no checks"):
        exps.run("no_checks")
    r = exps.run("unmeasurable")
    assert r.verdict == "not measurable here" and r.claim == "from the decorator"
    with pytest.raises(ValueError, match="unknown experiment 'nope'; registered experiments: mislabelled"):
        exps.run("nope")
    with pytest.raises(TypeError, match="seed must be an int"):
        exps.run("unmeasurable", seed=1.5)


def test_load_all_imports_every_experiment_module():
    registry = exps.load_all()
    modules = {m.name for m in pkgutil.iter_modules(exps.__path__) if not m.name.startswith("_")}
    assert {e.module.rsplit(".", 1)[1] for e in registry.values()} <= modules
    for name in modules:
        assert f"{exps.__name__}.{name}" in __import__("sys").modules


def test_notes_is_a_leaf_package():
    """Nothing in deepnotes imports deepnotes.notes (the command line finds it by name, like the other
    sub-commands)."""
    import ast
    from pathlib import Path

    import deepnotes

    root = Path(deepnotes.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] == "notes":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = "." * node.level + (node.module or "")
                names = [base] + [f"{base}.{a.name}" if not base.endswith(".") else base + a.name for a in node.names]
            if any(
                n.startswith("deepnotes.notes") or n.lstrip(".").startswith("notes") and n.startswith(".")
                for n in names
            ):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []
