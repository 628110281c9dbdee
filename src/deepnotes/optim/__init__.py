"""Optimizers and learning-rate schedules with torch's semantics (``torch.optim`` shaped).

Optimizers: :class:`SGD` (momentum, Nesterov), :class:`Adagrad`, :class:`Adadelta`,
:class:`RMSprop` (momentum, centered), :class:`Adam` (AMSGrad), :class:`AdamW`, :class:`Adamax`,
:class:`NAdam`, :class:`LBFGS` (strong-Wolfe line search).  Schedules live in
:mod:`deepnotes.optim.lr_scheduler`; the LR range test in :mod:`deepnotes.optim.lr_finder`.
"""

from . import lr_finder, lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .lbfgs import LBFGS
from .lr_finder import LRFinderResult, RangeTestLR, lr_range_test
from .nadam import NAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "Adadelta",
    "RMSprop",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "LBFGS",
    "lr_scheduler",
    "lr_finder",
    "lr_range_test",
    "LRFinderResult",
    "RangeTestLR",
]
