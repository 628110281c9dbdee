"""Regularisation: label smoothing and confidence, dropout in training and evaluation."""

from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import digits, logits_of, mean_std, seeded, single_threaded, train_classifier

_LS_CLAIM = (
    "Label smoothing (targets 1 - eps + eps/N and eps/N) keeps the model from being over-confident: "
    "the optimal predicted probability of the true class is 1 - eps + eps/N, confidence drops and "
    "calibration and generalisation improve."
)


def _ece(probs, labels, bins=15):
    conf, pred = probs.max(1), probs.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs((pred[sel] == labels[sel]).mean() - conf[sel].mean())
    return float(ece)


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@experiment("label_smoothing_calibration", ids=["S001-63"], claim=_LS_CLAIM)
@single_threaded
def label_smoothing_calibration(seed=0, quick=False):
    """Notes S001-63: with smoothed labels q_y = 1 - eps + eps/N the model is not pushed to over-confidence;
    it softens the effect of wrong labels and reduces over-fitting.

    Measured: (1) the optimum itself: free logits (one vector per example, so nothing limits the fit)
    minimised with deepnotes' cross_entropy(label_smoothing=0.1) by Adam, and the probability they give
    the true class (N = 10, formula 1 - eps + eps/N = 0.91); (2) on the bundled digits, a 64-128-10 MLP
    trained by Adam (lr 3e-3, batch 32) with eps = 0 and eps = 0.1: mean max-probability on train and
    test, expected calibration error (15 bins) and accuracy on the test split, over several seeds.
    Checks: the optimum's true-class probability is within 0.005 of 0.91; test confidence is lower than
    without smoothing; test ECE is lower than without smoothing; test accuracy is not lower by more than
    0.005.
    """
    xtr, ytr, xte, yte = digits()
    epochs = 6 if quick else 20
    seeds = [seed, seed + 1] if quick else [seed + i for i in range(3)]
    eps_values = [0.0, 0.1]
    m = {e: {"train conf": [], "test conf": [], "ECE": [], "acc": []} for e in eps_values}
    for s in seeds:
        for eps in eps_values:
            rng = seeded(s)
            model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
            loss_fn = lambda z, t, eps=eps: F.cross_entropy(z, t, label_smoothing=eps)  # noqa: E731
            train_classifier(
                model, dn.optim.Adam(model.parameters(), lr=3e-3), xtr, ytr, epochs, 32, rng, loss_fn=loss_fn
            )
            ptr, pte = _softmax(logits_of(model, xtr)), _softmax(logits_of(model, xte))
            m[eps]["train conf"].append(float(ptr.max(1).mean()))
            m[eps]["test conf"].append(float(pte.max(1).mean()))
            m[eps]["ECE"].append(_ece(pte, yte))
            m[eps]["acc"].append(float((pte.argmax(1) == yte).mean()))
    avg = {e: {k: mean_std(v) for k, v in d.items()} for e, d in m.items()}

    def diff(key):
        return mean_std([a - b for a, b in zip(m[0.1][key], m[0.0][key])])

    target = 1 - 0.1 + 0.1 / 10
    rng = seeded(seed)
    free = dn.tensor(rng.standard_normal((64, 10)).astype(np.float32), requires_grad=True)
    labels = rng.integers(0, 10, 64)
    opt = dn.optim.Adam([free], lr=0.1)
    for _ in range(300):
        loss = F.cross_entropy(free, dn.tensor(labels), label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    p_opt = float(_softmax(free.detach().numpy().astype(np.float64))[np.arange(64), labels].mean())
    dconf, dece, dacc = diff("test conf"), diff("ECE"), diff("acc")
    checks = [
        Check(f"free logits at the optimum: |p(true class) - {target:.2f}|", abs(p_opt - target), "<", 0.005),
        Check("test confidence, eps 0.1 - eps 0", dconf[0], "<", 0.0, spread=dconf[1]),
        Check("test ECE, eps 0.1 - eps 0", dece[0], "<", 0.0, spread=dece[1]),
        Check("test accuracy, eps 0.1 - eps 0", dacc[0], ">=", -0.005, spread=dacc[1]),
    ]
    rows = [[e] + [avg[e][k][0] for k in ("train conf", "test conf", "ECE", "acc")] for e in eps_values]
    return Result(
        experiment="label_smoothing_calibration",
        claim=_LS_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"MLP on digits, {epochs} epochs, mean over {len(seeds)} seeds",
                ["eps", "train confidence", "test confidence", "test ECE", "test accuracy"],
                rows,
            )
        ],
        figures=[
            Figure(
                "confidence",
                "Mean max-probability and ECE",
                "eps",
                "value",
                {k: (eps_values, [avg[e][k][0] for e in eps_values]) for k in ("test conf", "ECE", "acc")},
                kind="bar",
            )
        ],
        seeds=seeds,
        quick=quick,
        notes=f"Free logits at the label-smoothing optimum give the true class {p_opt:.4f}. The MLP's "
        "train confidence stays below that optimum after finite training.",
    )


