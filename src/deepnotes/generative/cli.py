"""``deepnotes gan train`` and ``deepnotes gan cycle``: GANs on the bundled digits from the command line.

    deepnotes gan train --loss wgan-gp --out runs/gan        # the loss's own defaults
    deepnotes gan train --loss nsgan --epochs 30 --seed 1 --out runs/nsgan
    deepnotes gan cycle --out runs/cycle                     # regular <-> bold digits

``gan train`` writes to ``--out``: ``samples/epoch_NNN.png`` (a 10x10 grid from fixed noise, every
epoch), ``history.json`` (the settings and, per epoch, the mean losses, the digits Inception Score, the
digits FID against the training images, the mean classifier confidence and the classes covered),
``checkpoint.safetensors`` (the generator that draws the samples, i.e. the moving average of its
weights unless ``ema`` is off, the discriminator, the settings, the epoch) and, when
matplotlib is installed (the ``plot`` extra), ``curves.png`` with the loss and score curves.  The
scores use the digits classifier of :mod:`deepnotes.generative.classifier` (digits-specific IS/FID).

``gan cycle`` trains the CycleGAN demo of :mod:`deepnotes.generative.cycle` and writes
``history.json``, ``checkpoint.safetensors`` and ``samples/epoch_NNN.png`` (rows: x, G(x), F(G(x)),
y, F(y), G(F(y))); it prints the cycle-consistency error every epoch.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from ..errors import UserError

__all__ = ["register", "cmd_train", "cmd_cycle"]


def _positive(flag, kind=int):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{flag} must be a {'n integer' if kind is int else ' number'}, got {text!r}"
            ) from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{flag} must be positive, got {text}")
        return value

    return parse


def _threads_arg(p):
    from ..threads import CLI_DEFAULT_THREADS

    p.add_argument(
        "--threads",
        type=_positive("--threads"),
        default=CLI_DEFAULT_THREADS,
        metavar="N",
        help=f"BLAS threads (default {CLI_DEFAULT_THREADS})",
    )


def register(subparsers):
    """Add ``gan`` (with ``train`` and ``cycle``) to an argparse subparsers object; returns its parser."""
    from .losses import GAN_LOSSES

    gan = subparsers.add_parser(
        "gan",
        help="train GANs (GAN, WGAN, WGAN-GP, LSGAN, hinge) and a CycleGAN demo on the bundled digits",
        description="Generative models on the bundled 16x16 digits, scored by a digits classifier.",
    )
    sub = gan.add_subparsers(dest="gan_command", metavar="ACTION")
    sub.required = True
    t = sub.add_parser(
        "train",
        help="train a DCGAN-style GAN with one of the losses",
        description="Train a small DCGAN on the bundled digits; write a sample grid per epoch, the history "
        "(losses, digits Inception Score and FID), a checkpoint and loss curves.",
    )
    t.add_argument("--loss", required=True, choices=sorted(GAN_LOSSES), help="the GAN objective")
    t.add_argument(
        "--epochs",
        type=_positive("--epochs"),
        default=None,
        help="passes of the discriminator over "
        "the training images (default: the loss's own, see deepnotes.generative.training.LOSS_DEFAULTS)",
    )
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--out", required=True, metavar="DIR", help="folder for the samples, history and checkpoint")
    t.add_argument("--batch-size", type=_positive("--batch-size"), default=None, help="batch size (default 64)")
    t.add_argument("--lr-g", type=_positive("--lr-g", float), default=None, help="generator learning rate")
    t.add_argument("--lr-d", type=_positive("--lr-d", float), default=None, help="discriminator learning rate")
    t.add_argument(
        "--n-critic", type=_positive("--n-critic"), default=None, help="discriminator steps per generator step"
    )
    t.add_argument(
        "--train-size",
        type=_positive("--train-size"),
        default=None,
        metavar="N",
        help="use only the first N training images",
    )
    t.add_argument(
        "--eval-samples",
        type=_positive("--eval-samples"),
        default=None,
        metavar="N",
        help="generated images scored per epoch (default 1000; 10 splits for the Inception Score from 100 on)",
    )
    _threads_arg(t)
    t.set_defaults(func=cmd_train)

    c = sub.add_parser(
        "cycle",
        help="CycleGAN demo: translate between regular and bold digits",
        description="Train two translators (regular <-> bold digits, unpaired) with CycleGAN's losses and "
        "report the cycle-consistency error, the error against the true translation and whether the digit is "
        "kept.",
    )
    c.add_argument("--epochs", type=_positive("--epochs"), default=6, help="epochs (default 6)")
    c.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    c.add_argument("--out", required=True, metavar="DIR", help="folder for the samples, history and checkpoint")
    c.add_argument(
        "--train-size",
        type=_positive("--train-size"),
        default=None,
        metavar="N",
        help="use only the first N images of each domain",
    )
    c.add_argument("--batch-size", type=_positive("--batch-size"), default=32, help="batch size (default 32)")
    _threads_arg(c)
    c.set_defaults(func=cmd_cycle)
    return gan


def _out_folder(path):
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"--out {path} is a file; expected a folder (it is created if missing)")
    os.makedirs(os.path.join(path, "samples"), exist_ok=True)
    return path


def _write_json(path, obj):
    from ..io import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(obj, indent=1).encode())


def _plot_curves(history, path, loss):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(
        epochs, [r["d_loss"] for r in history], "o-", label="discriminator" if "wgan" not in loss else "critic"
    )
    axes[0].plot(epochs, [np.nan if r["g_loss"] is None else r["g_loss"] for r in history], "o-", label="generator")
    axes[0].set_title(f"{loss} losses")
    axes[0].legend()
    axes[1].plot(epochs, [r["inception_score"] for r in history], "o-")
    axes[1].set_title("digits Inception Score (max 10)")
    axes[2].plot(epochs, [r["fid"] for r in history], "o-")
    axes[2].set_title("digits FID")
    for ax in axes:
        ax.set_xlabel("epoch")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _fmt(value):
    return "   -   " if value is None else f"{value:+.4f}"


def cmd_train(args):
    from .. import set_num_threads
    from ..io import save_checkpoint
    from .classifier import load_digits_classifier
    from .png import make_grid, write_png
    from .training import default_config, generate, train_gan

    set_num_threads(args.threads)
    out = _out_folder(args.out)
    config = default_config(
        args.loss,
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        lr_g=args.lr_g,
        lr_d=args.lr_d,
        n_critic=args.n_critic,
        train_size=args.train_size,
        eval_samples=args.eval_samples,
    )
    if config.train_size is not None and config.train_size < config.batch_size:
        raise UserError(f"--train-size {config.train_size} is smaller than one batch ({config.batch_size})")
    classifier = load_digits_classifier()
    state = {"config": config.to_dict(), "history": []}
    print(
        f"training a {config.loss} GAN on {config.train_size or 1437} digits (16x16): {config.epochs} epochs, "
        f"batch {config.batch_size}, {config.n_critic} discriminator step(s) per generator step, seed {config.seed}"
    )

    def on_epoch(epoch, g, record):
        grid = generate(g, 100, seed=config.seed + 7)
        write_png(
            os.path.join(out, "samples", f"epoch_{epoch:03d}.png"), make_grid(grid, 10, value_range=(-1, 1), scale=2)
        )
        state["history"].append(record)
        _write_json(os.path.join(out, "history.json"), state)
        print(
            f"epoch {epoch:3d}  D {record['d_loss']:+.4f}  G {_fmt(record['g_loss'])}  "
            f"IS {record['inception_score']:.2f} +- {record['inception_score_std']:.2f}  FID {record['fid']:.2f}  "
            f"confidence {record['mean_confidence']:.3f}  classes {record['classes_covered']}  "
            f"{record['seconds']:.0f} s",
            flush=True,
        )

    try:
        g, d, history = train_gan(config, classifier=classifier, on_epoch=on_epoch)
    except FloatingPointError as e:
        raise UserError(str(e)) from None
    save_checkpoint(
        {
            "generator": {k: np.asarray(v) for k, v in g.state_dict().items()},
            "discriminator": {k: np.asarray(v) for k, v in d.state_dict().items()},
            "config": config.to_dict(),
            "epoch": len(history),
        },
        os.path.join(out, "checkpoint.safetensors"),
    )
    last = history[-1]
    print(
        f"final: IS {last['inception_score']:.3f}  FID {last['fid']:.3f}  mean confidence "
        f"{last['mean_confidence']:.3f}  classes covered {last['classes_covered']}"
    )
    if _plot_curves(history, os.path.join(out, "curves.png"), config.loss):
        print(f"curves: {os.path.join(out, 'curves.png')}")
    else:
        print(
            "curves.png not drawn: matplotlib is not installed (pip install deepnotes[plot]); the numbers are "
            "in history.json"
        )
    print(f"samples: {os.path.join(out, 'samples')}  history: {os.path.join(out, 'history.json')}")
    return 0


def cmd_cycle(args):
    from .. import set_num_threads
    from ..io import save_checkpoint
    from .classifier import load_digits_classifier
    from .cycle import _apply, cycle_domains, train_cyclegan
    from .png import make_grid, write_png

    set_num_threads(args.threads)
    out = _out_folder(args.out)
    if args.train_size is not None and args.train_size < args.batch_size:
        raise UserError(f"--train-size {args.train_size} is smaller than one batch ({args.batch_size})")
    classifier = load_digits_classifier()
    x, _, y, _, _ = cycle_domains(False, 10)
    settings = {"epochs": args.epochs, "seed": args.seed, "batch_size": args.batch_size, "train_size": args.train_size}
    state = {"config": settings, "history": []}
    print(f"CycleGAN demo, regular <-> bold digits: {args.epochs} epochs, seed {args.seed}")

    def on_epoch(epoch, g, f, record):
        gx, fy = _apply(g, x), _apply(f, y)
        rows = np.concatenate([x, gx, _apply(f, gx), y, fy, _apply(g, fy)])
        write_png(
            os.path.join(out, "samples", f"epoch_{epoch:03d}.png"), make_grid(rows, 10, value_range=(-1, 1), scale=2)
        )
        state["history"].append(record)
        _write_json(os.path.join(out, "history.json"), state)
        print(
            f"epoch {epoch:3d}  cycle error x {record['cycle_error_x']:.4f} y {record['cycle_error_y']:.4f}  "
            f"error vs true translation x {record['translation_error_x']:.4f} y {record['translation_error_y']:.4f}  "
            f"digit kept x {record['content_accuracy_x']:.3f} y {record['content_accuracy_y']:.3f}  "
            f"{record['seconds']:.0f} s",
            flush=True,
        )

    g, f, history = train_cyclegan(
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        train_size=args.train_size,
        classifier=classifier,
        on_epoch=on_epoch,
    )
    save_checkpoint(
        {
            "G": {k: np.asarray(v) for k, v in g.state_dict().items()},
            "F": {k: np.asarray(v) for k, v in f.state_dict().items()},
            "config": settings,
            "epoch": len(history),
        },
        os.path.join(out, "checkpoint.safetensors"),
    )
    last = history[-1]
    print(
        f"final cycle-consistency error (mean |F(G(x)) - x|, |G(F(y)) - y|, pixels in [0, 1]): "
        f"{last['cycle_error_x']:.4f}, {last['cycle_error_y']:.4f}"
    )
    return 0
