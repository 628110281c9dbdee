"""Normalisation: batch norm with tiny batches."""

from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import accuracy, digits, logits_of, mean_std, seeded, single_threaded, train_classifier

_CLAIM = (
    "Batch norm works much worse when the batch is very small: the batch statistics are noisy "
    "estimates of the population ones, and the running statistics used at test time no longer match "
    "what the network was trained on."
)


def _bn_net():
    return nn.Sequential(
        nn.Linear(64, 64),
        nn.BatchNorm1d(64),
        nn.ReLU(),
        nn.Linear(64, 64),
        nn.BatchNorm1d(64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


@experiment("batchnorm_batch_size", ids=["S001-33", "S001-32", "S002-01"], claim=_CLAIM)
@single_threaded
def batchnorm_batch_size(seed=0, quick=False):
    """Notes S001-33: "如果Batch Size太小, 则BN效果明显下降" (BN degrades with a too small batch); S001-32:
    batch statistics in training, running (population) statistics at inference.

    Measured on the bundled digits with a 64-64-64-10 MLP with BatchNorm1d after each hidden Linear, trained
    with batch 2 and with batch 64 (SGD, momentum 0.9, lr 0.01, same number of epochs): test accuracy in
    eval mode (running statistics), the relative error of the batch mean and variance of the first BN
    layer's input against the whole training set's (at the end of training), and the gap between
    train-mode and eval-mode outputs on the same batches.  Over three seeds (one in quick mode).
    Checks: the batch-2 variance estimate is more than 3x noisier than the batch-64 one; batch-2 test
    accuracy is lower than batch-64 by more than 0.02.
    """
    xtr, ytr, xte, yte = digits()
    epochs = 1 if quick else 2
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    acc = {2: [], 64: []}
    var_err = {2: [], 64: []}
    mismatch = {2: [], 64: []}
    for s in seeds:
        for bs in (2, 64):
            rng = seeded(s)
            model = _bn_net()
            opt = dn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            train_classifier(model, opt, xtr, ytr, epochs, bs, rng, drop_last=True)
            acc[bs].append(accuracy(model, xte, yte))
            with dn.no_grad():
                h = model[0](dn.tensor(xtr)).numpy().astype(np.float64)
            pop_var = h.var(0)
            errs = []
            for idx in [rng.choice(len(xtr), bs, replace=False) for _ in range(200)]:
                errs.append(np.abs(h[idx].var(0) - pop_var) / pop_var)
            var_err[bs].append(float(np.mean(errs)))
            idx = rng.permutation(len(xtr))[: bs * (256 // bs)]
            ev = logits_of(model, xtr[idx])
            model.train()
            with dn.no_grad():
                tr = np.concatenate([model(dn.tensor(xtr[idx[i : i + bs]])).numpy() for i in range(0, len(idx), bs)])
            model.eval()
            mismatch[bs].append(float(np.abs(tr - ev).mean() / np.abs(ev).mean()))
    a2, a64 = mean_std(acc[2]), mean_std(acc[64])
    d_acc = mean_std([b - a for a, b in zip(acc[2], acc[64])])
    noise = mean_std([a / b for a, b in zip(var_err[2], var_err[64])])
    rows = [
        [bs, mean_std(acc[bs])[0], mean_std(acc[bs])[1], mean_std(var_err[bs])[0], mean_std(mismatch[bs])[0]]
        for bs in (2, 64)
    ]
    checks = [
        Check("batch-variance relative error, batch 2 / batch 64", noise[0], ">", 3.0, spread=noise[1]),
        Check("test accuracy batch 64 - batch 2 (eval mode)", d_acc[0], ">", 0.02, spread=d_acc[1]),
    ]
    return Result(
        experiment="batchnorm_batch_size",
        claim=_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"BN MLP on digits, {epochs} epochs, {len(seeds)} seeds",
                [
                    "batch size",
                    "test accuracy",
                    "accuracy std",
                    "batch variance rel. error",
                    "train/eval output gap (rel.)",
                ],
                rows,
            )
        ],
        figures=[
            Figure(
                "accuracy_by_batch",
                "Eval-mode test accuracy",
                "batch size",
                "accuracy",
                {"mean": ([2, 64], [a2[0], a64[0]])},
                kind="bar",
            )
        ],
        seeds=seeds,
        quick=quick,
        notes="With batch 2 each normalised feature is +-1 (two values, unit variance) in training, "
        "whatever the input, so most of the signal is lost in training mode.",
    )
