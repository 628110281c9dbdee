"""The training flow of seed 001 as a reusable loop.

Per epoch: for each batch, forward, loss, backward, optimizer step; then the scheduler steps once.
After each epoch the model is scored on the validation loader and a checkpoint may be written.  The
same flow written by hand is a dozen lines (see the README); ``Trainer`` adds progress bars, history,
checkpoint save/resume and exact reproducibility under ``deepnotes.manual_seed``.

Model selection (early stopping, ReduceLROnPlateau, the best weights) only ever sees the validation
loader; the test loader is scored once, by :meth:`Trainer.test`, after training.
"""

import contextlib
import math

import numpy as np

from .. import io
from ..autograd import no_grad
from ..errors import UserError, require
from ..nn import functional as F
from ..optim.lr_scheduler import ReduceLROnPlateau
from ..random import default_generator
from ..tensor import Tensor

CHECKPOINT_VERSION = 1


class NonFiniteLossError(UserError, FloatingPointError):
    """The loss, the gradients or the weights stopped being finite numbers (NaN or infinity).

    ``epoch`` and ``batch`` (1-based) say where; ``batch`` is None when the weights were found
    non-finite at the end of an epoch.
    """

    def __init__(self, message, epoch=None, batch=None):
        super().__init__(message)
        self.epoch, self.batch = epoch, batch


class CheckpointMismatchError(UserError, ValueError):
    """A checkpoint that does not fit this Trainer (another model, or entries missing)."""


def _progress(iterable, enabled, **kwargs):
    """tqdm bar over ``iterable``: ``enabled`` True/False forces it on/off, None shows it only when
    stderr is a terminal (so redirected logs get no carriage-return updates)."""
    if enabled is False:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, leave=False, dynamic_ncols=True, disable=None if enabled is None else False, **kwargs)


def _all_finite(arrays):
    return all(np.isfinite(a).all() for a in arrays)


def _accuracy_counts(logits, target):
    """Correct predictions and samples in a batch.  Soft targets (class probabilities of the logits' shape,
    from MixUp, CutMix or label smoothing) count a prediction as correct when it is their argmax, as
    torchvision's classification reference scripts do."""
    pred = logits.data.argmax(axis=1)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind == "f" and t.ndim >= 2 and t.shape == logits.shape:
        t = t.argmax(axis=1)
    return int((pred == t).sum()), int(t.shape[0])


