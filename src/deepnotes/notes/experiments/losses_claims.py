"""Loss-function claims of the notes: L1 vs L2 (outliers, constant gradient, why MSE for regression),
sigmoid + BCE vs BCE-with-logits, the definition of cross entropy, cross entropy vs MSE for
classification, and the alpha of balanced cross entropy and focal loss."""

from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import accuracy, digits, mean_std, seeded, single_threaded, train_classifier

_L1L2_CLAIM = (
    "L2 is sensitive to outliers (its gradient grows with the error); L1's gradient has magnitude 1 "
    "whatever the error, so it is robust but does not settle near the optimum; MSE is the usual "
    "regression loss (maximum likelihood under Gaussian noise, closed-form solution)."
)


def _lines(rng, n_sets, n, outliers):
    """``n_sets`` independent data sets y = 2x + 1 + N(0, 0.1^2), x ~ U(-1, 1), each of ``n`` points; with
    ``outliers`` a 10% share of every set has y replaced by 10 (gross, one-sided errors)."""
    x = rng.uniform(-1, 1, (n_sets, n))
    y = 2 * x + 1 + rng.normal(0, 0.1, (n_sets, n))
    if outliers:
        k = n // 10
        idx = np.argsort(rng.random((n_sets, n)), axis=1)[:, :k]
        np.put_along_axis(y, idx, 10.0, axis=1)
    return x, y


