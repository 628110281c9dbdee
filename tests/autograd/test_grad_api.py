"""``deepnotes.autograd.grad`` and ``Tensor.backward(create_graph=True, inputs=...)``: torch's semantics
(what is returned, what is accumulated, what is freed) and its errors, checked against torch."""

import numpy as np
import pytest
import torch

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes.autograd import Function, grad, gradgradcheck

import _oracle as oracle

RTOL, ATOL = 1e-10, 1e-12


def pair(a):
    return dn.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    return rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((3, 4))


def test_grad_returns_gradients_and_leaves_dot_grad_alone(data):
    a, b, _ = data
    (xd, xt), (wd, wt) = pair(a), pair(b)
    gd = grad(((xd * wd).tanh() ** 2).sum(), [xd, wd])
    gt = torch.autograd.grad(((xt * wt).tanh() ** 2).sum(), [xt, wt])
    assert isinstance(gd, tuple) and len(gd) == 2
    for ours, theirs in zip(gd, gt):
        oracle.assert_close(ours, theirs, RTOL, ATOL)
        assert not ours.requires_grad and ours.grad_fn is None
    assert xd.grad is None and wd.grad is None
    # a single tensor as inputs still gives a one-element tuple, as torch
    (g,) = grad((xd * 2).sum(), xd)
    oracle.assert_close(g, np.full((3, 4), 2.0))


def test_grad_several_outputs_and_grad_outputs(data):
    a, b, v = data
    (xd, xt), (wd, wt) = pair(a), pair(b)
    outs_d = [xd * wd, (xd.exp() * wd).sum()]
    outs_t = [xt * wt, (xt.exp() * wt).sum()]
    gd = grad(outs_d, [xd, wd], [dn.tensor(v), None])
    gt = torch.autograd.grad(outs_t, [xt, wt], [torch.tensor(v), None])
    for ours, theirs in zip(gd, gt):
        oracle.assert_close(ours, theirs, RTOL, ATOL)


def test_grad_with_respect_to_an_intermediate_tensor(data):
    a, b, _ = data
    (xd, xt), (wd, wt) = pair(a), pair(b)
    hd, ht = xd * wd, xt * wt
    gd = grad((hd.sin() * xd).sum(), [hd, xd, wd])
    gt = torch.autograd.grad((ht.sin() * xt).sum(), [ht, xt, wt])
    for ours, theirs in zip(gd, gt):
        oracle.assert_close(ours, theirs, RTOL, ATOL)


def test_unused_inputs(data):
    a, b, _ = data
    (xd, _), (wd, _) = pair(a), pair(b)
    y = (xd * 3).sum()
    with pytest.raises(RuntimeError, match=r"input 1, shape \(4,\)\) appears to not have been used in the graph"):
        grad(y, [xd, wd], retain_graph=True)
    gx, gw = grad(y, [xd, wd], retain_graph=True, allow_unused=True)
    assert gw is None and np.allclose(gx.data, 3)
    gx, gw = grad(y, [xd, wd], materialize_grads=True)
    assert np.array_equal(gw.data, np.zeros(4))
    with pytest.raises(ValueError, match="allow_unused to be True or not passed when materialize_grads=True"):
        grad((xd * 3).sum(), [xd], allow_unused=False, materialize_grads=True)


def test_argument_errors(data):
    a, _, _ = data
    xd, _ = pair(a)
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad((xd * 2).sum(), [dn.tensor(a)])
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a grad_fn"):
        grad(dn.tensor(a).sum(), [xd])
    with pytest.raises(
        RuntimeError, match=r"grad can be implicitly created only for scalar outputs; output 0 has shape \(3, 4\)"
    ):
        grad(xd * 2, [xd])
    with pytest.raises(RuntimeError, match=r"mismatch in shape: grad_output\[0\] has a shape of \(4,\)"):
        grad(xd * 2, [xd], dn.ones(4, dtype=dn.float64))
    with pytest.raises(ValueError, match="grad_outputs has 2 elements for 1 outputs"):
        grad(xd * 2, [xd], [None, None])
    with pytest.raises(TypeError, match="grad: inputs must be tensors, got a ndarray at position 0"):
        grad((xd * 2).sum(), [a])


