"""``deepnotes notes ...``: the catalogue of seed questions on the command line.  Thin: parsing and
printing; the work is done by :mod:`.catalogue`, :mod:`.experiments`, :mod:`.quiz` and :mod:`.render`.

    deepnotes notes list [--topic T] [--kind K] [--json]
    deepnotes notes show ID [--json]
    deepnotes notes run ID|NAME [--quick] [--seed S] [--out DIR] [--json]
    deepnotes notes run --all [--quick] [--out DIR] [--json]
    deepnotes notes quiz [--topic T] [--n N] [--run]
    deepnotes notes build OUT [--quick] [--no-run] [--seed S]   # the book: a static HTML site (book.py)

The ``--json`` outputs follow SCHEMA.md / schema.json of this package.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys

from ..errors import UserError


def user_errors(command):
    """Report what the user can fix (an unknown id, a bad catalogue or record file, a missing extra) on
    one line with exit status 2, like every other ``deepnotes`` command."""

    @functools.wraps(command)
    def wrapped(args):
        try:
            return command(args)
        except UserError:
            raise
        except (ValueError, ImportError) as e:
            raise UserError(str(e)) from e

    return wrapped


JSON_VERSION = 1


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``notes`` command to the ``deepnotes`` command's subparsers; returns its parser."""
    parser = subparsers.add_parser(
        "notes",
        help="the interview questions: list, show, run their experiments, quiz",
        description="The catalogue of seed questions with answers, code links and experiments that test their claims.",
    )
    configure(parser)
    return parser


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the notes sub-commands to ``parser`` (the ``notes`` parser of the ``deepnotes`` command)."""
    from .catalogue import KINDS, TOPICS

    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="folder for the quiz record and stored results (default: $DEEPNOTES_DATA_DIR, "
        "else $XDG_DATA_HOME/deepnotes, else ~/.local/share/deepnotes)",
    )
    parser.add_argument(
        "--catalogue",
        metavar="DIR",
        default=None,
        help="read the catalogue TOML files from DIR instead of the packaged catalogue",
    )
    sub = parser.add_subparsers(dest="notes_command", metavar="ACTION", parser_class=type(parser))
    sub.required = True

    p = sub.add_parser("list", help="list the questions", description="List the catalogue entries.")
    p.add_argument("--topic", choices=TOPICS)
    p.add_argument("--kind", choices=KINDS)
    p.add_argument("--json", action="store_true", help="print JSON (see SCHEMA.md)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "show",
        help="show a question, its answer and its last result",
        description="Show one entry: question, gloss, answer, code links, last stored result.",
    )
    p.add_argument("id", metavar="ID")
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="look for the last result in DIR (a run --out folder) before the data folder",
    )
    p.add_argument("--json", action="store_true", help="print JSON (see SCHEMA.md)")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "run",
        help="run the experiment of an entry (or by name, or all)",
        description="Run an experiment: prints its tables, checks and verdict, writes the result "
        "JSON (to --out and to the data folder) and its figures as PNG (matplotlib).",
    )
    p.add_argument("target", nargs="?", metavar="ID|NAME", help="a catalogue id or an experiment name")
    p.add_argument("--all", action="store_true", help="run every registered experiment")
    p.add_argument("--quick", action="store_true", help="the small version of each experiment (seconds)")
    p.add_argument("--seed", type=_int("--seed"), default=0, help="random seed (default 0)")
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="write the result JSON and figures here (default: <data folder>/results)",
    )
    p.add_argument("--json", action="store_true", help="print JSON (see SCHEMA.md) instead of text")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "quiz",
        help="a self-graded quiz with spaced repetition (Leitner boxes)",
        description="Ask questions one by one: Enter reveals the answer, then grade yourself 0-5 "
        "or y/n.  The record (Leitner boxes) is kept in the data folder as quiz.json.",
    )
    p.add_argument("--topic", choices=TOPICS)
    p.add_argument("--n", type=_int("--n", positive=True), default=5, help="number of questions (default 5)")
    p.add_argument("--run", action="store_true", help="run the experiment (quick) after revealing the answer")
    p.set_defaults(func=cmd_quiz)

    add_build_command(sub)  # deepnotes notes build OUT [--quick] [--no-run] [--seed S]


def _int(name, positive=False):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if positive and value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be positive, got {value}")
        if value < 0:
            raise argparse.ArgumentTypeError(f"{name} must not be negative, got {value}")
        return value

    return parse


def _catalogue(args):
    from .catalogue import load_catalogue

    return load_catalogue(args.catalogue)


def _print_json(obj):
    print(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False))


@user_errors
def cmd_list(args):
    from .render import format_list

    entries = _catalogue(args).select(topic=args.topic, kind=args.kind)
    if args.json:
        _print_json({"command": "list", "version": JSON_VERSION, "entries": [e.to_dict() for e in entries]})
    else:
        print(format_list(entries))
    return 0


def _last_result(name, args):
    from .store import load_result, results_dir

    for folder in ([args.out] if args.out else []) + [results_dir(args.data_dir)]:
        try:
            record = load_result(folder, name)
        except (ValueError, OSError) as e:  # a damaged stored result must not hide the entry itself
            print(f"deepnotes notes show: warning: {e}", file=sys.stderr)
            continue
        if record is not None:
            return record
    return None


@user_errors
def cmd_show(args):
    from .render import code_location, format_entry

    cat = _catalogue(args)
    entry = cat.get(args.id)
    first = cat.resolve(entry.id)
    code = [code_location(c) for c in first.code]
    last = _last_result(first.experiment, args) if first.experiment else None
    if args.json:
        _print_json(
            {
                "command": "show",
                "version": JSON_VERSION,
                "entry": entry.to_dict(),
                "first": first.to_dict(),
                "code": code,
                "last_result": last,
            }
        )
    else:
        print(format_entry(entry, first, code, last))
    return 0


def _experiment_for(target, cat):
    """(experiment name, catalogue ids) for an id or an experiment name."""
    from .experiments import get, load_all

    if target in load_all():
        exp = get(target)
        ids = sorted(set(exp.ids) | {e.id for e in cat.for_experiment(target)})
        return target, ids
    try:
        entry = cat.get(target)
    except ValueError:
        get(target)  # unknown as a name too: its error lists the registered experiments
        raise
    first = cat.resolve(entry.id)
    if first.experiment:
        return first.experiment, [entry.id] + ([first.id] if first.id != entry.id else [])
    if first.not_measurable:
        reason = f"it is not measurable here: {first.not_measurable}"
    elif first.pending:
        reason = "its experiment is pending"
    else:
        reason = f"it is a {first.kind} entry without an experiment"
    raise ValueError(f"{entry.id} has no experiment to run ({reason})")


def _store(result, seed, ids, args):
    """Write the result JSON to the data folder (always) and to --out; figures to --out or the data folder.
    Returns (record, json paths, figure paths or None when matplotlib is missing)."""
    from .render import write_figures
    from .store import result_record, results_dir, save_result

    record = result_record(result, seed, ids)
    folders = [results_dir(args.data_dir)] + ([args.out] if args.out else [])
    paths = [save_result(f, record) for f in folders]
    figures = write_figures(result, folders[-1])
    return record, paths, figures


def _figures_note(result, figures):
    if figures is None:
        return f"skipped {len(result.figures)} figure(s): matplotlib is not installed (pip install matplotlib)"
    if figures:
        return "figures: " + ", ".join(str(p) for p in figures)
    return None


@user_errors
def cmd_run(args):
    from .experiments import get, names, run
    from .render import ERROR, format_result, format_summary, summarise

    if args.all == (args.target is not None):
        raise ValueError("give either an id/experiment name or --all")
    cat = _catalogue(args)
    err = sys.stderr
    if not args.all:
        name, ids = _experiment_for(args.target, cat)
        result = run(name, seed=args.seed, quick=args.quick)
        record, paths, figures = _store(result, args.seed, ids, args)
        note = _figures_note(result, figures)
        if args.json:
            _print_json(
                {
                    "command": "run",
                    "version": JSON_VERSION,
                    **record,
                    "files": [str(p) for p in paths] + [str(p) for p in figures or []],
                }
            )
            if note and figures is None:
                print(note, file=err)
        else:
            print(format_result(result, ids))
            if note:
                print(note)
            print("result: " + ", ".join(str(p) for p in paths))
        return 0

    from tqdm import tqdm

    rows = []
    all_names = names()
    bar = tqdm(all_names, desc="experiments", unit="exp", file=err, disable=not err.isatty())
    for name in bar:
        bar.set_postfix_str(name)
        ids = sorted(set(get(name).ids) | {e.id for e in cat.for_experiment(name)})
        try:
            result = run(name, seed=args.seed, quick=args.quick)
        except Exception as e:  # one broken experiment must not hide the others' verdicts
            rows.append(
                {
                    "experiment": name,
                    "ids": ids,
                    "verdict": ERROR,
                    "seconds": None,
                    "error": f"{type(e).__name__}: {e}",
                    "result": None,
                }
            )
            continue
        record, paths, figures = _store(result, args.seed, ids, args)
        rows.append(
            {
                "experiment": name,
                "ids": ids,
                "verdict": result.verdict,
                "seconds": result.seconds,
                "error": None,
                "result": record["result"],
            }
        )
    bar.close()
    failed = [r for r in rows if r["error"]]
    if args.json:
        _print_json(
            {
                "command": "run-all",
                "version": JSON_VERSION,
                "seed": args.seed,
                "quick": args.quick,
                "counts": summarise(rows),
                "runs": rows,
            }
        )
    else:
        print(format_summary(rows))
    for r in failed:
        print(f"deepnotes notes run: {r['experiment']} failed: {r['error']}", file=err)
    return 1 if failed else 0


@user_errors
def cmd_quiz(args):
    from .experiments import run
    from .quiz import record_path, run_quiz
    from .render import format_result

    entries = _catalogue(args).select(topic=args.topic)

    def run_one(entry):
        return format_result(run(entry.experiment, quick=True), [entry.id])

    run_quiz(entries, record_path(args.data_dir), n=args.n, run=run_one if args.run else None)
    return 0


# ----------------------------------------------------------------------------------------------------------
# Command line: ``deepnotes notes build OUT [--quick] [--no-run] [--seed S]``


def add_build_command(subparsers):
    """Add the ``build`` action to the ``deepnotes notes`` sub-commands (``subparsers``); returns its parser."""
    p = subparsers.add_parser(
        "build",
        help="write the notes as a static HTML site (the book)",
        description="Write the catalogue as a static site readable offline: an index by topic with a filter box, "
        "a page per question (answer with formulas, code links, the experiment's verdict, checks, "
        "tables and figures) and the claims the measurements contradict or only partly support.  "
        "Each experiment runs once.  Needs the book extra: pip install 'deepnotes[book]'.",
    )
    p.add_argument("out", metavar="OUT", help="folder to write (new, empty, or a book built earlier)")
    p.add_argument("--quick", action="store_true", help="the small version of each experiment (seconds each)")
    p.add_argument("--no-run", action="store_true", help="do not run the experiments (pages say 'not run')")
    p.add_argument("--seed", type=_int("--seed"), default=0, help="random seed of the experiments (default 0)")
    p.add_argument(
        "--api-docs",
        metavar="DIR",
        default=None,
        help="the API reference built by 'python -m pdoc -o DIR deepnotes': code pages link into it",
    )
    p.set_defaults(func=cmd_build)
    return p


def cmd_build(args) -> int:
    return user_errors(_cmd_build)(args)


def _cmd_build(args) -> int:
    """Build the book; 2 when a package of the book extra is missing, 1 when an experiment failed."""
    import sys

    from .book import BookDependencyError, build, check_dependencies

    try:
        check_dependencies()
    except BookDependencyError as e:
        print(f"deepnotes notes build: error: {e}", file=sys.stderr)
        return 2
    catalogue = None
    if getattr(args, "catalogue", None):
        from .catalogue import load_catalogue

        catalogue = load_catalogue(args.catalogue)
    report = build(
        args.out,
        run_experiments=not args.no_run,
        quick=args.quick,
        seed=args.seed,
        catalogue=catalogue,
        log=lambda msg: print(msg, file=sys.stderr),
        api_docs=args.api_docs,
    )
    print(report.summary())
    for name, error in report.errors.items():
        print(f"deepnotes notes build: {name} failed: {error}", file=sys.stderr)
    print(f"open {(report.out / 'index.html').as_uri()}")
    return 1 if report.errors else 0
