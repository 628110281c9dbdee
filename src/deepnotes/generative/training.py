"""The GAN training loop behind ``deepnotes gan train`` (and the notes' GAN experiments).

One *epoch* is one shuffled pass of the discriminator/critic over the training images (``batch_size``
real images per step); the generator takes one step after every ``n_critic`` discriminator steps.
Each loss comes with the settings of its paper, scaled to the digits (``LOSS_DEFAULTS``):

- gan, nsgan, lsgan, hinge: Adam(betas (0.5, 0.999)) as in DCGAN, one D step per G step, with the
  learning rate raised from DCGAN's 2e-4 to 5e-4 (measured: the same scores in fewer epochs here);
- wgan: RMSprop, 5 critic steps per G step, weights clipped to [-0.01, 0.01] (Arjovsky et al.), with the
  learning rate raised from the paper's 5e-5 to 2e-4 and 100 epochs (still only ~880 generator steps:
  clipping makes the critic, and so the generator, learn slowly);
- wgan-gp: penalty weight 10 and Adam betas (0.5, 0.9) (Gulrajani et al.), with the learning rate
  decaying linearly to zero as in the authors' code; tuned on the digits to lr 1e-3 and one critic step
  per generator step (measured: 5 critic steps at 2e-4 learned several times slower per second, and
  1e-3 with 2 critic steps levelled off at a lower score), 120 epochs (80 levelled off at IS 6.9).

The networks are :class:`DCGANGenerator` and :class:`DCGANDiscriminator` on 16x16 digits scaled to
[-1, 1].  After every epoch the generator (in eval mode) draws ``eval_samples`` images that the digits
classifier scores: Inception Score, FID against the training images, mean top-class probability and the
number of classes covered.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .. import manual_seed, optim
from ..autograd import no_grad
from ..data.datasets.digits import Digits
from ..random import randn
from ..tensor import tensor
from .losses import GAN_LOSSES, clip_weights_, gradient_penalty
from .models import DCGANDiscriminator, DCGANGenerator

__all__ = ["GANConfig", "LOSS_DEFAULTS", "default_config", "train_gan", "digits_real_images", "generate"]

#: per-loss defaults (anything not listed comes from GANConfig's field defaults)
LOSS_DEFAULTS = {
    "gan": {},
    "nsgan": {},
    "lsgan": {},
    "hinge": {},
    "wgan": {"optimizer": "rmsprop", "lr_g": 2e-4, "lr_d": 2e-4, "n_critic": 5, "clip_value": 0.01, "epochs": 100},
    "wgan-gp": {
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "betas": (0.5, 0.9),
        "n_critic": 1,
        "gp_weight": 10.0,
        "epochs": 120,
        "lr_decay": True,
    },
}


@dataclass
class GANConfig:
    """Everything that defines a run; ``default_config(loss)`` fills in the loss's defaults."""

    loss: str = "nsgan"
    epochs: int = 30
    batch_size: int = 32
    nz: int = 32
    ngf: int = 32
    ndf: int = 32
    image_size: int = 16
    native_size: int | None = None
    optimizer: str = "adam"
    lr_g: float = 5e-4
    lr_d: float = 5e-4
    betas: tuple = (0.5, 0.999)
    n_critic: int = 1
    clip_value: float | None = None
    gp_weight: float | None = None
    seed: int = 0
    train_size: int | None = None
    eval_samples: int = 1000
    ema: float | None = 0.995
    lr_decay: bool = False
    extra: dict = field(default_factory=dict)

    def to_dict(self):
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d


def default_config(loss, **overrides):
    """The GANConfig of ``loss`` with its defaults, then ``overrides`` (None values are ignored)."""
    if loss not in GAN_LOSSES:
        raise ValueError(f"default_config: unknown loss {loss!r}; expected one of {', '.join(GAN_LOSSES)}")
    values = {"loss": loss, **LOSS_DEFAULTS[loss]}
    for k, v in overrides.items():
        if v is not None:
            if not hasattr(GANConfig, k) and k not in {f.name for f in dataclasses.fields(GANConfig)}:
                raise TypeError(f"default_config: unknown setting {k!r}")
            values[k] = v
    return GANConfig(**values)