def test_second_grad_through_a_freed_graph_raises_as_torch(data):
    a, _, _ = data
    xd, xt = pair(a)
    yd = (xd.exp() * xd).sum()
    grad(yd, [xd])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        grad(yd, [xd])
    yt = (xt.exp() * xt).sum()
    torch.autograd.grad(yt, [xt])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        torch.autograd.grad(yt, [xt])
    # retain_graph keeps it; create_graph implies retain_graph, so the graph survives a second sweep
    yd = (xd.exp() * xd).sum()
    first = grad(yd, [xd], retain_graph=True)[0]
    oracle.assert_close(grad(yd, [xd])[0], first)
    yd = (xd.exp() * xd).sum()
    grad(yd, [xd], create_graph=True)
    oracle.assert_close(grad(yd, [xd])[0], first)
    # a freed graph cannot be differentiated twice through backward() either
    yd = (xd.exp() * xd).sum()
    yd.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        yd.backward(create_graph=True)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True:UserWarning")
def test_backward_create_graph_accumulates_graph_gradients(data):
    a, b, _ = data
    (xd, xt), (wd, wt) = pair(a), pair(b)
    for x, w in ((xd, wd), (xt, wt)):
        y = ((x * w).sin() * x).sum()
        y.backward(create_graph=True)
        y2 = (x * x * w).sum()
        y2.backward(create_graph=True)  # accumulated out of place: the sum stays differentiable
    assert xd.grad.requires_grad and xd.grad.grad_fn is not None
    oracle.assert_close(xd.grad, xt.grad.detach(), RTOL, ATOL)
    oracle.assert_close(wd.grad, wt.grad.detach(), RTOL, ATOL)
    gd = grad((xd.grad**2).sum() + wd.grad.sum(), [xd, wd])
    gt = torch.autograd.grad((xt.grad**2).sum() + wt.grad.sum(), [xt, wt])
    for ours, theirs in zip(gd, gt):
        oracle.assert_close(ours, theirs, RTOL, ATOL)
    # a first-order backward afterwards adds plain values to the graph gradient
    xd.grad = None
    (xd * 2).sum().backward()
    assert not xd.grad.requires_grad


def test_backward_inputs_accumulates_only_into_them(data):
    a, b, _ = data
    (xd, xt), (wd, wt) = pair(a), pair(b)
    for x, w in ((xd, wd), (xt, wt)):
        h = x * w
        h.retain_grad()
        (h.exp() * w).sum().backward(inputs=[w])
    assert xd.grad is None and xt.grad is None
    oracle.assert_close(wd.grad, wt.grad, RTOL, ATOL)
    # a non-leaf tensor in inputs receives its gradient in .grad, as in torch
    hd, ht = xd * wd, xt * wt
    (hd.sin() * wd).sum().backward(inputs=[hd])
    (ht.sin() * wt).sum().backward(inputs=[ht])
    oracle.assert_close(hd.grad, ht.grad, RTOL, ATOL)
    assert xd.grad is None
    with pytest.raises(RuntimeError, match="input 0 passed in inputs= does not require grad"):
        (xd * 2).sum().backward(inputs=[dn.tensor(a)])


def test_is_grads_batched_equals_torch(data):
    a, b, _ = data
    (xd, xt), (wd, wt) = pair(a), pair(b)
    seeds = np.eye(4)
    gd = grad(xd.sum(0) * wd, [xd, wd], dn.tensor(seeds), is_grads_batched=True)
    gt = torch.autograd.grad(xt.sum(0) * wt, [xt, wt], torch.tensor(seeds), is_grads_batched=True)
    for ours, theirs in zip(gd, gt):
        oracle.assert_close(ours, theirs, RTOL, ATOL)
    # with create_graph the batched gradients stay differentiable
    gd = grad((xd.sum(0) * wd) ** 2, [wd], dn.tensor(seeds), is_grads_batched=True, create_graph=True)
    gt = torch.autograd.grad((xt.sum(0) * wt) ** 2, [wt], torch.tensor(seeds), is_grads_batched=True, create_graph=True)
    oracle.assert_close(gd[0], gt[0].detach(), RTOL, ATOL)
    oracle.assert_close(grad(gd[0].sum(), [xd])[0], torch.autograd.grad(gt[0].sum(), [xt])[0], RTOL, ATOL)


def test_create_graph_keeps_float32():
    x = dn.tensor(np.linspace(-1, 1, 5).astype(np.float32), requires_grad=True)
    (g,) = grad((x.tanh() ** 2).sum(), [x], create_graph=True)
    (h,) = grad(g.sum(), [x])
    assert g.dtype == dn.float32 and h.dtype == dn.float32
    xt = torch.tensor(x.data, requires_grad=True)
    (gt,) = torch.autograd.grad((xt.tanh() ** 2).sum(), [xt], create_graph=True)
    oracle.assert_close(h, torch.autograd.grad(gt.sum(), [xt])[0], 1e-5, 1e-6)


