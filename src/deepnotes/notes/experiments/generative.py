"""Generative models (seed 002): the saturating vs non-saturating generator loss, the Inception Score's
properties, CycleGAN's cycle consistency, mode collapse in GAN vs WGAN vs WGAN-GP, and what weight
clipping does to a critic compared with the gradient penalty.

The GANs are the small DCGAN networks of :mod:`deepnotes.generative` on the bundled digits (8x8 here, so
that several runs fit in seconds); classes are counted by the shipped digits classifier."""

from __future__ import annotations

import numpy as np

import deepnotes as dn
from deepnotes import nn
from deepnotes.generative import (
    DCGANDiscriminator,
    DCGANGenerator,
    clip_weights_,
    gan_discriminator_loss,
    gradient_penalty,
    inception_score,
    load_digits_classifier,
    minimax_generator_loss,
    nonsaturating_generator_loss,
    wasserstein_critic_loss,
)
from deepnotes.generative.cycle import train_cyclegan
from deepnotes.generative.training import default_config, digits_real_images, generate, train_gan

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import mean_std, seeded, single_threaded

_CLASSIFIER = {}


def _classifier():
    if "c" not in _CLASSIFIER:
        _CLASSIFIER["c"] = load_digits_classifier()
    return _CLASSIFIER["c"]


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _grad_norm(params):
    return float(np.sqrt(sum(float((p.grad.numpy().astype(np.float64) ** 2).sum()) for p in params)))


# --------------------------------------------------------------------------------- S002-30
_SAT_CLAIM = (
    "At the start of training the discriminator easily rejects the generator's samples; the original "
    "minimax generator loss log(1 - D(G(z))) then saturates and gives almost no gradient, while the "
    "non-saturating loss -log D(G(z)) gives a strong one."
)


