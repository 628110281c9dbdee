"""Mixed precision: float16 compute on float32 master weights, with dynamic loss scaling.

Two pieces, mirroring ``torch.amp``:

* :class:`autocast` - a thread-local context manager / decorator.  Inside it, the matrix-product
  operations (``F.linear``, ``F.conv2d``, ``matmul``) cast their floating inputs and weights to the
  autocast dtype (float16) before computing.  The cast is an ordinary differentiable operation, so the
  backward pass returns float16 gradients to the cast and float32 gradients to the float32 master
  weights.  :func:`get_autocast_dtype` returns the active dtype (``None`` outside autocast) and
  :func:`_autocast` is the helper those operations call on their operands.  Normalisation layers
  (batch, group, instance, layer norm) are not cast, as in torch's CPU autocast: a float16 input gives
  a float16 output, but their statistics are always accumulated in float32 (a float16 sum of squares
  overflows past 65504) and float32 running estimates stay float32.

* :class:`GradScaler` - dynamic loss scaling with ``torch.amp.GradScaler``'s rules.  Float16 has a
  narrow range (smallest normal 2**-14, largest 65504), so small gradients underflow to zero.  The
  loss is multiplied by a scale S before ``backward`` (every gradient is then multiplied by S, by the
  chain rule), the gradients are divided by S again before the optimizer step, and S adapts::

      after a step with an inf/NaN gradient:       S <- S * backoff_factor, tracker <- 0  (step skipped)
      after growth_interval finite steps in a row: S <- S * growth_factor,  tracker <- 0
      otherwise (finite step):                     tracker <- tracker + 1

  S is kept in float32 (as torch does); the unscale multiplies every gradient by
  inv = float32(1 / float64(S)).

Typical loop::

    scaler = GradScaler()
    for x, y in loader:
        optimizer.zero_grad()
        with autocast():
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)      # unscales, skips the step when a gradient is inf/NaN
        scaler.update()             # backoff or growth of the scale
"""

from __future__ import annotations

import functools
import math
import numbers
import threading
from collections import defaultdict
from enum import Enum

import numpy as np

from .autograd.function import (
    Function,
    TensorBase,  # the engine's view of deepnotes.Tensor: amp sits below tensor.py
)

__all__ = ["GradScaler", "OptState", "autocast", "get_autocast_dtype", "is_autocast_enabled"]


# ============================================================================================ autocast
class _AutocastState(threading.local):
    # class attributes give every thread the default (autocast off) without a failing lookup
    dtype = None


_state = _AutocastState()

_AUTOCAST_DTYPES = (np.dtype(np.float16),)


def get_autocast_dtype():
    """The dtype of the innermost active :class:`autocast` region of this thread (``numpy.float16``),
    or ``None`` when autocast is off."""
    dt = _state.dtype
    return None if dt is None else dt.type


def is_autocast_enabled():
    """True inside an enabled :class:`autocast` region of this thread."""
    return _state.dtype is not None


def _autocast(*tensors):
    """The operands of an autocast-eligible operation, cast to the autocast dtype when it is active.

    Returns a tuple with one entry per argument.  Floating-point Tensors other than float64 are cast
    (torch's eligibility rule: double tensors are never autocast); everything else (``None``, integer
    tensors, non-tensors) is returned unchanged.  The cast goes through ``Tensor.to``, which records a
    differentiable cast when the tensor requires grad, so gradients reach float32 master weights in
    float32.  Outside autocast the arguments come back as they are.
    """
    dt = _state.dtype
    if dt is None:
        return tensors
    out = []
    for t in tensors:
        if isinstance(t, TensorBase):
            src = t.data.dtype
            if src.kind == "f" and src != dt and src != np.float64:
                t = t.to(dt)
        out.append(t)
    return tuple(out)


def _autocast_dtype_arg(dtype):
    if dtype is None:  # torch: None means the device's default autocast dtype
        return np.dtype(np.float16)
    if isinstance(dtype, str) and dtype.split(":")[0] in ("cpu", "cuda", "mps", "xpu", "hpu"):
        raise TypeError(
            f"autocast: got the device type {dtype!r} as dtype; deepnotes runs on the CPU "
            f"only and its autocast takes no device_type argument (use autocast(dtype=...))"
        )
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"autocast: expected a dtype (numpy.float16), got {dtype!r}") from None
    if dt not in _AUTOCAST_DTYPES:
        raise ValueError(f"autocast: expected dtype float16 (the reduced-precision float NumPy provides), got {dt}")
    return dt