def test_unsupported_primitive_is_named():
    class Cube(Function):
        def forward(self, a):
            self.a = a
            return a**3

        def backward(self, g):
            return 3 * g * self.a**2

    x = dn.tensor([1.0, 2.0], requires_grad=True)
    (g,) = grad(Cube.apply(x).sum(), [x])  # first order works
    assert np.allclose(g.data, [3.0, 12.0])
    with pytest.raises(RuntimeError, match="double backward \\(create_graph=True\\) is not supported through Cube"):
        grad(Cube.apply(x).sum(), [x], create_graph=True)
    with pytest.raises(RuntimeError, match="not supported through Cube"):
        Cube.apply(x).sum().backward(create_graph=True)
    img = dn.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    with pytest.raises(RuntimeError, match="through Pad with mode 'reflect'"):
        grad((F.pad(img, (1, 1, 1, 1), mode="reflect") ** 2).sum(), [img], create_graph=True)


def test_a_custom_function_with_backward_graph_is_differentiable_twice():
    class Cube(Function):
        def forward(self, a):
            self.a = a
            return a**3

        def backward(self, g):
            return 3 * g * self.a**2

        def backward_graph(self, g):
            x = self.parents[0]
            return g * x * x * 3.0

    x = dn.tensor([1.0, -2.0], requires_grad=True)
    (g,) = grad(Cube.apply(x).sum(), [x], create_graph=True)
    (h,) = grad(g.sum(), [x], create_graph=True)
    (k,) = grad(h.sum(), [x])
    assert np.allclose(g.data, [3, 12]) and np.allclose(h.data, [6, -12]) and np.allclose(k.data, [6, 6])


def test_in_place_change_after_create_graph_is_detected():
    x = dn.tensor([1.0, 2.0], requires_grad=True)
    w = dn.tensor([0.5, 3.0])
    y = (x * w).sum()
    with dn.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        grad(y, [x], create_graph=True)


def test_gradgradcheck_numeric_second_derivatives():
    rng = np.random.default_rng(7)
    x = dn.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = dn.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert gradgradcheck(lambda x, w: F.softplus(F.linear(x, w)).tanh(), [x, w])
    assert gradgradcheck(lambda x: F.log_softmax(x * x, dim=1), [x])
    img = dn.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    k = dn.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    assert gradgradcheck(lambda a, b: F.gelu(F.conv2d(a, b, stride=2, padding=1)), [img, k])
    assert gradgradcheck(lambda a: F.layer_norm(a, (5,)).sigmoid(), [img])


def test_gradgradcheck_catches_a_wrong_backward_graph():
    class Square(Function):
        def forward(self, a):
            return a * a

        def backward(self, g):
            return 2 * g * self.parents[0].data

        def backward_graph(self, g):
            return g * self.parents[0] * 3.0  # wrong: should be 2

    x = dn.tensor(np.linspace(0.5, 1.5, 3), requires_grad=True)
    with pytest.raises(AssertionError, match="gradgradcheck: input 0: the recorded"):
        gradgradcheck(lambda a: Square.apply(a) * a, [x])
    assert gradgradcheck(lambda a: Square.apply(a) * a, [x], raise_exception=False) is False


FIRST_ORDER_ONLY = {"RNNLayerFn", "SyncBatchNormFn"}  # primitives of deepnotes.ops without backward_graph


def test_every_primitive_in_ops_has_a_backward_graph_or_is_listed():
    import importlib
    import pkgutil

    import deepnotes.ops

    for info in pkgutil.iter_modules(deepnotes.ops.__path__):
        importlib.import_module(f"deepnotes.ops.{info.name}")

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ops = {c for c in subclasses(Function) if c.__module__.startswith("deepnotes.ops.")}
    missing = sorted(c.__name__ for c in ops if c.backward_graph is None)
    assert missing == sorted(FIRST_ORDER_ONLY)


def test_a_first_order_only_primitive_of_the_library_is_named():
    rnn = dn.nn.GRU(3, 4, batch_first=True).double()
    x = dn.tensor(np.random.default_rng(0).standard_normal((2, 5, 3)), requires_grad=True)
    out, _ = rnn(x)
    (g,) = grad(out.sum(), [x], retain_graph=True)  # first order is fine
    assert g.shape == (2, 5, 3)
    with pytest.raises(RuntimeError, match="not supported through RNNLayerFn"):
        grad(out.sum(), [x], create_graph=True)
