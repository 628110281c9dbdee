"""The ``deepnotes`` command.  Thin: it parses arguments and calls the library.

    deepnotes train                       # classic LeNet-5 on the bundled digits, prints test accuracy
    deepnotes train --epochs 20 --optimizer sgd --scheduler step
    deepnotes train --early-stopping 3 --val-size 0.2
    deepnotes train --resume runs/train/checkpoint.safetensors --epochs 15
    deepnotes train --augment mixup       # soft targets from MixUp on every training batch
    deepnotes lr-find                     # learning-rate range test
    deepnotes coco-eval GT.json DT.json   # COCO bbox evaluation, pycocotools' 12 numbers

``train`` holds a validation set out of the training set (``--val-size``); early stopping, the
plateau schedule and the restored best weights look only at it, and the test set is scored once, at
the end.  Exit status: 0 on success; 2 for a problem the user can fix (a bad option, file, data set
or checkpoint, a missing optional package, a full disk, a training run whose loss became NaN or
infinite), reported on one line; 130 when interrupted.  Anything else is a bug and keeps its
traceback.
"""

import argparse
import difflib
import errno
import importlib
import json
import os
import sys

from .errors import FileFormatError, UserError, require

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


def _non_negative_int(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{name} must be >= 0, got {value}")
        return value

    return parse


def _fraction_or_count(text):
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--val-size must be a fraction or a count, got {text!r}") from None
        if not 0 <= value < 1:
            raise argparse.ArgumentTypeError(
                f"--val-size must be a fraction in [0, 1) or a count, got {text}"
            ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--val-size must be >= 0, got {value}")
    return value


def build_parser():
    parser = _Parser(prog="deepnotes", description="Deep-learning interview notes as verified software.")
    from . import __version__
    from .train.augment import PRESETS as AUGMENT_PRESETS
    from .train.factory import SCHEDULERS

    parser.add_argument("--version", action="version", version=f"deepnotes {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser(
        "train",
        help="train a model on bundled or local data",
        description="Train a model (default: lenet5, the classic 1998 LeNet-5 of the notes, on the "
        "bundled 8x8 digits upsampled to 32x32; lenet5_modern is the ReLU/max-pool "
        "variant) and print the test accuracy.",
    )
    _add_training_args(t)
    t.add_argument("--epochs", type=_positive_int("--epochs"), default=10, help="epochs (default 10)")
    t.add_argument(
        "--scheduler", default="cosine", help=f"learning-rate schedule: {', '.join(SCHEDULERS)} (default cosine)"
    )
    t.add_argument(
        "--accumulate",
        type=_positive_int("--accumulate"),
        default=1,
        metavar="K",
        help="accumulate gradients over K batches per optimizer step",
    )
    t.add_argument(
        "--clip-grad-norm",
        type=_positive_float("--clip-grad-norm"),
        default=None,
        metavar="MAX",
        help="clip the global gradient norm to MAX before each step",
    )
    t.add_argument(
        "--early-stopping",
        type=_positive_int("--early-stopping"),
        default=None,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs in a row without a lower validation loss and keep the "
        "weights of the best epoch",
    )
    t.add_argument(
        "--val-size",
        type=_fraction_or_count,
        default=0.1,
        metavar="N",
        help="validation set held out of the training set, a fraction (default 0.1) or a count; "
        "early stopping, the plateau schedule and the best weights use it, never the test set; "
        "0 holds out nothing",
    )
    t.add_argument(
        "--val-seed", type=int, default=0, help="seed of the validation split (default 0, independent of --seed)"
    )
    t.add_argument(
        "--skip-nonfinite",
        action="store_true",
        help="skip optimizer steps whose loss or gradients are NaN/inf (counted and reported; "
        "10 in a row stop the run) instead of stopping at the first one",
    )
    t.add_argument(
        "--amp",
        action="store_true",
        help="mixed precision: float16 compute, float32 master weights, dynamic loss scaling",
    )
    t.add_argument(
        "--out",
        default="runs/train",
        help="folder for checkpoint.safetensors, model.safetensors, "
        "history.json/.csv, results.json and curves.png "
        "(default runs/train)",
    )
    t.add_argument(
        "--resume",
        default=None,
        metavar="CHECKPOINT",
        help="continue from a checkpoint file up to --epochs epochs in total; with another --epochs "
        "than the run was planned for, the schedule is rebuilt for the new total",
    )
    t.add_argument("--plot", action="store_true", help="draw loss/accuracy curves to OUT/curves.png (needs matplotlib)")
    t.add_argument(
        "--augment",
        default="none",
        metavar="PRESET",
        help="augment the training data: "
        + "; ".join(f"{k} ({v.description})" for k, v in AUGMENT_PRESETS.items())
        + " (default none)",
    )
    t.add_argument(
        "--nproc",
        type=_positive_int("--nproc"),
        default=1,
        metavar="N",
        help="data-parallel training on N processes (MPI ranks started with mpiexec; needs "
        "deepnotes[distributed]); --batch-size is per process, so a step sees N x batch-size "
        "images (default 1)",
    )
    t.add_argument(
        "--hostfile",
        default=None,
        metavar="FILE",
        help="with --nproc: spread the processes over the machines listed in this MPI host file",
    )
    t.set_defaults(func=cmd_train)

    f = sub.add_parser(
        "lr-find",
        help="learning-rate range test",
        description="Sweep the learning rate exponentially over a few hundred batches, record "
        "the loss and suggest a rate (the model is left untouched).",
    )
    _add_training_args(f)
    f.add_argument("--start-lr", type=_positive_float("--start-lr"), default=1e-6)
    f.add_argument("--end-lr", type=_positive_float("--end-lr"), default=10.0)
    f.add_argument(
        "--num-iter", type=_positive_int("--num-iter"), default=100, help="steps of the sweep (default 100, at least 5)"
    )
    f.add_argument("--plot", default=None, metavar="PNG", help="save the loss-vs-rate curve (needs matplotlib)")
    f.set_defaults(func=cmd_lr_find)

    for module in (
        "detection.cli",
        "train.detection_cli",
        "analysis.cli",
        "notes.cli",
        "compress.cli",
        "rl.cli",
        "data.cli",
        "generative.cli",
    ):
        # every command module ships with the package and imports only runtime dependencies at load
        # time, so an ImportError here is a bug to show, not a command to hide
        importlib.import_module(f"deepnotes.{module}").register(sub)
    return parser


def _add_training_args(p):
    from .models import list_models
    from .train.factory import OPTIMIZERS, default_lr

    p.add_argument(
        "--model",
        default="lenet5",
        help=f"architecture ({', '.join(list_models())}; default lenet5, the classic LeNet-5 of the "
        "notes: C3 connection table, trainable subsampling, RBF output; lenet5_modern is the "
        "ReLU/max-pool variant)",
    )
    p.add_argument("--dataset", default="digits", choices=DATASETS, help="data set (default digits, bundled)")
    p.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="folder with the files of a local data set (MNIST/Fashion-MNIST IDX, CIFAR-10 binary)",
    )
    p.add_argument("--batch-size", type=_positive_int("--batch-size"), default=32, help="batch size (default 32)")
    p.add_argument(
        "--lr",
        type=_positive_float("--lr"),
        default=None,
        help="learning rate (default depends on the optimizer: "
        + ", ".join(f"{k} {default_lr(k):g}" for k in OPTIMIZERS)
        + ")",
    )
    p.add_argument("--optimizer", default="adam", help=f"optimizer: {', '.join(OPTIMIZERS)} (default adam)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives identical weights")
    p.add_argument(
        "--workers", type=_non_negative_int("--workers"), default=0, help="DataLoader worker processes (default 0)"
    )
    bars = p.add_mutually_exclusive_group()
    bars.add_argument(
        "--progress",
        dest="progress",
        action="store_const",
        const=True,
        default=None,
        help="show progress bars even when stderr is not a terminal (default: only on a terminal)",
    )
    bars.add_argument("--no-progress", dest="progress", action="store_const", const=False, help="hide progress bars")
    p.add_argument(
        "--image-size",
        type=_positive_int("--image-size"),
        default=None,
        metavar="S",
        help="feed SxS images (default: the data's own side, digits 32, raised to the smallest the "
        "architecture accepts; grey images are repeated to 3 channels for torchvision models)",
    )
    p.add_argument(
        "--train-size",
        type=_positive_int("--train-size"),
        default=None,
        metavar="N",
        help="use only the first N training images",
    )
    p.add_argument(
        "--test-size",
        type=_positive_int("--test-size"),
        default=None,
        metavar="N",
        help="use only the first N test images",
    )
    add_threads_arg(p)


def add_threads_arg(p):
    """The ``--threads N`` option (``deepnotes.set_num_threads``; default ``CLI_DEFAULT_THREADS``)."""
    from .threads import CLI_DEFAULT_THREADS

    p.add_argument(
        "--threads",
        type=_positive_int("--threads"),
        default=CLI_DEFAULT_THREADS,
        metavar="N",
        help=f"BLAS threads (deepnotes.set_num_threads; default {CLI_DEFAULT_THREADS}: on a shared "
        "2-core machine one thread trained the default LeNet-5 several times faster than two, "
        "with and without another process keeping a core busy)",
    )


def _check_data_args(args):
    if args.dataset == "digits" and args.data:
        raise UserError(
            "--data is not used with the bundled digits; pick --dataset mnist, fashion-mnist or cifar10 for local files"
        )
    if args.dataset != "digits":
        if not args.data:
            raise UserError(
                f"--dataset {args.dataset} needs --data DIR, the folder with its files (nothing is downloaded)"
            )
        if not os.path.isdir(args.data):
            raise UserError(f"--data {args.data}: no such folder")


# ------------------------------------------------------------------ data-parallel runs (--nproc)
def _in_mpi_job():
    """True in a rank of an MPI job of several processes (started by --nproc or by the user's mpiexec)."""
    for var in ("DEEPNOTES_NPROC", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        if int(os.environ.get(var, "1") or 1) > 1:
            return True
    return False


def _is_main_rank():
    from . import distributed as dist

    return not dist.is_initialized() or dist.get_rank() == 0


def _say(*args, **kwargs):
    """print, on rank 0 only (every rank runs the same command under --nproc)."""
    if _is_main_rank():
        print(*args, **kwargs)


def _launch_ranks(args):
    """Run this same ``deepnotes train`` command as ``--nproc`` MPI ranks and wait for them."""
    import subprocess

    from .distributed.launch import launch_environment, mpiexec_command

    try:
        cmd = mpiexec_command(args.nproc, ["-m", "deepnotes"] + list(args.argv), hostfile=args.hostfile)
    except RuntimeError as e:
        raise UserError(f"--nproc {args.nproc}: {e}") from None
    env = launch_environment()
    env["DEEPNOTES_NPROC"] = str(args.nproc)
    env.setdefault("OMP_NUM_THREADS", str(args.threads) if args.threads else "1")
    code = subprocess.call(cmd, env=env)
    if code != 0:
        print(
            f"deepnotes train: the {args.nproc}-process job failed (exit code {code}); the messages above "
            "name the rank that failed",
            file=sys.stderr,
        )
    return code


def _first(dataset, n):
    from .data import Subset

    return dataset if n is None or n >= len(dataset) else Subset(dataset, range(n))


def _build_training(args, sample_transform=None):
    """(model, optimizer, train loader, test loader, loss function); the model and the data are fitted
    to each other by ``deepnotes.train.adapt``.  ``sample_transform`` (an ``--augment`` preset's image
    transform) is applied to the training images only."""
    from . import manual_seed, set_num_threads
    from .data import DataLoader
    from .train import build_optimizer, split_validation
    from .train.adapt import IncompatibleInput, prepare_image_classification

    set_num_threads(args.threads)
    manual_seed(args.seed)
    _check_data_args(args)
    try:
        run = prepare_image_classification(args.model, args.dataset, args.data, image_size=args.image_size)
    except IncompatibleInput as e:
        raise UserError(str(e)) from None
    except ValueError as e:  # the readers' messages name the file and what is wrong with it
        raise FileFormatError(str(e)) from e
    opt = build_optimizer(args.optimizer, run.model.parameters(), lr=args.lr)
    train_set, val_set = split_validation(
        _first(run.train_set, args.train_size), getattr(args, "val_size", 0), getattr(args, "val_seed", 0)
    )
    if sample_transform is not None:
        from .train.augment import AugmentedImages

        train_set = AugmentedImages(train_set, sample_transform)
    from . import distributed as dist

    if dist.is_initialized() and dist.get_world_size() > 1:
        # each rank reads its share; the model's replicas start from rank 0's weights and average gradients
        from .data import DistributedSampler
        from .nn.parallel import DistributedDataParallel

        test_set = _first(run.test_set, args.test_size)
        train_loader = DataLoader(
            train_set,
            batch_size=args.batch_size,
            num_workers=args.workers,
            sampler=DistributedSampler(train_set, shuffle=True, seed=args.seed),
        )
        val_loader = (
            DataLoader(
                val_set, batch_size=256, num_workers=args.workers, sampler=DistributedSampler(val_set, shuffle=False)
            )
            if val_set is not None
            else None
        )
        test_loader = DataLoader(
            test_set, batch_size=256, num_workers=args.workers, sampler=DistributedSampler(test_set, shuffle=False)
        )
        return DistributedDataParallel(run.model), opt, train_loader, val_loader, test_loader, run.loss_fn
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, num_workers=args.workers)
    val_loader = DataLoader(val_set, batch_size=256, num_workers=args.workers) if val_set is not None else None
    test_loader = DataLoader(_first(run.test_set, args.test_size), batch_size=256, num_workers=args.workers)
    return run.model, opt, train_loader, val_loader, test_loader, run.loss_fn


_NUM_CLASSES = 10  # every data set ``deepnotes train`` reads (digits, MNIST, Fashion-MNIST, CIFAR-10)


def _out_folder(path):
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"--out {path} is a file; expected a folder (it is created if missing)")
    os.makedirs(path, exist_ok=True)
    return path


