"""LR range test ("search for the learning rate", seed 001; Smith 2017, fastai's ``lr_find``).

Train for a few iterations while the learning rate grows from ``start_lr`` to ``end_lr``
(geometrically or linearly), record the loss at each rate and stop once the smoothed loss
diverges.  The suggested rate is a tenth of the rate at the smoothed loss's minimum (fastai's
"minimum/10" rule): the minimum sits at the edge of divergence, and a tenth of it is still on the
descent.  The rate of steepest descent is reported too, but on a model whose loss starts very high
it sits at the first drop, far below a rate that trains well.  A sweep whose loss hardly falls (less
than ``min_drop`` of its starting value) has no clear minimum: no rate is suggested and ``note``
says why.

* :func:`lr_range_test` works with any ``train_step()`` closure (loss + gradients);
* :func:`lr_finder` runs it on a model and a data loader (``deepnotes lr-find`` uses it);
* :class:`RangeTestLR` is the learning-rate ramp as a scheduler.

By default the parameters, buffers, optimizer state and learning rates are restored afterwards, so
the test leaves the model untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .lr_scheduler import LRScheduler
from .optimizer import Optimizer

__all__ = ["RangeTestLR", "LRFinderResult", "lr_range_test", "lr_finder", "suggest_lr", "analyse_curve"]


class RangeTestLR(LRScheduler):
    r"""Learning-rate ramp of the range test, stepped once per iteration.

    ``lr_i = base_lr * (end_lr / base_lr) ** (i / (num_iter - 1))`` for ``mode="exp"`` and
    ``lr_i = base_lr + (end_lr - base_lr) * i / (num_iter - 1)`` for ``mode="linear"``, where
    ``base_lr`` is each group's learning rate at construction and ``i = last_epoch``.
    """

    def __init__(self, optimizer, end_lr, num_iter, mode="exp", last_epoch=-1):
        where = "RangeTestLR"
        if not isinstance(num_iter, int) or isinstance(num_iter, bool) or num_iter < 2:
            raise ValueError(f"{where}: expected an integer num_iter >= 2, got {num_iter!r}")
        if mode not in ("exp", "linear"):
            raise ValueError(f"{where}: mode must be 'exp' or 'linear', got {mode!r}")
        if not isinstance(end_lr, (int, float)) or isinstance(end_lr, bool) or end_lr <= 0:
            raise ValueError(f"{where}: expected a positive end_lr, got {end_lr!r}")
        self.end_lr = end_lr
        self.num_iter = num_iter
        self.mode = mode
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        return self._get_closed_form_lr()

    def _get_closed_form_lr(self):
        r = self.last_epoch / (self.num_iter - 1)
        if self.mode == "exp":
            return [base_lr * (self.end_lr / base_lr) ** r for base_lr in self.base_lrs]
        return [base_lr + r * (self.end_lr - base_lr) for base_lr in self.base_lrs]


@dataclass
class LRFinderResult:
    """Outcome of a range test.

    Attributes:
        lrs: learning rate of each recorded iteration (1-D array).
        losses: the raw losses.
        smoothed: bias-corrected exponential moving average of the losses,
            ``avg_i = beta * avg_{i-1} + (1 - beta) * loss_i``, ``smoothed_i = avg_i / (1 - beta**(i+1))``.
        suggestion: a tenth of ``min_loss_lr`` (``None`` when the curve has no clear descent or too
            few iterations were recorded; ``note`` then says which).
        min_loss_lr: the rate of the lowest smoothed loss.
        diverged: whether the test stopped early because the loss exploded.
        steepest_lr: the rate where ``smoothed`` falls fastest against ``log(lr)`` before its minimum
            (:func:`suggest_lr`), or ``None``.
        note: why there is no suggestion, or a caveat about it (the loss was still falling at the end
            of the range); ``None`` when the curve has a clear descent and minimum.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float | None
    min_loss_lr: float | None
    diverged: bool
    steepest_lr: float | None = None
    note: str | None = None

    def plot(self, path=None, ax=None):
        """Draw smoothed loss against learning rate (log axis); save to ``path`` if given."""
        import matplotlib

        if ax is None and path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        own = ax is None
        if own:
            fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.smoothed, label="smoothed loss")
        ax.plot(self.lrs, self.losses, alpha=0.3, label="loss")
        if self.suggestion is not None:
            ax.axvline(self.suggestion, color="red", linestyle="--", label=f"suggestion {self.suggestion:.2e}")
        ax.set_xscale("log" if np.all(self.lrs > 0) else "linear")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.legend()
        if own and path is not None:
            fig.tight_layout()
            fig.savefig(path, dpi=120)
            plt.close(fig)
        return ax


