"""Normalisation claims of the notes: feature scaling and gradient descent, image input normalisation,
what batch normalisation does (saturation, sensitivity to the initial scale) and its gamma / beta."""

from __future__ import annotations

import math

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import accuracy, digits, mean_std, seeded, single_threaded, train_classifier

_SCALING_CLAIM = (
    "Normalising features makes the loss contours round, so gradient descent converges in far "
    "fewer iterations; distance-based models also need comparable feature scales."
)


def _gd_iterations(x, y, tol, cap):
    """Full-batch gradient descent on the mean squared error of a linear model (with bias) at the step
    1 / L, L the largest eigenvalue of the Hessian (the largest stable step up to a factor 2).  Returns the
    number of iterations until the loss is within ``tol`` (relative) of the least-squares optimum (``cap``
    if never), the Hessian's condition number and the loss curve."""
    xb = np.concatenate([x, np.ones((len(x), 1))], 1)
    hess = 2 * xb.T @ xb / len(x)
    eig = np.linalg.eigvalsh(hess)
    opt = np.linalg.lstsq(xb, y, rcond=None)[0]
    best = float(np.mean((xb @ opt - y) ** 2))
    w = dn.tensor(np.zeros(xb.shape[1])).requires_grad_(True)
    sgd = dn.optim.SGD([w], lr=1.0 / eig[-1])
    xt, yt = dn.tensor(xb), dn.tensor(y)
    curve = []
    for it in range(1, cap + 1):
        loss = F.mse_loss(xt @ w, yt)
        curve.append(float(loss.item()))
        if curve[-1] - best <= tol * max(best, 1e-12):
            return it, float(eig[-1] / eig[0]), curve
        sgd.zero_grad()
        loss.backward()
        sgd.step()
    return cap, float(eig[-1] / eig[0]), curve


def _one_nn_accuracy(xtr, ytr, xte, yte):
    d = ((xte[:, None, :] - xtr[None, :, :]) ** 2).sum(-1)
    return float((ytr[d.argmin(1)] == yte).mean())


