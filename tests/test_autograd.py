"""The autograd engine: numerical gradient checks of every primitive, graph traversal (deep chains,
reused nodes), grad modes, accumulation and the Function protocol; torch is the oracle where it has one."""

import gc
import sys

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes.autograd import Function, gradcheck
from deepnotes.ops import arithmetic as A
from deepnotes.ops import elementwise as E
from deepnotes.ops import reduction as R
from deepnotes.ops import shape as S
from deepnotes.tensor import pad as dn_pad


def t64(*shape, seed=0, low=None, requires_grad=True):
    r = np.random.default_rng(seed)
    x = r.standard_normal(shape) if low is None else r.uniform(low, low + 1.5, shape)
    return dn.tensor(np.asarray(x, dtype=np.float64), requires_grad=requires_grad)


def separated(*shape, seed=0):
    """Values at least 0.1 apart, so max/min/clamp/abs kinks are farther than eps from every element."""
    n = int(np.prod(shape))
    vals = (np.random.default_rng(seed).permutation(n) - n / 2 + 0.37) * 0.1
    return dn.tensor(vals.reshape(shape), requires_grad=True)


# ----------------------------------------------------------------------------- gradcheck of every primitive
PRIMITIVES = {
    "Add": (lambda a, b: A.Add.apply(a, b), [t64(3, 1), t64(4, seed=1)]),
    "Sub": (lambda a, b: A.Sub.apply(a, b), [t64(3, 4), t64(4, seed=1)]),
    "Mul": (lambda a, b: A.Mul.apply(a, b), [t64(2, 1, 3), t64(4, 1, seed=1)]),
    "Div": (lambda a, b: A.Div.apply(a, b), [t64(3, 4), t64(4, seed=1, low=0.5)]),
    "Pow": (lambda a, b: A.Pow.apply(a, b), [t64(3, 4, low=0.5), t64(4, seed=1)]),
    "Neg": (lambda a: A.Neg.apply(a), [t64(3, 2)]),
    "MatMul-2d": (lambda a, b: A.MatMul.apply(a, b), [t64(3, 4), t64(4, 2, seed=1)]),
    "MatMul-batched": (lambda a, b: A.MatMul.apply(a, b), [t64(2, 1, 3, 4), t64(3, 4, 2, seed=1)]),
    "MatMul-shared-rhs": (lambda a, b: A.MatMul.apply(a, b), [t64(2, 3, 4), t64(4, 2, seed=1)]),
    "MatMul-1d": (lambda a, b: A.MatMul.apply(a, b), [t64(4), t64(2, 4, 3, seed=1)]),
    "MatMul-vv": (lambda a, b: A.MatMul.apply(a, b), [t64(4), t64(4, seed=1)]),
    "Exp": (lambda a: E.Exp.apply(a), [t64(3, 4)]),
    "Log": (lambda a: E.Log.apply(a), [t64(3, 4, low=0.5)]),
    "Sqrt": (lambda a: E.Sqrt.apply(a), [t64(3, 4, low=0.5)]),
    "Abs": (lambda a: E.Abs.apply(a), [separated(3, 4)]),
    "Sin": (lambda a: E.Sin.apply(a), [t64(5)]),
    "Cos": (lambda a: E.Cos.apply(a), [t64(5)]),
    "Atan": (lambda a: E.Atan.apply(a), [t64(5)]),
    "Clamp": (lambda a: E.Clamp.apply(a, min=-0.33, max=0.41), [separated(4, 5)]),
    "Maximum": (lambda a, b: E.Maximum.apply(a, b), [separated(3, 4), separated(4, seed=1)]),
    "Minimum": (lambda a, b: E.Minimum.apply(a, b), [separated(3, 4), separated(4, seed=1)]),
    "Where": (lambda a, b: E.Where.apply(dn.tensor(np.array([True, False, True])), a, b), [t64(2, 3), t64(3, seed=1)]),
    "ReLU": (lambda a: E.ReLU.apply(a), [separated(3, 4)]),
    "Sigmoid": (lambda a: E.Sigmoid.apply(a), [t64(3, 4) * 3]),
    "Tanh": (lambda a: E.Tanh.apply(a), [t64(3, 4)]),
    "Softmax": (lambda a: E.Softmax.apply(a, dim=1), [t64(3, 4)]),
    "LogSoftmax": (lambda a: E.LogSoftmax.apply(a, dim=0), [t64(3, 4)]),
    "Sum": (lambda a: R.Sum.apply(a, axes=(0, 2), keepdim=False), [t64(2, 3, 4)]),
    "Mean": (lambda a: R.Mean.apply(a, axes=(1,), keepdim=True), [t64(2, 3, 4)]),
    "Var": (lambda a: R.Var.apply(a, axes=(0, 2), correction=1, keepdim=False), [t64(2, 3, 4)]),
    "Prod": (lambda a: R.Prod.apply(a, axis=1, keepdim=False), [t64(3, 4)]),
    "AMax": (lambda a: R.AMax.apply(a, axes=(1,), keepdim=False), [separated(3, 4)]),
    "AMin": (lambda a: R.AMin.apply(a, axes=(0, 1), keepdim=True), [separated(3, 4)]),
    "SelectDim": (lambda a: a.max(1)[0], [separated(3, 4)]),
    "MaxDim": (lambda a: R.MaxDim.apply(a, dim=0, keepdim=False), [separated(3, 4)]),
    "MinDim": (lambda a: R.MinDim.apply(a, dim=1, keepdim=True), [separated(3, 4)]),
    "Reshape": (lambda a: S.Reshape.apply(a, shape=(4, 3)), [t64(2, 6)]),
    "Permute": (lambda a: S.Permute.apply(a, dims=(2, 0, 1)), [t64(2, 3, 4)]),
    "Expand": (lambda a: S.Expand.apply(a, shape=(2, 3, 4)), [t64(3, 1)]),
    "Clone": (lambda a: S.Clone.apply(a), [t64(3)]),
    "GetItem-basic": (lambda a: a[1:, None, ::2, -1], [t64(3, 4, 2)]),
    "GetItem-int-array": (lambda a: a[[0, 2, 0, 0], 1:], [t64(3, 4)]),
    "GetItem-bool": (lambda a: a[a.data > 0], [t64(3, 4)]),
    "Cat": (lambda a, b: S.Cat.apply(a, b, dim=1), [t64(2, 3), t64(2, 1, seed=1)]),
    "Stack": (lambda a, b: S.Stack.apply(a, b, dim=2), [t64(2, 3), t64(2, 3, seed=1)]),
    "Pad-constant": (lambda a: dn_pad(a, (1, -1, 2, 0), value=3.0), [t64(2, 3, 4)]),
    "Pad-reflect": (lambda a: dn_pad(a, (2, 1, 1, 2), mode="reflect"), [t64(2, 3, 4)]),
    "Pad-replicate": (lambda a: dn_pad(a, (2, 3, 1, 0), mode="replicate"), [t64(2, 3, 4)]),
    "Pad-circular": (lambda a: dn_pad(a, (4, 2, 3, 1), mode="circular"), [t64(2, 3, 4)]),
    "Cast": (lambda a: a.to(np.float32).to(np.float64) * 1.0, [t64(3)]),
}


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_gradcheck_every_primitive(name):
    fn, inputs = PRIMITIVES[name]
    inputs = [x.detach().requires_grad_() for x in inputs]
    if name == "Cast":  # float32 round trip: only first-order accuracy in the numeric difference
        assert gradcheck(fn, inputs, eps=1e-3, atol=1e-4)
    else:
        assert gradcheck(fn, inputs)


