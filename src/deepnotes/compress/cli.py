"""``deepnotes compress prune|quantize|distill CHECKPOINT``: compress a model trained by ``deepnotes train``.

The checkpoint (``checkpoint.safetensors``, or the weights-only ``model.safetensors``) holds the weights
but not the recipe, so the model and the data set are named again with ``--model``/``--dataset`` (the
defaults of ``deepnotes train``) and rebuilt as ``train`` built them.  Each command prints, before and
after compression: the test accuracy, the size on disk of the weights (safetensors, and gzip -9 of that
file, where unstructured zeros pay off) and the forward latency (median, batch 1 and a full batch), then
writes the result to ``--out``:

    deepnotes compress prune runs/train/checkpoint.safetensors --amount 0.8 --steps 4
    deepnotes compress quantize runs/train/checkpoint.safetensors
    deepnotes compress distill runs/train/checkpoint.safetensors --student mlp:32 --epochs 10
"""

from __future__ import annotations

import gzip
import json
import os
import time

import numpy as np

from .. import io
from ..errors import FileFormatError, OptionError, UserError

__all__ = ["register"]

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")


def _positive_int(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise _arg_error(f"{name} must be an integer, got {text!r}") from None
        if value <= 0:
            raise _arg_error(f"{name} must be positive, got {value}")
        return value

    return parse


def _number(name, low, high, low_open=False, high_open=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise _arg_error(f"{name} must be a number, got {text!r}") from None
        bad_low = value <= low if low_open else value < low
        bad_high = value >= high if high_open else value > high
        if bad_low or bad_high:
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            raise _arg_error(f"{name} must be in {lo}{low:g}, {high:g}{hi}, got {value:g}")
        return value

    return parse


def _arg_error(message):
    import argparse

    return argparse.ArgumentTypeError(message)


def register(sub):
    """Add ``compress`` with its ``prune``, ``quantize`` and ``distill`` actions to the subparsers
    ``sub`` of the ``deepnotes`` command."""
    c = sub.add_parser(
        "compress",
        help="prune, quantise (int8) or distil a model trained by 'deepnotes train'",
        description="Compress a model from a 'deepnotes train' checkpoint and print test accuracy, size on "
        "disk and latency before and after.",
    )
    actions = c.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    p = actions.add_parser(
        "prune",
        help="magnitude pruning in steps, each followed by fine-tuning",
        description="Prune the Linear/Conv2d weights to --amount sparsity in --steps steps (geometric "
        "schedule), fine-tuning --fine-tune-epochs after each; the masks are folded into the weights.",
    )
    _common(p)
    p.add_argument(
        "--amount", type=_number("--amount", 0, 1, high_open=True), default=0.5, help="final sparsity (default 0.5)"
    )
    p.add_argument(
        "--method",
        choices=("global", "layer", "structured"),
        default="global",
        help="global: one magnitude threshold over all layers (default); layer: the same fraction in "
        "each; structured: whole output channels/rows of smallest L2 norm",
    )
    p.add_argument("--steps", type=_positive_int("--steps"), default=3, help="pruning steps (default 3)")
    p.add_argument(
        "--fine-tune-epochs",
        type=_nonneg_int("--fine-tune-epochs"),
        default=1,
        metavar="E",
        help="epochs of fine-tuning after each step (default 1; 0 for none)",
    )
    _training_args(p, lr=1e-3)
    p.set_defaults(func=cmd_prune, out_default="runs/compress/prune")

    q = actions.add_parser(
        "quantize",
        help="post-training static int8 quantisation (integer GEMMs)",
        description="Calibrate activation ranges on training batches, quantise every Linear/Conv2d to "
        "int8 (per-channel weights) and write the int8 weights as safetensors.",
    )
    _common(q)
    q.add_argument(
        "--calibration-batches",
        type=_positive_int("--calibration-batches"),
        default=8,
        metavar="N",
        help="training batches of --batch-size images seen by the observers (default 8)",
    )
    q.add_argument(
        "--backend",
        choices=("blas", "integer"),
        default="blas",
        help="how the exact int32 accumulation runs: blas (floating BLAS on the integers, exact by a "
        "magnitude bound; default) or integer (NumPy integer matmul, much slower)",
    )
    q.add_argument("--train-size", type=_positive_int("--train-size"), default=None, metavar="N")
    q.set_defaults(func=cmd_quantize, out_default="runs/compress/quantize")

    d = actions.add_parser(
        "distill",
        help="train a small student on the checkpoint's soft targets",
        description="Train --student on the teacher's (the checkpoint's) soft targets at --temperature "
        "mixed with the labels by --alpha (Hinton et al., 2015).",
    )
    _common(d)
    d.add_argument(
        "--student",
        default="mlp:32",
        help="the student: mlp:H (a one-hidden-layer MLP with H units; default mlp:32) or a model name "
        "that takes the teacher's input",
    )
    d.add_argument("--epochs", type=_positive_int("--epochs"), default=10, help="epochs (default 10)")
    d.add_argument("--temperature", type=_number("--temperature", 0, 1e6, low_open=True), default=4.0, help="default 4")
    d.add_argument(
        "--alpha", type=_number("--alpha", 0, 1), default=0.9, help="weight of the soft targets (default 0.9)"
    )
    d.add_argument(
        "--compare-alone",
        action="store_true",
        help="also train the same student on the labels alone (same seed) and print its accuracy",
    )
    _training_args(d, lr=2e-3)
    d.set_defaults(func=cmd_distill, out_default="runs/compress/distill")
    return c


def _nonneg_int(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise _arg_error(f"{name} must be an integer, got {text!r}") from None
        if value < 0:
            raise _arg_error(f"{name} must be >= 0, got {value}")
        return value

    return parse


def _common(p):
    from ..threads import CLI_DEFAULT_THREADS

    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint.safetensors or model.safetensors of 'train'")
    p.add_argument(
        "--model", default="lenet5", help="the architecture the checkpoint was trained with (default lenet5)"
    )
    p.add_argument("--dataset", default="digits", choices=DATASETS, help="its data set (default digits)")
    p.add_argument("--data", default=None, metavar="DIR", help="folder of a local data set (not digits)")
    p.add_argument("--image-size", type=_positive_int("--image-size"), default=None, metavar="S")
    p.add_argument("--test-size", type=_positive_int("--test-size"), default=None, metavar="N")
    p.add_argument("--batch-size", type=_positive_int("--batch-size"), default=64, help="batch size (default 64)")
    p.add_argument(
        "--repeats",
        type=_positive_int("--repeats"),
        default=20,
        help="timed forward passes per latency figure (median; default 20)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--threads",
        type=_positive_int("--threads"),
        default=CLI_DEFAULT_THREADS,
        metavar="N",
        help=f"BLAS threads (default {CLI_DEFAULT_THREADS})",
    )
    p.add_argument("--out", default=None, help="output folder (default runs/compress/ACTION)")


def _training_args(p, lr):
    p.add_argument(
        "--lr", type=_number("--lr", 0, 1e3, low_open=True), default=lr, help=f"Adam's rate (default {lr:g})"
    )
    p.add_argument("--train-size", type=_positive_int("--train-size"), default=None, metavar="N")


# ------------------------------------------------------------------ shared steps
class _Run:
    """The rebuilt model, its data and the output folder."""

    def __init__(self, args):
        from .. import manual_seed, set_num_threads
        from ..data import DataLoader, Subset
        from ..train.adapt import IncompatibleInput, prepare_image_classification

        set_num_threads(args.threads)
        manual_seed(args.seed)
        if args.dataset == "digits" and args.data:
            raise UserError("--data is not used with the bundled digits")
        if args.dataset != "digits" and not args.data:
            raise UserError(f"--dataset {args.dataset} needs --data DIR (nothing is downloaded)")
        try:
            run = prepare_image_classification(args.model, args.dataset, args.data, image_size=args.image_size)
        except IncompatibleInput as e:
            raise UserError(str(e)) from None
        except ValueError as e:
            raise UserError(str(e)) from e
        self.model, self.loss_fn, self.input_shape = run.model, run.loss_fn, run.input_shape
        _load_into(self.model, args.checkpoint, args.model)
        self.model.eval()

        def first(ds, n):
            return ds if n is None or n >= len(ds) else Subset(ds, range(n))

        self.train_set = first(run.train_set, getattr(args, "train_size", None))
        self.test_set = first(run.test_set, args.test_size)
        self.train_loader = DataLoader(self.train_set, batch_size=args.batch_size, shuffle=True)
        self.test_loader = DataLoader(self.test_set, batch_size=256)
        self.out = args.out or args.out_default
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise UserError(f"--out {self.out} is a file; expected a folder")
        os.makedirs(self.out, exist_ok=True)
        x = next(iter(DataLoader(self.test_set, batch_size=args.batch_size)))[0]
        self.sample = np.asarray(x.data if hasattr(x, "data") else x)
        self.repeats = args.repeats


def _load_into(model, path, name):
    """Load a training checkpoint (its ``model`` entry) or a weights file into ``model``."""
    from ..nn import StateDictError

    if not os.path.isfile(path):
        raise UserError(f"CHECKPOINT {path}: no such file")
    try:
        ckpt = io.load_checkpoint(path)
    except FileFormatError:
        state = io.load_weights(path)  # model.safetensors: plain weights (raises a clear error if corrupt)
    else:
        if not isinstance(ckpt, dict) or "model" not in ckpt:
            raise FileFormatError(f"CHECKPOINT {path}: a deepnotes checkpoint without a 'model' entry")
        saved = ckpt.get("model_class")
        if saved is not None and saved != type(model).__name__:
            raise UserError(
                f"CHECKPOINT {path} holds a {saved} model, but --model {name} builds a {type(model).__name__}; "
                "pass the --model it was trained with"
            )
        state = ckpt["model"]
    try:
        model.load_state_dict(state)
    except StateDictError as e:
        lines = [ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()]
        raise UserError(
            f"CHECKPOINT {path} does not fit --model {name}: {'; '.join(lines)[:300]} "
            "(pass the --model/--dataset/--image-size it was trained with)"
        ) from None


def _accuracy(model, loader):
    from ..autograd import no_grad

    model.eval()
    right = total = 0
    with no_grad():
        for x, y in loader:
            pred = model(x).data.argmax(axis=1)
            y = np.asarray(y.data if hasattr(y, "data") else y)
            right += int((pred == y).sum())
            total += len(y)
    return right / total


def _latency_ms(model, x, repeats):
    """Median wall time of ``repeats`` forward passes on ``x`` (after two warm-up passes), in ms."""
    from ..autograd import no_grad
    from ..tensor import tensor

    model.eval()
    xt = tensor(x)
    times = []
    with no_grad():
        for i in range(repeats + 2):
            start = time.perf_counter()
            model(xt)
            if i >= 2:
                times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def _measure(model, run, path, write=None):
    """Accuracy, latency and the size of the weights file ``path`` (written by ``write(path)``, by
    default ``save_weights`` of the state dict): bytes on disk and after gzip -9."""
    (write or (lambda where: io.save_weights(model.state_dict(), where)))(path)
    with open(path, "rb") as f:
        raw = f.read()
    return {
        "accuracy": _accuracy(model, run.test_loader),
        "size_bytes": len(raw),
        "gzip_bytes": len(gzip.compress(raw, 9)),
        "latency_ms_batch1": _latency_ms(model, run.sample[:1], run.repeats),
        f"latency_ms_batch{len(run.sample)}": _latency_ms(model, run.sample, run.repeats),
    }


def _baseline(run):
    """The float model's figures; its weights are written to a temporary file to measure the size."""
    tmp = os.path.join(run.out, ".float-weights.safetensors")
    try:
        return _measure(run.model, run, tmp)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _kb(n):
    return f"{n / 1024:.1f} KB"


def _report(title, before, after, labels=("before", "after")):
    rows = [("test accuracy", f"{before['accuracy']:.4f}", f"{after['accuracy']:.4f}", "")]
    for key, name in (("size_bytes", "size on disk"), ("gzip_bytes", "size, gzip -9")):
        rows.append((name, _kb(before[key]), _kb(after[key]), f"x{after[key] / before[key]:.3f}"))
    for key in before:
        if key.startswith("latency_ms_batch"):
            n = key[len("latency_ms_batch") :]
            rows.append(
                (
                    f"latency, batch {n}",
                    f"{before[key]:.3f} ms",
                    f"{after[key]:.3f} ms",
                    f"x{after[key] / before[key]:.3f}",
                )
            )
    header = ("", *labels, "ratio")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    print(title)
    for r in [header, *rows]:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))))