class autocast:
    """Run the eligible operations of a region in reduced precision: ``with autocast():`` or as a
    decorator ``@autocast()``.

    Args:
        dtype: the compute dtype of the region (``numpy.float16``, the default; ``None`` means it).
        enabled (bool): ``False`` makes a region with autocast off (nesting
            ``autocast(enabled=False)`` inside an enabled region turns it off locally).
        cache_enabled: accepted for torch compatibility (``None`` or a bool); deepnotes keeps no cast
            cache, so it has no effect.

    Inside an enabled region, ``F.linear``, ``F.conv2d`` and matrix products cast floating operands
    (float32, not float64) to ``dtype``; their outputs are ``dtype``.  The state is thread-local: a
    region opened in one thread does not affect others.  Regions nest, and each restores the previous
    state on exit, exceptions included.
    """

    def __init__(self, dtype=np.float16, enabled=True, cache_enabled=None):
        if not isinstance(enabled, (bool, np.bool_)):
            raise TypeError(f"autocast: enabled must be a bool, got {enabled!r} of type {type(enabled).__name__}")
        if cache_enabled is not None and not isinstance(cache_enabled, (bool, np.bool_)):
            raise TypeError(f"autocast: cache_enabled must be None or a bool, got {cache_enabled!r}")
        self.fast_dtype = _autocast_dtype_arg(dtype).type
        self._enabled = bool(enabled)
        self._cache_enabled = cache_enabled
        self._prev = []  # a stack, so one instance may be entered again while already active

    def __enter__(self):
        self._prev.append(_state.dtype)
        _state.dtype = np.dtype(self.fast_dtype) if self._enabled else None
        return self

    def __exit__(self, exc_type, exc, tb):
        _state.dtype = self._prev.pop()
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"autocast: used as a decorator, expected a callable, got {type(func).__name__}")
        dtype, enabled, cache = self.fast_dtype, self._enabled, self._cache_enabled

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with autocast(dtype, enabled, cache):
                return func(*args, **kwargs)

        return wrapper

    def __repr__(self):
        return f"autocast(dtype={np.dtype(self.fast_dtype).name}, enabled={self._enabled})"


# ========================================================================================== GradScaler
class OptState(Enum):
    """Where one optimizer stands in the current iteration of a :class:`GradScaler`."""

    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_optimizer_state():
    # module-level factory (not a lambda) so a GradScaler stays picklable
    return {"stage": OptState.READY, "found_inf": None}


class _ScaleFn(Function):
    """out = a * s with a float32 scalar s, computed like torch's ``tensor * 0-d float32 tensor``:
    float16 in float32 arithmetic rounded back to float16, wider floats in their own precision,
    integers promoted to float32.  The backward pass is the same product on the gradient."""

    @staticmethod
    def _mul(a, s):
        # overflow to inf is expected here: it is what the scaler detects and backs off from
        with np.errstate(over="ignore", invalid="ignore"):
            if a.dtype == np.float16:
                return (a.astype(np.float32) * s).astype(np.float16)
            if a.dtype.kind in "fc":
                return a * s.astype(a.real.dtype)
            return a.astype(np.float32) * s

    def forward(self, a, scale):
        self.s = scale
        self.src = a.dtype
        return self._mul(a, scale)

    def backward(self, g):
        return self._mul(g, self.s).astype(self.src, copy=False)

    def backward_graph(self, g):
        return _ScaleFn.apply(g, scale=self.s)


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _check_growth_factor(v, name):
    if not _is_real(v) or not math.isfinite(v) or v <= 1.0:
        raise ValueError(f"{name}: growth_factor must be a finite real number > 1.0, got {v!r}")
    return float(v)


def _check_backoff_factor(v, name):
    if not _is_real(v) or not (0.0 < v < 1.0):
        raise ValueError(f"{name}: backoff_factor must be a real number in (0, 1), got {v!r}")
    return float(v)


def _check_growth_interval(v, name):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name}: growth_interval must be a positive int, got {v!r}")
    return int(v)


