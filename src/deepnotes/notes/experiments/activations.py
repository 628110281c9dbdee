"""Activation functions: vanishing gradients through sigmoid vs ReLU, and the overflow-safe softmax."""

from __future__ import annotations

import math

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import mean_std, seeded, single_threaded

_GRAD_CLAIM = (
    "Sigmoid saturates (derivative at most 1/4), so gradients vanish towards the input layers of a "
    "deep network; ReLU's derivative is 1 for positive inputs, so ReLU networks do not suffer from "
    "vanishing gradients."
)


def _layer_grad_norms(act, init, depth, width, rng, batch=128):
    """At initialisation of a ``depth``-layer MLP (cross entropy on random inputs and labels): the norm of
    the gradient with respect to the input of every Linear layer (dL/dh, the back-propagated signal) and of
    every Linear weight."""
    lins = []
    for i in range(depth):
        lin = nn.Linear(width, 10 if i == depth - 1 else width)
        init(lin.weight)
        nn.init.zeros_(lin.bias)
        lins.append(lin)
    h = dn.tensor(rng.standard_normal((batch, width)).astype(np.float32))
    inputs = []
    for i, lin in enumerate(lins):
        if i > 0:
            h = h.sigmoid() if act == "sigmoid" else h.relu()
        h.requires_grad_(True) if i == 0 else h.retain_grad()
        inputs.append(h)
        h = lin(h)
    F.cross_entropy(h, dn.tensor(rng.integers(0, 10, batch))).backward()
    return (
        [float(np.linalg.norm(t.grad.data)) for t in inputs],
        [float(np.linalg.norm(m.weight.grad.data)) for m in lins],
    )


