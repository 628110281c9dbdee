"""Reductions over axes: sum, mean, var, prod, amax/amin (ties share the gradient) and the selection of
one element along an axis (max/min with ``dim``: the gradient goes to the returned index)."""

import numpy as np

from ..autograd.function import Function
from ._graph import const, expand_reduced
from .elementwise import Where
from .shape import Expand


def normalize_axes(dim, ndim, name):
    """Turn ``dim`` (None, int or sequence, negatives allowed) into a sorted tuple of axes.

    A 0-d tensor accepts dims 0 and -1 (as torch does) and reduces over nothing.
    """
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)) and not isinstance(dim, (bool, np.bool_)):
        d = int(dim)
        n = ndim if ndim else 1
        if not -n <= d < n:
            raise IndexError(
                f"{name}: dim {d} is out of range for a tensor with {ndim} dimensions (expected [{-n}, {n - 1}])"
            )
        return (d % n,) if ndim else ()
    try:
        dims = tuple(dim)
    except TypeError:
        raise TypeError(f"{name}: dim must be an int or a sequence of ints, got {dim!r}") from None
    out = []
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, (bool, np.bool_)):
            raise TypeError(f"{name}: dim must be an int or a sequence of ints, got {dim!r}")
        out.extend(normalize_axes(d, ndim, name))
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: dim {dim!r} names an axis more than once")
    return tuple(sorted(out))


def _count(shape, axes):
    n = 1
    for i in axes:
        n *= shape[i]
    return n


def _expand_back(g, shape, axes, keepdim):
    """The gradient of a reduction broadcast back to the input shape (a read-only view, no copy)."""
    if not keepdim and axes:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


class Sum(Function):
    """sum over ``axes``; d/dx_i = 1 for every element, so the gradient is broadcast back."""

    def forward(self, a, axes, keepdim):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        return np.asarray(a.sum(axis=axes, keepdims=keepdim))

    def backward(self, g):
        return _expand_back(g, self.shape, self.axes, self.keepdim)

    def backward_graph(self, g):
        return expand_reduced(g, self.shape, self.axes, self.keepdim)


class Mean(Function):
    """mean over ``axes`` (N elements each); d/dx_i = 1/N."""

    def forward(self, a, axes, keepdim):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        self.count = n = _count(a.shape, axes)
        if n == 0 or a.dtype.kind not in "f" or a.dtype == np.float16:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.asarray(a.mean(axis=axes, keepdims=keepdim))
        # a sum and one scaling: the same pairwise summation as ndarray.mean, without its overhead
        out = np.add.reduce(a, axis=axes, keepdims=keepdim)
        if isinstance(out, np.ndarray):
            out *= a.dtype.type(1.0 / n)
            return out
        return np.asarray(out * a.dtype.type(1.0 / n))

    def backward(self, g):
        if self.count == 0:
            g = g * g.dtype.type(np.nan)
        else:
            g = g * g.dtype.type(1.0 / self.count)
        return _expand_back(g, self.shape, self.axes, self.keepdim)

    def backward_graph(self, g):
        scale = g.data.dtype.type(np.nan if self.count == 0 else 1.0 / self.count)
        return expand_reduced(g * scale, self.shape, self.axes, self.keepdim)


