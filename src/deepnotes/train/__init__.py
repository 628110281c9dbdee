"""The training loop: ``Trainer``, ``fit``, early stopping and optimizer/schedule factories."""
from .callbacks import EarlyStopping
from .factory import build_optimizer, build_scheduler
from .trainer import Trainer, fit, plot_history, write_history

__all__ = ["Trainer", "fit", "EarlyStopping", "build_optimizer", "build_scheduler", "plot_history",
           "write_history"]
