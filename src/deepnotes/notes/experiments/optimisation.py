"""Optimisation: learning-rate warmup, batch size against convergence, gradient clipping."""

from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F
from deepnotes.nn.utils import clip_grad_norm_

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import accuracy, digits, mean_std, seeded, single_threaded, t_statistic, train_classifier


def _mlp(depth=4, width=64):
    layers, d = [], 64
    for _ in range(depth - 1):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, 10))


_WARMUP_CLAIM = (
    "Starting with a small learning rate and raising it to the target (warmup) keeps the first "
    "updates stable at a large learning rate and gives a better final model."
)


@experiment("warmup_on_off", ids=["S001-122"], claim=_WARMUP_CLAIM)
@single_threaded
def warmup_on_off(seed=0, quick=False):
    """Notes S001-122: warmup (small learning rate first, rising to the set value) avoids the instability of
    a large initial learning rate and gives a better model.

    Measured on the bundled digits with a 4-layer MLP trained by Adam at a large learning rate (0.05,
    50x the default), batch 32, with and without a linear warmup over the first 100 updates (LinearLR
    from 1% of the rate): the largest mini-batch loss over the first 100 updates relative to the first
    one (a spike is > 1), and the final test accuracy; over several seeds.
    Checks: warmup lowers the relative early peak (ratio warmup / none < 0.8); warmup gives a better final
    test accuracy (mean gain over the seeds more than 2 standard errors above zero).  Three epochs in both
    modes; quick mode uses fewer seeds.
    """
    xtr, ytr, xte, yte = digits()
    epochs = 3
    seeds = [seed + i for i in range(4)] if quick else [seed + i for i in range(8)]
    spike, acc, curves = {True: [], False: []}, {True: [], False: []}, {}
    for s in seeds:
        for warm in (False, True):
            rng = seeded(s)
            model = _mlp()
            opt = dn.optim.Adam(model.parameters(), lr=0.05)
            sched = dn.optim.lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=100) if warm else None
            losses = train_classifier(model, opt, xtr, ytr, epochs, 32, rng, scheduler=sched)
            spike[warm].append(max(losses[:100]) / losses[0])
            acc[warm].append(accuracy(model, xte, yte))
            curves.setdefault(warm, losses)
    ratio = mean_std([w / n for w, n in zip(spike[True], spike[False])])
    gains = [w - n for w, n in zip(acc[True], acc[False])]
    d_acc = mean_std(gains)
    rows = [
        ["warmup" if w else "no warmup", mean_std(spike[w])[0], mean_std(acc[w])[0], mean_std(acc[w])[1]]
        for w in (False, True)
    ]
    checks = [
        Check("early peak loss / first loss, warmup / no warmup", ratio[0], "<", 0.8, spread=ratio[1]),
        Check(
            f"test accuracy gain from warmup in standard errors (mean {d_acc[0]:+.4f})", t_statistic(gains), ">", 2.0
        ),
    ]
    fig = Figure(
        "loss_curves",
        f"Training loss, Adam lr 0.05 (seed {seeds[0]})",
        "update",
        "loss",
        {("warmup" if w else "no warmup"): (list(range(1, len(c) + 1)), c) for w, c in curves.items()},
        logy=True,
    )
    return Result(
        experiment="warmup_on_off",
        claim=_WARMUP_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"{epochs} epochs, {len(seeds)} seeds",
                ["schedule", "peak loss / first loss, updates 1-100", "test accuracy", "accuracy std"],
                rows,
            )
        ],
        figures=[fig],
        seeds=seeds,
        quick=quick,
    )


_BATCH_CLAIM = (
    "A larger batch gives a more accurate descent direction and steadier training but fewer "
    "updates per epoch, so at the same learning rate it needs more epochs; scaling the learning "
    "rate with the batch compensates; a medium batch converges fastest."
)


