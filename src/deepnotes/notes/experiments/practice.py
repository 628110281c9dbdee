"""Practice claims of the notes (issue 13): fine-tuning with frozen layers, ModuleList against
Sequential, seeding for reproducibility, why a model does not converge, and data-parallel gradients."""

from __future__ import annotations

import random
from collections import OrderedDict

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import accuracy, digits, mean_std, seeded, single_threaded, t_statistic, train_classifier


def _flat_params(model):
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def _loss(model, x, y):
    with dn.no_grad():
        return float(F.cross_entropy(model(dn.tensor(x)), dn.tensor(y)).item())


# ----- fine-tuning ------------------------------------------------------------------------------------

_FT_CLAIM = (
    "Fine-tuning: reuse a pretrained network as a feature extractor and retrain only the new last "
    "layers, which beats training from scratch on a small dataset; train the new head first with the "
    "rest frozen, because a randomly initialised head sends large, noisy gradients into the "
    "pretrained layers and damages them."
)


def _backbone():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())


def _train_steps(params, model, x, y, steps, lr, batch, rng):
    opt = dn.optim.Adam(params, lr=lr)
    train_classifier(model, opt, x, y, max(1, steps * batch // len(x)), batch, rng)


def _pretrain(x, y, n_classes, seed):
    rng = seeded(seed)
    backbone, head = _backbone(), nn.Linear(64, n_classes)
    model = nn.Sequential(backbone, head)
    train_classifier(model, dn.optim.Adam(model.parameters(), lr=2e-3), x, y, 3, 32, rng)
    return backbone, head, {k: np.array(v.data, copy=True) for k, v in backbone.state_dict().items()}


def _transfer(strategy, state, n_out, xt, yt, steps, seed):
    """Train on the target with one strategy; returns the model and its backbone."""
    r = seeded(seed)
    bb = _backbone()
    if strategy != "scratch":
        bb.load_state_dict(state)
    head = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, n_out))  # the new last layers
    model = nn.Sequential(bb, head)
    if strategy in ("scratch", "direct fine-tuning"):
        _train_steps(model.parameters(), model, xt, yt, steps, 3e-3, len(xt), r)
    elif strategy == "feature extractor":  # a lone linear head takes a larger rate
        bb.requires_grad_(False)
        _train_steps(head.parameters(), model, xt, yt, steps, 1e-2, len(xt), r)
    else:  # two stages: the head first on frozen features, then everything at a small rate
        bb.requires_grad_(False)
        _train_steps(head.parameters(), model, xt, yt, steps // 2, 1e-2, len(xt), r)
        bb.requires_grad_(True)
        _train_steps(model.parameters(), model, xt, yt, steps // 2, 3e-4, len(xt), r)
    return model, bb


@experiment("finetune_freeze", ids=["S001-37", "S002-12"], claim=_FT_CLAIM)
@single_threaded
def finetune_freeze(seed=0, quick=False):
    """Notes S001-37: first freeze everything except the changed top layers and train those (adapting the
    top to the existing feature space, so that its bad initialisation does not disturb and damage layers
    that already express something), then unfreeze more layers.  S002-12 (and S004-01, S004-08): with
    data of uneven quality, use the trained network as a feature extractor and change only the last
    layers.

    Measured on the bundled digits, whose training split is cut into a pretraining pool (1000 images) and
    a target pool (the rest).  A 64-128-64 MLP backbone is pretrained with its own head (3 epochs), then trained on a
    small target set under four strategies: from scratch; feature extractor (backbone frozen, new head
    trained at lr 1e-2); direct fine-tuning (new random head, everything trained at lr 3e-3 from the
    start); two stages (head first on the frozen backbone at lr 1e-2, then everything at lr 3e-4); full
    batch, 100 steps (300 in full mode); the new head is two layers (64-32-n).  Two transfers: (a) related:
    pretrained on the 10 digit classes, target "digit mod 3" with 4 images per digit; (b) new classes:
    pretrained on digits 0-6, target digits 7-9 with 3 images per class.  Damage to the pretrained
    features (a): the 10-class test accuracy of the backbone with its original head after the target
    training.  Over several seeds.
    Checks: (a) and (b) the feature extractor gives a clear gain over training from scratch (mean test
    accuracy gain > 0.05; a gain of a point or two is within the seed-to-seed spread here); (a) the
    two-stage schedule keeps more of the pretrained accuracy than direct fine-tuning (more than 2 standard
    errors over the seeds); and its target accuracy is at least direct fine-tuning's (mean difference
    > -0.01).
    """
    xtr, ytr, xte, yte = digits()
    seeds = [seed + i for i in range(3 if quick else 5)]
    steps = 100 if quick else 300
    strategies = ("scratch", "feature extractor", "direct fine-tuning", "two stages")
    rel = {k: [] for k in strategies}
    kept = {k: [] for k in strategies if k != "scratch"}
    new = {k: [] for k in ("scratch", "feature extractor")}
    source_acc = []
    for s in seeds:
        order = np.random.default_rng([s, 40]).permutation(len(xtr))
        pool, rest = order[:1000], order[1000:]
        g = np.random.default_rng([s, 41])
        # (a) related: the same digits, a new 3-way task
        bb, head, state = _pretrain(xtr[pool], ytr[pool], 10, s)
        source_acc.append(accuracy(nn.Sequential(bb, head), xte, yte))
        tgt = np.concatenate([g.choice(rest[ytr[rest] == c], 4, replace=False) for c in range(10)])
        for name in strategies:
            model, fbb = _transfer(name, state, 3, xtr[tgt], ytr[tgt] % 3, steps, s + 1000)
            rel[name].append(accuracy(model, xte, yte % 3))
            if name in kept:
                kept[name].append(accuracy(nn.Sequential(fbb, head), xte, yte))
        # (b) new classes
        src = pool[ytr[pool] < 7]
        _, _, state_b = _pretrain(xtr[src], ytr[src], 7, s)
        tgt_b = np.concatenate([g.choice(rest[ytr[rest] == c], 3, replace=False) for c in range(7, 10)])
        te_b = yte >= 7
        for name in new:
            model, _ = _transfer(name, state_b, 3, xtr[tgt_b], ytr[tgt_b] - 7, steps, s + 1000)
            new[name].append(accuracy(model, xte[te_b], yte[te_b] - 7))
    fe_rel = [a - b for a, b in zip(rel["feature extractor"], rel["scratch"])]
    fe_new = [a - b for a, b in zip(new["feature extractor"], new["scratch"])]
    keep_d = [a - b for a, b in zip(kept["two stages"], kept["direct fine-tuning"])]
    tgt_d = [a - b for a, b in zip(rel["two stages"], rel["direct fine-tuning"])]
    checks = [
        Check(
            "(a) related task: test accuracy gain, feature extractor - scratch (mean over seeds)",
            float(np.mean(fe_rel)),
            ">",
            0.05,
            spread=float(np.std(fe_rel)),
        ),
        Check(
            "(b) new classes: test accuracy gain, feature extractor - scratch (mean over seeds)",
            float(np.mean(fe_new)),
            ">",
            0.05,
            spread=float(np.std(fe_new)),
        ),
        Check(
            f"(a) pretrained accuracy kept, two stages - direct fine-tuning, in standard errors "
            f"(mean {np.mean(keep_d):+.4f})",
            t_statistic(keep_d),
            ">",
            2.0,
        ),
        Check("(a) target accuracy, two stages - direct fine-tuning (mean)", float(np.mean(tgt_d)), ">", -0.01),
    ]
    rows = [[k, mean_std(v)[0], mean_std(v)[1], mean_std(kept[k])[0] if k in kept else None] for k, v in rel.items()]
    return Result(
        experiment="finetune_freeze",
        claim=_FT_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"(a) pretrained on digits 0-9, target 'digit mod 3' with 40 images, {steps} steps, {len(seeds)} seeds",
                ["strategy", "target test accuracy", "std", "10-class accuracy kept by the backbone"],
                rows,
            ),
            Table(
                "(b) pretrained on digits 0-6, target digits 7-9 with 9 images",
                ["strategy", "target test accuracy", "std"],
                [[k, *mean_std(v)] for k, v in new.items()],
            ),
        ],
        figures=[
            Figure(
                "strategies",
                "(a) Target test accuracy",
                "strategy",
                "accuracy",
                {"mean": (list(range(len(rel))), [mean_std(v)[0] for v in rel.values()])},
                kind="bar",
            )
        ],
        seeds=seeds,
        quick=quick,
        notes=f"Pretrained 10-class test accuracy {mean_std(source_acc)[0]:.4f}. Bar order: "
        + ", ".join(rel)
        + ". Frozen features help when the target task uses what the "
        "pretraining learnt; for new classes they may not.",
    )


