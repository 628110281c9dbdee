"""Numerical gradient checking by central differences (torch.autograd.gradcheck's contract)."""
import numpy as np


def _numerical_jacobian_vector(fn, inputs, i, cotangent, eps):
    """d <cotangent, fn(inputs)> / d inputs[i], by central differences on every element."""
    x = inputs[i].data
    grad = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1)
    gflat = grad.reshape(-1)
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        plus = float(np.sum(cotangent * _as_array(fn(*inputs))))
        flat[k] = orig - eps
        minus = float(np.sum(cotangent * _as_array(fn(*inputs))))
        flat[k] = orig
        gflat[k] = (plus - minus) / (2 * eps)
    return grad


def _as_array(out):
    from ..tensor import Tensor
    return out.data if isinstance(out, Tensor) else np.asarray(out)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Compare the analytic gradients of ``fn`` at ``inputs`` with central differences.

    ``inputs`` are float64 Tensors; those with ``requires_grad`` are checked.  A random cotangent turns
    a tensor output into a scalar so every output element contributes.  Returns True, or raises
    ``AssertionError`` naming the input and the worst element when ``raise_exception``.
    """
    from ..tensor import Tensor

    inputs = list(inputs)
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.data.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {t.data.dtype}; use float64 inputs")
    out = fn(*inputs)
    rng = np.random.default_rng(seed)
    cot = rng.standard_normal(_as_array(out).shape)
    for t in inputs:
        if isinstance(t, Tensor):
            t.grad = None
    out.backward(Tensor(cot.astype(out.data.dtype)))
    for i, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        analytic = np.zeros(t.shape) if t.grad is None else t.grad.astype(np.float64)
        numeric = _numerical_jacobian_vector(fn, inputs, i, cot, eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            if not raise_exception:
                return False
            err = np.abs(analytic - numeric)
            k = np.unravel_index(np.argmax(err), err.shape)
            raise AssertionError(
                f"gradcheck: input {i} gradient mismatch at {k}: analytic {analytic[k]!r} vs "
                f"numeric {numeric[k]!r} (max abs error {err.max():.3g})")
    return True
