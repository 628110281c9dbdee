"""Architecture claims: depth vs width, ResNet's degradation problem, Inception factorisation and module cost,
MobileNet v2's linear bottleneck, the model-zoo history (AlexNet, GoogLeNet, DenseNet), feature fusion by
concatenation vs addition, LeNet-5's counts and weight sharing.

Published parameter counts are torchvision's documented figures for the same architectures.

Why this file is long (over the ~800-line guideline of docs/architecture.md): it holds the 11 experiments of the
architectures topic, each a self-contained function whose docstring states its claim, method and
checks, with the few helpers they share; nothing imports it but the registry, and a reader looks for an
experiment by topic.
"""

from __future__ import annotations

import contextlib

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F
from deepnotes.analysis import count_parameters, profile, receptive_field

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import accuracy, digits, mean_std, seeded, single_threaded, t_statistic, train_classifier

# torchvision's documented parameter counts (ImageNet heads, 1000 classes)
PUBLISHED_PARAMS = {
    "alexnet": 61_100_840,
    "googlenet": 6_624_904,
    "inception_v3": 27_161_264,
    "resnet50": 25_557_032,
    "densenet121": 7_978_856,
    "mobilenet_v2": 3_504_872,
}


def _t(x):
    return dn.tensor(np.asarray(x, dtype=np.float64))


@contextlib.contextmanager
def _shapes_only():
    """Build models without drawing their random initial weights (the parameter count only needs the
    shapes; drawing AlexNet's 61M weights takes seconds)."""
    init = nn.init
    saved = {name: getattr(init, name) for name in ("uniform_", "normal_", "trunc_normal_") if hasattr(init, name)}
    try:
        for name in saved:
            setattr(init, name, lambda tensor, *a, **k: tensor)
        yield
    finally:
        for name, f in saved.items():
            setattr(init, name, f)


# ------------------------------------------------------------------------------- depth vs width
_DEPTH_CLAIM = (
    "Depth composes features and can represent some functions with exponentially fewer units than a "
    "shallow network; the notes add that widening a layer adds no new nonlinear capacity."
)


def _pieces(values, xs):
    """Number of linear pieces of a piecewise-linear function sampled on a uniform grid."""
    slope = np.diff(values) / np.diff(xs)
    change = np.abs(np.diff(slope)) > 1e-6 * max(1.0, float(np.abs(slope).max()))
    # a kink between grid points shows up as one or two consecutive changes; count runs
    runs = np.count_nonzero(change[1:] & ~change[:-1]) + int(change[0])
    return int(runs) + 1


def _sawtooth_net(k):
    """k layers of 2 ReLU units computing the tent map t(x) = 2 relu(x) - 4 relu(x - 1/2), composed k times."""
    layers = []
    for _i in range(k):
        lin = nn.Linear(1, 2).to(np.float64)
        lin.weight.data[...] = [[1.0], [1.0]]
        lin.bias.data[...] = [0.0, -0.5]
        mix = nn.Linear(2, 1).to(np.float64)
        mix.weight.data[...] = [[2.0, -4.0]]
        mix.bias.data[...] = [0.0]
        layers += [lin, nn.ReLU(), mix]
    return nn.Sequential(*layers)


def _piece_counts(seed, quick):
    """Linear pieces on [0, 1] (20,001 grid points, float64) of random one-hidden-layer ReLU networks of
    several widths, and of the k-layer tent-map network; returns (k, widths, {width: counts}, deep)."""
    rng = seeded(seed)
    xs = np.linspace(0.0, 1.0, 20001)
    n_nets = 5 if quick else 20
    k = 6 if quick else 8

    def shallow_pieces(width):
        counts = []
        for _ in range(n_nets):
            w1 = rng.standard_normal((width, 1)) * 4
            b1 = -rng.uniform(0, 1, width) * w1[:, 0]  # kinks at uniform positions in [0, 1]
            w2 = rng.standard_normal((1, width))
            h = F.relu(F.linear(_t(xs[:, None]), _t(w1), _t(b1)))
            counts.append(_pieces(F.linear(h, _t(w2)).numpy()[:, 0], xs))
        return counts

    widths = [4, 16, 64, 2 * k]
    pieces = {w: shallow_pieces(w) for w in widths}
    with dn.no_grad():
        deep_out = _sawtooth_net(k)(_t(xs[:, None])).numpy()[:, 0]
    return k, widths, pieces, _pieces(deep_out, xs)


def _depth_checks(k, pieces, deep):
    return [
        Check(f"pieces of the {k}-layer, 2-unit tent network / 2^{k}", deep / 2**k, ">=", 1.0),
        Check(
            f"max pieces of one-hidden-layer nets with {2 * k} units minus ({2 * k} + 1)",
            max(pieces[2 * k]) - (2 * k + 1),
            "<=",
            0,
        ),
        Check(f"pieces deep ({2 * k} units) / shallow ({2 * k} units, max)", deep / max(pieces[2 * k]), ">", 4.0),
    ]


def _pieces_result(name, claim, checks, k, widths, pieces, deep, seed, quick):
    rows = [[f"1 hidden layer, width {w}", w, float(np.mean(pieces[w])), max(pieces[w])] for w in widths]
    rows.append([f"{k} layers x 2 units (tent map)", 2 * k, float(deep), deep])
    return Result(
        experiment=name,
        claim=claim,
        checks=checks,
        tables=[
            Table(
                "Linear pieces of ReLU networks on [0, 1]", ["network", "ReLU units", "mean pieces", "max pieces"], rows
            )
        ],
        figures=[
            Figure(
                "pieces_vs_width",
                "Linear pieces of one-hidden-layer ReLU nets",
                "width",
                "pieces",
                {"mean": (widths[:3], [float(np.mean(pieces[w])) for w in widths[:3]])},
            )
        ],
        seeds=[seed],
        quick=quick,
    )


