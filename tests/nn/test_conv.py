"""Conv2d against torch: values and gradients over a grid of geometries, module state_dict round
trips, default initialisation, repr, and a numerical gradient check of the im2col primitive."""

import itertools

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
RTOL32, ATOL32 = 1e-4, 1e-5


def _pair_grads(dn_inputs, th_inputs, y, yt, rng):
    oracle.backward_pair(y, yt, rng)
    return [(a.grad, b.grad.numpy()) for a, b in zip(dn_inputs, th_inputs)]


def _conv_case(rng, x_shape, w_shape, bias, stride, padding, dilation, groups, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    dins = [dn.Tensor(x, requires_grad=True), dn.Tensor(w, requires_grad=True)]
    tins = [torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)]
    if bias:
        dins.append(dn.Tensor(b, requires_grad=True))
        tins.append(torch.tensor(b, requires_grad=True))
    y = F.conv2d(dins[0], dins[1], dins[2] if bias else None, stride, padding, dilation, groups)
    yt = TF.conv2d(tins[0], tins[1], tins[2] if bias else None, stride, padding, dilation, groups)
    rtol, atol = (RTOL64, ATOL64) if dtype == np.float64 else (RTOL32, ATOL32)
    assert y.shape == tuple(yt.shape)
    assert y.data.dtype == dtype
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=atol)
    for g, gt in _pair_grads(dins, tins, y, yt, rng):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, gt, rtol=rtol, atol=atol)


GRID = [
    c
    for c in itertools.product([1, 2, (2, 1)], [0, 1, (2, 1), "same", "valid"], [1, (2, 1)], [1, 2])
    if not (c[1] == "same" and c[0] != 1)
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("stride,padding,dilation,groups", GRID)
def test_conv2d_grid_matches_torch(stride, padding, dilation, groups):
    rng = np.random.default_rng(hash((str(stride), str(padding), str(dilation), groups)) % 2**32)
    # odd, non-square sizes and an asymmetric kernel
    _conv_case(rng, (2, 4, 7, 9), (6, 4 // groups, 3, 2), True, stride, padding, dilation, groups)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "name,x_shape,w_shape,kw",
    [
        ("depthwise", (2, 6, 8, 8), (6, 1, 3, 3), dict(groups=6, padding=1)),
        ("depthwise_multiplier", (1, 3, 6, 7), (6, 1, 3, 3), dict(groups=3, stride=2)),
        ("depthwise_strided", (2, 5, 9, 8), (5, 1, 3, 3), dict(groups=5, stride=2, padding=1)),
        ("depthwise_dilated_asymmetric", (2, 4, 9, 10), (4, 1, 2, 3), dict(groups=4, dilation=(2, 3), padding=(1, 2))),
        ("depthwise_stride_2_1_same_size", (1, 3, 7, 7), (3, 1, 5, 5), dict(groups=3, stride=(2, 1), padding=2)),
        ("depthwise_same", (2, 3, 5, 6), (3, 1, 4, 3), dict(groups=3, padding="same")),
        (
            "depthwise_stride3_dilated",
            (2, 4, 11, 12),
            (4, 1, 3, 3),
            dict(groups=4, stride=(3, 2), dilation=2, padding=2),
        ),
        ("depthwise_stride_exceeds_kernel", (1, 2, 9, 9), (2, 1, 2, 2), dict(groups=2, stride=4, padding=(0, 1))),
        ("pointwise", (3, 5, 4, 6), (7, 5, 1, 1), {}),
        ("large_kernel_same", (1, 2, 9, 8), (3, 2, 5, 4), dict(padding="same", dilation=2)),
        ("kernel_equals_input", (2, 3, 5, 5), (4, 3, 5, 5), {}),
        ("stride_larger_than_kernel", (2, 3, 11, 10), (4, 3, 2, 2), dict(stride=3, padding=(0, 1))),
        ("one_by_one_input", (4, 3, 1, 1), (2, 3, 1, 1), {}),
        ("padding_larger_than_kernel", (1, 2, 3, 3), (2, 2, 2, 2), dict(padding=3)),
    ],
)
def test_conv2d_special_geometries(name, x_shape, w_shape, kw):
    rng = np.random.default_rng(len(name))
    _conv_case(
        rng,
        x_shape,
        w_shape,
        True,
        kw.get("stride", 1),
        kw.get("padding", 0),
        kw.get("dilation", 1),
        kw.get("groups", 1),
    )


def test_conv2d_no_bias_and_float32():
    rng = np.random.default_rng(1)
    _conv_case(rng, (2, 4, 6, 5), (4, 2, 3, 3), False, 1, 1, 1, 2)
    _conv_case(rng, (3, 4, 9, 8), (8, 4, 3, 3), True, 2, 1, 1, 1, dtype=np.float32)


def test_conv2d_unbatched_input():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    y = F.conv2d(dn.Tensor(x), dn.Tensor(w), padding=1)
    yt = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1)
    assert y.shape == (4, 6, 5)
    np.testing.assert_allclose(y.data, yt.numpy(), rtol=RTOL64, atol=ATOL64)


def test_conv2d_empty_batch():
    x = np.zeros((0, 3, 5, 5))
    w = np.ones((2, 3, 3, 3))
    y = F.conv2d(dn.Tensor(x), dn.Tensor(w))
    assert y.shape == tuple(TF.conv2d(torch.tensor(x), torch.tensor(w)).shape) == (0, 2, 3, 3)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 2),
    cg=st.integers(1, 3),
    og=st.integers(1, 3),
    groups=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    dh=st.integers(1, 3),
    dw=st.integers(1, 3),
    ph=st.integers(0, 3),
    pw=st.integers(0, 3),
    bias=st.booleans(),
    same=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_conv2d_hypothesis(n, cg, og, groups, h, w, kh, kw, sh, sw, dh, dw, ph, pw, bias, same, seed):
    rng = np.random.default_rng(seed)
    if same:
        stride, padding = 1, "same"
        eh, ew = h, w
    else:
        stride, padding = (sh, sw), (ph, pw)
        eh, ew = h + 2 * ph, w + 2 * pw
    if eh < dh * (kh - 1) + 1 or ew < dw * (kw - 1) + 1:
        dh, dw, kh, kw = 1, 1, min(kh, eh), min(kw, ew)
    _conv_case(rng, (n, cg * groups, h, w), (og * groups, cg, kh, kw), bias, stride, padding, (dh, dw), groups)