class Trainer:
    """Train ``model`` with ``optimizer`` on ``train_loader``.

    Parameters
    ----------
    loss_fn: callable(output, target) -> scalar Tensor (default: cross entropy on logits).
    scheduler: a learning-rate schedule; ``scheduler_interval`` says whether it steps once per epoch
        (default) or after every optimizer step.  ReduceLROnPlateau is stepped with the validation loss.
    accumulation_steps: add the gradients of this many batches before each optimizer step (the loss of
        each batch is divided by it, so the step sees the mean over the larger effective batch).
    clip_grad_norm / clip_grad_value: clip gradients before each step (torch.nn.utils semantics).
    early_stopping: an :class:`EarlyStopping`, checked after every epoch.
    amp: mixed precision: forward under ``deepnotes.amp.autocast`` (float16 matmul/conv with float32
        master weights) and a dynamic ``GradScaler`` (pass ``scaler=`` to configure it).
    checkpoint_path: write a checkpoint (model, optimizer, scheduler, scaler, epoch, history and the
        random-generator state) atomically after every epoch.
    history_path: also write the history after every epoch, as JSON or CSV by the file suffix (a
        path or a list of paths).  The checkpoint is written first and the history second, both
        atomically, so after a crash the history is never ahead of the checkpoint; resuming rewrites
        the history files from the checkpoint.
    plot_path: draw loss and accuracy curves to this PNG at the end of ``fit`` (needs matplotlib,
        checked here, before any training).
    progress: show tqdm progress bars: True, False, or None (default) for "only when stderr is a
        terminal".
    test_loader: the held-out test set, scored once by :meth:`test`; never used while training.
    batch_transform: ``callable(inputs, target) -> (inputs, target)`` applied to every training batch
        before the forward pass (never to validation or test batches), e.g. ``MixUp`` or ``CutMix`` from
        ``deepnotes.data.transforms.batch``.  Their soft targets (class probabilities) train with the
        default cross entropy; the training accuracy then counts a prediction as correct when it is the
        argmax of the soft target (the class with the larger share), as torchvision's reference scripts do.
    nonfinite: what to do when a batch's loss or gradients are NaN/inf: ``'raise'`` (default) raises
        :class:`NonFiniteLossError` naming the epoch and batch, before anything is saved; ``'skip'``
        drops that optimizer step (the schedule still advances), counts it in the epoch record
        (``skipped_steps``) and raises only after ``max_consecutive_skips`` bad steps in a row.
        Weights that are not finite at the end of an epoch always raise, so a checkpoint never holds
        them.
    """

    def __init__(
        self,
        model,
        optimizer,
        train_loader,
        val_loader=None,
        loss_fn=None,
        scheduler=None,
        scheduler_interval="epoch",
        accumulation_steps=1,
        clip_grad_norm=None,
        clip_grad_value=None,
        early_stopping=None,
        amp=False,
        scaler=None,
        checkpoint_path=None,
        history_path=None,
        plot_path=None,
        progress=None,
        log=print,
        test_loader=None,
        nonfinite="raise",
        max_consecutive_skips=10,
        batch_transform=None,
    ):
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if int(accumulation_steps) < 1:
            raise ValueError(f"Trainer: accumulation_steps must be >= 1, got {accumulation_steps}")
        if nonfinite not in ("raise", "skip"):
            raise ValueError(f"Trainer: nonfinite must be 'raise' or 'skip', got {nonfinite!r}")
        if int(max_consecutive_skips) < 1:
            raise ValueError(f"Trainer: max_consecutive_skips must be >= 1, got {max_consecutive_skips}")
        if plot_path is not None:
            require("matplotlib", "Trainer(plot_path=...)", "plot")
        if batch_transform is not None and not callable(batch_transform):
            raise TypeError(
                f"Trainer: batch_transform must be callable(inputs, target) -> (inputs, target), "
                f"got {type(batch_transform).__name__}"
            )
        self.batch_transform = batch_transform
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.scheduler_interval = scheduler_interval
        self.train_loader, self.val_loader, self.test_loader = train_loader, val_loader, test_loader
        self.nonfinite, self.max_consecutive_skips = nonfinite, int(max_consecutive_skips)
        self.loss_fn = loss_fn or F.cross_entropy
        self.accumulation_steps = int(accumulation_steps)
        self.clip_grad_norm, self.clip_grad_value = clip_grad_norm, clip_grad_value
        self.early_stopping = early_stopping
        self.amp = bool(amp)
        if self.amp and scaler is None:
            from ..amp import GradScaler

            scaler = GradScaler()
        self.scaler = scaler
        self.checkpoint_path, self.history_path, self.plot_path = checkpoint_path, history_path, plot_path
        self.progress = progress
        self.log = log or (lambda *a, **k: None)
        self.epoch = 0
        self.history = []
        self.stopped_early = False
        self.planned_epochs = None  # the ``epochs`` of the first fit (saved in checkpoints)
        self.skipped_steps = 0
        self._consecutive_skips = 0
        # data-parallel runs (under deepnotes.distributed): every rank trains, rank 0 alone writes
        from .. import distributed as dist

        self._world = dist.get_world_size() if dist.is_initialized() else 1
        self._is_main = self._world == 1 or dist.get_rank() == 0
        if not self._is_main:
            self.log, self.progress = (lambda *a, **k: None), False

    @property
    def _net(self):
        """The model whose weights are checkpointed: the wrapped module under DistributedDataParallel, so
        a checkpoint written by N ranks loads into M ranks or into one process."""
        from ..nn.parallel import DistributedDataParallel

        return self.model.module if isinstance(self.model, DistributedDataParallel) else self.model

    def _sum_over_ranks(self, *values):
        """``values`` summed over the ranks (unchanged in a single process), so every rank logs and
        decides (schedules, early stopping) on the same figures."""
        if self._world == 1:
            return values
        from .. import distributed as dist

        buf = np.array(values, dtype=np.float64)
        dist.all_reduce(buf)
        return tuple(buf.tolist())

    # ------------------------------------------------------------------ one epoch
    def _forward(self, inputs):
        if self.amp:
            from ..amp import autocast

            with autocast():
                return self.model(inputs)
        return self.model(inputs)

    def _params(self):
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def _bad_step(self, reason, batch, n_batches):
        """Apply the non-finite policy to an optimizer step whose loss or gradients are not finite."""
        where = f"epoch {self.epoch + 1}, batch {batch}" + (f" of {n_batches}" if n_batches else "")
        if self.nonfinite == "raise":
            raise NonFiniteLossError(
                f"Trainer: {reason} at {where}; training stopped before the optimizer "
                "step, nothing from this epoch was saved",
                self.epoch + 1,
                batch,
            )
        self.skipped_steps += 1
        self._consecutive_skips += 1
        if self._consecutive_skips >= self.max_consecutive_skips:
            raise NonFiniteLossError(
                f"Trainer: {self._consecutive_skips} optimizer steps in a row had "
                f"{reason}, the last at {where}; giving up",
                self.epoch + 1,
                batch,
            )
        self.optimizer.zero_grad()
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()

    def _optimizer_step(self, bad=None, batch=None, n_batches=None):
        from ..nn.utils import clip_grad_norm_, clip_grad_value_

        params = self._params()
        if bad is None and self.scaler is None and not _all_finite(p.grad.data for p in params if p.grad is not None):
            bad = "non-finite gradients"  # with a GradScaler, skipping such steps is the scaler's job
        if self._world > 1 and self._sum_over_ranks(float(bad is not None))[0] and bad is None:
            bad = "a non-finite loss on another rank"  # all ranks skip together, or none does
        if bad is not None:
            return self._bad_step(bad, batch, n_batches)
        self._consecutive_skips = 0
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if self.clip_grad_norm is not None:
            clip_grad_norm_(params, self.clip_grad_norm)
        if self.clip_grad_value is not None:
            clip_grad_value_(params, self.clip_grad_value)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad()
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()

    def train_one_epoch(self):
        self.model.train()
        total_loss, correct, seen = 0.0, 0, 0
        k = self.accumulation_steps
        n_batches = len(self.train_loader) if hasattr(self.train_loader, "__len__") else None
        # one iterator for the epoch, made here: tqdm.auto's bar calls iter() on what it wraps when it is
        # built and again when iterated, and every DataLoader iterator draws a seed (and a shuffle) from
        # the random generator, so wrapping the loader itself would make results depend on the bar
        sampler = getattr(self.train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):  # DistributedSampler: a new order each epoch, as in torch
            sampler.set_epoch(self.epoch)
        no_sync = getattr(self.model, "no_sync", None)
        batches = iter(self.train_loader)
        bar = _progress(batches, self.progress, desc=f"epoch {self.epoch + 1}", total=n_batches)
        self.optimizer.zero_grad()
        pending, bad, i = 0, None, -1
        skipped_before = self.skipped_steps
        for i, (inputs, target) in enumerate(bar):
            if self.batch_transform is not None:
                inputs, target = self.batch_transform(inputs, target)
            # accumulating micro-batches under DistributedDataParallel reduce only at the step's last
            local = no_sync is not None and pending + 1 < k and not (n_batches is not None and i + 1 == n_batches)
            with no_sync() if local else contextlib.nullcontext():
                output = self._forward(inputs)
                loss = self.loss_fn(output.float() if self.amp else output, target)
                value = loss.item()
                if math.isfinite(value):
                    scaled = loss / k if k > 1 else loss
                    if self.scaler is not None:
                        scaled = self.scaler.scale(scaled)
                    scaled.backward()
            if math.isfinite(value):
                n = output.shape[0]
                total_loss += value * n
                c, _ = _accuracy_counts(output, target)
                correct += c
                seen += n
            elif bad is None:
                bad = f"a non-finite loss ({value})"
            pending += 1
            if pending == k or (n_batches is not None and i + 1 == n_batches):
                self._optimizer_step(bad, i + 1, n_batches)
                pending, bad = 0, None
            if self.progress is not False:
                bar.set_postfix(loss=f"{value:.4f}")
        if pending:
            self._optimizer_step(bad, i + 1, n_batches)
        self._last_epoch_skips = self.skipped_steps - skipped_before
        total_loss, correct, seen = self._sum_over_ranks(total_loss, correct, seen)
        return total_loss / max(seen, 1), correct / max(seen, 1)

    @no_grad()
    def evaluate(self, loader=None):
        """Mean loss and accuracy of the model in evaluation mode over ``loader`` (default: validation)."""
        loader = loader if loader is not None else self.val_loader
        if loader is None:
            raise ValueError("Trainer.evaluate: no loader given and no val_loader set")
        self.model.eval()
        total_loss, correct, seen = 0.0, 0, 0
        for inputs, target in loader:
            output = self.model(inputs)
            n = output.shape[0]
            total_loss += self.loss_fn(output, target).item() * n
            c, _ = _accuracy_counts(output, target)
            correct += c
            seen += n
        total_loss, correct, seen = self._sum_over_ranks(total_loss, correct, seen)
        return total_loss / max(seen, 1), correct / max(seen, 1)

    def test(self, loader=None):
        """Score the model once on the test set (``loader`` or ``test_loader``): (loss, accuracy), also
        kept as ``self.test_result``.  Call it after training; nothing in ``fit`` looks at it."""
        loader = loader if loader is not None else self.test_loader
        if loader is None:
            raise ValueError("Trainer.test: no loader given and no test_loader set")
        loss, acc = self.evaluate(loader)
        self.test_result = {"test_loss": loss, "test_acc": acc}
        return loss, acc

    def fit(self, epochs):
        """Train until ``epochs`` epochs in total have run (a resumed run continues where it stopped),
        or until early stopping says so."""
        if epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be >= 0, got {epochs}")
        if self.planned_epochs is None:
            self.planned_epochs = int(epochs)
        while self.epoch < epochs and not self.stopped_early:
            lr = float(self.optimizer.param_groups[0]["lr"])
            train_loss, train_acc = self.train_one_epoch()
            if not _all_finite(v.data for v in self.model.state_dict().values()):
                raise NonFiniteLossError(
                    f"Trainer: the weights are not finite after epoch {self.epoch + 1} "
                    "(an update overflowed); this epoch was not saved",
                    self.epoch + 1,
                )
            record = {"epoch": self.epoch + 1, "train_loss": train_loss, "train_acc": train_acc, "lr": lr}
            if self.nonfinite == "skip":
                record["skipped_steps"] = self._last_epoch_skips
            if self.val_loader is not None:
                record["val_loss"], record["val_acc"] = self.evaluate()
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                if _is_plateau(self.scheduler):
                    self.scheduler.step(record.get("val_loss", train_loss))
                else:
                    self.scheduler.step()
            self.epoch += 1
            self.history.append(record)
            self.log(_format_record(record))
            if self.early_stopping is not None and self.early_stopping.step(record, self.model):
                self.stopped_early = True
                es = self.early_stopping
                self.log(
                    f"early stopping: {es.monitor} has not improved for {es.bad_epochs} epochs "
                    f"(best {es.best:.4f} at epoch {es.best_epoch})"
                )
                if es.restore_best_weights and es.best_state is not None:
                    self.model.load_state_dict(es.best_state)
            # checkpoint first, history second: a crash in between leaves the history one epoch
            # behind the checkpoint, never ahead, and resuming rewrites it from the checkpoint
            if self.checkpoint_path and self._is_main:
                self.save_checkpoint(self.checkpoint_path)
            self._write_history_files()
        if self.plot_path and self._is_main:
            plot_history(self.history, self.plot_path)
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self):
        return {
            "version": CHECKPOINT_VERSION,
            "epoch": self.epoch,
            "model": dict(self._net.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "early_stopping": self.early_stopping.state_dict() if self.early_stopping is not None else None,
            "stopped_early": self.stopped_early,
            "history": self.history,
            "rng": _generator_state(),
            "planned_epochs": self.planned_epochs,
            "skipped_steps": self.skipped_steps,
            "model_class": type(self._net).__name__,
            "optimizer_class": type(self.optimizer).__name__,
            "scheduler_class": type(self.scheduler).__name__ if self.scheduler is not None else None,
        }

    def _write_history_files(self):
        paths = self.history_path
        if not paths or not self._is_main:
            return
        for path in [paths] if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__") else paths:
            write_history(self.history, path)

    def load_state_dict(self, state):
        if state.get("version") != CHECKPOINT_VERSION:
            raise CheckpointMismatchError(
                f"Trainer: checkpoint version {state.get('version')!r} is not supported (expected {CHECKPOINT_VERSION})"
            )
        missing = [k for k in ("model", "optimizer", "epoch", "history", "rng") if k not in state]
        if missing:
            raise CheckpointMismatchError(
                f"Trainer: the checkpoint has no {', '.join(map(repr, missing))} "
                "entr"
                + ("y" if len(missing) == 1 else "ies")
                + " (is it a weights-only file? those load with load_weights)"
            )
        saved_class, this_class = state.get("model_class"), type(self._net).__name__
        if saved_class is not None and saved_class != this_class:
            raise CheckpointMismatchError(
                f"Trainer: the checkpoint holds a {saved_class} model, but this Trainer trains a {this_class}"
            )
        for what, obj in (("optimizer", self.optimizer), ("scheduler", self.scheduler)):
            saved = state.get(f"{what}_class")
            if saved is not None and obj is not None and saved != type(obj).__name__:
                raise CheckpointMismatchError(
                    f"Trainer: the checkpoint was trained with the {what} {saved}, "
                    f"but this Trainer uses {type(obj).__name__}"
                )
        from ..nn import StateDictError

        try:
            self._net.load_state_dict(state["model"])
        except StateDictError as e:
            lines = [ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()]
            raise CheckpointMismatchError(
                f"Trainer: the checkpoint's weights do not fit this {this_class}: {'; '.join(lines)[:300]}"
            ) from e
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as e:
            raise CheckpointMismatchError(
                f"Trainer: the checkpoint's optimizer state does not fit this {type(self.optimizer).__name__}: {e}"
            ) from e
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        if self.early_stopping is not None and state.get("early_stopping") is not None:
            self.early_stopping.load_state_dict(state["early_stopping"])
        self.stopped_early = bool(state.get("stopped_early", False))
        self.epoch = int(state["epoch"])
        self.history = [dict(r) for r in state["history"]]
        self.planned_epochs = state.get("planned_epochs")
        self.skipped_steps = int(state.get("skipped_steps") or 0)
        _set_generator_state(state["rng"])

    def load_checkpoint(self, path):
        """Resume from ``path``; the history files are rewritten from the checkpoint, so a history
        left ahead or behind by a crash agrees with the weights again."""
        self.load_state_dict(io.load_checkpoint(path))
        self._write_history_files()

    def save_checkpoint(self, path):
        io.save_checkpoint(self.state_dict(), path)


def _generator_state():
    import json

    return json.dumps(default_generator().bit_generator.state)


def _set_generator_state(state):
    default_generator().bit_generator.state = io.parse_json(
        state, "Trainer.load_state_dict", "the stored random-generator state"
    )


def _is_plateau(scheduler):
    return isinstance(scheduler, ReduceLROnPlateau)


def write_history(history, path):
    """Write the per-epoch records as JSON (``.json``) or CSV (any other suffix), atomically."""
    import csv
    import io as _io
    import json

    path = str(path)
    if path.endswith(".json"):
        payload = json.dumps(history, indent=1).encode()
    else:
        keys = []
        for r in history:
            keys += [k for k in r if k not in keys]
        buf = _io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
        payload = buf.getvalue().encode()
    io.atomic_write_bytes(path, payload)


def plot_history(history, path):
    """Loss and accuracy per epoch as a two-panel PNG; needs matplotlib (the ``plot`` extra)."""
    matplotlib = require("matplotlib", "plot_history", "plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    for key, ax in (("loss", ax_loss), ("acc", ax_acc)):
        for split in ("train", "val"):
            name = f"{split}_{key}"
            if history and name in history[0]:
                ax.plot(epochs, [r[name] for r in history], marker="o", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if key == "loss" else "accuracy")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _format_record(r):
    parts = [f"epoch {r['epoch']:>3}", f"train_loss {r['train_loss']:.4f}", f"train_acc {r['train_acc']:.4f}"]
    if "val_loss" in r:
        parts += [f"val_loss {r['val_loss']:.4f}", f"val_acc {r['val_acc']:.4f}"]
    parts.append(f"lr {r['lr']:.3g}")
    return "  ".join(parts)


def fit(model, optimizer, train_loader, epochs, **kwargs):
    """Functional shortcut: ``Trainer(model, optimizer, train_loader, **kwargs).fit(epochs)``."""
    return Trainer(model, optimizer, train_loader, **kwargs).fit(epochs)