@experiment("depth_vs_width", ids=["S000-01"], claim=_DEPTH_CLAIM)
@single_threaded
def depth_vs_width(seed=0, quick=False):
    """Note S000-01 (deeper rather than wider): "widening only adds computing units in the same layer and
    adds no new nonlinear fitting ability", while deepening increases the model's complexity.
    Measured on 1-D inputs x in [0, 1] (20,001 grid points, float64): (1) the number of linear pieces of
    random one-hidden-layer ReLU networks of width 4, 16 and 64 (Gaussian weights, biases placing each
    unit's kink uniformly in [0, 1]; 5 networks each, 20 in full mode); (2) the tent-map network with k
    layers of 2 ReLU units (k = 6, 8 in full mode), built with deepnotes layers and hand-set weights: its
    output has 2^k pieces, while a one-hidden-layer network with the same 2k units has at most 2k + 1
    pieces (the measured maximum over random networks of that width is reported).
    Checks: the notes' "widening adds no nonlinear capacity" (pieces of width 64 / width 4 <= 1.5; it
    fails when widening adds pieces); the deep network has 2^k pieces; a shallow one with 2k units has
    <= 2k + 1; the deep/shallow piece ratio at equal units > 4."""
    k, widths, pieces, deep = _piece_counts(seed, quick)
    growth = np.mean(pieces[64]) / np.mean(pieces[4])
    checks = [
        Check(
            "linear pieces, width 64 / width 4 (notes: widening adds no nonlinear capacity, i.e. <= 1.5)",
            growth,
            "<=",
            1.5,
        )
    ] + _depth_checks(k, pieces, deep)
    return _pieces_result("depth_vs_width", _DEPTH_CLAIM, checks, k, widths, pieces, deep, seed, quick)


_DEEPREP_CLAIM = (
    "A shallow network needs exponentially more units than a deep one to compute some functions: "
    "2 ReLU units in each of k layers give 2^k linear pieces, one hidden layer of n units at most "
    "n + 1."
)


@experiment("deep_representation_pieces", ids=["S001-01"], claim=_DEEPREP_CLAIM)
@single_threaded
def deep_representation_pieces(seed=0, quick=False):
    """Note S001-01 (why deep representations): deep networks learn features layer on layer, and "a shallow
    network needs exponentially many units to compute the same result".
    Measured on 1-D inputs x in [0, 1] (20,001 grid points, float64): (1) the number of linear pieces of
    random one-hidden-layer ReLU networks of width 4, 16 and 64 (Gaussian weights, biases placing each
    unit's kink uniformly in [0, 1]; 5 networks each, 20 in full mode); (2) the tent-map network with k
    layers of 2 ReLU units (k = 6, 8 in full mode), built with deepnotes layers and hand-set weights: its
    output has 2^k pieces, while a one-hidden-layer network with the same 2k units has at most 2k + 1
    pieces (the measured maximum over random networks of that width is reported).
    The hierarchy-of-features part is not measured.
    Checks: the deep network has 2^k pieces; a shallow one with 2k units has <= 2k + 1; the deep/shallow
    piece ratio at equal units > 4."""
    k, widths, pieces, deep = _piece_counts(seed, quick)
    return _pieces_result(
        "deep_representation_pieces",
        _DEEPREP_CLAIM,
        _depth_checks(k, pieces, deep),
        k,
        widths,
        pieces,
        deep,
        seed,
        quick,
    )


# ------------------------------------------------------------------------------- ResNet degradation
_RES_CLAIM = (
    "ResNet's identity shortcuts let a deep network train as well as a shallow one: a deeper plain "
    "network (with BN) reaches a higher training loss (degradation), a residual one does not; the "
    "notes' explanation, vanishing gradients, is not what a plain BN network shows."
)


class _ResidualPair(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.f = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, width), nn.BatchNorm1d(width)
        )

    def forward(self, x):
        return (x + self.f(x)).relu()