def _write_results(run, action, args, before, after, extra=None):
    record = {"action": action, "checkpoint": args.checkpoint, "model": args.model, "dataset": args.dataset}
    record |= {"before": before, "after": after} | (extra or {})
    io.atomic_write_bytes(os.path.join(run.out, "results.json"), json.dumps(record, indent=1).encode())


def _fit(model, run, epochs, lr, step_loss=None):
    """``epochs`` of Adam on the training loader with the run's loss (or ``step_loss(x, y)``)."""
    from ..optim import Adam
    from ..tensor import Tensor, tensor

    params = [p for p in model.parameters() if p.requires_grad]
    opt = Adam(params, lr=lr)
    for _ in range(epochs):
        model.train()
        for x, y in run.train_loader:
            x = x if isinstance(x, Tensor) else tensor(x)
            y = y if isinstance(y, Tensor) else tensor(y)
            loss = step_loss(x, y) if step_loss is not None else run.loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


# ------------------------------------------------------------------ actions
def cmd_prune(args):
    from ..autograd import no_grad
    from ..tensor import tensor
    from . import prune
    from .iterative_pruning import geometric_schedule, iterative_magnitude_pruning, prunable_parameters, sparsity_table

    run = _Run(args)
    before = _baseline(run)
    model = run.model
    layers = prunable_parameters(model)
    if not layers:
        raise OptionError(f"--model {args.model} has no Linear or Conv2d weight to prune")
    note = ""
    if args.method == "structured":
        # removing whole rows of the layer that produces the logits would remove classes: keep it whole
        with no_grad():
            n_out = int(model(tensor(run.sample[:1])).shape[-1])
        last, name = layers[-1]
        if getattr(last, name).shape[0] == n_out and len(layers) > 1:
            layers = layers[:-1]
            note = f"; the output layer keeps its {n_out} outputs"
    amounts = geometric_schedule(args.amount, args.steps)
    print(
        f"pruning {args.model} ({args.method}) to sparsity {args.amount:g} in {args.steps} step(s)"
        + (f", {args.fine_tune_epochs} fine-tuning epoch(s) after each" if args.fine_tune_epochs else "")
        + note
    )

    def fine_tune(m, step):
        if args.fine_tune_epochs:
            _fit(m, run, args.fine_tune_epochs, args.lr)

    history = iterative_magnitude_pruning(
        model,
        fine_tune,
        amounts,
        parameters=layers,
        scope=args.method,
        evaluate=lambda m: _accuracy(m, run.test_loader),
    )
    for h in history:
        print(f"  step {h.step + 1}: sparsity {h.sparsity:.4f} (target {h.target:.4f}), test accuracy {h.metric:.4f}")
    table = sparsity_table(model)
    for m, name in prunable_parameters(model):  # fold the masks in: plain weights with zeros
        if name + "_orig" in m._parameters:
            prune.remove(m, name)
    path = os.path.join(run.out, "model.safetensors")
    after = _measure(model, run, path)
    print(table)
    _report(
        "pruned model (dense safetensors: zeros still take their bytes; gzip shows what they would save)", before, after
    )
    print(f"weights: {path}")
    _write_results(
        run,
        "prune",
        args,
        before,
        after,
        {"method": args.method, "steps": [h.__dict__ for h in history]},
    )
    return 0


