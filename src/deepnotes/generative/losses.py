"""GAN, WGAN, WGAN-GP and CycleGAN losses, written on the discriminator's raw scores (logits).

Every function takes the discriminator's (or critic's) outputs ``real`` = D(x) and ``fake`` = D(G(z)) as
Tensors of any shape (usually (N,) or (N, 1)) *before* any sigmoid, and returns the batch mean as a
0-d Tensor, differentiable in the usual way.  With sigma the logistic sigmoid, so that the probability
D outputs is sigma(s) for a score s:

=============================  ====================================================================
``gan_discriminator_loss``     E[-log sigma(real)] + E[-log(1 - sigma(fake))]  (binary cross entropy,
                               the discriminator of both the minimax and the non-saturating GAN)
``minimax_generator_loss``     E[log(1 - sigma(fake))]  (Goodfellow et al.'s saturating game: the
                               generator *minimises* it; its gradient vanishes when D rejects fakes)
``nonsaturating_generator_loss``  E[-log sigma(fake)]  (the "-log D trick")
``lsgan_discriminator_loss``   1/2 E[(real - b)^2] + 1/2 E[(fake - a)^2]  (Mao et al., a=0, b=1)
``lsgan_generator_loss``       1/2 E[(fake - c)^2]  (c=1)
``hinge_discriminator_loss``   E[relu(1 - real)] + E[relu(1 + fake)]
``hinge_generator_loss``       -E[fake]
``wasserstein_critic_loss``    E[fake] - E[real]  (the critic maximises E[real] - E[fake])
``wasserstein_generator_loss`` -E[fake]
``gradient_penalty``           E[(||grad_x critic(x_hat)||_2 - 1)^2], x_hat on real-fake segments
``cycle_consistency_loss``     E|reconstructed - original|  (L1)
``identity_loss``              E|mapped - original|  (L1)
``cyclegan_generator_loss``    LSGAN generator losses of both directions + cycle + identity terms
=============================  ====================================================================

``clip_weights_`` clamps a critic's parameters into [-c, c] in place (the original WGAN's Lipschitz
constraint).  ``GAN_LOSSES`` maps the names the command line uses (gan, nsgan, lsgan, hinge, wgan,
wgan-gp) to the (discriminator loss, generator loss) pair.
"""

from __future__ import annotations

import numpy as np

from .. import autograd
from .. import random as _random
from ..nn import functional as F
from ..tensor import Tensor, tensor

__all__ = [
    "gan_discriminator_loss",
    "minimax_generator_loss",
    "nonsaturating_generator_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "clip_weights_",
    "gradient_penalty",
    "cycle_consistency_loss",
    "identity_loss",
    "cyclegan_generator_loss",
    "GAN_LOSSES",
]


def _scores(x, name, what):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor of discriminator scores, got {type(x).__name__}")
    if x.numel() == 0:
        raise ValueError(f"{name}: {what} is empty (shape {tuple(x.shape)}); expected at least one score")
    return x


def _pair(real, fake, name):
    return _scores(real, name, "real"), _scores(fake, name, "fake")


def gan_discriminator_loss(real, fake):
    """Binary cross entropy of the discriminator: real scores labelled 1, fake scores labelled 0."""
    real, fake = _pair(real, fake, "gan_discriminator_loss")
    # -log sigma(s) = softplus(-s) and -log(1 - sigma(s)) = softplus(s), both stable for large |s|
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_generator_loss(fake):
    """E[log(1 - sigma(fake))], the generator's side of the original minimax game (to be minimised).

    Saturating: d/ds log(1 - sigma(s)) = -sigma(s), which is ~0 exactly when the discriminator
    confidently rejects the fakes (s << 0), as it does early in training."""
    fake = _scores(fake, "minimax_generator_loss", "fake")
    return -F.softplus(fake).mean()


def nonsaturating_generator_loss(fake):
    """E[-log sigma(fake)]: the non-saturating generator loss; its gradient 1 - sigma(s) is ~1 for s << 0."""
    fake = _scores(fake, "nonsaturating_generator_loss", "fake")
    return F.softplus(-fake).mean()


