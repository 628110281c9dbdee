"""conv1d / Conv1d against torch (values and gradients of input, weight and bias; 'same'/'valid'
padding, groups, dilation; batch 0 and 1, length-1 signals; state_dict, repr) and the true-convolution
helper convolve2d against scipy.signal.convolve2d (modes full/same/valid, even and odd kernels)."""

import itertools

import numpy as np
import pytest
import scipy.signal
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


def _compare_conv1d(rng, x_shape, w_shape, bias, **kw):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[0]))
    dins = [dn.Tensor(a, requires_grad=True) for a in arrays]
    tins = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, yt = F.conv1d(*dins, **kw), TF.conv1d(*tins, **kw)
    oracle.assert_matches(y, yt, list(zip(dins, tins)), rng, RTOL64, ATOL64)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "stride,padding,dilation,groups",
    [
        c
        for c in itertools.product([1, 2, 3], [0, 2, "same", "valid"], [1, 2], [1, 2, 4])
        if not (c[1] == "same" and c[0] != 1)
    ],
)
def test_conv1d_grid_matches_torch(stride, padding, dilation, groups):
    rng = np.random.default_rng(stride * 100 + dilation * 10 + groups)
    _compare_conv1d(
        rng, (2, 4, 11), (8, 4 // groups, 3), True, stride=stride, padding=padding, dilation=dilation, groups=groups
    )


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=40, deadline=None)
@given(
    n=st.sampled_from([0, 1, 3]),
    cg=st.integers(1, 3),
    og=st.integers(1, 3),
    g=st.integers(1, 3),
    length=st.integers(1, 12),
    k=st.integers(1, 5),
    s=st.integers(1, 3),
    p=st.integers(0, 3),
    d=st.integers(1, 3),
    bias=st.booleans(),
    same=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_conv1d_hypothesis(n, cg, og, g, length, k, s, p, d, bias, same, seed):
    padding = "same" if same and s == 1 else p
    total = length + (d * (k - 1) if padding == "same" else 2 * p)
    if total < d * (k - 1) + 1:
        with pytest.raises(ValueError, match=r"conv1d: input of spatial size .* is smaller than the dilated kernel"):
            F.conv1d(
                dn.zeros(max(n, 1), cg * g, length),
                dn.zeros(og * g, cg, k),
                stride=s,
                padding=padding,
                dilation=d,
                groups=g,
            )
        return
    _compare_conv1d(
        np.random.default_rng(seed),
        (n, cg * g, length),
        (og * g, cg, k),
        bias,
        stride=s,
        padding=padding,
        dilation=d,
        groups=g,
    )


def test_conv1d_unbatched_depthwise_and_gradcheck():
    rng = np.random.default_rng(1)
    _compare_conv1d(rng, (6, 9), (6, 1, 3), True, groups=6, padding=1)  # unbatched depthwise
    _compare_conv1d(rng, (2, 6, 9), (12, 1, 4), False, groups=6, stride=2)  # channel multiplier 2
    _compare_conv1d(rng, (1, 3, 1), (2, 3, 1), True)  # length-1 signal
    x = dn.Tensor(rng.standard_normal((2, 4, 7)), requires_grad=True)
    w = dn.Tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv1d(x, w, groups=2, dilation=2, padding=1), [x, w])


def test_conv1d_module_default_init_and_repr():
    """Values and gradients of Conv1d modules with torch's weights: see test_conv_transpose's module test."""
    dn.manual_seed(0)
    m = nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2)
    assert str(m) == str(torch.nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2))
    bound = 1 / np.sqrt(4 // 2 * 3)
    assert m.weight.shape == (6, 2, 3) and m.bias.shape == (6,)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.weight.data).max() > 0.8 * bound
    assert np.abs(m.bias.data).max() <= bound