@experiment("batch_size_convergence", ids=["S001-124", "S001-125", "S001-25", "S001-26"], claim=_BATCH_CLAIM)
@single_threaded
def batch_size_convergence(seed=0, quick=False):
    """Notes S001-25 / S001-26 / S001-124 / S001-125: larger batches give a more accurate direction and
    less oscillation, but fewer updates per epoch so more epochs for the same accuracy; raise the learning
    rate with the batch; of batch 1/100/10000 on 10K samples, 100 converges fastest.

    Measured on the bundled digits with a 3-layer MLP trained by SGD (lr 0.2) with batch 8, 64 and 512,
    and with the learning rate scaled linearly (0.2 * B / 64): the full training loss after every epoch,
    the loss against the number of updates, and the oscillation of the mini-batch loss (std of successive
    differences over the last epoch).
    Checks: same lr, per epoch, batch 512 ends with a training loss over 1.5x batch 64's; per update,
    batch 512 is ahead of batch 8 at batch 512's last update count; the mini-batch loss of batch 512
    oscillates less than batch 8's; scaling the lr brings batch 512's final loss below 0.7x its
    same-lr loss; the medium batch (64) has the lowest final loss per epoch among 8/64/512 at the same lr.
    """
    xtr, ytr, xte, yte = digits()
    epochs = 3 if quick else 8
    sizes = [8, 64, 512]
    final, curve, per_update, wiggle = {}, {}, {}, {}
    for scaled in (False, True):
        for bs in sizes:
            rng = seeded(seed)
            model = _mlp(depth=3)
            lr = 0.2 * bs / 64 if scaled else 0.2
            opt = dn.optim.SGD(model.parameters(), lr=lr)
            per_epoch, steps = [], []
            for _ in range(epochs):
                steps += train_classifier(model, opt, xtr, ytr, 1, bs, rng)
                with dn.no_grad():
                    per_epoch.append(float(F.cross_entropy(model(dn.tensor(xtr)), dn.tensor(ytr)).item()))
            key = (bs, scaled)
            curve[key], per_update[key], final[key] = per_epoch, steps, per_epoch[-1]
            last = np.array(steps[-int(np.ceil(len(xtr) / bs)) :])
            wiggle[key] = float(np.std(np.diff(last))) if len(last) > 2 else float("nan")
    n512 = len(per_update[(512, False)])
    rows = [
        [bs, "x B/64" if sc else "same", final[(bs, sc)], len(per_update[(bs, sc)]), wiggle[(bs, sc)]]
        for sc in (False, True)
        for bs in sizes
    ]
    checks = [
        Check("same lr: final loss batch 512 / batch 64", final[(512, False)] / final[(64, False)], ">", 1.5),
        Check(
            f"same lr: mini-batch loss after {n512} updates, batch 512 / batch 8",
            float(np.mean(per_update[(512, False)][-3:])) / float(np.mean(per_update[(8, False)][n512 - 3 : n512])),
            "<",
            1.0,
        ),
        Check("last-epoch loss oscillation, batch 512 / batch 8", wiggle[(512, False)] / wiggle[(8, False)], "<", 1.0),
        Check("batch 512: final loss scaled lr / same lr", final[(512, True)] / final[(512, False)], "<", 0.7),
        Check(
            "same lr: final loss batch 64 / min(batch 8, batch 512)",
            final[(64, False)] / min(final[(8, False)], final[(512, False)]),
            "<=",
            1.0,
        ),
    ]
    figs = [
        Figure(
            "loss_vs_epoch",
            "Training loss per epoch (same lr 0.2)",
            "epoch",
            "training loss",
            {f"batch {bs}": (list(range(1, epochs + 1)), curve[(bs, False)]) for bs in sizes},
            logy=True,
        ),
        Figure(
            "loss_vs_update",
            "Mini-batch loss per update (same lr 0.2)",
            "update",
            "mini-batch loss",
            {
                f"batch {bs}": (list(range(1, len(per_update[(bs, False)]) + 1)), per_update[(bs, False)])
                for bs in sizes
            },
            logy=True,
        ),
        Figure(
            "loss_vs_epoch_scaled",
            "Training loss per epoch (lr 0.2 * B/64)",
            "epoch",
            "training loss",
            {f"batch {bs}": (list(range(1, epochs + 1)), curve[(bs, True)]) for bs in sizes},
            logy=True,
        ),
    ]
    return Result(
        experiment="batch_size_convergence",
        claim=_BATCH_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"SGD on digits, {epochs} epochs",
                ["batch", "lr", "final training loss", "updates", "last-epoch oscillation"],
                rows,
            )
        ],
        figures=figs,
        seeds=[seed],
        quick=quick,
        notes="Convergence is counted in epochs and updates, not wall time (timings are not "
        "reproducible on a shared machine).",
    )


_CLIP_CLAIM = (
    "Gradient clipping keeps training finite when gradients explode (S001-117); the notes also "
    "offer clipping against vanishing gradients in RNNs (S002-41)."
)


def _deep_tanh_net(depth, width, gain):
    layers = []
    for i in range(depth):
        lin = nn.Linear(width, 1 if i == depth - 1 else width)
        nn.init.normal_(lin.weight, std=gain / np.sqrt(width))
        layers += [lin] if i == depth - 1 else [lin, nn.Tanh()]
    return nn.Sequential(*layers)


