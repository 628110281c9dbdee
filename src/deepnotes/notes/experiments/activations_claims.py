"""Activation-function claims of the notes: why a nonlinearity is needed, tanh vs sigmoid (zero-centred
outputs), and dying ReLU units with their remedies."""

from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import accuracy, digits, mean_std, seeded, single_threaded, train_classifier


def _rings(rng, n):
    """Two classes in the plane that no straight line separates: a disc (radius < 1, label 0) inside a
    ring (1.4 < radius < 2, label 1), equal counts."""
    half = n // 2
    r = np.concatenate([rng.uniform(0, 1, half), rng.uniform(1.4, 2, n - half)])
    phi = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([r * np.cos(phi), r * np.sin(phi)], 1).astype(np.float32)
    y = np.concatenate([np.zeros(half), np.ones(n - half)]).astype(np.int64)
    return x, y


def _mlp(sizes, act):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 and act is not None:
            layers.append(act())
    return nn.Sequential(*layers)


_LINEAR_CLAIM = (
    "Without a nonlinear activation a deep network is a single linear map and cannot learn a "
    "nonlinear decision boundary; with one it can."
)


@experiment("nonlinearity_needed", ids=["S001-12"], claim=_LINEAR_CLAIM)
@single_threaded
def nonlinearity_needed(seed=0, quick=False):
    """Note S001-12: "若网络全部为线性组件, 线性的组合还是线性, 与单独一个线性分类器无异".

    Measured: a 4-layer MLP (2-32-32-32-2) without activations and the same MLP with ReLU, trained with Adam
    (lr 0.01, full batch) on a disc-inside-a-ring problem (no line separates the classes; chance 0.5).
    Three seeds (five in full mode).  For the linear net the product of its weight matrices (and the folded biases)
    is formed
    and compared with the network's outputs.

    Checks: the linear network equals one affine map (largest relative difference of the outputs
    < 1e-4, float32); the linear network's test accuracy stays <= 0.7 in every seed (no better than a
    straight line); the ReLU network reaches >= 0.95 in every seed.
    """
    seeds = [seed + i for i in range(3 if quick else 5)]
    steps = 200 if quick else 600
    rows, lin_acc, relu_acc, collapse = [], [], [], []
    for s in seeds:
        rng = seeded(s)
        xtr, ytr = _rings(rng, 600)
        xte, yte = _rings(rng, 1000)
        accs = {}
        for name, act in (("linear (no activation)", None), ("ReLU", nn.ReLU)):
            dn.manual_seed(s)
            model = _mlp([2, 32, 32, 32, 2], act)
            opt = dn.optim.Adam(model.parameters(), lr=0.01)
            for _ in range(steps):
                loss = F.cross_entropy(model(dn.tensor(xtr)), dn.tensor(ytr))
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            accs[name] = accuracy(model, xte, yte)
            if act is None:
                lins = [m for m in model.modules() if isinstance(m, nn.Linear)]
                w, b = np.eye(2), np.zeros(2)
                for lin in lins:
                    w = lin.weight.data.astype(np.float64) @ w
                    b = lin.weight.data.astype(np.float64) @ b + lin.bias.data
                with dn.no_grad():
                    out = model(dn.tensor(xte)).numpy().astype(np.float64)
                collapse.append(float(np.abs(out - (xte @ w.T + b)).max() / np.abs(out).max()))
        lin_acc.append(accs["linear (no activation)"])
        relu_acc.append(accs["ReLU"])
        rows.append([s, accs["linear (no activation)"], accs["ReLU"], collapse[-1]])
    table = Table(
        f"Test accuracy on disc-inside-a-ring (chance 0.5), {steps} Adam steps",
        ["seed", "4 linear layers", "4 layers with ReLU", "linear net vs one affine map (rel. diff)"],
        rows,
    )
    checks = [
        Check(
            "linear net minus its single folded affine map, largest relative output difference",
            max(collapse),
            "<",
            1e-4,
        ),
        Check(
            "4-layer linear net test accuracy, highest over seeds", max(lin_acc), "<=", 0.7, spread=mean_std(lin_acc)[1]
        ),
        Check(
            "4-layer ReLU net test accuracy, lowest over seeds", min(relu_acc), ">=", 0.95, spread=mean_std(relu_acc)[1]
        ),
    ]
    return Result(
        experiment="nonlinearity_needed",
        claim=_LINEAR_CLAIM,
        checks=checks,
        tables=[table],
        seeds=seeds,
        quick=quick,
        notes="Data: 600 training and 1000 test points per seed.",
    )