# ----- ModuleList and Sequential ----------------------------------------------------------------------

_ML_CLAIM = (
    "Sequential chains its modules in order and defines forward (so each output must fit the next "
    "input, and layers can be named with an OrderedDict); ModuleList only registers its modules and "
    "has no forward; a plain Python list does not register them, so their parameters are neither "
    "trained nor saved."
)


class _InList(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = layers  # a plain list: not registered

    def forward(self, x):
        for layer in self.layers:
            x = F.relu(layer(x))
        return x


class _InModuleList(_InList):
    def __init__(self, layers):
        nn.Module.__init__(self)
        self.layers = nn.ModuleList(layers)


@experiment("modulelist_vs_sequential", ids=["S001-136"], claim=_ML_CLAIM)
@single_threaded
def modulelist_vs_sequential(seed=0, quick=False):
    """Notes S001-136: nn.Sequential orders its modules and implements forward, so each module's output
    size must match the next input; it can name its modules with an OrderedDict; nn.ModuleList has no
    forward and imposes no order (forward decides); modules put in a plain Python list are not
    registered, so their parameters are not in the network and are not trained.

    Measured: the same three 8-wide Linear layers held in a plain list, an nn.ModuleList and an
    nn.Sequential: registered parameter count, state_dict entries, and how far the weights move in 20
    SGD steps on a regression (the list model also gets a registered output layer, so it has something to
    train); calling a ModuleList; a Sequential built from an OrderedDict; a Sequential with mismatched
    sizes.
    Checks: the list model registers none of the three layers' parameters and they do not move
    (max |change| = 0) while the ModuleList's do (> 1e-4); ModuleList and Sequential register the same
    count; calling the ModuleList raises NotImplementedError; the OrderedDict names appear in the
    state_dict; the mismatched Sequential raises when called.
    """
    rng = seeded(seed)
    x = dn.tensor(rng.standard_normal((32, 8)).astype(np.float32))
    y = dn.tensor(rng.standard_normal((32, 1)).astype(np.float32))
    counts, moved, keys = {}, {}, {}
    for kind in ("list", "ModuleList", "Sequential"):
        dn.manual_seed(seed)
        layers = [nn.Linear(8, 8) for _ in range(3)]
        before = np.concatenate([l.weight.detach().numpy().ravel() for l in layers])
        body = {
            "list": lambda: _InList(layers),
            "ModuleList": lambda: _InModuleList(layers),
            "Sequential": lambda: nn.Sequential(*[m for l in layers for m in (l, nn.ReLU())]),
        }[kind]()
        model = nn.Sequential(body, nn.Linear(8, 1))
        counts[kind] = sum(int(np.prod(p.shape)) for p in model.parameters())
        keys[kind] = len(model.state_dict())
        opt = dn.optim.SGD(model.parameters(), lr=0.05)
        for _ in range(20):
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()
        after = np.concatenate([l.weight.detach().numpy().ravel() for l in layers])
        moved[kind] = float(np.abs(after - before).max())
    try:
        nn.ModuleList([nn.Linear(8, 8)])(x)
        raises_forward = 0.0
    except NotImplementedError:
        raises_forward = 1.0
    named = nn.Sequential(OrderedDict([("conv_like", nn.Linear(8, 8)), ("act", nn.ReLU())]))
    names_ok = float("conv_like.weight" in named.state_dict())
    try:
        nn.Sequential(nn.Linear(8, 4), nn.Linear(5, 1))(x)
        mismatch_raises = 0.0
    except ValueError:
        mismatch_raises = 1.0
    checks = [
        Check("plain list: parameters registered beyond the output layer", counts["list"] - 9, "<=", 0.0),
        Check("plain list: max |weight change| of its layers after 20 SGD steps", moved["list"], "<=", 0.0),
        Check("ModuleList: max |weight change| after 20 SGD steps", moved["ModuleList"], ">", 1e-4),
        Check(
            "|ModuleList parameter count - Sequential parameter count|",
            abs(counts["ModuleList"] - counts["Sequential"]),
            "<=",
            0.0,
        ),
        Check("calling a ModuleList raises NotImplementedError (1 = yes)", raises_forward, ">=", 1.0),
        Check("OrderedDict names in the Sequential's state_dict (1 = yes)", names_ok, ">=", 1.0),
        Check("Sequential with mismatched sizes raises when called (1 = yes)", mismatch_raises, ">=", 1.0),
    ]
    return Result(
        experiment="modulelist_vs_sequential",
        claim=_ML_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Three Linear(8, 8) layers plus a Linear(8, 1) output",
                [
                    "container",
                    "registered parameters",
                    "state_dict entries",
                    "max |change| of the three layers' weights",
                ],
                [[k, counts[k], keys[k], moved[k]] for k in counts],
            )
        ],
        seeds=[seed],
        quick=quick,
    )