@experiment("gan_saturating_vs_nonsaturating", ids=["S002-30"], claim=_SAT_CLAIM)
@single_threaded
def gan_saturating_vs_nonsaturating(seed=0, quick=False):
    """Notes S002-30 (the GAN game; in practice G maximises log D(G(z)) for stronger early gradients).

    Measured on 8x8 digits with the DCGAN networks of deepnotes.generative: the discriminator is trained
    alone (Adam 2e-3, batches of 64) against the freshly initialised generator, the situation at the
    start of training.  Every few steps, on one fixed noise batch, the norm of the generator's parameter
    gradient is taken under the minimax loss E[log(1 - D(G(z)))] and under the non-saturating loss
    E[-log D(G(z))].  Checks, at the end of the discriminator's training (means over seeds): the
    discriminator rejects the fakes (mean D(G(z)) < 0.2); the non-saturating gradient is more than 5 times
    the minimax one; the minimax gradient has fallen below half of its peak during the discriminator's
    training (it first grows with the discriminator's weights, then saturates as D(G(z)) -> 0).
    """
    seeds = [seed] if quick else [seed + i for i in range(4)]
    d_steps = 80 if quick else 200
    every = 10 if quick else 15
    x_real, _ = digits_real_images(True, 8)
    curves, finals = {}, []
    for s in seeds:
        rng = seeded(s)
        g, d = DCGANGenerator(nz=16, ngf=16, image_size=8), DCGANDiscriminator(ndf=16, image_size=8)
        opt = dn.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
        z_fixed = dn.tensor(rng.standard_normal((64, 16)).astype(np.float32))
        rows = []
        for step in range(d_steps + 1):
            if step % every == 0:
                row = [step]
                for loss_fn in (minimax_generator_loss, nonsaturating_generator_loss):
                    for p in g.parameters():
                        p.grad = None
                    scores = d(g(z_fixed))
                    loss_fn(scores).backward()
                    row.append(_grad_norm(g.parameters()))
                with dn.no_grad():
                    row.append(float(dn.sigmoid(d(g(z_fixed))).mean().item()))
                rows.append(row)
            if step == d_steps:
                break
            idx = rng.choice(len(x_real), 64, replace=False)
            with dn.no_grad():
                fake = g(dn.tensor(rng.standard_normal((64, 16)).astype(np.float32)))
            loss = gan_discriminator_loss(d(dn.tensor(x_real[idx])), d(fake))
            opt.zero_grad()
            loss.backward()
            opt.step()
        curves[s] = rows
        last = rows[-1]
        peak = max(r[1] for r in rows)
        finals.append((last[3], last[2] / last[1], last[1] / peak, last[1], last[2]))
    d_fake, d_spread = mean_std([f[0] for f in finals])
    ratio, ratio_spread = mean_std([f[1] for f in finals])
    shrink, shrink_spread = mean_std([f[2] for f in finals])
    checks = [
        Check("mean D(G(z)) after training D alone", d_fake, "<", 0.2, d_spread),
        Check("generator gradient norm, non-saturating / minimax", ratio, ">", 5.0, ratio_spread),
        Check("minimax gradient norm, end / its peak while D trained", shrink, "<", 0.5, shrink_spread),
    ]
    s0 = seeds[0]
    table = Table(
        f"seed {s0}: generator gradient norms while D trains against the initial generator",
        ["D steps", "|grad| minimax", "|grad| non-saturating", "mean D(G(z))"],
        curves[s0],
    )
    summary = Table(
        "per seed, after the discriminator's training",
        [
            "seed",
            "mean D(G(z))",
            "non-saturating / minimax",
            "minimax end / peak",
            "|grad| minimax",
            "|grad| non-saturating",
        ],
        [[s, *f] for s, f in zip(seeds, finals)],
    )
    fig = Figure(
        "generator_gradient",
        f"Generator gradient norm as the discriminator learns (seed {s0})",
        "discriminator steps",
        "|dL_G / d theta_G|",
        {
            "minimax log(1 - D(G(z)))": ([r[0] for r in curves[s0]], [r[1] for r in curves[s0]]),
            "non-saturating -log D(G(z))": ([r[0] for r in curves[s0]], [r[2] for r in curves[s0]]),
        },
        logy=True,
    )
    return Result(
        experiment="gan_saturating_vs_nonsaturating",
        claim=_SAT_CLAIM,
        checks=checks,
        tables=[table, summary],
        figures=[fig],
        seeds=seeds,
        quick=quick,
        notes="Per sample, d/ds log(1 - sigmoid(s)) = -sigmoid(s) and d/ds -log sigmoid(s) = -(1 - sigmoid(s)): "
        "the ratio of the two is (1 - D)/D, about 1/D when D(G(z)) is small.",
    )


# --------------------------------------------------------------------------------- S002-57
_IS_CLAIM = (
    "The Inception Score exp(E KL(p(y|x) || p(y))) is high when each image is classified confidently and "
    "the classes are spread evenly; it lies between 1 and the number of classes; it never compares with real "
    "data, so it cannot see mode collapse within a class or memorisation, which FID does."
)


