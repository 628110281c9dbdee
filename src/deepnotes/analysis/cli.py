"""``deepnotes summary`` and ``deepnotes bench``: model analysis from the command line.

    deepnotes summary MODEL [--input 3x224x224] [--batch N] [--depth D] [--no-rf]
    deepnotes bench MODEL [--input 3x224x224] [--batch N] [--warmup W] [--repeat R]

MODEL is a name known to :func:`deepnotes.models.get_model` (an unknown name lists the nearest ones).
Without ``--input`` the model's ``default_input_size`` attribute is used when it has one, else a
size known for the model (lenet5 and lenet5_modern: 1x32x32), else 3x224x224.  The main
``deepnotes`` command wires these in with :func:`register`.  Exit codes: 0 ok, 2 bad input (unknown
model, input too small).
"""

from __future__ import annotations

import argparse
import sys

from ..threads import CLI_DEFAULT_THREADS
from .complexity import parse_input_size

__all__ = ["register", "run_summary", "run_bench", "DEFAULT_INPUT_SIZE"]

DEFAULT_INPUT_SIZE = (3, 224, 224)
_KNOWN_INPUT_SIZES = {"lenet5": (1, 32, 32), "lenet5_modern": (1, 32, 32)}


def _input_arg(text):
    try:
        return parse_input_size(text, "--input")
    except (TypeError, ValueError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(flag, low=1):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{flag} must be >= {low}, got {value}")
        return value

    return parse


def register(subparsers):
    """Add the ``summary`` and ``bench`` subcommands to an ``argparse`` subparsers object; returns the
    two parsers."""
    s = subparsers.add_parser(
        "summary",
        help="layer table: output shapes, parameters, mult-adds, receptive fields",
        description="Run MODEL once and print a torchinfo-style table: every layer's output shape, "
        "parameter count, multiply-adds and receptive field, with totals and memory estimates.",
    )
    s.add_argument("model", metavar="MODEL", help="model name (see deepnotes.models.list_models())")
    s.add_argument(
        "--input",
        type=_input_arg,
        default=None,
        metavar="CxHxW",
        help="input size without the batch, e.g. 3x224x224 (default: the model's own)",
    )
    s.add_argument("--batch", type=_positive("--batch"), default=1, help="batch size (default 1)")
    s.add_argument(
        "--depth",
        type=_positive("--depth", 0),
        default=None,
        help="hide layers nested deeper than this (default: show all)",
    )
    s.add_argument("--no-rf", action="store_true", help="leave out the receptive-field column")
    s.set_defaults(func=run_summary)

    b = subparsers.add_parser(
        "bench",
        help="forward-pass latency (p50/p90) and throughput",
        description="Time MODEL's forward pass (no_grad, evaluation mode) after a warm-up and print "
        "latency percentiles in ms and throughput in images/s.",
    )
    b.add_argument("model", metavar="MODEL", help="model name (see deepnotes.models.list_models())")
    b.add_argument(
        "--input",
        type=_input_arg,
        default=None,
        metavar="CxHxW",
        help="input size without the batch, e.g. 3x224x224 (default: the model's own)",
    )
    b.add_argument("--batch", type=_positive("--batch"), default=1, help="batch size (default 1)")
    b.add_argument("--warmup", type=_positive("--warmup", 0), default=5, help="untimed passes (default 5)")
    b.add_argument("--repeat", type=_positive("--repeat"), default=20, help="timed passes (default 20)")
    b.add_argument(
        "--threads",
        type=_positive("--threads"),
        default=CLI_DEFAULT_THREADS,
        metavar="N",
        help=f"BLAS threads (deepnotes.set_num_threads; default {CLI_DEFAULT_THREADS}, as train)",
    )
    b.set_defaults(func=run_bench)
    return s, b


def _resolve(args):
    from ..models import get_model

    model = get_model(args.model)
    size = args.input
    if size is None:
        size = getattr(model, "default_input_size", None) or _KNOWN_INPUT_SIZES.get(
            args.model.lower(), DEFAULT_INPUT_SIZE
        )
        size = parse_input_size(size, "--input")
    return model, size


def _fail(command, err):
    print(f"deepnotes {command}: error: {err}", file=sys.stderr)
    return 2


def run_summary(args):
    """Run the ``summary`` subcommand for parsed ``args``; returns the exit code."""
    from .summary import summary

    try:
        model, size = _resolve(args)
        summary(model, size, batch_size=args.batch, depth=args.depth, receptive_field=not args.no_rf)
    except (ValueError, TypeError) as err:
        return _fail("summary", err)
    return 0


def run_bench(args):
    """Run the ``bench`` subcommand for parsed ``args``; returns the exit code."""
    from ..threads import set_num_threads
    from .complexity import profile
    from .summary import format_count
    from .timing import measure_latency

    set_num_threads(args.threads)
    try:
        model, size = _resolve(args)
        prof = profile(model, size, batch_size=1, _caller="bench")  # fails fast, naming the layer
        res = measure_latency(model, size, batch_size=args.batch, warmup=args.warmup, repeat=args.repeat)
    except (ValueError, TypeError) as err:
        return _fail("bench", err)
    print(f"{args.model}: {res}")
    print(f"{args.model}: {prof.params:,} parameters, {format_count(prof.macs)} mult-adds per image")
    return 0