def digits_real_images(train=True, size=16, n=None):
    """The bundled digits as float32 (N, 1, size, size) in [-1, 1] and their labels."""
    d = Digits(train=train, size=size)
    x, y = d.images * 2.0 - 1.0, d.targets
    if n is not None:
        x, y = x[:n], y[:n]
    return np.ascontiguousarray(x, dtype=np.float32), y


def generate(generator, n, seed=None, nz=None, batch_size=500):
    """``n`` images from ``generator`` in eval mode, as a float32 array in [-1, 1]; with ``seed`` the
    noise comes from its own NumPy generator (so the same seed gives the same noise in every epoch)."""
    nz = nz or generator.nz
    was = generator.training
    generator.eval()
    rng = np.random.default_rng(seed) if seed is not None else None
    out = []
    with no_grad():
        for i in range(0, n, batch_size):
            m = min(batch_size, n - i)
            z = tensor(rng.standard_normal((m, nz)).astype(np.float32)) if rng is not None else randn(m, nz)
            out.append(generator(z).numpy())
    generator.train(was)
    return np.concatenate(out).astype(np.float32)


def _optimizer(config, params, lr):
    if config.optimizer == "adam":
        return optim.Adam(params, lr=lr, betas=tuple(config.betas))
    if config.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=lr)
    raise ValueError(f"train_gan: unknown optimizer {config.optimizer!r}; expected adam or rmsprop")


class EMA:
    """An exponential moving average of a network's parameters and buffers (Karras et al. 2018, Yazici et
    al. 2019): after every generator step ``shadow = d * shadow + (1 - d) * current`` with
    ``d = min(decay, (1 + t) / (10 + t))`` at update t; the
    averaged copy, not the last iterate, draws the samples that are scored and saved."""

    def __init__(self, model, decay):
        import copy

        if not 0 < decay < 1:
            raise ValueError(f"EMA: decay must be in (0, 1), got {decay!r}")
        self.decay = float(decay)
        self.updates = 0
        self.model = copy.deepcopy(model)
        self.model.eval()
        self._pairs = list(zip(self.model.parameters(), model.parameters()))
        self._buffers = list(zip(self.model.buffers(), model.buffers()))

    def update(self):
        # the usual warm-up (TensorFlow's ExponentialMovingAverage with num_updates): early on the average
        # forgets the random initial weights quickly, min(decay, (1 + t) / (10 + t)) at update t
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for shadow, p in self._pairs:
            shadow.data *= d
            shadow.data += (1 - d) * p.data
        for shadow, b in self._buffers:
            shadow.data[...] = b.data


def build_models(config):
    g = DCGANGenerator(nz=config.nz, ngf=config.ngf, image_size=config.image_size, native_size=config.native_size)
    d = DCGANDiscriminator(ndf=config.ndf, image_size=config.image_size)
    return g, d


