"""Hardshrink (the sample op of CONTRIBUTING.md) against torch in float64: values and input gradients
on random inputs, exactly at the thresholds and on non-finite values; the module, its repr, float32/16
dtypes, a gradcheck of the primitive and the argument errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn
from deepnotes.autograd import gradcheck


def _pair(x, requires_grad=True):
    return dn.tensor(x, requires_grad=requires_grad), torch.tensor(x, requires_grad=requires_grad)


@pytest.mark.parametrize("lambd", [0.5, 0.0, 1.25, -0.3])
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (2, 0, 3), ()])
def test_values_and_gradients_match_torch_float64(lambd, shape):
    rng = np.random.default_rng(abs(hash((lambd, shape))) % 2**32)
    x = rng.normal(scale=1.5, size=shape)
    g = rng.normal(size=shape)
    a, t = _pair(x)
    y, yt = F.hardshrink(a, lambd), TF.hardshrink(t, lambd)
    assert y.dtype == np.float64 and y.shape == tuple(yt.shape)
    np.testing.assert_array_equal(y.data, yt.detach().numpy())  # selection of values: exact
    y.backward(dn.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(a.grad.data, t.grad.numpy())


def test_at_the_thresholds_and_non_finite_values_like_torch():
    x = np.array([-0.5, 0.5, -0.5000001, 0.5000001, 0.0, np.nan, np.inf, -np.inf, 1e300, -1e-300])
    a, t = _pair(x)
    y, yt = F.hardshrink(a), TF.hardshrink(t)
    np.testing.assert_array_equal(y.data, yt.detach().numpy())  # NaN passes through, as in torch
    y.backward(dn.ones(x.shape, dtype=np.float64))
    yt.backward(torch.ones(x.shape, dtype=torch.float64))
    # torch's gradient at a NaN input depends on its kernel (1 on the scalar path, 0 on the vectorised
    # one), so only the other positions are compared; ours passes the gradient like the value
    finite = ~np.isnan(x)
    np.testing.assert_array_equal(a.grad.data[finite], t.grad.numpy()[finite])
    assert a.grad.data[np.isnan(x)].tolist() == [1.0]


@pytest.mark.parametrize("dtype,tdtype", [(np.float32, torch.float32), (np.float16, torch.float16)])
def test_low_precision_keeps_the_dtype_and_matches_torch(dtype, tdtype):
    x = np.random.default_rng(1).normal(size=(4, 6)).astype(dtype)
    y = F.hardshrink(dn.tensor(x), 0.3)
    yt = TF.hardshrink(torch.tensor(x, dtype=tdtype), 0.3)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.data, yt.numpy())


def test_module_matches_torch_module_and_repr():
    x = np.random.default_rng(2).normal(size=(2, 3, 4))
    a, t = _pair(x)
    ours, theirs = nn.Hardshrink(0.7), torch.nn.Hardshrink(0.7)
    np.testing.assert_array_equal(ours(a).data, theirs(t).detach().numpy())
    assert repr(ours) == repr(theirs) == "Hardshrink(0.7)"
    assert repr(nn.Hardshrink()) == repr(torch.nn.Hardshrink())
    assert list(ours.parameters()) == []


def test_gradcheck_of_the_primitive_away_from_the_kinks():
    x = np.random.default_rng(3).normal(size=(3, 5))
    x = np.where(np.abs(np.abs(x) - 0.5) < 1e-3, x + 0.01, x)  # central differences need no kink nearby
    assert gradcheck(lambda t: F.hardshrink(t, 0.5), [dn.tensor(x, requires_grad=True)])


def test_errors_name_the_function():
    with pytest.raises(TypeError, match="hardshrink: expected a floating-point input, got dtype int64"):
        F.hardshrink(dn.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="hardshrink: lambd must be a number, got 'a'"):
        F.hardshrink(dn.tensor([1.0]), "a")
    with pytest.raises(TypeError, match="hardshrink: expected a Tensor or an array, got str"):
        F.hardshrink("x")
