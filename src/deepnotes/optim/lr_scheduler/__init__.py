"""Learning-rate schedules with torch's ``lr_scheduler`` semantics.

A scheduler rewrites ``group["lr"]`` of its optimizer's param groups each time ``step()`` is called
(usually once per epoch, after the optimizer's steps).  As in torch, most schedules are *chainable*:
``get_lr()`` computes the new rate from the group's current rate (the "recursive form"), so that
several schedulers can act on one optimizer (:class:`ChainedScheduler`) or hand over to each other
(:class:`SequentialLR`); the sequence of rates equals torch's exactly, float for float.

Every scheduler has ``last_epoch`` (number of ``step()`` calls since construction, starting at 0),
``base_lrs`` (the groups' ``initial_lr``), ``get_last_lr()`` and ``state_dict()`` /
``load_state_dict()`` (everything except the optimizer; lambdas that are plain functions are not
saved, callable objects save their ``__dict__``).

Besides torch's schedules this module has two classic decays from the notes:
:class:`NaturalExpLR` (``lr = lr0 * exp(-gamma * epoch)``) and :class:`PiecewiseConstantLR`
(a fixed learning rate per epoch interval).
"""

from .annealing import CosineAnnealingLR, CosineAnnealingWarmRestarts
from .base import LRScheduler
from .composite import ChainedScheduler, SequentialLR
from .cyclic import CyclicLR, OneCycleLR
from .decay import (
    ConstantLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    NaturalExpLR,
    PiecewiseConstantLR,
    PolynomialLR,
    StepLR,
)
from .plateau import ReduceLROnPlateau

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "NaturalExpLR",
    "PiecewiseConstantLR",
    "SequentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
]