@experiment("feature_scaling_speed", ids=["S001-28", "S001-29"], claim=_SCALING_CLAIM)
@single_threaded
def feature_scaling_speed(seed=0, quick=False):
    """Notes S001-28 ("等高线显得很圆, 在梯度下降进行求解时能较快的收敛") and S001-29 (normalise to remove units, to
    speed up gradient descent, and for models that compute distances).

    Measured: (1) linear regression on two features, one N(0, 1) and one N(0, 30^2) (y = 2 x1 + 0.1 x2 +
    noise), full-batch gradient descent at the largest stable step 1/L for the raw and for the standardised
    features, iterations until the loss is within 1e-6 (relative) of the least-squares optimum (capped at
    1000), and the Hessian's condition number; (2) 1-nearest-neighbour classification where the class is
    given by a unit-scale feature (means -1 / +1) and a second feature is noise of scale 100, raw vs
    standardised (200 training, 500 test points).  Three seeds (five in full mode).

    Checks: raw features need >= 10x the iterations of standardised ones, in every seed; standardising raises
    1-NN accuracy by >= 0.05 in every seed (the sampling error of an accuracy difference on 500 test points
    is about 0.03).
    """
    seeds = [seed + i for i in range(3 if quick else 5)]
    rows, it_ratio, knn_gain = [], [], []
    curves = {}
    for s in seeds:
        rng = seeded(s)
        x = np.stack([rng.normal(0, 1, 500), rng.normal(0, 30, 500)], 1)
        y = 2 * x[:, 0] + 0.1 * x[:, 1] + rng.normal(0, 0.1, 500)
        xs = (x - x.mean(0)) / x.std(0)
        it_raw, k_raw, c_raw = _gd_iterations(x, y, 1e-6, 1000)
        it_std, k_std, c_std = _gd_iterations(xs, y, 1e-6, 1000)
        it_ratio.append(it_raw / it_std)
        if s == seeds[0]:
            curves = {
                "raw": (list(range(1, len(c_raw) + 1)), c_raw),
                "standardised": (list(range(1, len(c_std) + 1)), c_std),
            }
        n_tr, n_te = 200, 500
        lab = rng.integers(0, 2, n_tr + n_te)
        f = np.stack([rng.normal(2 * lab - 1, 1.0), rng.normal(0, 100, n_tr + n_te)], 1)
        fs = (f - f[:n_tr].mean(0)) / f[:n_tr].std(0)
        a_raw = _one_nn_accuracy(f[:n_tr], lab[:n_tr], f[n_tr:], lab[n_tr:])
        a_std = _one_nn_accuracy(fs[:n_tr], lab[:n_tr], fs[n_tr:], lab[n_tr:])
        knn_gain.append(a_std - a_raw)
        rows.append([s, k_raw, it_raw, k_std, it_std, a_raw, a_std])
    table = Table(
        "Gradient descent at step 1/L to 1e-6 of the optimum (cap 1000), and 1-NN accuracy",
        [
            "seed",
            "condition number raw",
            "GD iterations raw",
            "condition number standardised",
            "GD iterations standardised",
            "1-NN accuracy raw",
            "1-NN accuracy standardised",
        ],
        rows,
    )
    fig = Figure(
        "gd_loss",
        "Gradient descent on raw vs standardised features (first seed)",
        "iteration",
        "mean squared error",
        curves,
        logy=True,
    )
    checks = [
        Check("GD iterations raw / standardised, smallest over seeds", min(it_ratio), ">=", 10),
        Check(
            "1-NN accuracy gain from standardising, smallest over seeds",
            min(knn_gain),
            ">=",
            0.05,
            spread=mean_std(knn_gain)[1],
        ),
    ]
    return Result(
        experiment="feature_scaling_speed",
        claim=_SCALING_CLAIM,
        checks=checks,
        tables=[table],
        figures=[fig],
        seeds=seeds,
        quick=quick,
    )


_IMAGE_CLAIM = (
    "Normalising images before the network puts the gradients of all parameters on a common scale "
    "so one learning rate fits (notes' point 2), and centring improves generalisation (point 3)."
)