def _plain_mlp(depth, width):
    layers = [nn.Linear(64, width), nn.BatchNorm1d(width), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def _residual_mlp(depth, width):
    return nn.Sequential(
        nn.Linear(64, width),
        nn.BatchNorm1d(width),
        nn.ReLU(),
        *[_ResidualPair(width) for _ in range((depth - 1) // 2)],
        nn.Linear(width, 10),
    )


def _train_loss(model, x, y):
    model.eval()
    with dn.no_grad():
        return float(F.cross_entropy(model(dn.tensor(x)), dn.tensor(y)).item())


def _first_last_grad_ratio(model, x, y):
    model.train()
    loss = F.cross_entropy(model(dn.tensor(x)), dn.tensor(y))
    model.zero_grad()
    loss.backward()
    norms = [float(np.linalg.norm(m.weight.grad.numpy())) for m in model.modules() if isinstance(m, nn.Linear)]
    return norms[0] / norms[-2]  # first hidden layer vs last hidden layer (the head excluded)


@experiment("resnet_degradation", ids=["S003-07", "S001-73"], claim=_RES_CLAIM)
@single_threaded
def resnet_degradation(seed=0, quick=False):
    """Notes S003-07 ("ResNet solves vanishing gradients in deep CNNs") and S001-73 (shortcuts relieve the
    vanishing gradient so deeper networks do not degrade; heavy use of BN; bottlenecks for 50+ layers).

    Measured on the bundled digits with width-32 MLPs, all with batch norm after every hidden linear
    layer, trained identically (SGD, lr 0.05, momentum 0.9, batch 64; 2 epochs, 3 in full mode) over 3 seeds
    (5 in full mode): the final training cross-entropy of a plain 2-layer network, a plain D-layer
    network and a residual D-layer network (pairs of layers with identity shortcuts), D = 13 (21 in full
    mode); the ratio of the weight-gradient norm of the first hidden layer to the last hidden layer of
    the plain D-layer network at initialisation (batch of 256); and from the model zoo: batch-norm layers
    per convolution in resnet50 and the weights of a bottleneck (256-64-64-256) vs a basic block
    (two 3x3 at 256).
    Checks: degradation (plain D minus plain 2 training loss > 2 standard errors above 0); the residual
    network removes it (plain D minus residual D > 2 standard errors); vanishing gradients in the plain
    network (first/last gradient ratio < 0.1, the notes' mechanism); every conv of resnet50 is followed by
    BN; the bottleneck has < 1/4 of the basic block's weights."""
    depth, epochs, n_seeds = (13, 2, 3) if quick else (21, 3, 5)
    width = 32
    xtr, ytr, _, _ = digits()
    seeds = [seed + i for i in range(n_seeds)]
    losses = {"plain 2": [], f"plain {depth}": [], f"residual {depth}": []}
    ratios = []
    for s in seeds:
        for name in losses:
            rng = seeded(s)
            d = int(name.split()[1])
            model = _plain_mlp(d, width) if name.startswith("plain") else _residual_mlp(d, width)
            if name == f"plain {depth}":
                idx = rng.permutation(len(xtr))[:256]
                ratios.append(_first_last_grad_ratio(model, xtr[idx], ytr[idx]))
            opt = dn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            train_classifier(model, opt, xtr, ytr, epochs, 64, rng)
            losses[name].append(_train_loss(model, xtr, ytr))
    degr = [a - b for a, b in zip(losses[f"plain {depth}"], losses["plain 2"])]
    fixed = [a - b for a, b in zip(losses[f"plain {depth}"], losses[f"residual {depth}"])]
    from deepnotes.models import resnet50
    from deepnotes.models.resnet import BasicBlock, Bottleneck

    with _shapes_only():
        r50 = resnet50()
    mods = list(r50.modules())
    n_conv = sum(isinstance(m, nn.Conv2d) for m in mods)
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in mods)

    def bn_w(m):
        return sum(count_parameters(b) for b in m.modules() if isinstance(b, nn.BatchNorm2d))

    bott, basic = Bottleneck(256, 64), BasicBlock(256, 256)
    bott_w, basic_w = count_parameters(bott) - bn_w(bott), count_parameters(basic) - bn_w(basic)
    ratio_mean, ratio_sd = mean_std(ratios)
    checks = [
        Check(
            f"training loss plain {depth} - plain 2, in standard errors (mean {np.mean(degr):+.3f})",
            t_statistic(degr),
            ">",
            2.0,
        ),
        Check(
            f"training loss plain {depth} - residual {depth}, in standard errors (mean {np.mean(fixed):+.3f})",
            t_statistic(fixed),
            ">",
            2.0,
        ),
        Check(
            f"plain {depth}: first / last hidden-layer gradient norm at init (vanishing if < 0.1)",
            ratio_mean,
            "<",
            0.1,
            spread=ratio_sd,
        ),
        Check("resnet50: BatchNorm2d layers per Conv2d", n_bn / n_conv, ">=", 1.0),
        Check("bottleneck 256-64-64-256 weights / basic block 2x(3x3, 256)", bott_w / basic_w, "<", 0.25),
    ]
    rows = [[name, *mean_std(v)] for name, v in losses.items()]
    return Result(
        experiment="resnet_degradation",
        claim=_RES_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Final training loss on digits (width {width}, BN, {epochs} epochs, {len(seeds)} seeds)",
                ["network", "training loss", "std"],
                rows,
            ),
            Table(
                "Gradient and structure",
                ["quantity", "value"],
                [
                    [f"plain {depth}: first/last gradient norm at init", ratio_mean],
                    ["resnet50 Conv2d layers", n_conv],
                    ["resnet50 BatchNorm2d layers", n_bn],
                    ["bottleneck weights", bott_w],
                    ["basic block weights", basic_w],
                ],
            ),
        ],
        figures=[
            Figure(
                "loss_per_seed",
                "Final training loss per seed",
                "seed",
                "loss",
                {k: (seeds, v) for k, v in losses.items()},
                kind="bar",
            )
        ],
        seeds=seeds,
        quick=quick,
    )


# ------------------------------------------------------------------------------- Inception v3 factorisation
_FACT_CLAIM = (
    "Factorising an n x n convolution into 1 x n followed by n x 1 keeps the receptive field and cuts "
    "weights and multiply-adds to 2/n (7x7: 14 vs 49; 3x3: 6 vs 9); Inception v3 does this."
)