def lsgan_discriminator_loss(real, fake, a=0.0, b=1.0):
    """Least-squares GAN discriminator loss 1/2 E[(real - b)^2] + 1/2 E[(fake - a)^2] (targets b real, a fake)."""
    real, fake = _pair(real, fake, "lsgan_discriminator_loss")
    return 0.5 * ((real - float(b)) ** 2).mean() + 0.5 * ((fake - float(a)) ** 2).mean()


def lsgan_generator_loss(fake, c=1.0):
    """Least-squares GAN generator loss 1/2 E[(fake - c)^2] (c: the score the generator wants for its fakes)."""
    fake = _scores(fake, "lsgan_generator_loss", "fake")
    return 0.5 * ((fake - float(c)) ** 2).mean()


def hinge_discriminator_loss(real, fake):
    """Hinge discriminator loss E[relu(1 - real)] + E[relu(1 + fake)] (SAGAN, BigGAN)."""
    real, fake = _pair(real, fake, "hinge_discriminator_loss")
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_generator_loss(fake):
    """Hinge generator loss -E[fake]."""
    fake = _scores(fake, "hinge_generator_loss", "fake")
    return -fake.mean()


def wasserstein_critic_loss(real, fake):
    """WGAN critic loss E[fake] - E[real]: minimising it maximises the Kantorovich-Rubinstein estimate
    E[real] - E[fake] of the Wasserstein-1 distance (with a 1-Lipschitz critic)."""
    real, fake = _pair(real, fake, "wasserstein_critic_loss")
    return fake.mean() - real.mean()


def wasserstein_generator_loss(fake):
    """WGAN generator loss -E[fake]."""
    fake = _scores(fake, "wasserstein_generator_loss", "fake")
    return -fake.mean()


def _parameters(module_or_params, name):
    if hasattr(module_or_params, "parameters") and callable(module_or_params.parameters):
        params = list(module_or_params.parameters())
    elif isinstance(module_or_params, Tensor):
        params = [module_or_params]
    else:
        try:
            params = list(module_or_params)
        except TypeError:
            raise TypeError(
                f"{name}: expected a Module, a Tensor or an iterable of Tensors, got {type(module_or_params).__name__}"
            ) from None
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: expected Tensors, got an element of type {type(p).__name__}")
    return params


def clip_weights_(module_or_params, clip_value=0.01):
    """Clamp every parameter into [-clip_value, clip_value] in place (WGAN, Arjovsky et al. 2017: c = 0.01).

    Accepts a Module, a Tensor or an iterable of Tensors; returns None like torch's in-place utilities."""
    try:
        c = float(clip_value)
    except (TypeError, ValueError):
        raise TypeError(f"clip_weights_: clip_value must be a number, got {clip_value!r}") from None
    if not c > 0 or not np.isfinite(c):
        raise ValueError(f"clip_weights_: clip_value must be a positive finite number, got {clip_value!r}")
    for p in _parameters(module_or_params, "clip_weights_"):
        np.clip(p.data, -c, c, out=p.data)