def suggest_lr(lrs, losses, skip_start=5, skip_end=2):
    """The learning rate where ``losses`` fall fastest against ``log(lr)`` (steepest descent of
    ``np.gradient(losses, log(lrs))``), ignoring ``skip_start``/``skip_end`` points at the ends;
    ``None`` when fewer than 3 points remain or some of them are not finite."""
    lrs, losses = np.asarray(lrs, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    lo, hi = skip_start, len(losses) - skip_end
    if hi - lo < 3:
        return None
    window_l, window_s = lrs[lo:hi], losses[lo:hi]
    if not (np.all(np.isfinite(window_s)) and np.all(window_l > 0)):
        return None
    slope = np.gradient(window_s, np.log(window_l))
    return float(window_l[int(np.argmin(slope))])


def analyse_curve(lrs, smoothed, diverged, skip_start=5, skip_end=2, min_drop=0.1):
    """(suggestion, min_loss_lr, steepest_lr, note) for a range test's smoothed loss curve.

    The suggestion is ``min_loss_lr / 10``.  None is given when fewer than 3 finite points remain
    after ``skip_start``, or when the smoothed loss never falls below ``(1 - min_drop)`` times its
    value at ``skip_start`` (a flat curve: the range is too narrow or too low).
    """
    lrs, smoothed = np.asarray(lrs, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(smoothed))
    finite = finite[finite >= min(skip_start, len(smoothed) - 1)] if len(finite) else finite
    if len(finite) < 3:
        return (
            None,
            None,
            None,
            (
                f"too few steps were recorded ({len(smoothed)}) to read the curve; "
                "raise the number of iterations or lower the start rate"
            ),
        )
    best = int(finite[np.argmin(smoothed[finite])])
    min_loss_lr = float(lrs[best])
    first = smoothed[finite[0]]
    drop = (first - smoothed[best]) / abs(first) if first != 0 else 0.0
    steepest = suggest_lr(lrs[: best + 1], smoothed[: best + 1], skip_start, 0)
    if drop < min_drop:
        return (
            None,
            min_loss_lr,
            steepest,
            (
                f"no clear descent: the smoothed loss fell by only {100 * max(drop, 0):.1f}% between "
                f"{lrs[finite[0]]:.3g} and {lrs[finite[-1]]:.3g}; widen the range (a higher end rate)"
            ),
        )
    note = None
    if best >= len(smoothed) - 1 - skip_end and not diverged:
        note = (
            "the loss was still falling at the end of the range, so the minimum may lie beyond it; "
            "a higher end rate would tell"
        )
    return min_loss_lr / 10, min_loss_lr, steepest, note


def lr_range_test(
    optimizer,
    train_step,
    start_lr=1e-7,
    end_lr=10.0,
    num_iter=100,
    mode="exp",
    beta=0.98,
    diverge_th=5.0,
    skip_start=5,
    skip_end=2,
    restore=True,
    restore_fns=(),
    min_drop=0.1,
):
    """Run an LR range test with a ``train_step`` closure.

    Args:
        optimizer: an :class:`Optimizer`; all its param groups follow the same ramp.
        train_step: ``train_step()`` computes the loss of one mini-batch, fills the parameters'
            gradients (zeroing them first) and returns the loss; ``optimizer.step()`` follows it.
        start_lr, end_lr (float): the ramp's ends (``0 < start_lr < end_lr``).
        num_iter (int): number of iterations (>= 5).
        mode (str): ``"exp"`` (geometric ramp, default) or ``"linear"``.
        beta (float): weight of the past in the moving average of the loss, in [0, 1).
        diverge_th (float): stop once the smoothed loss exceeds ``diverge_th`` times its minimum so
            far (or is not finite).
        skip_start, skip_end (int): points ignored at each end when reading the curve.
        min_drop (float): the smallest relative fall of the smoothed loss that counts as a descent
            (see :func:`analyse_curve`).
        restore (bool): put the parameters, the optimizer state and the groups' hyper-parameters
            back as they were before the test.
        restore_fns: extra callables run at the end when ``restore`` (used by :func:`lr_finder`).

    Returns:
        :class:`LRFinderResult`.
    """
    where = "lr_range_test"
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where}: expected a deepnotes Optimizer, got {type(optimizer).__name__}")
    if not callable(train_step):
        raise TypeError(f"{where}: train_step must be callable, got {type(train_step).__name__}")
    if not (isinstance(start_lr, (int, float)) and isinstance(end_lr, (int, float)) and 0 < start_lr < end_lr):
        raise ValueError(f"{where}: need 0 < start_lr < end_lr, got start_lr={start_lr!r}, end_lr={end_lr!r}")
    if not isinstance(num_iter, int) or isinstance(num_iter, bool) or num_iter < 5:
        raise ValueError(f"{where}: num_iter must be at least 5, got {num_iter!r}")
    if not 0 <= beta < 1:
        raise ValueError(f"{where}: expected 0 <= beta < 1, got {beta!r}")
    if not diverge_th > 1:
        raise ValueError(f"{where}: expected diverge_th > 1, got {diverge_th!r}")

    params = [p for g in optimizer.param_groups for p in g["params"]]
    saved_params = [p.data.copy() for p in params]
    saved_state = optimizer.state_dict()
    saved_groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]

    lrs, losses, smoothed = [], [], []
    diverged = False
    try:
        for group in optimizer.param_groups:
            group["lr"] = start_lr
            group.pop("initial_lr", None)
        scheduler = RangeTestLR(optimizer, end_lr, num_iter, mode)
        avg, best = 0.0, math.inf
        for i in range(num_iter):
            lrs.append(float(optimizer.param_groups[0]["lr"]))
            loss = float(optimizer._run_closure(train_step))
            optimizer.step()
            losses.append(loss)
            avg = beta * avg + (1 - beta) * loss
            value = avg / (1 - beta ** (i + 1))
            smoothed.append(value)
            best = min(best, value)
            if not math.isfinite(value) or value > diverge_th * best:
                diverged = True
                break
            if i < num_iter - 1:
                scheduler.step()
    finally:
        if restore:
            for p, data in zip(params, saved_params):
                p.data[...] = data
                p.grad = None
            optimizer.load_state_dict(saved_state)
            for group, old in zip(optimizer.param_groups, saved_groups):
                for key in [k for k in group if k != "params"]:
                    del group[key]
                group.update(old)
            for fn in restore_fns:
                fn()

    lrs, losses, smoothed = np.array(lrs), np.array(losses), np.array(smoothed)
    suggestion, min_loss_lr, steepest, note = analyse_curve(lrs, smoothed, diverged, skip_start, skip_end, min_drop)
    return LRFinderResult(lrs, losses, smoothed, suggestion, min_loss_lr, diverged, steepest, note)


