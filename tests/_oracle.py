"""One place for comparing deepnotes against an oracle (torch, numpy, a reference implementation).

Every test that checks values or gradients against a reference goes through these functions, so the
rules are written once:

- ``to_numpy`` accepts a deepnotes ``Tensor``, a torch tensor (detached, moved to the CPU), a NumPy
  array, a Python scalar or a nested list, and returns a NumPy array.
- ``tolerances(dtype)`` gives the default ``(rtol, atol)`` for a floating dtype: tight for float64,
  looser for float32 and float16 (their rounding, not our code, sets the floor).  A test that needs a
  tighter bound, or documents why it needs a looser one, passes ``rtol``/``atol`` itself.
- ``assert_close`` checks the shape, optionally the dtype, then ``|ours - ref| <= atol + rtol |ref|``
  (NaN where the oracle has NaN).
- ``backward_pair`` runs the backward pass of both libraries under one random cotangent per output,
  drawn from the test's generator, so the gradients can be compared.
- ``assert_same_non_finite`` requires NaN and +-inf exactly where the oracle has them.
- ``assert_grads_close`` compares the ``.grad`` of leaf pairs; ``assert_matches`` is the whole
  "values, then gradients" check most oracle tests make.
"""

from __future__ import annotations

import numpy as np

import deepnotes as dn

try:  # the oracle is optional for the helpers that only compare arrays
    import torch
except ImportError:  # pragma: no cover - torch is in the test extra
    torch = None

# (rtol, atol) by dtype of the reference.  float64: the bound the suite's float64 oracle tests use;
# float32/float16: a few units of their machine epsilon relative, scaled absolute floor.
_TOLERANCES = {
    np.dtype(np.float64): (1e-6, 1e-9),
    np.dtype(np.float32): (1e-4, 1e-5),
    np.dtype(np.float16): (1e-2, 1e-3),
}


def to_numpy(x):
    """A NumPy array of ``x``: a deepnotes Tensor, a torch tensor, an array, a scalar or a list."""
    if isinstance(x, dn.Tensor):
        return x.data
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def tolerances(dtype):
    """Default ``(rtol, atol)`` for comparing values of ``dtype`` (float64 unless it is a lower-precision
    float; integers and booleans compare exactly)."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return 0.0, 0.0
    return _TOLERANCES.get(dtype, _TOLERANCES[np.dtype(np.float64)])


def assert_close(ours, ref, rtol=None, atol=None, *, what="value", check_dtype=False, check_shape=True, equal_nan=True):
    """``ours`` equals the oracle's ``ref`` within ``atol + rtol |ref|`` (defaults: ``tolerances`` of
    ``ref``'s dtype); the shapes must match and, with ``check_dtype``, the dtypes too.  NaN in the same
    places counts as equal (``numpy.testing``'s rule); ``equal_nan=False`` forbids NaN altogether."""
    a, b = to_numpy(ours), to_numpy(ref)
    if check_shape:
        assert a.shape == b.shape, f"{what}: shape {a.shape} vs oracle {b.shape}"
    if check_dtype:
        assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} vs oracle {b.dtype}"
    d_rtol, d_atol = tolerances(b.dtype)
    np.testing.assert_allclose(
        a,
        b,
        rtol=d_rtol if rtol is None else rtol,
        atol=d_atol if atol is None else atol,
        equal_nan=equal_nan,
        err_msg=what,
    )


def assert_same_non_finite(ours, ref, rtol=1e-6, atol=1e-12, what=""):
    """The NaN and inf positions (and inf signs) of ``ours`` are exactly the oracle's; the finite values
    agree within ``atol + rtol |ref|``."""
    a, b = to_numpy(ours), to_numpy(ref)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{what} NaN positions")
    np.testing.assert_array_equal(np.isposinf(a), np.isposinf(b), err_msg=f"{what} +inf positions")
    np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b), err_msg=f"{what} -inf positions")
    fin = np.isfinite(b)
    np.testing.assert_allclose(a[fin], b[fin], rtol=rtol, atol=atol, err_msg=f"{what} finite values")


def cotangent(shape, rng):
    """A standard-normal cotangent of ``shape`` drawn from ``rng`` (float64; cast per library)."""
    return rng.standard_normal(tuple(shape))


def backward_pair(ours, theirs, rng):
    """Backward of deepnotes outputs ``ours`` and torch outputs ``theirs`` (one tensor each, or equal-length
    sequences) under the same random cotangents: one draw from ``rng`` per output, in order, each cast to
    its output's dtype in each library."""
    if isinstance(ours, dn.Tensor):
        ours, theirs = [ours], [theirs]
    loss_d = loss_t = None
    for y, yt in zip(ours, theirs):
        cot = cotangent(yt.shape, rng)
        term_d = (y * dn.Tensor(cot.astype(y.data.dtype))).sum()
        term_t = (yt * torch.tensor(cot, dtype=yt.dtype)).sum()
        loss_d = term_d if loss_d is None else loss_d + term_d
        loss_t = term_t if loss_t is None else loss_t + term_t
    loss_d.backward()
    loss_t.backward()


def assert_grads_close(pairs, rtol=None, atol=None, *, what="gradient", check_dtype=False, missing_is_zero=False):
    """For each ``(ours, theirs)`` leaf pair (or ``(name, ours, theirs)``), the ``.grad`` agree.

    With ``missing_is_zero`` a leaf without a gradient counts as zeros of its shape (torch leaves
    ``.grad`` None where no path reaches the input); otherwise both must have one."""
    for i, pair in enumerate(pairs):
        name, a, b = pair if len(pair) == 3 else (f"{what} {i}", *pair)
        ga, gb = a.grad, b.grad
        if missing_is_zero:
            ga = np.zeros(a.shape, dtype=to_numpy(a).dtype) if ga is None else ga
            gb = np.zeros(tuple(b.shape), dtype=to_numpy(b).dtype) if gb is None else gb
        assert ga is not None, f"{name}: deepnotes has no gradient"
        assert gb is not None, f"{name}: the oracle has no gradient"
        assert_close(ga, gb, rtol, atol, what=str(name), check_dtype=check_dtype)


def assert_matches(y, yt, leaves, rng, rtol=None, atol=None, *, what="output", check_dtype=False):
    """Values of ``y`` vs the oracle's ``yt``, then, after ``backward_pair``, the gradients of every
    ``(ours, theirs)`` leaf pair in ``leaves``."""
    assert_close(y, yt, rtol, atol, what=what, check_dtype=check_dtype)
    backward_pair(y, yt, rng)
    assert_grads_close(leaves, rtol, atol, what=f"gradient of {what} w.r.t. input")