def cmd_quantize(args):
    from .post_training import get_default_qconfig, quantize, save_quantized

    run = _Run(args)
    before = _baseline(run)
    try:
        qmodel = quantize(
            run.model,
            run.train_loader,
            num_batches=args.calibration_batches,
            qconfig=get_default_qconfig(),
            backend=args.backend,
        )
    except ValueError as e:
        raise OptionError(f"--model {args.model}: {e}") from None
    n = sum(type(m).__name__.startswith("Quantized") for m in qmodel.modules())
    print(
        f"quantised {n} layer(s) of {args.model} to int8 (per-channel weights, {args.backend} backend), "
        f"calibrated on {min(args.calibration_batches, len(run.train_loader))} batch(es)"
    )
    path = os.path.join(run.out, "model_int8.safetensors")
    after = _measure(qmodel, run, path, lambda where: save_quantized(qmodel, where))
    _report("int8 model", before, after)
    print(f"int8 weights: {path}")
    _write_results(run, "quantize", args, before, after, {"backend": args.backend, "quantized_layers": n})
    return 0


def _student(spec, run, args):
    from .. import manual_seed, nn
    from ..autograd import no_grad
    from ..tensor import tensor
    from ..train.adapt import prepare_image_classification

    manual_seed(args.seed)
    if spec.startswith("mlp:"):
        try:
            hidden = int(spec[4:])
        except ValueError:
            hidden = 0
        if hidden <= 0:
            raise OptionError(f"--student {spec}: expected mlp:H with a positive number of hidden units H")
        n_in = int(np.prod(run.input_shape))
        with no_grad():
            n_out = int(run.model(tensor(run.sample[:1])).shape[-1])
        return nn.Sequential(nn.Flatten(), nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))
    try:
        built = prepare_image_classification(spec, args.dataset, args.data, image_size=args.image_size)
    except ValueError as e:
        raise OptionError(f"--student {spec}: {e}") from None
    if built.input_shape != run.input_shape:
        raise OptionError(
            f"--student {spec} takes {built.input_shape} inputs, the teacher {run.input_shape}; "
            "pick a student that reads the same images (or mlp:H)"
        )
    return built.model


