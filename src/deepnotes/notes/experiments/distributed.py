"""Data parallelism: n workers with batch b against one worker with batch n*b (S002-24).

The shards are simulated in one process, so the experiment needs no MPI: each "worker" computes its
gradient on its own slice of the batch, and the workers' gradients are averaged, exactly what
``DistributedDataParallel`` does with an all-reduce.  With SyncBatchNorm the simulated workers exchange
only what the real layer exchanges over MPI: per-channel (count, mean, sum of squared deviations) in
forward and the sums of dy and dy * x_hat in backward.  The 2-rank MPI run of the same comparison is
``tests/distributed/test_ddp_equivalence.py``.
"""

from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F

from ..result import Check, Result, Table
from . import experiment
from ._common import digits, mean_std, single_threaded

_CLAIM = (
    "Data parallelism: with n workers of batch b and gradients averaged across workers, the update "
    "equals one worker's with batch n*b (4 x 64 = 256), provided the loss is a mean and no layer uses "
    "batch statistics; BatchNorm's per-worker statistics break the equality unless it is synchronised."
)

EPS = 1e-5


def _model(seed, norm):
    dn.manual_seed(seed)
    layers = [nn.Linear(64, 32)]
    if norm:
        layers.append(nn.BatchNorm1d(32, eps=EPS))
    layers += [nn.ReLU(), nn.Linear(32, 10)]
    return nn.Sequential(*layers).double()


def _grads(model):
    return [p.grad.data.copy() for p in model.parameters()]


def _full_batch(model, x, y):
    model.zero_grad()
    F.cross_entropy(model(dn.tensor(x)), dn.tensor(y)).backward()
    return _grads(model)


def _per_worker_average(model, xs, ys):
    """Every worker's mean-loss gradient on its own shard (BatchNorm, if any, over the shard), averaged."""
    total = None
    for x, y in zip(xs, ys):
        g = _full_batch(model, x, y)
        total = g if total is None else [a + b for a, b in zip(total, g)]
    return [t / len(xs) for t in total]


def _sync_bn_average(model, xs, ys):
    """The workers' averaged gradients with SyncBatchNorm, each worker seeing only its shard and the
    reduced statistics (model: Linear, BatchNorm1d, ReLU, Linear)."""
    lin1, bn, _, lin2 = model
    n = len(xs)
    # forward: local (count, mean, M2) per worker, merged with Chan's formula (the all-gather)
    hs = []
    for x in xs:
        lin1.zero_grad()
        hs.append(lin1(dn.tensor(x)))
    counts = np.array([h.shape[0] for h in hs], dtype=np.float64)
    means = np.stack([h.data.mean(0) for h in hs])
    m2s = np.stack([((h.data - h.data.mean(0)) ** 2).sum(0) for h in hs])
    total = counts.sum()
    mean = (counts[:, None] * means).sum(0) / total
    var = (m2s + counts[:, None] * (means - mean) ** 2).sum(0) / total
    invstd = 1.0 / np.sqrt(var + EPS)
    gamma, beta = bn.weight.data, bn.bias.data
    # each worker's head on its normalised shard; dL_k/dy_k from its own mean loss
    head_grads, dys, xhats = None, [], []
    for h, y in zip(hs, ys):
        xhat = (h.data - mean) * invstd
        yk = dn.tensor(xhat * gamma + beta, requires_grad=True)
        lin2.zero_grad()
        F.cross_entropy(lin2(F.relu(yk)), dn.tensor(y)).backward()
        g = _grads(lin2)
        head_grads = g if head_grads is None else [a + b for a, b in zip(head_grads, g)]
        dys.append(yk.grad.data)
        xhats.append(xhat)
    # backward: the sums of dy and dy * x_hat over all workers (the all-reduce)
    sum_dy = sum(d.sum(0) for d in dys)
    sum_dy_xhat = sum((d * xh).sum(0) for d, xh in zip(dys, xhats))
    w_grads, gamma_grad, beta_grad = None, 0.0, 0.0
    for h, dy, xhat in zip(hs, dys, xhats):
        gamma_grad = gamma_grad + (dy * xhat).sum(0)  # local sums, averaged like any gradient
        beta_grad = beta_grad + dy.sum(0)
        dh = gamma * invstd * (dy - sum_dy / total - xhat * (sum_dy_xhat / total))
        lin1.zero_grad()
        h.backward(dn.tensor(dh))
        g = _grads(lin1)
        w_grads = g if w_grads is None else [a + b for a, b in zip(w_grads, g)]
    return [g / n for g in w_grads + [gamma_grad, beta_grad] + head_grads]


