"""``deepnotes notes list/show/run``: text and --json outputs (validated against the package's JSON schema),
stored results, figures, run --all, error messages.  Hermetic: a small catalogue written here and toy
experiments in an emptied registry; one test runs the shipped catalogue and a real experiment."""

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import numpy as np
import pytest

import deepnotes
from deepnotes.cli import main
from deepnotes.notes import experiments as exps
from deepnotes.notes.result import Check, Figure, Result, Table

SCHEMA = json.loads((Path(deepnotes.__file__).parent / "notes" / "schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
SRC = Path(deepnotes.__file__).resolve().parents[1]

CATALOGUE = {
    "losses.toml": """
        [[entry]]
        id = "S000-02"
        kind = "implement+claim"
        title = "说一下Focal loss"
        gloss = "What is focal loss?"
        answer = "Focal loss multiplies CE by $(1-p_t)^\\\\gamma$."
        code = ["deepnotes.nn.functional.cross_entropy", "deepnotes.nn.functional"]
        experiment = "toy_good"
        notes_wrong = "The notes say alpha weights the negatives."

        [[entry]]
        id = "S001-93"
        kind = "implement+claim"
        title = "Focal Loss 损失函数介绍"
        gloss = "Focal loss again"
        repeat_of = "S000-02"

        [[entry]]
        id = "S001-94"
        kind = "claim"
        title = "a claim that fails"
        gloss = "Half of it holds"
        answer = "No."
        experiment = "toy_partly"
    """,
    "practice.toml": """
        [[entry]]
        id = "S000-04"
        kind = "concept"
        title = "类别不均衡本质上是分类难度差异"
        gloss = "Class imbalance is a difference in difficulty"
        answer = "In part."

        [[entry]]
        id = "S000-05"
        kind = "claim"
        title = "needs a cluster"
        gloss = "Large-batch training on ImageNet"
        answer = "Cannot be measured here."
        not_measurable = "needs ImageNet and many GPUs"
    """,
}


def validate(obj, kind):
    """``obj`` matches the schema, and as the output ``kind`` (list, show, run, run_all) in particular."""
    VALIDATOR.validate(obj)
    jsonschema.Draft202012Validator(
        {"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{kind}"}, format_checker=jsonschema.FormatChecker()
    ).validate(obj)


def toy_good(seed=0, quick=False):
    x = np.arange(1, 6, dtype=np.float64)
    return Result(
        "toy_good",
        "gradients shrink",
        seeds=[seed],
        checks=[Check("ratio", np.float64(12.5), ">", 10.0, spread=0.5)],
        tables=[Table("per layer", ["layer", "grad", "ok"], [[1, np.float32(0.5), True], [2, 0.25, "yes"]])],
        figures=[
            Figure("curve", "Gradient by layer", "layer", "norm", {"sigmoid": (x, 1 / x), "relu": (x, x)}, logy=True),
            Figure("bars", "Share", "scale", "share", {"naive": ([1, 10], [0.0, 1.0])}, kind="bar"),
        ],
    )


def toy_partly(seed=0, quick=False):
    return Result(
        "toy_partly",
        "two things hold",
        quick=quick,
        checks=[Check("first", 1.0, "<", 2.0), Check("second", float("nan"), ">", 0.0)],
    )


def toy_broken(seed=0, quick=False):
    raise RuntimeError("the toy broke")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A catalogue folder, a data folder (via DEEPNOTES_DATA_DIR) and a registry holding the toys."""
    cat = tmp_path / "catalogue"
    cat.mkdir()
    for name, text in CATALOGUE.items():
        (cat / name).write_text(textwrap.dedent(text), encoding="utf-8")
    data = tmp_path / "data"
    monkeypatch.setenv("DEEPNOTES_DATA_DIR", str(data))
    monkeypatch.setattr(exps, "EXPERIMENTS", {})
    monkeypatch.setattr(exps, "_loaded", True)
    exps.experiment("toy_good", ids=["S000-02"], claim="gradients shrink")(toy_good)
    exps.experiment("toy_partly", ids=["S001-94"])(toy_partly)
    return {"cat": cat, "data": data, "tmp": tmp_path}


def notes(env, *argv, capsys):
    code = main(["notes", "--catalogue", str(env["cat"]), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_list_text_and_json(env, capsys):
    code, out, _ = notes(env, "list", capsys=capsys)
    assert code == 0
    assert "S000-02" in out and "experiment toy_good" in out and "repeat of S000-02" in out and "5 entries" in out
    code, out, _ = notes(env, "list", "--json", capsys=capsys)
    data = json.loads(out)
    validate(data, "list")
    assert [e["id"] for e in data["entries"]] == ["S000-02", "S000-04", "S000-05", "S001-93", "S001-94"]
    assert data["entries"][3]["first"] == "S000-02" and data["entries"][3]["answer"] == ""
    code, out, _ = notes(env, "list", "--topic", "practice", "--kind", "claim", "--json", capsys=capsys)
    assert [e["id"] for e in json.loads(out)["entries"]] == ["S000-05"]


def test_list_rejects_unknown_topic(env, capsys):
    with pytest.raises(SystemExit) as e:
        main(["notes", "--catalogue", str(env["cat"]), "list", "--topic", "lossses"])
    assert e.value.code == 2
    assert "invalid choice: 'lossses'" in capsys.readouterr().err


def test_show_repeat_shows_the_first_occurrence(env, capsys):
    code, out, _ = notes(env, "show", "S001-93", capsys=capsys)
    assert code == 0
    assert "Focal Loss 损失函数介绍" in out and "(repeat of S000-02: 说一下Focal loss)" in out
    assert "Focal loss multiplies CE" in out and "The notes say alpha" in out
    assert "deepnotes.nn.functional.cross_entropy  (deepnotes/nn/functional/losses.py:" in out
    assert "Experiment: toy_good" in out and "Last result" not in out
    code, out, _ = notes(env, "show", "S001-93", "--json", capsys=capsys)
    data = json.loads(out)
    validate(data, "show")
    assert data["entry"]["id"] == "S001-93" and data["first"]["id"] == "S000-02" and data["last_result"] is None
    import inspect

    import deepnotes.nn.functional as F

    link = data["code"][0]
    assert link["line"] == inspect.getsourcelines(F.cross_entropy)[1] and link["error"] is None
    assert (SRC / link["file"]).resolve() == Path(inspect.getsourcefile(F.cross_entropy)).resolve()
    assert data["code"][1] == {
        "name": "deepnotes.nn.functional",
        "file": "deepnotes/nn/functional/__init__.py",
        "line": None,
        "error": None,
    }


def test_run_prints_stores_and_show_finds_the_result(env, capsys):
    out_dir = env["tmp"] / "out"
    code, out, _ = notes(env, "run", "S001-93", "--seed", "7", "--out", str(out_dir), capsys=capsys)
    assert code == 0
    assert "claim: gradients shrink" in out and "ratio: 12.5 +- 0.5 > 10 (holds)" in out
    assert "verdict: supports" in out and "per layer" in out
    stored = env["data"] / "results" / "toy_good.json"
    assert f"result: {stored}, {out_dir / 'toy_good.json'}" in out
    pngs = sorted(out_dir.glob("*.png"))
    assert [p.name for p in pngs] == ["toy_good-bars.png", "toy_good-curve.png"]
    from PIL import Image

    for p in pngs:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size == (600, 400)
    record = json.loads(stored.read_text(encoding="utf-8"))
    assert record == json.loads((out_dir / "toy_good.json").read_text(encoding="utf-8"))
    assert record["seed"] == 7 and record["ids"] == ["S001-93", "S000-02"]
    assert record["result"]["verdict"] == "supports" and record["result"]["seeds"] == [7]
    assert record["result"]["tables"][0]["rows"] == [[1, 0.5, True], [2, 0.25, "yes"]]

    code, out, _ = notes(env, "show", "S000-02", capsys=capsys)
    assert "Last result (" in out and "seed 7, full): supports" in out
    code, out, _ = notes(env, "show", "S000-02", "--json", capsys=capsys)
    data = json.loads(out)
    validate(data, "show")
    assert data["last_result"] == record

    (out_dir / "toy_good.json").write_text("{broken", encoding="utf-8")
    code, out, err = notes(env, "show", "S000-02", "--out", str(out_dir), "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["last_result"] == record  # falls back to the data folder
    assert "warning" in err and "toy_good.json" in err and "not a valid JSON file" in err


def test_run_json_by_name_and_nan_values(env, capsys):
    code, out, err = notes(env, "run", "toy_partly", "--quick", "--json", capsys=capsys)
    assert code == 0
    data = json.loads(out)
    validate(data, "run")
    assert data["experiment"] == "toy_partly" and data["ids"] == ["S001-94"]
    result = data["result"]
    assert result["verdict"] == "partly" and result["quick"] is True and result["seeds"] == [0]
    assert result["checks"][1] == {
        "name": "second",
        "value": None,
        "relation": ">",
        "threshold": 0.0,
        "spread": None,
        "passed": False,
    }
    assert data["files"] == [str(env["data"] / "results" / "toy_partly.json")]
    assert "NaN" not in out


def test_run_without_matplotlib_skips_figures(env, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, out, _ = notes(env, "run", "S000-02", "--out", str(env["tmp"] / "o"), capsys=capsys)
    assert code == 0
    assert "skipped 2 figure(s): matplotlib is not installed" in out
    assert not list((env["tmp"] / "o").glob("*.png")) and (env["tmp"] / "o" / "toy_good.json").is_file()


def test_run_all_summary_and_json(env, capsys):
    exps.experiment("toy_broken")(toy_broken)
    code, out, err = notes(env, "run", "--all", "--quick", capsys=capsys)
    assert code == 1
    assert "3 experiments: 1 supports, 1 partly, 0 contradicts, 0 not measurable here, 1 error" in out
    lines = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("toy_")}
    assert lines == {"toy_broken": "error", "toy_good": "supports", "toy_partly": "partly"}
    assert "toy_broken failed: RuntimeError: the toy broke" in err
    # the contested claims follow the table, each with the check that fails and its measured figure
    contested = out.split("Claims the measurements contradict or only partly support:\n")[1].splitlines()
    assert contested == [
        "- toy_partly (partly; S001-94): two things hold",
        "    fails: second: measured nan, needed > 0",
    ]
    assert "experiments:" not in err  # the progress bar is off when stderr is not a terminal
    code, out, err = notes(env, "run", "--all", "--json", capsys=capsys)
    data = json.loads(out)
    validate(data, "run_all")
    assert data["counts"] == {"supports": 1, "partly": 1, "contradicts": 0, "not measurable here": 0, "error": 1}
    assert [r["experiment"] for r in data["runs"]] == ["toy_broken", "toy_good", "toy_partly"]
    assert data["runs"][0]["result"] is None and data["runs"][0]["error"] == "RuntimeError: the toy broke"
    assert data["runs"][1]["ids"] == ["S000-02"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "S000-04"], "S000-04 has no experiment to run (it is a concept entry without an experiment)"),
        (["run", "S000-05"], "not measurable here: needs ImageNet and many GPUs"),
        (["run", "toy_nope"], "unknown experiment 'toy_nope'; registered experiments: toy_good, toy_partly"),
        (["run"], "give either an id/experiment name or --all"),
        (["run", "S000-02", "--all"], "give either an id/experiment name or --all"),
        (["show", "S000-03"], "no catalogue entry with id 'S000-03'; did you mean"),
    ],
)
def test_errors_are_clear(env, capsys, argv, message):
    code, out, err = notes(env, *argv, capsys=capsys)
    assert code == 2 and out == ""
    assert err.startswith("deepnotes notes: error: ") and message in err


def test_bad_catalogue_is_a_clear_error(env, capsys):
    (env["cat"] / "data.toml").write_text('[[entry]]\nid = "S000-04"\n', encoding="utf-8")
    code, out, err = notes(env, "list", capsys=capsys)
    assert code == 2
    assert "data.toml: entry 'S000-04': missing key(s) kind, title, gloss, answer" in err


@pytest.mark.slow
def test_shipped_catalogue_and_a_real_experiment_through_the_command(tmp_path):
    """The installed command on the shipped catalogue: list --json, and a real experiment run quickly."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "DEEPNOTES_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "deepnotes", "notes", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    validate(listing, "list")
    runnable = [e for e in listing["entries"] if e["experiment"] == "softmax_overflow"]
    assert runnable, "no catalogue entry names the softmax_overflow experiment"
    proc = subprocess.run(
        [sys.executable, "-m", "deepnotes", "notes", "run", runnable[0]["id"], "--quick", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    validate(data, "run")
    assert data["experiment"] == "softmax_overflow" and data["result"]["quick"] is True
    assert (tmp_path / "results" / "softmax_overflow.json").is_file()


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_run_all_shows_a_progress_bar_on_a_terminal(env, capsys, monkeypatch):
    fake = _Terminal()
    monkeypatch.setattr(sys, "stderr", fake)
    assert main(["notes", "--catalogue", str(env["cat"]), "run", "--all", "--quick"]) == 0
    bar = fake.getvalue()
    assert "experiments: 100%" in bar and "2/2" in bar
    assert "2 experiments: 1 supports, 1 partly" in capsys.readouterr().out