@experiment("inception_factorisation", ids=["S003-13"], claim=_FACT_CLAIM)
@single_threaded
def inception_factorisation(seed=0, quick=False):
    """Note S003-13 (Inception v3): an n x n convolution is split into 1 x n and n x 1 (7x7 into 1x7 and 7x1,
    3x3 into 1x3 and 3x1), saving many parameters, speeding up computation and reducing overfitting,
    while deepening the network.

    Measured: parameters (bias-free) and MACs (deepnotes.analysis.profile, 17x17 map, 64 channels) of an
    n x n convolution vs a 1 x n followed by an n x 1, n = 3, 5, 7; their receptive fields
    (deepnotes.analysis.receptive_field); the number of 1x7/7x1 and 1x3/3x1 convolutions in the zoo's
    inception_v3 and its parameter count vs torchvision's published 27,161,264.  The overfitting part
    is not measured.
    Checks: parameter and MAC ratios equal 2/n (to 1e-12); equal receptive fields; inception_v3 contains
    asymmetric convolutions (> 0) and has the published parameter count."""
    c, size = 64, (9 if quick else 17)
    rows, ratio_err, rf_diff = [], 0.0, 0
    for n in (3, 5, 7):
        square = nn.Conv2d(c, c, n, padding=n // 2, bias=False)
        pair = nn.Sequential(
            nn.Conv2d(c, c, (1, n), padding=(0, n // 2), bias=False),
            nn.Conv2d(c, c, (n, 1), padding=(n // 2, 0), bias=False),
        )
        ps, pp = count_parameters(square), count_parameters(pair)
        ms, mp = profile(square, (c, size, size)).macs, profile(pair, (c, size, size)).macs
        rs = receptive_field(square, (c, size, size))[-1].size
        rp = receptive_field(pair, (c, size, size))[-1].size
        ratio_err = max(ratio_err, abs(pp / ps - 2 / n), abs(mp / ms - 2 / n))
        rf_diff = max(rf_diff, abs(rs[0] - rp[0]), abs(rs[1] - rp[1]))
        rows.append([n, ps, pp, pp / ps, ms, mp, f"{rs[0]}x{rs[1]}", f"{rp[0]}x{rp[1]}"])
    from deepnotes.models import inception_v3

    with _shapes_only():
        model = inception_v3()
    asym = sum(1 for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] != m.kernel_size[1])
    params = count_parameters(model)
    checks = [
        Check("max |ratio (parameters, MACs) - 2/n|", ratio_err, "<=", 1e-12),
        Check("receptive field difference (pixels)", rf_diff, "<=", 0),
        Check("asymmetric (1 x n / n x 1) convolutions in inception_v3", asym, ">", 0),
        Check(
            "inception_v3 parameters - torchvision's 27,161,264",
            abs(params - PUBLISHED_PARAMS["inception_v3"]),
            "<=",
            0,
        ),
    ]
    return Result(
        experiment="inception_factorisation",
        claim=_FACT_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"n x n vs 1 x n + n x 1 at {c} channels on {size}x{size}",
                ["n", "n x n params", "pair params", "ratio", "n x n MACs", "pair MACs", "RF n x n", "RF pair"],
                rows,
            ),
            Table("inception_v3", ["quantity", "value"], [["asymmetric convolutions", asym], ["parameters", params]]),
        ],
        seeds=[seed],
        quick=quick,
    )


# ------------------------------------------------------------------------------- Inception v1 cost
_INC_CLAIM = (
    "In a naive Inception module a 5x5 convolution from 192 to 32 channels on 28x28 costs about 1.2e8 "
    "multiply-adds and the pooling branch keeps all input channels, so outputs thicken; 1x1 "
    "reductions before the 3x3/5x5 and after the pooling cut the cost about 10x."
)


class _NaiveInception(nn.Module):
    """The naive module: 1x1, 3x3, 5x5 convolutions and a 3x3 max pool on the full input, concatenated."""

    def __init__(self, cin, c1, c3, c5):
        super().__init__()
        self.b1 = nn.Conv2d(cin, c1, 1, bias=False)
        self.b3 = nn.Conv2d(cin, c3, 3, padding=1, bias=False)
        self.b5 = nn.Conv2d(cin, c5, 5, padding=2, bias=False)
        self.pool = nn.MaxPool2d(3, 1, 1)

    def forward(self, x):
        return dn.cat([self.b1(x), self.b3(x), self.b5(x), self.pool(x)], 1)


class _ReducedInception(nn.Module):
    """The GoogLeNet module (inception 3a sizes) with true 5x5 convolutions, convolutions only."""

    def __init__(self, cin=192, c1=64, r3=96, c3=128, r5=16, c5=32, pp=32):
        super().__init__()
        self.b1 = nn.Conv2d(cin, c1, 1, bias=False)
        self.b3 = nn.Sequential(nn.Conv2d(cin, r3, 1, bias=False), nn.Conv2d(r3, c3, 3, padding=1, bias=False))
        self.b5 = nn.Sequential(nn.Conv2d(cin, r5, 1, bias=False), nn.Conv2d(r5, c5, 5, padding=2, bias=False))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, pp, 1, bias=False))

    def forward(self, x):
        return dn.cat([self.b1(x), self.b3(x), self.b5(x), self.b4(x)], 1)


@experiment("inception_module_cost", ids=["S003-15"], claim=_INC_CLAIM)
@single_threaded
def inception_module_cost(seed=0, quick=False):
    """Note S003-15 (Inception v1): the naive module's 5x5 branch needs about 1.2e8 multiplications and
    makes the output feature map very thick; 1x1 convolutions before the 3x3 and 5x5 and after the max
    pool reduce the thickness.

    Measured with deepnotes.analysis.profile on a 192-channel 28x28 input (the notes' example; inception
    3a of GoogLeNet): the MACs of a 5x5 convolution 192 -> 32; of the 1x1 (192 -> 16) + 5x5 (16 -> 32)
    pair; the naive module (1x1 64, 3x3 128, 5x5 32, max pool) vs the module with reductions (3a sizes:
    64, 96->128, 16->32, pool->32), MACs and output channels; and the zoo's googlenet.Inception (which,
    like torchvision's, uses 3x3 in its "5x5" branch) for comparison.
    Checks: 5x5 branch MACs within 1% of 1.2e8; the 1x1 reduction cuts that branch by > 8x; the naive
    module outputs more channels than its input (thickens) while the reduced one outputs fewer than the
    naive; the reduced module costs < 1/2 of the naive one."""
    size = 28
    five = nn.Conv2d(192, 32, 5, padding=2, bias=False)
    reduced5 = nn.Sequential(nn.Conv2d(192, 16, 1, bias=False), nn.Conv2d(16, 32, 5, padding=2, bias=False))
    m5, mr5 = profile(five, (192, size, size)).macs, profile(reduced5, (192, size, size)).macs
    naive, real = _NaiveInception(192, 64, 128, 32), _ReducedInception()
    pn, pr = profile(naive, (192, size, size)), profile(real, (192, size, size))
    from deepnotes.models.googlenet import Inception

    zoo = profile(Inception(192, 64, 96, 128, 16, 32, 32), (192, size, size))
    cn, cr = pn.output_shape[1], pr.output_shape[1]
    checks = [
        Check("5x5 conv 192->32 on 28x28: MACs / 1.2e8 - 1 (abs)", abs(m5 / 1.2e8 - 1), "<", 0.01),
        Check("5x5 branch MACs: direct / with a 1x1 reduction to 16", m5 / mr5, ">", 8.0),
        Check("naive module output channels - input channels (thickening)", cn - 192, ">", 0),
        Check("output channels: naive - reduced", cn - cr, ">", 0),
        Check("module MACs: reduced / naive", pr.macs / pn.macs, "<", 0.5),
    ]
    return Result(
        experiment="inception_module_cost",
        claim=_INC_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Inception module on a 192 x 28 x 28 input",
                ["part", "MACs", "output channels"],
                [
                    ["5x5 conv 192->32", m5, 32],
                    ["1x1 192->16 + 5x5 16->32", mr5, 32],
                    ["naive module", pn.macs, cn],
                    ["module with 1x1 reductions (5x5)", pr.macs, cr],
                    ["deepnotes.models.googlenet.Inception (3x3 branch, BN)", zoo.macs, zoo.output_shape[1]],
                ],
            )
        ],
        seeds=[seed],
        quick=quick,
    )


