"""Schedules that shrink the rate by a rule of the epoch: lambda, multiplicative, step, multi-step,
constant/linear warm-up factors, exponential, natural-exponential, piecewise-constant and polynomial."""

from __future__ import annotations

import copy
import math
import numbers
import types
from bisect import bisect_right
from collections import Counter

from .base import LRScheduler, _check_int, _check_optimizer, _group_lrs, _is_number


class _LambdaStateMixin:
    """state_dict support for schedulers holding ``lr_lambdas``."""

    def state_dict(self):
        sd = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        sd["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas
        ]
        return sd

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        lambdas = state_dict.pop("lr_lambdas", None)
        self.__dict__.update(copy.deepcopy(state_dict))
        if lambdas is not None:
            for fn, saved in zip(self.lr_lambdas, lambdas):
                if saved is not None:
                    fn.__dict__.update(copy.deepcopy(saved))


def _lambdas(lr_lambda, optimizer, where):
    if isinstance(lr_lambda, (list, tuple)):
        if len(lr_lambda) != len(optimizer.param_groups):
            raise ValueError(f"{where}: Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
        fns = list(lr_lambda)
    else:
        fns = [lr_lambda] * len(optimizer.param_groups)
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"{where}: lr_lambda should be a function, but got {type(fn).__name__}")
    return fns


class LambdaLR(_LambdaStateMixin, LRScheduler):
    r"""``lr = base_lr * lr_lambda(epoch)`` (one lambda, or one per param group)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer(optimizer, "LambdaLR")
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas(lr_lambda, optimizer, "LambdaLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaStateMixin, LRScheduler):
    r"""``lr_t = lr_{t-1} * lr_lambda(t)`` for t >= 1 (the rate is left unchanged at construction)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer(optimizer, "MultiplicativeLR")
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas(lr_lambda, optimizer, "MultiplicativeLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self._is_initial:
            return _group_lrs(self.optimizer)
        return [group["lr"] * fn(self.last_epoch) for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups)]


class StepLR(LRScheduler):
    r"""Multiply the rate by ``gamma`` every ``step_size`` epochs:
    ``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        _check_int(step_size, "step_size", "StepLR", 1)
        if not _is_number(gamma):
            raise TypeError(f"StepLR: gamma must be a real number, got {gamma!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _group_lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    r"""Multiply the rate by ``gamma`` at each milestone epoch:
    ``lr = base_lr * gamma ** (number of milestones <= epoch)``."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        milestones = list(milestones)
        for m in milestones:
            if not isinstance(m, numbers.Integral):
                raise TypeError(f"MultiStepLR: milestones must be integers, got {milestones!r}")
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self.last_epoch not in self.milestones:
            return _group_lrs(self.optimizer)
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch] for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]


class ConstantLR(LRScheduler):
    r"""Multiply the rate by ``factor`` until epoch ``total_iters``, then restore it."""

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        if not _is_number(factor) or factor > 1.0 or factor < 0:
            raise ValueError(
                f"ConstantLR: Constant multiplicative factor expected to be between 0 and 1, got {factor!r}"
            )
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return _group_lrs(self.optimizer)
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [
            base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
            for base_lr in self.base_lrs
        ]


