"""The training loop: ``Trainer``, ``fit``, early stopping, the validation split and optimizer/schedule
factories."""

from .callbacks import EarlyStopping
from .factory import build_optimizer, build_scheduler, default_lr, resume_scheduler
from .trainer import CheckpointMismatchError, NonFiniteLossError, Trainer, fit, plot_history, write_history
from .validation import split_validation, validation_count

__all__ = [
    "Trainer",
    "fit",
    "EarlyStopping",
    "build_optimizer",
    "build_scheduler",
    "default_lr",
    "resume_scheduler",
    "plot_history",
    "write_history",
    "NonFiniteLossError",
    "CheckpointMismatchError",
    "split_validation",
    "validation_count",
]
