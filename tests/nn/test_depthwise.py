"""Depthwise (groups == channels) and grouped convolution against torch: the blocked shifted-slice path
taken for depthwise layers (values and gradients of input, weight and bias; padding, dilation, even
kernels, 'same'; strides through the phase split; batch 0 and 1, 1x1 maps; several plane blocks),
channel multipliers and grouped layers on im2col, hypothesis-drawn geometries and a numerical
gradient check."""

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
from deepnotes.ops.conv import Conv2dFn

import _oracle as oracle

RTOL64, ATOL64 = 1e-6, 1e-9


def _compare(
    rng,
    x_shape,
    w_shape,
    bias=True,
    dtype=np.float64,
    rtol=RTOL64,
    atol=ATOL64,
    need=(True, True, True),
    x_transform=None,
    **kw,
):
    arrays = [rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[0]).astype(dtype))
    dins = [dn.Tensor(a, requires_grad=r) for a, r in zip(arrays, need)]
    tins = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, need)]
    xd = dins[0] if x_transform is None else x_transform(dins[0])
    xt = tins[0] if x_transform is None else x_transform(tins[0])
    y = F.conv2d(xd, *dins[1:], **kw)
    yt = TF.conv2d(xt, *tins[1:], **kw)
    oracle.assert_close(y, yt, rtol, atol)
    oracle.backward_pair(y, yt, rng)
    oracle.assert_grads_close([(a, b) for a, b, r in zip(dins, tins, need) if r], rtol, atol)
    assert all(a.grad is None for a, r in zip(dins, need) if not r)
    return y


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "x_shape,k,kw",
    [
        ((2, 6, 8, 8), (3, 3), dict(padding=1)),
        ((2, 5, 7, 9), (3, 3), {}),
        ((1, 4, 9, 10), (2, 3), dict(dilation=(2, 3), padding=(1, 2))),
        ((2, 3, 5, 6), (4, 3), dict(padding="same")),
        ((2, 3, 6, 6), (5, 5), dict(padding="same", dilation=2)),
        ((3, 4, 1, 1), (3, 3), dict(padding=1)),  # 1x1 maps
        ((1, 2, 1, 7), (1, 3), {}),  # single row
        ((0, 4, 5, 5), (3, 3), dict(padding=1)),  # empty batch
        ((2, 3, 4, 4), (1, 1), {}),  # 1x1 kernel
        ((2, 3, 3, 3), (3, 3), {}),  # kernel covers the whole map
    ],
)
def test_depthwise_stride1_fast_path_matches_torch(x_shape, k, kw):
    rng = np.random.default_rng(sum(x_shape) + sum(k))
    C = x_shape[1]
    y = _compare(rng, x_shape, (C, 1) + k, groups=C, **kw)
    assert y.grad_fn.depthwise  # the shifted-slice path, not im2col


@pytest.mark.parametrize(
    "x_shape,k,kw",
    [
        ((2, 5, 9, 8), (3, 3), dict(stride=2, padding=1)),  # MobileNet's strided step
        ((2, 4, 10, 11), (3, 3), dict(stride=2)),  # even map, no padding
        ((1, 3, 11, 12), (3, 3), dict(stride=(3, 2), dilation=2, padding=2)),
        ((2, 2, 9, 9), (2, 2), dict(stride=4, padding=(0, 1))),  # stride larger than the kernel
        ((1, 3, 7, 7), (5, 5), dict(stride=(2, 1), padding=2)),
        ((2, 3, 1, 1), (3, 3), dict(stride=2, padding=1)),  # 1x1 map
        ((0, 3, 6, 6), (3, 3), dict(stride=2, padding=1)),  # empty batch
    ],
)
def test_strided_depthwise_phase_path_matches_torch(x_shape, k, kw):
    rng = np.random.default_rng(sum(x_shape) + 7)
    C = x_shape[1]
    y = _compare(rng, x_shape, (C, 1) + k, groups=C, **kw)
    assert y.grad_fn.depthwise  # the phase-split shifted-slice path, not im2col


