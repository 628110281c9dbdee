"""A self-graded quiz over the catalogue with a Leitner-box spaced-repetition record.

Leitner boxes: every question starts in box 1 (a question never asked counts as box 1).  A correct
answer (self-grade 3-5, or ``y``) moves it up one box, a wrong one (0-2, or ``n``) back to box 1.
A question in box ``b`` is due again ``INTERVALS[b]`` days after it was last asked (1, 2, 4, 8, 16
days for boxes 1-5; box 5 is the top).
A quiz asks the due questions first (most overdue, then lowest box), then questions never asked
(catalogue order).  Repeats are never asked: their first occurrence stands for them.

The record is a JSON file (``quiz.json`` in the deepnotes data folder, see :mod:`.store`), rewritten
atomically after every graded question, so an interrupted quiz loses nothing.  A record that cannot be
read is moved aside to ``quiz.json.corrupt-<timestamp>`` (never overwritten) and a fresh one is started;
both cases are reported on the error stream.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from .. import io as _io
from .store import data_dir, write_json

RECORD_FORMAT = 1
SYSTEM = "leitner"
#: days until a question in box b (1-based) is due again
INTERVALS = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}
TOP_BOX = max(INTERVALS)
PASS_GRADE = 3
RECORD_NAME = "quiz.json"


def record_path(base=None) -> Path:
    return data_dir(base) / RECORD_NAME


def new_record() -> dict:
    return {"format": RECORD_FORMAT, "system": SYSTEM, "cards": {}}


def _check_record(obj) -> str | None:
    """Why ``obj`` is not a valid record, or None."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    if obj.get("format") != RECORD_FORMAT or obj.get("system") != SYSTEM:
        return (
            f"expected format {RECORD_FORMAT} and system {SYSTEM!r}, got {obj.get('format')!r}, {obj.get('system')!r}"
        )
    cards = obj.get("cards")
    if not isinstance(cards, dict):
        return "'cards' must be an object"
    for cid, card in cards.items():
        if not isinstance(card, dict):
            return f"card {cid!r} is not an object"
        box = card.get("box")
        if isinstance(box, bool) or not isinstance(box, int) or box not in INTERVALS:
            return f"card {cid!r}: box must be one of {sorted(INTERVALS)}, got {box!r}"
        try:
            _dt.date.fromisoformat(card.get("due"))
            _dt.date.fromisoformat(card.get("last"))
        except (TypeError, ValueError):
            return f"card {cid!r}: due and last must be ISO dates, got {card.get('due')!r}, {card.get('last')!r}"
        history = card.get("history")
        if not isinstance(history, list):
            return f"card {cid!r}: history must be a list"
    return None


def load_record(path, warn) -> dict:
    """The quiz record at ``path``; a fresh one when it is missing or unreadable.

    ``warn(message)`` reports what happened.  An unreadable file is renamed to
    ``<name>.corrupt-<UTC timestamp>`` (a free name is found; nothing is overwritten)."""
    path = Path(path)
    where = "deepnotes notes quiz"
    if not path.exists():
        warn(f"{where}: no quiz record at {str(path)!r} yet; starting a new one")
        return new_record()
    try:
        obj = _io.read_json(path, where)
    except ValueError as e:
        problem = str(e)
    except OSError as e:
        raise ValueError(f"{where}: cannot read the quiz record {str(path)!r} ({e})") from e
    else:
        reason = _check_record(obj)
        if reason is None:
            return obj
        problem = f"{where}: {str(path)!r} is not a quiz record ({reason})"
    aside = _move_aside(path)
    warn(f"{problem}; it was moved to {str(aside)!r} and a new record was started")
    return new_record()


def _move_aside(path: Path, stamp: str | None = None) -> Path:
    """Rename ``path`` to ``<name>.corrupt-<UTC timestamp>[-k]`` without replacing any existing file."""
    stamp = stamp or _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    n = 0
    while True:
        aside = path.with_name(f"{path.name}.corrupt-{stamp}" + (f"-{n}" if n else ""))
        n += 1
        try:
            os.link(path, aside)  # fails if aside exists: nothing is ever replaced
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system
            if aside.exists():
                continue
            os.rename(path, aside)
            return aside
        os.unlink(path)
        return aside