def _check_scale_value(v, name, what):
    if not _is_real(v) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name}: {what} must be a positive finite real number, got {v!r}")
    return float(v)


class GradScaler:
    """Dynamic loss scaling for float16 training, with ``torch.amp.GradScaler``'s semantics.

    Args:
        init_scale (float): initial scale S (default 2**16).
        growth_factor (float): S is multiplied by it after ``growth_interval`` consecutive finite steps
            (default 2.0; must be > 1).
        backoff_factor (float): S is multiplied by it after a step with inf/NaN gradients (default 0.5;
            must be in (0, 1)).
        growth_interval (int): number of consecutive finite steps before growth (default 2000).
        enabled (bool): ``False`` makes every method a pass-through: ``scale`` returns its input,
            ``step`` calls ``optimizer.step`` and ``update``/``unscale_`` do nothing.
        device (keyword only): ``"cpu"``, the only device deepnotes has (torch.amp.GradScaler takes
            the device as its first argument).

    Per iteration: ``scale(loss).backward()``, optionally ``unscale_(optimizer)`` (to clip or inspect
    true gradients), ``step(optimizer)`` and ``update()``.  S is a float32 value created lazily by the
    first ``scale`` call; ``get_scale()`` returns ``init_scale`` until then.
    """

    def __init__(
        self,
        init_scale=2.0**16,
        growth_factor=2.0,
        backoff_factor=0.5,
        growth_interval=2000,
        enabled=True,
        *,
        device="cpu",
    ):
        name = "GradScaler"
        if isinstance(init_scale, str):
            raise TypeError(
                f"{name}: init_scale must be a positive real number, got {init_scale!r}; "
                f"deepnotes' GradScaler takes no positional device argument (pass "
                f"device='cpu' by keyword if at all)"
            )
        if not isinstance(device, str) or device.split(":")[0] != "cpu":
            raise ValueError(f"{name}: deepnotes runs on the CPU only, expected device 'cpu', got {device!r}")
        if not isinstance(enabled, (bool, np.bool_)):
            raise TypeError(f"{name}: enabled must be a bool, got {enabled!r} of type {type(enabled).__name__}")
        self._device = "cpu"
        self._enabled = bool(enabled)
        self._init_scale = _check_scale_value(init_scale, name, "init_scale")
        self._growth_factor = _check_growth_factor(growth_factor, name)
        self._backoff_factor = _check_backoff_factor(backoff_factor, name)
        self._growth_interval = _check_growth_interval(growth_interval, name)
        self._init_growth_tracker = 0
        self._scale = None  # np.float32, created by the first scale()
        self._growth_tracker = None  # int, created with _scale
        self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    # ------------------------------------------------------------------------------ internals
    def _require_initialised(self, funcname):
        if self._scale is None:
            raise RuntimeError(
                f"GradScaler.{funcname}: the scale is not initialised yet; call "
                f"scaler.scale(loss) (and backward on it) earlier in the iteration"
            )

    def _lazy_init(self):
        with np.errstate(over="ignore"):
            self._scale = np.float32(self._init_scale)
        self._growth_tracker = int(self._init_growth_tracker)

    # ------------------------------------------------------------------------------ scale
    def scale(self, outputs):
        """``outputs * S``: a Tensor, or (nested) lists/tuples of Tensors, scaled by the current scale.

        The product is differentiable, so ``scale(loss).backward()`` gives gradients multiplied by S.
        The result keeps each tensor's dtype (float16 products are computed in float32 and rounded,
        as torch does).  Lists and tuples keep their type; other iterables come back as a lazy
        ``map``.  Disabled scaler: ``outputs`` unchanged.
        """
        if not self._enabled:
            return outputs

        def apply(val):
            if isinstance(val, TensorBase):
                if self._scale is None:
                    self._lazy_init()
                return _ScaleFn.apply(val, scale=np.asarray(self._scale, dtype=np.float32))
            if isinstance(val, (list, tuple)):
                return type(val)(map(apply, val))
            if isinstance(val, (str, bytes)) or not hasattr(val, "__iter__"):
                raise ValueError(
                    f"GradScaler.scale: outputs must be a Tensor or an iterable of Tensors, got {type(val).__name__}"
                )
            return map(apply, val)

        return apply(outputs)

    # ------------------------------------------------------------------------------ unscale_
    def unscale_(self, optimizer):
        """Divide (in place) the gradients of ``optimizer``'s parameters by the scale and record
        whether any of them holds an inf or NaN.

        Gradients are multiplied by ``inv = float32(1 / float64(S))`` in their own dtype; the check
        looks at the values before the multiplication.  Call it at most once per optimizer between
        ``update`` calls, and not after ``step``.  float16 gradients are refused (the master weights
        and their gradients are expected to be float32).
        """
        if not self._enabled:
            return
        self._require_initialised("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError(
                "GradScaler.unscale_: unscale_() has already been called on this optimizer since the last update()"
            )
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("GradScaler.unscale_: unscale_() is being called after step(); call update() first")
        inv_scale = np.float32(1.0 / np.float64(self._scale))
        state["found_inf"] = self._unscale_grads(optimizer, inv_scale, "unscale_")
        state["stage"] = OptState.UNSCALED

    @staticmethod
    def _unscale_grads(optimizer, inv_scale, funcname):
        """Unscale every gradient in place; 1.0 if any was non-finite, 0.0 if none, None if there
        were no gradients at all."""
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, (list, tuple)):
            raise TypeError(
                f"GradScaler.{funcname}: expected an optimizer with param_groups, got {type(optimizer).__name__}"
            )
        holders = []
        for group in groups:
            for p in group["params"]:
                if not isinstance(p, TensorBase):
                    raise TypeError(f"GradScaler.{funcname}: expected parameters to be Tensors, got {type(p).__name__}")
                g = p.grad
                if g is None:
                    continue
                arr = g.data if isinstance(g, TensorBase) else np.asarray(g)
                if arr.dtype == np.float16:
                    raise ValueError(
                        f"GradScaler.{funcname}: attempting to unscale float16 gradients; "
                        f"keep float32 master weights (autocast casts them to float16 for "
                        f"compute) so their gradients are float32"
                    )
                if arr.dtype.kind not in "fc":
                    raise TypeError(f"GradScaler.{funcname}: expected floating-point gradients, got dtype {arr.dtype}")
                holders.append((p, g, arr))
        if not holders:
            return None
        found = False
        for p, g, arr in holders:
            if not found and not np.isfinite(arr).all():
                found = True
            if inv_scale == 1.0:
                continue
            if isinstance(g, np.ndarray) and g.flags.writeable:
                np.multiply(g, inv_scale.astype(g.real.dtype), out=g)
            elif isinstance(g, TensorBase) and g.data.flags.writeable:
                np.multiply(g.data, inv_scale.astype(g.data.real.dtype), out=g.data)
            else:
                p.grad = arr * inv_scale.astype(arr.real.dtype)
        return 1.0 if found else 0.0

    # ------------------------------------------------------------------------------ step
    def step(self, optimizer, *args, **kwargs):
        """Unscale the gradients (unless ``unscale_`` already did) and call
        ``optimizer.step(*args, **kwargs)`` only if all of them are finite.

        Returns what ``optimizer.step`` returned, or ``None`` when the step was skipped.  A ``closure``
        keyword is refused (as in torch).  Disabled scaler: just ``optimizer.step(*args, **kwargs)``.
        """
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("GradScaler.step: closure use is not supported while the GradScaler is enabled")
        self._require_initialised("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("GradScaler.step: step() has already been called since the last update()")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if state["found_inf"] is None:
            raise RuntimeError(
                "GradScaler.step: no inf checks were recorded for this optimizer: none of "
                "its parameters has a gradient (call backward on the scaled loss first)"
            )
        retval = None
        if not state["found_inf"]:
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    # ------------------------------------------------------------------------------ update
    def update(self, new_scale=None):
        """Update the scale at the end of an iteration.

        With ``new_scale`` (a positive float, or a one-element Tensor without grad) the scale is set to
        it (rounded to float32) and the growth tracker is kept.  Otherwise: if any optimizer found
        inf/NaN gradients since the last update, S <- float32(S * backoff_factor) and the tracker
        resets to 0; else the tracker grows by one, and on reaching ``growth_interval``
        S <- float32(S * growth_factor) (kept only if finite) and the tracker resets to 0.
        The per-optimizer records of the iteration are cleared.
        """
        if not self._enabled:
            return
        self._require_initialised("update")
        if new_scale is not None:
            self._scale = np.float32(self._new_scale_value(new_scale))
        else:
            found = [s["found_inf"] for s in self._per_optimizer_states.values() if s["found_inf"] is not None]
            if not found:
                raise RuntimeError(
                    "GradScaler.update: no inf checks were recorded prior to update(); call "
                    "step(optimizer) or unscale_(optimizer) first"
                )
            if sum(found):
                self._scale = np.float32(float(self._scale) * self._backoff_factor)
                self._growth_tracker = 0
            else:
                successful = self._growth_tracker + 1
                if successful == self._growth_interval:
                    with np.errstate(over="ignore"):
                        grown = np.float32(float(self._scale) * self._growth_factor)
                    if np.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
                else:
                    self._growth_tracker = successful
        self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    @staticmethod
    def _new_scale_value(new_scale):
        name = "GradScaler.update"
        if isinstance(new_scale, TensorBase):
            if new_scale.numel() != 1 or new_scale.requires_grad:
                raise ValueError(
                    f"{name}: new_scale must be a float or a one-element Tensor that does not "
                    f"require grad, got a Tensor of shape {tuple(new_scale.shape)} with "
                    f"requires_grad={new_scale.requires_grad}"
                )
            value = new_scale.data.reshape(()).item()
        elif _is_real(new_scale):
            value = new_scale
        else:
            raise TypeError(
                f"{name}: new_scale must be a float or a one-element Tensor, got {type(new_scale).__name__}"
            )
        return _check_scale_value(value, name, "new_scale")

    # ------------------------------------------------------------------------------ accessors
    def get_scale(self):
        """The current scale as a Python float (``init_scale`` before the first ``scale`` call, 1.0
        when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale)

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = _check_growth_factor(new_factor, "GradScaler.set_growth_factor")

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = _check_backoff_factor(new_factor, "GradScaler.set_backoff_factor")

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = _check_growth_interval(new_interval, "GradScaler.set_growth_interval")

    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker

    def is_enabled(self):
        return self._enabled

    # ------------------------------------------------------------------------------ (de)serialisation
    def state_dict(self):
        """``{"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}`` (torch's
        keys); an empty dict when disabled.  Take it after ``update()``."""
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._get_growth_tracker(),
        }

    def load_state_dict(self, state_dict):
        """Restore a :meth:`state_dict` (a no-op when this scaler is disabled)."""
        if not self._enabled:
            return
        name = "GradScaler.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}: expected a dict, got {type(state_dict).__name__}")
        if len(state_dict) == 0:
            raise RuntimeError(
                f"{name}: the source state dict is empty, possibly because it was saved from a disabled GradScaler"
            )
        keys = ("scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker")
        missing = [k for k in keys if k not in state_dict]
        if missing:
            raise ValueError(f"{name}: state dict lacks the keys {missing}; expected {list(keys)}")
        scale = state_dict["scale"]
        if not _is_real(scale) or not math.isfinite(scale) or scale < 0:
            raise ValueError(f"{name}: scale must be a non-negative finite real number, got {scale!r}")
        scale = float(scale)
        growth = _check_growth_factor(state_dict["growth_factor"], name)
        backoff = _check_backoff_factor(state_dict["backoff_factor"], name)
        interval = _check_growth_interval(state_dict["growth_interval"], name)
        tracker = state_dict["_growth_tracker"]
        if isinstance(tracker, (bool, np.bool_)) or not isinstance(tracker, (int, np.integer)) or tracker < 0:
            raise ValueError(f"{name}: _growth_tracker must be a non-negative int, got {tracker!r}")
        self._init_scale = scale
        if self._scale is not None:
            self._scale = np.float32(scale)
        self._growth_factor, self._backoff_factor, self._growth_interval = growth, backoff, interval
        self._init_growth_tracker = int(tracker)
        if self._growth_tracker is not None:
            self._growth_tracker = int(tracker)

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise RuntimeError(
                    "GradScaler: an instance may only be pickled at the beginning of an "
                    "iteration, or at the end after scaler.update()"
                )
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        return (
            f"GradScaler(scale={self.get_scale()}, growth_factor={self._growth_factor}, "
            f"backoff_factor={self._backoff_factor}, growth_interval={self._growth_interval}, "
            f"enabled={self._enabled})"
        )
