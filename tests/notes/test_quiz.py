"""The quiz: Leitner scheduling, the record file (missing, corrupt, interrupted quiz), and the command
driven end to end through its standard input."""

import datetime as dt
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import deepnotes
from deepnotes.cli import main
from deepnotes.notes import experiments as exps
from deepnotes.notes import quiz
from deepnotes.notes.catalogue import load_catalogue
from deepnotes.notes.result import Check, Result

SRC = Path(deepnotes.__file__).resolve().parents[1]
TODAY = dt.date(2026, 3, 10)

CATALOGUE = """
[[entry]]
id = "S000-01"
kind = "concept"
title = "为什么加深网络而不是加宽网络"
gloss = "Why deeper rather than wider?"
answer = "ANSWER-ONE"

[[entry]]
id = "S000-02"
kind = "implement+claim"
title = "说一下Focal loss"
gloss = "What is focal loss?"
answer = "ANSWER-TWO"
code = ["deepnotes.nn.functional.cross_entropy"]
experiment = "toy_quiz"

[[entry]]
id = "S001-93"
kind = "implement+claim"
title = "Focal Loss 损失函数介绍"
gloss = "Focal loss again"
repeat_of = "S000-02"

[[entry]]
id = "S000-03"
kind = "implement"
title = "二分类传统 CE loss"
gloss = "Binary cross-entropy"
answer = "ANSWER-THREE"
"""


def toy_quiz(seed=0, quick=False):
    return Result("toy_quiz", "focal loss helps", checks=[Check("easy-negative share of loss", 0.1, "<", 0.5)])


@pytest.fixture
def cat_dir(tmp_path, monkeypatch):
    folder = tmp_path / "catalogue"
    folder.mkdir()
    (folder / "losses.toml").write_text(textwrap.dedent(CATALOGUE), encoding="utf-8")
    monkeypatch.setattr(exps, "EXPERIMENTS", {})
    monkeypatch.setattr(exps, "_loaded", True)
    exps.experiment("toy_quiz", ids=["S000-02"])(toy_quiz)
    return folder


def card(box, due, last="2026-03-01"):
    return {"box": box, "due": due, "last": last, "history": [[last, 4]]}


# ----- scheduling ------------------------------------------------------------------------------------


def test_leitner_boxes_move_up_on_success_and_back_to_one_on_failure():
    record = quiz.new_record()
    c = quiz.grade_card(record, "S000-01", 4, TODAY)  # a new card counts as box 1
    assert (c["box"], c["due"]) == (2, "2026-03-12")
    c = quiz.grade_card(record, "S000-01", 3, TODAY)
    assert (c["box"], c["due"]) == (3, "2026-03-14")
    for _ in range(5):
        c = quiz.grade_card(record, "S000-01", 5, TODAY)
    assert (c["box"], c["due"]) == (5, "2026-03-26")  # box 5 is the top: 16 days
    c = quiz.grade_card(record, "S000-01", 2, TODAY)
    assert (c["box"], c["due"], c["last"]) == (1, "2026-03-11", "2026-03-10")
    assert [g for _, g in c["history"]] == [4, 3, 5, 5, 5, 5, 5, 2]
    c = quiz.grade_card(record, "S000-02", 0, TODAY)
    assert c["box"] == 1


@pytest.mark.parametrize(
    "text, grade",
    [
        ("5", 5),
        (" 0 ", 0),
        ("3\n", 3),
        ("y", 5),
        ("YES", 5),
        ("n", 0),
        ("no", 0),
        ("6", None),
        ("-1", None),
        ("", None),
        ("maybe", None),
    ],
)
def test_parse_grade(text, grade):
    assert quiz.parse_grade(text) == grade


def test_choose_due_first_then_unseen_never_repeats(cat_dir):
    entries = list(load_catalogue(cat_dir))
    record = quiz.new_record()
    record["cards"] = {
        "S000-01": card(3, "2026-03-09"),  # due (overdue by a day)
        "S000-02": card(1, "2026-03-11"),  # not due yet
        "S001-93": card(1, "2026-03-01"),
    }  # a repeat: never asked
    assert [e.id for e in quiz.choose(entries, record, 10, TODAY)] == ["S000-01", "S000-03"]
    record["cards"]["S000-02"] = card(2, "2026-03-08")  # more overdue: asked first
    assert [e.id for e in quiz.choose(entries, record, 10, TODAY)] == ["S000-02", "S000-01", "S000-03"]
    assert [e.id for e in quiz.choose(entries, record, 1, TODAY)] == ["S000-02"]


# ----- the record file -------------------------------------------------------------------------------