@experiment("image_input_normalisation", ids=["S001-30"], claim=_IMAGE_CLAIM)
@single_threaded
def image_input_normalisation(seed=0, quick=False):
    """Note S001-30: without normalisation "各个参数的梯度数量级不同, 需要的学习速度不同, 归一化后可以方便的选择
    学习率", and "标准化后实现了数据中心化, ... 能增加模型泛化能力".

    Measured on the digits with an MLP 64-64-10 (default init), three input scalings: raw 8-bit values
    (0..255), divided by 255 ([0, 1]), and standardised with the training set's mean and standard deviation
    (one value for all pixels, as per-channel normalisation does for a grey image).  The norm of the first
    layer's weight gradient at initialisation, and the training and test accuracy after 3 epochs of SGD
    (batch 128) at each learning rate of 0.001 / 0.01 / 0.1 / 1.  Three seeds (five in full mode).

    Checks: the raw input's first-layer gradient is >= 10x the standardised input's (mean over seeds); at the
    learning rate best for standardised inputs the raw-input network is >= 0.2 worse (mean); centring helps
    generalisation: the generalisation gap (training minus test accuracy, each input at its best learning
    rate) is >= 0.01 smaller standardised than in [0, 1], in every seed.
    """
    seeds = [seed + i for i in range(3 if quick else 5)]
    lrs = (0.001, 0.01, 0.1, 1.0)
    epochs, batch = 3, 128
    xtr0, ytr, xte0, yte = digits()
    raw_tr, raw_te = np.round(xtr0 * 255), np.round(xte0 * 255)
    mu, sd = float(xtr0.mean()), float(xtr0.std())
    inputs = {
        "raw 0..255": (raw_tr, raw_te),
        "[0, 1]": (xtr0, xte0),
        "standardised": ((xtr0 - mu) / sd, (xte0 - mu) / sd),
    }
    acc = {(k, lr): [] for k in inputs for lr in lrs}
    train_acc = {(k, lr): [] for k in inputs for lr in lrs}
    gnorm = {k: [] for k in inputs}
    with np.errstate(over="ignore", invalid="ignore"):
        for s in seeds:
            for name, (xtr, xte) in inputs.items():
                xtr, xte = xtr.astype(np.float32), xte.astype(np.float32)
                for lr in lrs:
                    dn.manual_seed(s)
                    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
                    if lr == lrs[0]:
                        F.cross_entropy(model(dn.tensor(xtr[:512])), dn.tensor(ytr[:512])).backward()
                        gnorm[name].append(float(np.linalg.norm(model[0].weight.grad.numpy())))
                        model.zero_grad()
                    losses = train_classifier(
                        model,
                        dn.optim.SGD(model.parameters(), lr=lr),
                        xtr,
                        ytr,
                        epochs,
                        batch,
                        np.random.default_rng([s, 4]),
                    )
                    ok = np.isfinite(losses[-1])
                    acc[(name, lr)].append(accuracy(model, xte, yte) if ok else 0.1)
                    train_acc[(name, lr)].append(accuracy(model, xtr, ytr) if ok else 0.1)
    best_std_lr = max(lrs, key=lambda lr: np.mean(acc[("standardised", lr)]))
    drop = np.mean(acc[("standardised", best_std_lr)]) - np.mean(acc[("raw 0..255", best_std_lr)])
    best_lr = {k: max(lrs, key=lambda lr: np.mean(acc[(k, lr)])) for k in inputs}
    gen_gap = {k: [a - b for a, b in zip(train_acc[(k, best_lr[k])], acc[(k, best_lr[k])])] for k in inputs}
    centring = [b - a for a, b in zip(gen_gap["standardised"], gen_gap["[0, 1]"])]
    rows = [
        [k, mean_std(gnorm[k])[0]] + [mean_std(acc[(k, lr)])[0] for lr in lrs] + [best_lr[k], mean_std(gen_gap[k])[0]]
        for k in inputs
    ]
    table = Table(
        f"MLP 64-64-10 on digits, SGD {epochs} epochs, batch {batch}: mean test accuracy per learning rate",
        ["input", "first-layer grad norm at init"]
        + [f"lr {lr:g}" for lr in lrs]
        + ["best lr", "train minus test accuracy at best lr"],
        rows,
    )
    ratio = mean_std(gnorm["raw 0..255"])[0] / mean_std(gnorm["standardised"])[0]
    checks = [
        Check("first-layer gradient norm raw / standardised", ratio, ">=", 10),
        Check(f"accuracy drop of raw inputs at standardised's best lr ({best_std_lr:g})", float(drop), ">=", 0.2),
        Check(
            "generalisation gap [0, 1] minus standardised (each at its best lr), smallest over seeds",
            min(centring),
            ">=",
            0.01,
            spread=mean_std(centring)[1],
        ),
    ]
    return Result(
        experiment="image_input_normalisation",
        claim=_IMAGE_CLAIM,
        checks=checks,
        tables=[table],
        seeds=seeds,
        quick=quick,
    )


_BN_CLAIM = (
    "Batch normalisation pulls drifting pre-activations back into the sensitive range of the "
    "activation, so gradients are larger and training converges faster."
)


def _sigmoid_mlp(depth, width, bn):
    layers, d = [], 64
    for _ in range(depth):
        layers.append(nn.Linear(d, width))
        if bn:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.Sigmoid())
        d = width
    layers.append(nn.Linear(d, 10))
    return nn.Sequential(*layers)


