"""Early stopping: stop when a monitored metric has not improved for ``patience`` epochs."""

import math

import numpy as np


class EarlyStopping:
    """Track a metric per epoch and say when to stop.

    ``mode='min'`` (losses) or ``'max'`` (accuracies); an epoch improves when it beats the best value
    by more than ``min_delta``.  Training stops at the end of the ``patience``-th consecutive epoch
    without improvement (Keras' and Lightning's rule: with patience 2 and best at epoch 3, the stop
    comes after epoch 5; patience 0 acts as 1).  With ``restore_best_weights`` the Trainer reloads the
    best epoch's weights when it stops.
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="min", restore_best_weights=True):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.restore_best_weights = restore_best_weights
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = None
        self.best_state = None
        self.bad_epochs = 0
        self.stopped = False

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, record, model=None):
        """Feed one epoch's record (a dict); returns True when training should stop."""
        if self.monitor not in record:
            raise KeyError(
                f"EarlyStopping: metric {self.monitor!r} is not in the epoch record (available: {', '.join(record)})"
            )
        value = float(record[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.bad_epochs = value, record.get("epoch"), 0
            if model is not None and self.restore_best_weights:
                self.best_state = {k: np.array(v.data, copy=True) for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
            self.stopped = self.bad_epochs >= self.patience
        return self.stopped

    def state_dict(self):
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "stopped": self.stopped,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state):
        self.best, self.best_epoch = float(state["best"]), state["best_epoch"]
        self.bad_epochs, self.stopped = int(state["bad_epochs"]), bool(state["stopped"])
        self.best_state = dict(state["best_state"]) if state.get("best_state") is not None else None
