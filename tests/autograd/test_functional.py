"""deepnotes.autograd.functional against torch.autograd.functional: vjp, jvp, jacobian, hessian, hvp and
vhp, with single tensors and tuples, create_graph, strict mode and argument errors."""

import numpy as np
import pytest
import torch
import torch.autograd.functional as TAF

import deepnotes as dn
import deepnotes.autograd.functional as AF
import deepnotes.nn.functional as F

import _oracle as oracle

RTOL, ATOL = 1e-10, 1e-12
rng = np.random.default_rng(21)
A, B, V3, VB = rng.standard_normal(3), rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal((2, 3))
W33 = rng.standard_normal((3, 3))


def scalar_fn(lib):
    def f(x, y):
        return ((x * y).sum(1) ** 2).sum() + (x.exp() * x).sum() + (y.tanh() * x).sum()

    return f


def matrix_fn(x):
    return (x.reshape(3, 1) * x).tanh()


def pair_fn(x, y):
    return x * 2 + y.sum(0), (x.sum() * y).sin()


def d(*arrays):
    out = tuple(dn.tensor(a) for a in arrays)
    return out if len(out) > 1 else out[0]


def t(*arrays):
    out = tuple(torch.tensor(a) for a in arrays)
    return out if len(out) > 1 else out[0]


def close(ours, theirs):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            close(a, b)
        return
    oracle.assert_close(ours, theirs.detach(), RTOL, ATOL)


def test_jacobian_single_and_nested():
    close(AF.jacobian(matrix_fn, d(A)), TAF.jacobian(matrix_fn, t(A)))
    close(AF.jacobian(pair_fn, d(A, B)), TAF.jacobian(pair_fn, t(A, B)))
    close(AF.jacobian(pair_fn, d(A, B)[0:1] + (dn.tensor(B),)), TAF.jacobian(pair_fn, (t(A), t(B))))
    # a tuple of one input keeps the tuple; a function of one input returning a tuple gives a tuple
    close(AF.jacobian(matrix_fn, (d(A),)), TAF.jacobian(matrix_fn, (t(A),)))
    close(AF.jacobian(lambda x: (x * 2, x.exp()), d(A)), TAF.jacobian(lambda x: (x * 2, x.exp()), t(A)))


def test_hessian_single_and_tuple():
    f = scalar_fn(None)
    close(AF.hessian(f, d(A, B)), TAF.hessian(f, t(A, B)))
    close(AF.hessian(lambda x: (x**3).sum() * x[0], d(A)), TAF.hessian(lambda x: (x**3).sum() * x[0], t(A)))
    # a network loss in its weights
    x, y = rng.standard_normal((4, 3)), rng.integers(0, 2, 4)

    def loss(lib, fn):
        return lambda w: fn.cross_entropy(fn.linear(lib.tensor(x), w).tanh(), lib.tensor(y))

    close(
        AF.hessian(loss(dn, F), dn.tensor(W33[:2])),
        TAF.hessian(loss(torch, torch.nn.functional), torch.tensor(W33[:2])),
    )


def test_hvp_vhp_vjp_jvp():
    f = scalar_fn(None)
    for ours_fn, theirs_fn in ((AF.hvp, TAF.hvp), (AF.vhp, TAF.vhp)):
        close(ours_fn(f, d(A, B), d(V3, VB)), theirs_fn(f, t(A, B), t(V3, VB)))
    g = lambda x: (x**4).sum()  # noqa: E731
    close(AF.hvp(g, d(A), d(V3)), TAF.hvp(g, t(A), t(V3)))
    close(AF.vjp(matrix_fn, d(A), d(W33)), TAF.vjp(matrix_fn, t(A), t(W33)))
    close(AF.vjp(f, d(A, B)), TAF.vjp(f, t(A, B)))  # v omitted: one-element output
    close(AF.jvp(matrix_fn, d(A), d(V3)), TAF.jvp(matrix_fn, t(A), t(V3)))
    close(AF.jvp(pair_fn, d(A, B), d(V3, VB)), TAF.jvp(pair_fn, t(A, B), t(V3, VB)))


def test_results_are_detached_unless_create_graph():
    x = dn.tensor(A, requires_grad=True)
    h = AF.hessian(lambda z: (z**3).sum(), x)
    assert not h.requires_grad
    out, r = AF.hvp(lambda z: (z**3).sum(), x, d(V3))
    assert not out.requires_grad and not r.requires_grad
    # create_graph: the results are differentiable with respect to the original inputs (third order)
    xt = torch.tensor(A, requires_grad=True)
    hd = AF.hessian(lambda z: (z.sin() * z).sum(), x, create_graph=True)
    ht = TAF.hessian(lambda z: (z.sin() * z).sum(), xt, create_graph=True)
    assert hd.requires_grad
    close(dn.autograd.grad(hd.sum(), x)[0], torch.autograd.grad(ht.sum(), xt)[0])
    _, jd = AF.jvp(matrix_fn, x, d(V3), create_graph=True)
    _, jt = TAF.jvp(matrix_fn, xt, t(V3), create_graph=True)
    close(dn.autograd.grad((jd**2).sum(), x)[0], torch.autograd.grad((jt**2).sum(), xt)[0])


def test_independent_inputs_strict_and_not():
    f = lambda x, y: (x**2).sum()  # noqa: E731
    close(AF.jacobian(f, d(A, B)), TAF.jacobian(f, t(A, B)))
    close(AF.hessian(f, d(A, B)), TAF.hessian(f, t(A, B)))
    close(AF.vjp(f, d(A, B)), TAF.vjp(f, t(A, B)))
    with pytest.raises(RuntimeError, match="independent of input 1. This is not allowed in strict mode"):
        AF.jacobian(f, d(A, B), strict=True)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.vjp(f, d(A, B), strict=True)


def test_argument_errors():
    with pytest.raises(TypeError, match="jacobian: the inputs must be a Tensor"):
        AF.jacobian(matrix_fn, A)
    with pytest.raises(RuntimeError, match=r"hessian: the function given to hessian should return a single Tensor"):
        AF.hessian(matrix_fn, d(A))
    with pytest.raises(RuntimeError, match=r"hvp: entry 0 of v has shape \(2,\), expected \(3,\)"):
        AF.hvp(lambda x: x.sum(), d(A), dn.tensor(np.ones(2)))
    with pytest.raises(RuntimeError, match="vjp: v can only be omitted when the output is a single-element tensor"):
        AF.vjp(matrix_fn, d(A))
    with pytest.raises(NotImplementedError, match='strategy="forward-mode" requires vectorize=True'):
        AF.jacobian(matrix_fn, d(A), strategy="forward-mode")
    with pytest.raises(ValueError, match="expected strategy"):
        AF.jacobian(matrix_fn, d(A), strategy="sideways")
    # vectorize and forward-mode give the same Jacobian (computed in reverse mode here)
    close(AF.jacobian(matrix_fn, d(A), vectorize=True, strategy="forward-mode"), TAF.jacobian(matrix_fn, t(A)))