@experiment("inception_score_properties", ids=["S002-57"], claim=_IS_CLAIM)
@single_threaded
def inception_score_properties(seed=0, quick=False):
    """Notes S002-57 (Inception Score).  The digits classifier of deepnotes.generative plays Inception v3.

    Image sets of equal size (360, the size of the test split) are scored with IS (1 split) and with the
    digits FID against the training split: the real test images; one class only (the test images of one
    digit, repeated); half the classes; uniform noise; and a *collapsed* set: one training image per class,
    each repeated 36 times (perfect class balance, no diversity within a class: memorisation).  Checks:
    real digits score above 8 (of 10); one class scores below 1.5; half the classes score within 20% of 5;
    every score lies in [1, 10]; the collapsed set scores at least 90% of the real digits' IS although its
    FID is more than 5 times theirs; IS equals exp(H(y) - E H(y|x)) (to 1e-9).  The seed picks the class
    and the collapsed images.
    """
    rng = seeded(seed)
    clf = _classifier()
    x_train, y_train = digits_real_images(True, 16)
    x_test, y_test = digits_real_images(False, 16)
    x_train, x_test = x_train * 0.5 + 0.5, x_test * 0.5 + 0.5
    n = len(x_test)
    digit = int(rng.integers(10))
    one = x_test[y_test == digit]
    half_classes = rng.permutation(10)[:5]
    half = x_test[np.isin(y_test, half_classes)]
    picks = [int(rng.choice(np.flatnonzero(y_train == c))) for c in range(10)]
    sets = {
        "real test digits": x_test,
        f"one class (digit {digit})": one[np.arange(n) % len(one)],
        "half the classes": half[np.arange(n) % len(half)],
        "uniform noise": rng.random((n, 1, 16, 16)).astype(np.float32),
        "one image per class x 36": x_train[picks][np.arange(n) % 10],
    }
    train_logits, train_features = clf.logits_and_features(x_train)
    rows, scores, fids = [], {}, {}
    from deepnotes.generative import fid_from_features

    for name, images in sets.items():
        logits, features = clf.logits_and_features(images)
        p = _softmax(logits)
        is_mean, _ = inception_score(p, splits=1)
        marginal = p.mean(0)
        h_y = -float((marginal * np.log(np.where(marginal > 0, marginal, 1))).sum())
        h_yx = -float((p * np.log(np.where(p > 0, p, 1))).sum(1).mean())
        fid = fid_from_features(features, train_features)
        scores[name], fids[name] = is_mean, fid
        rows.append([name, is_mean, float(np.exp(h_y - h_yx)), h_y, h_yx, float(p.max(1).mean()), fid])
    identity_gap = max(abs(r[1] - r[2]) for r in rows)
    real = scores["real test digits"]
    collapsed = "one image per class x 36"
    checks = [
        Check("IS of the real test digits", real, ">", 8.0),
        Check("IS of one class", scores[f"one class (digit {digit})"], "<", 1.5),
        Check("|IS of half the classes / 5 - 1|", abs(scores["half the classes"] / 5 - 1), "<", 0.2),
        Check("lowest IS", min(scores.values()), ">=", 1.0),
        Check("highest IS", max(scores.values()), "<=", 10.0),
        Check("IS of the collapsed set / IS of real digits", scores[collapsed] / real, ">=", 0.9),
        Check("FID of the collapsed set / FID of real digits", fids[collapsed] / fids["real test digits"], ">", 5.0),
        Check("max |IS - exp(H(y) - E H(y|x))|", identity_gap, "<", 1e-9),
    ]
    split_rows = []
    train_probs = _softmax(train_logits)
    for k in (1, 2, 5, 10):
        m, sd = inception_score(train_probs, splits=k)
        split_rows.append([k, len(x_train) // k, m, sd])
    return Result(
        experiment="inception_score_properties",
        claim=_IS_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"{n} images per set; digits classifier; FID against the {len(x_train)} training images",
                ["set", "IS", "exp(H(y) - E H(y|x))", "H(y)", "E H(y|x)", "mean confidence", "digits FID"],
                rows,
            ),
            Table(
                "IS of the training digits by number of splits (smaller parts: lower, noisier score)",
                ["splits", "images per split", "IS mean", "IS std"],
                split_rows,
            ),
        ],
        seeds=[seed],
        quick=quick,
        notes="The collapsed set is what a generator that memorised ten images would produce: IS rewards it "
        "because every image is confident and the classes are balanced; only a comparison with real data "
        "(FID) sees the missing diversity.",
    )


# --------------------------------------------------------------------------------- S002-62
_CYCLE_CLAIM = (
    "Adversarial losses alone allow any mapping onto the target distribution; CycleGAN's cycle-consistency "
    "loss |F(G(x)) - x| + |G(F(y)) - y| forces the two translators to be near-inverses, so the content of "
    "an image survives the round trip."
)


