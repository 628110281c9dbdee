"""``deepnotes coco-eval``: score a COCO result file against a COCO ground-truth file.

    deepnotes coco-eval GT.json DT.json [--per-class] [--json OUT]

Prints pycocotools' 12 summary lines, optionally the per-category AP table, and optionally writes the
numbers as JSON (``{"stats": {"AP": ..., ...}, "per_class": [...]}``).  The main ``deepnotes`` command
wires this in with :func:`register`.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings

__all__ = ["register", "run_coco_eval", "STAT_NAMES"]

STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def register(subparsers):
    """Add the ``coco-eval`` subcommand to an ``argparse`` subparsers object; returns its parser."""
    p = subparsers.add_parser(
        "coco-eval",
        help="COCO box evaluation (pycocotools-compatible numbers)",
        description="Evaluate COCO-format box detections against COCO ground truth and print the 12 "
        "standard AP/AR numbers in pycocotools' layout.",
    )
    p.add_argument("gt", metavar="GT.json", help="ground-truth annotations (COCO format)")
    p.add_argument(
        "dt",
        metavar="DT.json",
        help="detection results: a JSON list of {image_id, category_id, bbox: [x, y, w, h], score}",
    )
    p.add_argument("--per-class", action="store_true", help="also print the per-category AP table")
    p.add_argument("--json", metavar="OUT", default=None, help="write the numbers to this JSON file")
    p.set_defaults(func=run_coco_eval)
    return p


def _clean(x):
    return None if isinstance(x, float) and math.isnan(x) else x


def run_coco_eval(args):
    """Run the subcommand for parsed ``args``; returns the exit code (0 ok, 2 bad input)."""
    from .coco import COCO, COCOeval

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gt = COCO(args.gt)
            dt = gt.loadRes(args.dt)
    except (ValueError, TypeError, OSError) as err:
        print(f"deepnotes coco-eval: error: {err}", file=sys.stderr)
        return 2
    for w in caught:
        print(f"deepnotes coco-eval: warning: {w.message}", file=sys.stderr)
    E = COCOeval(gt, dt, "bbox")
    E.evaluate()
    E.accumulate()
    E.summarize()
    rows = None
    if args.per_class:
        rows, text = E.per_category_table()
        print()
        print(text)
    if args.json:
        payload = {"stats": {k: float(v) for k, v in zip(STAT_NAMES, E.stats)}}
        if rows is None:
            rows, _ = E.per_category_table()
        payload["per_class"] = [{k: _clean(v) for k, v in r.items()} for r in rows]
        out_dir = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(out_dir, exist_ok=True)
        tmp = args.json + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
        os.replace(tmp, args.json)
    return 0