def test_gradcheck_catches_a_wrong_backward():
    class BadSquare(Function):
        def forward(self, a):
            self.a = a
            return a * a

        def backward(self, g):
            return g * self.a  # should be 2 a g

    x = t64(3)
    with pytest.raises(AssertionError, match="gradcheck: input 0 gradient mismatch"):
        gradcheck(BadSquare.apply, [x])
    assert gradcheck(BadSquare.apply, [x], raise_exception=False) is False


def test_gradcheck_requires_float64_and_handles_noncontiguous_inputs():
    with pytest.raises(TypeError, match="gradcheck: input 0 has dtype float32"):
        gradcheck(lambda a: a * 2, [dn.randn(3, requires_grad=True)])
    base = np.random.default_rng(0).standard_normal((4, 3)).T  # Fortran-ordered view
    x = dn.Tensor(base, requires_grad=True)
    assert gradcheck(lambda a: (a * a).sum(1), [x])


# ----------------------------------------------------------------------------- graph traversal
def test_deep_chain_has_no_recursion_limit():
    n = 3 * sys.getrecursionlimit() + 7000
    x = dn.tensor(np.array([0.5]), requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**n], rtol=1e-9)
    del y
    gc.collect()


def test_reused_nodes_x_times_x_and_diamond_vs_torch():
    xv = np.array([0.3, -1.2, 2.0])

    def graph(x):
        a = x * x  # x used twice in one op
        b = a.exp()
        c = a * 3.0
        d = b + c  # diamond through a
        e = d * a + x  # a and x reused again
        return (e + e).sum()  # same tensor on both sides

    x = dn.tensor(xv, requires_grad=True)
    t = torch.tensor(xv, requires_grad=True)
    graph(x).backward()
    graph(t).backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)


