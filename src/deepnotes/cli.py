"""The ``deepnotes`` command.  Thin: it parses arguments and calls the library.

    deepnotes train                       # classic LeNet-5 on the bundled digits, prints test accuracy
    deepnotes train --epochs 20 --optimizer sgd --lr 0.05 --scheduler step
    deepnotes lr-find                     # learning-rate range test
    deepnotes coco-eval GT.json DT.json   # COCO bbox evaluation, pycocotools' 12 numbers
"""
import argparse
import difflib
import importlib
import json
import os
import sys

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")


class _Parser(argparse.ArgumentParser):
    """argparse with a nearest-match hint for mistyped options."""

    def error(self, message):
        if "unrecognized arguments:" in message:
            known = _option_strings(self)
            hints = []
            for bad in message.split("unrecognized arguments:")[1].split():
                if bad.startswith("-"):
                    near = difflib.get_close_matches(bad.split("=")[0], known, n=2)
                    if near:
                        hints.append(f"{bad}: did you mean {' or '.join(near)}?")
            if hints:
                message += " (" + "; ".join(hints) + ")"
        super().error(message)


def _option_strings(parser):
    """Every option string of ``parser`` and of its sub-commands."""
    found = []
    for action in parser._actions:
        found += action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _option_strings(sub)
    return sorted(set(found))


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
    from .train.factory import SCHEDULERS
    parser.add_argument("--version", action="version", version=f"deepnotes {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser("train", help="train a model on bundled or local data",
                       description="Train a model (default: lenet5, the classic 1998 LeNet-5 of the notes, on the "
                                   "bundled 8x8 digits upsampled to 32x32; lenet5_modern is the ReLU/max-pool "
                                   "variant) and print the test accuracy.")
    _add_training_args(t)
    t.add_argument("--epochs", type=_positive_int("--epochs"), default=10, help="epochs (default 10)")
    t.add_argument("--scheduler", default="cosine", help=f"learning-rate schedule: {', '.join(SCHEDULERS)} "
                                                         "(default cosine)")
    t.add_argument("--accumulate", type=_positive_int("--accumulate"), default=1, metavar="K",
                   help="accumulate gradients over K batches per optimizer step")
    t.add_argument("--clip-grad-norm", type=_positive_float("--clip-grad-norm"), default=None, metavar="MAX",
                   help="clip the global gradient norm to MAX before each step")
    t.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE",
                   help="stop when the test loss has not improved for PATIENCE epochs")
    t.add_argument("--amp", action="store_true", help="mixed precision: float16 compute, float32 master "
                                                      "weights, dynamic loss scaling")
    t.add_argument("--out", default="runs/train", help="folder for checkpoint.safetensors, model.safetensors, "
                                                       "history.json/.csv and curves.png (default runs/train)")
    t.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue from a checkpoint file")
    t.add_argument("--plot", action="store_true", help="draw loss/accuracy curves to OUT/curves.png "
                                                       "(needs matplotlib)")
    t.set_defaults(func=cmd_train)

    f = sub.add_parser("lr-find", help="learning-rate range test",
                       description="Sweep the learning rate exponentially over a few hundred batches, record "
                                   "the loss and suggest a rate (the model is left untouched).")
    _add_training_args(f)
    f.add_argument("--start-lr", type=_positive_float("--start-lr"), default=1e-6)
    f.add_argument("--end-lr", type=_positive_float("--end-lr"), default=10.0)
    f.add_argument("--num-iter", type=_positive_int("--num-iter"), default=100)
    f.add_argument("--plot", default=None, metavar="PNG", help="save the loss-vs-rate curve (needs matplotlib)")
    f.set_defaults(func=cmd_lr_find)

    for module in ("detection", "analysis"):
        try:
            mod = importlib.import_module(f"deepnotes.{module}.cli")
        except ImportError:
            continue
        if hasattr(mod, "register"):
            mod.register(sub)
    return parser


def _add_training_args(p):
    from .models import list_models
    from .train.factory import OPTIMIZERS
    p.add_argument("--model", default="lenet5",
                   help=f"architecture ({', '.join(list_models())}; default lenet5, the classic LeNet-5 of the "
                        "notes: C3 connection table, trainable subsampling, RBF output; lenet5_modern is the "
                        "ReLU/max-pool variant)")
    p.add_argument("--dataset", default="digits", choices=DATASETS, help="data set (default digits, bundled)")
    p.add_argument("--data", default=None, metavar="DIR", help="folder with the files of a local data set "
                                                               "(MNIST/Fashion-MNIST IDX, CIFAR-10 binary)")
    p.add_argument("--batch-size", type=_positive_int("--batch-size"), default=32, help="batch size (default 32)")
    p.add_argument("--lr", type=_positive_float("--lr"), default=None,
                   help="learning rate (default depends on the optimizer: 0.002 for adam, 0.05 for sgd)")
    p.add_argument("--optimizer", default="adam", help=f"optimizer: {', '.join(OPTIMIZERS)} (default adam)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives identical weights")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--image-size", type=_positive_int("--image-size"), default=None, metavar="S",
                   help="feed SxS images (default: the data's own side, digits 32, raised to the smallest the "
                        "architecture accepts; grey images are repeated to 3 channels for torchvision models)")
    p.add_argument("--train-size", type=_positive_int("--train-size"), default=None, metavar="N",
                   help="use only the first N training images")
    p.add_argument("--test-size", type=_positive_int("--test-size"), default=None, metavar="N",
                   help="use only the first N test images")
    add_threads_arg(p)


