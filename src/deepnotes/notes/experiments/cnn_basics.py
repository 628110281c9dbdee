"""CNN basics: grouped-convolution cost, pooling (backward pass, role, max vs average, SPP), convolution vs
cross-correlation, translation equivariance, 1x1 convolutions and odd kernel sizes.

Each experiment measures its claim with deepnotes layers on generated data or the bundled digits; the
references it compares with (window arg-max, expected gradients, formulas) are computed here with NumPy.

Why this file is long (over the ~800-line guideline of docs/architecture.md): it holds the 10 experiments of the
cnn-basics topic, each a self-contained function whose docstring states its claim, method and
checks, with the few helpers they share; nothing imports it but the registry, and a reader looks for an
experiment by topic.
"""

from __future__ import annotations

import math

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F
from deepnotes.analysis import count_parameters, profile, receptive_field

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import accuracy, digits, mean_std, seeded, single_threaded, t_statistic, train_classifier


def _t(x):
    return dn.tensor(np.asarray(x, dtype=np.float64))


def _rel(a, b):
    """||a - b|| / ||b|| (0 when both vanish)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    nb = np.linalg.norm(b)
    na = np.linalg.norm(a - b)
    return 0.0 if na == 0 else float(na / nb) if nb > 0 else math.inf


# ------------------------------------------------------------------------------- grouped convolution
_GROUP_CLAIM = (
    "A grouped convolution with g groups has 1/g of the weights of the ordinary convolution: "
    "h*w*(c1/g)*(c2/g)*g = h*w*c1*c2/g (the notes print (1/g)*w*c1*c2)."
)


@experiment("grouped_conv_parameters", ids=["S000-11"], claim=_GROUP_CLAIM)
@single_threaded
def grouped_conv_parameters(seed=0, quick=False):
    """Note S000-11: grouped convolution divides the parameters by g; the notes' closed form is
    (1/g)*w*c1*c2.

    Measured: the parameter count (deepnotes.analysis.count_parameters, no bias) and MACs
    (deepnotes.analysis.profile on a 16x16 map, 8x8 in quick mode) of nn.Conv2d(c1, c2, k, groups=g) for
    several (k, c1, c2, g), compared with k^2*c1*c2/g and with the notes' printed formula w*c1*c2/g
    (w = kernel width k).  Checks: the count equals k^2 c1 c2 / g everywhere; parameters and MACs
    shrink by exactly g against g = 1; the notes' formula matches the count in every configuration
    (it only does for 1x1 kernels)."""
    size = 8 if quick else 16
    configs = [
        (3, 64, 128, 1),
        (3, 64, 128, 2),
        (3, 64, 128, 4),
        (3, 64, 128, 32),
        (3, 64, 64, 64),
        (5, 32, 96, 8),
        (1, 256, 512, 16),
        (7, 48, 48, 3),
    ]
    rows, param_err, ratio_err, notes_match = [], 0, 0.0, 0
    for k, c1, c2, g in configs:
        conv = nn.Conv2d(c1, c2, k, padding=k // 2, groups=g, bias=False)
        dense = nn.Conv2d(c1, c2, k, padding=k // 2, bias=False)
        p, pd = count_parameters(conv), count_parameters(dense)
        m, md = profile(conv, (c1, size, size)).macs, profile(dense, (c1, size, size)).macs
        formula, notes = k * k * c1 * c2 // g, k * c1 * c2 / g
        param_err = max(param_err, abs(p - formula))
        ratio_err = max(ratio_err, abs(pd / p - g), abs(md / m - g))
        notes_match += int(notes == p)
        rows.append([k, c1, c2, g, p, formula, notes, pd / p, md / m])
    checks = [
        Check("max |parameters - k^2 c1 c2 / g| over the configurations", param_err, "<=", 0),
        Check("max |reduction factor (parameters and MACs vs g = 1) - g|", ratio_err, "<=", 1e-12),
        Check(
            "share of configurations where the notes' (1/g)*w*c1*c2 equals the count",
            notes_match / len(configs),
            ">=",
            1.0,
        ),
    ]
    return Result(
        experiment="grouped_conv_parameters",
        claim=_GROUP_CLAIM,
        checks=checks,
        tables=[
            Table(
                "nn.Conv2d(c1, c2, k, groups=g, bias=False)",
                [
                    "k",
                    "c1",
                    "c2",
                    "g",
                    "parameters",
                    "k^2 c1 c2 / g",
                    "notes' w c1 c2 / g",
                    "parameter reduction",
                    "MAC reduction",
                ],
                rows,
            )
        ],
        seeds=[seed],
        quick=quick,
    )


# ------------------------------------------------------------------------------- pooling backward
_POOLB_CLAIM = (
    "Pooling backward: max pooling passes the whole gradient to the arg-max of each window and 0 "
    "elsewhere; average pooling gives g/n to each of the n window positions; either way the sum "
    "of the gradient is preserved."
)


def _windows(h, w, k, s, p):
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    for i in range(oh):
        for j in range(ow):
            yield i, j, [(i * s - p + u, j * s - p + v) for u in range(k) for v in range(k)]


def _expected_pool_grad(x, g, kind, k, s, p):
    """Reference input gradient of one (H, W) plane, from the definition."""
    h, w = x.shape
    out = np.zeros_like(x)
    for i, j, cells in _windows(h, w, k, s, p):
        inside = [(a, b) for a, b in cells if 0 <= a < h and 0 <= b < w]
        if kind == "max":
            a, b = max(inside, key=lambda c: x[c])
            out[a, b] += g[i, j]
        else:  # count_include_pad: the divisor is the full window, padding included
            for a, b in inside:
                out[a, b] += g[i, j] / (k * k)
    return out


@experiment("pooling_backward", ids=["S003-25"], claim=_POOLB_CLAIM)
@single_threaded
def pooling_backward(seed=0, quick=False):
    """Note S003-25: max pooling routes the gradient to the recorded arg-max, mean pooling splits it into n
    equal parts, "so that the total gradient is unchanged".

    Measured: the input gradient that deepnotes autograd computes for F.max_pool2d / F.avg_pool2d on a
    random (2, 3, H, W) input (H = W = 12, 24 in full mode) and a random upstream gradient, compared with
    the gradient built from the definition (NumPy loop over the windows), for non-overlapping 2x2/2,
    overlapping 3x3/2 and padded 3x3/1 windows; and the ratio of the summed input gradient to the summed
    upstream gradient.  Checks: the max-pool and avg-pool gradients equal the definition; the gradient
    sum is preserved without padding; it is preserved with padding too (average pooling with
    count_include_pad, the default, gives part of it to the padding, so it is not)."""
    rng = seeded(seed)
    size = 12 if quick else 24
    configs = [
        ("max", 2, 2, 0),
        ("avg", 2, 2, 0),
        ("max", 3, 2, 0),
        ("avg", 3, 2, 0),
        ("max", 3, 1, 1),
        ("avg", 3, 1, 1),
    ]
    rows = []
    err = {"max": 0.0, "avg": 0.0}
    sum_err_nopad, sum_err_pad = 0.0, 0.0
    for kind, k, s, p in configs:
        x = rng.standard_normal((2, 3, size, size))
        xt = dn.tensor(x, requires_grad=True)
        y = F.max_pool2d(xt, k, s, p) if kind == "max" else F.avg_pool2d(xt, k, s, p)
        g = rng.uniform(0.5, 1.5, size=y.shape)
        (y * dn.tensor(g)).sum().backward()
        grad = xt.grad.numpy()
        ref = np.stack(
            [np.stack([_expected_pool_grad(x[n, c], g[n, c], kind, k, s, p) for c in range(3)]) for n in range(2)]
        )
        err[kind] = max(err[kind], float(np.abs(grad - ref).max()))
        ratio = float(grad.sum() / g.sum())
        if p == 0:
            sum_err_nopad = max(sum_err_nopad, abs(ratio - 1))
        else:
            sum_err_pad = max(sum_err_pad, abs(ratio - 1))
        share = float((grad != 0).mean())
        rows.append([kind, f"{k}x{k}/{s} pad {p}", ratio, share, float(np.abs(grad - ref).max())])
    checks = [
        Check("max pooling: max |gradient - (all to the arg-max, 0 elsewhere)|", err["max"], "<=", 1e-12),
        Check("average pooling: max |gradient - g/n to each window position|", err["avg"], "<=", 1e-12),
        Check("no padding: max |sum of input gradient / sum of upstream gradient - 1|", sum_err_nopad, "<=", 1e-9),
        Check("with padding: max |sum of input gradient / sum of upstream gradient - 1|", sum_err_pad, "<=", 1e-9),
    ]
    return Result(
        experiment="pooling_backward",
        claim=_POOLB_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Pooling gradients on a random (2, 3, {size}, {size}) input",
                [
                    "pooling",
                    "window/stride",
                    "gradient sum ratio (in / out)",
                    "share of inputs receiving gradient",
                    "max error vs definition",
                ],
                rows,
            )
        ],
        seeds=[seed],
        quick=quick,
    )


# ------------------------------------------------------------------------------- translation
_SHIFT_CLAIM = (
    "Convolution is translation equivariant, not invariant; invariance comes from pooling (global "
    "pooling makes a stride-1 network exactly invariant) and is only approximate once strided "
    "layers subsample."
)


def _shift(x, d):
    return np.roll(x, d, axis=-1)


@experiment("translation_equivariance", ids=["S003-40"], claim=_SHIFT_CLAIM)
@single_threaded
def translation_equivariance(seed=0, quick=False):
    """Note S003-40 asks why convolution is translation invariant (the notes give no answer).

    Measured on random bias-free networks and random images whose content sits inside a zero border
    wider than the shifts (so shifting loses nothing and zero padding does not matter), over 3 seeds
    (5 in full mode): the relative equivariance error ||f(shift x) - shift f(x)|| / ||f(x)|| of a stack of
    two 3x3 convolutions with ReLU; the relative change ||f(shift x) - f(x)|| / ||f(x)|| of the same
    feature map (invariance error); the invariance error after global average pooling; and the
    invariance error of a network with two stride-2 convolutions and global average pooling under a
    1-pixel shift and under a 4-pixel shift (a multiple of its total stride).
    Checks: equivariance error < 1e-9; feature-map invariance error > 0.1 (not invariant); stride-1 +
    global pooling invariance error < 1e-9; strided network: 1-pixel shift changes the output by > 1%
    (invariance only approximate) while a 4-pixel shift changes it by < 1e-9."""
    seeds = [seed + i for i in range(3 if quick else 5)]
    size, border = (32, 9) if quick else (48, 9)
    rows = []
    for s in seeds:
        rng = seeded(s)
        x = np.zeros((2, 3, size, size))
        x[:, :, border:-border, border:-border] = rng.standard_normal((2, 3, size - 2 * border, size - 2 * border))
        w1, w2 = rng.standard_normal((8, 3, 3, 3)) / 3, rng.standard_normal((8, 8, 3, 3)) / 8

        def fmap(z):
            h = F.relu(F.conv2d(_t(z), _t(w1), padding=1))
            return F.relu(F.conv2d(h, _t(w2), padding=1)).numpy()

        def strided(z):
            h = F.relu(F.conv2d(_t(z), _t(w1), stride=2, padding=1))
            return F.relu(F.conv2d(h, _t(w2), stride=2, padding=1)).numpy().mean(axis=(2, 3))

        f0, f1 = fmap(x), fmap(_shift(x, 1))
        rows.append(
            [
                s,
                _rel(f1, _shift(f0, 1)),
                _rel(f1, f0),
                _rel(f1.mean(axis=(2, 3)), f0.mean(axis=(2, 3))),
                _rel(strided(_shift(x, 1)), strided(x)),
                _rel(strided(_shift(x, 4)), strided(x)),
            ]
        )
    cols = np.array([r[1:] for r in rows])
    mean = cols.mean(axis=0)
    checks = [
        Check("conv stack: equivariance error (max over seeds)", float(cols[:, 0].max()), "<", 1e-9),
        Check(
            "conv stack: feature-map change under a 1-pixel shift (min over seeds)", float(cols[:, 1].min()), ">", 0.1
        ),
        Check(
            "stride 1 + global average pooling: change under a 1-pixel shift (max)", float(cols[:, 2].max()), "<", 1e-9
        ),
        Check("strided net + global pooling: change under a 1-pixel shift (min)", float(cols[:, 3].min()), ">", 0.01),
        Check("strided net + global pooling: change under a 4-pixel shift (max)", float(cols[:, 4].max()), "<", 1e-9),
    ]
    return Result(
        experiment="translation_equivariance",
        claim=_SHIFT_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Relative errors per seed",
                [
                    "seed",
                    "equivariance error",
                    "feature-map change",
                    "global-pooled change",
                    "strided 1px change",
                    "strided 4px change",
                ],
                rows + [["mean", *mean]],
            )
        ],
        seeds=seeds,
        quick=quick,
    )


# ------------------------------------------------------------------------------- conv vs correlation
_CORR_CLAIM = (
    "CNN 'convolution' is cross-correlation; true convolution flips the kernel by 180 degrees; "
    "the two agree for centrally symmetric kernels, and since the kernel is learned nothing is lost."
)

_KERNELS = {
    "box 3x3": np.ones((3, 3)) / 9,
    "Gaussian 3x3": np.outer([1, 2, 1], [1, 2, 1]) / 16,
    "Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),
    "Sobel x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float),
    "Prewitt y": np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], float),
    "emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], float),
}


def _correlate_loop(x, w):
    kh, kw = w.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (x[i : i + kh, j : j + kw] * w).sum()
    return out


@experiment("convolution_vs_correlation", ids=["S001-03"], claim=_CORR_CLAIM)
@single_threaded
def convolution_vs_correlation(seed=0, quick=False):
    """Note S001-03: the convolution of CNNs is cross-correlation; strict convolution flips the kernel; most
    image-processing kernels are centrally symmetric, so the two coincide.

    Measured: F.conv2d against a NumPy cross-correlation loop; F.convolve2d (true convolution) against
    F.conv2d with the 180-degree rotated kernel; the two operations on a random image for classic
    image-processing kernels (symmetric ones coincide, Sobel/Prewitt change sign, emboss differs); and a
    1-channel 3x3 nn.Conv2d trained with Adam (300 steps, 600 in full mode) to reproduce the true
    convolution of random images with a random asymmetric kernel: the learned kernel is compared with
    the rotated kernel.  Checks: the four errors are below 1e-9, 1e-9, 1e-9 (symmetric kernels) and 1e-3
    (learned kernel, relative)."""
    rng = seeded(seed)
    x = rng.standard_normal((20, 20))
    w = rng.standard_normal((3, 3))
    corr = F.conv2d(_t(x[None, None]), _t(w[None, None])).numpy()[0, 0]
    err_corr = float(np.abs(corr - _correlate_loop(x, w)).max())
    conv = F.convolve2d(_t(x[None, None]), _t(w[None, None])).numpy()[0, 0]
    flipped = F.conv2d(_t(x[None, None]), _t(w[::-1, ::-1].copy()[None, None])).numpy()[0, 0]
    err_flip = float(np.abs(conv - flipped).max())
    rows, sym_err = [], 0.0
    for name, k in _KERNELS.items():
        c = F.conv2d(_t(x[None, None]), _t(k[None, None])).numpy()[0, 0]
        v = F.convolve2d(_t(x[None, None]), _t(k[None, None])).numpy()[0, 0]
        symmetric = bool(np.allclose(k, k[::-1, ::-1]))
        antisym = bool(np.allclose(k, -k[::-1, ::-1]))
        if symmetric:
            sym_err = max(sym_err, float(np.abs(c - v).max()))
        rows.append(
            [
                name,
                "symmetric" if symmetric else "antisymmetric" if antisym else "neither",
                float(np.abs(c - v).max()),
                float(np.abs(c + v).max()),
            ]
        )
    # learning: a conv layer fitted to a true convolution learns the rotated kernel
    dn.manual_seed(seed)
    layer = nn.Conv2d(1, 1, 3, bias=False).to(np.float64)
    opt = dn.optim.Adam(layer.parameters(), lr=0.05)
    steps = 300 if quick else 600
    target_w = rng.standard_normal((3, 3))
    imgs = rng.standard_normal((16, 1, 12, 12))
    target = F.convolve2d(_t(imgs), _t(target_w[None, None])).numpy()
    sched = dn.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        loss = F.mse_loss(layer(_t(imgs)), _t(target))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    learned = layer.weight.data[0, 0]
    err_learned = _rel(learned, target_w[::-1, ::-1])
    err_unrotated = _rel(learned, target_w)
    checks = [
        Check("F.conv2d vs cross-correlation loop: max error", err_corr, "<", 1e-9),
        Check("F.convolve2d vs F.conv2d with the kernel rotated 180 degrees: max error", err_flip, "<", 1e-9),
        Check("centrally symmetric kernels: max |convolution - correlation|", sym_err, "<", 1e-9),
        Check("learned kernel vs the rotated true kernel: relative error", err_learned, "<", 1e-3),
    ]
    return Result(
        experiment="convolution_vs_correlation",
        claim=_CORR_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Convolution vs cross-correlation with classic kernels on a random 20x20 image",
                ["kernel", "symmetry", "max |conv - corr|", "max |conv + corr|"],
                rows,
            ),
            Table(
                "A 3x3 conv layer trained to reproduce a true convolution",
                ["quantity", "value"],
                [
                    ["relative error vs rotated kernel", err_learned],
                    ["relative error vs unrotated kernel", err_unrotated],
                    ["final MSE", float(loss.item())],
                ],
            ),
        ],
        seeds=[seed],
        quick=quick,
    )


# ------------------------------------------------------------------------------- max vs avg pooling
_MAXAVG_CLAIM = (
    "Max pooling reduces the variance of the estimate, keeps strong activations and works better "
    "for classification but overfits more easily; average pooling weakens strong activations."
)


def _pool_net(kind, width):
    pool = nn.MaxPool2d(2) if kind == "max" else nn.AvgPool2d(2)
    pool2 = nn.MaxPool2d(2) if kind == "max" else nn.AvgPool2d(2)
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        pool,
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        pool2,
        nn.Flatten(),
        nn.Linear(2 * width * 4, 10),
    )


@experiment("max_vs_avg_pooling", ids=["S001-05"], claim=_MAXAVG_CLAIM)
@single_threaded
def max_vs_avg_pooling(seed=0, quick=False):
    """Note S001-05 (and its repeat S003-06): max pooling "reduces the variance of the estimate", keeps strong
    activations but overfits easily; average pooling "reduces the shift of the estimated mean" and weakens
    strong activations; max pooling usually works better for classification.

    Measured: (1) the variance of 2x2 max- and average-pooled outputs of i.i.d. standard normal maps (the
    estimation noise from a limited neighbourhood); (2) the pooled value of a window holding one strong
    activation among zeros, relative to the activation; (3) a small CNN (two conv+pool stages, 8 channels,
    12 in full mode) with max or average pooling trained on the bundled digits (Adam, lr 1e-2, batch 64,
    3 epochs, 5 in full mode) over 4 seeds: test accuracy and train-test gap.
    Checks (the notes' statements): Var(max) / Var(avg) < 1; average pooling keeps <= 1/n + 1e-9 of a lone
    strong activation while max keeps all of it; max pooling more accurate (mean gain > 2 standard errors);
    max pooling overfits more (train-test gap larger by > 2 standard errors).  The mean-shift half of the
    classic error analysis is not measured (it depends on a model of the parameter error)."""
    rng = seeded(seed)
    noise = _t(rng.standard_normal((1, 4, 128, 128)))
    var_max = float(F.max_pool2d(noise, 2).numpy().var())
    var_avg = float(F.avg_pool2d(noise, 2).numpy().var())
    peak = np.zeros((1, 1, 2, 2))
    peak[0, 0, 1, 0] = 5.0
    kept_max = float(F.max_pool2d(_t(peak), 2).numpy().item() / 5.0)
    kept_avg = float(F.avg_pool2d(_t(peak), 2).numpy().item() / 5.0)
    xtr, ytr, xte, yte = digits(flat=False)
    seeds = [seed + i for i in range(4)]
    width, epochs = (8, 3) if quick else (12, 5)
    acc, gap = {"max": [], "avg": []}, {"max": [], "avg": []}
    for s in seeds:
        for kind in acc:
            r = seeded(s)
            model = _pool_net(kind, width)
            train_classifier(model, dn.optim.Adam(model.parameters(), lr=1e-2), xtr, ytr, epochs, 64, r)
            a_te, a_tr = accuracy(model, xte, yte), accuracy(model, xtr, ytr)
            acc[kind].append(a_te)
            gap[kind].append(a_tr - a_te)
    gain = [a - b for a, b in zip(acc["max"], acc["avg"])]
    gap_diff = [a - b for a, b in zip(gap["max"], gap["avg"])]
    checks = [
        Check(
            "Var(2x2 max-pooled noise) / Var(2x2 average-pooled noise) (notes: max reduces variance)",
            var_max / var_avg,
            "<",
            1.0,
        ),
        Check("share of a lone strong activation kept by average pooling (n = 4)", kept_avg, "<=", 0.25 + 1e-9),
        Check("share kept by max pooling", kept_max, ">=", 1.0 - 1e-9),
        Check(f"max - avg test accuracy in standard errors (mean {np.mean(gain):+.4f})", t_statistic(gain), ">", 2.0),
        Check(
            f"max - avg train-test gap in standard errors (mean {np.mean(gap_diff):+.4f})",
            t_statistic(gap_diff),
            ">",
            2.0,
        ),
    ]
    rows = [[k, *mean_std(acc[k]), *mean_std(gap[k])] for k in acc]
    return Result(
        experiment="max_vs_avg_pooling",
        claim=_MAXAVG_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Pooling statistics",
                ["quantity", "max pooling", "average pooling"],
                [
                    ["variance of pooled N(0,1) noise", var_max, var_avg],
                    ["share of a lone peak kept", kept_max, kept_avg],
                ],
            ),
            Table(
                f"Digits CNN ({width} channels, {epochs} epochs, {len(seeds)} seeds)",
                ["pooling", "test accuracy", "std", "train-test gap", "gap std"],
                rows,
            ),
        ],
        figures=[
            Figure(
                "accuracy_per_seed",
                "Test accuracy per seed",
                "seed",
                "accuracy",
                {k: (seeds, acc[k]) for k in acc},
                kind="bar",
            )
        ],
        seeds=seeds,
        quick=quick,
    )


# ------------------------------------------------------------------------------- role of pooling
_POOL_CLAIM = (
    "Pooling has no parameters (it cuts those of later layers and the computation), keeps the channel "
    "count while shrinking the map (convolution does the opposite), enlarges later receptive fields "
    "and tolerates small shifts; the notes add that it brings nonlinearity and, for max pooling, "
    "translation, rotation and scale invariance."
)


def _warp(img, angle_deg=0.0, scale=1.0):
    """Rotate/scale a (H, W) image about its centre with bilinear sampling (zeros outside)."""
    h, w = img.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    a = math.radians(angle_deg)
    # inverse map: output pixel -> source coordinate
    dy, dx = (yy - cy) / scale, (xx - cx) / scale
    sy = cy + math.cos(a) * dy - math.sin(a) * dx
    sx = cx + math.sin(a) * dy + math.cos(a) * dx
    y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    fy, fx = sy - y0, sx - x0
    out = np.zeros_like(img)
    for oy, ox, wgt in ((0, 0, (1 - fy) * (1 - fx)), (1, 0, fy * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 1, fy * fx)):
        yi, xi = y0 + oy, x0 + ox
        ok = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        out[ok] += wgt[ok] * img[yi[ok], xi[ok]]
    return out


def _invariance_gains(rng, n_images):
    """Relative change of random conv features before and after 2x2 max pooling under small transforms
    of upsampled digit images; returns {transform: (change without pool, change with pool)}."""
    xtr = digits(flat=False)[0]
    imgs = xtr[rng.choice(len(xtr), n_images, replace=False), 0].astype(np.float64)
    big = F.interpolate(_t(imgs[:, None]), scale_factor=4, mode="bilinear", align_corners=False).numpy()[:, 0]
    big = np.pad(big, ((0, 0), (8, 8), (8, 8)))
    w = rng.standard_normal((16, 1, 5, 5)) / 5
    transforms = {
        "shift 1 px": lambda im: np.roll(im, 1, axis=1),
        "rotate 15 deg": lambda im: _warp(im, 15.0),
        "scale 1.2x": lambda im: _warp(im, 0.0, 1.2),
    }

    def feats(batch):
        f = F.relu(F.conv2d(_t(batch[:, None]), _t(w), padding=2))
        return f.numpy(), F.max_pool2d(f, 2).numpy()

    f0, p0 = feats(big)
    out = {}
    for name, tf in transforms.items():
        f1, p1 = feats(np.stack([tf(im) for im in big]))
        out[name] = (
            float(np.mean([_rel(a, b) for a, b in zip(f1, f0)])),
            float(np.mean([_rel(a, b) for a, b in zip(p1, p0)])),
        )
    return out


@experiment("pooling_properties", ids=["S001-06"], claim=_POOL_CLAIM)
@single_threaded
def pooling_properties(seed=0, quick=False):
    """Note S001-06 (what pooling is for): pooling (1) adds nonlinearity, (2) reduces parameters and
    computation, preventing overfitting, (3) max pooling brings translation, rotation and scale invariance
    and so enlarges the receptive field, (4) loses some information.

    Measured: parameters of MaxPool2d/AvgPool2d and of a Conv2d(16, 32, 3); output shapes on a
    (16, 16, 16) map; the linearity residual ||P(x + y) - P(x) - P(y)|| / ||P(x + y)|| of 2x2 max and
    average pooling on random maps; parameters of a Linear classifier on the flattened map with and
    without a 2x2 pool before it and MACs of a following 3x3 convolution; receptive fields of conv-conv
    and conv-pool-conv (deepnotes.analysis.receptive_field); and, on bundled digits upsampled to 32x32
    (12 images, 40 in full mode) through 16 random 5x5 ReLU filters, the mean relative change of the
    feature map under a 1-pixel shift, a 15-degree rotation and a 1.2x scaling, before and after 2x2 max
    pooling.  "Brings invariance to T" is read as: max pooling cuts the change under T by at least 25%
    (gain = change before / change after >= 1.33).
    Checks: pooling has 0 parameters; a 2x2 pool before the classifier cuts its parameters 4x; pooling
    keeps the channels and halves the map; max pooling is nonlinear; average pooling is nonlinear (the
    notes' claim (1) for all pooling); the receptive field grows with a pool in between; invariance gain
    >= 1.33 for shift, rotation and scale."""
    rng = seeded(seed)
    pool_params = count_parameters(nn.MaxPool2d(2)) + count_parameters(nn.AvgPool2d(2))
    conv = nn.Conv2d(16, 32, 3, padding=1)
    x = dn.randn(1, 16, 16, 16)
    conv_shape, pool_shape = tuple(conv(x).shape[1:]), tuple(F.max_pool2d(x, 2).shape[1:])
    shape_violations = int(conv_shape != (32, 16, 16)) + int(pool_shape != (16, 8, 8))
    fc_no_pool = count_parameters(nn.Linear(16 * 16 * 16, 10))
    fc_pool = count_parameters(nn.Linear(16 * 8 * 8, 10))
    nxt = nn.Conv2d(16, 16, 3, padding=1)
    macs_no_pool, macs_pool = profile(nxt, (16, 16, 16)).macs, profile(nxt, (16, 8, 8)).macs
    a, b = rng.standard_normal((2, 4, 16, 16)), rng.standard_normal((2, 4, 16, 16))
    lin = {}
    for kind, fn in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        whole = fn(_t(a + b), 2).numpy()
        lin[kind] = _rel(fn(_t(a), 2).numpy() + fn(_t(b), 2).numpy(), whole)
    rf_plain = receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), (1, 32, 32))[-1].size[0]
    rf_pool = receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3)), (1, 32, 32))[
        -1
    ].size[0]
    inv = _invariance_gains(rng, 12 if quick else 40)
    gains = {k: before / after for k, (before, after) in inv.items()}
    checks = [
        Check("parameters of MaxPool2d + AvgPool2d", pool_params, "<=", 0),
        Check("classifier parameters without / with a 2x2 pool before it", fc_no_pool / fc_pool, ">=", 3.9),
        Check(
            "shape rules violated (conv: same size, new channels; pool: half size, same channels)",
            shape_violations,
            "<=",
            0,
        ),
        Check("max pooling linearity residual (nonlinear if > 0.01)", lin["max"], ">", 0.01),
        Check("average pooling linearity residual (nonlinear if > 0.01)", lin["avg"], ">", 0.01),
        Check(f"receptive field conv-pool-conv minus conv-conv ({rf_pool} vs {rf_plain})", rf_pool - rf_plain, ">", 0),
    ] + [Check(f"max pooling invariance gain under {k}", g, ">=", 1.33) for k, g in gains.items()]
    return Result(
        experiment="pooling_properties",
        claim=_POOL_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Pooling vs convolution",
                ["quantity", "value"],
                [
                    ["pooling parameters", pool_params],
                    ["Conv2d(16, 32, 3) parameters", count_parameters(conv)],
                    ["conv output shape (same padding)", str(conv_shape)],
                    ["2x2 pool output shape", str(pool_shape)],
                    ["Linear on 16x16x16 parameters", fc_no_pool],
                    ["Linear on 16x8x8 parameters", fc_pool],
                    ["next 3x3 conv MACs without pool", macs_no_pool],
                    ["... with pool", macs_pool],
                    ["max pooling linearity residual", lin["max"]],
                    ["average pooling linearity residual", lin["avg"]],
                    ["receptive field conv-conv", rf_plain],
                    ["receptive field conv-pool-conv", rf_pool],
                ],
            ),
            Table(
                "Relative feature change under small transforms (upsampled digits)",
                ["transform", "before pooling", "after 2x2 max pooling", "gain"],
                [[k, inv[k][0], inv[k][1], gains[k]] for k in inv],
            ),
        ],
        seeds=[seed],
        quick=quick,
    )


_CONVPOOL_CLAIM = (
    "With zero padding a convolution keeps the spatial size and changes the channel count, pooling "
    "shrinks the map and keeps the channels; convolution has parameters set by kernel size and "
    "count, pooling none; convolution output changes with small input changes, pooling output "
    "does not change for small changes within its window."
)


@experiment("conv_vs_pooling_layers", ids=["S001-66"], claim=_CONVPOOL_CLAIM)
@single_threaded
def conv_vs_pooling_layers(seed=0, quick=False):
    """Note S001-66 (convolution vs pooling layers, a table): structure (conv with zero padding keeps the size
    and changes the channels; pooling reduces the size and keeps the channels), stability (a conv output
    changes when the input changes slightly; small changes within a pooling window do not affect its
    output), role, and parameters (conv: set by kernel size and count; pooling: none).

    Measured on random (2, 16, 16, 16) maps: parameters of Conv2d(16, 32, k) for k = 1, 3, 5 on 8x8 and
    32x32 maps against k^2*16*32 + 32, and of MaxPool2d/AvgPool2d; output shapes; the output change of a
    3x3 convolution, 2x2 max pooling and 2x2 average pooling when every entry that is not its window's
    maximum moves by up to 1e-3 (staying below the maximum); and the relative change of a 2x2 max-pooled
    feature map under a 1-pixel shift of upsampled digits, against the unpooled map (as in
    pooling_properties).
    Checks: parameter rules; shape rules; convolution output changes (> 0); max pooling output unchanged
    (exactly); average pooling output unchanged (the notes' statement for pooling in general); a 1-pixel
    shift changes the pooled map at most 3/4 as much as the unpooled one (gain >= 1.33)."""
    rng = seeded(seed)
    bad_params = 0
    for k in (1, 3, 5):
        conv = nn.Conv2d(16, 32, k, padding=k // 2)
        counts = {profile(conv, (16, s, s)).params for s in (8, 32)}
        bad_params += int(counts != {k * k * 16 * 32 + 32})
    pool_params = count_parameters(nn.MaxPool2d(2)) + count_parameters(nn.AvgPool2d(2))
    x = rng.standard_normal((2, 16, 16, 16))
    conv = nn.Conv2d(16, 32, 3, padding=1).to(np.float64)
    with dn.no_grad():
        c0 = conv(_t(x)).numpy()
    shapes_bad = int(c0.shape[1:] != (32, 16, 16)) + int(F.max_pool2d(_t(x), 2).shape[1:] != (16, 8, 8))
    # perturb every non-maximum entry of each 2x2 window, keeping it below the window maximum
    win = x.reshape(2, 16, 8, 2, 8, 2)
    wmax = win.max(axis=(3, 5), keepdims=True)
    gap = wmax - win
    delta = np.where(gap > 0, np.minimum(1e-3, 0.5 * gap) * rng.uniform(-1, 1, win.shape), 0.0)
    x2 = (win + delta).reshape(x.shape)
    with dn.no_grad():
        change = {
            "3x3 convolution": float(np.abs(conv(_t(x2)).numpy() - c0).max()),
            "2x2 max pooling": float(np.abs(F.max_pool2d(_t(x2), 2).numpy() - F.max_pool2d(_t(x), 2).numpy()).max()),
            "2x2 average pooling": float(
                np.abs(F.avg_pool2d(_t(x2), 2).numpy() - F.avg_pool2d(_t(x), 2).numpy()).max()
            ),
        }
    before, after = _invariance_gains(rng, 12 if quick else 40)["shift 1 px"]
    checks = [
        Check(
            "conv layers whose parameters differ from k^2 Cin Cout + Cout or depend on the map size",
            bad_params,
            "<=",
            0,
        ),
        Check("pooling parameters", pool_params, "<=", 0),
        Check("shape rules violated", shapes_bad, "<=", 0),
        Check("3x3 convolution: max output change", change["3x3 convolution"], ">", 0.0),
        Check("2x2 max pooling: max output change", change["2x2 max pooling"], "<=", 0.0),
        Check("2x2 average pooling: max output change", change["2x2 average pooling"], "<=", 0.0),
        Check("1-pixel shift: change of the unpooled / max-pooled feature map", before / after, ">=", 1.33),
    ]
    return Result(
        experiment="conv_vs_pooling_layers",
        claim=_CONVPOOL_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Small changes inside each 2x2 window (non-maxima moved by <= 1e-3)",
                ["layer", "max output change"],
                [[k, v] for k, v in change.items()],
            ),
            Table(
                "1-pixel shift of upsampled digits",
                ["quantity", "value"],
                [
                    ["relative change, feature map", before],
                    ["relative change, after 2x2 max pool", after],
                    ["gain", before / after],
                ],
            ),
        ],
        seeds=[seed],
        quick=quick,
    )


# ------------------------------------------------------------------------------- SPP
_SPP_CLAIM = "With a spatial pyramid pooling layer a CNN accepts inputs of any size (fixed-length output)."


@experiment("spp_any_input_size", ids=["S001-08"], claim=_SPP_CLAIM)
@single_threaded
def spp_any_input_size(seed=0, quick=False):
    """Note S001-08: SPP pools the feature map with windows of several sizes; with it a CNN handles inputs
    of any size.

    Measured: F.spatial_pyramid_pool with levels (1, 2, 4) on maps of several sizes (output length must be
    C * 21); each level compared with F.adaptive_max_pool2d; a network conv-ReLU-SPP-Linear and the same
    network with flatten instead of SPP run on inputs of 8x8 and of other sizes (5x7 ... 33x20); the SPP
    network is trained on the 8x8 digits (2 epochs, 4 in full mode) and tested on the test digits resized
    to 12x12 and 16x16, which only it can take.
    Checks: one output length for all sizes; SPP = concatenated adaptive max pools (max error < 1e-12);
    the SPP network runs on every size, the flatten network only on its training size; the SPP network
    beats chance (0.1) by > 0.3 on the resized digits it was never trained on (so it is usable, not just
    runnable)."""
    rng = seeded(seed)
    sizes = [(8, 8), (5, 7), (13, 11), (16, 16), (33, 20)]
    lengths, ref_err = set(), 0.0
    for h, w in sizes:
        x = _t(rng.standard_normal((2, 4, h, w)))
        out = F.spatial_pyramid_pool(x, (1, 2, 4)).numpy()
        lengths.add(out.shape[1])
        ref = np.concatenate([F.adaptive_max_pool2d(x, n).numpy().reshape(2, -1) for n in (1, 2, 4)], axis=1)
        ref_err = max(ref_err, float(np.abs(out - ref).max()))
    spp_net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.SpatialPyramidPooling((1, 2, 4)), nn.Linear(16 * 21, 10)
    )
    flat_net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 64, 10))
    ran = {"SPP": 0, "flatten": 0}
    for h, w in sizes:
        for name, net in (("SPP", spp_net), ("flatten", flat_net)):
            try:
                with dn.no_grad():
                    net(dn.randn(1, 1, h, w))
                ran[name] += 1
            except ValueError:
                pass
    xtr, ytr, xte, yte = digits(flat=False)
    train_classifier(spp_net, dn.optim.Adam(spp_net.parameters(), lr=1e-2), xtr, ytr, 2 if quick else 4, 64, rng)
    accs = {8: accuracy(spp_net, xte, yte)}
    for s in (12, 16):
        big = F.interpolate(dn.tensor(xte), size=(s, s), mode="bilinear", align_corners=False).numpy()
        accs[s] = accuracy(spp_net, big, yte)
    checks = [
        Check("distinct SPP output lengths over input sizes", len(lengths), "<=", 1),
        Check("SPP vs concatenated adaptive max pools: max error", ref_err, "<", 1e-12),
        Check(f"input sizes the SPP network runs on (of {len(sizes)})", ran["SPP"], ">=", len(sizes)),
        Check(f"input sizes the flatten network runs on (of {len(sizes)})", ran["flatten"], "<=", 1),
        Check(
            "SPP network accuracy on digits resized to 12x12 and 16x16 (min) minus chance",
            min(accs[12], accs[16]) - 0.1,
            ">",
            0.3,
        ),
    ]
    return Result(
        experiment="spp_any_input_size",
        claim=_SPP_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Which network accepts which input size",
                ["network", f"sizes run (of {len(sizes)})"],
                [[k, v] for k, v in ran.items()],
            ),
            Table(
                "SPP network trained on 8x8 digits",
                ["test input size", "test accuracy"],
                [[f"{s}x{s}", a] for s, a in accs.items()],
            ),
        ],
        seeds=[seed],
        quick=quick,
    )


# ------------------------------------------------------------------------------- 1x1 convolution
_ONE_CLAIM = (
    "A 1x1 convolution mixes channels at each pixel (a per-pixel fully connected layer), changes the "
    "channel count cheaply (bottlenecks cut parameters) and, with an activation, adds nonlinearity; "
    "it does not change the spatial size or the receptive field."
)


@experiment("one_by_one_conv", ids=["S001-65"], claim=_ONE_CLAIM)
@single_threaded
def one_by_one_conv(seed=0, quick=False):
    """Note S001-65 (and its repeats): 1x1 convolutions exchange information across channels, reduce or raise
    the channel count to save parameters, and (seed 003) add nonlinearity.

    Measured: a Conv2d(32, 16, 1) against the same weights applied as nn.Linear at every pixel (float64);
    the parameters of ResNet's 256-64-64-256 bottleneck (1x1, 3x3, 1x1) against one 3x3 convolution
    256 -> 256 (deepnotes.models.resnet.Bottleneck vs nn.Conv2d); output shapes and receptive fields of
    a 3x3 convolution with and without a 1x1 after it; the linearity residual of a 1x1 convolution alone
    and followed by ReLU.
    Checks: per-pixel Linear equivalence error < 1e-12; bottleneck/plain parameter ratio < 0.2; a 1x1
    keeps H x W and changes the channels; it leaves the receptive field unchanged; 1x1 + ReLU is
    nonlinear (residual > 0.01)."""
    rng = seeded(seed)
    conv = nn.Conv2d(32, 16, 1).to(np.float64)
    x = rng.standard_normal((2, 32, 7, 7))
    lin = nn.Linear(32, 16).to(np.float64)
    lin.weight.data[...] = conv.weight.data[:, :, 0, 0]
    lin.bias.data[...] = conv.bias.data
    with dn.no_grad():
        y = conv(_t(x)).numpy()
        y_lin = lin(_t(x.transpose(0, 2, 3, 1))).numpy().transpose(0, 3, 1, 2)
    eq_err = float(np.abs(y - y_lin).max())
    from deepnotes.models.resnet import Bottleneck

    bott = count_parameters(Bottleneck(256, 64))
    bn_params = 2 * (64 + 64 + 256)
    plain = count_parameters(nn.Conv2d(256, 256, 3, padding=1, bias=False))
    rf3 = receptive_field(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1)), (4, 16, 16))[-1]
    rf31 = receptive_field(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 8, 1)), (4, 16, 16))[-1]
    shape_ok = tuple(rf31.output_shape[2:]) == (16, 16) and rf31.output_shape[1] == 8
    a, b = rng.standard_normal((2, 32, 5, 5)), rng.standard_normal((2, 32, 5, 5))
    res = {}
    w = _t(conv.weight.data)
    for name, f in (("1x1 alone", lambda z: F.conv2d(_t(z), w)), ("1x1 + ReLU", lambda z: F.relu(F.conv2d(_t(z), w)))):
        res[name] = _rel(f(a).numpy() + f(b).numpy(), f(a + b).numpy())
    checks = [
        Check("1x1 conv vs per-pixel Linear: max error", eq_err, "<", 1e-12),
        Check(
            f"bottleneck 256-64-64-256 ({bott - bn_params} conv weights) / 3x3 256->256 ({plain})",
            (bott - bn_params) / plain,
            "<",
            0.2,
        ),
        Check("1x1 keeps H x W and sets the channel count (violations)", 0 if shape_ok else 1, "<=", 0),
        Check("receptive field change from a 1x1 layer", abs(rf31.size[0] - rf3.size[0]), "<=", 0),
        Check("linearity residual of 1x1 + ReLU", res["1x1 + ReLU"], ">", 0.01),
    ]
    return Result(
        experiment="one_by_one_conv",
        claim=_ONE_CLAIM,
        checks=checks,
        tables=[
            Table(
                "1x1 convolution",
                ["quantity", "value"],
                [
                    ["max |conv1x1 - per-pixel Linear|", eq_err],
                    ["Bottleneck(256, 64) parameters (incl. BN)", bott],
                    ["3x3 256->256 weights", plain],
                    ["receptive field 3x3", rf3.size[0]],
                    ["receptive field 3x3 then 1x1", rf31.size[0]],
                    ["linearity residual, 1x1 alone", res["1x1 alone"]],
                    ["linearity residual, 1x1 + ReLU", res["1x1 + ReLU"]],
                ],
            )
        ],
        seeds=[seed],
        quick=quick,
    )


# ------------------------------------------------------------------------------- odd kernels
_ODD_CLAIM = (
    "Odd kernel sizes have a centre pixel and allow symmetric 'same' padding, so feature maps stay "
    "aligned with the input; even kernels need asymmetric padding and shift the map by half a pixel "
    "per layer."
)


def _centroid_drift(k, layers, size, pad):
    x = np.zeros((1, 1, size, size))
    c = size // 2
    x[0, 0, c, c] = 1.0
    h = _t(x)
    w = _t(np.ones((1, 1, k, k)) / (k * k))
    for _ in range(layers):
        h = F.conv2d(F.pad(h, pad), w)
    out = h.numpy()[0, 0]
    ys, xs = np.mgrid[0 : out.shape[0], 0 : out.shape[1]]
    m = out.sum()
    return float((out * xs).sum() / m - c), float((out * ys).sum() / m - c), out.shape


@experiment("odd_kernel_alignment", ids=["S001-139"], claim=_ODD_CLAIM)
@single_threaded
def odd_kernel_alignment(seed=0, quick=False):
    """Note S001-139: kernel sizes are odd (1) to keep a centre pixel and avoid shifting positions, (2) so that
    padding can be added equally on both sides and the map stays symmetric.

    Measured: an impulse at the centre of a 33x33 image passed through L box-filter convolutions (L = 4,
    8 in full mode) with 'same' padding: symmetric (k-1)/2 on each side for k = 3, 5; for k = 2, 4 the
    symmetric choice p = k/2 (output size) and the asymmetric ((k-1)//2 left/top, k//2 right/bottom)
    padding that keeps the size; the centroid of the response relative to the impulse.
    Checks: odd kernels keep the size with symmetric padding and drift by < 1e-9 pixels; no symmetric
    padding keeps the size for even kernels (the size changes by 1 per layer); with asymmetric padding
    even kernels drift by at least 0.5 pixel per layer along each axis."""
    layers = 4 if quick else 8
    size = 33
    rows, odd_drift, odd_size_ok, even_sym_ok, even_drift = [], 0.0, True, 0, math.inf
    for k in (3, 5):
        p = (k - 1) // 2
        dx, dy, shape = _centroid_drift(k, layers, size, (p, p, p, p))
        odd_drift = max(odd_drift, abs(dx), abs(dy))
        odd_size_ok &= shape == (size, size)
        rows.append([k, f"{p} both sides", f"{shape[0]}x{shape[1]}", dx, dy])
    for k in (2, 4):
        p = k // 2
        dx, dy, shape = _centroid_drift(k, layers, size, (p, p, p, p))
        even_sym_ok += int(shape == (size, size))
        rows.append([k, f"{p} both sides", f"{shape[0]}x{shape[1]}", dx, dy])
        lo, hi = (k - 1) // 2, k // 2
        dx, dy, shape = _centroid_drift(k, layers, size, (lo, hi, lo, hi))
        even_drift = min(even_drift, abs(dx) / layers, abs(dy) / layers)
        rows.append([k, f"{lo} before, {hi} after", f"{shape[0]}x{shape[1]}", dx, dy])
    checks = [
        Check("odd kernels with symmetric padding keep the size (violations)", 0 if odd_size_ok else 1, "<=", 0),
        Check(f"odd kernels: centroid drift after {layers} layers (pixels)", odd_drift, "<", 1e-9),
        Check("even kernels: symmetric paddings that keep the size", even_sym_ok, "<=", 0),
        Check(
            "even kernels, size-keeping asymmetric padding: drift per layer (pixels, min)", even_drift, ">=", 0.5 - 1e-9
        ),
    ]
    return Result(
        experiment="odd_kernel_alignment",
        claim=_ODD_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Centre impulse on a {size}x{size} image through {layers} box-filter layers",
                ["k", "padding", "output size", "centroid drift x", "centroid drift y"],
                rows,
            )
        ],
        seeds=[seed],
        quick=quick,
    )
