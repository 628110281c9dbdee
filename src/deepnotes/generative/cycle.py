"""A CycleGAN-style translation demo between two digit styles: upright and rotated by 90 degrees.

Domain X holds upright 16x16 digits (the first half of the training split), domain Y digits rotated
a quarter turn counter-clockwise (the *other* half, so no image has its partner in the other domain:
the data are unpaired, as CycleGAN assumes).  Two :class:`TranslationGenerator` networks, G: X -> Y and
F: Y -> X, and two :class:`DCGANDiscriminator` networks, D_X and D_Y, are trained with
:func:`cyclegan_generator_loss` (least-squares adversarial terms, cycle consistency weighted 10,
identity 0.5 of that) and least-squares discriminator losses, Adam(2e-4, (0.5, 0.999)).

Because the true translation is known here (a rotation), the demo reports, on the test split, both what
CycleGAN can see and what it cannot:

- ``cycle_error_x`` = mean |F(G(x)) - x| and ``cycle_error_y`` = mean |G(F(y)) - y| (pixels in [0, 1]);
- ``translation_error_x`` = mean |G(x) - rot90(x)| and ``translation_error_y`` = mean |F(y) - rot90^-1(y)|;
- ``content_accuracy_x``: the digits classifier's accuracy on rot90^-1(G(x)) against x's label (does G
  keep the digit?), and ``content_accuracy_y`` on F(y) against y's label.
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

__all__ = ["rotate", "unrotate", "cycle_domains", "train_cyclegan", "evaluate_cyclegan"]


def rotate(images):
    """Rotate (N, C, H, W) images a quarter turn counter-clockwise (the Y style)."""
    return np.ascontiguousarray(np.rot90(images, 1, axes=(2, 3)))


def unrotate(images):
    """The inverse of :func:`rotate`."""
    return np.ascontiguousarray(np.rot90(images, -1, axes=(2, 3)))


def cycle_domains(train=True, n=None):
    """(x images, x labels, y images, y labels): upright and rotated digits in [-1, 1] from disjoint halves."""
    x, y = digits_real_images(train, 16)
    half = len(x) // 2
    xa, la, xb, lb = x[:half], y[:half], rotate(x[half:]), y[half:]
    if n is not None:
        xa, la, xb, lb = xa[:n], la[:n], xb[:n], lb[:n]
    return xa, la, xb, lb


def _apply(net, x, batch_size=500):
    net.eval()
    with no_grad():
        out = np.concatenate([net(tensor(x[i : i + batch_size])).numpy() for i in range(0, len(x), batch_size)])
    net.train()
    return out


def evaluate_cyclegan(g, f, classifier=None, train=False):
    """The demo's figures (see the module docstring) on the test split (or the training split)."""
    x, lx, y, ly = cycle_domains(train)
    gx, fy = _apply(g, x), _apply(f, y)
    fgx, gfy = _apply(f, gx), _apply(g, fy)
    out = {
        "cycle_error_x": float(np.abs(fgx - x).mean() / 2),
        "cycle_error_y": float(np.abs(gfy - y).mean() / 2),
        "translation_error_x": float(np.abs(gx - rotate(x)).mean() / 2),
        "translation_error_y": float(np.abs(fy - unrotate(y)).mean() / 2),
    }
    if classifier is not None:
        out["content_accuracy_x"] = classifier.accuracy(unrotate(gx) * 0.5 + 0.5, lx)
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
):
    """Train the demo; returns ``(G, F, history)`` with one record per epoch (mean losses, the test
    figures of :func:`evaluate_cyclegan`, seconds since the start)."""
    manual_seed(seed)
    rng = np.random.default_rng([seed, 62])
    x, _, y, _ = cycle_domains(True, train_size)
    n = min(len(x), len(y))
    if n < batch_size:
        raise ValueError(f"train_cyclegan: {n} images per domain are fewer than one batch of {batch_size}")
    g, f = TranslationGenerator(), TranslationGenerator()
    dx, dy = DCGANDiscriminator(ndf=16), DCGANDiscriminator(ndf=16)
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
        record.update(evaluate_cyclegan(g, f, classifier))
        record["seconds"] = time.perf_counter() - start
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, g, f, record)
    return g, f, history