# ----- seeds and reproducibility ----------------------------------------------------------------------

_SEED_CLAIM = (
    "Seeding every random generator in use (the framework's, NumPy's, Python's) makes a training "
    "run repeat exactly; results can still differ across hardware or thread counts because "
    "floating-point addition is not associative."
)


def _seeded_training(seed=None, py_np_only=None):
    """Train a small MLP with dropout and a shuffling DataLoader; return the final flat parameters.
    ``seed`` seeds through deepnotes.manual_seed; ``py_np_only`` seeds only Python's and NumPy's global
    generators (not deepnotes')."""
    if seed is not None:
        dn.manual_seed(seed)
    if py_np_only is not None:
        random.seed(py_np_only)
        np.random.seed(py_np_only)
    xtr, ytr, _, _ = digits()
    data = dn.data.TensorDataset(dn.tensor(xtr[:256]), dn.tensor(ytr[:256]))
    loader = dn.data.DataLoader(data, batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))
    opt = dn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    for _ in range(2):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    return _flat_params(model)


@experiment("seed_reproducibility", ids=["S001-137"], claim=_SEED_CLAIM)
@single_threaded
def seed_reproducibility(seed=0, quick=False):
    """Notes S001-137: seed torch (CPU and CUDA), NumPy and Python's random, and make cuDNN deterministic,
    to make training reproducible (the notes' setup_seed).

    Measured: a small MLP with dropout trained for 2 epochs with a shuffling DataLoader (initialisation,
    dropout masks and batch order all random): the final parameters of two runs after
    deepnotes.manual_seed(seed), after manual_seed(seed + 1), after seeding only Python's and NumPy's
    global generators (not deepnotes' own), and of two runs with no seeding at all; and the float32 sum
    of one million numbers in two orders.
    Checks: same seed -> identical parameters (max |difference| = 0); another seed -> different; seeding
    only random and np.random leaves the runs different (every generator in use must be seeded);
    unseeded runs differ; the two summation orders give different float32 results (> 0).  Not
    measurable here: GPU/cuDNN nondeterminism (no GPU).
    """
    same = float(np.abs(_seeded_training(seed) - _seeded_training(seed)).max())
    other = float(np.abs(_seeded_training(seed) - _seeded_training(seed + 1)).max())
    partial = float(np.abs(_seeded_training(py_np_only=seed) - _seeded_training(py_np_only=seed)).max())
    unseeded = float(np.abs(_seeded_training() - _seeded_training()).max())
    dn.manual_seed(seed)  # leave the library seeded as before
    vals = np.random.default_rng([seed, 51]).standard_normal(1_000_000 if not quick else 200_000).astype(np.float32)
    forward = float(np.cumsum(vals, dtype=np.float32)[-1])
    backward = float(np.cumsum(vals[::-1], dtype=np.float32)[-1])
    order_diff = abs(forward - backward)
    checks = [
        Check("same deepnotes seed twice: max |parameter difference|", same, "<=", 0.0),
        Check("different seeds: max |parameter difference|", other, ">", 1e-3),
        Check("only random and np.random seeded: max |parameter difference|", partial, ">", 1e-3),
        Check("no seeding: max |parameter difference|", unseeded, ">", 1e-3),
        Check(f"float32 sum of {len(vals)} numbers, forward vs reversed order: |difference|", order_diff, ">", 0.0),
    ]
    return Result(
        experiment="seed_reproducibility",
        claim=_SEED_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Two training runs compared",
                ["seeding", "max |parameter difference|"],
                [
                    ["manual_seed(s) both", same],
                    ["manual_seed(s) vs manual_seed(s+1)", other],
                    ["random.seed + np.random.seed only", partial],
                    ["none", unseeded],
                ],
            ),
            Table("Float32 summation order", ["order", "sum"], [["forward", forward], ["reversed", backward]]),
        ],
        seeds=[seed],
        quick=quick,
        notes="deepnotes.manual_seed seeds its own generator and NumPy's and Python's global ones; "
        "the partial seeding row shows why the notes' setup_seed seeds every generator.",
    )


