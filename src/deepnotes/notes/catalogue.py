"""The catalogue of seed questions: one TOML file per topic under ``notes/catalogue/``.

Each file holds ``[[entry]]`` tables (the format is described in the package's SCHEMA.md).  Loading checks
everything a reader or the command line relies on and reports every problem at once, each naming the file
and the entry id:

- the file name is one of :data:`TOPICS` (the topic of an entry is the file it is in);
- every entry has the required keys with the right types and no unknown keys;
- ids are well formed (``S001-23``) and unique across all files;
- ``repeat_of`` names an entry of the catalogue (chains are followed to the first occurrence; a repeat
  carries no answer of its own);
- ``experiment`` names a registered experiment; a claim names an experiment, says why it is not
  measurable here, or is marked ``pending``.

Code links (``code = ["deepnotes.nn.functional.relu"]``) are checked on demand by :func:`resolve_code`, not
at load time, so that listing the catalogue does not import every part of the library.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "TOPICS",
    "KINDS",
    "CLAIM_KINDS",
    "Entry",
    "Catalogue",
    "CatalogueError",
    "load_catalogue",
    "catalogue_dir",
    "resolve_code",
]

#: the fixed set of topics; ``catalogue/<topic>.toml`` holds the entries of one topic.
TOPICS = (
    "cnn-basics",
    "activations",
    "normalisation",
    "initialisation",
    "losses",
    "optimisation",
    "regularisation",
    "data",
    "architectures",
    "cost",
    "detection",
    "sequence",
    "generative",
    "compression",
    "image-processing",
    "rl",
    "practice",
)

#: what a question asks for: an explanation (concept), an implementation, a claim to test, or both.
KINDS = ("concept", "implement", "claim", "implement+claim")
CLAIM_KINDS = ("claim", "implement+claim")

_ID = re.compile(r"S(\d{3})-(\d{2,3})")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

# key -> (expected type, required for a first occurrence, allowed in a repeat)
_FIELDS = {
    "id": (str, True, True),
    "kind": (str, True, True),
    "title": (str, True, True),
    "gloss": (str, True, True),
    "repeat_of": (str, False, True),
    "answer": (str, True, False),
    "code": (list, False, False),
    "experiment": (str, False, False),
    "not_measurable": (str, False, False),
    "notes_wrong": (str, False, False),
    "kind_note": (str, False, True),
    "pending": (bool, False, False),
}
_REQUIRED_IN_REPEAT = ("id", "kind", "title", "gloss", "repeat_of")


class CatalogueError(ValueError):
    """The catalogue files are malformed; the message lists every problem found (file and id)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        shown = self.problems[:40]
        more = len(self.problems) - len(shown)
        text = f"the notes catalogue has {len(self.problems)} problem(s):\n  " + "\n  ".join(shown)
        if more:
            text += f"\n  ... and {more} more"
        super().__init__(text)


@dataclass(frozen=True)
class Entry:
    """One seed question.  ``topic`` is the catalogue file it is in, ``seed`` the number of the notes file
    it comes from (``"001"`` for ``S001-23``), ``first`` the id of its first occurrence (itself unless it is
    a repeat; chains of repeats are followed)."""

    id: str
    kind: str
    title: str
    gloss: str
    topic: str
    file: str
    answer: str = ""
    code: tuple[str, ...] = ()
    experiment: str | None = None
    not_measurable: str | None = None
    notes_wrong: str | None = None
    kind_note: str | None = None
    pending: bool = False
    repeat_of: str | None = None
    first: str = ""

    @property
    def seed(self) -> str:
        return _ID.fullmatch(self.id).group(1)

    @property
    def number(self) -> int:
        return int(_ID.fullmatch(self.id).group(2))

    @property
    def is_repeat(self) -> bool:
        return self.repeat_of is not None

    @property
    def is_claim(self) -> bool:
        return self.kind in CLAIM_KINDS

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "topic": self.topic,
            "seed": self.seed,
            "title": self.title,
            "gloss": self.gloss,
            "answer": self.answer,
            "code": list(self.code),
            "experiment": self.experiment,
            "not_measurable": self.not_measurable,
            "notes_wrong": self.notes_wrong,
            "kind_note": self.kind_note,
            "pending": self.pending,
            "repeat_of": self.repeat_of,
            "first": self.first,
        }


