"""adaptive_max_pool2d / AdaptiveMaxPool2d, GlobalAvgPool2d, SpatialPyramidPooling and MaxPool2d's
return_indices against torch: values, indices and input gradients over hypothesis-drawn shapes (batch 0
and 1, 1x1 maps, output larger than the input), ties, NaN, integers; a numerical gradient check; the SPP
output length for several input sizes equals torch's adaptive pools + flatten + cat; bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn
from deepnotes.autograd import gradcheck

import _oracle as oracle

RTOL64, ATOL64 = 1e-6, 1e-9


def _check_grad(y, yt, X, Xt, rng):
    oracle.backward_pair(y, yt, rng)
    oracle.assert_grads_close([(X, Xt)], RTOL64, ATOL64)


def _adaptive_max_case(x, output_size, rng):
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, idx = F.adaptive_max_pool2d(X, output_size, return_indices=True)
    yt, idxt = TF.adaptive_max_pool2d(Xt, output_size, return_indices=True)
    assert y.shape == tuple(yt.shape) and idx.data.dtype == np.int64
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    np.testing.assert_array_equal(idx.data, idxt.numpy())
    _check_grad(y, yt, X, Xt, rng)


@settings(max_examples=50, deadline=None)
@given(
    n=st.sampled_from([0, 1, 2]),
    c=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    oh=st.integers(1, 10),
    ow=st.integers(1, 10),
    levels=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_adaptive_max_pool2d_hypothesis(n, c, h, w, oh, ow, levels, seed):
    rng = np.random.default_rng(seed)
    # few distinct values, so windows often hold ties: the first maximum (row-major) must win
    x = rng.integers(0, levels + 1, (n, c, h, w)).astype(np.float64) + (
        rng.standard_normal((n, c, h, w)) if levels == 4 else 0
    )
    _adaptive_max_case(x, (oh, ow), rng)


@pytest.mark.parametrize(
    "shape,out",
    [
        ((2, 3, 7, 9), (3, 4)),
        ((1, 2, 5, 5), 5),
        ((2, 2, 3, 8), (5, 3)),
        ((2, 3, 1, 1), (2, 3)),
        ((1, 1, 32, 32), 1),
        ((2, 2, 6, 7), (None, 3)),
        ((3, 6, 5), 2),
    ],
)
def test_adaptive_max_pool2d_matches_torch(shape, out):
    rng = np.random.default_rng(len(shape) + sum(shape))
    _adaptive_max_case(rng.standard_normal(shape), out, rng)


def test_adaptive_max_pool2d_constant_input_nan_and_integers():
    rng = np.random.default_rng(1)
    _adaptive_max_case(np.ones((2, 2, 5, 7)), (3, 2), rng)  # all ties
    x = rng.standard_normal((1, 2, 6, 6))
    x[0, 0, 1, 1] = x[0, 0, 1, 3] = x[0, 1, 4, 4] = np.nan  # NaN wins; the last NaN is kept
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, idx = F.adaptive_max_pool2d(X, (2, 2), return_indices=True)
    yt, idxt = TF.adaptive_max_pool2d(Xt, (2, 2), return_indices=True)
    np.testing.assert_array_equal(y.data, yt.detach().numpy())  # NaN positions agree too
    np.testing.assert_array_equal(idx.data, idxt.numpy())
    xi = rng.integers(-50, 50, (2, 3, 5, 4))
    y = F.adaptive_max_pool2d(dn.Tensor(xi), (2, 3))
    assert y.data.dtype == np.int64
    np.testing.assert_array_equal(y.data, TF.adaptive_max_pool2d(torch.tensor(xi).double(), (2, 3)).numpy())


def test_adaptive_max_pool2d_module_float32_no_grad_and_gradcheck():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    m, tm = nn.AdaptiveMaxPool2d((3, 2), return_indices=True), torch.nn.AdaptiveMaxPool2d((3, 2), return_indices=True)
    assert repr(m) == repr(tm)
    (y, i), (yt, it) = m(dn.Tensor(x)), tm(torch.tensor(x))
    assert y.data.dtype == np.float32
    np.testing.assert_array_equal(y.data, yt.numpy())
    np.testing.assert_array_equal(i.data, it.numpy())
    with dn.no_grad():
        y2, i2 = F.adaptive_max_pool2d(dn.Tensor(x, requires_grad=True), (3, 2), return_indices=True)
    np.testing.assert_array_equal(i2.data, it.numpy())
    xg = dn.Tensor(rng.standard_normal((2, 2, 5, 7)), requires_grad=True)  # distinct values: differentiable
    assert gradcheck(lambda t: F.adaptive_max_pool2d(t, (3, 4)), [xg])


def test_global_avg_pool2d_matches_torch():
    rng = np.random.default_rng(3)
    for shape in [(2, 3, 5, 7), (1, 4, 1, 1), (0, 2, 3, 3), (3, 4, 6)]:
        x = rng.standard_normal(shape)
        for flatten in (False, True):
            X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            y = nn.GlobalAvgPool2d(flatten=flatten)(X)
            yt = TF.adaptive_avg_pool2d(Xt, 1)
            if flatten:
                yt = yt.flatten(yt.ndim - 3)
            assert y.shape == tuple(yt.shape)
            np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL64, atol=ATOL64)
            _check_grad(y, yt, X, Xt, rng)


def _torch_spp(xt, levels, mode):
    pool = TF.adaptive_max_pool2d if mode == "max" else TF.adaptive_avg_pool2d
    start = xt.ndim - 3
    return torch.cat([pool(xt, level).flatten(start) for level in levels], dim=start)


@pytest.mark.parametrize("levels,mode", [((1, 2, 4), "max"), ((1, 3, (2, 5)), "avg"), ([6], "max")])
def test_spatial_pyramid_pooling_fixed_length_and_matches_torch(levels, mode):
    rng = np.random.default_rng(4)
    m = nn.SpatialPyramidPooling(levels, mode)
    C = 3
    expected = m.output_features(C)
    for shape in [(2, C, 13, 17), (1, C, 6, 6), (2, C, 1, 1), (2, C, 32, 9), (0, C, 5, 5), (C, 8, 11)]:
        x = rng.standard_normal(shape)
        X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, yt = m(X), _torch_spp(Xt, levels, mode)
        assert y.shape == tuple(yt.shape) and y.shape[-1] == expected  # same length for every size
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL64, atol=ATOL64)
        _check_grad(y, yt, X, Xt, rng)
    assert nn.SpatialPyramidPooling().output_features(256) == 256 * 21


@settings(max_examples=30, deadline=None)
@given(
    n=st.sampled_from([1, 2]),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
    ceil_mode=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_max_pool2d_return_indices_matches_torch(n, h, w, k, s, p, d, ceil_mode, seed):
    if p > k // 2 or h + 2 * p < d * (k - 1) + 1 or w + 2 * p < d * (k - 1) + 1:
        return
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (n, 2, h, w)).astype(np.float64)  # ties
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    m = nn.MaxPool2d(k, s, p, d, return_indices=True, ceil_mode=ceil_mode)
    (y, i) = m(X)
    (yt, it) = TF.max_pool2d(Xt, k, s, p, d, ceil_mode=ceil_mode, return_indices=True)
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    np.testing.assert_array_equal(i.data, it.numpy())
    if np.isinf(y.data).any():
        # a dilated window with no tap inside the input: torch reports an index past the plane (and its
        # backward pass aborts on it); here such windows pass no gradient
        return
    _check_grad(y, yt, X, Xt, rng)


def test_max_pool2d_minus_inf_inputs_report_the_first_inside_tap_like_torch():
    """All input taps of a window at -inf: torch keeps the window's first tap inside the input (not a
    padding tap) as the arg-max, for the index and for the gradient."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 5, 6))
    x[:, :, :2, :3] = -np.inf
    x[1, 1, 3:, 4:] = -np.inf
    for kw in (
        dict(kernel_size=3, stride=1, padding=1),
        dict(kernel_size=2, stride=2, padding=1),
        dict(kernel_size=3, stride=2, padding=1, dilation=2),
    ):
        X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, i = F.max_pool2d(X, return_indices=True, **kw)
        yt, it = TF.max_pool2d(Xt, return_indices=True, **kw)
        np.testing.assert_array_equal(y.data, yt.detach().numpy())
        np.testing.assert_array_equal(i.data, it.numpy())
        _check_grad(y, yt, X, Xt, rng)
    xi = np.full((1, 1, 3, 3), np.iinfo(np.int64).min)
    np.testing.assert_array_equal(
        F.max_pool2d(dn.Tensor(xi), 3, 1, 1, return_indices=True)[1].data,
        TF.max_pool2d(torch.tensor(xi).double(), 3, 1, 1, return_indices=True)[1].numpy(),
    )


