"""conv_transpose2d / ConvTranspose2d (and the 1-D forms) against torch: values and gradients for input,
weight and bias over a grid and hypothesis-drawn geometries (batch 0 and 1, 1x1 maps), output_size,
state_dict, repr and init (Conv1d modules too); the adjoint identity with conv2d; a numerical gradient
check; bad input."""

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
from deepnotes.ops.conv_transpose import ConvTranspose2dFn

import _oracle as oracle

RTOL64, ATOL64 = 1e-6, 1e-9


def _compare(fn_dn, fn_t, x_shape, w_shape, bias, rng, dtype=np.float64, rtol=RTOL64, atol=ATOL64, **kw):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    arrays = [x, w] + ([rng.standard_normal(w_shape[1] * kw.get("groups", 1)).astype(dtype)] if bias else [])
    dins = [dn.Tensor(a, requires_grad=True) for a in arrays]
    tins = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn_dn(*dins, **kw)
    yt = fn_t(*tins, **kw)
    assert y.data.dtype == dtype
    oracle.assert_matches(y, yt, list(zip(dins, tins)), rng, rtol, atol)


def _valid_output_padding(stride, output_padding, dilation):
    """torch's rule: output_padding < stride or < dilation along each axis."""
    return all(q < s or q < d for q, s, d in zip(F._pair(output_padding), F._pair(stride), F._pair(dilation)))


GRID = [
    c
    for c in itertools.product([1, 2, (3, 2)], [0, 1, (2, 0)], [0, 1], [1, (2, 1)], [1, 2])
    if _valid_output_padding(c[0], c[2], c[3])
]


