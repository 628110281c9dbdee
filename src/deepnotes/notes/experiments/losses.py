"""Losses: how focal loss re-weights easy and hard examples."""

from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn.functional as F

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import seeded, single_threaded

_CLAIM = (
    "Focal loss (gamma = 2) lowers the weight of the many easy negatives, which dominate cross entropy "
    "on an imbalanced set, so training concentrates on hard examples."
)


@experiment("focal_loss_easy_negatives", ids=["S000-02", "S001-93"], claim=_CLAIM)
@single_threaded
def focal_loss_easy_negatives(seed=0, quick=False):
    """Notes S000-02 (repeated as S001-93): focal loss reduces the weight of the large number of easy
    negatives in one-stage detection; gamma = 2 makes easy examples' loss smaller, alpha = 0.25.

    Measured on a synthetic imbalanced set (1% positives; 2-D Gaussians, positives centred at (2.5, 2.5)):
    a logistic regression is trained with cross entropy, then for its scores the share of the total loss
    and of the total gradient |dL/dlogit| that comes from easy negatives (p_t > 0.9), under cross entropy
    and under torchvision-style sigmoid focal loss (gamma 2, without alpha and with alpha 0.25).
    Checks: easy negatives carry most (> 0.5) of the cross-entropy loss; under focal loss (no alpha) their
    share of the gradient is less than half their cross-entropy share; focal loss scales hard examples
    (p_t < 0.5) down more than 10x less than easy ones (mean FL/CE ratio hard / easy > 10).
    """
    rng = seeded(seed)
    n = 20000 if quick else 100000
    pos = rng.random(n) < 0.01
    x = rng.standard_normal((n, 2)) + np.where(pos[:, None], 2.5, 0.0)
    y = pos.astype(np.float32)
    w = dn.zeros(2, requires_grad=True)
    b = dn.zeros(1, requires_grad=True)
    opt = dn.optim.SGD([w, b], lr=1.0)
    xt, yt = dn.tensor(x.astype(np.float32)), dn.tensor(y)
    for _ in range(300):
        loss = F.binary_cross_entropy_with_logits(xt @ w + b, yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    logits = (x @ w.data.astype(np.float64) + float(b.data[0])).astype(np.float32)
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    p_t = np.where(pos, p, 1.0 - p)
    easy_neg = (~pos) & (p_t > 0.9)
    hard = p_t < 0.5

    def per_example(kind):
        z = dn.tensor(logits, requires_grad=True)
        if kind == "cross entropy":
            per = F.binary_cross_entropy_with_logits(z, dn.tensor(y), reduction="none")
        else:
            per = F.sigmoid_focal_loss(z, dn.tensor(y), alpha=0.25 if kind.endswith("0.25") else -1, gamma=2)
        per.sum().backward()
        return per.detach().numpy().astype(np.float64), np.abs(z.grad.data.astype(np.float64))

    kinds = ["cross entropy", "focal, gamma 2", "focal, gamma 2, alpha 0.25"]
    loss, grad = {}, {}
    for k in kinds:
        loss[k], grad[k] = per_example(k)
    share_loss = {k: float(loss[k][easy_neg].sum() / loss[k].sum()) for k in kinds}
    share_grad = {k: float(grad[k][easy_neg].sum() / grad[k].sum()) for k in kinds}
    ratio = loss["focal, gamma 2"] / np.maximum(loss["cross entropy"], 1e-300)
    hard_vs_easy = float(ratio[hard].mean() / ratio[p_t > 0.9].mean())
    rows = [[k, share_loss[k], share_grad[k], float(loss[k].sum())] for k in kinds]
    checks = [
        Check("easy negatives' share of the cross-entropy loss", share_loss["cross entropy"], ">", 0.5),
        Check(
            "easy negatives' gradient share, focal / cross entropy",
            share_grad["focal, gamma 2"] / share_grad["cross entropy"],
            "<",
            0.5,
        ),
        Check("mean FL/CE ratio, hard (p_t < 0.5) / easy (p_t > 0.9)", hard_vs_easy, ">", 10.0),
    ]
    edges = np.linspace(0.0, 1.0, 11)
    bins = np.clip(np.digitize(p_t, edges) - 1, 0, 9)
    centres = [float(c) for c in (edges[:-1] + 0.05)]
    fig = Figure(
        "loss_by_pt",
        "Share of the total loss by p_t",
        "p_t (probability of the true class)",
        "share of total loss",
        {k: (centres, [float(loss[k][bins == i].sum() / loss[k].sum()) for i in range(10)]) for k in kinds},
        kind="bar",
    )
    return Result(
        experiment="focal_loss_easy_negatives",
        claim=_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"{n} examples, {int(pos.sum())} positives, {int(easy_neg.sum())} easy negatives, "
                f"{int(hard.sum())} hard",
                ["loss", "easy-negative loss share", "easy-negative gradient share", "total loss"],
                rows,
            )
        ],
        figures=[fig],
        seeds=[seed],
        quick=quick,
        notes="alpha = 0.25 weights positives by 0.25 and negatives by 0.75, so it raises the "
        "negatives' share; the down-weighting of easy examples comes from (1 - p_t)^gamma.",
    )