def test_same_tensor_used_many_times():
    x = dn.tensor(np.array([1.5, -2.0]), requires_grad=True)
    total = x
    for k in range(1, 200):
        total = total + x * float(k)
    total.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(2, 1 + sum(range(1, 200))))


def test_wide_fan_in_and_shared_subgraph():
    xv = np.random.default_rng(0).standard_normal((4, 3))
    x, t = dn.tensor(xv, requires_grad=True), torch.tensor(xv, requires_grad=True)

    def f(z, lib):
        h = (z * 2).tanh()
        return lib.stack([h[i] * h[(i + 1) % 4] for i in range(4)] + [h.sum(0)]).sum()

    f(x, dn).backward()
    f(t, torch).backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)


def test_gradients_accumulate_across_backward_calls_like_torch():
    xv = np.array([1.0, 2.0, 3.0])
    x, t = dn.tensor(xv, requires_grad=True), torch.tensor(xv, requires_grad=True)
    for _ in range(3):
        (x * x).sum().backward()
        (t * t).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy())
    y, ty = (x * x).sum(), (t * t).sum()
    y.backward(retain_graph=True)
    ty.backward(retain_graph=True)
    y.backward()  # the graph was kept, so a second sweep adds again
    ty.backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy())


def test_second_backward_without_retain_graph_raises_like_torch():
    xv = np.array([1.0, 2.0, 3.0])
    x, t = dn.tensor(xv, requires_grad=True), torch.tensor(xv, requires_grad=True)
    y, ty = (x * x).sum(), (t * t).sum()
    y.backward()
    ty.backward()
    with pytest.raises(RuntimeError, match="second time"):
        ty.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy())  # the refused sweep added nothing
    # a shared sub-graph is freed by the first sweep through it, as in torch
    h = x * x
    a, b = (h * 2).sum(), (h * 3).sum()
    a.backward()
    with pytest.raises(RuntimeError, match="second time"):
        b.backward()
    # nodes that saved no values (additions, sums, reshapes, transposes) can be swept again, as in torch
    x.grad, t.grad = None, None
    y, ty = (x.reshape(3, 1).t() + 1.0).sum(), (t.reshape(3, 1).t() + 1.0).sum()
    for _ in range(2):
        y.backward()
        ty.backward()
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())
    # the leaf itself is reusable in new graphs
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * xv)


def test_backward_frees_the_saved_values_unless_retain_graph():
    x = dn.tensor(np.arange(4.0), requires_grad=True)
    y = x.exp()
    ctx = y.grad_fn
    y.sum().backward(retain_graph=True)
    assert ctx.__dict__  # the saved output is still there
    y.sum().backward()
    assert not any(isinstance(v, np.ndarray) for v in vars(ctx).values())
    np.testing.assert_allclose(x.grad, 2 * np.exp(np.arange(4.0)))


def test_backward_with_explicit_gradient_and_leaf_root():
    x = dn.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    y = x * x
    y.backward(dn.tensor(np.array([[1.0, 0.0], [0.5, 2.0]])))
    np.testing.assert_allclose(x.grad, [[2.0, 0.0], [3.0, 16.0]])
    z = dn.tensor(np.array([2.0]), requires_grad=True)
    z.backward()
    np.testing.assert_allclose(z.grad, [1.0])


def test_only_requires_grad_leaves_receive_gradients():
    a = dn.randn(3, requires_grad=True)
    b = dn.randn(3)
    (a * b).sum().backward()
    assert a.grad is not None and b.grad is None
    np.testing.assert_allclose(a.grad, b.data)


def test_retain_grad_and_leaf_flags():
    x = dn.randn(3, dtype=np.float64, requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)
    assert x.is_leaf and not h.is_leaf and h.grad_fn is not None and x.grad_fn is None
    d = h.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d.data, h.data)


