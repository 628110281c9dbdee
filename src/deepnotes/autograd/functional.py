"""Higher-level derivatives of small functions, with torch.autograd.functional's API and conventions.

``vjp`` (v^T J), ``jvp`` (J v), ``jacobian``, ``hessian``, ``hvp`` (H v) and ``vhp`` (v^T H) of a
function ``func`` taking a tensor or a tuple of tensors.  As in torch:

* ``inputs`` is a tensor or a tuple of tensors; the results mirror that structure (a tensor for a
  tensor, tuples for tuples; ``jacobian`` nests output x input, ``hessian`` input x input).
* ``func`` runs on fresh copies of the inputs that require grad (``create_graph=False``: detached,
  so nothing reaches the caller's graph; ``create_graph=True``: the results stay differentiable with
  respect to the original inputs).
* without ``create_graph`` every returned tensor is outside the graph.
* ``strict=True`` raises when an output does not depend on an input; otherwise that part is zeros.

All of them are built on :func:`deepnotes.autograd.grad` (reverse mode).  ``jvp`` and ``hvp`` use the
"double backward" trick torch uses: J v is the gradient, with respect to a dummy cotangent u, of
u^T J v, i.e. of the vjp with u differentiated again.  ``jacobian`` takes one reverse sweep per
output element, so these are meant for small functions (optimisation in a few variables, Newton's
method, checks), not for network-sized Jacobians.
"""

from __future__ import annotations

import numpy as np

from .differentiate import _stack_graph, grad
from .function import TensorBase, enable_grad


def _as_tuple(value, what, fname):
    """(tuple of tensors, was it a tuple) for an argument or a result of ``func``."""
    is_tuple = isinstance(value, tuple)
    seq = value if is_tuple else (value,)
    for i, t in enumerate(seq):
        if not isinstance(t, TensorBase):
            kind = f"the {what}" if not is_tuple else f"element {i} of the {what}"
            raise TypeError(f"{fname}: {kind} must be a Tensor (or a tuple of Tensors), got {type(t).__name__}")
    return seq, is_tuple