def lr_finder(
    model,
    optimizer,
    train_loader,
    loss_fn=None,
    start_lr=1e-7,
    end_lr=10.0,
    num_iter=100,
    mode="exp",
    beta=0.98,
    diverge_th=5.0,
    restore=True,
):
    """LR range test of ``model`` on batches ``(inputs, target)`` from ``train_loader``.

    Each iteration: ``loss = loss_fn(model(inputs), target)`` (default cross entropy on logits),
    backward, ``optimizer.step()``; the loader is restarted if it runs out.  With ``restore`` the
    model's parameters and buffers, its train/eval mode and the optimizer are put back afterwards.
    See :func:`lr_range_test` for the other arguments; returns an :class:`LRFinderResult`.
    """
    if loss_fn is None:
        from ..nn import functional as F

        loss_fn = F.cross_entropy
    batches = iter(train_loader)

    def next_batch():
        nonlocal batches
        try:
            return next(batches)
        except StopIteration:
            batches = iter(train_loader)
            try:
                return next(batches)
            except StopIteration:
                raise ValueError("lr_finder: train_loader yielded no batches") from None

    def train_step():
        inputs, target = next_batch()
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), target)
        loss.backward()
        return loss.item()

    restore_fns = ()
    if restore:
        was_training = getattr(model, "training", True)
        saved = {k: np.array(getattr(v, "data", v), copy=True) for k, v in model.state_dict().items()}

        def restore_model():
            model.load_state_dict(saved)
            model.train(was_training)

        restore_fns = (restore_model,)
    model.train()
    return lr_range_test(
        optimizer,
        train_step,
        start_lr=start_lr,
        end_lr=end_lr,
        num_iter=num_iter,
        mode=mode,
        beta=beta,
        diverge_th=diverge_th,
        restore=restore,
        restore_fns=restore_fns,
    )