def test_grad_dtype_follows_the_leaf():
    x = dn.randn(4, 3, requires_grad=True)  # float32
    w = dn.tensor(np.ones((3, 2)), requires_grad=True)  # float64: x @ w promotes to float64
    (x @ w).sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64
    y = dn.randn(5, requires_grad=True)
    (y.maximum(y * 0.5) + y.amax() + y.clamp(-0.1, 0.1)).sum().backward()
    assert y.grad.dtype == np.float32


def test_detached_branch_blocks_gradient_like_torch():
    xv = np.array([1.0, -2.0])
    x, t = dn.tensor(xv, requires_grad=True), torch.tensor(xv, requires_grad=True)
    (x * x.detach() + x).sum().backward()
    (t * t.detach() + t).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy())


# ----------------------------------------------------------------------------- grad modes
def test_no_grad_context_manager():
    x = dn.randn(3, requires_grad=True)
    with dn.no_grad():
        y = x * 2
        assert not dn.is_grad_enabled()
    assert dn.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert (x * 2).requires_grad


def test_no_grad_decorator_forms_and_exceptions_restore_mode():
    x = dn.randn(3, requires_grad=True)

    @dn.no_grad
    def f(t):
        return t * 2

    @dn.no_grad()
    def g(t):
        return t * 3

    assert not f(x).requires_grad and not g(x).requires_grad
    assert f.__name__ == "f"
    assert dn.is_grad_enabled()

    @dn.no_grad()
    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        boom()
    assert dn.is_grad_enabled()


def test_enable_grad_and_set_grad_enabled():
    x = dn.randn(3, requires_grad=True)
    with dn.no_grad():
        with dn.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    dn.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        dn.set_grad_enabled(True)
    with dn.set_grad_enabled(False):
        assert not dn.is_grad_enabled()
    assert dn.is_grad_enabled()

    @dn.set_grad_enabled(False)
    def h(t):
        return t * 2

    assert dn.is_grad_enabled()  # decorating does not switch the mode
    assert not h(x).requires_grad
    with pytest.raises(TypeError, match="set_grad_enabled: expected a bool"):
        dn.set_grad_enabled("no")


def test_needs_input_grad_is_all_false_under_no_grad():
    seen = []

    class Probe(Function):
        def forward(self, a, b):
            seen.append(self.needs_input_grad)
            return a + b

        def backward(self, g):
            return g, g

    x, y = dn.randn(2, requires_grad=True), dn.randn(2)
    Probe.apply(x, y)
    with dn.no_grad():
        Probe.apply(x, y)
    assert seen == [(True, False), (False, False)]


def test_in_place_ops_on_leaves_need_no_grad():
    w = dn.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: in-place operation on a tensor that requires grad"):
        w += 1
    with dn.no_grad():
        before = w.data.copy()
        w -= 0.5
        w.mul_(2.0)
        w.add_(dn.ones(3), alpha=0.25)
    np.testing.assert_allclose(w.data, (before - 0.5) * 2 + 0.25, rtol=1e-6)


# ----------------------------------------------------------------------------- the Function protocol
def test_custom_function_matches_torch_autograd_function():
    class Cube(Function):
        def forward(self, a):
            self.a = a
            return a**3

        def backward(self, g):
            return 3 * self.a**2 * g

    class TCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a**3

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 3 * a**2 * g

    xv = np.array([0.5, -1.0, 2.0])
    x, t = dn.tensor(xv, requires_grad=True), torch.tensor(xv, requires_grad=True)
    Cube.apply(x * 2).sum().backward()
    TCube.apply(t * 2).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy())
    assert gradcheck(Cube.apply, [t64(4)])


def test_backward_contract_violations_are_reported():
    class WrongShape(Function):
        def forward(self, a):
            return a.sum()

        def backward(self, g):
            return np.ones(7)

    class WrongCount(Function):
        def forward(self, a):
            return a * 1

        def backward(self, g):
            return g, g

    x = dn.randn(3, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=r"WrongShape.backward produced a gradient of shape \(7,\) "
        r"for an input of shape \(3,\)",
    ):
        WrongShape.apply(x).backward()
    with pytest.raises(RuntimeError, match="WrongCount.backward returned 2 gradients for 1 inputs"):
        WrongCount.apply(x).sum().backward()


