"""Text and figure rendering of catalogue entries and experiment results (for the command line).

Figures are drawn with matplotlib when it is installed (an optional dependency: ``pip install
deepnotes[plot]``); it is imported only when a figure is drawn, and with the non-interactive Agg canvas,
so no window or global pyplot state is involved.
"""

from __future__ import annotations

import inspect
import io
import os
import textwrap
from collections import Counter
from pathlib import Path

from .. import io as _io
from .result import VERDICTS, Figure, Result
from .store import safe_name

ERROR = "error"


def _table(columns, rows) -> str:
    widths = [max([len(c)] + [len(str(r[i])) for r in rows]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def status(entry) -> str:
    """What stands behind an entry: its experiment, why it cannot be measured, or that it is pending."""
    if entry.repeat_of:
        return f"repeat of {entry.repeat_of}"
    if entry.experiment:
        return f"experiment {entry.experiment}"
    if entry.not_measurable:
        return "not measurable here"
    if entry.pending:
        return "experiment pending"
    return ""


def format_list(entries, width: int = 60) -> str:
    """One line per entry: id, topic, kind, gloss, status."""
    rows = []
    for e in entries:
        gloss = e.gloss if len(e.gloss) <= width else e.gloss[: width - 3] + "..."
        rows.append([e.id, e.topic, e.kind, gloss, status(e)])
    return _table(["id", "topic", "kind", "question", "status"], rows) + f"\n{len(rows)} entries"


def code_location(name: str) -> dict:
    """Where a code link points: ``{"name", "file", "line", "error"}`` (file relative to the package's parent,
    line None for modules; ``error`` says why it does not import)."""
    from .catalogue import resolve_code

    try:
        obj = resolve_code(name)
    except ValueError as e:
        return {"name": name, "file": None, "line": None, "error": str(e)}
    target = inspect.unwrap(obj) if callable(obj) else obj
    try:
        path = inspect.getsourcefile(target)
        line = None if inspect.ismodule(target) else inspect.getsourcelines(target)[1]
    except (TypeError, OSError):
        path, line = None, None
    if path is not None:
        root = Path(__file__).resolve().parents[2]
        try:
            path = str(Path(path).resolve().relative_to(root))
        except ValueError:
            pass
    return {"name": name, "file": path, "line": line, "error": None}


def format_entry(entry, first=None, code=(), last=None) -> str:
    """The full text of an entry: question, gloss, answer, code links and the last stored result."""
    shown = first or entry
    lines = [f"{entry.id}  [{entry.topic}, {entry.kind}]", entry.title, entry.gloss]
    if entry.repeat_of:
        lines.append(f"(repeat of {shown.id}: {shown.title})")
    if entry.kind_note:
        lines.append(f"kind: {entry.kind_note}")
    lines += ["", "Answer", "------", shown.answer.strip()]
    if shown.notes_wrong:
        lines += ["", "Where the notes are wrong", "-------------------------", shown.notes_wrong.strip()]
    if code:
        lines += ["", "Code"]
        for c in code:
            where = (f"{c['file']}:{c['line']}" if c["line"] else c["file"]) if c["file"] else ""
            lines.append(
                f"  {c['name']}"
                + (f"  ({where})" if where else "")
                + (f"  DOES NOT IMPORT: {c['error']}" if c["error"] else "")
            )
    if shown.experiment:
        lines += ["", f"Experiment: {shown.experiment}  (deepnotes notes run {entry.id})"]
    elif shown.not_measurable:
        lines += ["", f"Not measurable here: {shown.not_measurable}"]
    elif shown.pending:
        lines += ["", "Experiment: pending"]
    if last is not None:
        r = last["result"]
        lines += [
            "",
            f"Last result ({last['written']}, seed {last['seed']}, {'quick' if r['quick'] else 'full'}): "
            f"{r['verdict']}",
        ]
        lines += ["  " + t for t in r["explanation"].splitlines()]
    return "\n".join(lines)


def format_result(result: Result, ids=()) -> str:
    """Claim, tables, checks, verdict and timing of one run."""
    head = f"{result.experiment}" + (f"  ({', '.join(ids)})" if ids else "")
    lines = [head, "=" * len(head), f"claim: {result.claim}"]
    if result.notes:
        lines += textwrap.wrap(result.notes, 100)
    for t in result.tables:
        lines += ["", t.format()]
    if result.checks:
        lines += ["", "checks:"] + [f"  {c.describe()}" for c in result.checks]
    lines += ["", f"verdict: {result.verdict}"]
    if result.not_measurable:
        lines.append(f"  {result.not_measurable}")
    secs = f"{result.seconds:.2f} s" if result.seconds is not None else "?"
    lines.append(f"seeds {result.seeds}, {'quick' if result.quick else 'full'} run, {secs}")
    return "\n".join(lines)


def summarise(rows) -> dict:
    """Counts per verdict over ``rows`` (dicts with a ``verdict``), every verdict listed."""
    counts = Counter(r["verdict"] for r in rows)
    return {v: counts.get(v, 0) for v in VERDICTS + (ERROR,)}


def format_summary(rows) -> str:
    """The verdict of every experiment and the count per verdict."""
    table = _table(
        ["experiment", "verdict", "seconds", "ids"],
        [
            [r["experiment"], r["verdict"], "-" if r["seconds"] is None else f"{r['seconds']:.1f}", ", ".join(r["ids"])]
            for r in rows
        ],
    )
    counts = summarise(rows)
    tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n or v != ERROR)
    text = f"{table}\n\n{len(rows)} experiments: {tally}"
    contested = format_contested(rows)
    return f"{text}\n\n{contested}" if contested else text


def _figure(value) -> str:
    # stored results write a non-finite value as null (JSON has no NaN)
    return "nan" if value is None else f"{value:.4g}"


def format_contested(rows) -> str:
    """The claims that the measurements contradict or only partly support, each with the checks that fail
    (the measured figure against its threshold); contradicted claims first.  ``rows`` are the summary rows
    of ``deepnotes notes run --all``, whose ``result`` is a result's dictionary form (or None)."""
    order = {"contradicts": 0, "partly": 1}
    picked = [r for r in rows if r.get("verdict") in order and r.get("result")]
    if not picked:
        return ""
    picked.sort(key=lambda r: (order[r["verdict"]], r["experiment"]))
    lines = ["Claims the measurements contradict or only partly support:"]
    for r in picked:
        res = r["result"]
        lines.append(f"- {r['experiment']} ({r['verdict']}; {', '.join(r['ids'])}): {res.get('claim', '')}")
        for c in res.get("checks", []):
            if not c.get("passed"):
                spread = f" +- {c['spread']:.3g}" if c.get("spread") is not None else ""
                lines.append(
                    f"    fails: {c['name']}: measured {_figure(c['value'])}{spread}, "
                    f"needed {c['relation']} {_figure(c['threshold'])}"
                )
    return "\n".join(lines)


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def draw_figure(fig: Figure) -> bytes:
    """The PNG bytes of one figure (matplotlib's Agg canvas; raises ImportError without matplotlib)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    canvas_fig = MplFigure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(canvas_fig)
    ax = canvas_fig.add_subplot(1, 1, 1)
    labels = list(fig.series)
    if fig.kind == "bar":
        n = max(len(labels), 1)
        width = 0.8 / n
        for k, label in enumerate(labels):
            x, y = fig.series[label]
            ax.bar(
                [float(v) + (k - (n - 1) / 2) * width for v in range(len(x))],
                [float(v) for v in y],
                width=width,
                label=label,
            )
            ax.set_xticks(range(len(x)), [f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in x])
    else:
        for label in labels:
            x, y = fig.series[label]
            ax.plot([float(v) for v in x], [float(v) for v in y], marker="o" if len(x) <= 20 else None, label=label)
    if fig.logy:
        ax.set_yscale("log")
    ax.set_title(fig.title)
    ax.set_xlabel(fig.xlabel)
    ax.set_ylabel(fig.ylabel)
    if len(labels) > 1 or (labels and labels[0]):
        ax.legend()
    ax.grid(True, alpha=0.3)
    canvas_fig.tight_layout()
    buf = io.BytesIO()
    canvas_fig.savefig(buf, format="png")
    return buf.getvalue()


def write_figures(result: Result, folder: str | os.PathLike) -> list[Path] | None:
    """Draw every figure of ``result`` as ``<folder>/<experiment>-<figure>.png`` (atomic writes).

    Returns the paths written, or None when matplotlib is not installed (nothing is written)."""
    if not result.figures:
        return []
    if not matplotlib_available():
        return None
    paths = []
    for fig in result.figures:
        path = Path(folder) / f"{safe_name(result.experiment)}-{safe_name(fig.name)}.png"
        _io.atomic_write_bytes(path, draw_figure(fig))
        paths.append(path)
    return paths