def cmd_train(args):
    from .io import atomic_write_bytes, save_weights
    from .train import EarlyStopping, NonFiniteLossError, Trainer, build_scheduler, plot_history

    if args.plot:  # optional packages are checked before any work, not after it
        require("matplotlib", "--plot", "plot")
    if args.hostfile is not None and args.nproc == 1:
        raise UserError("--hostfile is used with --nproc N (N > 1)")
    if args.nproc > 1 and not _in_mpi_job():
        return _launch_ranks(args)
    if _in_mpi_job():
        from . import distributed as dist

        require("mpi4py", "--nproc", "distributed")
        if not dist.is_initialized():
            dist.init_process_group("mpi")
    from .train.augment import build_augment

    sample_transform, batch_transform = build_augment(args.augment, _NUM_CLASSES)
    out = _out_folder(args.out)
    model, opt, train_loader, val_loader, test_loader, loss_fn = _build_training(args, sample_transform)
    if args.early_stopping is not None and val_loader is None:
        raise UserError("--early-stopping needs a validation set, and --val-size 0 holds out none")
    sched, interval = build_scheduler(args.scheduler, opt, args.epochs, steps_per_epoch=len(train_loader))
    stopper = EarlyStopping(patience=args.early_stopping) if args.early_stopping is not None else None
    checkpoint = os.path.join(out, "checkpoint.safetensors")
    trainer = Trainer(
        model,
        opt,
        train_loader,
        val_loader=val_loader,
        test_loader=test_loader,
        loss_fn=loss_fn,
        scheduler=sched,
        scheduler_interval=interval,
        accumulation_steps=args.accumulate,
        clip_grad_norm=args.clip_grad_norm,
        early_stopping=stopper,
        amp=args.amp,
        checkpoint_path=checkpoint,
        history_path=[os.path.join(out, "history.csv"), os.path.join(out, "history.json")],
        progress=args.progress,
        nonfinite="skip" if args.skip_nonfinite else "raise",
        batch_transform=batch_transform,
    )
    if args.resume:
        _resume(trainer, args, len(train_loader))
    n_val = len(val_loader.dataset) if val_loader is not None else 0
    _say(
        f"training {args.model} on {args.dataset}: {len(train_loader.dataset)} train / {n_val} validation / "
        f"{len(test_loader.dataset)} test images, {args.epochs} epochs, {args.optimizer}, seed {args.seed}"
        + (", mixed precision" if args.amp else "")
        + (f", augment {args.augment}" if args.augment != "none" else "")
    )
    try:
        trainer.fit(args.epochs)
    except NonFiniteLossError as e:
        kept = (
            f"{checkpoint} keeps epoch {trainer.epoch}"
            if trainer.epoch
            else "no epoch finished, so no checkpoint was written"
        )
        raise NonFiniteLossError(
            f"{e} ({kept}); lower --lr, clip with --clip-grad-norm, or pass --skip-nonfinite", e.epoch, e.batch
        ) from None
    loss, acc = trainer.test()
    # the artefacts first; the optional plot last, so nothing optional can lose them
    net = trainer._net  # the model itself, also under DistributedDataParallel
    if not _is_main_rank():
        return 0
    save_weights(net.state_dict(), os.path.join(out, "model.safetensors"))
    results = {
        "test_loss": loss,
        "test_acc": acc,
        "epochs": trainer.epoch,
        "stopped_early": trainer.stopped_early,
        "skipped_steps": trainer.skipped_steps,
        "augment": args.augment,
    }
    if stopper is not None and stopper.best_epoch is not None:
        results["best_epoch"] = stopper.best_epoch
    atomic_write_bytes(os.path.join(out, "results.json"), json.dumps(results, indent=1).encode())
    if args.skip_nonfinite:
        _say(f"skipped {trainer.skipped_steps} optimizer steps with a non-finite loss or gradients")
    _say(f"test loss {loss:.4f}")
    _say(f"test accuracy {acc:.4f} ({acc * 100:.2f}%)")
    _say(f"weights: {os.path.join(out, 'model.safetensors')}")
    if args.plot:
        plot_history(trainer.history, os.path.join(out, "curves.png"))
        _say(f"curves: {os.path.join(out, 'curves.png')}")
    return 0


