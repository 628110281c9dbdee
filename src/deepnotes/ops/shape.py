"""Shape primitives: reshape, permute, expand, indexing, cat, stack and pad."""
import numpy as np

from ..autograd.function import Function, unbroadcast


class Reshape(Function):
    def forward(self, a, shape):
        self.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot view a tensor of shape {a.shape} ({a.size} elements) "
                             f"as shape {tuple(shape)}") from None

    def backward(self, g):
        return g.reshape(self.shape)


class Permute(Function):
    def forward(self, a, dims):
        self.inverse = tuple(np.argsort(dims))
        return a.transpose(dims)

    def backward(self, g):
        return g.transpose(self.inverse)


class Expand(Function):
    def forward(self, a, shape):
        self.shape = a.shape
        return np.broadcast_to(a, shape)

    def backward(self, g):
        return unbroadcast(g, self.shape)


def _is_advanced(index):
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (list, np.ndarray)) for i in items)


class GetItem(Function):
    """``a[index]``: basic slicing scatters the gradient back by view; integer arrays accumulate with
    ``np.add.at`` so that repeated indices add up."""

    def forward(self, a, index):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        self.advanced = _is_advanced(index)
        return a[index]

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        if self.advanced:
            np.add.at(out, self.index, g)
        else:
            out[self.index] = g
        return out


class Cat(Function):
    def forward(self, *arrays, dim):
        self.sizes = [a.shape[dim] for a in arrays]
        self.dim = dim
        return np.concatenate(arrays, axis=dim)

    def backward(self, g):
        splits = np.cumsum(self.sizes)[:-1]
        parts = np.split(g, splits, axis=self.dim)
        return tuple(p if need else None for p, need in zip(parts, self.needs_input_grad))


class Stack(Function):
    def forward(self, *arrays, dim):
        self.dim = dim
        return np.stack(arrays, axis=dim)

    def backward(self, g):
        parts = np.moveaxis(g, self.dim, 0)
        return tuple(p if need else None for p, need in zip(parts, self.needs_input_grad))


class Pad(Function):
    """Constant, reflect, replicate or circular padding; ``pad`` lists (before, after) per axis."""

    def forward(self, a, pad_width, mode="constant", value=0.0):
        self.pad_width = pad_width
        self.shape = a.shape
        self.mode = mode
        if mode == "constant":
            return np.pad(a, pad_width, mode="constant", constant_values=value)
        np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
        if mode != "constant":
            self.index = np.pad(np.arange(a.size).reshape(a.shape), pad_width, mode=np_mode)
        return np.pad(a, pad_width, mode=np_mode)

    def backward(self, g):
        if self.mode == "constant":
            sl = tuple(slice(b, b + n) for (b, _), n in zip(self.pad_width, self.shape))
            return g[sl]
        out = np.zeros(int(np.prod(self.shape)), dtype=g.dtype)
        np.add.at(out, self.index.ravel(), g.ravel())
        return out.reshape(self.shape)
