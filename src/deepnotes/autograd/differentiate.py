"""``grad`` and the general backward sweep: several outputs, chosen inputs, higher-order gradients.

:func:`deepnotes.autograd.function.run_backward` is the first-order sweep of ``Tensor.backward()``
(one output, every leaf).  :func:`sweep` generalises it, with torch's semantics:

* ``inputs``: only the gradients of these tensors (leaves or not) are wanted.  Nodes from which no
  input can be reached are skipped, so their backward never runs.
* ``accumulate``: add the gradients into ``.grad`` (``Tensor.backward``), or return them
  (:func:`grad`, which leaves ``.grad`` alone).
* ``create_graph``: the backward pass is recorded.  Each node's gradient is then a tensor, and the
  node's ``backward_graph`` (its backward written with recorded operations on its inputs, see
  :class:`~deepnotes.autograd.function.Function`) replaces the NumPy ``backward``; the gradients it
  returns are graph tensors, which can be differentiated again, to any order.  A primitive without a
  ``backward_graph`` raises a RuntimeError naming it.  Without ``create_graph`` every node runs its
  NumPy ``backward``, the fast path of first-order training.
"""

from __future__ import annotations

import numpy as np

from .function import (
    TensorBase,
    _adoptable,
    _check_versions,
    _GradMode,
    _post_accumulate_grad_hooks,
    _ref_counts,
    _release,
    _topological_order,
    _versions,
)


def _needed_nodes(order, input_ids):
    """ids of the nodes from which some input can be reached (the inputs included)."""
    needed = set()
    for node in order:  # parents before children
        key = id(node)
        if key in input_ids:
            needed.add(key)
            continue
        ctx = node._ctx
        if ctx is not None:
            for parent in ctx.parents:
                if id(parent) in needed:
                    needed.add(key)
                    break
    return needed


def _check_node_versions(ctx, node):
    vc = node._vc
    if vc is not None and vc[0] != ctx._out_version:
        _check_versions(ctx, node)
    parents = ctx.parents
    if ctx._input_versions is None:
        for parent in parents:
            vc = parent._vc
            if vc is not None and vc[0]:
                _check_versions(ctx, node)
                break
    elif _versions(parents) != ctx._input_versions:
        _check_versions(ctx, node)


def _differentiable_backward(ctx, g):
    """``ctx.backward_graph(g)`` with recording on, or a RuntimeError naming the primitive."""
    backward_graph = type(ctx).backward_graph
    if backward_graph is None:
        name = type(ctx).__name__
        raise RuntimeError(
            f"backward: double backward (create_graph=True) is not supported through {name}: this "
            f"primitive has a first-order backward only (no backward_graph).  Compute this part of the "
            f"model without create_graph, or give {name} a backward_graph method written with "
            "differentiable tensor operations"
        )
    with _GradMode(True):
        return backward_graph(ctx, g)


def _as_dtype_shape(g, data, graph):
    """``g`` converted to the dtype and (by broadcasting) the shape of the array ``data``."""
    if graph:
        if g.data.dtype != data.dtype:
            g = g.to(data.dtype)
        if g.shape != data.shape:
            g = g.expand(data.shape)
        return g
    if g.dtype != data.dtype:
        g = g.astype(data.dtype)
    if g.shape != data.shape:
        g = np.broadcast_to(g, data.shape)
    return g


def _accumulate(node, g, graph):
    """Add ``g`` into ``node.grad``: a graph tensor with ``create_graph`` (out of place, as torch),
    else an array adopted or copied into a tensor outside the graph."""
    held = node._grad
    if graph:
        node._grad = g if held is None else held + g
        return
    if held is None:
        counts = _ref_counts(g)
        node._grad = type(node)._from_op(g if _adoptable(g, counts) else np.array(g), None)
    elif held._requires_grad:  # a graph gradient of an earlier create_graph pass: keep it intact
        node._grad = type(node)._from_op(held.data + g, None)
    else:
        held.data = held.data + g