@experiment("gradient_clipping_exploding", ids=["S001-117", "S002-41"], claim=_CLIP_CLAIM)
@single_threaded
def gradient_clipping_exploding(seed=0, quick=False):
    """Notes S001-117: exploding gradients (too large initial weights) are handled by gradient clipping
    ("梯度剪枝: 对梯度设定阈值"); S002-41 offers clipping also for vanishing gradients in RNNs ("当梯度小于
    阈值时, 更新的梯度为阈值"), which clipping by norm does not do.

    Measured: a regression (targets sin of a projection of the input) with inputs of scale 100 (badly
    scaled) through a 6-layer MLP trained by SGD (lr 0.1, 200 updates), with and without
    clip_grad_norm_(max_norm=1): final loss and whether it stayed finite.  And, for a 20-layer tanh MLP
    with small weights (gain 0.5, vanishing gradients), the first-layer gradient norm before and after
    clip_grad_norm_(max_norm=1).
    Checks: without clipping the loss ends non-finite or above the initial loss; with clipping it ends
    below half the initial loss; clipping enlarges a vanishing first-layer gradient (ratio after/before > 1,
    the S002-41 reading).
    """
    rng = seeded(seed)
    steps = 100 if quick else 300
    x = (rng.standard_normal((256, 8)) * 100.0).astype(np.float32)
    y = np.sin(x @ rng.standard_normal(8) / 100.0).astype(np.float32)[:, None]
    results, curves = {}, {}
    for clip in (False, True):
        dn.manual_seed(seed)
        model = nn.Sequential(
            nn.Linear(8, 64),
            nn.ReLU(),
            *[m for _ in range(4) for m in (nn.Linear(64, 64), nn.ReLU())],
            nn.Linear(64, 1),
        )
        opt = dn.optim.SGD(model.parameters(), lr=0.1)
        losses = []
        with np.errstate(all="ignore"):
            for _ in range(steps):
                loss = F.mse_loss(model(dn.tensor(x)), dn.tensor(y))
                losses.append(float(loss.item()))
                if not np.isfinite(losses[-1]):
                    break
                opt.zero_grad()
                loss.backward()
                if clip:
                    clip_grad_norm_(model.parameters(), max_norm=1.0)
                opt.step()
        results[clip] = (losses[0], losses[-1], bool(np.isfinite(losses[-1])), len(losses))
        curves[clip] = losses
    net = _deep_tanh_net(20, 32, 0.5)
    xv = dn.tensor(rng.standard_normal((64, 32)).astype(np.float32))
    F.mse_loss(net(xv), dn.zeros(64, 1)).backward()
    first = net[0].weight
    before = float(np.linalg.norm(first.grad.data))
    clip_grad_norm_(net.parameters(), max_norm=1.0)
    after = float(np.linalg.norm(first.grad.data))
    no_clip_end = results[False][1] / results[False][0] if results[False][2] else float("inf")
    checks = [
        Check("no clipping: final / initial loss (inf if it overflowed)", no_clip_end, ">", 1.0),
        Check("clipping: final / initial loss", results[True][1] / results[True][0], "<", 0.5),
        Check("vanishing first-layer gradient, norm after / before clipping", after / before, ">", 1.0),
    ]
    rows = [["none" if not c else "clip_grad_norm_(1.0)", r[0], r[1], r[2], r[3]] for c, r in results.items()]
    fig = Figure(
        "loss_curves",
        "Training loss with inputs of scale 100",
        "update",
        "MSE",
        {
            ("clipped" if c else "not clipped"): (
                list(range(1, len(v) + 1)),
                [min(l, 1e30) if np.isfinite(l) else 1e30 for l in v],
            )
            for c, v in curves.items()
        },
        logy=True,
    )
    return Result(
        experiment="gradient_clipping_exploding",
        claim=_CLIP_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Badly scaled regression, SGD lr 0.1",
                ["clipping", "initial loss", "final loss", "finite", "updates run"],
                rows,
            ),
            Table(
                "20-layer tanh MLP, gain 0.5 (vanishing)",
                ["first-layer grad norm before", "after clip_grad_norm_(1.0)"],
                [[before, after]],
            ),
        ],
        figures=[fig],
        seeds=[seed],
        quick=quick,
        notes="Clipping by norm only ever scales gradients down; it cannot revive a vanishing one.",
    )