@experiment("batchnorm_sensitive_range", ids=["S002-01"], claim=_BN_CLAIM)
@single_threaded
def batchnorm_sensitive_range(seed=0, quick=False):
    """Note S002-01: BN "将越来越偏的分布拉回到标准化的分布, 使得激活函数的输入值落在激活函数对输入比较敏感的
    区域, 从而使梯度变大, 加快学习收敛速度, 避免梯度消失".

    Measured on the digits: an MLP of 6 sigmoid hidden layers (width 64, default init), with and without
    BatchNorm1d before every sigmoid.  At initialisation: the mean sigmoid derivative of the last hidden
    layer's inputs and the first layer's weight-gradient norm.  Then SGD (lr 0.5, batch 64, 3 epochs) and
    the test accuracy.  Three seeds (five in full mode).

    Checks: BN raises the mean sigmoid derivative at the last hidden layer (ratio >= 1.1, every seed);
    BN's first-layer gradient is >= 3x the plain net's in every seed; BN's test accuracy is >= 0.1 higher in
    every seed.
    """
    seeds = [seed + i for i in range(3 if quick else 5)]
    depth, epochs, batch = 6, 3, 64
    xtr, ytr, xte, yte = digits()
    stats = {k: {"deriv": [], "grad": [], "acc": []} for k in ("plain", "BN")}
    for s in seeds:
        for name in stats:
            dn.manual_seed(s)
            model = _sigmoid_mlp(depth, 64, name == "BN")
            h = dn.tensor(xtr[:512])
            last_in = None
            for m in model:
                if isinstance(m, nn.Sigmoid):
                    last_in = h
                h = m(h)
            F.cross_entropy(h, dn.tensor(ytr[:512])).backward()
            sg = 1 / (1 + np.exp(-last_in.detach().numpy()))
            stats[name]["deriv"].append(float((sg * (1 - sg)).mean()))
            stats[name]["grad"].append(float(np.linalg.norm(model[0].weight.grad.numpy())))
            model.zero_grad()
            train_classifier(
                model, dn.optim.SGD(model.parameters(), lr=0.5), xtr, ytr, epochs, batch, np.random.default_rng([s, 6])
            )
            stats[name]["acc"].append(accuracy(model, xte, yte))
    d_ratio = [a / b for a, b in zip(stats["BN"]["deriv"], stats["plain"]["deriv"])]
    g_ratio = [a / b for a, b in zip(stats["BN"]["grad"], stats["plain"]["grad"])]
    a_gap = [a - b for a, b in zip(stats["BN"]["acc"], stats["plain"]["acc"])]
    table = Table(
        f"{depth} sigmoid hidden layers on digits, SGD lr 0.5, batch {batch}, {epochs} epochs "
        f"(mean over seeds {seeds})",
        ["net", "mean sigmoid' at last hidden layer", "first-layer grad norm", "test accuracy", "accuracy std"],
        [[k, mean_std(v["deriv"])[0], mean_std(v["grad"])[0], *mean_std(v["acc"])] for k, v in stats.items()],
    )
    checks = [
        Check("mean sigmoid' BN / plain at the last hidden layer, smallest over seeds", min(d_ratio), ">=", 1.1),
        Check("first-layer gradient norm BN / plain, smallest over seeds", min(g_ratio), ">=", 3),
        Check("test accuracy BN minus plain, smallest over seeds", min(a_gap), ">=", 0.1, spread=mean_std(a_gap)[1]),
    ]
    return Result(
        experiment="batchnorm_sensitive_range", claim=_BN_CLAIM, checks=checks, tables=[table], seeds=seeds, quick=quick
    )


_SCALE_CLAIM = (
    "With batch normalisation after each layer, random initialisation of any scale works: BN "
    "normalises too large or too small activations, avoiding exploding or vanishing gradients."
)


def _relu_mlp(depth, bn, scale):
    layers, d = [], 64
    for _ in range(depth):
        lin = nn.Linear(d, 64)
        nn.init.normal_(lin.weight, 0.0, scale * math.sqrt(2.0 / d))
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if bn:
            layers.append(nn.BatchNorm1d(64))
        layers.append(nn.ReLU())
        d = 64
    layers.append(nn.Linear(d, 10))
    return nn.Sequential(*layers)