def test_pooling_extra_bad_input():
    x = dn.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: output_size must be positive, got \(0, 2\)"):
        F.adaptive_max_pool2d(x, (0, 2))
    with pytest.raises(
        ValueError,
        match=r"adaptive_max_pool2d: expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) "
        r"input, got shape \(4, 4\)",
    ):
        F.adaptive_max_pool2d(dn.zeros(4, 4), 2)
    with pytest.raises(
        ValueError,
        match=r"adaptive_max_pool2d: output_size must be an int or a pair, got "
        r"\(1, 2, 3\)",
    ):
        F.adaptive_max_pool2d(x, (1, 2, 3))
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: input has an empty spatial size 0x4"):
        F.adaptive_max_pool2d(dn.zeros(1, 2, 0, 4), 2)
    with pytest.raises(TypeError, match=r"adaptive_max_pool2d: expected a numeric input, got dtype bool"):
        F.adaptive_max_pool2d(dn.Tensor(np.zeros((1, 1, 2, 2), dtype=bool)), 1)
    with pytest.raises(ValueError, match=r"spatial_pyramid_pool: mode must be 'max' or 'avg', got 'sum'"):
        F.spatial_pyramid_pool(x, mode="sum")
    with pytest.raises(ValueError, match=r"spatial_pyramid_pool: levels must be a non-empty sequence of positive"):
        F.spatial_pyramid_pool(x, levels=(1, 0))
    with pytest.raises(
        TypeError,
        match=r"SpatialPyramidPooling: levels must be a sequence of ints or \(oh, ow\) "
        r"pairs, got 4",
    ):
        nn.SpatialPyramidPooling(4)
    with pytest.raises(ValueError, match=r"spatial_pyramid_pool: expected a 3-D \(C, H, W\) or 4-D"):
        F.spatial_pyramid_pool(dn.zeros(2, 3))