# ----------------------------------------------------------------------------------- the module
def _torch_conv(*args, **kwargs):
    return torch.nn.Conv2d(*args, **kwargs).double()


@pytest.mark.parametrize(
    "args,kwargs",
    [
        ((3, 8, 3), dict(padding=1)),
        ((4, 6, (3, 2)), dict(stride=2, dilation=(1, 2), groups=2, bias=False)),
        ((4, 4, 3), dict(padding="same", groups=4)),
        ((2, 5, 1), dict(padding="valid")),
    ],
)
def test_conv2d_module_matches_torch_via_state_dict(args, kwargs):
    rng = np.random.default_rng(3)
    tm = _torch_conv(*args, **kwargs)
    m = nn.Conv2d(*args, **kwargs, dtype=np.float64)
    assert list(m.state_dict()) == list(tm.state_dict())
    for k, v in m.state_dict().items():
        assert v.shape == tuple(tm.state_dict()[k].shape)
    m.load_state_dict(tm.state_dict())  # torch -> deepnotes
    x = rng.standard_normal((2, args[0], 7, 6))
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = m(X), tm(Xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL64, atol=ATOL64)
    _pair_grads([X], [Xt], y, yt, rng)
    np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(m.weight.grad, tm.weight.grad.numpy(), rtol=RTOL64, atol=ATOL64)
    if m.bias is not None:
        np.testing.assert_allclose(m.bias.grad, tm.bias.grad.numpy(), rtol=RTOL64, atol=ATOL64)

    m2 = nn.Conv2d(*args, **kwargs, dtype=np.float64)  # deepnotes -> torch
    tm2 = _torch_conv(*args, **kwargs)
    tm2.load_state_dict({k: torch.tensor(v.data) for k, v in m2.state_dict().items()})
    np.testing.assert_allclose(m2(dn.Tensor(x)).data, tm2(torch.tensor(x)).detach().numpy(), rtol=RTOL64, atol=ATOL64)


def test_conv2d_module_float32_matches_torch():
    rng = np.random.default_rng(4)
    tm = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
    m = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    assert m.weight.data.dtype == np.float32
    m.load_state_dict(tm.state_dict())
    x = rng.standard_normal((4, 3, 16, 15)).astype(np.float32)
    y, yt = m(dn.Tensor(x)), tm(torch.tensor(x))
    assert y.data.dtype == np.float32
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL32, atol=ATOL32)