@experiment("cyclegan_cycle_consistency", ids=["S002-62"], claim=_CYCLE_CLAIM)
@single_threaded
def cyclegan_cycle_consistency(seed=0, quick=False):
    """Notes S002-62 (CycleGAN).  Unpaired translation between regular and bold digits
    (deepnotes.generative.cycle; 8x8 digits and 160 images per domain in quick mode, 16x16 and all of them
    otherwise): two convolutional translators and two DCGAN discriminators,
    least-squares adversarial losses, trained once with the cycle (weight 10) and identity terms and once
    with the adversarial terms only (weights 0), same seed and data.  Measured on the test split: the
    round-trip error mean |F(G(x)) - x| (pixels in [0, 1]) and whether the digit survives the round trip
    (the digits classifier's accuracy on F(G(x))).  Checks: with the cycle loss the round-trip error is
    below half of that without it, and the round trip keeps more digits recognisable.
    """
    epochs, train_size, size, width, lr = (12, 160, 8, 8, 2e-3) if quick else (8, None, 16, 16, 1e-3)
    clf = _classifier()
    from deepnotes.generative.cycle import _apply, cycle_domains

    x, lx, _, _, _ = cycle_domains(False, image_size=size)
    rows, per = [], {}
    for label, lam in (("cycle + identity (10, 0.5)", 10.0), ("adversarial only", 0.0)):
        g, f, history = train_cyclegan(
            epochs=epochs,
            seed=seed,
            lambda_cycle=lam,
            train_size=train_size,
            classifier=clf,
            image_size=size,
            width=width,
            lr=lr,
        )
        last = history[-1]
        round_trip = _apply(f, _apply(g, x))
        keep = clf.accuracy(round_trip * 0.5 + 0.5, lx)
        per[label] = (last["cycle_error_x"], keep)
        rows.append(
            [
                label,
                last["cycle_error_x"],
                last["cycle_error_y"],
                keep,
                last["translation_error_x"],
                last["content_accuracy_x"],
            ]
        )
    with_cycle, without = per["cycle + identity (10, 0.5)"], per["adversarial only"]
    checks = [
        Check("round-trip error with / without the cycle loss", with_cycle[0] / without[0], "<", 0.5),
        Check("digits recognised after the round trip, with minus without", with_cycle[1] - without[1], ">", 0.0),
    ]
    return Result(
        experiment="cyclegan_cycle_consistency",
        claim=_CYCLE_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"regular <-> bold {size}x{size} digits, {epochs} epochs, test split",
                [
                    "losses",
                    "|F(G(x)) - x|",
                    "|G(F(y)) - y|",
                    "accuracy on F(G(x))",
                    "|G(x) - bold(x)|",
                    "accuracy on G(x)",
                ],
                rows,
            )
        ],
        seeds=[seed],
        quick=quick,
        notes="The last two columns use the true translation (a 3x3 grey dilation), which CycleGAN never sees: "
        "the cycle loss makes the pair invertible, not necessarily the intended translation.",
    )


# --------------------------------------------------------------------------------- S002-63 (mode collapse)
_COLLAPSE_CLAIM = (
    "GANs trained with the original loss suffer from mode collapse (the generator covers few modes); "
    "WGAN, and WGAN with a gradient penalty, cover the data's modes more fully."
)


def _coverage(summary):
    """Classes with at least 2% of the samples (a fifth of their fair share) and the class histogram's
    normalised entropy."""
    counts = np.asarray(summary["class_counts"], dtype=np.float64)
    share = counts / counts.sum()
    nz = share[share > 0]
    return int((share >= 0.02).sum()), float(-(nz * np.log(nz)).sum() / np.log(10))