_DROP_CLAIM = (
    "Dropout is active only in training; with inverted scaling (kept units divided by 1 - p) the "
    "expected activation equals the evaluation-mode activation, and evaluation is the identity."
)


@experiment("dropout_train_vs_eval", ids=["S003-36", "S002-16"], claim=_DROP_CLAIM)
@single_threaded
def dropout_train_vs_eval(seed=0, quick=False):
    """Notes S003-36: dropout drops units at random in training; at test time all units take part, weighted
    by the keep probability.  deepnotes (like PyTorch) uses inverted dropout: kept units are scaled by
    1/(1 - p) in training, so evaluation needs no weighting at all.

    Measured with nn.Dropout(p = 0.5) on a fixed positive input: the share of zeros and the mean in
    training mode, the output in eval mode; and for an MLP with dropout between two ReLU layers (random
    weights), the mean and spread of the train-mode outputs over many draws against the eval output (with
    a non-linearity after the dropout the eval output is only an approximation of that mean).
    Checks: eval mode is the identity (max |y - x| = 0); the zero share is within 0.01 of p; the
    train-mode mean is within 1% of the input mean; the MLP's average train-mode output is within 5% of
    its eval output, while single train-mode draws vary (relative spread > 0.05).
    """
    rng = seeded(seed)
    p = 0.5
    n = 100_000 if quick else 1_000_000
    x = dn.tensor((rng.random(n) + 0.5).astype(np.float32))
    drop = nn.Dropout(p)
    drop.train()
    y_train = drop(x).numpy()
    drop.eval()
    y_eval = drop(x).numpy()
    zero_share = float((y_train == 0).mean())
    mean_ratio = float(y_train.mean() / x.numpy().mean())
    # a non-linearity after the dropout: averaging over masks is then only approximately the eval output
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Dropout(p), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
    inp = dn.tensor(rng.standard_normal((8, 16)).astype(np.float32))
    draws = 4000 if quick else 20000
    model.train()
    with dn.no_grad():
        # every row of the repeated batch gets its own mask: one forward pass holds all the draws
        outs = model(dn.tensor(np.tile(inp.numpy(), (draws, 1)))).numpy().reshape(draws, *inp.shape[:1], 4)
    model.eval()
    ev = logits_of(model, inp.numpy())
    scale = np.abs(ev).mean()
    mc_err = float(np.abs(outs.mean(0) - ev).mean() / scale)
    spread = float(outs.std(0).mean() / scale)
    checks = [
        Check("eval mode: max |y - x|", float(np.abs(y_eval - x.numpy()).max()), "<=", 0.0),
        Check(f"train mode: |zero share - {p}|", abs(zero_share - p), "<", 0.01),
        Check("train mode: |mean(y) / mean(x) - 1|", abs(mean_ratio - 1), "<", 0.01),
        Check(f"MLP: |mean of {draws} train-mode outputs - eval output| (relative)", mc_err, "<", 0.05),
        Check("MLP: spread of single train-mode outputs (relative)", spread, ">", 0.05),
    ]
    rows = [
        ["train", zero_share, mean_ratio, spread],
        ["eval", float((y_eval == 0).mean()), float(y_eval.mean() / x.numpy().mean()), 0.0],
    ]
    return Result(
        experiment="dropout_train_vs_eval",
        claim=_DROP_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"nn.Dropout(p={p}) on {n} values in [0.5, 1.5); MLP over {draws} draws",
                ["mode", "zero share", "mean(y)/mean(x)", "MLP output spread (rel.)"],
                rows,
            )
        ],
        figures=[
            Figure(
                "mlp_outputs",
                "MLP output 0 of sample 0 over train-mode draws",
                "draw",
                "output",
                {
                    "train mode": (list(range(draws)), [float(v) for v in outs[:, 0, 0]]),
                    "eval mode": ([0, draws - 1], [float(ev[0, 0])] * 2),
                },
            )
        ],
        seeds=[seed],
        quick=quick,
        notes="Scaling by the keep probability at test time (the notes' wording) is for classic "
        "dropout; with the inverted dropout of deepnotes and PyTorch it would shrink outputs "
        "by 1 - p.",
    )
