"""Shape primitives: reshape, permute, expand, indexing, cat, stack, pad and clone."""

import numpy as np

from ..autograd.function import Function, unbroadcast
from ._graph import reshape, sum_to


class Reshape(Function):
    def forward(self, a, shape):
        self.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot view a tensor of shape {a.shape} ({a.size} elements) "
                f"as shape {tuple(shape)}; the number of elements must stay the same "
                "(at most one -1)"
            ) from None

    def backward(self, g):
        return g.reshape(self.shape)

    def backward_graph(self, g):
        return reshape(g, self.shape)


class Permute(Function):
    def forward(self, a, dims):
        self.dims = dims
        return a.transpose(dims)

    def backward(self, g):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return g.transpose(inverse)

    def backward_graph(self, g):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return Permute.apply(g, dims=tuple(inverse))


class Expand(Function):
    """Broadcast to a larger shape without copying; the gradient sums over the broadcast axes."""

    def forward(self, a, shape):
        self.shape = a.shape
        return np.broadcast_to(a, shape)

    def backward(self, g):
        return unbroadcast(g, self.shape)

    def backward_graph(self, g):
        return sum_to(g, self.shape)


class Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g

    def backward_graph(self, g):
        return g


def _has_int_array(index):
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (list, np.ndarray)) and np.asarray(i).dtype != np.bool_ for i in items)


def _leading_rows(index):
    """The integer array when ``index`` selects whole rows along axis 0 (``x[idx]``, ``x[idx, :]``)."""
    if isinstance(index, np.ndarray):
        return index
    if (
        isinstance(index, tuple)
        and index
        and isinstance(index[0], np.ndarray)
        and all(isinstance(i, slice) and i == slice(None) for i in index[1:])
    ):
        return index[0]
    return None


def _scatter_add_rows(shape, idx, g):
    """out[idx[k]] += g[k] for whole rows along axis 0, vectorised without np.add.at.

    The indices are sorted; the k-th occurrence of every index forms a "level" with no repeats, so each
    level is one fancy-indexed addition.  Heavily repeated indices (many levels) use one reduceat over
    the sorted runs instead.
    """
    n = shape[0]
    idx = idx.ravel()
    if idx.size and idx.min() < 0:
        idx = np.where(idx < 0, idx + n, idx)
    rows = g.reshape((idx.size,) + tuple(shape[1:]))
    if len(shape) == 1:
        return np.bincount(idx, weights=rows, minlength=n).astype(g.dtype, copy=False)
    out = np.zeros(shape, dtype=g.dtype)
    m = idx.size
    if m == 0:
        return out
    order = np.argsort(idx, kind="stable")
    s = idx[order]
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    if starts.size == m:  # no repeats: a plain scatter
        out[idx] = rows
        return out
    rank = np.arange(m) - starts[np.cumsum(new) - 1]
    top = int(rank.max())
    if top < 16:
        for r in range(top + 1):
            sel = order[rank == r]
            out[idx[sel]] += rows[sel]
        return out
    flat = np.ascontiguousarray(rows[order].reshape(m, -1).T)
    out[s[starts]] = np.add.reduceat(flat, starts, axis=1).T.reshape((starts.size,) + tuple(shape[1:]))
    return out


class GetItem(Function):
    """``a[index]``.  Basic indexing (ints, slices, None, Ellipsis) and bool masks select each element
    at most once, so the gradient is written back by assignment; integer-array indices may repeat, so
    the gradient is accumulated (sorted run sums for whole rows, ``np.add.at`` otherwise)."""

    def forward(self, a, index, advanced=None):
        try:
            out = a[index]
        except IndexError as exc:
            raise IndexError(f"getitem: index {index!r} is invalid for a tensor of shape {a.shape}: {exc}") from None
        if self.needs_input_grad[0]:
            self.shape, self.index = a.shape, index
            self.advanced = _has_int_array(index) if advanced is None else advanced
        return out

    def backward(self, g):
        return _scatter(self.shape, self.index, self.advanced, g)

    def backward_graph(self, g):
        return IndexScatter.apply(g, shape=self.shape, index=self.index, advanced=self.advanced)


def _scatter(shape, index, advanced, g):
    """A zero array of ``shape`` with ``g`` added at ``index`` (the adjoint of ``a[index]``)."""
    if advanced:
        rows = _leading_rows(index)
        if rows is not None and g.dtype.kind == "f":
            return _scatter_add_rows(shape, rows, g)
        out = np.zeros(shape, dtype=g.dtype)
        np.add.at(out, index, g)
        return out
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g
    return out