def cmd_distill(args):
    from .distillation import distillation_loss

    run = _Run(args)
    before = _baseline(run)
    teacher = run.model
    student = _student(args.student, run, args)
    if args.compare_alone:
        alone = _student(args.student, run, args)  # same seed: the same initial weights
    from ..autograd import no_grad

    def step_loss(x, y):
        with no_grad():
            z_t = teacher(x)
        return distillation_loss(student(x), z_t, y, args.temperature, args.alpha)

    print(
        f"distilling {args.model} into {args.student} for {args.epochs} epoch(s), T={args.temperature:g}, "
        f"alpha={args.alpha:g}"
    )
    _fit(student, run, args.epochs, args.lr, step_loss)
    path = os.path.join(run.out, "student.safetensors")
    after = _measure(student, run, path)
    extra = {"student": args.student, "temperature": args.temperature, "alpha": args.alpha, "epochs": args.epochs}
    _report(f"student {args.student} (before: the teacher {args.model})", before, after, ("teacher", "student"))
    if args.compare_alone:
        _fit(alone, run, args.epochs, args.lr)
        extra["accuracy_alone"] = _accuracy(alone, run.test_loader)
        print(f"the same student trained on the labels alone: test accuracy {extra['accuracy_alone']:.4f}")
    print(f"student weights: {path}")
    _write_results(run, "distill", args, before, after, extra)
    return 0
