"""The training loop: ``Trainer`` and ``fit``."""
from .trainer import Trainer, fit

__all__ = ["Trainer", "fit"]