@experiment("batchnorm_init_scale", ids=["S001-43"], claim=_SCALE_CLAIM)
@single_threaded
def batchnorm_init_scale(seed=0, quick=False):
    """Note S001-43: "随机初始化带BN: BN可以将过大或过小的数据都归一化到0-1分布, 避免了梯度爆炸或梯度消失".

    Measured on the digits: a 6-layer ReLU MLP (width 64) whose weights are drawn N(0, (a sqrt(2/fan_in))^2),
    i.e. He's scale times a = 0.1, 1 or 10, with and without BatchNorm1d after every linear layer.  At
    initialisation: the largest relative difference between the BN network's outputs for a = 0.1 / 10 and
    a = 1 (same underlying draw); the first layer's gradient norm.  Then SGD (lr 0.1, batch 64, 2 epochs)
    and the test accuracy.  Three seeds (five in full mode).

    Checks: BN makes the forward pass independent of a (relative output difference < 1e-2); without BN the
    first-layer gradient spans >= 10^6 over a = 0.1..10, with BN it shrinks as 1/a (it spans <= 200);
    without BN the net does not train at a = 0.1 or 10 (accuracy <= 0.15, chance 0.1) in any seed; with BN
    every a reaches >= 0.8 in every seed.  Five seeds in full mode.
    """
    seeds = [seed + i for i in range(3 if quick else 5)]
    scales = (0.1, 1.0, 10.0)
    depth, epochs = 6, 2
    xtr, ytr, xte, yte = digits()
    acc = {(bn, a): [] for bn in (False, True) for a in scales}
    grad = {(bn, a): [] for bn in (False, True) for a in scales}
    inv = []
    errstate = np.errstate(over="ignore", invalid="ignore")
    errstate.__enter__()
    for s in seeds:
        outs = {}
        for bn in (False, True):
            for a in scales:
                dn.manual_seed(s)
                model = _relu_mlp(depth, bn, a)
                out = model(dn.tensor(xtr[:512]))
                if bn:
                    h = dn.tensor(xtr[:512])
                    for m in list(model)[:-1]:
                        h = m(h)
                    outs[a] = h.detach().numpy()
                F.cross_entropy(out, dn.tensor(ytr[:512])).backward()
                grad[(bn, a)].append(float(np.linalg.norm(model[0].weight.grad.numpy())))
                model.zero_grad()
                losses = train_classifier(
                    model, dn.optim.SGD(model.parameters(), lr=0.1), xtr, ytr, epochs, 64, np.random.default_rng([s, 8])
                )
                acc[(bn, a)].append(accuracy(model, xte, yte) if np.isfinite(losses[-1]) else 0.1)
        ref = outs[1.0]
        inv.append(max(float(np.abs(outs[a] - ref).max() / np.abs(ref).max()) for a in scales))
    errstate.__exit__(None, None, None)
    rows = [
        ["BN" if bn else "plain", a, mean_std(grad[(bn, a)])[0], *mean_std(acc[(bn, a)])]
        for bn in (False, True)
        for a in scales
    ]
    table = Table(
        f"{depth}-layer ReLU MLP, weights He x a, SGD lr 0.1, {epochs} epochs (mean over seeds {seeds})",
        ["net", "a", "first-layer grad norm at init", "test accuracy", "std"],
        rows,
    )
    span = {
        bn: max(np.mean(grad[(bn, a)]) for a in scales) / min(np.mean(grad[(bn, a)]) for a in scales)
        for bn in (False, True)
    }
    bad = [max(acc[(False, a)][i] for a in (scales[0], scales[-1])) for i in range(len(seeds))]
    bn_low = [min(acc[(True, a)][i] for a in scales) for i in range(len(seeds))]
    checks = [
        Check(
            "BN net, last hidden output for a = 0.1 or 10 vs a = 1, largest relative difference", max(inv), "<", 1e-2
        ),
        Check("plain net: first-layer gradient max / min over a", span[False], ">=", 1e6),
        Check("BN net: first-layer gradient max / min over a", span[True], "<=", 200),
        Check("plain net: best accuracy at a = 0.1 or 10 (chance 0.1), largest over seeds", max(bad), "<=", 0.15),
        Check("BN net: lowest accuracy over a, smallest over seeds", min(bn_low), ">=", 0.8),
    ]
    return Result(
        experiment="batchnorm_init_scale", claim=_SCALE_CLAIM, checks=checks, tables=[table], seeds=seeds, quick=quick
    )