def test_depthwise_fast_path_over_many_blocks(monkeypatch):
    """Tiny plane blocks: the block loop, its remainder block and per-plane weights line up with torch."""
    monkeypatch.setattr(Conv2dFn, "_DW_BLOCK", 60)  # 36-element planes: 1 plane per block
    rng = np.random.default_rng(11)
    _compare(rng, (3, 5, 4, 4), (5, 1, 3, 3), groups=5, padding=1)
    monkeypatch.setattr(Conv2dFn, "_DW_BLOCK", 36 * 4)  # 4 planes per block, 15 planes: remainder 3
    _compare(rng, (3, 5, 4, 4), (5, 1, 3, 3), groups=5, padding=1)
    _compare(rng, (3, 5, 4, 4), (5, 1, 3, 3), groups=5, padding=1, stride=2)  # phases, blocked


@pytest.mark.parametrize("need", [(True, False, False), (False, True, True), (True, True, False)])
def test_depthwise_partial_gradients(need):
    rng = np.random.default_rng(12)
    _compare(rng, (2, 4, 6, 5), (4, 1, 3, 3), groups=4, padding=1, need=need)


def test_depthwise_float32_and_noncontiguous_input():
    rng = np.random.default_rng(13)
    _compare(rng, (2, 8, 9, 7), (8, 1, 3, 3), dtype=np.float32, rtol=1e-4, atol=1e-4, groups=8, padding=1)
    # a transposed (non-contiguous) input without padding: the path must not read it as contiguous
    _compare(rng, (2, 6, 7, 5), (6, 1, 3, 3), groups=6, x_transform=lambda t: t.transpose(2, 3))


@pytest.mark.parametrize(
    "x_shape,w_shape,kw",
    [
        ((1, 3, 6, 7), (6, 1, 3, 3), dict(groups=3, stride=2)),  # channel multiplier 2
        ((2, 3, 7, 7), (6, 1, 3, 3), dict(groups=3, padding=1)),  # multiplier, stride 1
        ((2, 8, 6, 6), (8, 2, 3, 3), dict(groups=4, padding=1)),  # grouped
        ((2, 6, 5, 7), (9, 2, 2, 3), dict(groups=3, stride=(1, 2), dilation=(2, 1))),
    ],
)
def test_depthwise_multiplier_and_grouped_match_torch(x_shape, w_shape, kw):
    rng = np.random.default_rng(sum(x_shape))
    y = _compare(rng, x_shape, w_shape, **kw)
    assert not y.grad_fn.depthwise


@settings(max_examples=30, deadline=None)
@given(
    n=st.sampled_from([0, 1, 2]),
    c=st.integers(1, 6),
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    s=st.sampled_from([1, 1, 2]),
    ph=st.integers(0, 2),
    pw=st.integers(0, 2),
    d=st.integers(1, 2),
    mult=st.sampled_from([1, 1, 2]),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_depthwise_hypothesis(n, c, h, w, kh, kw, s, ph, pw, d, mult, bias, seed):
    if h + 2 * ph < d * (kh - 1) + 1 or w + 2 * pw < d * (kw - 1) + 1:
        with pytest.raises(ValueError, match=r"conv2d: input of spatial size .* smaller than the dilated kernel"):
            F.conv2d(
                dn.zeros(max(n, 1), c, h, w),
                dn.zeros(c * mult, 1, kh, kw),
                stride=s,
                padding=(ph, pw),
                dilation=d,
                groups=c,
            )
        return
    _compare(
        np.random.default_rng(seed),
        (n, c, h, w),
        (c * mult, 1, kh, kw),
        bias=bias,
        stride=s,
        padding=(ph, pw),
        dilation=d,
        groups=c,
    )


def test_depthwise_gradcheck_and_module():
    rng = np.random.default_rng(14)
    x = dn.Tensor(rng.standard_normal((2, 3, 4, 5)), requires_grad=True)
    w = dn.Tensor(rng.standard_normal((3, 1, 3, 2)), requires_grad=True)
    b = dn.Tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1, dilation=(1, 2), groups=3), [x, w, b])
    torch.manual_seed(0)
    tm = torch.nn.Conv2d(4, 4, 3, padding=1, groups=4).double()
    m = nn.Conv2d(4, 4, 3, padding=1, groups=4, dtype=dn.float64)
    m.load_state_dict({k: dn.Tensor(v.numpy()) for k, v in tm.state_dict().items()})
    xin = rng.standard_normal((2, 4, 6, 6))
    np.testing.assert_allclose(m(dn.Tensor(xin)).data, tm(torch.tensor(xin)).detach().numpy(), rtol=RTOL64, atol=ATOL64)
