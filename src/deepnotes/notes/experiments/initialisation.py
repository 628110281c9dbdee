"""Weight initialisation: variance through deep ReLU stacks (Xavier vs He) and the symmetry of equal weights."""

from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import accuracy, digits, mean_std, seeded, single_threaded, train_classifier

_VAR_CLAIM = (
    "In a deep ReLU network He init (Var w = 2/fan_in) keeps the activation variance constant from "
    "layer to layer, while Xavier init (Var w = 2/(fan_in + fan_out)), made for activations "
    "symmetric about 0, halves it at every ReLU layer."
)


def _preactivation_variances(init, depth, width, rng, batch=256):
    h = dn.tensor(rng.standard_normal((batch, width)).astype(np.float32))
    out = []
    with dn.no_grad():
        for i in range(depth):
            lin = nn.Linear(width, width)
            init(lin.weight)
            nn.init.zeros_(lin.bias)
            z = lin(h if i == 0 else h.relu())
            out.append(float(z.numpy().var()))
            h = z
    return out


@experiment("xavier_vs_he_variance", ids=["S001-44", "S001-46", "S001-42"], claim=_VAR_CLAIM)
@single_threaded
def xavier_vs_he_variance(seed=0, quick=False):
    """Notes S001-44 / S001-46: Xavier init suits tanh-like activations, not ReLU; He init divides the
    Xavier variance by 1/2 because ReLU zeroes half of the units, and keeps the variance constant.

    Measured: the variance of the pre-activations z_l of every layer of a 30-layer ReLU MLP (width 128,
    zero biases, standard normal inputs) under Xavier-uniform and He-normal (fan_in, ReLU gain) weights,
    over many seeds.  The per-layer factor is the geometric mean of Var z_{l+1} / Var z_l.
    Checks: with He the per-layer factor lies in [0.9, 1.1] (the variance is kept); with Xavier it lies
    in [0.4, 0.6] (i.e. about 1/2).

    One network alone is a poor witness of the end-to-end ratio at this width: the product of 30
    random 128x128 matrices spreads log2(Var z_30 / Var z_1) over about +-1.4 (one standard deviation)
    from seed to seed, and its typical value sits slightly below the expected one (about -0.03 per
    layer in log2: Jensen's inequality at finite width).  The per-layer factor averages that noise
    over the 29 steps and the seeds, and tells 1 from 1/2 without ambiguity.
    """
    depth, width = 30, 128
    seeds = [seed + i for i in range(8 if quick else 24)]
    inits = {"Xavier": nn.init.xavier_uniform_, "He": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")}
    var = {k: [_preactivation_variances(f, depth, width, seeded(s)) for s in seeds] for k, f in inits.items()}
    fh, fh_sd = mean_std([(v[-1] / v[0]) ** (1.0 / (depth - 1)) for v in var["He"]])
    fx, fx_sd = mean_std([(v[-1] / v[0]) ** (1.0 / (depth - 1)) for v in var["Xavier"]])
    mean_var = {k: np.exp(np.mean(np.log(np.array(v)), axis=0)) for k, v in var.items()}
    layers = list(range(1, depth + 1))
    checks = [
        Check("He: per-layer variance factor", fh, ">=", 0.9, spread=fh_sd),
        Check("He: per-layer variance factor", fh, "<=", 1.1, spread=fh_sd),
        Check("Xavier: per-layer variance factor", fx, ">=", 0.4, spread=fx_sd),
        Check("Xavier: per-layer variance factor", fx, "<=", 0.6, spread=fx_sd),
    ]
    return Result(
        experiment="xavier_vs_he_variance",
        claim=_VAR_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Variance of the pre-activations (geometric mean over {len(seeds)} seeds)",
                ["layer", "Xavier", "He"],
                [[i, float(mean_var["Xavier"][i - 1]), float(mean_var["He"][i - 1])] for i in layers],
            )
        ],
        figures=[
            Figure(
                "variance_per_layer",
                f"Pre-activation variance in a {depth}-layer ReLU MLP",
                "layer",
                "Var z",
                {k: (layers, [float(v) for v in mean_var[k]]) for k in inits},
                logy=True,
            )
        ],
        seeds=seeds,
        quick=quick,
    )


