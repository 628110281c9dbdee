"""Indexing: ``x[...]`` (Slice, Squeeze, Unsqueeze, Gather, GatherND; also ``table[ids]`` with ``ids`` a
model input) and Embedding lookups."""

from __future__ import annotations

import numpy as np

from ..ops import shape as _S
from ..ops.embedding import _EmbeddingFn
from .consistency import same
from .registry import register_op
from .tracing import where

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


def _index_items(index):
    items = list(index) if isinstance(index, tuple) else [index]
    return [np.asarray(i) if isinstance(i, list) else i for i in items]


def _check_index(g, rec):
    """The index of a GetItem call may change between the traces only where it is the array of a
    traced tensor (x[idx] with idx a model input or computed by traced operations); returns the set
    of positions holding such arrays."""
    rb = g.recs_b[g.position]
    ia, ib = _index_items(rec.kwargs["index"]), _index_items(rb.kwargs["index"])
    dynamic = set()
    agree = len(ia) == len(ib)
    for k, (a, b) in enumerate(zip(ia, ib)):
        if isinstance(a, np.ndarray) and id(a) in g.traced_a and isinstance(b, np.ndarray) and id(b) in g.traced_b:
            dynamic.add(k)
        elif not same(a, b):
            agree = False
    if not agree:
        raise NotImplementedError(
            f"export: the index of {where(rec)} changes with the input ({rec.kwargs['index']!r} vs "
            f"{rb.kwargs['index']!r}): it is computed outside deepnotes' traced primitives (or follows the "
            "batch size) and would be frozen into the graph"
        )
    return dynamic


@register_op(_S.GetItem, varying_kwargs=("index",))
def _getitem(g, rec, out):
    x = rec.inputs[0]
    index = rec.kwargs["index"]
    dynamic = _check_index(g, rec)
    if dynamic:
        items = _index_items(index)
        k = min(dynamic)
        arr = items[k]
        rest = items[:k] + items[k + 1 :]
        if (
            len(dynamic) > 1
            or arr.dtype == np.bool_
            or any(
                isinstance(i, np.ndarray) or i is None or i is Ellipsis or isinstance(i, (int, np.integer))
                for i in rest
            )
            or len(items) > x.ndim
        ):
            raise NotImplementedError(
                f"export: {where(rec)}: indexing with a traced tensor is exported only "
                "as x[..slices.., idx, ..slices..] with one integer index tensor"
            )
        sliced = _basic_index(
            g,
            g.value(x),
            x.shape,
            [slice(None) if j == k else i for j, i in enumerate(items + [slice(None)] * (x.ndim - len(items)))],
            None,
        )
        idx = g.value(g.traced_a[id(arr)])
        if arr.dtype not in (np.int32, np.int64):
            idx = g.node("Cast", [idx], to=g.helper.np_dtype_to_tensor_dtype(np.dtype(np.int64)))
        g.node("Gather", [sliced, idx], out, axis=k)
        return
    items = _index_items(index)
    n_consume = sum(
        1
        for i in items
        if i is not None and i is not Ellipsis and not (isinstance(i, np.ndarray) and i.dtype == np.bool_)
    )
    n_consume += sum(i.ndim for i in items if isinstance(i, np.ndarray) and i.dtype == np.bool_)
    if any(i is Ellipsis for i in items):
        k = items.index(Ellipsis)
        items[k : k + 1] = [slice(None)] * (x.ndim - n_consume)
    items += [slice(None)] * (x.ndim - n_consume)
    # a boolean mask over k axes stands for the k integer arrays of its nonzero positions
    expanded = []
    for i in items:
        if isinstance(i, np.ndarray) and i.dtype == np.bool_:
            expanded.extend(np.nonzero(i) if i.ndim else [np.asarray(0)])
        else:
            expanded.append(i)
    items = expanded
    arrays = [k for k, i in enumerate(items) if isinstance(i, np.ndarray)]
    xv = g.value(x)
    if not arrays:
        _basic_index(g, xv, x.shape, items, out)
        return
    if len(arrays) == 1 and not any(isinstance(i, (int, np.integer)) or i is None for i in items):
        # one integer array among slices: slice first, then Gather along the array's axis
        axis = arrays[0]
        rest = [slice(None) if k == axis else i for k, i in enumerate(items)]
        sliced = _basic_index(g, xv, x.shape, rest, None)
        idx = items[axis].astype(np.int64)
        g.node("Gather", [sliced, g.const(idx, "indices")], out, axis=axis)
        return
    advanced = [isinstance(i, (np.ndarray, int, np.integer)) for i in items]
    lead = advanced.index(False) if False in advanced else len(items)
    if not any(advanced[lead:]) and all(isinstance(i, slice) and i == slice(None) for i in items[lead:]):
        # leading advanced indices, whole trailing axes: GatherND with the broadcast index tuples
        parts = [np.asarray(i, dtype=np.int64) for i in items[:lead]]
        parts = [np.where(p < 0, p + x.shape[k], p) for k, p in enumerate(parts)]
        idx = np.stack(np.broadcast_arrays(*parts), axis=-1)
        g.node("GatherND", [xv, g.const(idx, "indices")], out)
        return
    raise NotImplementedError(
        f"export: {where(rec)}: this mix of integer-array and other indices ({index!r}) has no ONNX translation"
    )


