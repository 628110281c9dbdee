"""Data-parallel training speed: resnet18 on CIFAR-sized images, 1 BLAS thread per rank, 1 and 2 ranks.

    python benchmarks/bench_distributed.py [--ranks 1 2] [--batch 32] [--steps 8] [--warmup 2]

The script starts itself under ``mpiexec`` once per rank count (``--worker`` mode) and prints, per run:
images per second (all ranks together), the time of one step and of its pure compute (forward +
backward of the plain model, no communication), the bytes handed to all-reduce per step against the
parameter bytes, and the seconds per step spent waiting for the gradient all-reduce, with overlap
(DistributedDataParallel: buckets start while backward runs) and without (backward first, then one
blocking all-reduce per bucket).  Inputs are random 3x32x32 images with 10 classes (CIFAR-10's shapes;
the cost does not depend on the pixel values).  Timings on a shared machine are noisy: the medians of
``--steps`` steps are reported.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")


def worker(args):
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    import numpy as np

    import deepnotes
    import deepnotes.distributed as dist
    from deepnotes import nn
    from deepnotes.models import resnet18

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    deepnotes.manual_seed(0)
    rng = np.random.default_rng(rank)
    x = deepnotes.tensor(rng.standard_normal((args.batch, 3, 32, 32)).astype(np.float32))
    y = deepnotes.tensor(rng.integers(0, 10, args.batch))
    loss_fn = nn.CrossEntropyLoss()
    model = resnet18(num_classes=10)
    params = list(model.parameters())
    param_bytes = sum(p.data.nbytes for p in params)

    def compute_step():
        model.zero_grad()
        loss_fn(model(x), y).backward()

    ddp = nn.parallel.DistributedDataParallel(model)

    def ddp_step():
        ddp.zero_grad()
        loss_fn(ddp(x), y).backward()

    buckets = [b.buffer for b in ddp._buckets]

    def no_overlap_step():
        """Backward of the plain model first, then a blocking all-reduce of each bucket."""
        compute_step()
        t0 = time.perf_counter()
        for buf in buckets:
            dist.all_reduce(buf)
        return time.perf_counter() - t0

    def timed(fn, n):
        times, extra = [], []
        for _ in range(n):
            dist.barrier()
            t0 = time.perf_counter()
            r = fn()
            times.append(time.perf_counter() - t0)
            extra.append(r)
        return times, extra

    timed(ddp_step, args.warmup)
    compute, _ = timed(compute_step, args.steps)
    before = dict(ddp.comm_stats)
    step, _ = timed(ddp_step, args.steps)
    stats = {k: ddp.comm_stats[k] - before[k] for k in before}
    plain, waits = timed(no_overlap_step, args.steps)
    flat = np.zeros(sum(b.size for b in buckets), dtype=np.float32)
    alone, _ = timed(lambda: dist.all_reduce(flat), args.steps)  # the transport alone, all ranks ready
    result = {
        "rank": rank,
        "world": world,
        "batch_per_rank": args.batch,
        "step_s": statistics.median(step),
        "compute_s": statistics.median(compute),
        "images_per_s": world * args.batch / statistics.median(step),
        "allreduce_bytes_per_step": stats["allreduce_bytes"] / args.steps,
        "param_bytes": param_bytes,
        "buckets": len(buckets),
        "wait_overlap_s": stats["wait_seconds"] / args.steps,
        "wait_no_overlap_s": statistics.median(waits),
        "step_no_overlap_s": statistics.median(plain),
        "allreduce_alone_s": statistics.median(alone),
    }
    rows = [None] * world
    dist.all_gather_object(rows, result)
    if rank == 0:
        print("RESULT " + json.dumps(rows), flush=True)
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", type=int, nargs="*", default=[1, 2])
    p.add_argument("--batch", type=int, default=32, help="images per rank per step (default 32)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    sys.path.insert(0, SRC)
    from deepnotes.distributed.launch import launch_environment, mpiexec_command

    env = launch_environment()
    env["PYTHONPATH"] = os.pathsep.join([SRC] + [q for q in env.get("PYTHONPATH", "").split(os.pathsep) if q])
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = "1"
    print(
        f"resnet18, 3x32x32 inputs, batch {args.batch} per rank, 1 BLAS thread per rank, median of {args.steps} "
        f"steps; machine: {os.cpu_count()} cores (shared)"
    )
    base = None
    for n in args.ranks:
        cmd = mpiexec_command(
            n,
            [
                os.path.abspath(__file__),
                "--worker",
                "--batch",
                str(args.batch),
                "--steps",
                str(args.steps),
                "--warmup",
                str(args.warmup),
            ],
        )
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
        if out.returncode != 0 or not line:
            print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"the {n}-rank run failed")
        rows = json.loads(line[0][len("RESULT ") :])
        r0 = rows[0]
        ips = r0["images_per_s"]
        base = ips if n == 1 else base
        speedup = f", {ips / base:.2f}x the 1-rank rate" if base and n > 1 else ""
        print(f"\n{n} rank(s): {ips:.1f} images/s{speedup}")
        print(
            f"  step {r0['step_s'] * 1e3:.0f} ms (compute alone {r0['compute_s'] * 1e3:.0f} ms; "
            f"backward-then-all-reduce step {r0['step_no_overlap_s'] * 1e3:.0f} ms)"
        )
        print(
            f"  all-reduce input per step {r0['allreduce_bytes_per_step'] / 1e6:.2f} MB in {r0['buckets']} "
            f"buckets; parameters {r0['param_bytes'] / 1e6:.2f} MB (ratio "
            f"{r0['allreduce_bytes_per_step'] / r0['param_bytes']:.3f}); a ring all-reduce sends "
            f"2(n-1)/n = {2 * (n - 1) / n:.2f} x that per rank"
        )
        print(
            f"  one all-reduce of all {r0['param_bytes'] / 1e6:.2f} MB with every rank ready: "
            f"{r0['allreduce_alone_s'] * 1e3:.1f} ms"
        )
        for r in rows:
            print(
                f"  rank {r['rank']}: waiting for all-reduce per step: {r['wait_overlap_s'] * 1e3:.1f} ms with "
                f"overlap, {r['wait_no_overlap_s'] * 1e3:.1f} ms without"
            )


if __name__ == "__main__":
    main()