_TANH_CLAIM = (
    "tanh(x) = 2 sigmoid(2x) - 1 is a rescaled sigmoid; its output is zero-centred, which speeds up "
    "gradient descent compared with sigmoid's all-positive output, but it still saturates "
    "(vanishing gradient for large |x|)."
)


def _shifted_sigmoid():
    class ShiftedSigmoid(nn.Module):
        def forward(self, x):
            return x.sigmoid() - 0.5

    return ShiftedSigmoid()


def _row_sign_coherence(grad):
    """Mean over the rows of a weight gradient of the share of entries that carry the row's majority sign
    (1: every weight of a neuron moves in the same direction; 0.5: no preference)."""
    pos = (grad > 0).mean(1)
    return float(np.maximum(pos, 1 - pos).mean())


@experiment("tanh_vs_sigmoid_zero_centred", ids=["S001-16", "S001-21"], claim=_TANH_CLAIM)
@single_threaded
def tanh_vs_sigmoid_zero_centred(seed=0, quick=False):
    """Notes S001-16 (tanh = 2 sigma(2x) - 1, "梯度消失问题依然存在") and S001-21 (sigmoid's all-positive
    outputs slow convergence, tanh's zero-centred output does not).

    Measured: (1) the identity and the derivatives on a grid of x in [-10, 10] (float64, autograd);
    (2) an MLP 64-64-64-10 on the bundled digits, SGD (batch 64, 3 epochs; 5 in full mode), Xavier init, each
    activation at
    its best learning rate of 0.5 / 1 / 2 (lowest final training loss, per seed), with three hidden
    activations: sigmoid (positive outputs, slope <= 1/4), sigmoid - 1/2 (zero-centred, the *same* slope:
    this isolates the centring the note talks about) and tanh (zero-centred, slope <= 1).  Training loss
    after the budget and, at initialisation, the sign coherence of the second layer's weight gradient (the
    share of each neuron's weight gradients that share the majority sign; positive inputs make them share
    the sign of the neuron's error).  Three seeds (five in full mode).

    Checks: identity error < 1e-12; max tanh' = 1 and max sigmoid' = 1/4 (to 1e-9: tanh' >= 3.99 x
    sigmoid'); tanh'(x) < 0.01 for |x| >= 3 (still saturates); gradient sign coherence with sigmoid inputs
    exceeds the centred one by > 0.1; the centred sigmoid's final training loss is <= 0.9 x the sigmoid's in
    every seed (centring alone speeds convergence); tanh's <= 0.9 x the sigmoid's in every seed.
    """
    x = dn.tensor(np.linspace(-10, 10, 2001)).requires_grad_(True)
    t = x.tanh()
    t.sum().backward()
    dtanh = x.grad.numpy().copy()
    x.grad = None
    sg = x.sigmoid()
    sg.sum().backward()
    dsig = x.grad.numpy().copy()
    xs = x.detach().numpy()
    ident = float(np.abs(np.tanh(xs) - (2 / (1 + np.exp(-2 * xs)) - 1)).max())
    ident = max(ident, float(np.abs(t.detach().numpy() - (2 * F.sigmoid(dn.tensor(2 * xs)).numpy() - 1)).max()))
    sat = float(dtanh[np.abs(xs) >= 3].max())

    seeds = [seed + i for i in range(3 if quick else 5)]
    epochs, lrs = (3 if quick else 5), (0.5, 1.0, 2.0)
    acts = {"sigmoid": lambda: nn.Sigmoid(), "sigmoid - 1/2": _shifted_sigmoid, "tanh": lambda: nn.Tanh()}
    xtr, ytr, xte, yte = digits()
    final = {k: [] for k in acts}
    coher = {k: [] for k in acts}
    test_acc = {k: [] for k in acts}
    best_lr = {k: [] for k in acts}
    curves = {}
    for s in seeds:
        for name, make in acts.items():
            runs = []
            for lr in lrs:
                dn.manual_seed(s)
                model = nn.Sequential(nn.Linear(64, 64), make(), nn.Linear(64, 64), make(), nn.Linear(64, 10))
                for m in model.modules():
                    if isinstance(m, nn.Linear):
                        nn.init.xavier_normal_(m.weight)
                        nn.init.zeros_(m.bias)
                if lr == lrs[0]:
                    loss = F.cross_entropy(model(dn.tensor(xtr[:256])), dn.tensor(ytr[:256]))
                    loss.backward()
                    coher[name].append(_row_sign_coherence(model[2].weight.grad.numpy()))
                    model.zero_grad()
                losses = train_classifier(
                    model, dn.optim.SGD(model.parameters(), lr=lr), xtr, ytr, epochs, 64, np.random.default_rng([s, 7])
                )
                per_epoch = np.array(losses).reshape(epochs, -1).mean(1)
                per_epoch = np.where(np.isfinite(per_epoch), per_epoch, np.inf)
                runs.append((float(per_epoch[-1]), lr, accuracy(model, xte, yte), per_epoch))
            loss_, lr_, acc_, curve = min(runs, key=lambda r: r[0])
            final[name].append(loss_)
            best_lr[name].append(lr_)
            test_acc[name].append(acc_)
            if s == seeds[0]:
                curves[name] = (list(range(1, epochs + 1)), curve.tolist())
    ratio_c = [a / b for a, b in zip(final["sigmoid - 1/2"], final["sigmoid"])]
    ratio_t = [a / b for a, b in zip(final["tanh"], final["sigmoid"])]
    coh_gap = [a - b for a, b in zip(coher["sigmoid"], coher["sigmoid - 1/2"])]
    table1 = Table(
        "tanh vs sigmoid on x in [-10, 10] (float64, autograd)",
        ["quantity", "value"],
        [
            ["max |tanh(x) - (2 sigmoid(2x) - 1)|", ident],
            ["max tanh'(x)", float(dtanh.max())],
            ["max sigmoid'(x)", float(dsig.max())],
            ["max tanh'(x) for |x| >= 3", sat],
        ],
    )
    table2 = Table(
        f"MLP 64-64-64-10 on digits, SGD at the best lr of {lrs}, {epochs} epochs, seeds {seeds}",
        [
            "hidden activation",
            "final train loss (mean)",
            "std",
            "test accuracy (mean)",
            "best lr per seed",
            "layer-2 gradient sign coherence at init",
        ],
        [
            [
                k,
                *mean_std(final[k]),
                mean_std(test_acc[k])[0],
                " ".join(f"{v:g}" for v in best_lr[k]),
                mean_std(coher[k])[0],
            ]
            for k in acts
        ],
    )
    fig = Figure(
        "train_loss", "Training loss per epoch at the best lr (first seed)", "epoch", "mean training loss", curves
    )
    checks = [
        Check("max |tanh(x) - (2 sigmoid(2x) - 1)|", ident, "<", 1e-12),
        Check("max tanh' / max sigmoid'", float(dtanh.max() / dsig.max()), ">=", 3.99),
        Check("max tanh'(x) for |x| >= 3 (saturation)", sat, "<", 0.01),
        Check("gradient sign coherence, sigmoid minus centred sigmoid, smallest over seeds", min(coh_gap), ">", 0.1),
        Check(
            "final loss, centred sigmoid / sigmoid, largest over seeds",
            max(ratio_c),
            "<=",
            0.9,
            spread=mean_std(ratio_c)[1],
        ),
        Check("final loss, tanh / sigmoid, largest over seeds", max(ratio_t), "<=", 0.9, spread=mean_std(ratio_t)[1]),
    ]
    return Result(
        experiment="tanh_vs_sigmoid_zero_centred",
        claim=_TANH_CLAIM,
        checks=checks,
        tables=[table1, table2],
        figures=[fig],
        seeds=seeds,
        quick=quick,
    )


