"""Initialisation claims of the notes: why logistic regression may start from zeros."""

from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F

from ..result import Check, Result, Table
from . import experiment
from ._common import accuracy, digits, mean_std, single_threaded

_LOGREG_CLAIM = (
    "Logistic regression can be initialised with zeros: the inputs differ, so every weight gets a "
    "different nonzero gradient and the weights update normally."
)


@experiment("logistic_regression_zero_init", ids=["S001-41"], claim=_LOGREG_CLAIM)
@single_threaded
def logistic_regression_zero_init(seed=0, quick=False):
    """Note S001-41: "如果 w11, w21, b 都初始化为0时, 由于输入 x1, x2 不一样, 所以最后他们的变化率 dw11, dw21, db
    都不为0, 且都不相同, 所以权值可以正常更新".

    Measured on the digits: softmax regression (one linear layer, 64 -> 10) started from all zeros and from
    small random weights (N(0, 0.01^2)), full-batch gradient descent (lr 0.5, 300 steps; 600 in full mode).
    The first gradient at zero init (how many distinct values its 650 entries take, and whether any two
    weight rows or columns are equal), the final training loss and the test accuracy.  For contrast, the same
    zero start for a one-hidden-layer MLP (64-32-10): its hidden units stay identical.  Three seeds (five
    in full mode) for the random starts.

    Checks: the zero-init gradient has >= 100 distinct entries and no two equal rows; the final training
    loss from zeros is within 1e-3 of the random starts' (a convex loss: one optimum), largest over seeds;
    zero-init test accuracy >= 0.9; the zero-init MLP's hidden units stay identical after 300 steps (spread
    of the hidden layer's weights < 1e-3: only float32 rounding separates them, and it grows slowly), so the
    argument is specific to models without hidden layers.
    """
    seeds = [seed + i for i in range(3 if quick else 5)]
    steps = 300 if quick else 600
    xtr, ytr, xte, yte = digits()
    xt, yt = dn.tensor(xtr), dn.tensor(ytr)

    def train(model, n_steps=steps):
        opt = dn.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(n_steps):
            loss = F.cross_entropy(model(xt), yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with dn.no_grad():
            return float(F.cross_entropy(model(xt), yt).item())

    zero = nn.Linear(64, 10)
    nn.init.zeros_(zero.weight)
    nn.init.zeros_(zero.bias)
    F.cross_entropy(zero(xt), yt).backward()
    g = zero.weight.grad.numpy().copy()
    distinct = int(len(np.unique(np.round(g, 12))))
    rows_equal = int(sum(np.allclose(g[i], g[j]) for i in range(10) for j in range(i + 1, 10)))
    zero.zero_grad()
    loss_zero = train(zero)
    acc_zero = accuracy(zero, xte, yte)
    rand_loss, rand_acc = [], []
    for s in seeds:
        dn.manual_seed(s)
        m = nn.Linear(64, 10)
        nn.init.normal_(m.weight, 0.0, 0.01)
        nn.init.zeros_(m.bias)
        rand_loss.append(train(m))
        rand_acc.append(accuracy(m, xte, yte))
    mlp = nn.Sequential(nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 10))
    for p in mlp.parameters():
        nn.init.zeros_(p)
    train(mlp, 300)
    hidden_spread = float(mlp[0].weight.data.std(0).max())
    table = Table(
        f"Softmax regression on digits, gradient descent lr 0.5, {steps} steps",
        ["start", "final training loss", "test accuracy"],
        [["zeros", loss_zero, acc_zero]]
        + [[f"N(0, 0.01^2), seed {s}", a, b] for s, a, b in zip(seeds, rand_loss, rand_acc)],
    )
    table2 = Table(
        "First gradient at zero initialisation",
        ["quantity", "value"],
        [
            ["distinct values among the 640 weight gradients", distinct],
            ["pairs of equal weight rows (of 45)", rows_equal],
            ["zero-init MLP 64-32-10: largest spread across hidden units after training", hidden_spread],
        ],
    )
    gap = max(abs(loss_zero - r) for r in rand_loss)
    checks = [
        Check("distinct entries of the zero-init weight gradient", distinct, ">=", 100),
        Check("pairs of equal rows in the zero-init weight gradient", rows_equal, "<", 1),
        Check("|final loss from zeros - from random|, largest over seeds", gap, "<", 1e-3),
        Check("test accuracy from zeros", acc_zero, ">=", 0.9),
        Check("zero-init MLP: spread across hidden units (identical up to rounding)", hidden_spread, "<", 1e-3),
    ]
    return Result(
        experiment="logistic_regression_zero_init",
        claim=_LOGREG_CLAIM,
        checks=checks,
        tables=[table, table2],
        seeds=seeds,
        quick=quick,
        notes=f"random starts: final loss {mean_std(rand_loss)[0]:.4g} +- {mean_std(rand_loss)[1]:.2g}",
    )
