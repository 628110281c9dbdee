"""Gradient clipping (torch.nn.utils semantics), used against exploding gradients (seed 001)."""

import math

import numpy as np

from ...tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad.data for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so their joint ``norm_type`` norm is at most ``max_norm``.

    total = ||(||g_1||, ..., ||g_n||)||_p; every g_i is multiplied by min(1, max_norm / (total + 1e-6)).
    Returns the total norm before clipping (as a 0-d Tensor, like torch).
    """
    if max_norm is None or float(max_norm) < 0 or math.isnan(float(max_norm)):
        raise ValueError(f"clip_grad_norm_: max_norm must be a non-negative number, got {max_norm!r}")
    norm_type = float(norm_type)
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.zeros((), dtype=np.float32))
    if math.isinf(norm_type):
        norms = [np.abs(g).max() if g.size else np.zeros((), g.dtype) for g in grads]
        total = np.max(np.stack(norms))
    else:
        norms = [np.linalg.norm(g.ravel(), ord=norm_type) if g.size else 0.0 for g in grads]
        total = np.linalg.norm(np.asarray(norms, dtype=np.float64), ord=norm_type)
    dtype = grads[0].dtype
    total = np.asarray(total, dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{float(total)}; set error_if_nonfinite=False to clip anyway"
        )
    coef = np.minimum(np.asarray(max_norm, dtype=dtype) / (total + np.asarray(1e-6, dtype=dtype)), 1.0)
    for g in grads:
        np.multiply(g, coef.astype(g.dtype), out=g)
    return Tensor(total)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element into [-clip_value, clip_value] in place."""
    if clip_value is None or float(clip_value) < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be a non-negative number, got {clip_value!r}")
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