# ------------------------------------------------------------------------------- MobileNet v2
_MV2_CLAIM = (
    "ReLU on a low-dimensional representation destroys information, in a high-dimensional expansion it "
    "mostly does not; hence MobileNet v2 expands before the depthwise ReLU6 and projects back linearly."
)


@experiment("mobilenet_v2_relu_manifold", ids=["S003-27"], claim=_MV2_CLAIM)
@single_threaded
def mobilenet_v2_relu_manifold(seed=0, quick=False):
    """Note S003-27 (why MobileNet v2): ReLU on low-dimensional features loses information, in high dimension
    little; V1's depthwise kernels often train to zero; V2 uses inverted residuals with linear bottlenecks.

    Measured (the MobileNet v2 paper's experiment): a 2-D spiral of 1,000 points is embedded by a random
    n x 2 matrix T into n dimensions, passed through ReLU (deepnotes), and read back with the best linear
    map (least squares with a bias; the paper maps back with T's pseudo-inverse, whose error stays
    near 0.5 in every dimension because ReLU halves the signal, which a linear readout can undo); the
    relative reconstruction error for n = 2, 3, 5, 15, 30, over 5 random T (10 in full mode); and the
    zoo's InvertedResidual(24, 24, 1, 6): expansion width and whether its projection is linear (no
    activation after the last convolution).  The dead-depthwise-kernel
    observation on ImageNet-trained V1 is not measured.
    Checks: mean error at n = 2 > 0.2; at n = 30 < 0.05; the block expands 6x and its last layer is not an
    activation."""
    rng = seeded(seed)
    t = np.linspace(0, 4 * np.pi, 1000)
    spiral = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (4 * np.pi)
    dims = [2, 3, 5, 15, 30]
    n_rep = 5 if quick else 10
    err = {n: [] for n in dims}
    for n in dims:
        for _ in range(n_rep):
            T = rng.standard_normal((n, 2))
            h = F.relu(_t(spiral @ T.T)).numpy()
            design = np.concatenate([h, np.ones((len(h), 1))], axis=1)
            readout = np.linalg.lstsq(design, spiral, rcond=None)[0]
            back = design @ readout
            err[n].append(float(np.linalg.norm(back - spiral) / np.linalg.norm(spiral)))
    from deepnotes.models import InvertedResidual

    block = InvertedResidual(24, 24, 1, 6)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    expansion = convs[0].out_channels / 24
    last = list(block.conv.children())[-1]
    last_is_activation = isinstance(last, (nn.ReLU, nn.ReLU6))
    stats = {n: mean_std(v) for n, v in err.items()}
    checks = [
        Check("reconstruction error after ReLU in 2 dimensions", stats[2][0], ">", 0.2, spread=stats[2][1]),
        Check("reconstruction error after ReLU in 30 dimensions", stats[30][0], "<", 0.05, spread=stats[30][1]),
        Check("InvertedResidual expansion factor", expansion, ">=", 6.0),
        Check("InvertedResidual ends with an activation (1 = yes)", int(last_is_activation), "<=", 0),
    ]
    return Result(
        experiment="mobilenet_v2_relu_manifold",
        claim=_MV2_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Spiral through ReLU in n dimensions ({n_rep} random embeddings)",
                ["n", "relative reconstruction error", "std"],
                [[n, *stats[n]] for n in dims],
            )
        ],
        figures=[
            Figure(
                "error_vs_dim",
                "Information lost by ReLU vs dimension",
                "n",
                "relative error",
                {"mean": (dims, [stats[n][0] for n in dims])},
            )
        ],
        seeds=[seed],
        quick=quick,
    )


# ------------------------------------------------------------------------------- model-zoo history
_ALEX_CLAIM = (
    "AlexNet has about 60M parameters and large kernels (11x11, 5x5; stacking small kernels came with "
    "VGG), and ReLU trains faster than tanh."
)