@dataclass
class Catalogue:
    """All entries, in id order, with lookups by id, topic and kind."""

    entries: dict[str, Entry] = field(default_factory=dict)
    directory: Path | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries.values())

    def __contains__(self, entry_id) -> bool:
        return entry_id in self.entries

    def get(self, entry_id: str) -> Entry:
        """The entry ``entry_id``; a ValueError with the nearest ids if there is none."""
        key = entry_id.strip().upper() if isinstance(entry_id, str) else entry_id
        if key not in self.entries:
            import difflib

            near = difflib.get_close_matches(str(entry_id), list(self.entries), n=3)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            raise ValueError(f"no catalogue entry with id {entry_id!r}{hint}")
        return self.entries[key]

    def resolve(self, entry_id: str) -> Entry:
        """The first occurrence of ``entry_id`` (the entry itself unless it is a repeat)."""
        return self.entries[self.get(entry_id).first]

    def select(self, topic: str | None = None, kind: str | None = None) -> list[Entry]:
        """The entries of ``topic`` and/or ``kind`` (both optional), in id order."""
        if topic is not None and topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r}; topics: {', '.join(TOPICS)}")
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
        return [e for e in self if (topic is None or e.topic == topic) and (kind is None or e.kind == kind)]

    def for_experiment(self, name: str) -> list[Entry]:
        """The entries whose ``experiment`` is ``name``."""
        return [e for e in self if e.experiment == name]


def catalogue_dir() -> Path:
    """The folder of the catalogue files shipped with the package."""
    return Path(__file__).resolve().parent / "catalogue"


def _id_key(entry_id: str):
    m = _ID.fullmatch(entry_id)
    return (int(m.group(1)), int(m.group(2))) if m else (10**9, entry_id)