def _rel_diff(a, b):
    num = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
    den = max(float(np.max(np.abs(y))) for y in b)
    return num / den


@experiment("data_parallel_equivalence", ids=["S002-24"], claim=_CLAIM)
@single_threaded
def data_parallel_equivalence(seed=0, quick=False):
    """Notes S002-24: "4 GPUs x 64 gives the same gradient as one GPU with 256 ... BatchNorm computes its
    statistics per GPU unless synchronised BN is used".

    On the bundled digits (float64), a 64-32-10 MLP with and without BatchNorm1d after the first layer:
    the full-batch gradient of the mean cross-entropy over 256 images against the average of the gradients
    of 4 workers with 64 images each (plain BatchNorm over each worker's 64; SyncBatchNorm simulated with
    only the statistics a real job exchanges).  Measured: max |difference| / max |full-batch gradient| over
    all parameters, over several random batches and seeds (one in quick mode).
    Checks: without BN and with SyncBN the difference is at rounding level (< 1e-12); with per-worker BN it
    is far from it (> 1e-3).
    """
    xtr, ytr, _, _ = digits()
    xtr = xtr.astype(np.float64)
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    n_workers, b = 4, 64
    diffs = {"no BN": [], "BatchNorm per worker": [], "SyncBatchNorm": []}
    for s in seeds:
        rng = np.random.default_rng([s, 24])
        for _ in range(2 if quick else 5):
            idx = rng.choice(len(xtr), n_workers * b, replace=False)
            x, y = xtr[idx], ytr[idx]
            xs, ys = np.split(x, n_workers), np.split(y, n_workers)
            plain = _model(s, norm=False)
            diffs["no BN"].append(_rel_diff(_per_worker_average(plain, xs, ys), _full_batch(plain, x, y)))
            bn = _model(s, norm=True)
            full = _full_batch(bn, x, y)
            diffs["BatchNorm per worker"].append(_rel_diff(_per_worker_average(bn, xs, ys), full))
            diffs["SyncBatchNorm"].append(_rel_diff(_sync_bn_average(bn, xs, ys), full))
    stats = {k: (max(v), mean_std(v)[0]) for k, v in diffs.items()}
    rows = [[k, stats[k][1], stats[k][0], len(diffs[k])] for k in diffs]
    checks = [
        Check("no BN: max relative gradient difference, 4 x 64 vs 256", stats["no BN"][0], "<", 1e-12),
        Check("SyncBatchNorm: max relative gradient difference, 4 x 64 vs 256", stats["SyncBatchNorm"][0], "<", 1e-12),
        Check(
            "per-worker BatchNorm: min relative gradient difference, 4 x 64 vs 256",
            min(diffs["BatchNorm per worker"]),
            ">",
            1e-3,
        ),
    ]
    return Result(
        experiment="data_parallel_equivalence",
        claim=_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"4 workers x 64 vs 1 worker x 256, digits MLP (float64), {len(seeds)} seed(s)",
                ["model", "mean relative gradient difference", "max relative gradient difference", "batches"],
                rows,
            )
        ],
        seeds=seeds,
        quick=quick,
        notes="The real multi-process run (2 MPI ranks, 20 SGD-momentum steps, weights compared) is "
        "tests/distributed/test_ddp_equivalence.py; the README section 'Training on more than "
        "one process or machine' explains how to run one.",
    )
