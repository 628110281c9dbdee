"""The ``deepnotes`` command.  Thin: it parses arguments and calls the library.

    deepnotes train                       # LeNet-5 on the bundled digits, prints test accuracy
    deepnotes train --epochs 20 --optimizer sgd --lr 0.05 --scheduler step
    deepnotes coco-eval GT.json DT.json   # COCO bbox evaluation, pycocotools' 12 numbers
"""
import argparse
import difflib
import json
import os
import sys

OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = ("none", "step", "cosine")
DATASETS = ("digits",)


class _Parser(argparse.ArgumentParser):
    """argparse with a nearest-match hint for mistyped options."""

    def error(self, message):
        if "unrecognized arguments:" in message:
            known = [o for a in self._actions for o in a.option_strings]
            hints = []
            for bad in message.split("unrecognized arguments:")[1].split():
                if bad.startswith("-"):
                    near = difflib.get_close_matches(bad.split("=")[0], known, n=2)
                    if near:
                        hints.append(f"{bad}: did you mean {' or '.join(near)}?")
            if hints:
                message += " (" + "; ".join(hints) + ")"
        super().error(message)


def _positive_int(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be positive, got {value}")
        return value
    return parse


def _positive_float(name):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{name} must be positive, got {value}")
        return value
    return parse


def build_parser():
    parser = _Parser(prog="deepnotes", description="Deep-learning interview notes as verified software.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"deepnotes {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser("train", help="train a model on bundled or local data",
                       description="Train a model (default: LeNet-5 on the bundled 8x8 digits upsampled to "
                                   "32x32) and print the test accuracy.")
    from .models import list_models
    t.add_argument("--model", default="lenet5", help=f"architecture ({', '.join(list_models())}; default lenet5)")
    t.add_argument("--dataset", default="digits", choices=DATASETS, help="data set (default digits)")
    t.add_argument("--epochs", type=_positive_int("--epochs"), default=10, help="epochs (default 10)")
    t.add_argument("--batch-size", type=_positive_int("--batch-size"), default=32, help="batch size (default 32)")
    t.add_argument("--lr", type=_positive_float("--lr"), default=None,
                   help="learning rate (default 0.002 for adam, 0.05 for sgd)")
    t.add_argument("--optimizer", default="adam", choices=OPTIMIZERS, help="optimizer (default adam)")
    t.add_argument("--scheduler", default="cosine", choices=SCHEDULERS,
                   help="per-epoch learning-rate schedule (default cosine)")
    t.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives identical weights")
    t.add_argument("--out", default="runs/train", help="folder for checkpoint.safetensors, model.safetensors "
                                                       "and history.json (default runs/train)")
    t.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue from a checkpoint file")
    t.add_argument("--no-progress", action="store_true", help="hide progress bars")
    t.set_defaults(func=cmd_train)

    try:
        from .detection import cli as detection_cli
    except ImportError:  # pragma: no cover - the detection toolkit is part of the package
        detection_cli = None
    if detection_cli is not None and hasattr(detection_cli, "register"):
        detection_cli.register(sub)
    return parser


def _build_training(args):
    from . import data, manual_seed, models, nn, optim
    from .data.datasets import Digits

    manual_seed(args.seed)
    train_set = Digits(train=True, size=32)
    test_set = Digits(train=False, size=32)
    model = models.get_model(args.model, num_classes=10, in_channels=1)
    lr = args.lr if args.lr is not None else (0.002 if args.optimizer == "adam" else 0.05)
    if args.optimizer == "adam":
        opt = optim.Adam(model.parameters(), lr=lr)
    else:
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = None
    if args.scheduler == "step":
        sched = optim.lr_scheduler.StepLR(opt, step_size=max(1, args.epochs // 3), gamma=0.1)
    elif args.scheduler == "cosine":
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    train_loader = data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = data.DataLoader(test_set, batch_size=256)
    return model, opt, sched, train_loader, test_loader, nn


def cmd_train(args):
    from .train import Trainer

    model, opt, sched, train_loader, test_loader, _ = _build_training(args)
    os.makedirs(args.out, exist_ok=True)
    ckpt = os.path.join(args.out, "checkpoint.safetensors")
    trainer = Trainer(model, opt, train_loader, val_loader=test_loader, scheduler=sched, checkpoint_path=ckpt,
                      progress=not args.no_progress)
    if args.resume:
        trainer.load_checkpoint(args.resume)
        print(f"resumed from {args.resume} at epoch {trainer.epoch}")
    print(f"training {args.model} on {args.dataset}: {len(train_loader.dataset)} train / "
          f"{len(test_loader.dataset)} test images, {args.epochs} epochs, {args.optimizer}, seed {args.seed}")
    trainer.fit(args.epochs)
    loss, acc = trainer.evaluate(test_loader)
    from .io import save_weights
    save_weights(model.state_dict(), os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump(trainer.history, f, indent=1)
    print(f"test loss {loss:.4f}")
    print(f"test accuracy {acc:.4f} ({acc * 100:.2f}%)")
    print(f"weights: {os.path.join(args.out, 'model.safetensors')}")
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (FileNotFoundError, ValueError, TypeError) as e:
        print(f"deepnotes {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
