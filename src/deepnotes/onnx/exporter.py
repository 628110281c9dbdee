"""``export``: trace the model twice, check the traces agree, translate each record, write the model."""

from __future__ import annotations

import os
import warnings

import numpy as np

from ..io import atomic_write_bytes
from ..tensor import Tensor
from .consistency import compare_traces, first_difference, reachable, same_structure, sources
from .graph import Graph
from .registry import lookup
from .tracing import perturbed, two_traces

_MIN_OPSET = 13


def _check_inputs(example_input):
    items = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    if not items:
        raise ValueError("export: example_input must hold at least one tensor")
    out = []
    for k, t in enumerate(items):
        if isinstance(t, Tensor):
            arr = t.data
        elif isinstance(t, np.ndarray):
            arr = t
        else:
            raise TypeError(
                f"export: example_input must be a Tensor, a NumPy array or a tuple of them, got "
                f"{type(t).__name__}" + (f" at position {k}" if len(items) > 1 else "")
            )
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"export: example inputs must hold numbers, got dtype {arr.dtype}")
        out.append(np.array(arr))
    return out


def _names_arg(names, n, what, default_base):
    if isinstance(names, str):
        names = (names,)
    try:
        names = tuple(names)
    except TypeError:
        raise TypeError(f"export: {what} must be a sequence of strings, got {names!r}") from None
    if not all(isinstance(s, str) and s for s in names):
        raise TypeError(f"export: {what} must be non-empty strings, got {names!r}")
    if len(names) != n:
        if len(names) == 1 and n > 1:
            return tuple(f"{names[0]}_{k}" for k in range(n))
        raise ValueError(f"export: {what} names {len(names)} values, but the model has {n}")
    if len(set(names)) != len(names):
        raise ValueError(f"export: {what} must be distinct, got {names!r}")
    return names


