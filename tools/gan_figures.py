"""Measure the digits IS/FID of every GAN loss with its defaults and print a Markdown table.

    PYTHONPATH=src python tools/gan_figures.py RUNS [--losses gan,nsgan,...] [--seed 0]

For each loss, ``RUNS/<loss>/history.json`` is read when it exists (a finished ``deepnotes gan train
--loss <loss> --out RUNS/<loss>`` run); otherwise that command is run first, with the loss's defaults.
The table gives the last epoch's digits Inception Score (mean +- std over 10 splits of 1000 samples),
the digits FID against the training images, the classifier's mean confidence, the classes covered and
the run's wall time (which depends on the machine and on what else runs on it).
"""

import argparse
import json
import os
import sys

from deepnotes.cli import main as deepnotes_main

LOSSES = ("gan", "nsgan", "lsgan", "hinge", "wgan", "wgan-gp")


def run_or_read(runs, loss, seed):
    folder = os.path.join(runs, loss)
    path = os.path.join(folder, "history.json")
    if not os.path.exists(path):
        code = deepnotes_main(["gan", "train", "--loss", loss, "--seed", str(seed), "--out", folder])
        if code != 0:
            raise SystemExit(f"deepnotes gan train --loss {loss} failed with exit code {code}")
    with open(path) as f:
        return json.load(f)


def table(states):
    lines = [
        "| loss | epochs | D steps per G step | digits IS (of 10) | digits FID | mean confidence | classes covered | "
        "wall time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for loss, state in states.items():
        cfg, last = state["config"], state["history"][-1]
        lines.append(
            f"| {loss} | {last['epoch']} | {cfg['n_critic']} | {last['inception_score']:.2f} +- "
            f"{last['inception_score_std']:.2f} | {last['fid']:.1f} | {last['mean_confidence']:.3f} | "
            f"{last['classes_covered']} | {last['seconds'] / 60:.1f} min |"
        )
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", help="folder holding one run folder per loss")
    p.add_argument("--losses", default=",".join(LOSSES))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    states = {loss: run_or_read(args.runs, loss, args.seed) for loss in args.losses.split(",")}
    print(table(states))
    return 0


if __name__ == "__main__":
    sys.exit(main())