@pytest.mark.parametrize("args,kwargs", [((3, 64, 3), {}), ((16, 32, (5, 3)), dict(groups=4)), ((8, 8, 1), {})])
def test_conv2d_default_init_follows_torch(args, kwargs):
    dn.manual_seed(0)
    m = nn.Conv2d(*args, **kwargs)
    fan_in = args[0] // kwargs.get("groups", 1) * int(np.prod(m.kernel_size))
    bound = 1 / np.sqrt(fan_in)
    for p in (m.weight.data, m.bias.data):
        assert np.abs(p).max() <= bound
    w = m.weight.data
    # U(-b, b) has variance b^2 / 3; the sample variance of n values is within ~5 sigma
    n = w.size
    assert abs(w.var() - bound**2 / 3) < 5 * bound**2 * np.sqrt(4 / 45 / n)
    assert np.abs(w).max() > 0.9 * bound


def test_conv2d_repr_matches_torch():
    for args, kwargs in [
        ((3, 8, 3), {}),
        ((3, 8, 3), dict(stride=2, padding=1, bias=False)),
        ((4, 8, (3, 5)), dict(padding="same", dilation=2, groups=2)),
        ((4, 8, 1), dict(padding="valid")),
    ]:
        assert repr(nn.Conv2d(*args, **kwargs)) == repr(torch.nn.Conv2d(*args, **kwargs))


# ----------------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize(
    "stride,padding,dilation,groups,bias",
    [(1, 1, 1, 1, True), (2, (1, 0), (2, 1), 2, True), ((1, 2), "same", 1, 4, False), (1, 0, 2, 1, True)],
)
def test_conv2d_gradcheck(stride, padding, dilation, groups, bias):
    rng = np.random.default_rng(5)
    x = dn.Tensor(rng.standard_normal((2, 4, 5, 6)), requires_grad=True)
    w = dn.Tensor(rng.standard_normal((4, 4 // groups, 3, 2)), requires_grad=True)
    ins = [x, w] + ([dn.Tensor(rng.standard_normal(4), requires_grad=True)] if bias else [])
    if padding == "same":
        stride = 1

    def fn(*a):
        return F.conv2d(a[0], a[1], a[2] if bias else None, stride, padding, dilation, groups)

    assert gradcheck(fn, ins)


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_gradients_for_a_subset_of_inputs(stride):
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((3, 1, 3, 3))
    for x_grad, w_grad in ((True, False), (False, True)):
        X, W = dn.Tensor(x, requires_grad=x_grad), dn.Tensor(w, requires_grad=w_grad)
        Xt, Wt = torch.tensor(x, requires_grad=x_grad), torch.tensor(w, requires_grad=w_grad)
        (F.conv2d(X, W, stride=stride, padding=1, groups=3) ** 2).sum().backward()
        (TF.conv2d(Xt, Wt, stride=stride, padding=1, groups=3) ** 2).sum().backward()
        for a, b, on in ((X, Xt, x_grad), (W, Wt, w_grad)):
            if on:
                np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=RTOL64, atol=ATOL64)
            else:
                assert a.grad is None


def test_depthwise_gradcheck_strided_dilated():
    rng = np.random.default_rng(8)
    ins = [dn.Tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3, 7, 6), (3, 1, 2, 3), (3,))]
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, (2, 1), 1, (2, 1), 3), ins)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, 1, (0, 2), (1, 2), 3), ins)


def test_conv2d_gradient_only_for_requested_inputs():
    rng = np.random.default_rng(6)
    x = dn.Tensor(rng.standard_normal((1, 2, 4, 4)))
    w = dn.Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == w.shape
    wt = torch.tensor(w.data, requires_grad=True)
    TF.conv2d(torch.tensor(x.data), wt).sum().backward()
    np.testing.assert_allclose(w.grad, wt.grad.numpy(), rtol=RTOL64, atol=ATOL64)


def test_layer_name_in_errors_follows_attribute_changes():
    conv = nn.Conv2d(3, 4, 3)
    conv(dn.zeros(1, 3, 5, 5))
    with pytest.raises(
        ValueError, match=r"^Conv2d\(3, 4, kernel_size=\(3, 3\), stride=\(1, 1\)\): expected input with 3"
    ):
        conv(dn.zeros(1, 2, 5, 5))
    conv.bias = None
    conv.stride = (2, 2)
    with pytest.raises(ValueError, match=r"^Conv2d\(3, 4, kernel_size=\(3, 3\), stride=\(2, 2\), bias=False\): "):
        conv(dn.zeros(1, 2, 5, 5))