def export(
    model, example_input, path, input_names=("input",), output_names=("output",), opset_version=17, dynamic_batch=True
):
    """Write ``model`` as an ONNX graph to ``path`` and return the ``onnx.ModelProto``.

    The model runs in evaluation mode on ``example_input`` (a Tensor/array, or a tuple of them for a
    model with several inputs) while every primitive call is traced; its training flags are restored
    afterwards.  Parameters and buffers become initializers named after their ``state_dict`` keys.
    ``dynamic_batch`` makes dim 0 of every input and output symbolic (``"batch"``).  The graph is checked
    with ``onnx.checker.check_model`` and written atomically.  Needs the ``onnx`` package.

    Raises ``TypeError`` for a model that is not a ``deepnotes.nn.Module`` or inputs that are not
    tensors, ``NotImplementedError`` for a primitive with no ONNX translation (naming the primitive and
    the module that called it; add one with :func:`register_op`) and ``ValueError`` for models whose
    operations or constants change with the input.
    """
    from ..nn import Module

    if not isinstance(model, Module):
        raise TypeError(f"export: expected a deepnotes.nn.Module as the model, got {type(model).__name__}")
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"export: path must be a str or os.PathLike, got {type(path).__name__}")
    if isinstance(opset_version, bool) or not isinstance(opset_version, (int, np.integer)):
        raise TypeError(f"export: opset_version must be an int, got {opset_version!r}")
    if not isinstance(dynamic_batch, (bool, np.bool_)):
        raise TypeError(f"export: dynamic_batch must be a bool, got {dynamic_batch!r}")
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("export: the 'onnx' package is required (pip install onnx)") from exc
    top = onnx.defs.onnx_opset_version()
    if not _MIN_OPSET <= int(opset_version) <= top:
        raise ValueError(f"export: opset_version must be between {_MIN_OPSET} and {top}, got {opset_version}")
    opset = int(opset_version)
    arrays = _check_inputs(example_input)
    input_names = _names_arg(input_names, len(arrays), "input_names", "input")
    if dynamic_batch and any(a.ndim == 0 for a in arrays):
        raise ValueError("export: dynamic_batch=True needs inputs with a batch dimension, got a 0-d input")
    if dynamic_batch and len({a.shape[0] for a in arrays}) > 1:
        raise ValueError(
            f"export: dynamic_batch=True needs inputs with one batch size, got dim 0 sizes "
            f"{[a.shape[0] for a in arrays]}"
        )

    modes = [(m, m.training) for m in model.modules()]
    # parameters stop requiring grad while tracing: only the input's path records a graph, so layers
    # keep no weight-gradient buffers (im2col patches) alive; both flags are restored afterwards
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        inputs_a, recs_a, outs_a, inputs_b, recs_b, outs_b = two_traces(model, arrays, dynamic_batch)
        if dynamic_batch and arrays[0].shape[0] == 1 and not same_structure(recs_a, recs_b):
            # Tensor methods skip no-op calls (an expand or reshape to the shape a batch of one already
            # has), so a batch of one may trace fewer operations: trace batches of 2 and 3 instead
            arrays2 = [np.concatenate([a, p[:1]]) for a, p in zip(arrays, perturbed(arrays, False, seed=7))]
            traced = two_traces(model, arrays2, dynamic_batch)
            if same_structure(traced[1], traced[4]):
                warnings.warn(
                    "export: the model runs different operations for a batch of one than for larger batches "
                    f"({first_difference(recs_a, recs_b)}); the exported graph follows batches of 2 and "
                    "more. This is harmless for no-op shape calls skipped at batch size 1, but wrong for "
                    "code that branches on the batch size: check a batch of one, or export with "
                    "dynamic_batch=False",
                    UserWarning,
                    stacklevel=2,
                )
                arrays = arrays2
                inputs_a, recs_a, outs_a, inputs_b, recs_b, outs_b = traced
    finally:
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad_(flag)
    output_names = _names_arg(output_names, len(outs_a), "output_names", "output")
    if set(output_names) & set(input_names):
        raise ValueError(f"export: input_names {input_names} and output_names {output_names} must not share a name")
    if len(outs_b) != len(outs_a):
        raise ValueError("export: the model returns a different number of outputs for different inputs")

    srcs_a, made_a, ins_a = sources(recs_a, inputs_a)
    srcs_b, made_b, ins_b = sources(recs_b, inputs_b)
    need = reachable(recs_a, outs_a)
    for i in sorted(need):
        rec = recs_a[i]
        if lookup(rec.cls) is None:
            raise NotImplementedError(
                f"export: the primitive {rec.cls.__module__}.{rec.cls.__qualname__} has no ONNX translation "
                f"(called in module {rec.module or '<root>'}); register one with deepnotes.onnx.register_op"
            )
    sized = compare_traces(recs_a, recs_b, srcs_a, srcs_b, need, bool(dynamic_batch))
    for k, (oa, ob) in enumerate(zip(outs_a, outs_b)):
        ka = (
            ("op", made_a[id(oa)])
            if id(oa) in made_a
            else ("in", ins_a[id(oa)])
            if id(oa) in ins_a
            else ("const", None)
        )
        kb = (
            ("op", made_b[id(ob)])
            if id(ob) in made_b
            else ("in", ins_b[id(ob)])
            if id(ob) in ins_b
            else ("const", None)
        )
        if ka != kb:
            raise ValueError(f"export: output {k} comes from different operations for different inputs")
        if ka[0] == "const" and (oa.shape != ob.shape or not np.array_equal(oa.data, ob.data)):
            raise NotImplementedError(
                f"export: output {k} is computed from the input outside deepnotes' "
                "traced primitives; it cannot be exported"
            )

    named = {}
    for name, p in list(model.named_parameters()) + list(model.named_buffers()):
        named.setdefault(id(p.data if isinstance(p, Tensor) else p), name)
    batch = (arrays[0].shape[0], arrays[0].shape[0] + 1) if dynamic_batch else None
    # arrays of traced tensors (inputs and results), for indices taken from them (x[idx])
    traced_a = {id(t.data): t for t in list(inputs_a) + [r.out for r in recs_a]}
    traced_b = {id(t.data): t for t in list(inputs_b) + [r.out for r in recs_b]}
    g = Graph(onnx, opset, recs_b, batch, named, sized, traced_a, traced_b)
    helper = onnx.helper

    graph_inputs = []
    for name, t in zip(input_names, inputs_a):
        g.used_names.add(name)
        g.names[id(t)] = name
        g.input_names.append(name)
        dims = list(t.shape)
        if dynamic_batch:
            dims[0] = "batch"
        graph_inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(t.data.dtype), dims))
    # an output made by a traced call takes the output name directly; others go through Identity
    direct = {}
    for name, o in zip(output_names, outs_a):
        g.used_names.add(name)
        if id(o) in made_a and id(o) not in direct:
            direct[id(o)] = name

    for i, rec in enumerate(recs_a):
        if i not in need:
            continue
        fn = lookup(rec.cls).fn
        g.position = i
        g.scope = (rec.module or "<root>").split(" ")[0]
        out_name = direct.get(id(rec.out)) or g.unique(f"{g.scope}/{rec.cls.__name__}_{i}")
        fn(g, rec, out_name)
        g.names[id(rec.out)] = out_name

    graph_outputs = []
    for name, oa, ob in zip(output_names, outs_a, outs_b):
        if direct.get(id(oa)) != name:
            g.node("Identity", [g.value(oa)], name)
        dims = []
        for d, (da, db) in enumerate(zip(oa.shape, ob.shape)):
            dims.append(da if da == db else ("batch" if batch and (da, db) == batch else f"{name}_dim{d}"))
        graph_outputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(oa.data.dtype), dims))

    graph = helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs, initializer=g.initializers)
    opset_ids = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        graph,
        opset_imports=opset_ids,
        producer_name="deepnotes",
        ir_version=max(helper.find_min_ir_version_for(opset_ids), 7),
    )
    if proto.ByteSize() > 2**31 - 1:
        raise ValueError(
            f"export: the model needs {proto.ByteSize() / 2**30:.1f} GiB, more than the 2 GiB a "
            "single ONNX protobuf can hold"
        )
    payload = proto.SerializeToString()
    onnx.checker.check_model(payload)
    atomic_write_bytes(path, payload)
    return proto