_SYM_CLAIM = (
    "If all weights start at zero (or at one common value) every hidden unit of a layer computes "
    "the same thing and receives the same update, so the units stay identical and the network "
    "cannot learn properly; random init breaks the symmetry. The last layer alone may start at "
    "zero."
)


def _mlp(hidden=32):
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def _unit_spread(weight):
    """How different the hidden units are: the largest distance between two units' incoming weight rows,
    relative to the mean row norm (0 = all units identical)."""
    w = np.asarray(weight, dtype=np.float64)
    dist = np.sqrt(((w[:, None, :] - w[None, :, :]) ** 2).sum(-1)).max()
    return float(dist / max(np.linalg.norm(w, axis=1).mean(), 1e-30))


@experiment("zero_init_symmetry", ids=["S001-38", "S003-37", "S001-40"], claim=_SYM_CLAIM)
@single_threaded
def zero_init_symmetry(seed=0, quick=False):
    """Notes S001-38 (repeated as S003-37): weights cannot all start at zero or at one common value, the
    units of a layer would stay symmetric; S001-40: the last layer alone can start at zero.

    Measured on the bundled digits with a 64-32-32-10 ReLU MLP trained by SGD (lr 0.1, momentum 0.9,
    batch 32): after training, how different the units of each hidden layer are (largest distance between
    two units' weight rows / mean row norm) and the test accuracy, for four inits: all zeros, all 0.1,
    default random, default random with a zero last layer.
    Checks: zero and constant init leave the units of hidden layer 2 identical (spread < 1e-4); random
    init makes them differ (spread > 0.1); the random net beats the constant one by more than 0.3 in test
    accuracy; the net with a zero last layer reaches > 0.9 test accuracy.
    """
    xtr, ytr, xte, yte = digits()
    epochs = 5 if quick else 10
    inits = ["zeros", "constant 0.1", "random", "random, zero last layer"]
    spread, acc = {}, {}
    for name in inits:
        rng = seeded(seed)
        model = _mlp()
        lins = [m for m in model if isinstance(m, nn.Linear)]
        for lin in lins:
            if name == "zeros":
                nn.init.zeros_(lin.weight), nn.init.zeros_(lin.bias)
            elif name == "constant 0.1":
                nn.init.constant_(lin.weight, 0.1), nn.init.constant_(lin.bias, 0.1)
        if name == "random, zero last layer":
            nn.init.zeros_(lins[-1].weight), nn.init.zeros_(lins[-1].bias)
        opt = dn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        train_classifier(model, opt, xtr, ytr, epochs, 32, rng)
        spread[name] = (_unit_spread(lins[0].weight.data), _unit_spread(lins[1].weight.data))
        acc[name] = accuracy(model, xte, yte)
    rows = [[n, spread[n][0], spread[n][1], acc[n]] for n in inits]
    checks = [
        Check("zeros: spread of hidden-layer-2 units after training", spread["zeros"][1], "<", 1e-4),
        Check("constant 0.1: spread of hidden-layer-2 units after training", spread["constant 0.1"][1], "<", 1e-4),
        Check("random: spread of hidden-layer-2 units after training", spread["random"][1], ">", 0.1),
        Check("test accuracy random - constant 0.1", acc["random"] - acc["constant 0.1"], ">", 0.3),
        Check("test accuracy with a zero last layer", acc["random, zero last layer"], ">", 0.9),
    ]
    return Result(
        experiment="zero_init_symmetry",
        claim=_SYM_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"After {epochs} epochs on digits (spread 0 = all units identical)",
                ["init", "spread layer 1", "spread layer 2", "test accuracy"],
                rows,
            )
        ],
        figures=[
            Figure(
                "accuracy_by_init",
                "Test accuracy by initialisation",
                "init",
                "accuracy",
                {"test accuracy": (inits, [acc[n] for n in inits])},
                kind="bar",
            )
        ],
        seeds=[seed],
        quick=quick,
        notes="With all-zero weights ReLU units output 0 and get zero gradient, so the hidden layers "
        "never move at all (only the output bias learns).",
    )