def _check_entry(raw, where: str, problems: list[str]) -> dict | None:
    """Type and key checks of one ``[[entry]]`` table; returns the cleaned fields or None."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: an entry must be a table ([[entry]]), got {type(raw).__name__}")
        return None
    entry_id = raw.get("id")
    label = f"{where}: entry {entry_id!r}" if isinstance(entry_id, str) else f"{where}: entry without an id"
    start = len(problems)
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        problems.append(f"{label}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_FIELDS)}")
    for key, value in raw.items():
        if key in _FIELDS and not isinstance(value, _FIELDS[key][0]):
            problems.append(
                f"{label}: {key} must be a {_FIELDS[key][0].__name__}, got {type(value).__name__} {value!r}"
            )
    repeat = "repeat_of" in raw
    if repeat:
        extra = sorted(k for k in raw if k in _FIELDS and not _FIELDS[k][2])
        if extra:
            problems.append(
                f"{label}: a repeat (repeat_of = {raw['repeat_of']!r}) carries only "
                f"{', '.join(_REQUIRED_IN_REPEAT)} (and kind_note); remove {', '.join(extra)}"
            )
        required = _REQUIRED_IN_REPEAT
    else:
        required = [k for k, (_, req, _) in _FIELDS.items() if req]
    missing = [k for k in required if k not in raw]
    if missing:
        problems.append(f"{label}: missing key(s) {', '.join(missing)}")
    if len(problems) > start:
        return None

    for key in ("id", "title", "gloss") + (() if repeat else ("answer",)):
        if not raw[key].strip():
            problems.append(f"{label}: {key} is empty")
    if not _ID.fullmatch(raw["id"]):
        problems.append(f"{label}: id must look like S001-23, got {raw['id']!r}")
    if repeat and not _ID.fullmatch(raw["repeat_of"]):
        problems.append(f"{label}: repeat_of must be an id like S001-23, got {raw['repeat_of']!r}")
    if raw["kind"] not in KINDS:
        problems.append(f"{label}: unknown kind {raw['kind']!r}; kinds: {', '.join(KINDS)}")
    for name in raw.get("code", []):
        if not isinstance(name, str) or not _DOTTED.fullmatch(name):
            problems.append(f"{label}: code links must be dotted names like deepnotes.nn.functional.relu, got {name!r}")
    if "experiment" in raw and "not_measurable" in raw:
        problems.append(f"{label}: has both experiment and not_measurable; keep one")
    if raw.get("pending") and ("experiment" in raw or "not_measurable" in raw):
        problems.append(f"{label}: pending = true contradicts experiment/not_measurable; remove pending")
    if "pending" in raw and not raw["pending"]:
        problems.append(f"{label}: write pending = true or leave pending out")
    for key in ("experiment", "not_measurable", "notes_wrong", "kind_note"):
        if key in raw and not raw[key].strip():
            problems.append(f"{label}: {key} is empty")
    if (
        not repeat
        and raw["kind"] in CLAIM_KINDS
        and not any(k in raw for k in ("experiment", "not_measurable", "pending"))
    ):
        problems.append(f"{label}: a {raw['kind']} entry needs experiment, not_measurable or pending = true")
    if len(problems) > start:
        return None
    cleaned = dict(raw)
    cleaned["code"] = tuple(raw.get("code", ()))
    return cleaned


def _read_file(path: Path, problems: list[str]) -> list[dict]:
    name = path.name
    topic = path.stem
    if topic not in TOPICS:
        problems.append(f"{name}: unknown topic {topic!r} (the file name is the topic); topics: {', '.join(TOPICS)}")
        return []
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        problems.append(f"{name}: not valid TOML ({e})")
        return []
    except UnicodeDecodeError as e:
        problems.append(f"{name}: not valid UTF-8 ({e})")
        return []
    unknown = sorted(set(data) - {"entry"})
    if unknown:
        problems.append(
            f"{name}: unknown top-level key(s) {', '.join(unknown)}; a catalogue file holds only [[entry]] tables"
        )
    raw_entries = data.get("entry", [])
    if not isinstance(raw_entries, list):
        problems.append(f"{name}: 'entry' must be an array of tables ([[entry]]), got {type(raw_entries).__name__}")
        return []
    found = []
    for raw in raw_entries:
        cleaned = _check_entry(raw, name, problems)
        if cleaned is not None:
            cleaned["topic"] = topic
            cleaned["file"] = name
            found.append(cleaned)
    return found


def _resolve_repeats(rows: dict[str, dict], problems: list[str]) -> None:
    """Set ``first`` on every row: the id reached by following ``repeat_of`` until a first occurrence."""
    for entry_id, row in rows.items():
        seen = [entry_id]
        current = row
        while "repeat_of" in current:
            target = current["repeat_of"]
            if target not in rows:
                problems.append(f"{row['file']}: entry {entry_id!r}: repeat_of {target!r} is not in the catalogue")
                break
            if target in seen:
                problems.append(
                    f"{row['file']}: entry {entry_id!r}: repeat_of forms a cycle ({' -> '.join(seen + [target])})"
                )
                break
            seen.append(target)
            current = rows[target]
        else:
            row["first"] = seen[-1]


def load_catalogue(directory: str | Path | None = None, experiments: Iterable[str] | None = None) -> Catalogue:
    """Load and check every ``*.toml`` file of ``directory`` (default: the packaged catalogue).

    ``experiments`` is the set of valid experiment names; by default the registry of
    :mod:`deepnotes.notes.experiments` (all experiment modules are imported).  Raises a
    :class:`CatalogueError` listing every problem found."""
    folder = catalogue_dir() if directory is None else Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"load_catalogue: no catalogue folder at {str(folder)!r}")
    problems: list[str] = []
    rows: dict[str, dict] = {}
    for path in sorted(folder.glob("*.toml")):
        for row in _read_file(path, problems):
            other = rows.get(row["id"])
            if other is not None:
                problems.append(f"{row['file']}: entry {row['id']!r}: duplicate id (also in {other['file']})")
                continue
            rows[row["id"]] = row
    _resolve_repeats(rows, problems)
    named = sorted({r["experiment"] for r in rows.values() if "experiment" in r})
    if named:
        if experiments is None:
            from .experiments import load_all

            experiments = load_all()
        known = set(experiments)
        for row in rows.values():
            if "experiment" in row and row["experiment"] not in known:
                problems.append(
                    f"{row['file']}: entry {row['id']!r}: experiment {row['experiment']!r} is not "
                    f"registered; registered: {', '.join(sorted(known)) or '(none)'}"
                )
    if problems:
        raise CatalogueError(problems)
    entries = {}
    for entry_id in sorted(rows, key=_id_key):
        row = rows[entry_id]
        entries[entry_id] = Entry(**{k: v for k, v in row.items()})
    return Catalogue(entries=entries, directory=folder)


def resolve_code(name: str):
    """Import the object a code link names: a module (``deepnotes.nn.init``) or an attribute reached from
    the longest importable module prefix (``deepnotes.nn.functional.relu``, ``deepnotes.nn.Conv2d.forward``).

    Raises a ValueError naming the link and the part that does not exist."""
    parts = name.split(".")
    module = None
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name is None or not (module_name == e.name or module_name.startswith(e.name + ".")):
                raise ValueError(f"code link {name!r}: importing {module_name} failed ({e})") from e
            continue
        break
    if module is None:
        raise ValueError(f"code link {name!r}: no importable module at its start")
    obj = module
    for i in range(cut, len(parts)):
        try:
            obj = getattr(obj, parts[i])
        except AttributeError:
            raise ValueError(f"code link {name!r}: {'.'.join(parts[:i])} has no attribute {parts[i]!r}") from None
    return obj