def test_backward_errors():
    x = dn.randn(2, 3, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=r"backward: gradient can be implicitly created only for scalar "
        r"outputs, got shape \(2, 3\)",
    ):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="backward: this tensor does not require grad"):
        dn.randn(3).sum().backward()
    with pytest.raises(ValueError, match=r"backward: gradient has shape \(3,\), expected \(2, 3\)"):
        (x * 2).backward(dn.ones(3))
    (x * 2).sum().backward(create_graph=True)  # higher-order gradients: tests/autograd/
    assert x.grad.requires_grad is False and np.allclose(x.grad.data, 2)


# ------------------------------------------------------------------ leaf gradients: adopted or copied
class _FreshGrad(Function):
    """Backward returns a new array; ``made`` keeps weak references to the arrays it returned."""

    made = []

    def forward(self, a, keep=False, view=False):
        self.keep, self.view = keep, view
        return a * 2.0

    def backward(self, g):
        out = g * 2.0
        if self.keep:
            self.saved = out  # still referenced by the context: must not be adopted
        if self.view:
            out = (g.reshape(-1) * 2.0).reshape(g.shape)  # a view whose owner nobody else holds
        _FreshGrad.made.append(__import__("weakref").ref(out))
        return out


def test_exclusively_owned_leaf_gradient_is_adopted_without_copy():
    for view in (False, True):
        _FreshGrad.made.clear()
        x = dn.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        _FreshGrad.apply(x, view=view).sum().backward()
        assert _FreshGrad.made[0]() is x.grad.data  # the very array the backward returned
        np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


def test_shared_gradient_arrays_are_copied_into_leaves():
    # a gradient the context still references (a retained graph keeps the context's values)
    _FreshGrad.made.clear()
    x = dn.Tensor(np.ones(3), requires_grad=True)
    _FreshGrad.apply(x, keep=True).sum().backward(retain_graph=True)
    assert _FreshGrad.made[0]() is not x.grad.data
    # Add hands the same incoming array to both inputs: two leaves must get independent arrays
    a, b = dn.Tensor(np.ones(3), requires_grad=True), dn.Tensor(np.ones(3), requires_grad=True)
    (a + b).backward(dn.Tensor(np.array([1.0, 2.0, 3.0])))
    assert not np.shares_memory(a.grad, b.grad)
    a.grad += 10.0
    np.testing.assert_array_equal(b.grad, [1.0, 2.0, 3.0])
    # the caller's explicit gradient reaches a leaf root and a leaf through identity-like steps
    seed = np.array([1.0, 2.0, 3.0])
    c = dn.Tensor(np.ones(3), requires_grad=True)
    c.backward(dn.Tensor(seed))
    d = dn.Tensor(np.ones(3), requires_grad=True)
    (d + 0.0).backward(dn.Tensor(seed))
    for leaf in (c, d):
        assert not np.shares_memory(leaf.grad, seed)
    seed[:] = 0.0
    np.testing.assert_array_equal(c.grad, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(d.grad, [1.0, 2.0, 3.0])
    # a reshape's gradient is a view of the incoming one: adopted only when its owner is unshared
    e = dn.Tensor(np.ones((2, 3)), requires_grad=True)
    g = dn.Tensor(np.arange(6.0))
    e.reshape(6).backward(g)
    assert not np.shares_memory(e.grad, g.data)
    np.testing.assert_array_equal(e.grad, np.arange(6.0).reshape(2, 3))


# ------------------------------------------------------------------ .grad is a Tensor, as in torch
def test_grad_is_a_tensor_outside_the_graph_like_torch():
    xv = np.array([[1.0, -2.0], [3.0, 0.5]])
    x, t = dn.tensor(xv, requires_grad=True), torch.tensor(xv, requires_grad=True)
    (x * x).sum().backward()
    (t * t).sum().backward()
    assert isinstance(x.grad, dn.Tensor) and isinstance(t.grad, torch.Tensor)
    assert x.grad.requires_grad is t.grad.requires_grad is False
    assert x.grad.dtype == np.float64 and x.grad.shape == tuple(t.grad.shape)
    np.testing.assert_allclose(x.grad.norm().item(), t.grad.norm().item(), rtol=1e-15)
    g = x.grad
    x.grad.zero_()
    t.grad.zero_()
    (x * 3.0).sum().backward()  # accumulates into the same Tensor object, as torch does
    (t * 3.0).sum().backward()
    assert x.grad is g
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())
    # assignment: None, a Tensor (kept as given), a NumPy array (wrapped); a wrong shape is refused
    x.grad = None
    assert x.grad is None
    new = dn.ones(2, 2, dtype=np.float64)
    x.grad = new
    assert x.grad is new
    x.grad = np.zeros((2, 2))
    assert isinstance(x.grad, dn.Tensor) and not x.grad.requires_grad
    with pytest.raises(RuntimeError, match="attempting to assign a gradient of size"):
        t.grad = torch.ones(3, dtype=torch.float64)
    with pytest.raises(
        ValueError,
        match=r"grad: attempting to assign a gradient of size \(3,\) to a "
        r"tensor of size \(2, 2\)",
    ):
        x.grad = dn.ones(3)
    with pytest.raises(TypeError, match="grad: expected a Tensor, a numpy.ndarray or None, got list"):
        x.grad = [1.0, 2.0]