def _prepare_inputs(inputs, create_graph):
    """Copies of the inputs that require grad: detached, or (create_graph) still in the caller's graph."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t * 1)  # a new node: differentiable back to the original
        else:
            c = type(t)._from_op(t.data, None)
            if c.data.dtype.kind == "f":
                c.requires_grad_(True)
            out.append(c)
    return tuple(out)


def _finish(values, create_graph):
    """Results outside the graph unless ``create_graph``."""
    return tuple(v if create_graph or v is None else type(v)._from_op(v.data, None) for v in values)


def _zeros_like(t):
    return type(t)._from_op(np.zeros_like(t.data), None)


def _unpack(values, is_tuple):
    return values if is_tuple else values[0]


def _check_v(v, refs, what, fname):
    """``v`` (tensor or tuple, matching ``refs`` in number and shapes) as a tuple."""
    vs, _ = _as_tuple(v, "v", fname)
    if len(vs) != len(refs):
        raise RuntimeError(f"{fname}: v has {len(vs)} elements but the {what} has {len(refs)}")
    for i, (a, b) in enumerate(zip(vs, refs)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(
                f"{fname}: entry {i} of v has shape {tuple(a.shape)}, expected {tuple(b.shape)} like the {what}"
            )
    return vs


def _one_element_v(refs, what, fname):
    for t in refs:
        if t.data.size != 1:
            raise RuntimeError(
                f"{fname}: v can only be omitted when the {what} is a single-element tensor, got shape {tuple(t.shape)}"
            )
    return tuple(type(t)._from_op(np.ones_like(t.data), None) for t in refs)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, fname, retain_graph=None):
    """grad(...) with unused inputs as zeros (or, strict, an error naming the input)."""
    needs = [o.requires_grad for o in outputs]
    if not any(needs):
        gs = (None,) * len(inputs)
    else:
        outs = [o for o, n in zip(outputs, needs) if n]
        gos = [g for g, n in zip(grad_outputs, needs) if n]
        gs = grad(outs, inputs, gos, retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)
    out = []
    for i, (g, t) in enumerate(zip(gs, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"{fname}: the output of the user-provided function is independent of input {i}. "
                    "This is not allowed in strict mode."
                )
            g = _zeros_like(t)
        out.append(g)
    return tuple(out)


def _run(func, inputs, fname):
    with enable_grad():
        outputs = func(*inputs)
    return _as_tuple(outputs, "outputs of func", fname)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product (a reverse-mode sweep seeded with ``v``)."""
    fname = "vjp"
    inputs_t, in_tuple = _as_tuple(inputs, "inputs", fname)
    xs = _prepare_inputs(inputs_t, create_graph)
    outs, out_tuple = _run(func, xs, fname)
    vs = _check_v(v, outs, "output", fname) if v is not None else _one_element_v(outs, "output", fname)
    res = _grads(outs, xs, vs, create_graph, strict, fname)
    return _unpack(_finish(outs, create_graph), out_tuple), _unpack(_finish(res, create_graph), in_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, by differentiating a vjp with respect to its
    cotangent (double backward)."""
    fname = "jvp"
    inputs_t, in_tuple = _as_tuple(inputs, "inputs", fname)
    xs = _prepare_inputs(inputs_t, create_graph)
    vs = _check_v(v, xs, "input", fname) if v is not None else _one_element_v(xs, "input", fname)
    outs, out_tuple = _run(func, xs, fname)
    us = tuple(type(o)._from_op(np.zeros_like(o.data), None).requires_grad_(True) for o in outs)
    with enable_grad():
        g_in = _grads(outs, xs, us, True, strict, fname)
    res = _grads(g_in, us, vs, create_graph, strict, fname)
    return _unpack(_finish(outs, create_graph), out_tuple), _unpack(_finish(res, create_graph), out_tuple)


def _check_strategy(strategy, vectorize, fname):
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(f'{fname}: expected strategy to be either "forward-mode" or "reverse-mode", got {strategy!r}')
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError(f'{fname}: strategy="forward-mode" requires vectorize=True')


def _jacobian_rows(outs, xs, create_graph, strict, fname):
    """For each output, for each input, the Jacobian block of shape out.shape + in.shape."""
    blocks = []
    for k, out in enumerate(outs):
        n = out.data.size
        rows = [[] for _ in xs]
        for j in range(n):
            seed = np.zeros(n, dtype=out.data.dtype)
            seed[j] = 1
            gos = [
                type(o)._from_op(seed.reshape(o.shape) if i == k else np.zeros_like(o.data), None)
                for i, o in enumerate(outs)
            ]
            gs = _grads([out], xs, [gos[k]], create_graph, False, fname, retain_graph=True)
            for i, g in enumerate(gs):
                rows[i].append(g)
        per_input = []
        for i, x in enumerate(xs):
            shape = tuple(out.shape) + tuple(x.shape)
            if strict and out.requires_grad:
                _strict_dependency(out, x, i, fname)
            if not rows[i]:
                block = type(x)._from_op(np.zeros(shape, dtype=x.data.dtype), None)
            elif create_graph:
                block = _stack_graph(rows[i]).reshape(tuple(out.shape) + tuple(x.shape))
            else:
                block = type(x)._from_op(
                    np.stack([r.data for r in rows[i]]).reshape(tuple(out.shape) + tuple(x.shape)), None
                )
            per_input.append(block)
        blocks.append(tuple(per_input))
    return blocks


def _strict_dependency(out, x, i, fname):
    seed = type(out)._from_op(np.ones_like(out.data), None)
    (g,) = grad([out], [x], [seed], retain_graph=True, allow_unused=True)
    if g is None:
        raise RuntimeError(
            f"{fname}: the output of the user-provided function is independent of input {i}. "
            "This is not allowed in strict mode."
        )


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output o and input x a tensor of shape
    o.shape + x.shape (nested tuples when there are several outputs or inputs, as torch)."""
    fname = "jacobian"
    _check_strategy(strategy, vectorize, fname)
    inputs_t, in_tuple = _as_tuple(inputs, "inputs", fname)
    xs = _prepare_inputs(inputs_t, create_graph)
    outs, out_tuple = _run(func, xs, fname)
    blocks = _jacobian_rows(outs, xs, create_graph, strict, fname)
    blocks = [_finish(b, create_graph) for b in blocks]
    if out_tuple and in_tuple:
        return tuple(blocks)
    if out_tuple:
        return tuple(b[0] for b in blocks)
    return blocks[0] if in_tuple else blocks[0][0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar-valued ``func`` at ``inputs``: the Jacobian of its gradient.  For inputs
    x_i and x_j, a tensor of shape x_i.shape + x_j.shape (a tuple of tuples for several inputs)."""
    fname = "hessian"
    _check_strategy(outer_jacobian_strategy, vectorize, fname)
    inputs_t, in_tuple = _as_tuple(inputs, "inputs", fname)

    def gradient(*xs):
        outs, _ = _run(func, xs, fname)
        if len(outs) != 1 or outs[0].data.size != 1:
            shapes = [tuple(o.shape) for o in outs]
            raise RuntimeError(
                f"{fname}: the function given to hessian should return a single Tensor with one element, "
                f"got outputs of shapes {shapes}"
            )
        out = outs[0]
        seed = type(out)._from_op(np.ones_like(out.data), None)
        return _grads([out], xs, [seed], True, strict, fname)

    res = jacobian(gradient, inputs_t, create_graph=create_graph, strict=strict)
    if in_tuple:
        return res
    return res[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar-valued ``func``: the gradient of <grad func, v>."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar-valued ``func``, computed by double backward as in torch."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph, strict, fname):
    inputs_t, in_tuple = _as_tuple(inputs, "inputs", fname)
    xs = _prepare_inputs(inputs_t, create_graph)
    vs = _check_v(v, xs, "input", fname) if v is not None else _one_element_v(xs, "input", fname)
    outs, out_tuple = _run(func, xs, fname)
    if len(outs) != 1 or outs[0].data.size != 1:
        raise RuntimeError(
            f"{fname}: the function given to {fname} should return a single Tensor with one element, "
            f"got outputs of shapes {[tuple(o.shape) for o in outs]}"
        )
    out = outs[0]
    seed = type(out)._from_op(np.ones_like(out.data), None)
    with enable_grad():
        jac = _grads([out], xs, [seed], True, strict, fname)
    if fname == "vhp":
        res = _grads(jac, xs, vs, create_graph, strict, fname)
    else:
        us = tuple(type(x)._from_op(np.zeros_like(x.data), None).requires_grad_(True) for x in xs)
        with enable_grad():
            back = _grads(jac, xs, us, True, strict, fname)
        res = _grads(back, us, vs, create_graph, strict, fname)
    return _unpack(_finish(outs, create_graph), out_tuple), _unpack(_finish(res, create_graph), in_tuple)
