"""Does `deepnotes rl train`, with its defaults, solve CartPole-v1?  One run per seed, as a user would type it.

Each seed runs `python -m deepnotes rl train --seed S --out DIR` in its own process (the defaults: at most
150,000 steps, a greedy evaluation of 100 episodes every 1,000 steps, stop at a mean return >= 475), then
`deepnotes rl play` scores the saved checkpoint on 100 new episodes (start states the training never
evaluated).  Printed per seed: the environment steps and episodes to solve, wall and CPU seconds of the
training process, the best evaluation's mean, and play's mean/min.  The seeds run one after the other.
Wall times depend on the machine's load (a shared machine can be several times slower than its CPU time
suggests); steps do not.

    python benchmarks/rl_cartpole.py                      # seeds 0 1 2, results in runs/rl_cartpole
    python benchmarks/rl_cartpole.py --seeds 0 1 2 3 4 --figure docs/images/rl_cartpole.png

``--figure`` draws every seed's curve (greedy evaluation means and the running mean of training returns) in
one PNG; ``--json`` writes the table.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def _child_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_seed(seed, out, extra):
    folder = os.path.join(out, f"seed{seed}")
    cmd = [sys.executable, "-m", "deepnotes", "rl", "train", "--seed", str(seed), "--out", folder, "--no-progress"]
    cpu0, start = _child_cpu(), time.perf_counter()
    proc = subprocess.run(cmd + list(extra), capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, _child_cpu() - cpu0
    if proc.returncode:
        raise SystemExit(f"seed {seed}: deepnotes rl train failed:\n{proc.stderr}")
    with open(os.path.join(folder, "history.json")) as f:
        history = json.load(f)
    play = subprocess.run(
        [sys.executable, "-m", "deepnotes", "rl", "play", os.path.join(folder, "checkpoint.safetensors")],
        capture_output=True,
        text=True,
        check=True,
    )
    fields = play.stdout.strip().splitlines()[-1].split()  # mean return M  std S  min A  max B
    best = history["best"]
    return {
        "seed": seed,
        "solved": history["solved_at_step"] is not None,
        "steps": history["steps"],
        "episodes": len(history["episodes"]),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "train_loop_s": round(history["seconds"], 1),
        "best_eval_mean": best["mean"],
        "best_eval_step": best["step"],
        "play_mean": float(fields[2]),
        "play_min": float(fields[6]),
        "history": os.path.join(folder, "history.json"),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/rl_cartpole", help="folder for the runs (default runs/rl_cartpole)")
    p.add_argument("--figure", default=None, metavar="PNG", help="draw all seeds' curves here")
    p.add_argument("--json", default=None, metavar="FILE", help="write the per-seed results here")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="after --: more options for deepnotes rl train")
    args = p.parse_args()
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    rows = []
    header = (
        f"{'seed':>4} {'solved':>6} {'steps':>7} {'episodes':>8} {'wall s':>7} {'cpu s':>6} "
        f"{'best eval':>9} {'play mean':>9} {'play min':>8}"
    )
    print(header, flush=True)
    for seed in args.seeds:
        r = run_seed(seed, args.out, extra)
        rows.append(r)
        print(
            f"{r['seed']:>4} {str(r['solved']):>6} {r['steps']:>7} {r['episodes']:>8} {r['wall_s']:>7.0f} "
            f"{r['cpu_s']:>6.0f} {r['best_eval_mean']:>9.1f} {r['play_mean']:>9.1f} {r['play_min']:>8.0f}",
            flush=True,
        )
    solved = sum(r["solved"] for r in rows)
    within = sum(r["solved"] and r["wall_s"] <= 600 for r in rows)
    print(f"solved: {solved} of {len(rows)} seeds; within 10 minutes of wall time: {within}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.figure:
        from deepnotes.rl.plot import plot_returns

        histories = []
        for r in rows:
            with open(r["history"]) as f:
                h = json.load(f)
            h["label"] = f"seed {r['seed']}"
            histories.append(h)
        plot_returns(histories, args.figure, title="deepnotes rl train (defaults) on CartPole-v1")
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