def sweep(roots, seeds, retain_graph=False, create_graph=False, inputs=None, accumulate=True):
    """Reverse-mode sweep from the tensors ``roots`` seeded with ``seeds`` (arrays, or tensors with
    ``create_graph``).  With ``inputs`` (a sequence of tensors), only what leads to them is computed;
    returns the list of their gradients (None where an input was not reached).  With ``accumulate``
    the gradients of the leaves (of ``inputs`` when given) and of ``retain_grad`` tensors go into
    ``.grad``.  ``retain_graph`` False frees each node's saved values once it ran (torch's rule)."""
    order = _topological_order(roots)
    input_ids = needed = None
    results = None
    if inputs is not None:
        input_ids = {}
        for k, t in enumerate(inputs):
            input_ids.setdefault(id(t), []).append(k)
        needed = _needed_nodes(order, input_ids)
        results = [None] * len(inputs)
    grads = {}
    for root, seed in zip(roots, seeds):
        key = id(root)
        prev = grads.get(key)
        grads[key] = seed if prev is None else prev + seed
    graph = create_graph
    for node in reversed(order):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        key = id(node)
        is_input = input_ids is not None and key in input_ids
        if is_input:
            g = _as_dtype_shape(g, node.data, graph)
            for k in input_ids[key]:
                results[k] = g
        ctx = node._ctx
        if ctx is None:
            if accumulate and node._requires_grad and (input_ids is None or is_input):
                _accumulate(node, _as_dtype_shape(g, node.data, graph), graph)
                hooks = _post_accumulate_grad_hooks.get(key) if _post_accumulate_grad_hooks else None
                if hooks:
                    for hook in list(hooks.values()):
                        hook(node)
            continue
        if accumulate and (is_input or (node._retains_grad and input_ids is None)):
            _accumulate(node, g if graph else np.array(g), graph)
        parents = ctx.parents
        if needed is not None and not any(id(p) in needed for p in parents):
            continue
        _check_node_versions(ctx, node)
        in_grads = _differentiable_backward(ctx, g) if graph else ctx.backward(g)
        if not retain_graph:
            _release(ctx)
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        if len(in_grads) != len(parents):
            raise RuntimeError(
                f"{type(ctx).__name__}.backward returned {len(in_grads)} gradients for {len(parents)} inputs"
            )
        for parent, pg in zip(parents, in_grads):
            if pg is None or not parent._requires_grad:
                continue
            pkey = id(parent)
            if needed is not None and pkey not in needed:
                continue
            data = parent.data
            if pg.shape != data.shape:
                raise RuntimeError(
                    f"{type(ctx).__name__}.backward produced a gradient of shape {tuple(pg.shape)} "
                    f"for an input of shape {data.shape}"
                )
            if graph:
                if not isinstance(pg, TensorBase):
                    raise RuntimeError(
                        f"{type(ctx).__name__}.backward_graph returned a {type(pg).__name__}; expected tensors"
                    )
                if pg.data.dtype != data.dtype:
                    pg = pg.to(data.dtype)
            elif pg.dtype != data.dtype:
                pg = pg.astype(data.dtype)
            prev = grads.get(pkey)
            grads[pkey] = pg if prev is None else prev + pg
        in_grads = pg = prev = g = None
    return results


def _tensors(value, what, name):
    """``value`` (a tensor or a sequence of tensors) as a tuple, checking each element."""
    seq = (value,) if isinstance(value, TensorBase) else tuple(value)
    for i, t in enumerate(seq):
        if not isinstance(t, TensorBase):
            raise TypeError(f"{name}: {what} must be tensors, got a {type(t).__name__} at position {i}")
    return seq


