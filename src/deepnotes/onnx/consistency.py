"""Checks that two traces of a model agree, so that nothing input-dependent is frozen into the graph.

An operation sequence that changes with the input, a static argument that changes (other than those a
translation declares as following the batch size) or a constant computed from the input outside the
traced primitives is reported instead of being exported.  Constants filled with one value whose shape
follows the batch size are returned, to become ``Expand`` nodes.
"""

from __future__ import annotations

import numpy as np

from .registry import lookup
from .tracing import where


def same(a, b):
    """Structural equality of static arguments (tuples, numbers, slices, arrays, dtypes...)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, slice) and isinstance(b, slice):
        return same((a.start, a.stop, a.step), (b.start, b.stop, b.step))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - objects without a usable equality
        return a is b


def sources(records, inputs):
    """For each record, per input: ('op', index) / ('in', k) / ('const', tensor)."""
    made = {}
    ins = {id(t): k for k, t in enumerate(inputs)}
    out = []
    for i, rec in enumerate(records):
        row = []
        for t in rec.inputs:
            key = id(t)
            if key in made:
                row.append(("op", made[key]))
            elif key in ins:
                row.append(("in", ins[key]))
            else:
                row.append(("const", t))
        out.append(row)
        made[id(rec.out)] = i
    return out, made, ins


def same_structure(recs_a, recs_b):
    return len(recs_a) == len(recs_b) and all(a.cls is b.cls for a, b in zip(recs_a, recs_b))


def first_difference(recs_a, recs_b):
    k = next((i for i, (a, b) in enumerate(zip(recs_a, recs_b)) if a.cls is not b.cls), min(len(recs_a), len(recs_b)))
    first = where(recs_a[k]) if k < len(recs_a) else "the end of the trace"
    other = where(recs_b[k]) if k < len(recs_b) else "the end of the trace"
    return f"operation {k}: {first} vs {other}"


def _kwarg_arrays(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _kwarg_arrays(v)


def reachable(records, outputs):
    """Indices of the records the outputs depend on (through inputs, and through index arrays that are
    the data of a traced result)."""
    made = {id(r.out): i for i, r in enumerate(records)}
    made_data = {id(r.out.data): i for i, r in enumerate(records)}
    need = set()
    stack = [made[id(o)] for o in outputs if id(o) in made]
    while stack:
        i = stack.pop()
        if i in need:
            continue
        need.add(i)
        deps = [made.get(id(t)) for t in records[i].inputs]
        deps += [made_data.get(id(a)) for v in records[i].kwargs.values() for a in _kwarg_arrays(v)]
        stack.extend(j for j in deps if j is not None and j not in need and j < i)
    return need


def compare_traces(recs_a, recs_b, srcs_a, srcs_b, need, dynamic_batch):
    """Check that the second trace repeats the first; report what depends on the input."""
    hint = "; export with dynamic_batch=False" if dynamic_batch else ""
    sized = {}
    if not same_structure(recs_a, recs_b):
        raise ValueError(
            f"export: the model runs different operations for different inputs"
            f"{' (other values and another batch size)' if dynamic_batch else ''}: "
            f"{first_difference(recs_a, recs_b)}; data-dependent control flow cannot be "
            f"exported{hint}"
        )
    for i in sorted(need):
        a, b = recs_a[i], recs_b[i]
        ok = lookup(a.cls).varying
        for key in a.kwargs.keys() | b.kwargs.keys():
            if key in ok:
                continue
            if not same(a.kwargs.get(key), b.kwargs.get(key)):
                raise ValueError(
                    f"export: the static argument {key!r} of {where(a)} changes with the input "
                    f"({a.kwargs.get(key)!r} vs {b.kwargs.get(key)!r}); it would be frozen into "
                    f"the graph{hint}"
                )
        for j, (sa, sb) in enumerate(zip(srcs_a[i], srcs_b[i])):
            if sa[0] != sb[0] or (sa[0] != "const" and sa[1] != sb[1]):
                raise ValueError(
                    f"export: input {j} of {where(a)} comes from different operations for "
                    f"different inputs; the graph depends on the data{hint}"
                )
            if sa[0] == "const":
                if sa[1] is sb[1]:
                    continue
                da, db = sa[1].data, sb[1].data
                if (
                    da.shape != db.shape
                    and da.ndim == db.ndim
                    and da.dtype == db.dtype
                    and da.size
                    and db.size
                    and (da == da.flat[0]).all()
                    and (db == da.flat[0]).all()
                ):
                    # a filled tensor whose shape follows the batch (zeros(n, ...)): Expand of a scalar
                    sized[id(sa[1])] = db.shape
                    continue
                if (
                    da.shape != db.shape
                    or da.dtype != db.dtype
                    or not np.array_equal(da, db, equal_nan=da.dtype.kind == "f")
                ):
                    raise NotImplementedError(
                        f"export: input {j} of {where(a)} is computed from the model input outside "
                        "deepnotes' traced primitives (a comparison, argmax, floor/round, a NumPy round trip "
                        "or a tensor built from .data); it would be frozen into the graph as a constant"
                    )
    return sized