class Var(Function):
    """var = sum_i (x_i - mean)^2 / (N - correction); d var / d x_i = 2 (x_i - mean) / (N - correction)
    (the mean's own dependence on x_i cancels because the deviations sum to zero).  N - correction <= 0
    gives inf or nan, as in torch."""

    def forward(self, a, axes, correction, keepdim):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        n = _count(a.shape, axes)
        self.denom = a.dtype.type(max(n - correction, 0))
        if n == 0 or self.denom == 0:
            with np.errstate(invalid="ignore", divide="ignore"):
                c = a - a.mean(axis=axes, keepdims=True)
                out = np.asarray(np.square(c).sum(axis=axes, keepdims=keepdim) / self.denom)
        else:
            c = a - np.add.reduce(a, axis=axes, keepdims=True) * a.dtype.type(1.0 / n)
            out = np.asarray(np.add.reduce(c * c, axis=axes, keepdims=keepdim) / self.denom)
        self.centred = c
        return out

    def backward(self, g):
        if not self.keepdim and self.axes:
            g = np.expand_dims(g, self.axes)
        if self.denom == 0:
            with np.errstate(invalid="ignore", divide="ignore"):
                return (g * (g.dtype.type(2) / self.denom)) * self.centred
        return (g * (g.dtype.type(2) / self.denom)) * self.centred

    def backward_graph(self, g):
        x = self.parents[0]
        centred = x - Mean.apply(x, axes=self.axes, keepdim=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = g.data.dtype.type(2) / self.denom
        return expand_reduced(g * scale, self.shape, self.axes, self.keepdim) * centred


class Prod(Function):
    """Product over one axis; d/dx_i = product of all the other elements, computed from exclusive
    running products from the left and from the right, so zeros are handled exactly."""

    def forward(self, a, axis, keepdim):
        self.a, self.axis, self.keepdim = a, axis, keepdim
        return np.asarray(a.prod(axis=axis, keepdims=keepdim))

    def backward(self, g):
        a, axis = self.a, self.axis
        if not self.keepdim:
            g = np.expand_dims(g, axis)
        ones = np.ones_like(np.take(a, [0], axis=axis)) if a.shape[axis] else None
        if ones is None:
            return np.zeros_like(a)
        left = np.cumprod(np.concatenate([ones, np.delete(a, -1, axis=axis)], axis=axis), axis=axis)
        rev = np.flip(a, axis=axis)
        right = np.flip(
            np.cumprod(np.concatenate([ones, np.delete(rev, -1, axis=axis)], axis=axis), axis=axis), axis=axis
        )
        return g * left * right

    def backward_graph(self, g):
        """d/dx_i = the product of the others, recorded exactly (zeros included): x is repeated n times
        along a new axis with the i-th copy's i-th element replaced by 1, and each copy multiplied out."""
        x, axis = self.parents[0], self.axis
        shape = self.a.shape
        n = shape[axis]
        rep = shape[:axis] + (n, n) + shape[axis + 1 :]
        copies = Expand.apply(x.reshape(shape[:axis] + (1,) + shape[axis:]), shape=rep)
        eye = np.eye(n, dtype=bool).reshape((1,) * axis + (n, n) + (1,) * (len(shape) - axis - 1))
        one = const(g, np.ones((), dtype=g.data.dtype))
        others = Prod.apply(Where.apply(const(g, eye), one, copies), axis=axis + 1, keepdim=False)
        return expand_reduced(g, shape, (axis,), self.keepdim) * others


class AMax(Function):
    """Maximum over axes; tied maxima share the gradient equally (torch.amax's rule)."""

    largest = True

    def forward(self, a, axes, keepdim):
        if any(a.shape[i] == 0 for i in axes) or (a.size == 0 and not axes and a.ndim):
            raise ValueError(
                f"{'amax' if self.largest else 'amin'}: cannot reduce over an empty "
                f"dimension (input shape {a.shape}, dims {axes})"
            )
        out = a.max(axis=axes, keepdims=True) if self.largest else a.min(axis=axes, keepdims=True)
        self.a, self.out = a, out
        self.axes, self.keepdim = axes, keepdim
        return out if keepdim else np.squeeze(out, axis=axes)

    def backward(self, g):
        mask = self.a == self.out
        count = mask.sum(axis=self.axes, keepdims=True, dtype=g.dtype)
        if not self.keepdim and self.axes:
            g = np.expand_dims(g, self.axes)
        return mask * (g / count)

    def backward_graph(self, g):
        mask = self.a == self.out
        share = mask / mask.sum(axis=self.axes, keepdims=True, dtype=g.data.dtype)
        return expand_reduced(g, self.a.shape, self.axes, self.keepdim) * const(g, share)


class AMin(AMax):
    largest = False


class SelectDim(Function):
    """Pick ``index`` (kept-dim indices, e.g. an arg-max) along ``dim``; the gradient flows to exactly
    those positions: max/min with ``dim``."""

    def forward(self, a, dim, index, keepdim):
        self.index, self.dim, self.keepdim, self.shape = index, dim, keepdim, a.shape
        out = np.take_along_axis(a, index, axis=dim)
        return out if keepdim else np.squeeze(out, axis=dim)

    def backward(self, g):
        if not self.keepdim:
            g = np.expand_dims(g, self.dim)
        out = np.zeros(self.shape, dtype=g.dtype)
        np.put_along_axis(out, self.index, g, axis=self.dim)
        return out

    def backward_graph(self, g):
        hot = np.zeros(self.shape, dtype=g.data.dtype)
        np.put_along_axis(hot, self.index, 1, axis=self.dim)
        return expand_reduced(g, self.shape, (self.dim,), self.keepdim) * const(g, hot)


class MaxDim(Function):
    """``max(dim)`` values (arg-max computed here); kept for code that applies it directly."""

    largest = True

    def forward(self, a, dim, keepdim):
        idx = np.argmax(a, axis=dim, keepdims=True) if self.largest else np.argmin(a, axis=dim, keepdims=True)
        return SelectDim.forward(self, a, dim, idx, keepdim)

    backward = SelectDim.backward
    backward_graph = SelectDim.backward_graph


class MinDim(MaxDim):
    largest = False