def _small_cnn(act):
    a = nn.ReLU if act == "ReLU" else nn.Tanh
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        a(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        a(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def _updates_to_loss(act, seed, target, max_epochs):
    """SGD updates until the running mean (over 10 updates) of the mini-batch loss drops below target."""
    from ._common import batches

    rng = seeded(seed)
    model = _small_cnn(act)
    opt = dn.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    xtr, ytr, _, _ = digits(flat=False)
    losses = []
    model.train()
    for _epoch in range(max_epochs):
        for idx in batches(len(xtr), 32, rng):
            loss = F.cross_entropy(model(dn.tensor(xtr[idx])), dn.tensor(ytr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
            if len(losses) >= 10 and np.mean(losses[-10:]) < target:
                return len(losses)
    return 2 * len(losses)  # not reached: count as twice the budget


@experiment("alexnet_claims", ids=["S001-70"], claim=_ALEX_CLAIM)
@single_threaded
def alexnet_claims(seed=0, quick=False):
    """Note S001-70 (AlexNet in the CNN history: GPU training, ReLU for better gradients and faster training,
    dropout, data augmentation) and its repeat S003-18 (seed 003: five convolutions and three FC layers,
    "several small convolutions instead of one large one", ReLU solving the vanishing gradient).

    Measured on the model zoo (built without drawing weights; counts only): AlexNet's parameters and
    kernel sizes.  ReLU vs tanh training speed (AlexNet's 6x on CIFAR-10) on a small proxy: the same
    small CNN with ReLU or tanh trained on the digits with SGD (lr 0.02, momentum 0.9, batch 32); updates
    until the running mean of the batch loss over 10 updates falls below 0.5 (0.3 in full mode), 3 seeds
    (5 in full mode).  ImageNet results, GPU training, dropout and augmentation are not measured here.
    Checks: parameters within 2% of 60M and equal to torchvision's 61,100,840; largest kernel <= 3 (seed
    003's "small convolutions"); ReLU faster (tanh/ReLU update ratio above 1 by more than 2 standard
    errors; the ratio itself is reported against AlexNet's 6x)."""
    from deepnotes.models import alexnet

    with _shapes_only():
        alex = alexnet()
    p_alex = count_parameters(alex)
    kernels = sorted({m.kernel_size[0] for m in alex.modules() if isinstance(m, nn.Conv2d)}, reverse=True)
    n_conv = sum(isinstance(m, nn.Conv2d) for m in alex.modules())
    n_fc = sum(isinstance(m, nn.Linear) for m in alex.modules())
    seeds = [seed + i for i in range(3 if quick else 5)]
    target, max_epochs = (0.5, 6) if quick else (0.3, 10)
    steps = {a: [_updates_to_loss(a, s, target, max_epochs) for s in seeds] for a in ("ReLU", "tanh")}
    speed = [t / r for t, r in zip(steps["tanh"], steps["ReLU"])]
    sp_mean = float(np.mean(speed))
    checks = [
        Check("AlexNet parameters / 60M - 1 (abs)", abs(p_alex / 60e6 - 1), "<", 0.02),
        Check("AlexNet parameters - torchvision's 61,100,840", abs(p_alex - PUBLISHED_PARAMS["alexnet"]), "<=", 0),
        Check("AlexNet's largest kernel (seed 003: it replaced large kernels by small ones)", kernels[0], "<=", 3),
        Check(
            f"updates to loss {target}: tanh / ReLU - 1, in standard errors (mean ratio {sp_mean:.3f})",
            t_statistic([v - 1 for v in speed]),
            ">",
            2.0,
        ),
    ]
    return Result(
        experiment="alexnet_claims",
        claim=_ALEX_CLAIM,
        checks=checks,
        tables=[
            Table(
                "AlexNet (model zoo)",
                ["quantity", "value"],
                [
                    ["parameters", p_alex],
                    ["kernel sizes", ", ".join(map(str, kernels))],
                    ["convolution layers", n_conv],
                    ["fully connected layers", n_fc],
                ],
            ),
            Table(
                f"Digits CNN: SGD updates until the running loss < {target}",
                ["activation", *[f"seed {s}" for s in seeds], "mean"],
                [[a, *v, float(np.mean(v))] for a, v in steps.items()],
            ),
        ],
        seeds=seeds,
        quick=quick,
    )


_ZOO_CLAIM = (
    "GoogLeNet has about 6.8M parameters thanks to global average pooling instead of big FC layers and "
    "has two auxiliary classifiers; in a DenseNet block every layer reads the outputs of all earlier "
    "layers, and DenseNet-121 has far fewer parameters than ResNet-50."
)


@experiment("zoo_parameter_counts", ids=["S001-72", "S001-75"], claim=_ZOO_CLAIM)
@single_threaded
def zoo_parameter_counts(seed=0, quick=False):
    """Notes S001-72 (GoogLeNet: Inception modules, 1x1 reductions, global average pooling instead of FC layers
    "greatly reduces the parameters", two auxiliary softmax heads) and S001-75 (DenseNet: a shortcut between
    any two layers of a block, "greatly reduces the parameters").

    Measured on the model zoo (built without drawing weights; counts only): GoogLeNet's parameters without
    the auxiliary heads, its classifier (after global average pooling) vs a fully connected layer on the
    flattened 7x7x1024 map, and its auxiliary heads; DenseNet-121 vs ResNet-50 parameters and, from the
    input widths of densenet121's first block, how many earlier outputs each layer reads.  ImageNet
    accuracy is not measured.
    Checks: GoogLeNet within 10% of 6.8M and equal to torchvision's 6,624,904; its classifier < 1/10 of the
    FC alternative; 2 auxiliary heads; every layer of a dense block reads all earlier outputs;
    DenseNet-121 has < 1/2 of ResNet-50's parameters (and equals torchvision's 7,978,856)."""
    from deepnotes.models import densenet121, googlenet, resnet50

    with _shapes_only():
        goo, goo_aux = googlenet(aux_logits=False), googlenet(aux_logits=True)
        dense, res = densenet121(), resnet50()
    p_goo = count_parameters(goo)
    head = count_parameters(goo.fc)
    fc_alt = 7 * 7 * 1024 * 1000 + 1000
    n_aux = sum(1 for name, _ in goo_aux.named_children() if name.startswith("aux"))
    growth, c0 = 32, 64
    reads = [(layer.conv1.in_channels - c0) // growth + 1 for layer in dense.features.denseblock1.children()]
    partial = sum(r != i + 1 for i, r in enumerate(reads))
    p_dense, p_res = count_parameters(dense), count_parameters(res)
    checks = [
        Check("GoogLeNet parameters / 6.8M - 1 (abs)", abs(p_goo / 6.8e6 - 1), "<", 0.1),
        Check("GoogLeNet parameters - torchvision's 6,624,904", abs(p_goo - PUBLISHED_PARAMS["googlenet"]), "<=", 0),
        Check("GoogLeNet classifier after global pooling / FC on 7x7x1024", head / fc_alt, "<", 0.1),
        Check("GoogLeNet auxiliary classifiers", n_aux, ">=", 2),
        Check("dense block layers that do not read every earlier output", partial, "<=", 0),
        Check("DenseNet-121 / ResNet-50 parameters", p_dense / p_res, "<", 0.5),
        Check(
            "DenseNet-121 parameters - torchvision's 7,978,856", abs(p_dense - PUBLISHED_PARAMS["densenet121"]), "<=", 0
        ),
    ]
    return Result(
        experiment="zoo_parameter_counts",
        claim=_ZOO_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Model zoo counts",
                ["quantity", "value"],
                [
                    ["GoogLeNet parameters (no aux)", p_goo],
                    ["GoogLeNet parameters (with aux)", count_parameters(goo_aux)],
                    ["GoogLeNet classifier parameters", head],
                    ["FC on 7x7x1024 -> 1000", fc_alt],
                    ["GoogLeNet auxiliary heads", n_aux],
                    ["densenet121 block 1: earlier outputs read per layer", ", ".join(map(str, reads))],
                    ["DenseNet-121 parameters", p_dense],
                    ["ResNet-50 parameters", p_res],
                ],
            )
        ],
        seeds=[seed],
        quick=quick,
    )


# ------------------------------------------------------------------------------- concat vs add
_FUSE_CLAIM = (
    "Fusing two feature maps by addition keeps the channel count and is cheap; concatenation doubles "
    "the channels and cost of the next layer, lets it learn the combination (a conv after concat "
    "contains add-then-conv as the special case W1 = W2) and extracts features better."
)


class _TwoBranch(nn.Module):
    def __init__(self, fuse, c):
        super().__init__()
        self.fuse = fuse
        self.a = nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(1, c, 5, padding=2), nn.ReLU())
        cin = 2 * c if fuse == "concat" else c
        self.head = nn.Sequential(
            nn.Conv2d(cin, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * c * 16, 10)
        )

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        return self.head(dn.cat([a, b], 1) if self.fuse == "concat" else a + b)


@experiment("concat_vs_add", ids=["S001-126"], claim=_FUSE_CLAIM)
@single_threaded
def concat_vs_add(seed=0, quick=False):
    """Note S001-126: add keeps the channel count and is cheap but "extracts features worse"; concat
    increases channels and computation, learns how to integrate the two inputs and "works better".

    Measured: (1) with random maps a, b and a 3x3 convolution W = [W1, W2] after concatenation,
    conv(concat(a, b), W) against conv(a, W1) + conv(b, W2), and add-then-conv(W1) against
    concat-then-conv([W1, W1]) (float64); (2) parameters and MACs of the layer after each fusion;
    (3) test accuracy on the digits of a two-branch network (3x3 and 5x5 branches of 8 channels, 12 in
    full mode) fused by add or concat, trained identically (Adam, lr 1e-2, 3 epochs) over 4 seeds
    (6 in full mode; 2 epochs in quick mode).
    Checks: both identities hold (< 1e-9); concat doubles the next layer's parameters and MACs; concat is
    more accurate (mean gain > 2 standard errors above 0)."""
    rng = seeded(seed)
    a, b = rng.standard_normal((2, 4, 9, 9)), rng.standard_normal((2, 4, 9, 9))
    w1, w2 = rng.standard_normal((6, 4, 3, 3)), rng.standard_normal((6, 4, 3, 3))
    cat_conv = F.conv2d(_t(np.concatenate([a, b], 1)), _t(np.concatenate([w1, w2], 1)), padding=1).numpy()
    split = F.conv2d(_t(a), _t(w1), padding=1).numpy() + F.conv2d(_t(b), _t(w2), padding=1).numpy()
    add_conv = F.conv2d(_t(a + b), _t(w1), padding=1).numpy()
    tied = F.conv2d(_t(np.concatenate([a, b], 1)), _t(np.concatenate([w1, w1], 1)), padding=1).numpy()
    e1, e2 = float(np.abs(cat_conv - split).max()), float(np.abs(add_conv - tied).max())
    c = 8 if quick else 12
    nxt_add, nxt_cat = nn.Conv2d(c, 2 * c, 3, padding=1, bias=False), nn.Conv2d(2 * c, 2 * c, 3, padding=1, bias=False)
    p_ratio = count_parameters(nxt_cat) / count_parameters(nxt_add)
    m_ratio = profile(nxt_cat, (2 * c, 8, 8)).macs / profile(nxt_add, (c, 8, 8)).macs
    xtr, ytr, xte, yte = digits(flat=False)
    seeds = [seed + i for i in range(4 if quick else 6)]
    accs = {"add": [], "concat": []}
    for s in seeds:
        for fuse in accs:
            r = seeded(s)
            model = _TwoBranch(fuse, c)
            train_classifier(model, dn.optim.Adam(model.parameters(), lr=1e-2), xtr, ytr, 2 if quick else 3, 64, r)
            accs[fuse].append(accuracy(model, xte, yte))
    gain = [x - y for x, y in zip(accs["concat"], accs["add"])]
    checks = [
        Check("max |conv(concat(a, b), [W1, W2]) - (conv(a, W1) + conv(b, W2))|", e1, "<", 1e-9),
        Check("max |conv(a + b, W1) - conv(concat(a, b), [W1, W1])|", e2, "<", 1e-9),
        Check("next-layer parameters concat / add", p_ratio, ">=", 2.0 - 1e-12),
        Check("next-layer MACs concat / add", m_ratio, ">=", 2.0 - 1e-12),
        Check(
            f"test accuracy concat - add in standard errors (mean {np.mean(gain):+.4f})", t_statistic(gain), ">", 2.0
        ),
    ]
    return Result(
        experiment="concat_vs_add",
        claim=_FUSE_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Two-branch digits network ({c} channels per branch, {len(seeds)} seeds)",
                ["fusion", "test accuracy", "std"],
                [[k, *mean_std(v)] for k, v in accs.items()],
            ),
            Table(
                "Identities and cost",
                ["quantity", "value"],
                [
                    ["concat-conv vs split convs, max error", e1],
                    ["add-conv vs tied concat-conv", e2],
                    ["next-layer parameter ratio", p_ratio],
                    ["next-layer MAC ratio", m_ratio],
                ],
            ),
        ],
        figures=[
            Figure(
                "accuracy_per_seed",
                "Test accuracy per seed",
                "seed",
                "accuracy",
                {k: (seeds, v) for k, v in accs.items()},
                kind="bar",
            )
        ],
        seeds=seeds,
        quick=quick,
    )