_GB_CLAIM = (
    "BN pulls a batch to a normal distribution (the note); its learned gamma and beta give back any "
    "scale and shift, including the identity."
)


@experiment("batchnorm_gamma_beta", ids=["S002-25"], claim=_GB_CLAIM)
@single_threaded
def batchnorm_gamma_beta(seed=0, quick=False):
    """Note S002-25: "BN层的作用是把一个batch内的所有数据, 从不规范的分布拉到正态分布", and why gamma and beta.

    Measured with BatchNorm1d in training mode on a batch of 4096 x 8 channels drawn from skewed
    distributions (exponential, chi-square with 2 degrees of freedom, log-normal), float64: the mean and
    variance per channel after BN, the skewness and excess kurtosis before and after (a normal distribution
    has 0 and 0), and the output when gamma = sqrt(var + eps) and beta = mean of the batch.

    Checks: BN output has per-channel mean 0 and variance 1 (max deviation < 1e-4, eps = 1e-5); the note: BN output is
    normal (largest |skewness| < 0.1) -- BN is affine per channel and keeps the shape; with gamma and beta
    set to the batch statistics BN returns its input (max relative error < 1e-9).
    """
    rng = seeded(seed)
    n = 4096 if quick else 65536
    x = np.concatenate(
        [rng.exponential(1.0, (n, 3)), rng.chisquare(2, (n, 3)) * 5 + 3, rng.lognormal(0, 0.5, (n, 2))], 1
    )
    bn = nn.BatchNorm1d(8).to(np.float64)
    bn.train()
    with dn.no_grad():
        y = bn(dn.tensor(x)).numpy()

    def skew(a):
        c = a - a.mean(0)
        return (c**3).mean(0) / c.var(0) ** 1.5

    def kurt(a):
        c = a - a.mean(0)
        return (c**4).mean(0) / c.var(0) ** 2 - 3

    moments = float(max(np.abs(y.mean(0)).max(), np.abs(y.var(0) - 1).max()))
    with dn.no_grad():
        bn.weight.data[...] = np.sqrt(x.var(0) + bn.eps)
        bn.bias.data[...] = x.mean(0)
        back = bn(dn.tensor(x)).numpy()
    ident = float(np.abs(back - x).max() / np.abs(x).max())
    table = Table(
        f"BatchNorm1d (train mode) on {n} samples of skewed channels",
        [
            "channel",
            "skew before",
            "skew after",
            "excess kurtosis before",
            "excess kurtosis after",
            "mean after",
            "var after",
        ],
        [
            [
                i,
                float(skew(x)[i]),
                float(skew(y)[i]),
                float(kurt(x)[i]),
                float(kurt(y)[i]),
                float(y.mean(0)[i]),
                float(y.var(0)[i]),
            ]
            for i in range(8)
        ],
    )
    checks = [
        Check("BN output: max |mean|, |var - 1| over channels", moments, "<", 1e-4),
        Check("BN output normal? largest |skewness| (the note)", float(np.abs(skew(y)).max()), "<", 0.1),
        Check("gamma = sqrt(var + eps), beta = mean: max relative |BN(x) - x|", ident, "<", 1e-9),
    ]
    return Result(
        experiment="batchnorm_gamma_beta",
        claim=_GB_CLAIM,
        checks=checks,
        tables=[table],
        seeds=[seed],
        quick=quick,
        notes="BN's variance uses eps = 1e-5, so the output variance is var / (var + eps), within 1e-4 of 1.",
    )