_DEAD_CLAIM = (
    "ReLU units die (zero output for every input) after too large updates; a leaky ReLU, a smaller "
    "learning rate or momentum prevent it."
)


def _dead_share(model, x):
    """Share of the hidden units whose pre-activation is <= 0 for every input of ``x`` (a ReLU unit in that
    state gets no gradient from any of them)."""
    dead, total = 0, 0
    h = dn.tensor(x)
    with dn.no_grad():
        for m in model:
            h = m(h)
            if isinstance(m, nn.Linear) and m.out_features != 10:
                z = h.numpy()
                dead += int((z.max(0) <= 0).sum())
                total += z.shape[1]
    return dead / total


@experiment("dying_relu_remedies", ids=["S001-22"], claim=_DEAD_CLAIM)
@single_threaded
def dying_relu_remedies(seed=0, quick=False):
    """Note S001-22: ReLU units die when a large learning rate pushes them below zero for every input;
    remedies: Leaky ReLU, a smaller learning rate, and momentum ("利用惯性, 抑制异常数据的更新方向").

    Measured: an MLP 64-128-128-10 (He init) on the digits, plain SGD with batch 32.  After training, the
    share of hidden units whose pre-activation is <= 0 on every training image (dead for a ReLU).  Settings:
    ReLU at a large learning rate (1.0), ReLU at a small one (0.1), Leaky ReLU (slope 0.01) at 1.0, and
    ReLU with momentum 0.9 at lr 0.1 (the same long-run step size as plain SGD at 1.0: lr / (1 - momentum)).
    Three seeds (five in full mode).  (A few % of the units are dead already at initialisation: the digits are
    non-negative,
    so a unit whose weights on the lit pixels are mostly negative never fires; the table shows that share.)

    Checks: the large learning rate leaves >= 20% of the units dead (mean); the small learning rate leaves less
    than half as many dead, in every seed; the leaky units end in the all-negative state less than half as
    often as the ReLU units at the same learning rate, in every seed; momentum at the equal step size leaves
    less than half as many dead as plain SGD, in every seed (the notes' claim).
    """
    seeds = [seed + i for i in range(3 if quick else 5)]
    epochs = 2 if quick else 6
    xtr, ytr, xte, yte = digits()
    settings = {
        "ReLU, lr 1": (nn.ReLU, 1.0, 0.0),
        "ReLU, lr 0.1": (nn.ReLU, 0.1, 0.0),
        "Leaky ReLU, lr 1": (lambda: nn.LeakyReLU(0.01), 1.0, 0.0),
        "ReLU, lr 0.1, momentum 0.9": (nn.ReLU, 0.1, 0.9),
    }
    dead = {k: [] for k in settings}
    acc = {k: [] for k in settings}
    at_init = {k: [] for k in settings}
    for s in seeds:
        for name, (act, lr, mom) in settings.items():
            dn.manual_seed(s)
            model = nn.Sequential(nn.Linear(64, 128), act(), nn.Linear(128, 128), act(), nn.Linear(128, 10))
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)
            at_init[name].append(_dead_share(model, xtr))
            opt = dn.optim.SGD(model.parameters(), lr=lr, momentum=mom)
            train_classifier(model, opt, xtr, ytr, epochs, 32, np.random.default_rng([s, 3]))
            dead[name].append(_dead_share(model, xtr))
            acc[name].append(accuracy(model, xte, yte))
    table = Table(
        f"Dead hidden units after {epochs} epochs (share of 256), seeds {seeds}",
        ["setting", "dead share (mean)", "std"]
        + [f"seed {s}" for s in seeds]
        + ["dead at init (mean)", "test accuracy (mean)"],
        [[k, *mean_std(dead[k]), *dead[k], mean_std(at_init[k])[0], mean_std(acc[k])[0]] for k in settings],
    )
    big = dead["ReLU, lr 1"]

    def worst_ratio(other):
        return max(o / max(b, 1e-12) for o, b in zip(dead[other], big))

    checks = [
        Check("dead share, ReLU at lr 1 (mean over seeds)", mean_std(big)[0], ">=", 0.2, spread=mean_std(big)[1]),
        Check("dead share lr 0.1 / lr 1, largest over seeds", worst_ratio("ReLU, lr 0.1"), "<", 0.5),
        Check(
            "all-negative share Leaky ReLU / ReLU at lr 1, largest over seeds",
            worst_ratio("Leaky ReLU, lr 1"),
            "<",
            0.5,
        ),
        Check(
            "dead share with momentum (equal step) / plain SGD lr 1, largest over seeds",
            worst_ratio("ReLU, lr 0.1, momentum 0.9"),
            "<",
            0.5,
        ),
    ]
    return Result(
        experiment="dying_relu_remedies", claim=_DEAD_CLAIM, checks=checks, tables=[table], seeds=seeds, quick=quick
    )