def _seeds(outputs, grad_outputs, graph, name):
    """One seed per output: the given gradient (tensor or array, of the output's shape) or ones for a
    one-element output.  Arrays for the NumPy sweep, tensors for a recorded one."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, (TensorBase, np.ndarray)):
        grad_outputs = (grad_outputs,)
    else:
        grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"{name}: grad_outputs has {len(grad_outputs)} elements for {len(outputs)} outputs; "
            "expected one per output (None for a one-element output)"
        )
    seeds = []
    for i, (out, go) in enumerate(zip(outputs, grad_outputs)):
        data = out.data
        if go is None:
            if data.size != 1:
                raise RuntimeError(
                    f"{name}: grad can be implicitly created only for scalar outputs; output {i} has "
                    f"shape {data.shape}, pass its grad_outputs"
                )
            seed = np.ones(data.shape, dtype=data.dtype)
            seeds.append(type(out)._from_op(seed, None) if graph else seed)
            continue
        if isinstance(go, TensorBase):
            arr = go.data
        else:
            arr = np.asarray(go)
        if arr.shape != data.shape:
            raise RuntimeError(
                f"{name}: mismatch in shape: grad_output[{i}] has a shape of {arr.shape} and output[{i}] "
                f"has a shape of {data.shape}"
            )
        if graph:
            t = go if isinstance(go, TensorBase) else type(out)._from_op(arr, None)
            seeds.append(t if t.data.dtype == data.dtype else t.to(data.dtype))
        else:
            seeds.append(arr if arr.dtype == data.dtype else arr.astype(data.dtype))
    return seeds


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """The gradients of ``outputs`` with respect to ``inputs`` (torch.autograd.grad), as a tuple.

    ``sum_i grad_outputs[i] . d outputs[i] / d input`` for each input; ``grad_outputs`` may be omitted
    for one-element outputs.  Nothing is added to any ``.grad``.  With ``create_graph`` the returned
    gradients are graph tensors and can be differentiated again (Hessians, gradient penalties);
    ``retain_graph`` defaults to ``create_graph``, and without it the graph's saved values are freed.
    An input the outputs do not depend on raises, unless ``allow_unused`` (its gradient is then None,
    or zeros with ``materialize_grads``).  ``is_grads_batched``: the first dimension of every
    grad_output indexes independent seeds, and each result gains that leading dimension.
    ``only_inputs`` is accepted and ignored (deprecated in torch).
    """
    name = "grad"
    outputs = _tensors(outputs, "outputs", name)
    inputs = _tensors(inputs, "inputs", name)
    if not outputs:
        raise ValueError(f"{name}: expected at least one output")
    if not inputs:
        raise ValueError(f"{name}: expected at least one input")
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError(
            f"{name}: expected allow_unused to be True or not passed when materialize_grads=True, "
            f"but got allow_unused={allow_unused}"
        )
    for i, t in enumerate(outputs):
        if not t._requires_grad:
            raise RuntimeError(f"{name}: element {i} of tensors does not require grad and does not have a grad_fn")
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError(
                f"{name}: one of the differentiated Tensors (input {i}, shape {tuple(t.data.shape)}) "
                "does not require grad"
            )
    graph = bool(create_graph)
    retain = graph if retain_graph is None else bool(retain_graph)
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain, graph, allow_unused, materialize_grads)
    seeds = _seeds(outputs, grad_outputs, graph, name)
    results = sweep(outputs, seeds, retain_graph=retain, create_graph=graph, inputs=inputs, accumulate=False)
    return _finish(results, inputs, graph, allow_unused, materialize_grads, name)


def _finish(results, inputs, graph, allow_unused, materialize_grads, name):
    out = []
    for i, (t, g) in enumerate(zip(inputs, results)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"{name}: one of the differentiated Tensors (input {i}, shape {tuple(t.data.shape)}) "
                    "appears to not have been used in the graph; set allow_unused=True if this is the "
                    "desired behavior"
                )
            out.append(type(t)._from_op(np.zeros_like(t.data), None) if materialize_grads else None)
        elif graph:
            out.append(g)
        else:
            out.append(type(t)._from_op(np.array(g), None))
    return tuple(out)


def _batched_grad(outputs, inputs, grad_outputs, retain, graph, allow_unused, materialize_grads):
    """``is_grads_batched``: one sweep per seed along the grad_outputs' first dimension, stacked."""
    name = "grad"
    if grad_outputs is None:
        raise RuntimeError(f"{name}: is_grads_batched=True needs grad_outputs with a leading batch dimension")
    gos = (grad_outputs,) if isinstance(grad_outputs, (TensorBase, np.ndarray)) else tuple(grad_outputs)
    sizes = {(go.data if isinstance(go, TensorBase) else np.asarray(go)).shape[0] for go in gos if go is not None}
    if len(sizes) != 1:
        raise RuntimeError(f"{name}: is_grads_batched=True needs grad_outputs of one common leading size, got {sizes}")
    (batch,) = sizes
    per_input = [[] for _ in inputs]
    for b in range(batch):
        seeds = _seeds(outputs, [None if go is None else go[b] for go in gos], graph, name)
        keep = retain or b < batch - 1
        results = sweep(outputs, seeds, retain_graph=keep, create_graph=graph, inputs=inputs, accumulate=False)
        for k, g in enumerate(_finish(results, inputs, graph, allow_unused, materialize_grads, name)):
            per_input[k].append(g)
    out = []
    for t, gs in zip(inputs, per_input):
        if any(g is None for g in gs):
            if all(g is None for g in gs):
                out.append(None)
                continue
            gs = [type(t)._from_op(np.zeros_like(t.data), None) if g is None else g for g in gs]
        out.append(_stack_graph(gs) if graph else type(t)._from_op(np.stack([g.data for g in gs]), None))
    return tuple(out)


def _stack_graph(tensors):
    """Stack graph tensors along a new first dimension with recorded operations (a sum of one-hot
    slices: the engine layer has no concatenation primitive of its own)."""
    n = len(tensors)
    out = None
    for b, t in enumerate(tensors):
        hot = np.zeros((n,) + (1,) * t.data.ndim, dtype=t.data.dtype)
        hot[b] = 1
        part = t.reshape((1,) + tuple(t.shape)) * type(t)._from_op(hot, None)
        out = part if out is None else out + part
    return out