class LinearLR(LRScheduler):
    r"""Linear change of the multiplier from ``start_factor`` to ``end_factor`` over ``total_iters``
    epochs: ``lr = base_lr * (s + (e - s) * min(epoch, T) / T)`` (linear warm-up when s < e)."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if not _is_number(start_factor) or start_factor > 1.0 or start_factor <= 0:
            raise ValueError(
                f"LinearLR: Starting multiplicative factor expected to be greater than 0 "
                f"and less or equal to 1, got {start_factor!r}"
            )
        if not _is_number(end_factor) or end_factor > 1.0 or end_factor < 0:
            raise ValueError(
                f"LinearLR: Ending multiplicative factor expected to be between 0 and 1, got {end_factor!r}"
            )
        _check_int(total_iters, "total_iters", "LinearLR", 1)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _group_lrs(self.optimizer)
        diff = self.end_factor - self.start_factor
        ratio = 1.0 + diff / (self.total_iters * self.start_factor + (self.last_epoch - 1) * diff)
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [
            base_lr
            * (
                self.start_factor
                + (self.end_factor - self.start_factor) * min(self.total_iters, self.last_epoch) / self.total_iters
            )
            for base_lr in self.base_lrs
        ]


class ExponentialLR(LRScheduler):
    r"""``lr = base_lr * gamma ** epoch`` (applied as one multiplication by ``gamma`` per step)."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        if not _is_number(gamma):
            raise TypeError(f"ExponentialLR: gamma must be a real number, got {gamma!r}")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self._is_initial:
            return _group_lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class NaturalExpLR(LRScheduler):
    r"""Natural-exponential decay: ``lr = base_lr * exp(-gamma * p)`` with ``p = epoch / decay_steps``
    (``floor`` of it when ``staircase``), TensorFlow's ``natural_exp_decay``.

    The update is chainable: each step multiplies the current rate by
    ``exp(-gamma * (p(epoch) - p(epoch - 1)))``.

    Args:
        optimizer: wrapped optimizer.
        gamma (float): decay rate ``k >= 0``.
        decay_steps (int): epochs per unit of ``p`` (default 1).
        staircase (bool): decay in discrete jumps every ``decay_steps`` epochs.
        last_epoch (int): index of the last epoch (default -1: start).
    """

    def __init__(self, optimizer, gamma, decay_steps=1, staircase=False, last_epoch=-1):
        if not _is_number(gamma) or gamma < 0:
            raise ValueError(f"NaturalExpLR: expected a decay rate gamma >= 0, got {gamma!r}")
        _check_int(decay_steps, "decay_steps", "NaturalExpLR", 1)
        self.gamma = gamma
        self.decay_steps = decay_steps
        self.staircase = bool(staircase)
        super().__init__(optimizer, last_epoch)

    def _progress(self, epoch):
        if self.staircase:
            return float(epoch // self.decay_steps)
        return epoch / self.decay_steps

    def get_lr(self):
        self._warn_outside_step()
        if self._is_initial and self.last_epoch == 0:
            return _group_lrs(self.optimizer)
        if self._is_initial:
            return self._get_closed_form_lr()
        factor = math.exp(-self.gamma * (self._progress(self.last_epoch) - self._progress(self.last_epoch - 1)))
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        factor = math.exp(-self.gamma * self._progress(self.last_epoch))
        return [base_lr * factor for base_lr in self.base_lrs]


class PiecewiseConstantLR(LRScheduler):
    r"""Piecewise-constant learning rate: ``lr = values[i]`` where ``i`` is the number of
    ``boundaries`` that are ``<= epoch`` (``values[0]`` before ``boundaries[0]``, ``values[1]`` from
    ``boundaries[0]`` to ``boundaries[1] - 1``, ...).

    ``values`` are absolute learning rates applied to every param group (or a list with one list of
    values per group).  The switch happens *at* the boundary epoch, as in :class:`MultiStepLR`
    (TensorFlow's ``piecewise_constant`` switches one step later, for ``step > boundary``).
    """

    def __init__(self, optimizer, boundaries, values, last_epoch=-1):
        where = "PiecewiseConstantLR"
        _check_optimizer(optimizer, where)
        boundaries = list(boundaries)
        for b in boundaries:
            if not isinstance(b, numbers.Integral):
                raise TypeError(f"{where}: boundaries must be integers, got {boundaries!r}")
        if any(b1 <= b0 for b0, b1 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"{where}: boundaries must be strictly increasing, got {boundaries}")
        values = list(values)
        if values and isinstance(values[0], (list, tuple)):
            per_group = [list(v) for v in values]
            if len(per_group) != len(optimizer.param_groups):
                raise ValueError(
                    f"{where}: values has {len(per_group)} lists, but the optimizer has "
                    f"{len(optimizer.param_groups)} param groups"
                )
        else:
            per_group = [values] * len(optimizer.param_groups)
        for v in per_group:
            if len(v) != len(boundaries) + 1:
                raise ValueError(
                    f"{where}: expected len(values) == len(boundaries) + 1 = {len(boundaries) + 1}, got {len(v)}"
                )
            if not all(_is_number(x) and x >= 0 for x in v):
                raise ValueError(f"{where}: values must be non-negative learning rates, got {v}")
        self.boundaries = boundaries
        self.values = per_group
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        return self._get_closed_form_lr()

    def _get_closed_form_lr(self):
        i = bisect_right(self.boundaries, self.last_epoch)
        return [v[i] for v in self.values]


class PolynomialLR(LRScheduler):
    r"""``lr = base_lr * (1 - min(epoch, total_iters) / total_iters) ** power``."""

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        _check_int(total_iters, "total_iters", "PolynomialLR", 1)
        if not _is_number(power):
            raise TypeError(f"PolynomialLR: power must be a real number, got {power!r}")
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self._is_initial or self.last_epoch > self.total_iters:
            return _group_lrs(self.optimizer)
        decay = (
            (1.0 - self.last_epoch / self.total_iters) / (1.0 - (self.last_epoch - 1) / self.total_iters)
        ) ** self.power
        return [group["lr"] * decay for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [
            base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
            for base_lr in self.base_lrs
        ]
