"""Tracing: run the model while ``Function.apply`` records every outermost primitive call.

:func:`trace` installs a :class:`Tracer` as the hook of ``deepnotes.autograd.function``; each call of a
primitive made by the model (not the calls a primitive makes internally) becomes a :class:`Record`
holding the primitive's class, its input tensors (by identity), its static keyword arguments, its output
and the module that was running.  :func:`two_traces` runs the model twice, on the example input and on
perturbed values (one more sample when the batch is dynamic), for the checks in ``consistency.py``.
"""

from __future__ import annotations

import threading

import numpy as np

from ..autograd import function as _function
from ..tensor import Tensor, as_tensor


class Record:
    """One traced ``Function.apply`` call."""

    __slots__ = ("cls", "inputs", "kwargs", "out", "module")

    def __init__(self, cls, inputs, kwargs, out, module):
        self.cls, self.inputs, self.kwargs, self.out, self.module = cls, inputs, kwargs, out, module


class Tracer:
    """The ``Function.apply`` hook: runs each call and records it (only in the thread that traces, and
    never a call made while another one is running, so only the outermost primitives are recorded)."""

    def __init__(self, module_stack):
        self.thread = threading.get_ident()
        self.busy = False
        self.records = []
        self.module_stack = module_stack

    def __call__(self, cls, inputs, kwargs):
        if self.busy or threading.get_ident() != self.thread:
            return None
        # convert non-tensor inputs here, as apply would, so the recorded identities are the real ones
        inputs = tuple(t if isinstance(t, Tensor) else as_tensor(t) for t in inputs)
        self.busy = True
        try:
            out = cls.apply(*inputs, **kwargs)
        finally:
            self.busy = False
        self.records.append(
            Record(cls, inputs, dict(kwargs), out, self.module_stack[-1] if self.module_stack else None)
        )
        return out


def _module_label(name, module):
    return f"{name or '<root>'} ({type(module).__name__})"


def trace(model, inputs):
    """Run ``model(*inputs)`` with the tracer active; returns (records, outputs as a tuple)."""
    stack = []
    handles = []
    for name, mod in model.named_modules():
        label = _module_label(name, mod)

        def pre(m, args, _label=label):
            stack.append(_label)

        def post(m, args, out):
            if stack:
                stack.pop()

        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post))
    tracer = Tracer(stack)
    previous = _function.set_trace_hook(tracer)
    try:
        # grad mode stays on (inputs require grad) so that dtype casts are recorded primitives and an
        # in-place change of an activation, which a trace cannot see, raises instead of being lost
        with _function.enable_grad():
            out = model(*inputs)
    except RuntimeError as exc:
        if "in-place" in str(exc) or "item assignment" in str(exc):
            raise NotImplementedError(
                f"export: the model modifies an intermediate tensor in place ({exc}); in-place updates "
                "cannot be traced, use out-of-place operations"
            ) from exc
        if "numpy()" in str(exc):
            raise NotImplementedError(
                f"export: the model converts an intermediate tensor to NumPy ({exc}); values computed "
                "outside deepnotes' primitives cannot be traced"
            ) from exc
        raise
    finally:
        _function.set_trace_hook(previous)
        for hnd in handles:
            hnd.remove()
    if isinstance(out, Tensor):
        outs = (out,)
    elif isinstance(out, (tuple, list)) and out and all(isinstance(o, Tensor) for o in out):
        outs = tuple(out)
    else:
        raise TypeError(f"export: the model must return a Tensor or a tuple/list of Tensors, got {type(out).__name__}")
    return tracer.records, outs


def where(rec):
    """``rec``'s primitive and the module that called it, for error messages."""
    return f"{rec.cls.__name__} (in module {rec.module})" if rec.module else rec.cls.__name__


def perturbed(arrays, dynamic_batch, seed=12345):
    """Other inputs for the second trace: other values, and one more sample when the batch is dynamic."""
    rng = np.random.default_rng(seed)
    out = []
    for a in arrays:
        shape = list(a.shape)
        if dynamic_batch:
            shape[0] += 1
        if a.dtype.kind == "f":
            scale = float(np.std(a)) if a.size else 1.0
            centre = float(np.mean(a)) if a.size else 0.0
            b = rng.standard_normal(shape) * (scale if scale > 0 else 1.0) + centre
        elif a.dtype.kind in "iu":
            lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 1)
            b = rng.integers(lo, hi + 1, size=shape)
        else:
            b = rng.random(shape) < 0.5
        out.append(np.asarray(b).astype(a.dtype))
    return out


def two_traces(model, arrays, dynamic_batch):
    """Trace on ``arrays`` and on :func:`perturbed` copies: (inputs, records, outputs) of each."""
    inputs_a = as_inputs(arrays)
    recs_a, outs_a = trace(model, inputs_a)
    inputs_b = as_inputs(perturbed(arrays, dynamic_batch))
    try:
        recs_b, outs_b = trace(model, inputs_b)
    except (ValueError, IndexError, RuntimeError) as exc:
        if not dynamic_batch:
            raise
        raise ValueError(
            f"export: dynamic_batch=True, but the model fails on a batch of another size "
            f"({exc}); export with dynamic_batch=False"
        ) from exc
    return inputs_a, recs_a, outs_a, inputs_b, recs_b, outs_b


def as_inputs(arrays):
    """Tensors for the traced inputs (floating ones require grad, so casts are recorded)."""
    tensors = []
    for a in arrays:
        t = Tensor(a)
        if a.dtype.kind == "f":
            t.requires_grad_(True)
        tensors.append(t)
    return tensors