def _resume(trainer, args, steps_per_epoch):
    """Load ``--resume`` into ``trainer`` and say what happens to the schedule and the epochs."""
    from .train import default_lr, resume_scheduler

    trainer.load_checkpoint(args.resume)
    planned, done = trainer.planned_epochs, trainer.epoch
    _say(f"resumed from {args.resume} at epoch {done}")
    if trainer.stopped_early:
        _say(f"note: that run stopped early at epoch {done}; there is nothing more to train")
    elif done >= args.epochs:
        _say(f"note: that run has already trained {done} epochs (--epochs {args.epochs}); nothing more to train")
    elif planned is not None and planned != args.epochs and args.scheduler not in ("none", "plateau"):
        base = args.lr if args.lr is not None else default_lr(args.optimizer)
        trainer.scheduler, trainer.scheduler_interval = resume_scheduler(
            args.scheduler, trainer.optimizer, args.epochs, done, base, steps_per_epoch=steps_per_epoch
        )
        lr = trainer.optimizer.param_groups[0]["lr"]
        _say(
            f"note: that run was planned for {planned} epochs; the {args.scheduler} schedule is rebuilt for "
            f"{args.epochs} epochs and goes on from epoch {done + 1} at lr {lr:.3g}, as a straight "
            f"{args.epochs}-epoch run would"
        )
    trainer.planned_epochs = args.epochs


