"""A CycleGAN-style translation demo between two digit styles: regular and bold strokes.

Domain X holds the 16x16 digits as they are (the first half of the training split); domain Y holds
*bold* digits, the other half with every stroke thickened by a 3x3 grey dilation (:func:`embolden`, a
maximum over each pixel's 3x3 neighbourhood).  No image has its partner in the other domain: the data
are unpaired, as CycleGAN assumes.  Two :class:`TranslationGenerator` networks, G: X -> Y and F: Y -> X,
and two :class:`DCGANDiscriminator` networks, D_X and D_Y, are trained with
:func:`cyclegan_generator_loss` (least-squares adversarial terms, cycle consistency weighted 10,
identity 0.5 of that) and least-squares discriminator losses, Adam(2e-4, (0.5, 0.999)).

(Rotated digits as the second style do not make a meaningful demo: a rotation is a global
rearrangement, any bijection between the two sets satisfies CycleGAN's losses, and the translators
found one that keeps the round trip but not the digit.  A change of stroke style is local, which is
what CycleGAN's convolutional translators are built for.)

Because the true translation is known here, the demo reports, on the test split, both what CycleGAN
can see and what it cannot:

- ``cycle_error_x`` = mean |F(G(x)) - x| and ``cycle_error_y`` = mean |G(F(y)) - y| (pixels in [0, 1]);
- ``translation_error_x`` = mean |G(x) - embolden(x)| and ``translation_error_y`` = mean |F(y) - y0|
  with y0 the regular digit y was made from (for comparison: the identity map scores about 0.18);
- ``content_accuracy_x`` / ``_y``: the digits classifier's accuracy on G(x) and on F(y) against the
  digits' labels (does the translation keep the digit?).
"""

from __future__ import annotations

import time

import numpy as np

from .. import manual_seed, optim
from ..autograd import no_grad
from ..tensor import tensor
from .losses import cyclegan_generator_loss, lsgan_discriminator_loss
from .models import DCGANDiscriminator, TranslationGenerator
from .training import digits_real_images

__all__ = ["embolden", "cycle_domains", "train_cyclegan", "evaluate_cyclegan"]


def embolden(images):
    """Thicken the strokes of (N, C, H, W) images: each pixel becomes the maximum of its 3x3 neighbourhood
    (grey dilation; the border is padded with the image's minimum)."""
    a = np.asarray(images)
    if a.ndim != 4:
        raise ValueError(f"embolden: expected images (N, C, H, W), got shape {a.shape}")
    padded = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=a.min())
    h, w = a.shape[2:]
    out = a.copy()
    for dy in range(3):
        for dx in range(3):
            np.maximum(out, padded[:, :, dy : dy + h, dx : dx + w], out=out)
    return out


def cycle_domains(train=True, n=None, image_size=16):
    """(x, x labels, y, y labels, y's regular originals): regular and bold digits in [-1, 1] from the two
    disjoint halves of a split."""
    x, y = digits_real_images(train, image_size)
    half = len(x) // 2
    xa, la, source, lb = x[:half], y[:half], x[half:], y[half:]
    xb = embolden(source)
    if n is not None:
        xa, la, xb, lb, source = xa[:n], la[:n], xb[:n], lb[:n], source[:n]
    return xa, la, xb, lb, source


def _apply(net, x, batch_size=500):
    net.eval()
    with no_grad():
        out = np.concatenate([net(tensor(x[i : i + batch_size])).numpy() for i in range(0, len(x), batch_size)])
    net.train()
    return out


def evaluate_cyclegan(g, f, classifier=None, train=False, image_size=16):
    """The demo's figures (see the module docstring) on the test split (or the training split)."""
    x, lx, y, ly, y0 = cycle_domains(train, image_size=image_size)
    gx, fy = _apply(g, x), _apply(f, y)
    fgx, gfy = _apply(f, gx), _apply(g, fy)
    out = {
        "cycle_error_x": float(np.abs(fgx - x).mean() / 2),
        "cycle_error_y": float(np.abs(gfy - y).mean() / 2),
        "translation_error_x": float(np.abs(gx - embolden(x)).mean() / 2),
        "translation_error_y": float(np.abs(fy - y0).mean() / 2),
    }
    if classifier is not None:
        out["content_accuracy_x"] = classifier.accuracy(gx * 0.5 + 0.5, lx)
        out["content_accuracy_y"] = classifier.accuracy(fy * 0.5 + 0.5, ly)
    return out


def train_cyclegan(
    epochs=10,
    seed=0,
    batch_size=32,
    lr=2e-4,
    lambda_cycle=10.0,
    lambda_identity=0.5,
    train_size=None,
    classifier=None,
    on_epoch=None,
    image_size=16,
    width=16,
):
    """Train the demo; returns ``(G, F, history)`` with one record per epoch (mean losses, the test
    figures of :func:`evaluate_cyclegan`, seconds since the start).  ``image_size`` 8 or 16 (the digits'
    side), ``width`` the translators' channels."""
    manual_seed(seed)
    rng = np.random.default_rng([seed, 62])
    x, _, y, _, _ = cycle_domains(True, train_size, image_size)
    n = min(len(x), len(y))
    if n < batch_size:
        raise ValueError(f"train_cyclegan: {n} images per domain are fewer than one batch of {batch_size}")
    g, f = TranslationGenerator(width), TranslationGenerator(width)
    dx, dy = DCGANDiscriminator(ndf=16, image_size=image_size), DCGANDiscriminator(ndf=16, image_size=image_size)
    opt_gen = optim.Adam(list(g.parameters()) + list(f.parameters()), lr=lr, betas=(0.5, 0.999))
    opt_dis = optim.Adam(list(dx.parameters()) + list(dy.parameters()), lr=lr, betas=(0.5, 0.999))
    history, start = [], time.perf_counter()
    for epoch in range(1, epochs + 1):
        sums, steps = {"generator_loss": 0.0, "discriminator_loss": 0.0}, 0
        ox, oy = rng.permutation(len(x)), rng.permutation(len(y))
        for i in range(0, n - batch_size + 1, batch_size):
            rx, ry = tensor(x[ox[i : i + batch_size]]), tensor(y[oy[i : i + batch_size]])
            fake_y, fake_x = g(rx), f(ry)
            loss_gen = cyclegan_generator_loss(
                dy(fake_y),
                dx(fake_x),
                rx,
                f(fake_y),
                ry,
                g(fake_x),
                identity_x=f(rx),
                identity_y=g(ry),
                lambda_cycle=lambda_cycle,
                lambda_identity=lambda_identity,
            )
            opt_gen.zero_grad()
            loss_gen.backward()
            opt_gen.step()
            fy_d, fx_d = fake_y.detach(), fake_x.detach()
            loss_dis = lsgan_discriminator_loss(dy(ry), dy(fy_d)) + lsgan_discriminator_loss(dx(rx), dx(fx_d))
            opt_dis.zero_grad()
            loss_dis.backward()
            opt_dis.step()
            sums["generator_loss"] += float(loss_gen.item())
            sums["discriminator_loss"] += float(loss_dis.item())
            steps += 1
        record = {"epoch": epoch, **{k: v / steps for k, v in sums.items()}}
        record.update(evaluate_cyclegan(g, f, classifier, image_size=image_size))
        record["seconds"] = time.perf_counter() - start
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, g, f, record)
    return g, f, history
