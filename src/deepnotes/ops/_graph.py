"""Helpers for the primitives' ``backward_graph`` methods (higher-order gradients).

A ``backward_graph`` receives the output gradient as a tensor and computes the input gradients with
recorded operations, so that the backward pass can itself be differentiated.  These helpers build the
few pieces every such method needs: constants (arrays the forward pass saved, wrapped as tensors
outside the graph), the recorded form of :func:`deepnotes.autograd.function.unbroadcast` and the
recorded gradient of a reduction.  They use the tensors' own methods (``sum``, ``reshape``,
``expand``), so this module imports no primitive and every primitive module may import it.
"""

import numpy as np

from ..autograd.function import Function, _reduced_axes


def const(like, array):
    """``array`` as a tensor of ``like``'s class outside the graph (a constant of the backward graph)."""
    return type(like)._from_op(np.asarray(array), None)


def reshape(g, shape):
    """``g`` reshaped (recorded)."""
    shape = tuple(shape)
    return g if tuple(g.shape) == shape else g.reshape(shape)


def sum_to(g, shape):
    """Sum the tensor ``g`` down to ``shape`` with recorded operations: the gradient of broadcasting."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    axes = _reduced_axes(tuple(g.shape), shape)
    if axes:
        g = g.sum(axes, keepdim=True)
    return reshape(g, shape)


def expand_reduced(g, shape, axes, keepdim):
    """The gradient of a reduction over ``axes`` (recorded): ``g`` given its axes back and broadcast to
    the input ``shape``."""
    if not keepdim and axes:
        kept = list(g.shape)
        for a in axes:
            kept.insert(a, 1)
        g = reshape(g, kept)
    return g if tuple(g.shape) == tuple(shape) else g.expand(tuple(shape))


class _ZeroDerivativeLink(Function):
    """Identity on its first input ``t``; the second, ``x``, receives a zero gradient.

    A piecewise-linear primitive's gradient (relu: g * (x > 0)) depends on its input only through a
    mask, so its derivative with respect to the input is zero almost everywhere.  torch still records
    that dependency (its relu, leaky_relu, hardtanh, max-pool ... double backward formulas return
    zeros for the input), so a second derivative with respect to the input is a zero tensor, not
    "unused".  ``linked`` reproduces that: the backward graph stays connected to ``x``."""

    def forward(self, t, x):
        self.xshape, self.xdtype = x.shape, x.dtype
        return t

    def backward(self, g):
        return g, (np.zeros(self.xshape, self.xdtype) if self.needs_input_grad[1] else None)

    def backward_graph(self, g):
        return g, (const(g, np.zeros(self.xshape, self.xdtype)) if self.needs_input_grad[1] else None)


def linked(t, x):
    """``t`` (a gradient computed from ``x`` through masks only) kept connected to ``x`` with a zero
    derivative, as torch's double backward of the piecewise-linear primitives is."""
    if not x._requires_grad:
        return t
    return _ZeroDerivativeLink.apply(t, x)