def _fit(loss_name, x, y, steps):
    """Fit y = w x + b for every data set at once (independent parameters per set, summed loss) with Adam;
    returns (w, b) arrays."""
    w = dn.tensor(np.zeros(x.shape[0])).requires_grad_(True)
    b = dn.tensor(np.zeros(x.shape[0])).requires_grad_(True)
    opt = dn.optim.Adam([w, b], lr=0.05)
    sched = dn.optim.lr_scheduler.StepLR(opt, step_size=max(1, steps // 3), gamma=0.2)
    xt, yt = dn.tensor(x), dn.tensor(y)
    fn = {"MSE": F.mse_loss, "L1": F.l1_loss, "smooth L1": F.smooth_l1_loss}[loss_name]
    for _ in range(steps):
        pred = w.reshape(-1, 1) * xt + b.reshape(-1, 1)
        loss = fn(pred, yt, reduction="sum")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return w.detach().numpy(), b.detach().numpy()


def _closed_form(x, y):
    """Least squares per data set (the normal equations)."""
    xm, ym = x.mean(1, keepdims=True), y.mean(1, keepdims=True)
    w = ((x - xm) * (y - ym)).sum(1) / ((x - xm) ** 2).sum(1)
    return w, ym[:, 0] - w * xm[:, 0]


@experiment("l1_vs_l2_regression", ids=["S000-06", "S001-127"], claim=_L1L2_CLAIM)
@single_threaded
def l1_vs_l2_regression(seed=0, quick=False):
    """Notes S000-06 ("L2 loss 对离群点异常敏感,梯度值容易过大; L1 loss 当预测框与 GT 差距较小时候,梯度仍为 1,
    可能优化不动") and S001-127 (regression uses the squared error: differentiable, closed form).

    Measured: (1) autograd gradients of the summed L1 and L2 losses on residuals from 1e-3 to 1e3;
    (2) fixed-step gradient descent (lr 0.01, 1000 steps) of one scalar towards 0 from 1.0037 with each loss
    (the largest distance over the last 20 steps);
    (3) fits of y = w x + b on many independent data sets at once (y = 2x + 1 + N(0, 0.01), 50 points
    each; 50 sets per seed and setting, 300 in full mode; three seeds, five in full mode), by Adam (600
    steps, lr 0.05 divided by 5 every 200 steps) on the summed MSE, L1 and smooth L1, with and without 10%
    gross outliers (y = 10) (smooth L1 in full mode only); the error is the mean squared error of (w, b) against (2,
    1).  MSE's Adam
    solution is compared with the closed-form least squares.

    Checks: L1's gradient magnitude is 1 for every residual (deviation < 1e-12) while L2's grows 10^6-fold
    over the range; with a fixed step, L1 stays >= 100x farther from the optimum than L2 after 1000 steps;
    with outliers, the MSE fit's parameter error is >= 10x the L1 fit's in every seed; MSE by gradient
    descent reaches the closed form's loss (relative excess < 1e-3 on every data set); under Gaussian noise only,
    MSE's parameter
    error is below L1's in every seed (the efficiency of the mean vs the median: ratio about 2/pi).
    """
    r = dn.tensor(np.logspace(-3, 3, 13)).requires_grad_(True)
    F.l1_loss(r, dn.zeros(13, dtype=np.float64), reduction="sum").backward()
    g1 = np.abs(r.grad.numpy()).copy()
    r.grad = None
    F.mse_loss(r, dn.zeros(13, dtype=np.float64), reduction="sum").backward()
    g2 = np.abs(r.grad.numpy()).copy()
    residuals = r.detach().numpy()
    grad_table = Table(
        "Gradient magnitude of the summed loss vs the residual (autograd, float64)",
        ["residual", "|dL1/dpred|", "|dL2/dpred|"],
        [[float(a), float(b), float(c)] for a, b, c in zip(residuals, g1, g2)],
    )

    final = {}
    traj = {}
    for name, fn in (("L1", F.l1_loss), ("L2", F.mse_loss)):
        theta = dn.tensor(np.array([1.0037])).requires_grad_(True)  # not a multiple of the step
        opt = dn.optim.SGD([theta], lr=0.01)
        path = []
        for _ in range(1000):
            loss = fn(theta, dn.zeros(1, dtype=np.float64), reduction="sum")
            opt.zero_grad()
            loss.backward()
            opt.step()
            path.append(abs(float(theta.item())))
        final[name] = max(path[-20:])
        traj[name] = (list(range(1, 1001)), path)

    seeds = [seed + i for i in range(3 if quick else 5)]
    steps = 600
    n_sets = 50 if quick else 300
    losses = ("MSE", "L1") if quick else ("MSE", "L1", "smooth L1")
    blocks = [(s, outl) for s in seeds for outl in (False, True)]
    data = {}
    for s in seeds:
        rng = seeded(s)
        for outl in (False, True):
            data[(s, outl)] = _lines(rng, n_sets, 50, outl)
    # every data set has its own (w, b); all blocks are fitted in one batched run per loss
    x_all = np.concatenate([data[k][0] for k in blocks])
    y_all = np.concatenate([data[k][1] for k in blocks])
    errs = {}
    wc, bc = _closed_form(x_all, y_all)
    cf_loss = np.mean((wc[:, None] * x_all + bc[:, None] - y_all) ** 2, axis=1)
    cf_gap = 0.0
    for name in losses:
        w, b = _fit(name, x_all, y_all, steps)
        if name == "MSE":
            gd_loss = np.mean((w[:, None] * x_all + b[:, None] - y_all) ** 2, axis=1)
            cf_gap = float(((gd_loss - cf_loss) / cf_loss).max())
        for i, k in enumerate(blocks):
            sl = slice(i * n_sets, (i + 1) * n_sets)
            errs[(*k, name)] = float(np.mean((w[sl] - 2) ** 2 + (b[sl] - 1) ** 2))
    rows = []
    for outl in (False, True):
        for name in losses:
            v = [errs[(s, outl, name)] for s in seeds]
            rows.append(["10% outliers" if outl else "Gaussian noise", name, *mean_std(v), *v])
    fit_table = Table(
        f"Squared parameter error of y = wx + b fits ({n_sets} sets of 50 points per seed, Adam {steps} steps)",
        ["data", "loss", "mean", "std"] + [f"seed {s}" for s in seeds],
        rows,
    )
    out_ratio = [errs[(s, True, "MSE")] / errs[(s, True, "L1")] for s in seeds]
    eff_ratio = [errs[(s, False, "MSE")] / errs[(s, False, "L1")] for s in seeds]
    checks = [
        Check("max | |dL1/dpred| - 1 | over residuals 1e-3..1e3", float(np.abs(g1 - 1).max()), "<", 1e-12),
        Check("L2 gradient at residual 1e3 / at 1e-3", float(g2[-1] / g2[0]), ">=", 1e5),
        Check(
            "fixed-step GD: distance to optimum L1 / L2 after 1000 steps",
            final["L1"] / max(final["L2"], 1e-300),
            ">=",
            100,
        ),
        Check(
            "with outliers: parameter error MSE / L1, smallest over seeds",
            min(out_ratio),
            ">=",
            10,
            spread=mean_std(out_ratio)[1],
        ),
        Check("MSE reached by Adam above the closed-form least squares, largest relative excess", cf_gap, "<", 1e-3),
        Check(
            "Gaussian noise: parameter error MSE / L1, largest over seeds",
            max(eff_ratio),
            "<",
            1.0,
            spread=mean_std(eff_ratio)[1],
        ),
    ]
    fig = Figure(
        "fixed_step", "Distance to the optimum, fixed-step GD (lr 0.01)", "step", "|theta - 0|", traj, logy=True
    )
    return Result(
        experiment="l1_vs_l2_regression",
        claim=_L1L2_CLAIM,
        checks=checks,
        tables=[grad_table, fit_table],
        figures=[fig],
        seeds=seeds,
        quick=quick,
    )


_BCE_CLAIM = (
    "BCEWithLogitsLoss equals sigmoid + BCELoss (and is the numerically safe form); "
    "CrossEntropyLoss takes raw logits, so no softmax should be applied before it."
)


@experiment("bce_logits_vs_sigmoid_bce", ids=["S001-15"], claim=_BCE_CLAIM)
@single_threaded
def bce_logits_vs_sigmoid_bce(seed=0, quick=False):
    """Note S001-15: "nn.BCEWithLogitsLoss() 函数等效于 sigmoid + nn.BCELoss"; for single-label multi-class
    "nn.CrossEntropyLoss(), 无需手动做softmax".

    Measured in float32 against the exact float64 value log(1 + e^-z) (target 1) / log(1 + e^z) (target 0):
    the two forms on logits z in [-5, 5] (where they should agree) and on [-60, 60] (where the sigmoid
    rounds to 0 or 1), loss and gradient.  Then softmax regression on the digits trained with
    cross_entropy on the logits and, wrongly, on softmax(logits) (a second softmax inside the loss), SGD lr
    0.5, three seeds (five in full mode).

    Checks: the two forms agree to 1e-5 (relative) on [-5, 5]; the logits form is within 1e-5 relative
    of the exact value on [-60, 60] while the two-step form is off by > 1 somewhere (its log is clamped);
    the two-step gradient is wrong (by > 0.5) where the logits form is exact; softmax before
    cross_entropy costs > 0.02 test accuracy in every seed.
    """

    def both(z, t):
        zl = dn.tensor(z.astype(np.float32)).requires_grad_(True)
        F.binary_cross_entropy_with_logits(zl, dn.tensor(t.astype(np.float32)), reduction="sum").backward()
        zs = dn.tensor(z.astype(np.float32)).requires_grad_(True)
        lo = F.binary_cross_entropy_with_logits(zl.detach(), dn.tensor(t.astype(np.float32)), reduction="none")
        ls = F.binary_cross_entropy(zs.sigmoid(), dn.tensor(t.astype(np.float32)), reduction="none")
        ls.sum().backward()
        exact = np.logaddexp(0, -z) * t + np.logaddexp(0, z) * (1 - t)
        gexact = 1 / (1 + np.exp(-z)) - t
        return (
            lo.numpy().astype(np.float64),
            ls.detach().numpy().astype(np.float64),
            exact,
            zl.grad.numpy().astype(np.float64),
            zs.grad.numpy().astype(np.float64),
            gexact,
        )

    z_small = np.repeat(np.linspace(-5, 5, 101), 2)
    t_small = np.tile([0.0, 1.0], 101)
    lo, ls, ex, _, _, _ = both(z_small, t_small)
    agree = float(np.max(np.abs(lo - ls) / np.maximum(ex, 1e-3)))
    z_big = np.repeat(np.linspace(-60, 60, 121), 2)
    t_big = np.tile([0.0, 1.0], 121)
    lo, ls, ex, glo, gls, gex = both(z_big, t_big)
    rel_logits = float(np.max(np.abs(lo - ex) / np.maximum(ex, 1e-6)))
    err_two = float(np.max(np.abs(ls - ex)))
    gerr_logits = float(np.max(np.abs(glo - gex)))
    gerr_two = float(np.max(np.abs(gls - gex)))
    zs_show = [-60.0, -20.0, -5.0, 5.0, 20.0, 60.0]
    rows = []
    for zv in zs_show:
        i = int(np.argmin(np.abs(z_big - zv)))  # target 0 row
        rows.append([zv, 0, ex[i], lo[i], ls[i], gex[i], glo[i], gls[i]])
    table1 = Table(
        "BCE, target 0, float32 (exact in float64)",
        [
            "logit z",
            "target",
            "exact loss",
            "with logits",
            "sigmoid + BCE",
            "exact grad",
            "with logits grad",
            "sigmoid + BCE grad",
        ],
        rows,
    )

    seeds = [seed + i for i in range(3 if quick else 5)]
    epochs = 4 if quick else 10
    xtr, ytr, xte, yte = digits()
    acc = {"cross_entropy(logits)": [], "cross_entropy(softmax(logits))": []}
    for s in seeds:
        for name in acc:
            dn.manual_seed(s)
            model = nn.Linear(64, 10)
            fn = (
                F.cross_entropy
                if name == "cross_entropy(logits)"
                else (lambda out, y: F.cross_entropy(F.softmax(out, dim=1), y))
            )
            train_classifier(
                model,
                dn.optim.SGD(model.parameters(), lr=0.5),
                xtr,
                ytr,
                epochs,
                64,
                np.random.default_rng([s, 5]),
                loss_fn=fn,
            )
            acc[name].append(accuracy(model, xte, yte))
    gap = [a - b for a, b in zip(acc["cross_entropy(logits)"], acc["cross_entropy(softmax(logits))"])]
    table2 = Table(
        f"Softmax regression on digits, SGD lr 0.5, {epochs} epochs: test accuracy",
        ["loss", "mean", "std"] + [f"seed {s}" for s in seeds],
        [[k, *mean_std(v), *v] for k, v in acc.items()],
    )
    checks = [
        Check("logits vs two-step BCE on z in [-5, 5], max relative difference", agree, "<", 1e-5),
        Check("BCE with logits vs exact on z in [-60, 60], max relative error", rel_logits, "<", 1e-5),
        Check("sigmoid + BCE vs exact on z in [-60, 60], max absolute error", err_two, ">", 1.0),
        Check(
            f"sigmoid + BCE gradient vs exact, max absolute error (logits form: {gerr_logits:.2g})", gerr_two, ">", 0.5
        ),
        Check(
            "test accuracy lost by a softmax before cross_entropy, smallest over seeds",
            min(gap),
            ">",
            0.02,
            spread=mean_std(gap)[1],
        ),
    ]
    return Result(
        experiment="bce_logits_vs_sigmoid_bce",
        claim=_BCE_CLAIM,
        checks=checks,
        tables=[table1, table2],
        seeds=seeds,
        quick=quick,
    )


_CE_DEF_CLAIM = (
    "Cross entropy H(P, Q) = E_P log Q (as the note writes it); binary CE is "
    "-y log p - (1-y) log(1-p); multi-class CE does not involve the negative classes."
)


@experiment("cross_entropy_definition", ids=["S001-91"], claim=_CE_DEF_CLAIM)
@single_threaded
def cross_entropy_definition(seed=0, quick=False):
    """Note S001-91: "交叉熵定义: H(P,Q) = E_{x~P} log Q(x) = -sum_i P(x_i) log Q(x_i)", the binary and
    multi-class formulas, and "多分类的loss不用考虑负样本, 只考虑正样本的判断准确率提高即可".

    Measured on random distributions P, Q over 10 classes (float64, 200 pairs; 2000 in full mode) and on
    random logits with class labels: deepnotes' cross_entropy with probability targets, the note's first
    expression E_P log Q, H(P) + KL(P||Q) (F.kl_div), the binary formula against
    F.binary_cross_entropy, and the gradient of the multi-class loss with respect to the logits of the
    wrong (negative) classes, plus the change of those logits after one SGD step.

    Checks: the note's E_P log Q equals the cross entropy (max |difference| < 1e-9) -- it has the wrong sign;
    -sum P log Q equals deepnotes' cross entropy and H(P) + KL(P||Q) (< 1e-9); the binary formula equals
    binary_cross_entropy (< 1e-9); the negative classes get no gradient (largest |dL/dz_c| over wrong
    classes < 1e-9, the note's claim) -- they get p_c, and one SGD step lowers every wrong-class logit.
    """
    rng = seeded(seed)
    n = 200 if quick else 2000
    p = rng.dirichlet(np.ones(10), n)
    logits = rng.normal(0, 2, (n, 10))
    q = np.exp(logits - logits.max(1, keepdims=True))
    q /= q.sum(1, keepdims=True)
    ce = F.cross_entropy(dn.tensor(logits), dn.tensor(p), reduction="none").numpy()
    notes_expr = (p * np.log(q)).sum(1)
    minus = -(p * np.log(q)).sum(1)
    kl = F.kl_div(dn.tensor(np.log(q)), dn.tensor(p), reduction="none").numpy().sum(1)
    hp = -(p * np.log(p)).sum(1)
    yb = rng.integers(0, 2, n).astype(np.float64)
    pb = rng.uniform(0.01, 0.99, n)
    bce_formula = -yb * np.log(pb) - (1 - yb) * np.log(1 - pb)
    bce = F.binary_cross_entropy(dn.tensor(pb), dn.tensor(yb), reduction="none").numpy()

    labels = rng.integers(0, 10, n)
    z = dn.tensor(logits.copy()).requires_grad_(True)
    F.cross_entropy(z, dn.tensor(labels), reduction="sum").backward()
    grad = z.grad.numpy()
    wrong = np.ones_like(grad, dtype=bool)
    wrong[np.arange(n), labels] = False
    neg_grad = np.abs(grad[wrong])
    grad_vs_p = float(np.abs(grad[wrong] - q[wrong]).max())
    stepped = logits - 0.1 * grad
    lowered = float(((stepped - logits)[wrong] < 0).mean())
    table = Table(
        f"Cross entropy on {n} random (P, Q) pairs over 10 classes, float64",
        ["quantity", "value"],
        [
            ["mean -sum P log Q", float(minus.mean())],
            ["mean of the note's E_P log Q", float(notes_expr.mean())],
            ["largest E_P log Q (always < 0)", float(notes_expr.max())],
            ["max |cross_entropy - (-sum P log Q)|", float(np.abs(ce - minus).max())],
            ["max |cross_entropy - (H(P) + KL(P||Q))|", float(np.abs(ce - hp - kl).max())],
            ["max |binary formula - binary_cross_entropy|", float(np.abs(bce_formula - bce).max())],
            ["mean |dL/dz| of the wrong classes", float(neg_grad.mean())],
            ["max |dL/dz_c - p_c| over wrong classes", grad_vs_p],
            ["share of wrong-class logits lowered by one SGD step", lowered],
        ],
    )
    checks = [
        Check("max |E_P log Q (the note) - cross entropy|", float(np.abs(notes_expr - ce).max()), "<", 1e-9),
        Check(
            "max |cross_entropy - (H(P) + KL(P||Q))| and vs -sum P log Q",
            float(max(np.abs(ce - hp - kl).max(), np.abs(ce - minus).max())),
            "<",
            1e-9,
        ),
        Check("max |binary formula - binary_cross_entropy|", float(np.abs(bce_formula - bce).max()), "<", 1e-9),
        Check(
            "largest |dL/dz_c| over the wrong classes (the note: they do not matter)", float(neg_grad.max()), "<", 1e-9
        ),
    ]
    return Result(
        experiment="cross_entropy_definition",
        claim=_CE_DEF_CLAIM,
        checks=checks,
        tables=[table],
        seeds=[seed],
        quick=quick,
        notes="The wrong-class gradient equals the predicted probability p_c (checked to "
        f"{grad_vs_p:.1e}); one SGD step lowers {lowered:.0%} of the wrong-class logits.",
    )


_CE_MSE_CLAIM = (
    "Classification networks use cross entropy: it is the likelihood of the labels and its "
    "gradient does not vanish when a softmax output is confidently wrong, unlike MSE."
)


@experiment("cross_entropy_vs_mse", ids=["S002-47"], claim=_CE_MSE_CLAIM)
@single_threaded
def cross_entropy_vs_mse(seed=0, quick=False):
    """Note S002-47: networks use cross entropy because it measures how close the output distribution is
    to the one-hot label.

    Measured: (1) the gradient with respect to the true-class logit of cross entropy and of MSE between
    softmax(z) and the one-hot label, as the true class's probability falls from 0.5 to 1e-6 (10 classes,
    float64, autograd); (2) softmax regression on the digits from a confidently wrong start (weights scaled
    so the initial logits have standard deviation about 10), trained with SGD (lr 0.5) on each loss, three
    seeds (five in full mode); (3) cross entropy = -log-likelihood of the labels (F.nll_loss of log_softmax).

    Checks: at p_true = 1e-4 the CE gradient is >= 100x the MSE gradient; CE reaches >= 0.1 higher test
    accuracy than MSE in every seed; cross_entropy equals the negative log-likelihood (< 1e-6).
    """
    p_true = np.array([0.5, 0.1, 1e-2, 1e-3, 1e-4, 1e-6])
    rows, ratio_at = [], None
    for pt in p_true:
        zt = np.log(pt / (1 - pt) * 9)  # nine other logits at 0 give softmax prob pt for class 0
        z = dn.tensor(np.array([[zt] + [0.0] * 9])).requires_grad_(True)
        F.cross_entropy(z, dn.tensor(np.array([0]))).backward()
        gce = abs(float(z.grad.numpy()[0, 0]))
        z2 = dn.tensor(np.array([[zt] + [0.0] * 9])).requires_grad_(True)
        F.mse_loss(F.softmax(z2, dim=1), dn.tensor(np.eye(10)[[0]]), reduction="sum").backward()
        gmse = abs(float(z2.grad.numpy()[0, 0]))
        rows.append([float(pt), gce, gmse, gce / gmse])
        if pt == 1e-4:
            ratio_at = gce / gmse
    table1 = Table(
        "|dL/dz_true| vs the true class's softmax probability (10 classes)",
        ["p_true", "cross entropy", "MSE on softmax", "ratio"],
        rows,
    )

    seeds = [seed + i for i in range(3 if quick else 5)]
    epochs = 4 if quick else 10
    xtr, ytr, xte, yte = digits()
    onehot = np.eye(10, dtype=np.float32)
    acc = {"cross entropy": [], "MSE on softmax": []}
    nll_gap = 0.0
    for s in seeds:
        for name in acc:
            dn.manual_seed(s)
            model = nn.Linear(64, 10)
            with dn.no_grad():
                model.weight.data[...] = np.random.default_rng([s, 9]).normal(0, 2.5, (10, 64))
            fn = (
                F.cross_entropy
                if name == "cross entropy"
                else (
                    lambda out, y: (
                        F.mse_loss(
                            F.softmax(out, dim=1), dn.tensor(onehot[y.numpy().astype(np.int64)]), reduction="sum"
                        )
                        / out.shape[0]
                    )
                )
            )
            train_classifier(
                model,
                dn.optim.SGD(model.parameters(), lr=0.5),
                xtr,
                ytr,
                epochs,
                64,
                np.random.default_rng([s, 5]),
                loss_fn=fn,
            )
            acc[name].append(accuracy(model, xte, yte))
            if name == "cross entropy":
                with dn.no_grad():
                    out = model(dn.tensor(xte))
                    a = F.cross_entropy(out, dn.tensor(yte)).item()
                    b = F.nll_loss(F.log_softmax(out, dim=1), dn.tensor(yte)).item()
                nll_gap = max(nll_gap, abs(a - b))
    gap = [a - b for a, b in zip(acc["cross entropy"], acc["MSE on softmax"])]
    table2 = Table(
        f"Softmax regression on digits from a confidently wrong start, SGD lr 0.5, {epochs} epochs",
        ["loss", "mean test accuracy", "std"] + [f"seed {s}" for s in seeds],
        [[k, *mean_std(v), *v] for k, v in acc.items()],
    )
    checks = [
        Check("CE / MSE gradient on the true logit at p_true = 1e-4", ratio_at, ">=", 100),
        Check("test accuracy CE minus MSE, smallest over seeds", min(gap), ">=", 0.1, spread=mean_std(gap)[1]),
        Check("|cross_entropy - nll_loss(log_softmax)|", nll_gap, "<", 1e-6),
    ]
    return Result(
        experiment="cross_entropy_vs_mse",
        claim=_CE_MSE_CLAIM,
        checks=checks,
        tables=[table1, table2],
        seeds=seeds,
        quick=quick,
    )


_ALPHA_CLAIM = (
    "Balanced CE weights positives by alpha with alpha / (1 - alpha) = n_neg / n_pos, so alone it "
    "wants alpha > 0.5 (0.75 in the paper); with focal loss the easy negatives are down-weighted "
    "so much that the positives dominate, hence alpha = 0.25 < 0.5."
)


@experiment("focal_alpha_balance", ids=["S001-92"], claim=_ALPHA_CLAIM)
@single_threaded
def focal_alpha_balance(seed=0, quick=False):
    """Note S001-92: alpha balances positives and negatives; alone (balanced CE) alpha > 0.5 works best
    (0.75 in RetinaNet); with focal loss (gamma = 2) "很多易分负样本权重被降的很低, 继而导致难分正样本比难分负样本
    数量多, 所以 alpha 小于 0.5".

    Measured on generated data: 2-D features, 2% positives N((1.5, 1.5), I) among negatives N(0, I) (5000
    points).  A logistic classifier initialised like RetinaNet (bias = -log(99), prior 0.01) is trained
    with Adam (lr 0.05) on unweighted CE and, separately, on unweighted focal loss (gamma 2, alpha -1).  At
    the end the summed loss of the positives and of the negatives is taken under the loss the model was
    trained with; the alpha that would give both classes equal total loss is
    alpha* = L_neg / (L_pos + L_neg).  Three seeds (five in full mode).

    Checks: under CE the negatives carry most of the loss, alpha* > 0.5 in every seed; under focal loss
    the positives carry most of it, alpha* < 0.5 in every seed; the balanced-CE alpha from the note's rule
    n_neg / (n_pos + n_neg) equalises the two classes' total weights (|difference| < 1e-9).
    """
    seeds = [seed + i for i in range(3 if quick else 5)]
    steps = 150 if quick else 400
    alpha_star = {"CE": [], "focal (gamma 2)": []}
    shares = []
    rule_gap = 0.0
    for s in seeds:
        rng = seeded(s)
        n = 5000
        y = (rng.random(n) < 0.02).astype(np.float32)
        x = (rng.normal(0, 1, (n, 2)) + 1.5 * y[:, None]).astype(np.float32)
        n_pos = float(y.sum())
        a_rule = (n - n_pos) / n
        rule_gap = max(rule_gap, abs(a_rule * n_pos - (1 - a_rule) * (n - n_pos)))
        for name in alpha_star:
            dn.manual_seed(s)
            model = nn.Linear(2, 1)
            with dn.no_grad():
                model.bias.data[...] = -np.log(99.0)
            opt = dn.optim.Adam(model.parameters(), lr=0.05)
            xt, yt = dn.tensor(x), dn.tensor(y)

            def per_sample():
                z = model(xt).reshape(-1)
                if name == "CE":
                    return F.binary_cross_entropy_with_logits(z, yt, reduction="none")
                return F.sigmoid_focal_loss(z, yt, alpha=-1, gamma=2, reduction="none")

            for _ in range(steps):
                loss = per_sample().mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            with dn.no_grad():
                li = per_sample().numpy()
            l_pos, l_neg = float(li[y == 1].sum()), float(li[y == 0].sum())
            alpha_star[name].append(l_neg / (l_pos + l_neg))
            shares.append([s, name, int(n_pos), l_pos, l_neg, l_neg / (l_pos + l_neg)])
    table = Table(
        f"Loss carried by positives and negatives after {steps} Adam steps (2% positives)",
        [
            "seed",
            "trained with",
            "positives",
            "sum loss positives",
            "sum loss negatives",
            "alpha* = L_neg / (L_pos + L_neg)",
        ],
        shares,
    )
    ce, fl = alpha_star["CE"], alpha_star["focal (gamma 2)"]
    checks = [
        Check("alpha* under CE, smallest over seeds", min(ce), ">", 0.5, spread=mean_std(ce)[1]),
        Check("alpha* under focal loss (gamma 2), largest over seeds", max(fl), "<", 0.5, spread=mean_std(fl)[1]),
        Check("note's alpha rule: |alpha n_pos - (1 - alpha) n_neg|", rule_gap, "<", 1e-9),
    ]
    return Result(
        experiment="focal_alpha_balance", claim=_ALPHA_CLAIM, checks=checks, tables=[table], seeds=seeds, quick=quick
    )
