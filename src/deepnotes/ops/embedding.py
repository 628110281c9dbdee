"""The embedding lookup primitive: a row gather whose backward scatters the gradients back into the
rows (``deepnotes.nn.functional.embedding`` validates and calls it)."""

import numpy as np

from ..autograd.function import Function
from ._graph import const, reshape
from .shape import IndexScatter, _scatter_add_rows


class _EmbeddingFn(Function):
    """out = weight[indices]; the gradient of row r is the sum of the gradients of the outputs that
    read it (divided by its count in the batch with ``scale_grad_by_freq``); ``padding_idx`` gets none."""

    def forward(self, weight, indices, padding_idx, scale_grad_by_freq):
        self.idx, self.shape = indices.reshape(-1), weight.shape
        self.padding_idx, self.scale = padding_idx, scale_grad_by_freq
        return weight[indices]

    def backward(self, g):
        idx = self.idx
        rows = g.reshape(idx.size, self.shape[1])
        if self.scale:
            counts = np.bincount(idx, minlength=self.shape[0])
            rows = rows / counts[idx][:, None].astype(g.dtype)
        if self.padding_idx is not None:
            keep = idx != self.padding_idx
            idx, rows = idx[keep], rows[keep]
        return _scatter_add_rows(self.shape, idx, np.ascontiguousarray(rows))

    def backward_graph(self, g):
        idx = self.idx
        rows = reshape(g, (idx.size, self.shape[1]))
        factor = np.ones(idx.size, dtype=g.data.dtype)
        if self.scale:
            factor /= np.bincount(idx, minlength=self.shape[0])[idx]
        if self.padding_idx is not None:
            factor[idx == self.padding_idx] = 0
        if self.scale or self.padding_idx is not None:
            rows = rows * const(g, factor[:, None])
        return IndexScatter.apply(rows, shape=self.shape, index=idx, advanced=True)
