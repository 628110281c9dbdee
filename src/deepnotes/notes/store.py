"""Where the notes keep the user's files: the quiz record and the last result of each experiment.

The folder is, in order of precedence: an explicit path (the ``--data-dir`` option), the environment
variable ``DEEPNOTES_DATA_DIR``, ``$XDG_DATA_HOME/deepnotes``, ``~/.local/share/deepnotes``.
Every file is written atomically (:func:`deepnotes.io.atomic_write_bytes`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from pathlib import Path

from .. import io as _io

ENV_VAR = "DEEPNOTES_DATA_DIR"
RESULT_FORMAT = 1


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The user's deepnotes data folder (not created here)."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]).expanduser() / "deepnotes"
    return Path.home() / ".local" / "share" / "deepnotes"


def results_dir(base: str | os.PathLike | None = None) -> Path:
    """The folder of the stored results, ``<data dir>/results``."""
    return data_dir(base) / "results"


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented UTF-8 JSON to ``path`` atomically; returns the path."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    _io.atomic_write_bytes(path, text.encode("utf-8"))
    return Path(path)


def result_record(result, seed: int, ids) -> dict:
    """The stored form of a run: the result plus when, with which seed, for which catalogue ids."""
    from .. import __version__

    return {
        "format": RESULT_FORMAT,
        "experiment": result.experiment,
        "seed": seed,
        "ids": list(ids),
        "written": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "deepnotes_version": __version__,
        "result": _finite(result.to_dict()),
    }


def result_path(folder: str | os.PathLike, experiment: str) -> Path:
    return Path(folder) / f"{experiment}.json"


def save_result(folder: str | os.PathLike, record: dict) -> Path:
    """Store a run record as ``<folder>/<experiment>.json``."""
    return write_json(result_path(folder, record["experiment"]), record)


def load_result(folder: str | os.PathLike, experiment: str) -> dict | None:
    """The stored run record of ``experiment`` in ``folder``, or None if there is none.  A file that is
    not a valid record raises a ValueError naming it."""
    path = result_path(folder, experiment)
    if not path.is_file():
        return None
    record = _io.read_json(path, "deepnotes notes")
    if not (
        isinstance(record, dict)
        and record.get("format") == RESULT_FORMAT
        and record.get("experiment") == experiment
        and isinstance(record.get("result"), dict)
    ):
        raise ValueError(f"deepnotes notes: {str(path)!r} is not a stored result of {experiment!r}")
    return record


def safe_name(text: str) -> str:
    """``text`` reduced to characters safe in a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "figure"


def _finite(obj):
    """JSON has no NaN or infinity: such floats become None (the check's ``passed`` says what happened)."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