@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups", GRID)
def test_conv_transpose2d_grid_matches_torch(stride, padding, output_padding, dilation, groups):
    rng = np.random.default_rng(len(GRID) + hash(str((stride, padding, output_padding, dilation, groups))) % 1000)
    _compare(
        F.conv_transpose2d,
        TF.conv_transpose2d,
        (2, 4, 5, 4),
        (4, 6 // groups, 3, 2),
        True,
        rng,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.sampled_from([0, 1, 2]),
    cg=st.integers(1, 3),
    og=st.integers(1, 3),
    g=st.integers(1, 3),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    ph=st.integers(0, 3),
    pw=st.integers(0, 3),
    dh=st.integers(1, 3),
    dw=st.integers(1, 3),
    qh=st.integers(0, 2),
    qw=st.integers(0, 2),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_conv_transpose2d_hypothesis(n, cg, og, g, h, w, kh, kw, sh, sw, ph, pw, dh, dw, qh, qw, bias, seed):
    qh = qh if qh < max(sh, dh) else 0
    qw = qw if qw < max(sw, dw) else 0
    out = [
        (i - 1) * s - 2 * p + d * (k - 1) + q + 1
        for i, s, p, d, k, q in ((h, sh, ph, dh, kh, qh), (w, sw, pw, dw, kw, qw))
    ]
    if min(out) < 1:
        with pytest.raises(ValueError, match=r"conv_transpose2d: input of spatial size .* gives an output"):
            F.conv_transpose2d(
                dn.zeros(max(n, 1), cg * g, h, w),
                dn.zeros(cg * g, og, kh, kw),
                stride=(sh, sw),
                padding=(ph, pw),
                output_padding=(qh, qw),
                groups=g,
                dilation=(dh, dw),
            )
        return
    _compare(
        F.conv_transpose2d,
        TF.conv_transpose2d,
        (n, cg * g, h, w),
        (cg * g, og, kh, kw),
        bias,
        np.random.default_rng(seed),
        stride=(sh, sw),
        padding=(ph, pw),
        output_padding=(qh, qw),
        groups=g,
        dilation=(dh, dw),
    )


def test_conv_transpose2d_special_cases_match_torch():
    rng = np.random.default_rng(3)
    cases = [
        ((1, 3, 1, 1), (3, 2, 1, 1), {}),  # 1x1 map, 1x1 kernel
        ((1, 2, 1, 1), (2, 4, 4, 4), dict(stride=2, padding=1)),  # DCGAN-style first layer
        ((2, 6, 4, 4), (6, 1, 3, 3), dict(stride=2, padding=1, output_padding=1, groups=6)),  # depthwise
        ((2, 3, 3, 5), (3, 2, 2, 2), dict(stride=2)),  # exact 2x upsampling
        ((1, 2, 2, 2), (2, 2, 3, 3), dict(stride=3, dilation=2, output_padding=(1, 2))),
        ((2, 2, 4, 4), (2, 3, 5, 5), dict(padding=3)),
    ]  # padding crops 8x8 to 2x2
    for x_shape, w_shape, kw in cases:
        _compare(F.conv_transpose2d, TF.conv_transpose2d, x_shape, w_shape, True, rng, **kw)


def test_conv_transpose2d_float32_and_unbatched():
    rng = np.random.default_rng(4)
    _compare(
        F.conv_transpose2d,
        TF.conv_transpose2d,
        (2, 4, 6, 5),
        (4, 3, 3, 3),
        True,
        rng,
        dtype=np.float32,
        rtol=1e-4,
        atol=1e-4,
        stride=2,
        padding=1,
        output_padding=1,
    )
    x = rng.standard_normal((4, 5, 3))
    w = rng.standard_normal((4, 2, 3, 3))
    y = F.conv_transpose2d(dn.Tensor(x), dn.Tensor(w), stride=2)
    np.testing.assert_allclose(
        y.data, TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=2).numpy(), rtol=RTOL64, atol=ATOL64
    )


def test_conv_transpose_is_the_adjoint_of_conv2d():
    """<conv2d(x, W), y> = <x, conv_transpose2d(y, W)> for every x, y (same stride/padding/dilation)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 9, 8))
    wt = rng.standard_normal((6, 2, 3, 3))
    kw = dict(stride=2, padding=1, dilation=(1, 2), groups=2)
    y = F.conv2d(dn.Tensor(x), dn.Tensor(wt), **kw)
    v = rng.standard_normal(y.shape)
    op = (9 + 2 - 2 - 1) % 2, (8 + 2 - 4 - 1) % 2  # recover the exact input size
    back = F.conv_transpose2d(dn.Tensor(v), dn.Tensor(wt), output_padding=op, **kw)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(y.data * v), np.sum(x * back.data), rtol=1e-10)


@pytest.mark.parametrize(
    "kw", [dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=2), dict(stride=(1, 2), padding=(0, 1))]
)
def test_conv_transpose2d_gradcheck(kw):
    rng = np.random.default_rng(6)
    x = dn.Tensor(rng.standard_normal((2, 4, 3, 3)), requires_grad=True)
    w = dn.Tensor(rng.standard_normal((4, 2, 2, 3)), requires_grad=True)
    b = dn.Tensor(rng.standard_normal(2 * kw.get("groups", 1)), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), [x, w, b])
    assert isinstance(F.conv_transpose2d(x, w, b, **kw).grad_fn, ConvTranspose2dFn)


@pytest.mark.parametrize(
    "stride,padding,output_padding,dilation,groups,n",
    [(1, 0, 0, 1, 1, 2), (2, 1, 1, 1, 2, 1), (3, 2, 2, 2, 1, 0), (2, 0, 1, 3, 3, 2)],
)
def test_conv_transpose1d_matches_torch(stride, padding, output_padding, dilation, groups, n):
    rng = np.random.default_rng(stride * 10 + groups)
    _compare(
        F.conv_transpose1d,
        TF.conv_transpose1d,
        (n, 6, 5),
        (6, 2, 3),
        True,
        rng,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
    )


@pytest.mark.parametrize(
    "cls,args,kwargs,x_shape",
    [
        ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2), (2, 4, 5, 5)),
        ("ConvTranspose2d", (3, 2, (2, 4)), dict(stride=(2, 1), dilation=(1, 2), bias=False), (3, 6, 4)),
        ("ConvTranspose1d", (4, 4, 5), dict(stride=3, padding=2, groups=4), (2, 4, 7)),
        ("Conv1d", (4, 6, 3), dict(stride=2, padding=1, groups=2), (3, 4, 9)),
        ("Conv1d", (3, 5, 4), dict(padding="same", dilation=2, bias=False), (2, 3, 8)),
        ("Conv1d", (2, 2, 1), {}, (2, 1)),
    ],
)
def test_conv_modules_match_torch(cls, args, kwargs, x_shape):
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls)(*args, **kwargs).double()
    m = getattr(nn, cls)(*args, **kwargs, dtype=dn.float64)
    assert str(m) == str(tm)
    sd_t = {k: v.shape for k, v in tm.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == {k: tuple(v) for k, v in sd_t.items()}
    m.load_state_dict({k: dn.Tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(7).standard_normal(x_shape)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = m(X), tm(Xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL64, atol=ATOL64)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=RTOL64, atol=ATOL64)
    for (name, p), pt in zip(m.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=RTOL64, atol=ATOL64, err_msg=name)


def test_conv_transpose2d_output_size_picks_output_padding_like_torch():
    torch.manual_seed(1)
    tm = torch.nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1).double()
    m = nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1, dtype=dn.float64)
    m.load_state_dict({k: dn.Tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(8).standard_normal((1, 3, 4, 5))
    for size in [(10, 13), (12, 15), (1, 2, 11, 14), [11, 13]]:
        y = m(dn.Tensor(x), output_size=size)
        yt = tm(torch.tensor(x), output_size=list(size))
        assert y.shape == tuple(yt.shape)
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL64, atol=ATOL64)
    with pytest.raises(
        ValueError,
        match=r"ConvTranspose2d: requested an output size of \(13, 13\), but valid "
        r"sizes along this axis range from 10 to 12",
    ):
        m(dn.Tensor(x), output_size=(13, 13))
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_size must have 2 or 4 elements"):
        m(dn.Tensor(x), output_size=(10, 13, 1))


def test_conv_transpose2d_default_init_bounds():
    dn.manual_seed(0)
    m = nn.ConvTranspose2d(8, 6, 3, groups=2)
    bound = 1 / np.sqrt(3 * 3 * 3)  # fan_in = out/groups * kh * kw, as torch computes it
    assert m.weight.shape == (8, 3, 3, 3)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.weight.data).max() > 0.8 * bound
    assert np.abs(m.bias.data).max() <= bound


def test_conv_transpose_bad_input():
    x, w = dn.zeros(1, 4, 3, 3), dn.zeros(4, 2, 3, 3)
    with pytest.raises(
        ValueError,
        match=r"conv_transpose2d: output_padding must be smaller than either stride "
        r"or dilation, got output_padding=\(1, 1\), stride=\(1, 1\)",
    ):
        F.conv_transpose2d(x, w, output_padding=1)
    with pytest.raises(
        ValueError,
        match=r"conv_transpose2d: expected input with 4 channels \(weight "
        r"\(4, 2, 3, 3\), groups=1\), got input of shape \(1, 3, 3, 3\)",
    ):
        F.conv_transpose2d(dn.zeros(1, 3, 3, 3), w)
    with pytest.raises(ValueError, match=r"conv_transpose2d: groups=3 must be positive and divide the 4 input"):
        F.conv_transpose2d(x, w, groups=3)
    with pytest.raises(ValueError, match=r"conv_transpose2d: expected a bias of shape \(4,\), got \(2,\)"):
        F.conv_transpose2d(x, w, dn.zeros(2), groups=2)
    with pytest.raises(
        ValueError,
        match=r"conv_transpose2d: expected a 4-D weight \(in_channels, "
        r"out_channels/groups, kh, kw\)",
    ):
        F.conv_transpose2d(x, dn.zeros(4, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"conv_transpose2d: padding must be an int or a tuple of 2 ints, "
        r"got 'same'",
    ):
        F.conv_transpose2d(x, w, padding="same")
    with pytest.raises(ValueError, match=r"conv_transpose2d: padding and output_padding must be non-negative"):
        F.conv_transpose2d(x, w, padding=-1)
    with pytest.raises(
        ValueError,
        match=r"conv_transpose2d: input of spatial size 3x3 gives an output of size "
        r"-1x-1",
    ):
        F.conv_transpose2d(x, w, padding=3)
    with pytest.raises(
        ValueError,
        match=r"conv_transpose1d: expected a 2-D \(C, L\) or 3-D \(N, C, L\) input, "
        r"got shape \(1, 4, 3, 3\)",
    ):
        F.conv_transpose1d(x, dn.zeros(4, 2, 3))
    with pytest.raises(TypeError, match=r"conv_transpose2d: expected a floating-point input"):
        F.conv_transpose2d(dn.zeros(1, 4, 3, 3, dtype=dn.int64), w)
    with pytest.raises(
        ValueError,
        match=r"ConvTranspose2d: output_padding must be non-negative and smaller than "
        r"either stride or dilation",
    ):
        nn.ConvTranspose2d(4, 2, 3, output_padding=1)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: groups=3 must be positive and divide in_channels=4"):
        nn.ConvTranspose2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(4, 2, .*expected input with 4 channels, got 3"):
        nn.ConvTranspose2d(4, 2, 3)(dn.zeros(1, 3, 5, 5))


def test_conv_transpose_refuses_huge_outputs():
    """A stride of 1e5 on an 8x8 input would need ~3.6 TB: refused up front, naming the shape."""
    with pytest.raises(
        ValueError,
        match=r"conv_transpose2d: the requested output of shape \(1, 2, 700003, "
        r"700003\) would hold \d+ elements",
    ):
        F.conv_transpose2d(dn.ones(1, 3, 8, 8), dn.ones(3, 2, 3, 3), stride=10**5)