@experiment("wgan_mode_collapse", ids=["S002-63"], claim=_COLLAPSE_CLAIM)
@single_threaded
def wgan_mode_collapse(seed=0, quick=False):
    """Notes S002-63 (problems training GANs; WGAN).  The same small DCGAN (8x8 digits) is trained with the
    minimax GAN loss, WGAN (weight clipping) and WGAN-GP, each with the optimiser settings of
    deepnotes.generative.training.LOSS_DEFAULTS, for the same number of discriminator steps (5 epochs in
    quick mode, 30 otherwise), over several seeds; the last iterate of each generator is scored (no
    weight averaging).  The digits classifier labels 500 samples of each generator: classes covered (at least 2% of
    the samples), the class histogram's normalised entropy (1 = uniform) and the digits IS.  Checks (means
    over seeds): WGAN-GP covers at least as many classes as the minimax GAN, WGAN too, and WGAN-GP's class
    histogram is at least as even as the GAN's.
    """
    seeds = [seed, seed + 1] if quick else [seed + i for i in range(5)]
    epochs = 5 if quick else 30
    clf = _classifier()
    ref = digits_real_images(True, 8)[0] * 0.5 + 0.5
    results = {}
    rows = []
    for loss in ("gan", "wgan", "wgan-gp"):
        covered, evenness, scores = [], [], []
        for s in seeds:
            cfg = default_config(loss, image_size=8, ngf=16, ndf=16, nz=16, epochs=epochs, seed=s, ema=None)
            g, _, _ = train_gan(cfg)
            summary = clf.summary(generate(g, 500, seed=s + 99) * 0.5 + 0.5, ref, splits=5)
            c, e = _coverage(summary)
            covered.append(c)
            evenness.append(e)
            scores.append(summary["inception_score"])
            rows.append([loss, s, c, e, summary["inception_score"], summary["fid"], summary["mean_confidence"]])
        results[loss] = (mean_std(covered), mean_std(evenness), mean_std(scores))
    (gan_c, gan_cs), (gan_e, gan_es), _ = results["gan"]
    (w_c, w_cs), _, _ = results["wgan"]
    (gp_c, gp_cs), (gp_e, gp_es), _ = results["wgan-gp"]
    checks = [
        Check("classes covered, WGAN-GP minus GAN (mean over seeds)", gp_c - gan_c, ">=", 0.0),
        Check("classes covered, WGAN minus GAN (mean over seeds)", w_c - gan_c, ">=", 0.0),
        Check("class-histogram evenness, WGAN-GP minus GAN", gp_e - gan_e, ">=", 0.0),
    ]
    return Result(
        experiment="wgan_mode_collapse",
        claim=_COLLAPSE_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"{epochs} epochs of discriminator steps on 8x8 digits, 500 samples per generator",
                ["loss", "seed", "classes covered", "evenness", "digits IS", "digits FID", "mean confidence"],
                rows,
            ),
            Table(
                "means over seeds (std)",
                ["loss", "classes covered", "std", "evenness", "std", "digits IS", "std"],
                [[k, *v[0], *v[1], *v[2]] for k, v in results.items()],
            ),
        ],
        seeds=seeds,
        quick=quick,
    )


# --------------------------------------------------------------------------------- S002-63 (Lipschitz)
_LIPSCHITZ_CLAIM = (
    "WGAN keeps its critic Lipschitz by clipping the weights, which pushes most weights to the clipping "
    "bounds and leaves the critic's gradients far from norm 1; the gradient penalty of WGAN-GP keeps the "
    "gradient norm near 1 without driving the weights to extremes."
)


def _critic(width):
    return nn.Sequential(
        nn.Linear(64, width), nn.LeakyReLU(0.2), nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, 1)
    )