def parse_grade(text: str) -> int | None:
    """A self-grade 0-5 from ``text`` (``y``/``yes`` = 5, ``n``/``no`` = 0); None if it is not one."""
    t = text.strip().lower()
    if t in ("y", "yes"):
        return 5
    if t in ("n", "no"):
        return 0
    if t.isdigit() and 0 <= int(t) <= 5:
        return int(t)
    return None


def grade_card(record: dict, entry_id: str, grade: int, today: _dt.date) -> dict:
    """Apply a self-grade to ``entry_id``: up one box if ``grade >= PASS_GRADE``, else back to box 1."""
    card = record["cards"].get(entry_id)
    box = card["box"] if card else 1
    box = min(box + 1, TOP_BOX) if grade >= PASS_GRADE else 1
    history = (card["history"] if card else []) + [[today.isoformat(), grade]]
    card = {
        "box": box,
        "last": today.isoformat(),
        "due": (today + _dt.timedelta(days=INTERVALS[box])).isoformat(),
        "history": history,
    }
    record["cards"][entry_id] = card
    return card


def choose(entries, record: dict, n: int, today: _dt.date) -> list:
    """Up to ``n`` entries to ask: due ones (most overdue, then lowest box), then unseen ones."""
    cards = record["cards"]
    due, unseen = [], []
    for e in entries:
        if e.repeat_of:
            continue
        card = cards.get(e.id)
        if card is None:
            unseen.append(e)
        elif _dt.date.fromisoformat(card["due"]) <= today:
            due.append((card["due"], card["box"], e))
    due.sort(key=lambda t: (t[0], t[1]))
    return ([e for _, _, e in due] + unseen)[:n]


class _Quit(Exception):
    pass


def run_quiz(entries, path, n=5, run=None, stdin=None, stdout=None, stderr=None, today=None) -> dict:
    """Ask up to ``n`` questions from ``entries`` on ``stdin``/``stdout``, update and save the record.

    ``run(entry)``, when given, is called after the answer is revealed for entries with an experiment
    (the command line runs it and prints the verdict).  Returns ``{"asked": k, "grades": {id: grade}}``.
    End of input or ``q`` stops the quiz; every grade given so far is saved."""
    import sys

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    today = today or _dt.date.today()

    def say(text=""):
        print(text, file=stdout, flush=True)

    def ask(prompt):
        stdout.write(prompt)
        stdout.flush()
        line = stdin.readline()
        if not line:
            say()
            raise _Quit
        if line.strip().lower() in ("q", "quit"):
            raise _Quit
        return line

    record = load_record(path, lambda m: print(m, file=stderr, flush=True))
    chosen = choose(entries, record, n, today)
    grades = {}
    if not chosen:
        say("nothing is due today and every question has been seen; come back tomorrow")
        return {"asked": 0, "grades": grades}
    try:
        for k, e in enumerate(chosen, 1):
            card = record["cards"].get(e.id)
            say(f"[{k}/{len(chosen)}] {e.id}  ({e.topic}, {e.kind})  " + (f"box {card['box']}" if card else "new"))
            say(e.title)
            say(e.gloss)
            ask("Press Enter to see the answer (q to stop) ")
            say()
            say(e.answer.strip())
            if e.notes_wrong:
                say(f"\nWhere the notes are wrong: {e.notes_wrong.strip()}")
            if e.code:
                say("\nCode: " + ", ".join(e.code))
            if run is not None and e.experiment:
                say(f"\nrunning experiment {e.experiment} (quick) ...")
                say(run(e))
            say()
            while True:
                grade = parse_grade(ask("How well did you know it? 0-5 or y/n (q to stop) "))
                if grade is not None:
                    break
                say("please answer with a number 0-5, y or n")
            card = grade_card(record, e.id, grade, today)
            write_json(path, record)
            grades[e.id] = grade
            say(f"-> box {card['box']}, next on {card['due']}\n")
    except _Quit:
        say("quiz stopped")
    say(f"{len(grades)} question(s) graded; record: {path}")
    return {"asked": len(grades), "grades": grades}
