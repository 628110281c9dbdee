"""The training flow of seed 001 as a reusable loop.

Per epoch: for each batch, forward, loss, backward, optimizer step; then the scheduler steps once.
After each epoch the model is scored on the validation loader and a checkpoint may be written.  The
same flow written by hand is a dozen lines (see the README); ``Trainer`` adds progress bars, history,
checkpoint save/resume and exact reproducibility under ``deepnotes.manual_seed``.
"""
import numpy as np

from .. import io
from ..autograd import no_grad
from ..nn import functional as F
from ..random import default_generator
from ..tensor import Tensor

CHECKPOINT_VERSION = 1


def _progress(iterable, enabled, **kwargs):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, leave=False, dynamic_ncols=True, **kwargs)


def _accuracy_counts(logits, target):
    pred = logits.data.argmax(axis=1)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    return int((pred == t).sum()), int(t.shape[0])


class Trainer:
    """Train ``model`` with ``optimizer`` on ``train_loader``.

    Parameters
    ----------
    loss_fn: callable(output, target) -> scalar Tensor (default: cross entropy on logits).
    scheduler: stepped once per epoch when given.
    checkpoint_path: when set, a checkpoint (model, optimizer, scheduler, epoch, history and the
        random-generator state) is written atomically after every epoch.
    progress: show tqdm progress bars.
    """

    def __init__(self, model, optimizer, train_loader, val_loader=None, loss_fn=None, scheduler=None,
                 checkpoint_path=None, progress=True, log=print):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.train_loader, self.val_loader = train_loader, val_loader
        self.loss_fn = loss_fn or F.cross_entropy
        self.checkpoint_path = checkpoint_path
        self.progress = progress
        self.log = log or (lambda *a, **k: None)
        self.epoch = 0
        self.history = []

    # ------------------------------------------------------------------ one epoch
    def train_one_epoch(self):
        self.model.train()
        total_loss, correct, seen = 0.0, 0, 0
        bar = _progress(self.train_loader, self.progress, desc=f"epoch {self.epoch + 1}")
        for inputs, target in bar:
            self.optimizer.zero_grad()
            output = self.model(inputs)
            loss = self.loss_fn(output, target)
            loss.backward()
            self.optimizer.step()
            n = output.shape[0]
            total_loss += loss.item() * n
            c, _ = _accuracy_counts(output, target)
            correct += c
            seen += n
            if self.progress:
                bar.set_postfix(loss=f"{loss.item():.4f}")
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
        return total_loss / max(seen, 1), correct / max(seen, 1)

    def fit(self, epochs):
        """Train until ``epochs`` epochs in total have run (a resumed run continues where it stopped)."""
        if epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be >= 0, got {epochs}")
        while self.epoch < epochs:
            train_loss, train_acc = self.train_one_epoch()
            record = {"epoch": self.epoch + 1, "train_loss": train_loss, "train_acc": train_acc,
                      "lr": float(self.optimizer.param_groups[0]["lr"])}
            if self.val_loader is not None:
                record["val_loss"], record["val_acc"] = self.evaluate()
            if self.scheduler is not None:
                self.scheduler.step()
            self.epoch += 1
            self.history.append(record)
            self.log(_format_record(record))
            if self.checkpoint_path:
                self.save_checkpoint(self.checkpoint_path)
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self):
        return {
            "version": CHECKPOINT_VERSION,
            "epoch": self.epoch,
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "history": self.history,
            "rng": _generator_state(),
        }

    def load_state_dict(self, state):
        if state.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"Trainer: checkpoint version {state.get('version')!r} is not supported "
                             f"(expected {CHECKPOINT_VERSION})")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.history = [dict(r) for r in state["history"]]
        _set_generator_state(state["rng"])

    def save_checkpoint(self, path):
        io.save_checkpoint(self.state_dict(), path)

    def load_checkpoint(self, path):
        self.load_state_dict(io.load_checkpoint(path))


def _generator_state():
    import json
    return json.dumps(default_generator().bit_generator.state)


def _set_generator_state(state):
    import json
    default_generator().bit_generator.state = json.loads(state)


def _format_record(r):
    parts = [f"epoch {r['epoch']:>3}", f"train_loss {r['train_loss']:.4f}", f"train_acc {r['train_acc']:.4f}"]
    if "val_loss" in r:
        parts += [f"val_loss {r['val_loss']:.4f}", f"val_acc {r['val_acc']:.4f}"]
    parts.append(f"lr {r['lr']:.3g}")
    return "  ".join(parts)


def fit(model, optimizer, train_loader, epochs, **kwargs):
    """Functional shortcut: ``Trainer(model, optimizer, train_loader, **kwargs).fit(epochs)``."""
    return Trainer(model, optimizer, train_loader, **kwargs).fit(epochs)