# ------------------------------------------------------------------------------- LeNet-5
_LENET_CLAIM = (
    "LeNet-5 (32x32 input): C1 156 parameters / 122,304 connections, S2 12 / 5,880, C3 1,516 / "
    "151,600, S4 32 / 2,000, C5 48,120, F6 10,164, about 60k parameters in all."
)

# the notes' figures (seed 002): layer -> (parameters, connections)
_LENET_NOTES = {
    "c1": (156, 122_304),
    "s2": (12, 5_880),
    "c3": (1_516, 151_600),
    "s4": (32, 2_000),
    "c5": (48_120, None),
    "f6": (10_164, None),
}


@experiment("lenet5_counts", ids=["S002-51"], claim=_LENET_CLAIM)
@single_threaded
def lenet5_counts(seed=0, quick=False):
    """Note S002-51: LeNet-5's layer-by-layer parameters and connections.

    Measured with deepnotes.analysis.profile on deepnotes.models.LeNet5Classic (the 1998 network: C3's
    partial connection table, trainable subsampling, RBF output) on a 32x32 input: parameters per layer
    and connections = multiply-adds + bias additions (each output unit's inputs plus its bias), compared
    with the notes' figures; and the forward output shapes (C1 28x28, S2 14x14, C3 10x10, S4 5x5, C5 1x1).
    Checks: every parameter figure of the notes matches; every connection figure matches; the total
    parameters excluding the RBF output layer are within 1% of 60,000."""
    from deepnotes.models import LeNet5Classic

    dn.manual_seed(seed)
    prof = profile(LeNet5Classic(), (1, 32, 32))
    rows, p_bad, c_bad = [], 0, 0
    by_name = {r.name: r for r in prof.rows if r.name in _LENET_NOTES or r.name == "output"}
    for name, (p_notes, c_notes) in _LENET_NOTES.items():
        r = by_name[name]
        conn = r.macs + int(np.prod(r.output_shape[1:]))
        p_bad += int(r.params != p_notes)
        c_bad += int(c_notes is not None and conn != c_notes)
        rows.append([name, str(tuple(r.output_shape[1:])), r.params, p_notes, conn, c_notes if c_notes else "-"])
    body = sum(by_name[n].params for n in _LENET_NOTES)
    out = by_name["output"]
    rows.append(["output (RBF)", str(tuple(out.output_shape[1:])), out.params, "-", "-", "-"])
    checks = [
        Check("layers whose parameter count differs from the notes", p_bad, "<=", 0),
        Check("layers whose connection count differs from the notes", c_bad, "<=", 0),
        Check("parameters without the RBF output / 60,000 - 1 (abs)", abs(body / 60000 - 1), "<", 0.01),
    ]
    return Result(
        experiment="lenet5_counts",
        claim=_LENET_CLAIM,
        checks=checks,
        tables=[
            Table(
                "LeNet5Classic on a 32x32 input",
                ["layer", "output", "parameters", "notes", "connections", "notes "],
                rows,
            )
        ],
        seeds=[seed],
        quick=quick,
    )