def test_optimizers_and_module_zero_grad_work_with_tensor_grads():
    lin = dn.nn.Linear(3, 2)
    opt = dn.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    before = lin.weight.data.copy()
    lin(dn.ones(4, 3)).sum().backward()
    dn.nn.utils.clip_grad_norm_(lin.parameters(), 0.5)
    total = np.sqrt(sum(float((p.grad * p.grad).sum().item()) for p in lin.parameters()))
    np.testing.assert_allclose(total, 0.5, rtol=1e-5)
    opt.step()
    np.testing.assert_allclose(lin.weight.data, before - 0.1 * lin.weight.grad.data, rtol=1e-6)
    lin.zero_grad(set_to_none=False)
    assert all(isinstance(p.grad, dn.Tensor) and not p.grad.data.any() for p in lin.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in lin.parameters())


def test_inference_mode_switches_off_graph_building_like_no_grad():
    x = dn.ones(2, requires_grad=True)
    with dn.inference_mode():
        assert not dn.is_grad_enabled() and not (x * 2).requires_grad
    assert dn.is_grad_enabled()
    with dn.inference_mode(False):
        assert (x * 2).requires_grad
    with dn.no_grad(), dn.inference_mode(False):
        assert not dn.is_grad_enabled()  # mode=False leaves the current mode alone

    @dn.inference_mode
    def bare(t):
        return t * 2

    @dn.inference_mode()
    def called(t):
        return t * 2

    assert not bare(x).requires_grad and not called(x).requires_grad
    assert dn.is_grad_enabled()
    with torch.inference_mode():
        assert not (torch.ones(2, requires_grad=True) * 2).requires_grad


# ------------------------------------------------------------------ version counters (in-place checks)
# Each scenario runs unchanged on deepnotes and on torch (``m`` is the module, ``F`` its functional
# namespace) and returns the gradient of ``x``; torch decides whether backward must raise.