def cmd_lr_find(args):
    from .optim.lr_finder import lr_finder

    if args.plot:
        require("matplotlib", "--plot", "plot")
    if args.start_lr >= args.end_lr:
        raise UserError(f"--start-lr {args.start_lr:g} must be below --end-lr {args.end_lr:g}")
    if args.num_iter < 5:
        raise UserError(f"--num-iter must be at least 5, got {args.num_iter}")
    model, opt, train_loader, _, _, loss_fn = _build_training(args)
    result = lr_finder(
        model, opt, train_loader, loss_fn=loss_fn, start_lr=args.start_lr, end_lr=args.end_lr, num_iter=args.num_iter
    )
    print(f"{'lr':>12} {'loss':>10} {'smoothed':>10}")
    for i in range(0, len(result.lrs), max(1, len(result.lrs) // 20)):
        print(f"{result.lrs[i]:12.3e} {result.losses[i]:10.4f} {result.smoothed[i]:10.4f}")
    if result.diverged:
        print(f"the loss diverged at lr {result.lrs[-1]:.3e}")
    if result.suggestion is None:
        print(f"no suggestion: {result.note}")
    else:
        print(f"lowest smoothed loss at lr {result.min_loss_lr:.3e}")
        print(f"suggested learning rate {result.suggestion:.3e} (a tenth of the rate at the lowest smoothed loss)")
        if result.note:
            print(f"note: {result.note}")
    if args.plot:
        result.plot(args.plot)
        print(f"plot: {args.plot}")
    return 0


def _describe_os_error(e):
    """One line for an OSError: what failed and on which file, without the Python repr."""
    code = e.errno if e.errno is not None else (e.args[0] if len(e.args) == 1 and isinstance(e.args[0], int) else None)
    reason = e.strerror or (os.strerror(code) if code is not None else str(e))
    if code == errno.ENOSPC:
        reason += " (the disk is full)"
    if e.filename is not None:
        reason = f"{e.filename}: {reason}"
    return reason


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args) or 0
    except UserError as e:
        print(f"deepnotes {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # files, folders, disks: the environment, not a bug
        print(f"deepnotes {args.command}: error: {_describe_os_error(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
