"""Numerical gradient checking by central differences (torch.autograd.gradcheck's contract)."""

import numpy as np

from .function import TensorBase as _Tensor  # the engine's view of deepnotes.Tensor (tensor.py imports autograd)


def _as_array(out):
    return out.data if isinstance(out, _Tensor) else np.asarray(out)


def _numerical_vjp(fn, inputs, i, cotangent, eps):
    """d <cotangent, fn(inputs)> / d inputs[i] by central differences, one element at a time.

    Elements are perturbed in place through multi-indices, so non-contiguous inputs work too.
    """
    x = inputs[i].data
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(*x.shape):
        orig = x[idx]
        x[idx] = orig + eps
        plus = float(np.sum(cotangent * _as_array(fn(*inputs))))
        x[idx] = orig - eps
        minus = float(np.sum(cotangent * _as_array(fn(*inputs))))
        x[idx] = orig
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Compare the analytic gradients of ``fn`` at ``inputs`` with central differences.

    ``inputs`` are float64 Tensors; those with ``requires_grad`` are checked.  A random cotangent v turns
    a tensor output y into the scalar <v, y>, so every output element contributes:
    analytic = backward(v), numeric_k = (<v, f(x + eps e_k)> - <v, f(x - eps e_k)>) / (2 eps).
    Passes when |analytic - numeric| <= atol + rtol |numeric| everywhere.  Returns True, or raises
    ``AssertionError`` naming the input and the worst element (returns False when
    ``raise_exception=False``).
    """
    inputs = list(inputs)
    for i, t in enumerate(inputs):
        if isinstance(t, _Tensor) and t.requires_grad and t.data.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {t.data.dtype}; use float64 inputs")
    if not any(isinstance(t, _Tensor) and t.requires_grad for t in inputs):
        raise ValueError(
            "gradcheck: no input requires grad; expected at least one float64 tensor with requires_grad=True"
        )
    out = fn(*inputs)
    if not isinstance(out, _Tensor) or not out.requires_grad:
        raise ValueError("gradcheck: fn must return a Tensor that depends on an input requiring grad")
    cot = np.random.default_rng(seed).standard_normal(out.shape)
    for t in inputs:
        if isinstance(t, _Tensor):
            t.grad = None
    out.backward(type(out)._convert(np.asarray(cot, dtype=out.data.dtype)))
    for i, t in enumerate(inputs):
        if not (isinstance(t, _Tensor) and t.requires_grad):
            continue
        analytic = np.zeros(t.shape) if t.grad is None else t.grad.data.astype(np.float64)
        numeric = _numerical_vjp(fn, inputs, i, cot, eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            if not raise_exception:
                return False
            err = np.abs(analytic - numeric)
            k = tuple(int(j) for j in np.unravel_index(np.argmax(err), err.shape))
            raise AssertionError(
                f"gradcheck: input {i} gradient mismatch at {k}: analytic {float(analytic[k]):.6g} vs "
                f"numeric {float(numeric[k]):.6g} (max abs error {err.max():.3g})"
            )
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Check second derivatives by central differences (torch.autograd.gradgradcheck's contract).

    The first derivative g(x, v) = grad(<v, fn(x)>, x, create_graph=True), contracted with fixed
    random weights w, is itself checked with :func:`gradcheck` with respect to the inputs and to the
    cotangent v (random, or ``grad_outputs``): the recorded backward pass (``backward_graph``) of
    every primitive fn uses is compared with finite differences of first-order gradients.
    """
    from .differentiate import grad

    inputs = list(inputs)
    out = fn(*inputs)
    if not isinstance(out, _Tensor) or not out.requires_grad:
        raise ValueError("gradgradcheck: fn must return a Tensor that depends on an input requiring grad")
    if grad_outputs is None:
        v = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(out.data.dtype)
        grad_outputs = type(out)._from_op(v, None).requires_grad_(True)
    diff = [k for k, t in enumerate(inputs) if isinstance(t, _Tensor) and t.requires_grad]
    rng = np.random.default_rng(seed + 2)
    weights = [type(inputs[k])._from_op(rng.standard_normal(inputs[k].shape), None) for k in diff]

    def first(*args):
        # <w, g(x, v)> for fixed random w: its gradient is the second derivative in direction w
        xs, v = list(args[:-1]), args[-1]
        gs = grad(fn(*xs), [xs[k] for k in diff], v, create_graph=True, allow_unused=True)
        total = None
        for g, w in zip(gs, weights):
            if g is not None:
                part = (g * w).sum()
                total = part if total is None else total + part
        if total is None:
            raise ValueError("gradgradcheck: the outputs of fn do not depend on any input")
        return total

    # the recorded first derivative itself must match the numeric one (backward_graph vs finite differences)
    gs = grad(fn(*inputs), [inputs[k] for k in diff], grad_outputs, create_graph=True, allow_unused=True)
    cot = grad_outputs.data.astype(np.float64)
    for k, g in zip(diff, gs):
        analytic = np.zeros(inputs[k].shape) if g is None else g.data.astype(np.float64)
        numeric = _numerical_vjp(fn, inputs, k, cot, eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            if not raise_exception:
                return False
            err = np.abs(analytic - numeric)
            raise AssertionError(
                f"gradgradcheck: input {k}: the recorded (create_graph) gradient differs from the numeric one "
                f"(max abs error {err.max():.3g})"
            )
    return gradcheck(first, inputs + [grad_outputs], eps, atol, rtol, seed, raise_exception)