def train_gan(config, classifier=None, on_epoch=None, models=None, reference=None):
    """Train a GAN as ``config`` says; returns ``(generator, discriminator, history)``.

    With ``config.ema`` (default 0.995) the returned and scored generator is the exponential moving
    average of the trained one (:class:`EMA`), in eval mode; ``ema=None`` returns the last iterate.

    ``history`` is a list with one dict per epoch (losses averaged over the epoch's steps, the scores of
    ``classifier`` when given, seconds since the start).  ``on_epoch(epoch, generator, record)`` is called
    after each epoch (the command line writes its files there).  ``models`` = (G, D) continues from given
    networks; ``reference`` overrides the real images the FID compares with (default: the training set)."""
    if config.loss not in GAN_LOSSES:
        raise ValueError(f"train_gan: unknown loss {config.loss!r}; expected one of {', '.join(GAN_LOSSES)}")
    manual_seed(config.seed)
    rng = np.random.default_rng([config.seed, 16])
    x_real, _ = digits_real_images(True, config.image_size, config.train_size)
    if len(x_real) < config.batch_size:
        raise ValueError(f"train_gan: {len(x_real)} training images are fewer than one batch of {config.batch_size}")
    g, d = models if models is not None else build_models(config)
    opt_g = _optimizer(config, g.parameters(), config.lr_g)
    opt_d = _optimizer(config, d.parameters(), config.lr_d)
    d_loss_fn, g_loss_fn = GAN_LOSSES[config.loss]
    use_gp = config.loss == "wgan-gp"
    gp_weight = 10.0 if use_gp and config.gp_weight is None else config.gp_weight
    clip = config.clip_value if config.loss == "wgan" else None
    ref = (reference if reference is not None else x_real) * 0.5 + 0.5
    ema = EMA(g, config.ema) if config.ema else None
    history = []
    start = time.perf_counter()
    step = 0
    steps_per_epoch = len(x_real) // config.batch_size
    total_steps = steps_per_epoch * config.epochs
    bases = [(opt, [grp["lr"] for grp in opt.param_groups]) for opt in (opt_g, opt_d)]
    for epoch in range(1, config.epochs + 1):
        sums = {"d_loss": 0.0, "g_loss": 0.0, "gp": 0.0, "w_estimate": 0.0}
        nd = ng = 0
        g.train()
        d.train()
        order = rng.permutation(len(x_real))
        for i in range(0, len(order) - config.batch_size + 1, config.batch_size):
            if config.lr_decay:  # linear decay to zero over the run (the WGAN-GP authors' schedule)
                for opt, base in bases:
                    for grp, lr in zip(opt.param_groups, base):
                        grp["lr"] = lr * (1.0 - step / total_steps)
            real = tensor(x_real[order[i : i + config.batch_size]])
            z = randn(config.batch_size, config.nz)
            with no_grad():
                fake = g(z)
            real_scores, fake_scores = d(real), d(fake)
            loss_d = d_loss_fn(real_scores, fake_scores)
            if use_gp:
                gp = gradient_penalty(d, real, fake)
                sums["gp"] += float(gp.item())
                loss_d = loss_d + gp_weight * gp
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            if clip is not None:
                clip_weights_(d, clip)
            sums["d_loss"] += float(loss_d.item())
            sums["w_estimate"] += float(real_scores.mean().item() - fake_scores.mean().item())
            nd += 1
            step += 1
            if step % config.n_critic == 0:
                z = randn(config.batch_size, config.nz)
                loss_g = g_loss_fn(d(g(z)))
                opt_g.zero_grad()
                loss_g.backward()
                opt_g.step()
                if ema is not None:
                    ema.update()
                sums["g_loss"] += float(loss_g.item())
                ng += 1
        record = {
            "epoch": epoch,
            "d_loss": sums["d_loss"] / max(nd, 1),
            "g_loss": sums["g_loss"] / ng if ng else None,  # None: no generator step this epoch
            "d_steps": nd,
            "g_steps": ng,
            "real_minus_fake_score": sums["w_estimate"] / max(nd, 1),
            "lr_g": opt_g.param_groups[0]["lr"],
            "lr_d": opt_d.param_groups[0]["lr"],
        }
        if use_gp:
            record["gradient_penalty"] = sums["gp"] / max(nd, 1)
        if not all(math.isfinite(v) for k, v in record.items() if k in ("d_loss",)):
            raise FloatingPointError(
                f"train_gan: the {config.loss} discriminator loss became {record['d_loss']} "
                f"at epoch {epoch}; lower the learning rates"
            )
        sampler = ema.model if ema is not None else g
        if classifier is not None:
            samples = generate(sampler, config.eval_samples, seed=config.seed + 1000) * 0.5 + 0.5
            record.update(classifier.summary(samples, ref, splits=10 if config.eval_samples >= 100 else 1))
        record["seconds"] = time.perf_counter() - start
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, sampler, record)
    return sampler, d, history