def _scenario_mul_other_add_(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([1.0, 2.0])
    y = (x * w).sum()
    w.add_(10)  # w was saved by the product: x's gradient would read it
    y.backward()
    return x.grad


def _scenario_mul_other_setitem(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([1.0, 2.0])
    y = (x * w).sum()
    w[0] = 5.0
    y.backward()
    return x.grad


def _scenario_mul_self_unsaved(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([3.0, 4.0])
    y = (x * w).sum()
    with m.no_grad():
        x.add_(10)  # x is not saved: w needs no gradient
    y.backward()
    return x.grad


def _scenario_mul_both_need_grad(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    with m.no_grad():
        x.mul_(2)  # x is saved for w's gradient
    y.backward()
    return x.grad


def _scenario_unsaved_inputs(m, F):
    x = m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    w = m.tensor([1.0, 2.0, 3.0, 4.0])
    y = ((x + w) - w).reshape(2, 2).sum() + (-x).sum() + (x.reshape(4) + 1).sum()
    w.mul_(3)
    w.sub_(1)
    y.backward()
    return x.grad


def _scenario_div_divisor(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([2.0, 4.0])
    y = (x / w).sum()
    w.div_(2)
    y.backward()
    return x.grad


def _scenario_div_dividend_unsaved(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([2.0, 4.0])
    y = (x / w).sum()
    with m.no_grad():
        x.add_(1)  # d/dx (x / w) = 1 / w does not read x
    y.backward()
    return x.grad


def _scenario_div_numerator_saved(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([2.0, 4.0])
    y = (w / x).sum()
    w.zero_()
    y.backward()
    return x.grad


def _scenario_matmul_weight(m, F):
    x = m.tensor([[1.0, 2.0]], requires_grad=True)
    w = m.tensor([[1.0], [2.0]])
    y = (x @ w).sum()
    w.fill_(3.0)
    y.backward()
    return x.grad


def _scenario_matmul_input_unsaved(m, F):
    x = m.tensor([[1.0, 2.0]], requires_grad=True)
    w = m.tensor([[1.0], [2.0]])
    y = (x @ w).sum()
    with m.no_grad():
        x.copy_(m.tensor([[5.0, 6.0]]))
    y.backward()
    return x.grad


def _scenario_linear_weight_saved(m, F):
    x = m.tensor([[1.0, 2.0]], requires_grad=True)
    w = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = F.linear(x, w).sum()
    with m.no_grad():
        w.clamp_(0.0, 2.0)  # as an optimizer step before backward would
    y.backward()
    return x.grad


def _scenario_linear_weight_unsaved(m, F):
    x = m.tensor([[1.0, 2.0]])
    w = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = F.linear(x, w).sum()
    with m.no_grad():
        w.add_(1)  # x needs no gradient, so the weight is not saved
    y.backward()
    return w.grad


def _scenario_saved_output_through_detach(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # exp saves its output
    z = y.sum()
    y.detach().mul_(2)  # detach shares memory and the counter
    z.backward()
    return x.grad


def _scenario_view_of_saved_base(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([1.0, 2.0, 3.0])
    y = (x * w[:2]).sum()  # the slice is saved; writing to its base changes it
    w[2] = 7.0
    y.backward()
    return x.grad


def _scenario_write_through_view(m, F):
    x = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    w = m.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = (x * w).sum()
    w.view(4)[0:1].add_(5)  # a view of a view of the saved tensor
    y.backward()
    return x.grad


def _scenario_write_through_transpose(m, F):
    x = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    w = m.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = (x * w).sum()
    wt = w.t()
    wt += 1
    y.backward()
    return x.grad


def _scenario_data_write_bypasses(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([1.0, 2.0])
    y = (x * w).sum()
    w.data[0] = 5.0  # the documented escape hatch: no version bump
    y.backward()
    return x.grad


def _scenario_second_backward_after_change(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([1.0, 2.0])
    y = (x * w).sum()
    y.backward(retain_graph=True)
    w.add_(1)
    y.backward()
    return x.grad


def _scenario_change_after_backward(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([1.0, 2.0])
    y = (x * w).sum()
    y.backward()
    w.add_(1)  # after backward: harmless
    (x * w).sum().backward()  # a new graph records the new version
    return x.grad


def _scenario_changed_before_and_after_forward(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([1.0, 2.0])
    w.add_(1)  # before the forward: the product records version 1
    y = (x * w).sum()
    w.mul_(2)
    y.backward()
    return x.grad


def _scenario_changed_before_forward_only(m, F):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    w = m.tensor([1.0, 2.0])
    w[1] = 4.0
    y = (x * w).sum()
    y.backward()
    return x.grad


def _scenario_conv_weight_with_bias(m, F):
    x = m.tensor(np.arange(18.0).reshape(1, 2, 3, 3) / 10, requires_grad=True)
    w = m.tensor(np.ones((1, 2, 2, 2)) / 4)
    b = m.tensor([0.5], dtype=m.float64, requires_grad=True)
    y = F.conv2d(x, w, b).sum()  # three inputs
    w[0, 0, 0, 0] = 2.0
    y.backward()
    return x.grad


def _scenario_bias_unsaved(m, F):
    x = m.tensor([[1.0, 2.0]], requires_grad=True)
    w = m.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = m.tensor([1.0, 1.0])
    y = F.linear(x, w, b).sum()
    b.add_(1)  # the bias's values are not needed by backward
    y.backward()
    return x.grad


_VERSION_SCENARIOS = {k[len("_scenario_") :]: v for k, v in dict(globals()).items() if k.startswith("_scenario_")}


@pytest.mark.parametrize("name", sorted(_VERSION_SCENARIOS))
def test_in_place_change_of_a_saved_tensor_raises_where_torch_does(name):
    scenario = _VERSION_SCENARIOS[name]
    try:
        expected = scenario(torch, torch.nn.functional)
    except RuntimeError as exc:
        assert "modified by an inplace operation" in str(exc)
        with pytest.raises(
            RuntimeError,
            match=r"modified by an inplace operation: .* is at version "
            r"\d+; expected version \d+ instead",
        ):
            scenario(dn, dn.nn.functional)
        return
    got = scenario(dn, dn.nn.functional)
    np.testing.assert_allclose(got.data, expected.numpy(), rtol=1e-6)


def test_version_error_names_the_op_the_tensor_and_the_versions():
    x = dn.tensor([1.0, 2.0], requires_grad=True)
    w = dn.tensor([1.0, 2.0], dtype=dn.float64)
    y = (x * w).sum()
    w.add_(1)
    w[1] = 3.0
    with pytest.raises(RuntimeError) as info:
        y.backward()
    msg = str(info.value)
    assert (
        "[float64 tensor of shape (2,)], saved by Mul as its input 1, is at version 2; expected "
        "version 0 instead" in msg
    )
    x = dn.tensor([1.0, 2.0], requires_grad=True)
    y = x.sigmoid()
    z = y.sum()
    with dn.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="saved by Sigmoid as its output, is at version 1; expected version 0"):
        z.backward()


def _version_sequence(m):
    """The versions of a tensor and its views after each of a sequence of in-place operations."""
    w = m.zeros(2, 3)
    v = w.view(6)
    s = w[1]
    t = w.transpose(0, 1)
    e = w[:, :1].expand(2, 4)
    d = w.detach()
    r = w.reshape(3, 2)
    tensors = (w, v, s, t, e, d, r)
    seen = [tuple(a._version for a in tensors)]
    steps = [
        lambda: w.add_(1),
        lambda: v.mul_(2),
        lambda: s.sub_(1),
        lambda: t.div_(2),
        lambda: w.zero_(),
        lambda: w.fill_(3.0),
        lambda: d.copy_(m.ones(2, 3)),
        lambda: w.clamp_(0.0, 0.5),
        lambda: w.__setitem__((0, 1), 4.0),
        lambda: r.__iadd__(1),
        lambda: w.__isub__(1),
        lambda: w.__imul__(2),
        lambda: w.__itruediv__(2),
        lambda: w.add_(m.ones(3), alpha=2),
        lambda: w.sub_(1, alpha=3),
        lambda: m.nn.init.constant_(w, 0.25),
        lambda: m.nn.init.zeros_(v),
    ]
    for step in steps:
        step()
        seen.append(tuple(a._version for a in tensors))
    u = m.ones(3)
    u2 = u.clone()  # a copy: its own counter
    u.add_(1)
    seen.append((u._version, u2._version, (u + 1)._version, u.sum()._version))
    with m.no_grad():
        p = m.ones(2, requires_grad=True)
        p.add_(1)
        p -= 1
    seen.append((p._version, p.detach()._version))
    return seen, w.numpy().copy()


def test_version_counts_and_view_sharing_match_torch():
    got, got_values = _version_sequence(dn)
    expected, expected_values = _version_sequence(torch)
    assert got == expected
    np.testing.assert_allclose(got_values, expected_values)


def test_optimizer_steps_and_no_grad_updates_still_work_with_version_checks():
    torch.manual_seed(0)
    lin_t = torch.nn.Linear(3, 2).double()
    lin_d = dn.nn.Linear(3, 2).double()
    lin_d.load_state_dict({k: v.detach().numpy() for k, v in lin_t.state_dict().items()})
    opt_t = torch.optim.SGD(lin_t.parameters(), lr=0.1, momentum=0.9)
    opt_d = dn.optim.SGD(lin_d.parameters(), lr=0.1, momentum=0.9)
    x = np.arange(12.0).reshape(4, 3) / 10
    for _ in range(3):
        for lin, opt, m in ((lin_t, opt_t, torch), (lin_d, opt_d, dn)):
            opt.zero_grad()
            h = lin(m.tensor(x, requires_grad=True))
            (h * h).sum().backward()
            opt.step()
            with m.no_grad():
                lin.bias.add_(0.01)  # a manual in-place update between steps
    for name, p in lin_t.named_parameters():
        np.testing.assert_allclose(dict(lin_d.named_parameters())[name].data, p.detach().numpy(), rtol=1e-12)
    # an old graph backwarded after an in-place update of a saved parameter raises, in both
    for lin, m in ((lin_t, torch), (lin_d, dn)):
        y = lin(m.tensor(x, requires_grad=True)).sum()
        with m.no_grad():
            lin.weight.mul_(0.5)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()
