"""``deepnotes detect``: train a small detector on the generated Shapes data and score it (first version).

    deepnotes detect train [--model retinanet|fcos] [--steps N] [--batch-size B] [--lr LR]
                           [--train-images N] [--val-images N] [--out DIR]
    deepnotes detect eval CHECKPOINT [--val-images N]

``train`` writes ``DIR/checkpoint.safetensors`` (the model's name, number of classes, state_dict, the
loss history and the validation numbers; written atomically) and prints the 12 COCO numbers and the
per-class AP on held-out images (seed 1; training uses seed 0).  ``eval`` rebuilds the model named in a
checkpoint and scores it again.  Progress bars, resume, ``predict`` and plots are still to come.
"""

from __future__ import annotations

import json
import os

__all__ = ["register", "MODELS"]

MODELS = {"retinanet": "retinanet_small", "fcos": "fcos_small"}


def register(subparsers):
    p = subparsers.add_parser(
        "detect",
        help="train and score a small detector on generated Shapes images",
        description="Train RetinaNet or FCOS (CPU-sized) on the generated Shapes data set and score it with "
        "the COCO evaluator.",
    )
    sub = p.add_subparsers(dest="detect_command", required=True)
    t = sub.add_parser("train", help="train a detector, then print its COCO numbers on held-out images")
    t.add_argument("--model", choices=sorted(MODELS), default="retinanet")
    t.add_argument("--steps", type=int, default=1500)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (default 2e-3)")
    t.add_argument("--train-images", type=int, default=4000)
    t.add_argument("--val-images", type=int, default=500)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="detect-run", help="output folder (default ./detect-run)")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("eval", help="score a checkpoint written by 'detect train'")
    e.add_argument("checkpoint")
    e.add_argument("--val-images", type=int, default=500)
    e.set_defaults(func=cmd_eval)
    return p


def _positive(value, name):
    if value < 1:
        raise SystemExit(f"deepnotes detect: {name} must be at least 1, got {value}")


def _print_stats(ev):
    from .detection import STAT_NAMES

    for name in STAT_NAMES:
        print(f"  {name:6s} {ev['stats'][name]:.3f}")
    print("  per class AP: " + ", ".join(f"{k} {v:.3f}" for k, v in ev["per_class"].items()))


def cmd_train(args):
    for name in ("steps", "batch_size", "train_images", "val_images"):
        _positive(getattr(args, name), "--" + name.replace("_", "-"))
    from .. import io
    from ..data import Shapes
    from ..models import detection
    from ..random import manual_seed
    from .detection import train_detector

    manual_seed(args.seed)
    model = getattr(detection, MODELS[args.model])(num_classes=Shapes.num_classes)
    train_set = Shapes(args.train_images, seed=0)
    val_set = Shapes(args.val_images, seed=1)
    result = train_detector(
        model,
        train_set,
        val_set,
        steps=args.steps,
        batch_size=args.batch_size,
        optimizer="adamw",
        lr=args.lr,
        seed=args.seed,
        log_every=max(1, args.steps // 20),
    )
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "checkpoint.safetensors")
    io.save(
        {
            "model": MODELS[args.model],
            "num_classes": Shapes.num_classes,
            "state_dict": model.state_dict(),
            "history": json.dumps(result["history"]),
            "stats": result["stats"],
        },
        path,
    )
    print(f"{MODELS[args.model]}: {result['seconds_per_step']:.3f} s per step; checkpoint {path}")
    _print_stats(result)
    return 0


def cmd_eval(args):
    _positive(args.val_images, "--val-images")
    from .. import io
    from ..data import Shapes
    from ..models import detection
    from .detection import evaluate_detector

    ckpt = io.load(args.checkpoint)
    if not isinstance(ckpt, dict) or ckpt.get("model") not in MODELS.values() or "state_dict" not in ckpt:
        raise SystemExit(
            f"deepnotes detect eval: {args.checkpoint} is not a checkpoint of 'deepnotes detect train' (expected "
            f"keys 'model' in {sorted(MODELS.values())} and 'state_dict')"
        )
    model = getattr(detection, ckpt["model"])(num_classes=int(ckpt["num_classes"]))
    model.load_state_dict(ckpt["state_dict"])
    ev = evaluate_detector(model, Shapes(args.val_images, seed=1))
    print(f"{ckpt['model']} on {args.val_images} held-out Shapes images:")
    _print_stats(ev)
    return 0