def add_threads_arg(p):
    """The ``--threads N`` option (``deepnotes.set_num_threads``; default ``CLI_DEFAULT_THREADS``)."""
    from .threads import CLI_DEFAULT_THREADS
    p.add_argument("--threads", type=_positive_int("--threads"), default=CLI_DEFAULT_THREADS, metavar="N",
                   help=f"BLAS threads (deepnotes.set_num_threads; default {CLI_DEFAULT_THREADS}: on a shared "
                        "2-core machine one thread trained the default LeNet-5 several times faster than two, "
                        "with and without another process keeping a core busy)")


def _check_data_args(args):
    if args.dataset == "digits" and args.data:
        raise ValueError("--data is not used with the bundled digits; pick --dataset mnist, fashion-mnist "
                         "or cifar10 for local files")
    if args.dataset != "digits" and not args.data:
        raise ValueError(f"--dataset {args.dataset} needs --data DIR, the folder with its files (nothing is "
                         "downloaded)")


def _first(dataset, n):
    from .data import Subset
    return dataset if n is None or n >= len(dataset) else Subset(dataset, range(n))


def _build_training(args):
    """(model, optimizer, train loader, test loader, loss function); the model and the data are fitted
    to each other by ``deepnotes.train.adapt``."""
    from . import manual_seed, set_num_threads
    from .data import DataLoader
    from .train import build_optimizer
    from .train.adapt import IncompatibleInput, prepare_image_classification

    set_num_threads(args.threads)
    manual_seed(args.seed)
    _check_data_args(args)
    try:
        run = prepare_image_classification(args.model, args.dataset, args.data, image_size=args.image_size)
    except IncompatibleInput as e:
        print(f"deepnotes {args.command}: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    opt = build_optimizer(args.optimizer, run.model.parameters(), lr=args.lr)
    train_loader = DataLoader(_first(run.train_set, args.train_size), batch_size=args.batch_size, shuffle=True,
                              num_workers=args.workers)
    test_loader = DataLoader(_first(run.test_set, args.test_size), batch_size=256, num_workers=args.workers)
    return run.model, opt, train_loader, test_loader, run.loss_fn


def cmd_train(args):
    from .io import save_weights
    from .train import EarlyStopping, Trainer, build_scheduler

    model, opt, train_loader, test_loader, loss_fn = _build_training(args)
    sched, interval = build_scheduler(args.scheduler, opt, args.epochs, steps_per_epoch=len(train_loader))
    os.makedirs(args.out, exist_ok=True)
    stopper = EarlyStopping(patience=args.early_stopping) if args.early_stopping is not None else None
    trainer = Trainer(model, opt, train_loader, val_loader=test_loader, loss_fn=loss_fn, scheduler=sched,
                      scheduler_interval=interval, accumulation_steps=args.accumulate,
                      clip_grad_norm=args.clip_grad_norm, early_stopping=stopper, amp=args.amp,
                      checkpoint_path=os.path.join(args.out, "checkpoint.safetensors"),
                      history_path=os.path.join(args.out, "history.csv"),
                      plot_path=os.path.join(args.out, "curves.png") if args.plot else None,
                      progress=not args.no_progress)
    if args.resume:
        trainer.load_checkpoint(args.resume)
        print(f"resumed from {args.resume} at epoch {trainer.epoch}")
    print(f"training {args.model} on {args.dataset}: {len(train_loader.dataset)} train / "
          f"{len(test_loader.dataset)} test images, {args.epochs} epochs, {args.optimizer}, seed {args.seed}"
          + (", mixed precision" if args.amp else ""))
    trainer.fit(args.epochs)
    loss, acc = trainer.evaluate(test_loader)
    save_weights(model.state_dict(), os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump(trainer.history, f, indent=1)
    print(f"test loss {loss:.4f}")
    print(f"test accuracy {acc:.4f} ({acc * 100:.2f}%)")
    print(f"weights: {os.path.join(args.out, 'model.safetensors')}")
    return 0


def cmd_lr_find(args):
    from .optim.lr_finder import lr_finder

    model, opt, train_loader, _, loss_fn = _build_training(args)
    result = lr_finder(model, opt, train_loader, loss_fn=loss_fn, start_lr=args.start_lr, end_lr=args.end_lr,
                       num_iter=args.num_iter)
    print(f"{'lr':>12} {'loss':>10} {'smoothed':>10}")
    for i in range(0, len(result.lrs), max(1, len(result.lrs) // 20)):
        print(f"{result.lrs[i]:12.3e} {result.losses[i]:10.4f} {result.smoothed[i]:10.4f}")
    if result.diverged:
        print(f"the loss diverged at lr {result.lrs[-1]:.3e}")
    if result.suggestion is None:
        print("no suggestion: too few steps were recorded")
    else:
        print(f"suggested learning rate {result.suggestion:.3e}")
    if args.plot:
        result.plot(args.plot)
        print(f"plot: {args.plot}")
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