def _basic_index(g, xv, shape, items, out):
    """ints, slices and None over ``shape``: one Slice, a Squeeze for ints, an Unsqueeze for None."""
    starts, ends, axes, steps = [], [], [], []
    squeeze, unsqueeze = [], []
    ax = 0
    pos = 0
    for i in items:
        if i is None:
            unsqueeze.append(pos)
            pos += 1
            continue
        if isinstance(i, slice):
            step = 1 if i.step is None else int(i.step)
            start = (0 if step > 0 else -1) if i.start is None else int(i.start)
            stop = (_INT64_MAX if step > 0 else _INT64_MIN) if i.stop is None else int(i.stop)
            if not (start == 0 and stop == _INT64_MAX and step == 1):
                starts.append(start)
                ends.append(stop)
                axes.append(ax)
                steps.append(step)
            pos += 1
        else:
            k = int(i)
            starts.append(k)
            ends.append(k + 1 if k != -1 else _INT64_MAX)
            axes.append(ax)
            steps.append(1)
            squeeze.append(ax)
        ax += 1
    v = xv
    steps_needed = [starts, ends, axes, steps] if starts else None
    last = [bool(steps_needed), bool(squeeze), bool(unsqueeze)]
    final = max((k for k, f in enumerate(last) if f), default=-1)
    if final == -1:
        return v if out is None else g.node("Identity", [v], out)
    if steps_needed:
        v = g.node(
            "Slice",
            [v, g.ints(starts, "starts"), g.ints(ends, "ends"), g.ints(axes, "axes"), g.ints(steps, "steps")],
            out if final == 0 else None,
        )
    if squeeze:
        v = g.squeeze(v, squeeze, out if final == 1 else None)
    if unsqueeze:
        v = g.unsqueeze(v, unsqueeze, out)
    return v


@register_op(_EmbeddingFn, varying_kwargs=("indices",))
def _embedding(g, rec, out):
    # weight[indices]: the indices are a keyword array, taken from the graph when they are the data of
    # a traced tensor (the model input), else a constant
    weight = rec.inputs[0]
    idx = _array_kwarg(g, rec, "indices")
    g.node("Gather", [g.value(weight), idx], out, axis=0)


def _array_kwarg(g, rec, name):
    """The value name of an array keyword argument: the traced tensor it belongs to, or a constant when
    both traces agree on it."""
    a, b = rec.kwargs[name], g.recs_b[g.position].kwargs[name]
    if isinstance(a, np.ndarray) and id(a) in g.traced_a and isinstance(b, np.ndarray) and id(b) in g.traced_b:
        v = g.value(g.traced_a[id(a)])
        if a.dtype not in (np.int32, np.int64):
            v = g.node("Cast", [v], to=g.helper.np_dtype_to_tensor_dtype(np.dtype(np.int64)))
        return v
    if same(a, b):
        return g.const(np.asarray(a), name)
    raise NotImplementedError(
        f"export: the argument {name!r} of {where(rec)} changes with the input but is not "
        "a traced tensor (it is computed outside deepnotes' primitives)"
    )