def test_conv1d_bad_input():
    with pytest.raises(
        ValueError,
        match=r"conv1d: expected a 3-D weight \(out_channels, in_channels/groups, k\), "
        r"got shape \(4, 2, 3, 3\)",
    ):
        F.conv1d(dn.zeros(1, 2, 5), dn.zeros(4, 2, 3, 3))
    with pytest.raises(
        ValueError,
        match=r"conv1d: expected a 2-D \(C, L\) or 3-D \(N, C, L\) input, got shape "
        r"\(1, 2, 5, 5\)",
    ):
        F.conv1d(dn.zeros(1, 2, 5, 5), dn.zeros(4, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"conv1d: expected input with 2 channels \(weight \(4, 2, 3\), "
        r"groups=1\), got input of shape \(1, 3, 5\)",
    ):
        F.conv1d(dn.zeros(1, 3, 5), dn.zeros(4, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"conv1d: input of spatial size 2 \(padded 2\) is smaller than the "
        r"dilated kernel 3",
    ):
        F.conv1d(dn.zeros(1, 2, 2), dn.zeros(4, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"conv1d padding: expected an int or a sequence of 1 int\(s\), got "
        r"\(1, 1\)",
    ):
        F.conv1d(dn.zeros(1, 2, 5), dn.zeros(4, 2, 3), padding=(1, 1))
    with pytest.raises(ValueError, match=r"conv1d: padding='same' is not supported for strided"):
        F.conv1d(dn.zeros(1, 2, 5), dn.zeros(4, 2, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv1d: groups=2 must be positive and divide in_channels=3"):
        nn.Conv1d(3, 4, 3, groups=2)
    with pytest.raises(
        ValueError,
        match=r"Conv1d\(2, 4, kernel_size=\(3,\).*expected input of shape "
        r"\(N, 2, L\) or \(2, L\), got shape \(1, 2, 5, 5\)",
    ):
        nn.Conv1d(2, 4, 3)(dn.zeros(1, 2, 5, 5))


# --------------------------------------------------------------------------- true convolution
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("kshape", [(3, 3), (2, 4), (1, 5), (4, 1)])
def test_convolve2d_matches_scipy(mode, kshape):
    """Channels and batch: y[n, o] = sum_c scipy.signal.convolve2d(x[n, c], W[o, c], mode)."""
    rng = np.random.default_rng(sum(kshape))
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3) + kshape)
    y = F.convolve2d(dn.Tensor(x), dn.Tensor(w), padding=mode)
    ref = np.array(
        [
            [sum(scipy.signal.convolve2d(x[n, c], w[o, c], mode=mode) for c in range(3)) for o in range(4)]
            for n in range(2)
        ]
    )
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.data, ref, rtol=1e-10, atol=1e-12)


def test_convolve2d_differs_from_correlation_by_the_flip():
    """An asymmetric kernel: convolve2d = scipy convolution, conv2d = scipy correlation (not the same)."""
    x = np.arange(25.0).reshape(1, 1, 5, 5) ** 1.5
    k = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])  # Sobel x
    conv = F.convolve2d(dn.Tensor(x), dn.Tensor(k[None, None])).data[0, 0]
    corr = F.conv2d(dn.Tensor(x), dn.Tensor(k[None, None])).data[0, 0]
    np.testing.assert_allclose(conv, scipy.signal.convolve2d(x[0, 0], k, mode="valid"), rtol=1e-12)
    np.testing.assert_allclose(corr, scipy.signal.correlate2d(x[0, 0], k, mode="valid"), rtol=1e-12)
    np.testing.assert_allclose(conv, -corr, rtol=1e-12)  # the flip changes the sign of this filter


def test_convolve2d_gradients_match_torch_with_flipped_kernel():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    X, Wd, B = (dn.Tensor(a, requires_grad=True) for a in (x, w, b))
    Xt, Wt, Bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.convolve2d(X, Wd, B, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    yt = TF.conv2d(Xt, Wt.flip(-2, -1), Bt, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL64, atol=ATOL64)
    cot = rng.standard_normal(y.shape)
    (y * dn.Tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    for a, t in ((X, Xt), (Wd, Wt), (B, Bt)):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=RTOL64, atol=ATOL64)


def test_convolve2d_bad_input():
    with pytest.raises(
        ValueError,
        match=r"convolve2d: padding must be an int, a pair, 'same', 'valid' or "
        r"'full', got 'circular'",
    ):
        F.convolve2d(dn.zeros(1, 1, 4, 4), dn.zeros(1, 1, 3, 3), padding="circular")
    with pytest.raises(ValueError, match=r"conv2d: padding must be an int, a pair, 'same' or 'valid', got 'full'"):
        F.conv2d(dn.zeros(1, 1, 4, 4), dn.zeros(1, 1, 3, 3), padding="full")