# ------------------------------------------------------------------------------- weight sharing
_SHARE_CLAIM = (
    "A convolution shares its kernel over all positions, so its parameters do not depend on the image "
    "size: six 10x10 kernels need 606 parameters, against 10,000 weights per fully connected unit on "
    "a 100x100 image; an MLP 784-30 already needs 23,550 (about 40x more)."
)


@experiment("weight_sharing_parameters", ids=["S002-58"], claim=_SHARE_CLAIM)
@single_threaded
def weight_sharing_parameters(seed=0, quick=False):
    """Note S002-58: CNN weights are shared; a 10x10 kernel needs 101 parameters, six of them 606, while one
    fully connected unit on a 100x100 image needs 10,000 weights; an MLP with 784 inputs and 30 hidden units
    has 23,550 parameters, "about 40 times more".

    Measured: parameters and MACs of nn.Conv2d(1, 6, 10) on 32x32, 100x100 and 200x200 inputs
    (deepnotes.analysis.profile); nn.Linear(10000, 1) and nn.Linear(784, 30); the same convolution written
    as a dense matrix (its outputs for every unit input on a 20x20 image): the number of distinct nonzero
    weights in that matrix vs its nonzero entries, and the parameters of the equivalent locally connected
    layer (no sharing) on the 100x100 image.
    Checks: the conv's parameters are the same for every input size (while its MACs grow); 606 parameters;
    the dense matrix holds only 6 * 100 distinct weights; 23,550 / 606 within 10% of 40."""
    dn.manual_seed(seed)
    conv = nn.Conv2d(1, 6, 10).to(np.float64)
    sizes = [32, 100] if quick else [32, 100, 200]
    profs = {s: profile(conv, (1, s, s)) for s in sizes}
    params = {s: p.params for s, p in profs.items()}
    fc_unit = count_parameters(nn.Linear(100 * 100, 1, bias=False))
    mlp = count_parameters(nn.Linear(784, 30))
    n = 20
    basis = np.eye(n * n).reshape(n * n, 1, n, n)
    with dn.no_grad():
        dense = F.conv2d(_t(basis), conv.weight).numpy().reshape(n * n, -1)  # bias-free map: the weights only
    nz = dense[np.abs(dense) > 0]
    distinct = len(np.unique(np.round(nz, 12)))
    local = 6 * 91 * 91 * 101
    checks = [
        Check("distinct conv parameter counts over input sizes", len(set(params.values())), "<=", 1),
        Check("Conv2d(1, 6, 10) parameters - 606", abs(params[100] - 606), "<=", 0),
        Check("distinct weights in the conv's dense matrix / (6 x 100)", distinct / 600, "<=", 1.0),
        Check("|23,550 / 606 / 40 - 1|", abs(mlp / params[100] / 40 - 1), "<", 0.1),
    ]
    rows = [[f"Conv2d(1, 6, 10) on {s}x{s}", params[s], profs[s].macs] for s in sizes]
    rows += [
        ["Linear(10000, 1) (one unit, no bias)", fc_unit, fc_unit],
        ["Linear(784, 30)", mlp, 784 * 30],
        ["locally connected 6 maps on 100x100 (no sharing)", local, 6 * 91 * 91 * 100],
    ]
    return Result(
        experiment="weight_sharing_parameters",
        claim=_SHARE_CLAIM,
        checks=checks,
        tables=[
            Table("Parameters with and without weight sharing", ["layer", "parameters", "MACs"], rows),
            Table(
                "The convolution as a dense matrix on a 20x20 image",
                ["quantity", "value"],
                [["nonzero entries", int(nz.size)], ["distinct weights", distinct]],
            ),
        ],
        seeds=[seed],
        quick=quick,
    )