def gradient_penalty(critic, real, fake, alpha=None, center=1.0):
    """The WGAN-GP penalty (Gulrajani et al. 2017): E[(||grad_x critic(x_hat)||_2 - center)^2].

    ``x_hat = alpha * real + (1 - alpha) * fake`` with one ``alpha ~ U[0, 1]`` per sample (drawn from
    deepnotes' global generator unless given: a Tensor or array broadcastable as (N, 1, ..., 1)).  The
    gradient is taken with ``deepnotes.autograd.grad(..., create_graph=True)``, so the penalty is
    differentiable with respect to the critic's parameters; the caller multiplies it by lambda (10 in
    the paper) and adds it to the critic loss.  ``fake`` is detached: the penalty trains the critic
    only.  The norm is over all dimensions but the first."""
    for what, x in (("real", real), ("fake", fake)):
        if not isinstance(x, Tensor):
            raise TypeError(f"gradient_penalty: {what} must be a Tensor of samples (N, ...), got {type(x).__name__}")
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(
            f"gradient_penalty: real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    if real.ndim < 2 or real.shape[0] == 0:
        raise ValueError(f"gradient_penalty: expected a batch of samples (N, ...), got shape {tuple(real.shape)}")
    n = real.shape[0]
    shape = (n,) + (1,) * (real.ndim - 1)
    if alpha is None:
        alpha = _random.rand(*shape, dtype=real.dtype)
    else:
        alpha = alpha if isinstance(alpha, Tensor) else tensor(np.asarray(alpha, dtype=real.dtype))
        if alpha.numel() != n:
            raise ValueError(f"gradient_penalty: alpha must hold one value per sample ({n}), got shape {alpha.shape}")
        alpha = alpha.reshape(shape)
    x_hat = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).detach()
    x_hat.requires_grad_(True)
    scores = critic(x_hat)
    (g,) = autograd.grad(scores.sum(), [x_hat], create_graph=True)
    norms = (g.reshape(n, -1) ** 2).sum(dim=1).sqrt()
    return ((norms - float(center)) ** 2).mean()


def cycle_consistency_loss(reconstructed, original):
    """Mean absolute error |F(G(x)) - x| (CycleGAN's cycle-consistency term for one direction)."""
    return _l1(reconstructed, original, "cycle_consistency_loss")


def identity_loss(mapped, original):
    """Mean absolute error |G(y) - y| (CycleGAN's identity term: a generator should leave its target
    domain unchanged)."""
    return _l1(mapped, original, "identity_loss")


def _l1(a, b, name):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{name}: the two images must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return (a - b).abs().mean()


def cyclegan_generator_loss(
    fake_y_scores,
    fake_x_scores,
    real_x,
    reconstructed_x,
    real_y,
    reconstructed_y,
    identity_x=None,
    identity_y=None,
    lambda_cycle=10.0,
    lambda_identity=0.5,
):
    """The generators' total CycleGAN loss (Zhu et al. 2017) for G: X -> Y and F: Y -> X::

        lsgan_generator_loss(D_Y(G(x))) + lsgan_generator_loss(D_X(F(y)))
        + lambda_cycle * (|F(G(x)) - x| + |G(F(y)) - y|)
        + lambda_cycle * lambda_identity * (|F(x) - x| + |G(y) - y|)

    ``identity_x`` = F(x) and ``identity_y`` = G(y) are optional (both or neither); ``lambda_identity``
    is relative to ``lambda_cycle`` as in the authors' code (0.5 there)."""
    if (identity_x is None) != (identity_y is None):
        raise ValueError("cyclegan_generator_loss: pass both identity_x (F(x)) and identity_y (G(y)) or neither")
    adversarial = lsgan_generator_loss(fake_y_scores) + lsgan_generator_loss(fake_x_scores)
    cycle = cycle_consistency_loss(reconstructed_x, real_x) + cycle_consistency_loss(reconstructed_y, real_y)
    total = adversarial + float(lambda_cycle) * cycle
    if identity_x is not None:
        same = identity_loss(identity_x, real_x) + identity_loss(identity_y, real_y)
        total = total + float(lambda_cycle) * float(lambda_identity) * same
    return total


#: loss name (as on the command line) -> (discriminator/critic loss, generator loss)
GAN_LOSSES = {
    "gan": (gan_discriminator_loss, minimax_generator_loss),
    "nsgan": (gan_discriminator_loss, nonsaturating_generator_loss),
    "lsgan": (lsgan_discriminator_loss, lsgan_generator_loss),
    "hinge": (hinge_discriminator_loss, hinge_generator_loss),
    "wgan": (wasserstein_critic_loss, wasserstein_generator_loss),
    "wgan-gp": (wasserstein_critic_loss, wasserstein_generator_loss),
}