def test_missing_record_starts_fresh_with_a_message(tmp_path):
    said = []
    assert quiz.load_record(tmp_path / "quiz.json", said.append) == quiz.new_record()
    assert said == [f"deepnotes notes quiz: no quiz record at {str(tmp_path / 'quiz.json')!r} yet; starting a new one"]


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"{not json", "is not a valid JSON file"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"format": 1, "system": "sm2", "cards": {}}', "expected format 1 and system 'leitner'"),
        (
            b'{"format": 1, "system": "leitner", "cards": {"S000-01": {"box": 9, "due": "2026-01-01", '
            b'"last": "2026-01-01", "history": []}}}',
            "card 'S000-01': box must be one of [1, 2, 3, 4, 5], got 9",
        ),
        (
            b'{"format": 1, "system": "leitner", "cards": {"S000-01": {"box": 1, "due": "soon", '
            b'"last": "2026-01-01", "history": []}}}',
            "due and last must be ISO dates",
        ),
        (b"\xff\xfe\x00", "is not a valid JSON file"),
    ],
)
def test_corrupt_record_is_moved_aside_never_lost(tmp_path, content, reason):
    path = tmp_path / "quiz.json"
    path.write_bytes(content)
    said = []
    assert quiz.load_record(path, said.append) == quiz.new_record()
    assert not path.exists()
    aside = list(tmp_path.glob("quiz.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert len(said) == 1 and reason in said[0] and str(aside[0]) in said[0]
    assert said[0].startswith("deepnotes notes quiz: ")


def test_move_aside_never_replaces_an_earlier_corrupt_file(tmp_path):
    path = tmp_path / "quiz.json"
    for k in range(3):
        path.write_text(f"broken {k}")
        quiz._move_aside(path, stamp="20260310T120000Z")
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "quiz.json.corrupt-20260310T120000Z": "broken 0",
        "quiz.json.corrupt-20260310T120000Z-1": "broken 1",
        "quiz.json.corrupt-20260310T120000Z-2": "broken 2",
    }


def test_valid_record_round_trips(tmp_path, cat_dir):
    path = tmp_path / "quiz.json"
    out = io.StringIO()
    quiz.run_quiz(
        list(load_catalogue(cat_dir)),
        path,
        n=1,
        stdin=io.StringIO("\n4\n"),
        stdout=out,
        stderr=io.StringIO(),
        today=TODAY,
    )
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record == {
        "format": 1,
        "system": "leitner",
        "cards": {"S000-01": {"box": 2, "last": "2026-03-10", "due": "2026-03-12", "history": [["2026-03-10", 4]]}},
    }
    said = []
    assert quiz.load_record(path, said.append) == record and said == []


# ----- end to end -------------------------------------------------------------------------------------


def run_quiz_command(cat_dir, data_dir, stdin, *extra):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("DEEPNOTES_DATA_DIR", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "deepnotes",
            "notes",
            "--catalogue",
            str(cat_dir),
            "--data-dir",
            str(data_dir),
            "quiz",
            *extra,
        ],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_quiz_through_stdin_with_missing_then_corrupt_record(tmp_path):
    folder = tmp_path / "catalogue"
    folder.mkdir()
    # without the toy experiment registered in the child process, the entry must not name it
    (folder / "losses.toml").write_text(
        textwrap.dedent(CATALOGUE).replace('experiment = "toy_quiz"', "pending = true"), encoding="utf-8"
    )
    data = tmp_path / "data"
    today = dt.date.today()

    # missing record: a message, then two questions graded (an invalid grade is asked again)
    proc = run_quiz_command(folder, data, "\n5\n\nmaybe\nn\n", "--n", "2")
    assert proc.returncode == 0, proc.stderr
    assert "no quiz record at" in proc.stderr and "starting a new one" in proc.stderr
    out = proc.stdout
    assert out.index("S000-01") < out.index("ANSWER-ONE") < out.index("S000-02") < out.index("ANSWER-TWO")
    assert "please answer with a number 0-5, y or n" in out and "2 question(s) graded" in out
    assert "ANSWER-THREE" not in out
    record = json.loads((data / "quiz.json").read_text(encoding="utf-8"))
    assert {k: (c["box"], c["due"]) for k, c in record["cards"].items()} == {
        "S000-01": (2, (today + dt.timedelta(days=2)).isoformat()),
        "S000-02": (1, (today + dt.timedelta(days=1)).isoformat()),
    }

    # a second quiz asks the one question not seen yet; the input ends before the grade: nothing is lost
    proc = run_quiz_command(folder, data, "\n", "--n", "5")
    assert proc.returncode == 0 and proc.stderr == ""
    assert "ANSWER-THREE" in proc.stdout and "ANSWER-ONE" not in proc.stdout
    assert "quiz stopped" in proc.stdout and "0 question(s) graded" in proc.stdout
    assert json.loads((data / "quiz.json").read_text(encoding="utf-8")) == record

    # corrupt record: moved aside byte for byte, a clear message, a new record
    (data / "quiz.json").write_bytes(b'{"format": 1, "cards": ')
    proc = run_quiz_command(folder, data, "\ny\nq\n", "--n", "2", "--topic", "losses")
    assert proc.returncode == 0, proc.stderr
    aside = list(data.glob("quiz.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b'{"format": 1, "cards": '
    assert "is not a valid JSON file" in proc.stderr and str(aside[0]) in proc.stderr
    assert "a new record was started" in proc.stderr
    assert "quiz stopped" in proc.stdout and "1 question(s) graded" in proc.stdout
    record = json.loads((data / "quiz.json").read_text(encoding="utf-8"))
    assert list(record["cards"]) == ["S000-01"] and record["cards"]["S000-01"]["box"] == 2


def test_quiz_run_option_runs_the_experiment(cat_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n2\n\n3\n"))
    code = main(["notes", "--catalogue", str(cat_dir), "--data-dir", str(tmp_path / "d"), "quiz", "--n", "2", "--run"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("running experiment") == 1  # S000-01 has no experiment, S000-02 has
    i = out.index("ANSWER-TWO")
    assert out.index("running experiment toy_quiz (quick)", i) < out.index("verdict: supports", i)
    record = json.loads((tmp_path / "d" / "quiz.json").read_text(encoding="utf-8"))
    assert {k: c["box"] for k, c in record["cards"].items()} == {"S000-01": 1, "S000-02": 2}


def test_data_dir_precedence(monkeypatch, tmp_path):
    from deepnotes.notes.store import data_dir

    monkeypatch.delenv("DEEPNOTES_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "deepnotes"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "deepnotes"
    monkeypatch.setenv("DEEPNOTES_DATA_DIR", str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env"
    assert data_dir(tmp_path / "opt") == tmp_path / "opt"
    assert quiz.record_path(tmp_path / "opt") == tmp_path / "opt" / "quiz.json"
