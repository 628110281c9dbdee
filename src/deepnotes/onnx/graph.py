"""The graph under construction, and the helpers translators build nodes with.

A translator receives the :class:`Graph` ``g`` and uses ``g.value(t)`` (the ONNX name of a traced
tensor or an initializer for a constant), ``g.node(op_type, inputs, out, **attributes)``,
``g.const(array)`` / ``g.ints(values)`` / ``g.scalar(value, dtype)``, ``g.reduce`` / ``g.squeeze`` /
``g.unsqueeze`` (which follow the opset's input-or-attribute convention) and ``g.shape_tensor`` (a shape
whose dimensions may follow the batch size).  ``g.recs_b[g.position]`` is the same call in the second
trace, for static arguments that follow the batch size.
"""

from __future__ import annotations

import numpy as np


class Graph:
    """Collects nodes and initializers and names the traced tensors."""

    def __init__(self, onnx, opset, recs_b, batch, named, sized, traced_a, traced_b):
        self.onnx, self.helper, self.nph = onnx, onnx.helper, onnx.numpy_helper
        self.opset = opset
        self.nodes, self.initializers = [], []
        self.names = {}  # id(tensor) -> value name
        self.const_keys = {}  # dedupe key -> initializer name
        self.keep = []  # keep arrays alive so ids stay unique
        self.recs_b = recs_b  # the second trace, aligned with the first (g.position)
        self.position = 0  # index of the record being translated
        self.scope = ""  # module path of that record, for node names
        self.batch = batch  # (batch size in trace A, in trace B) or None
        self.named = named  # id(array) -> parameter/buffer name
        self.sized = sized  # id(tensor) -> shape in trace B, for filled constants following the batch
        self.traced_a, self.traced_b = traced_a, traced_b  # id(array) -> traced tensor (inputs, results)
        self.used_names = set()
        self.counter = 0
        self.batch_value = None
        self.input_names = []

    # ------------------------------------------------------------------ names
    def unique(self, base):
        base = base.replace(" ", "_")
        name, k = base, 1
        while name in self.used_names:
            name = f"{base}_{k}"
            k += 1
        self.used_names.add(name)
        return name

    def const(self, array, hint="const"):
        """An initializer holding ``array``: deduplicated by identity, and by value when small."""
        arr = np.asarray(array)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"export: cannot store a constant of dtype {arr.dtype} in ONNX")
        key = (
            ("id", id(array), arr.dtype.str)
            if isinstance(array, np.ndarray) and arr.size > 16
            else ("val", arr.dtype.str, arr.shape, arr.tobytes())
        )
        name = self.const_keys.get(key)
        if name is None:
            name = self.unique(self.named.get(id(array), hint) if isinstance(array, np.ndarray) else hint)
            self.initializers.append(self.nph.from_array(np.ascontiguousarray(arr), name))
            self.const_keys[key] = name
            self.keep.append(array)
        return name

    def ints(self, values, hint="ints"):
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), hint)

    def scalar(self, value, dtype, hint="scalar"):
        return self.const(np.asarray(value, dtype=dtype), hint)

    def value(self, t):
        """The value name of an input tensor of a recorded call (an initializer for constants)."""
        name = self.names.get(id(t))
        if name is None:
            shape_b = self.sized.get(id(t))
            if shape_b is None:
                name = self.const(t.data, "const")
            else:
                fill = self.const(np.asarray(t.data.flat[0], dtype=t.data.dtype).reshape((1,) * t.ndim), "fill")
                name = self.node(
                    "Expand", [fill, self.shape_tensor(t.shape, shape_b, "a filled constant")], hint="filled"
                )
            self.names[id(t)] = name
        return name

    def node(self, op_type, inputs, outputs=None, n_out=1, hint=None, **attrs):
        """Append a node; returns its output name (or the list when ``n_out`` > 1)."""
        self.counter += 1
        if outputs is None:
            outputs = [self.unique(f"{hint or op_type}_{self.counter}") for _ in range(n_out)]
        elif isinstance(outputs, str):
            outputs = [outputs]
        node_name = self.unique(f"{self.scope}/{op_type}_{self.counter}")
        self.nodes.append(
            self.helper.make_node(
                op_type, list(inputs), outputs, name=node_name, **{k: v for k, v in attrs.items() if v is not None}
            )
        )
        return outputs[0] if len(outputs) == 1 else outputs

    # ------------------------------------------------------------------ batch-dependent shapes
    def batch_size(self):
        """A 1-element int64 tensor holding the runtime batch size (dim 0 of the first input)."""
        if self.batch_value is None:
            shape = self.node("Shape", [self.input_names[0]], hint="input_shape")
            self.batch_value = self.node("Gather", [shape, self.ints([0], "zero")], hint="batch", axis=0)
        return self.batch_value

    def shape_tensor(self, dims_a, dims_b, what):
        """An int64 shape: constant where the two traces agree, k * batch where a dim follows the batch."""
        if list(dims_a) == list(dims_b):
            return self.ints(dims_a, "shape")
        if self.batch is None:
            raise ValueError(
                f"export: {what} changes with the input values ({tuple(dims_a)} vs "
                f"{tuple(dims_b)}); it cannot be frozen into the graph"
            )
        ba, bb = self.batch
        parts, pending = [], []
        for a, b in zip(dims_a, dims_b):
            if a == b:
                pending.append(a)
                continue
            if ba == 0 or a % ba or b != (a // ba) * bb:
                raise ValueError(
                    f"export: {what} has a dimension that changes with the input ({a} for batch "
                    f"{ba}, {b} for batch {bb}) but is not a multiple of the batch size; export "
                    "with dynamic_batch=False"
                )
            if pending:
                parts.append(self.ints(pending, "shape"))
                pending = []
            k = a // ba
            bs = self.batch_size()
            parts.append(bs if k == 1 else self.node("Mul", [bs, self.ints([k], "k")], hint="dim"))
        if pending:
            parts.append(self.ints(pending, "shape"))
        return parts[0] if len(parts) == 1 else self.node("Concat", parts, hint="shape", axis=0)

    # ------------------------------------------------------------------ opset-dependent reductions
    def reduce(self, op_type, x, axes, keepdim, out=None):
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes, "axes")], out, keepdims=int(bool(keepdim)))
        return self.node(op_type, [x], out, axes=axes, keepdims=int(bool(keepdim)))

    def unsqueeze(self, x, axes, out=None):
        return self.node("Unsqueeze", [x, self.ints(axes, "axes")], out)

    def squeeze(self, x, axes, out=None):
        return self.node("Squeeze", [x, self.ints(axes, "axes")], out)


def one_to_one(op_type, **attrs):
    """A translator writing the single ONNX node ``op_type`` over the traced call's inputs, in order."""

    def translate(g, rec, out):
        g.node(op_type, [g.value(t) for t in rec.inputs], out, **attrs)

    translate.__qualname__ = f"one_to_one({op_type!r})"
    return translate