@experiment(
    "sigmoid_vs_relu_gradients", ids=["S001-14", "S002-09", "S001-17", "S001-117", "S002-02"], claim=_GRAD_CLAIM
)
@single_threaded
def sigmoid_vs_relu_gradients(seed=0, quick=False):
    """Notes S001-14 / S002-09 / S001-117: sigmoid networks have vanishing gradients (sigma' <= 1/4), ReLU
    networks do not ("relu 在大于0的部分梯度为常数, 所以不会有梯度弥散现象").

    Measured at initialisation, in a 20-layer MLP of width 64 (cross entropy on a random batch): the norm of
    the back-propagated gradient dL/dh at the input of each layer (and of each weight gradient), and the
    ratio first layer / last layer.  Three set-ups: sigmoid
    with Xavier init (the init meant for saturating activations), ReLU with He init, and ReLU with the same
    Xavier init as the sigmoid net (the activation alone, init unchanged).  Mean of log10 ratios over
    seeds.
    Checks: the sigmoid net's dL/dh shrinks by more than 100x from the last to the first layer; with He init ReLU
    keeps the ratio within 10x; with the sigmoid's (Xavier) init ReLU also keeps it within 10x (the claim
    that the activation alone prevents vanishing); under the same init ReLU's first-layer gradient is more
    than 10x the sigmoid's.
    """
    depth, width = 20, 64
    seeds = [seed, seed + 1, seed + 2] if quick else [seed + i for i in range(5)]
    setups = {
        "sigmoid + Xavier": ("sigmoid", nn.init.xavier_normal_),
        "ReLU + He": ("relu", lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
        "ReLU + Xavier": ("relu", nn.init.xavier_normal_),
    }
    signal = {k: [] for k in setups}
    weight = {k: [] for k in setups}
    for s in seeds:
        for name, (act, init) in setups.items():
            g_in, g_w = _layer_grad_norms(act, init, depth, width, seeded(s))
            signal[name].append(g_in)
            weight[name].append(g_w)
    # vanishing = the back-propagated signal dL/dh shrinks from the output side to the input side
    stats = {k: mean_std([math.log10(g[0] / g[-1]) for g in v]) for k, v in signal.items()}
    same_mean, same_sd = mean_std(
        [math.log10(r[0] / s[0]) for r, s in zip(weight["ReLU + Xavier"], weight["sigmoid + Xavier"])]
    )
    mean_sig = {k: np.mean(np.array(v), axis=0) for k, v in signal.items()}
    mean_w = {k: np.mean(np.array(v), axis=0) for k, v in weight.items()}
    layers = list(range(1, depth + 1))
    checks = [
        Check(
            f"sigmoid + Xavier: log10(|dL/dh| at layer 1 / at layer {depth})",
            stats["sigmoid + Xavier"][0],
            "<",
            -2.0,
            spread=stats["sigmoid + Xavier"][1],
        ),
        Check(
            f"ReLU + He: |log10(|dL/dh| at layer 1 / at layer {depth})|",
            abs(stats["ReLU + He"][0]),
            "<",
            1.0,
            spread=stats["ReLU + He"][1],
        ),
        Check(
            f"ReLU + Xavier (the sigmoid's init): |log10(|dL/dh| at layer 1 / at layer {depth})|",
            abs(stats["ReLU + Xavier"][0]),
            "<",
            1.0,
            spread=stats["ReLU + Xavier"][1],
        ),
        Check("same init: log10(ReLU / sigmoid weight-gradient norm at layer 1)", same_mean, ">", 1.0, spread=same_sd),
    ]
    figs = [
        Figure(
            "signal_grad_per_layer",
            f"|dL/dh| at the input of each layer ({depth}-layer MLP, at init)",
            "layer (1 = input side)",
            "gradient norm",
            {k: (layers, [float(v) for v in mean_sig[k]]) for k in setups},
            logy=True,
        ),
        Figure(
            "weight_grad_per_layer",
            f"|dL/dW| per layer ({depth}-layer MLP, at init)",
            "layer (1 = input side)",
            "gradient norm",
            {k: (layers, [float(v) for v in mean_w[k]]) for k in setups},
            logy=True,
        ),
    ]
    cols = ["layer"] + [f"dL/dh {k}" for k in setups] + [f"dL/dW {k}" for k in setups]
    rows = [
        [i] + [float(mean_sig[k][i - 1]) for k in setups] + [float(mean_w[k][i - 1]) for k in setups] for i in layers
    ]
    return Result(
        experiment="sigmoid_vs_relu_gradients",
        claim=_GRAD_CLAIM,
        checks=checks,
        tables=[Table(f"Mean gradient norms per layer over {len(seeds)} seeds", cols, rows)],
        figures=figs,
        seeds=seeds,
        quick=quick,
        notes="ReLU avoids the vanishing signal only together with an init that keeps the variance "
        "(He); with Xavier the back-propagated signal still halves in variance per layer. The "
        "weight gradients of ReLU + Xavier look flat across layers because the shrinking "
        "signal meets growing activations, but they are uniformly tiny.",
    )


_SOFTMAX_CLAIM = (
    "Computing softmax directly from exp(x) overflows for large logits; subtracting the row "
    "maximum first gives the same function without overflow."
)


def _naive_softmax(x):
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        e = np.exp(x)
        return e / e.sum(axis=1, keepdims=True)


@experiment("softmax_overflow", ids=["S001-24", "S001-23"], claim=_SOFTMAX_CLAIM)
@single_threaded
def softmax_overflow(seed=0, quick=False):
    """Notes S001-24: the direct formula exp(x_i) / sum_j exp(x_j) overflows; subtract the row maximum
    (the notes' NumPy snippet, which as printed has syntax errors: ``{`` and ``keepdim``).

    Measured in float32 on rows of 10 logits ``level + N(0, 1)`` for levels -1000, 0, 10, 100 and 1000: the
    share of rows where the naive formula gives a non-finite result, and the largest absolute error of the
    naive formula and of ``deepnotes.softmax`` against a float64 reference (max-subtracted; the softmax is
    invariant to the level, so the reference is exact to float64 rounding).
    Checks: at level 1000 every naive row is NaN/inf; at every level deepnotes.softmax is within 1e-6 of
    the reference; at level 0 the naive formula is also within 1e-6 (the trick changes nothing where there
    is no overflow).
    """
    rng = seeded(seed)
    n = 200 if quick else 2000
    scales = [-1000.0, 0.0, 10.0, 100.0, 1000.0]
    rows, nonfinite, err_dn, err_naive = [], {}, {}, {}
    for scale in scales:
        x = (rng.standard_normal((n, 10)) + scale).astype(np.float32)
        x64 = x.astype(np.float64)
        e = np.exp(x64 - x64.max(axis=1, keepdims=True))
        ref = e / e.sum(axis=1, keepdims=True)
        naive = _naive_softmax(x)
        ours = dn.softmax(dn.tensor(x), dim=1).numpy().astype(np.float64)
        bad = ~np.isfinite(naive).all(axis=1)
        nonfinite[scale] = float(bad.mean())
        err_naive[scale] = float(np.abs(naive[~bad] - ref[~bad]).max()) if (~bad).any() else float("nan")
        err_dn[scale] = float(np.abs(ours - ref).max())
        rows.append([scale, nonfinite[scale], err_naive[scale], err_dn[scale], bool(np.isfinite(ours).all())])
    checks = [
        Check("share of non-finite naive rows at logits ~ 1000", nonfinite[1000.0], ">=", 1.0),
        Check("max |deepnotes.softmax - float64 reference| over all levels", max(err_dn.values()), "<", 1e-6),
        Check("max |naive - reference| at logits ~ 0", err_naive[0.0], "<", 1e-6),
    ]
    fig = Figure(
        "nonfinite_share",
        "Rows where the naive softmax is NaN/inf (float32)",
        "logit level",
        "share of rows",
        {
            "naive": (scales, [nonfinite[s] for s in scales]),
            "deepnotes.softmax": (scales, [0.0 if r[4] else 1.0 for r in rows]),
        },
        kind="bar",
    )
    return Result(
        experiment="softmax_overflow",
        claim=_SOFTMAX_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"float32 softmax on {n} rows of 10 logits",
                [
                    "logit level",
                    "naive non-finite share",
                    "naive max error (finite rows)",
                    "deepnotes max error",
                    "deepnotes all finite",
                ],
                rows,
            )
        ],
        figures=[fig],
        seeds=[seed],
        quick=quick,
    )
