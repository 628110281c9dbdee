"""`deepnotes train --model NAME` on the bundled digits for every listed model: test accuracy and time.

The small models (LeNet-5, classic and modern) run the command's defaults (10 epochs on 1,437 images);
the others a short run (1 epoch on the first ``--short-train`` images, batch 32) at the input the
command picks for them (grey repeated to 3 channels, side raised to the architecture's minimum), scored
on the whole 360-image test split.  Each run is a separate process, so times include start-up and
model construction.  Times are wall seconds on whatever machine runs this (quote them with care: shared
machines are noisy).

    python benchmarks/bench_cli_models.py                 # every model
    python benchmarks/bench_cli_models.py resnet18 vgg11  # some
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

FULL = ("lenet5", "lenet5_modern")


def run(name, short_train, threads):
    from deepnotes.train.adapt import input_for

    args = [sys.executable, "-m", "deepnotes", "train", "--model", name, "--no-progress", "--threads", str(threads)]
    if name not in FULL:
        args += ["--epochs", "1", "--train-size", str(short_train), "--batch-size", "32"]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        proc = subprocess.run(args + ["--out", out], capture_output=True, text=True)
        wall = time.perf_counter() - start
    if proc.returncode:
        return None, wall, proc.stderr.strip().splitlines()[-1]
    acc = float(proc.stdout.split("test accuracy ")[1].split()[0])
    c, s = input_for(name, 1, 32)
    run_desc = "10 epochs x 1437" if name in FULL else f"1 epoch x {short_train}"
    return acc, wall, f"{c}x{s}x{s}, {run_desc}"


def main():
    from deepnotes.models import list_models

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", help="models to run (default: all)")
    p.add_argument("--short-train", type=int, default=320, help="training images of a short run (default 320)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    names = args.models or sorted(list_models(), key=lambda n: (n not in FULL, n))
    print(f"{'model':20} {'test acc':>9} {'wall s':>8}  input, run")
    for name in names:
        acc, wall, what = run(name, args.short_train, args.threads)
        shown = f"{acc:9.4f}" if acc is not None else f"{'failed':>9}"
        print(f"{name:20} {shown} {wall:8.1f}  {what}", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