class IndexScatter(Function):
    """The gradient of ``a[index]`` as a primitive: ``g`` added into zeros of ``shape`` at ``index``.
    Its own gradient is the indexing again, so indexing is differentiable to any order."""

    def forward(self, g, shape, index, advanced):
        self.index, self.advanced = index, advanced
        return _scatter(shape, index, advanced, g)

    def backward(self, gg):
        return gg[self.index]

    def backward_graph(self, gg):
        return GetItem.apply(gg, index=self.index, advanced=self.advanced)


class Cat(Function):
    def forward(self, *arrays, dim):
        self.sizes = [a.shape[dim] for a in arrays]
        self.dim = dim
        return np.concatenate(arrays, axis=dim)

    def backward(self, g):
        splits = np.cumsum(self.sizes)[:-1]
        parts = np.split(g, splits, axis=self.dim)
        return tuple(p if need else None for p, need in zip(parts, self.needs_input_grad))

    def backward_graph(self, g):
        out, start = [], 0
        pre = (slice(None),) * self.dim
        for size, need in zip(self.sizes, self.needs_input_grad):
            out.append(GetItem.apply(g, index=pre + (slice(start, start + size),), advanced=False) if need else None)
            start += size
        return tuple(out)


class Stack(Function):
    def forward(self, *arrays, dim):
        self.dim = dim
        return np.stack(arrays, axis=dim)

    def backward(self, g):
        parts = np.moveaxis(g, self.dim, 0)
        return tuple(p if need else None for p, need in zip(parts, self.needs_input_grad))

    def backward_graph(self, g):
        pre = (slice(None),) * self.dim
        return tuple(
            GetItem.apply(g, index=pre + (i,), advanced=False) if need else None
            for i, need in enumerate(self.needs_input_grad)
        )


class Pad(Function):
    """Padding with ``pad_width`` = ((before, after), ...) per axis, validated by ``deepnotes.tensor.pad``.

    constant: a new array filled with ``value`` (negative amounts crop); reflect: x[-1], x[-2], ...
    mirrored about the edge element (NumPy 'reflect'); replicate: the edge element repeated (NumPy
    'edge'); circular: wrap around (NumPy 'wrap').  The backward pass folds each padded border back onto
    the input positions it copied, axis by axis, with slices (no index arrays).
    """

    def forward(self, a, pad_width, mode="constant", value=0.0):
        self.pad_width, self.mode = pad_width, mode
        if mode == "constant":
            crop = tuple(slice(max(-b, 0), n - max(-e, 0)) for (b, e), n in zip(pad_width, a.shape))
            src = a[crop]
            shape = tuple(n + max(b, 0) + max(e, 0) for (b, e), n in zip(pad_width, src.shape))
            out = np.full(shape, value, dtype=a.dtype)
            inner = tuple(slice(max(b, 0), max(b, 0) + n) for (b, _), n in zip(pad_width, src.shape))
            out[inner] = src
            self.crop, self.inner, self.shape = crop, inner, a.shape
            return out
        np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
        self.shape = a.shape
        return np.pad(a, pad_width, mode=np_mode)

    def backward(self, g):
        if self.mode == "constant":
            out = np.zeros(self.shape, dtype=g.dtype)
            out[self.crop] = g[self.inner]
            return out
        for axis in range(g.ndim - 1, -1, -1):
            b, e = self.pad_width[axis]
            if b == 0 and e == 0:
                continue
            n = self.shape[axis]
            g = np.moveaxis(g, axis, 0)
            core = g[b : b + n].copy()
            left, right = g[:b], g[b + n :]
            if self.mode == "reflect":
                # padded position j < b copies x[b - j]; position b + n + j copies x[n - 2 - j]
                core[1 : b + 1] += left[::-1]
                core[n - 1 - e : n - 1] += right[::-1]
            elif self.mode == "replicate":
                core[0] += left.sum(axis=0)
                core[n - 1] += right.sum(axis=0)
            else:
                # circular: position j < b copies x[n - b + j]; position b + n + j copies x[j]
                core[n - b :] += left
                core[:e] += right
            g = np.moveaxis(core, 0, axis)
        return np.ascontiguousarray(g)

    def backward_graph(self, g):
        if self.mode != "constant":
            raise RuntimeError(
                f"backward: double backward (create_graph=True) is not supported through Pad with "
                f"mode {self.mode!r} (only mode 'constant' is); pad with zeros, or do not create_graph through it"
            )
        crop = tuple((-b, -e) for b, e in self.pad_width)
        return Pad.apply(g, pad_width=crop, mode="constant", value=0.0)