# ----- non-convergence --------------------------------------------------------------------------------

_NC_CLAIM = (
    "A model that does not converge is not thereby useless: causes such as a learning rate too large or "
    "too small, unnormalised inputs, wrong labels or too small a model stop training, and fixing the "
    "setup makes the same model converge."
)


@experiment("non_convergence_causes", ids=["S002-06"], claim=_NC_CLAIM)
@single_threaded
def non_convergence_causes(seed=0, quick=False):
    """Notes S002-06: non-convergence does not show that a model is useless; causes: inaccurate labels,
    a model too simple for the data, a learning rate too large (oscillation) or too small, inputs not
    normalised.

    Measured on the bundled digits with a 64-64-10 MLP trained by SGD with momentum 0.9 (batch 32): the
    baseline (inputs in [0, 1], lr 0.05) against one change at a time: lr 5 (too large), lr 1e-5 (too
    small), inputs x 255 (unnormalised pixel values), 60% of the labels replaced by random ones, a
    1-unit hidden layer; and the fix of the unnormalised case (the same model on standardised inputs).
    Checks: the initial loss is log 10 within 0.1 (a sanity check the answer recommends); the baseline's
    final training loss < 0.3; each cause leaves the final training loss above 2x the baseline's (or
    non-finite); the fixed run (same model, standardised inputs) ends within 1.5x the baseline.
    """
    xtr, ytr, _, _ = digits()
    epochs = 3 if quick else 6
    noisy = ytr.copy()
    g = np.random.default_rng([seed, 61])
    flip = g.random(len(ytr)) < 0.6
    noisy[flip] = g.integers(0, 10, int(flip.sum()))
    standard = (xtr * 255 - (xtr * 255).mean(0)) / ((xtr * 255).std(0) + 1e-6)
    settings = {
        "baseline": dict(x=xtr, y=ytr, lr=0.05, hidden=64),
        "lr 5 (too large)": dict(x=xtr, y=ytr, lr=5.0, hidden=64),
        "lr 1e-5 (too small)": dict(x=xtr, y=ytr, lr=1e-5, hidden=64),
        "inputs x 255": dict(x=xtr * 255, y=ytr, lr=0.05, hidden=64),
        "60% random labels": dict(x=xtr, y=noisy, lr=0.05, hidden=64),
        "1 hidden unit": dict(x=xtr, y=ytr, lr=0.05, hidden=1),
        "inputs x 255, standardised (fix)": dict(x=standard.astype(np.float32), y=ytr, lr=0.05, hidden=64),
    }
    first, final, curves = {}, {}, {}
    for name, st in settings.items():
        rng = seeded(seed)
        model = nn.Sequential(nn.Linear(64, st["hidden"]), nn.ReLU(), nn.Linear(st["hidden"], 10))
        opt = dn.optim.SGD(model.parameters(), lr=st["lr"], momentum=0.9)
        with np.errstate(all="ignore"):
            first[name] = _loss(model, st["x"], st["y"])
            curve = [first[name]]
            for _ in range(epochs):
                train_classifier(model, opt, st["x"], st["y"], 1, 32, rng)
                curve.append(_loss(model, st["x"], st["y"]))
        curves[name] = curve
        final[name] = curve[-1] if np.isfinite(curve[-1]) else float("inf")
    base = final["baseline"]
    checks = [
        Check("initial loss of the baseline: |loss - log 10|", abs(first["baseline"] - np.log(10)), "<", 0.1),
        Check("baseline final training loss", base, "<", 0.3),
    ]
    for name in ("lr 5 (too large)", "lr 1e-5 (too small)", "inputs x 255", "60% random labels", "1 hidden unit"):
        checks.append(Check(f"{name}: final loss / baseline (inf if it overflowed)", final[name] / base, ">", 2.0))
    checks.append(
        Check(
            "same model, standardised inputs: final loss / baseline",
            final["inputs x 255, standardised (fix)"] / base,
            "<",
            1.5,
        )
    )
    return Result(
        experiment="non_convergence_causes",
        claim=_NC_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"64-64-10 MLP on digits, SGD momentum 0.9, {epochs} epochs",
                ["setting", "initial loss", "final training loss"],
                [[k, first[k], final[k]] for k in settings],
            )
        ],
        figures=[
            Figure(
                "curves",
                "Training loss per epoch",
                "epoch",
                "training loss",
                {
                    k: (list(range(len(c))), [min(v, 1e4) if np.isfinite(v) else 1e4 for v in c])
                    for k, c in curves.items()
                },
                logy=True,
            )
        ],
        seeds=[seed],
        quick=quick,
    )