@experiment("wgan_clipping_vs_gradient_penalty", ids=["S002-63"], claim=_LIPSCHITZ_CLAIM)
@single_threaded
def wgan_clipping_vs_gradient_penalty(seed=0, quick=False):
    """Notes S002-63 (WGAN, weight clipping, the gradient penalty); Gulrajani et al. (2017), figure 1.

    The same critic (a 3-layer perceptron on 8x8 digits) is trained to separate real digits from a fixed
    set of fakes (the real digits blurred and noised) with the Wasserstein critic loss, (a) under weight
    clipping to [-0.01, 0.01] (RMSprop; its learning rate raised from the paper's 5e-5 to 1e-3 so that the
    critic converges within the budget) and (b) under the gradient penalty (weight 10, Adam 1e-4, betas
    (0.5, 0.9)).  Measured after training: the share of the
    hidden and output weights within 1% of their layer's largest magnitude (for clipping: of the bound),
    the input-gradient norm on real-fake interpolates (mean and spread), and the critic's estimate
    E[real] - E[fake].  Checks: under clipping more than half of the weights sit at the bounds, under
    the penalty under 10% sit at their layer's extreme; the penalty keeps the mean gradient norm within
    0.25 of 1, clipping leaves it below 0.5.
    """
    rng = seeded(seed)
    steps = 300 if quick else 2000
    x, _ = digits_real_images(True, 8)
    x = x.reshape(len(x), -1)
    blurred = (x + np.roll(x, 1, axis=1) + np.roll(x, -1, axis=1)) / 3
    fakes = np.clip(blurred + 0.3 * rng.standard_normal(x.shape), -1, 1).astype(np.float32)
    alpha_rng = np.random.default_rng([seed, 63])
    out, hist = {}, {}
    for mode in ("clipping", "penalty"):
        dn.manual_seed(seed)
        critic = _critic(64)
        if mode == "clipping":
            opt = dn.optim.RMSprop(critic.parameters(), lr=1e-3)
        else:
            opt = dn.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
        for _ in range(steps):
            idx = rng.choice(len(x), 64, replace=False)
            real, fake = dn.tensor(x[idx]), dn.tensor(fakes[idx])
            loss = wasserstein_critic_loss(critic(real), critic(fake))
            if mode == "penalty":
                loss = loss + 10.0 * gradient_penalty(critic, real, fake)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if mode == "clipping":
                clip_weights_(critic, 0.01)
        weights = [m.weight.data.astype(np.float64).ravel() for m in critic if isinstance(m, nn.Linear)]
        at_extreme = []
        for w in weights[1:]:
            bound = 0.01 if mode == "clipping" else np.abs(w).max()
            at_extreme.append(np.abs(w) >= 0.99 * bound)
        share = float(np.concatenate(at_extreme).mean())
        a = alpha_rng.random((256, 1)).astype(np.float32)
        idx = alpha_rng.choice(len(x), 256, replace=False)
        x_hat = dn.tensor(a * x[idx] + (1 - a) * fakes[idx], requires_grad=True)
        critic(x_hat).sum().backward()
        norms = np.linalg.norm(x_hat.grad.numpy().astype(np.float64), axis=1)
        with dn.no_grad():
            estimate = float(critic(dn.tensor(x)).mean().item() - critic(dn.tensor(fakes)).mean().item())
        out[mode] = (share, float(norms.mean()), float(norms.std()), estimate)
        w_all = np.concatenate(weights[1:])
        scale = 0.01 if mode == "clipping" else np.abs(w_all).max()
        counts, edges = np.histogram(w_all / scale, bins=21, range=(-1, 1))
        hist[mode] = ([float(c) for c in (edges[:-1] + edges[1:]) / 2], [float(c) / len(w_all) for c in counts])
    checks = [
        Check("share of weights at the clipping bounds (clipping)", out["clipping"][0], ">", 0.5),
        Check("share of weights at their layer's extreme (penalty)", out["penalty"][0], "<", 0.1),
        Check("|mean input-gradient norm - 1| (penalty)", abs(out["penalty"][1] - 1), "<", 0.25),
        Check("mean input-gradient norm (clipping)", out["clipping"][1], "<", 0.5),
    ]
    return Result(
        experiment="wgan_clipping_vs_gradient_penalty",
        claim=_LIPSCHITZ_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"a 64-64-64-1 critic after {steps} steps, real digits vs blurred noisy digits",
                [
                    "constraint",
                    "weights at the extreme",
                    "mean |grad_x critic|",
                    "std |grad_x critic|",
                    "E[real] - E[fake]",
                ],
                [[k, *v] for k, v in out.items()],
            )
        ],
        figures=[
            Figure(
                "critic_weights",
                "Critic weights (hidden and output layers), relative to the bound / largest magnitude",
                "weight / bound",
                "share of weights",
                {"weight clipping (c = 0.01)": hist["clipping"], "gradient penalty": hist["penalty"]},
                kind="bar",
            )
        ],
        seeds=[seed],
        quick=quick,
    )
