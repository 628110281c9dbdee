"""The book: the catalogue as a static, offline HTML site (``deepnotes notes build OUT``).

    from deepnotes.notes.book import build
    report = build("book", quick=True)        # runs each experiment once, draws its figures
    build("book", run_experiments=False)       # pages only; experiment sections say "not run"

The site has an index by topic with a filter box (plain JavaScript in a static file), one page per entry
(original title, gloss, the answer rendered from Markdown with its formulas as MathML, code links, the
experiment's verdict, checks, tables and figures), a page per code link (signature, docstring, source
location), and a page of the claims the measurements contradict or only partly support.  Nothing is fetched
from the network when the pages are read: formulas are converted to MathML here (``latex2mathml``), figures
are PNG files drawn here (matplotlib's Agg canvas), styles and script are local files.

Several entries share one experiment: each experiment runs once per build.  A failing experiment does not
stop the build; its pages show the error and :class:`BookReport` lists it.

The optional packages (Jinja2, Markdown, latex2mathml, matplotlib) are the ``book`` extra:
``pip install 'deepnotes[book]'``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from .result import CONTRADICTS, NOT_MEASURABLE, PARTLY, SUPPORTS, Result, _fmt
from .store import safe_name

__all__ = [
    "build",
    "BookReport",
    "BookDependencyError",
    "check_dependencies",
    "render_markdown",
    "split_math",
    "mathml",
    "NOT_RUN",
    "FAILED",
]

EXTRA = "book"
#: the packages of the ``book`` extra: import name -> distribution name
REQUIRED = {"jinja2": "Jinja2", "markdown": "Markdown", "latex2mathml": "latex2mathml", "matplotlib": "matplotlib"}
NOT_RUN = "not run"
FAILED = "failed"
MARKER = ".deepnotes-book"
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_PLACEHOLDER = "mathph{}zq"


class BookDependencyError(ImportError):
    """A package of the ``book`` extra is not installed."""


def _require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise BookDependencyError(
            f"the book needs {REQUIRED.get(module, module)}, which is not installed: pip install 'deepnotes[{EXTRA}]'"
        ) from None


def check_dependencies() -> None:
    """Raise :class:`BookDependencyError` naming the first missing package of the ``book`` extra."""
    for module in REQUIRED:
        _require(module)


# ----------------------------------------------------------------------------------------------------------
# Markdown with formulas


def split_math(text: str) -> tuple[str, list[tuple[str, bool]]]:
    """Replace the formulas of ``text`` by placeholders before Markdown sees them.

    ``$$...$$`` is a display formula, ``$...$`` an inline one; ``\\$`` is a literal dollar, and dollars inside
    code spans or fenced code (backtick runs) are left alone.  Returns the text with placeholders and the
    list of ``(latex, display)``; an unclosed ``$`` raises a ValueError quoting the place."""
    out: list[str] = []
    formulas: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] == "$":
            out.append("&#36;")
            i += 2
        elif c == "`":
            run = len(text[i:]) - len(text[i:].lstrip("`"))
            close = text.find("`" * run, i + run)
            while close != -1 and close + run < n and text[close + run] == "`":  # a longer run does not close
                close = text.find("`" * run, close + run + 1)
            end = n if close == -1 else close + run
            out.append(text[i:end])
            i = end
        elif c == "$":
            display = text.startswith("$$", i)
            delim = "$$" if display else "$"
            start = i + len(delim)
            close = start
            while True:
                close = text.find(delim, close)
                if close == -1 or text[close - 1] != "\\":
                    break
                close += 1
            if close == -1:
                raise ValueError(f"unclosed {delim} in {text[max(0, i - 30) : i + 40]!r}")
            latex = text[start:close].strip()
            if not latex:
                raise ValueError(f"empty formula {delim}{delim} in {text[max(0, i - 30) : i + 40]!r}")
            out.append(_PLACEHOLDER.format(len(formulas)))
            formulas.append((latex, display))
            i = close + len(delim)
        else:
            out.append(c)
            i += 1
    return "".join(out), formulas


# function names latex2mathml writes as <mi>: TeX puts a thin space after them ("log p", not "logp")
_FUNCTION_MI = re.compile(
    r"<mi>(arccos|arcsin|arctan|cos|cosh|cot|exp|ln|log|sin|sinh|tan|tanh)</mi>"
    r"(?!<mo stretchy=\"false\">&#x00028;)"
)
_UNCONVERTED = re.compile(r">(\\[A-Za-z]+)<")


def mathml(latex: str, display: bool) -> str:
    """The MathML of one formula (``latex2mathml``), with the LaTeX source kept as ``alttext``.

    A command latex2mathml does not know and copies through as text (``<mi>\\foo</mi>``) raises a
    ValueError naming it."""
    converter = _require("latex2mathml.converter")
    markup = converter.convert(latex, display="block" if display else "inline")
    unknown = _UNCONVERTED.search(markup)
    if unknown:
        raise ValueError(f"{unknown.group(1)} is not supported by latex2mathml")
    markup = _FUNCTION_MI.sub(r'<mi>\1</mi><mspace width="0.1667em"></mspace>', markup)
    return markup.replace("<math ", f'<math alttext="{escape(latex, quote=True)}" ', 1)


def render_markdown(text: str, problems: list[str] | None = None, where: str = "") -> str:
    """``text`` (Markdown with ``$`` formulas) as HTML with MathML formulas.

    A formula latex2mathml cannot convert is shown as its LaTeX source in a ``<code class="tex">`` and a
    line naming it is appended to ``problems``."""
    md = _require("markdown")
    body, formulas = split_math(text)
    html = md.markdown(body, extensions=["extra", "sane_lists"], output_format="html")
    rendered = []
    for latex, display in formulas:
        try:
            rendered.append(mathml(latex, display))
        except Exception as e:  # latex2mathml raises several exception types for unsupported input
            if problems is not None:
                problems.append(f"{where}: formula {latex!r} could not be converted ({type(e).__name__}: {e})")
            rendered.append(f'<code class="tex">{escape(latex)}</code>')
    if not formulas:
        return html
    pattern = re.compile(_PLACEHOLDER.format(r"(\d+)"))
    used = set()

    def put(m):
        k = int(m.group(1))
        used.add(k)
        return rendered[k]

    html = pattern.sub(put, html)
    if len(used) != len(formulas):  # Markdown dropped a placeholder: a bug in the splitting, not in the data
        raise ValueError(f"{where}: {len(formulas) - len(used)} formula(s) lost while rendering Markdown")
    # a display formula alone in its paragraph becomes a block of its own
    return re.sub(
        r'<p>\s*(<math [^>]*display="block".*?</math>)\s*</p>', r'<div class="display">\1</div>', html, flags=re.S
    )


# ----------------------------------------------------------------------------------------------------------
# Code links


@dataclass
class ApiPage:
    name: str
    kind: str
    signature: str | None
    doc: str
    location: str | None
    cited_by: list = field(default_factory=list)
    reference: str | None = None  # link into the API reference built beside the book (``api_docs``)

    @property
    def file(self) -> str:
        return f"api/{safe_name(self.name)}.html"


def _api_page(name: str) -> ApiPage | None:
    from .catalogue import resolve_code
    from .render import code_location

    try:
        obj = resolve_code(name)
    except ValueError:
        return None
    target = inspect.unwrap(obj) if callable(obj) else obj
    if inspect.ismodule(target):
        kind = "module"
    elif inspect.isclass(target):
        kind = "class"
    elif callable(target):
        kind = "function"
    else:
        kind = type(target).__name__
    signature = None
    if callable(target) and not inspect.ismodule(target):
        try:
            signature = str(inspect.signature(target))
        except (TypeError, ValueError):
            signature = None
    doc = inspect.getdoc(target) or ""
    loc = code_location(name)
    location = None
    if loc["file"]:
        location = f"{loc['file']}:{loc['line']}" if loc["line"] else loc["file"]
    return ApiPage(name=name, kind=kind, signature=signature, doc=doc, location=location)


def _reference_link(name: str, site: Path, pages: dict[Path, str]) -> tuple[Path, str] | None:
    """The page and anchor of the pdoc reference in ``site`` that documents the dotted ``name``, or None.

    The longest prefix of ``name`` with a page of its own wins; the rest of the name (``Class.method``), or
    the object's own qualified name when a package re-exports it, must be an anchor on that page (pdoc
    writes ``id="Class.method"``).  ``pages`` caches the pages read."""
    from .catalogue import resolve_code

    try:
        obj = inspect.unwrap(resolve_code(name))
    except ValueError:
        return None
    qualname = None if inspect.ismodule(obj) else getattr(obj, "__qualname__", None)
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        page = site.joinpath(*parts[:i]).with_suffix(".html")
        if not page.is_file():
            continue
        rest = ".".join(parts[i:])
        if not rest:
            return page, ""
        if page not in pages:
            pages[page] = page.read_text(encoding="utf-8")
        for anchor in dict.fromkeys(a for a in (rest, qualname) if a):
            if f'id="{anchor}"' in pages[page]:
                return page, anchor
    return None


# ----------------------------------------------------------------------------------------------------------
# The build


@dataclass
class BookReport:
    """What a build did: where the site is, how many pages, which experiments ran (their results), failed
    (their errors) or were not run, and the formulas or code links that could not be rendered."""

    out: Path
    pages: int = 0
    results: dict[str, Result] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    not_run: list[str] = field(default_factory=list)
    figures: int = 0
    formula_problems: list[str] = field(default_factory=list)
    unresolved_code: list[str] = field(default_factory=list)
    reference_links: int = 0  # code pages linked into the API reference (``api_docs``)
    seconds: float = 0.0

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for r in self.results.values():
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
        verdicts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "none run"
        parts = [
            f"book: {self.out} ({self.pages} pages, {self.figures} figures, {self.seconds:.1f} s)",
            f"experiments: {len(self.results)} run ({verdicts}), {len(self.errors)} failed, "
            f"{len(self.not_run)} not run",
        ]
        if self.formula_problems:
            parts.append(f"{len(self.formula_problems)} formula(s) shown as LaTeX source")
        if self.unresolved_code:
            parts.append(
                f"{len(self.unresolved_code)} code link(s) that do not import: " + ", ".join(self.unresolved_code)
            )
        if self.reference_links:
            parts.append(f"{self.reference_links} code page(s) link into the API reference")
        return "\n".join(parts)


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"build: {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ValueError(
            f"build: {str(out)!r} is not empty and is not a book built by deepnotes; give a new or empty folder"
        )


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` (absent, empty, or an earlier book) by the finished ``tmp`` folder."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _table_cells(table):
    return [[_fmt(v) for v in row] for row in table.rows]


def _verdict_class(verdict: str) -> str:
    return {
        SUPPORTS: "supports",
        PARTLY: "partly",
        CONTRADICTS: "contradicts",
        NOT_MEASURABLE: "unmeasurable",
        NOT_RUN: "notrun",
        FAILED: "failed",
    }.get(verdict, "notrun")


def build(
    out_dir,
    run_experiments: bool = True,
    quick: bool = False,
    seed: int = 0,
    experiments: Iterable[str] | None = None,
    catalogue=None,
    log: Callable[[str], None] | None = None,
    api_docs: str | os.PathLike | None = None,
) -> BookReport:
    """Write the book to ``out_dir`` and return a :class:`BookReport`.

    ``run_experiments=False`` builds without results (experiment sections say "not run"); ``quick`` runs
    the small version of each experiment; ``experiments`` restricts the runs to these names (the others
    are "not run"); ``catalogue`` is a loaded :class:`~deepnotes.notes.catalogue.Catalogue` (default: the
    packaged one).  ``api_docs`` is the folder of the API reference built by ``python -m pdoc -o DIR
    deepnotes``: each code page of the book then links to the name's entry there (by a relative link, so
    build both under one folder to move them together).  The site is assembled in a temporary folder
    beside ``out_dir`` and moved into place at the end, so ``out_dir`` is either the previous book or the
    new one, never half of each.  ``out_dir`` must be new, empty, or a book built earlier."""
    started = time.perf_counter()
    check_dependencies()
    jinja2 = _require("jinja2")
    Markup = _require("markupsafe").Markup
    from .catalogue import TOPICS, load_catalogue
    from .experiments import get, run
    from .render import draw_figure, status

    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"build: seed must be an int, got {seed!r}")
    out = Path(out_dir).expanduser().resolve()
    site = None
    if api_docs is not None:
        site = Path(api_docs).expanduser().resolve()
        if not (site / "deepnotes.html").is_file():
            raise ValueError(
                f"build: api_docs must be a folder written by 'python -m pdoc -o DIR deepnotes', "
                f"got {str(api_docs)!r}, which has no deepnotes.html"
            )
    _prepare_out(out)
    cat = load_catalogue() if catalogue is None else catalogue
    say = log or (lambda _msg: None)

    used = []  # experiments named by first occurrences, in catalogue order
    for e in cat:
        if e.experiment and e.experiment not in used:
            used.append(e.experiment)
    if experiments is None:
        wanted = list(used) if run_experiments else []
    else:
        if isinstance(experiments, str):
            raise TypeError(f"build: experiments must be a list of names, got the string {experiments!r}")
        wanted = list(dict.fromkeys(experiments))
        for name in wanted:
            get(name)  # unknown names raise a ValueError listing the registered ones
        if not run_experiments:
            wanted = []
    report = BookReport(out=out)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's folder is private; the book is an ordinary folder
    try:
        (tmp / "entries").mkdir()
        (tmp / "api").mkdir()
        (tmp / "figures").mkdir()
        (tmp / "static").mkdir()

        # experiments: each runs once, its figures drawn once
        experiment_info: dict[str, dict] = {}
        for k, name in enumerate(wanted, 1):
            say(f"[{k}/{len(wanted)}] {name}")
            try:
                result = run(name, seed=seed, quick=quick)
            except Exception as e:  # one broken experiment must not hide the others
                report.errors[name] = f"{type(e).__name__}: {e}"
                say(f"  failed: {report.errors[name]}")
                continue
            report.results[name] = result
            figures = []
            for fig in result.figures:
                path = f"figures/{safe_name(name)}-{safe_name(fig.name)}.png"
                (tmp / path).write_bytes(draw_figure(fig))
                figures.append({"file": path, "title": fig.title})
                report.figures += 1
            experiment_info[name] = {
                "name": name,
                "claim": result.claim,
                "verdict": result.verdict,
                "vclass": _verdict_class(result.verdict),
                "quick": result.quick,
                "seeds": result.seeds,
                "seconds": result.seconds,
                "notes": result.notes,
                "not_measurable": result.not_measurable,
                "checks": [
                    {
                        "name": c.name,
                        "value": _fmt(float(c.value)),
                        "spread": None if c.spread is None else f"{c.spread:.3g}",
                        "relation": c.relation,
                        "threshold": _fmt(float(c.threshold)),
                        "passed": c.passed,
                    }
                    for c in result.checks
                ],
                "tables": [{"title": t.title, "columns": t.columns, "rows": _table_cells(t)} for t in result.tables],
                "figures": figures,
                "error": None,
            }
        for name in used:
            if name not in experiment_info:
                if name in report.errors:
                    experiment_info[name] = {
                        "name": name,
                        "claim": get(name).claim,
                        "verdict": FAILED,
                        "vclass": "failed",
                        "error": report.errors[name],
                    }
                else:
                    report.not_run.append(name)
                    experiment_info[name] = {
                        "name": name,
                        "claim": get(name).claim,
                        "verdict": NOT_RUN,
                        "vclass": "notrun",
                        "error": None,
                    }

        # code links
        api: dict[str, ApiPage] = {}
        unresolved = set()
        for e in cat:
            for name in e.code:
                if name in api or name in unresolved:
                    continue
                page = _api_page(name)
                if page is None:
                    unresolved.add(name)
                else:
                    api[name] = page
        report.unresolved_code = sorted(unresolved)
        if site is not None:
            read: dict[Path, str] = {}
            for name, page in api.items():
                target = _reference_link(name, site, read)
                if target is not None:
                    rel = Path(os.path.relpath(target[0], out / "api")).as_posix()
                    page.reference = rel + (f"#{target[1]}" if target[1] else "")
                    report.reference_links += 1

        # entries
        repeats: dict[str, list] = {}
        for e in cat:
            if e.is_repeat:
                repeats.setdefault(e.first, []).append(e)
        views = {}
        for e in cat:
            first = cat.resolve(e.id)
            view = {
                "e": e,
                "first": first,
                "file": f"entries/{e.id}.html",
                "status": status(e),
                "repeats": repeats.get(e.id, []),
                "answer": "",
                "notes_wrong": "",
                "code": [],
                "experiment": None,
                "verdict": None,
                "vclass": None,
            }
            if not e.is_repeat:
                view["answer"] = Markup(render_markdown(e.answer, report.formula_problems, f"{e.id} answer"))
                if e.notes_wrong:
                    view["notes_wrong"] = Markup(
                        render_markdown(e.notes_wrong, report.formula_problems, f"{e.id} notes_wrong")
                    )
                for name in e.code:
                    if name in api:
                        api[name].cited_by.append(e)
                        view["code"].append({"name": name, "file": api[name].file})
                    else:
                        view["code"].append({"name": name, "file": None})
            if first.experiment:
                info = experiment_info[first.experiment]
                view["experiment"] = info
                view["verdict"], view["vclass"] = info["verdict"], info["vclass"]
            elif first.not_measurable:
                view["verdict"], view["vclass"] = NOT_MEASURABLE, "unmeasurable"
            views[e.id] = view

        topics = []
        for topic in TOPICS:
            items = [views[e.id] for e in cat if e.topic == topic]
            if items:
                topics.append({"name": topic, "anchor": f"t-{topic}", "entries": items})

        contested = [info for info in experiment_info.values() if info["verdict"] in (CONTRADICTS, PARTLY)]
        contested.sort(key=lambda i: (i["verdict"] != CONTRADICTS, i["name"]))
        for info in contested:
            info["entries"] = [views[e.id] for e in cat if e.experiment == info["name"]]
            info["failing"] = [c for c in info["checks"] if not c["passed"]]
            info["holding"] = [c for c in info["checks"] if c["passed"]]

        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["slug"] = safe_name
        common = {
            "n_entries": len(cat),
            "quick": quick,
            "ran": bool(wanted),
            "seed": seed,
            "n_run": len(report.results),
            "n_failed": len(report.errors),
            "n_not_run": len(report.not_run),
            "n_contested": len(contested),
            "experiments": experiment_info,
        }

        def write(rel: str, template: str, **context):
            root = "../" * rel.count("/")
            html = env.get_template(template).render(root=root, **common, **context)
            (tmp / rel).write_text(html, encoding="utf-8")
            report.pages += 1

        write("index.html", "index.html", topics=topics, title="Deep-learning interview notes")
        for view in views.values():
            write(view["file"], "entry.html", v=view, title=f"{view['e'].id} {view['e'].gloss}")
        write("claims.html", "claims.html", contested=contested, title="Contested claims")
        for page in api.values():
            write(page.file, "api.html", p=page, title=page.name)
        write(
            "api/index.html",
            "api_index.html",
            pages=sorted(api.values(), key=lambda p: p.name),
            unresolved=report.unresolved_code,
            title="Code index",
        )
        for static in (_TEMPLATES / "static").iterdir():
            if static.is_file():
                shutil.copyfile(static, tmp / "static" / static.name)
        (tmp / MARKER).write_text("a static site written by deepnotes.notes.book.build\n", encoding="utf-8")
        _prepare_out(out)  # nothing else appeared there meanwhile
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.seconds = time.perf_counter() - started
    return report
