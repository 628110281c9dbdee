"""LayerNorm, GroupNorm, InstanceNorm1d/2d (modules and functional) against torch: outputs, gradients of
input, weight and bias, running statistics, reprs and state_dicts; hypothesis-drawn shapes with batch 1,
1x1 spatial sizes and empty batches; gradchecks of the fused primitives; BatchNorm's momentum=None and
track_running_stats=False semantics; bad arguments."""

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

RTOL, ATOL = 1e-6, 1e-10


def _randomise(m, tm, rng):
    """Random affine parameters, the same in both modules."""
    for (name, p), (tname, tp) in zip(m.named_parameters(), tm.named_parameters()):
        assert name == tname
        v = rng.standard_normal(p.shape) + (1.0 if name == "weight" else 0.0)
        p.data[...] = v
        with torch.no_grad():
            tp.copy_(torch.tensor(v))


def _compare(m, tm, x, rng, rtol=RTOL, atol=ATOL):
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = m(X), tm(Xt)
    assert y.data.dtype == x.dtype
    params = [(name, p, tp) for (name, p), (_, tp) in zip(m.named_parameters(), tm.named_parameters())]
    oracle.assert_matches(y, yt, [(X, Xt)] + params, rng, rtol, atol)
    return y, yt


# ------------------------------------------------------------------------------------- LayerNorm
@pytest.mark.parametrize(
    "shape,normalized",
    [((4, 5), 5), ((2, 3, 4, 5), (4, 5)), ((2, 3, 4), (2, 3, 4)), ((1, 1), 1), ((0, 6), 6), ((3, 1, 7), [7])],
)
@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, True)])
def test_layer_norm_matches_torch(shape, normalized, affine, bias):
    rng = np.random.default_rng(0)
    m = nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias, dtype=np.float64)
    tm = torch.nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias, dtype=torch.float64)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    _randomise(m, tm, rng)
    _compare(m, tm, rng.standard_normal(shape) * 3 + 1, rng)


@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, False)])
def test_layer_and_group_norm_over_many_row_blocks(monkeypatch, affine, bias):
    """Blocks of 3 rows (the last one shorter) for layer norm, 2 (sample, channel) rows for group norm."""
    import deepnotes.ops.normalization as norm_ops

    monkeypatch.setattr(norm_ops, "_CHUNK_BYTES", 3 * 6 * 8)
    rng = np.random.default_rng(5)
    m = nn.LayerNorm(6, elementwise_affine=affine, bias=bias, dtype=np.float64)
    tm = torch.nn.LayerNorm(6, elementwise_affine=affine, bias=bias, dtype=torch.float64)
    _randomise(m, tm, rng)
    _compare(m, tm, rng.standard_normal((2, 5, 6)) * 2 - 1, rng)  # 10 rows: blocks 3, 3, 3, 1
    g = nn.GroupNorm(2, 4, affine=affine, dtype=np.float64)
    tg = torch.nn.GroupNorm(2, 4, affine=affine, dtype=torch.float64)
    _randomise(g, tg, rng)
    _compare(g, tg, rng.standard_normal((3, 4, 3, 3)) + 0.5, rng)


def test_layer_norm_float32_and_large_offset():
    rng = np.random.default_rng(1)
    m, tm = nn.LayerNorm(8), torch.nn.LayerNorm(8)
    _randomise(m, tm, rng)
    _compare(m, tm, rng.standard_normal((5, 8)).astype(np.float32), rng, rtol=1e-4, atol=1e-5)
    m, tm = nn.LayerNorm(8, dtype=np.float64), torch.nn.LayerNorm(8, dtype=torch.float64)
    _compare(m, tm, 1e4 + rng.standard_normal((5, 8)), rng)  # two-pass variance: no cancellation


def test_layer_norm_functional_matches_torch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 5))
    w, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    args = [dn.Tensor(v, requires_grad=True) for v in (x, w, b)]
    targs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    y = F.layer_norm(args[0], (4, 5), args[1], args[2], eps=1e-3)
    yt = TF.layer_norm(targs[0], (4, 5), targs[1], targs[2], eps=1e-3)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    cot = rng.standard_normal(x.shape)
    (y * dn.Tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    for a, t in zip(args, targs):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------------------------- GroupNorm
@pytest.mark.parametrize(
    "shape,groups",
    [
        ((2, 6, 4, 5), 3),
        ((2, 6, 4, 5), 1),
        ((2, 6, 4, 5), 6),
        ((1, 4, 1, 1), 2),
        ((3, 4), 2),
        ((2, 8, 7), 4),
        ((0, 4, 3, 3), 2),
        ((2, 4, 2, 3, 2), 2),
    ],
)
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(shape, groups, affine):
    rng = np.random.default_rng(3)
    c = shape[1]
    m = nn.GroupNorm(groups, c, affine=affine, dtype=np.float64)
    tm = torch.nn.GroupNorm(groups, c, affine=affine, dtype=torch.float64)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    _randomise(m, tm, rng)
    _compare(m, tm, rng.standard_normal(shape) * 2 - 1, rng)


def test_group_norm_float32_large_offset_and_no_bias():
    rng = np.random.default_rng(4)
    m, tm = nn.GroupNorm(4, 8, bias=False), torch.nn.GroupNorm(4, 8, bias=False)
    assert repr(m) == repr(tm)
    _randomise(m, tm, rng)
    _compare(m, tm, rng.standard_normal((3, 8, 5, 5)).astype(np.float32), rng, rtol=2e-4, atol=2e-5)
    m, tm = nn.GroupNorm(2, 4, dtype=np.float64), torch.nn.GroupNorm(2, 4, dtype=torch.float64)
    _compare(m, tm, 1e4 + rng.standard_normal((2, 4, 3, 3)), rng, rtol=1e-6, atol=1e-8)


def test_group_norm_functional_matches_torch():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 3, 4))
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    args = [dn.Tensor(v, requires_grad=True) for v in (x, w, b)]
    targs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    y = F.group_norm(args[0], 3, args[1], args[2], eps=1e-2)
    yt = TF.group_norm(targs[0], 3, targs[1], targs[2], eps=1e-2)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    cot = rng.standard_normal(x.shape)
    (y * dn.Tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    for a, t in zip(args, targs):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=RTOL, atol=ATOL)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 3),
    cg=st.integers(1, 3),
    groups=st.integers(1, 3),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    affine=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_group_norm_hypothesis(n, cg, groups, h, w, affine, seed):
    rng = np.random.default_rng(seed)
    c = cg * groups
    m = nn.GroupNorm(groups, c, affine=affine, dtype=np.float64)
    tm = torch.nn.GroupNorm(groups, c, affine=affine, dtype=torch.float64)
    _randomise(m, tm, rng)
    if n * cg * h * w == 1:  # a single value in the whole batch's only group: both refuse
        with pytest.raises(ValueError, match="group_norm: expected more than 1 value per group"):
            m(dn.Tensor(np.zeros((n, c, h, w))))
        with pytest.raises(ValueError):
            tm(torch.zeros((n, c, h, w), dtype=torch.float64))
        return
    # one value per group: both give 0 up to torch's rounding of x - mean
    atol = 1e-7 if cg * h * w == 1 else ATOL
    _compare(m, tm, rng.standard_normal((n, c, h, w)), rng, atol=atol)


@settings(max_examples=30, deadline=None)
@given(
    lead=st.lists(st.integers(0, 3), min_size=0, max_size=2),
    norm=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    affine=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_layer_norm_hypothesis(lead, norm, affine, seed):
    rng = np.random.default_rng(seed)
    m = nn.LayerNorm(norm, elementwise_affine=affine, dtype=np.float64)
    tm = torch.nn.LayerNorm(norm, elementwise_affine=affine, dtype=torch.float64)
    _randomise(m, tm, rng)
    atol = 1e-7 if np.prod(norm) == 1 else ATOL
    _compare(m, tm, rng.standard_normal(tuple(lead) + tuple(norm)), rng, atol=atol)


# ------------------------------------------------------------------------------------- InstanceNorm
_IN_SHAPES = [
    ("InstanceNorm1d", (3, 4, 6)),
    ("InstanceNorm1d", (4, 6)),
    ("InstanceNorm2d", (2, 4, 3, 5)),
    ("InstanceNorm2d", (4, 3, 5)),
    ("InstanceNorm2d", (1, 4, 1, 2)),
    ("InstanceNorm2d", (0, 4, 2, 2)),
]


# torch rejects an empty batch with affine parameters (internal IndexError): that pair has no oracle
@pytest.mark.parametrize(
    "cls,shape,affine", [(c, s, a) for c, s in _IN_SHAPES for a in (True, False) if not (s[0] == 0 and a)]
)
def test_instance_norm_matches_torch(cls, shape, affine):
    rng = np.random.default_rng(6)
    m = getattr(nn, cls)(4, affine=affine, dtype=np.float64)
    tm = getattr(torch.nn, cls)(4, affine=affine, dtype=torch.float64)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    _randomise(m, tm, rng)
    _compare(m, tm, rng.standard_normal(shape) + 0.5, rng)
    m.eval(), tm.eval()  # without tracked statistics evaluation is the same
    _compare(m, tm, rng.standard_normal(shape), rng)


def test_instance_norm_channel_mismatch_without_affine_warns_like_torch():
    x = np.random.default_rng(12).standard_normal((2, 3, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        y = nn.InstanceNorm1d(4, dtype=np.float64)(dn.Tensor(x))
    with pytest.warns(UserWarning):
        yt = torch.nn.InstanceNorm1d(4, dtype=torch.float64)(torch.tensor(x))
    np.testing.assert_allclose(y.data, yt.numpy(), rtol=RTOL, atol=ATOL)


def test_empty_batch_gives_zero_parameter_gradients():
    m = nn.InstanceNorm2d(3, affine=True, dtype=np.float64)
    x = dn.Tensor(np.zeros((0, 3, 2, 2)), requires_grad=True)
    y = m(x)
    assert y.shape == (0, 3, 2, 2)
    y.sum().backward()
    np.testing.assert_array_equal(m.weight.grad, np.zeros(3))
    np.testing.assert_array_equal(m.bias.grad, np.zeros(3))


@pytest.mark.parametrize(
    "cls,shape", [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm2d", (2, 4, 3, 5)), ("InstanceNorm2d", (4, 3, 5))]
)
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_instance_norm_running_stats_match_torch(cls, shape, momentum):
    rng = np.random.default_rng(7)
    m = getattr(nn, cls)(4, momentum=momentum, affine=True, track_running_stats=True, dtype=np.float64)
    tm = getattr(torch.nn, cls)(4, momentum=momentum, affine=True, track_running_stats=True, dtype=torch.float64)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    _randomise(m, tm, rng)
    for _ in range(3):
        _compare(m, tm, rng.standard_normal(shape) * 2 + 1, rng)
    for key, value in tm.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[key].data, value.numpy(), rtol=RTOL, atol=ATOL, err_msg=key)
    m.eval(), tm.eval()
    for (_, p), (_, tp) in zip(m.named_parameters(), tm.named_parameters()):
        p.grad, tp.grad = None, None
    _compare(m, tm, rng.standard_normal(shape), rng)


def test_instance_norm_functional_use_running_stats():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 5))
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.instance_norm(X, dn.Tensor(rm.copy()), dn.Tensor(rv.copy()), use_input_stats=False)
    yt = TF.instance_norm(Xt, torch.tensor(rm), torch.tensor(rv), use_input_stats=False)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    y.sum().backward(), yt.sum().backward()
    np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    rmd, rvd = rm.copy(), rv.copy()
    rmt, rvt = torch.tensor(rm), torch.tensor(rv)
    y = F.instance_norm(dn.Tensor(x), dn.Tensor(rmd), dn.Tensor(rvd), momentum=0.3)
    yt = TF.instance_norm(torch.tensor(x), rmt, rvt, momentum=0.3)
    np.testing.assert_allclose(y.data, yt.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(rmd, rmt.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(rvd, rvt.numpy(), rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------------------------- BatchNorm semantics
@pytest.mark.parametrize("cls,shape", [("BatchNorm2d", (4, 3, 5, 5)), ("BatchNorm1d", (6, 3))])
def test_batch_norm_momentum_none_is_cumulative_average(cls, shape):
    rng = np.random.default_rng(9)
    m = getattr(nn, cls)(3, momentum=None, dtype=np.float64)
    tm = getattr(torch.nn, cls)(3, momentum=None, dtype=torch.float64)
    assert repr(m) == repr(tm)
    _randomise(m, tm, rng)
    for k in range(4):
        _compare(m, tm, rng.standard_normal(shape) * (k + 1) + k, rng)
        for (_, p), (_, tp) in zip(m.named_parameters(), tm.named_parameters()):
            p.grad, tp.grad = None, None
    for key, value in tm.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[key].data, value.numpy(), rtol=RTOL, atol=ATOL, err_msg=key)
    m.eval(), tm.eval()
    _compare(m, tm, rng.standard_normal(shape), rng)


@pytest.mark.parametrize("cls,shape", [("BatchNorm2d", (4, 3, 2, 2)), ("BatchNorm1d", (5, 3, 4))])
def test_batch_norm_without_running_stats_uses_batch_statistics(cls, shape):
    rng = np.random.default_rng(10)
    m = getattr(nn, cls)(3, track_running_stats=False, dtype=np.float64)
    tm = getattr(torch.nn, cls)(3, track_running_stats=False, dtype=torch.float64)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    _randomise(m, tm, rng)
    _compare(m, tm, rng.standard_normal(shape) + 2, rng)
    m.eval(), tm.eval()
    for (_, p), (_, tp) in zip(m.named_parameters(), tm.named_parameters()):
        p.grad, tp.grad = None, None
    _compare(m, tm, rng.standard_normal(shape) - 1, rng)


# ------------------------------------------------------------------------------------- gradchecks
def test_gradcheck_fused_normalisations():
    rng = np.random.default_rng(11)

    def t(*shape):
        return dn.Tensor(rng.standard_normal(shape), requires_grad=True)

    assert gradcheck(lambda x, w, b: F.layer_norm(x, (3, 2), w, b), [t(2, 3, 2), t(3, 2), t(3, 2)])
    assert gradcheck(lambda x: F.layer_norm(x, (4,)), [t(3, 4)])
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), [t(2, 4, 2, 2), t(4), t(4)])
    assert gradcheck(lambda x: F.group_norm(x, 1), [t(2, 3, 3)])
    assert gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [t(2, 3, 4), t(3), t(3)])


# ------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call,exc,match",
    [
        (
            lambda: nn.GroupNorm(4, 6),
            ValueError,
            r"GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)",
        ),
        (
            lambda: F.group_norm(dn.randn(2, 6, 3), 4),
            ValueError,
            "group_norm: num_groups=4 must be positive and divide",
        ),
        (lambda: F.group_norm(dn.randn(6), 2), ValueError, r"group_norm: expected an input of shape \(N, C, \*\)"),
        (lambda: nn.GroupNorm(2, 4)(dn.randn(2, 6, 3)), ValueError, r"expected an input of shape \(N, 4, \*\)"),
        (lambda: nn.LayerNorm(4)(dn.randn(2, 5)), ValueError, r"layer_norm: normalized_shape=\[4\] expects an input"),
        (
            lambda: F.layer_norm(dn.randn(2, 3, 4), (3,)),
            ValueError,
            r"normalized_shape=\[3\] expects an input of shape",
        ),
        (
            lambda: F.layer_norm(dn.randn(4), (4,), dn.ones(3)),
            ValueError,
            r"layer_norm: expected weight of shape \(4,\)",
        ),
        (lambda: nn.LayerNorm([]), ValueError, "LayerNorm: normalized_shape must be non-empty"),
        (lambda: nn.InstanceNorm1d(3)(dn.randn(2, 3, 1)), ValueError, "instance_norm: expected more than 1 spatial"),
        (
            lambda: nn.InstanceNorm2d(4, affine=True)(dn.randn(2, 3, 4)),
            ValueError,
            r"InstanceNorm2d\(4\): expected 4 channels in dimension 0",
        ),
        (
            lambda: nn.InstanceNorm1d(4, affine=True)(dn.randn(2, 3, 5)),
            ValueError,
            r"InstanceNorm1d\(4\): expected 4 channels in dimension 1",
        ),
        (lambda: F.group_norm(dn.randn(1, 2, 1, 1), 2), ValueError, "group_norm: expected more than 1 value per group"),
        (lambda: nn.InstanceNorm2d(3)(dn.randn(3, 4)), ValueError, r"InstanceNorm2d\(3\): expected a 3-D or 4-D input"),
        (
            lambda: F.instance_norm(dn.randn(2, 3, 4), use_input_stats=False),
            ValueError,
            "running_mean and running_var are required",
        ),
        (
            lambda: F.group_norm(dn.Tensor(np.ones((2, 2), dtype=np.int64)), 1),
            TypeError,
            "group_norm: expected a floating-point input",
        ),
    ],
)
def test_bad_arguments_raise(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_state_dicts_load_from_torch():
    for m, tm in [
        (nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4))),
        (nn.GroupNorm(2, 6), torch.nn.GroupNorm(2, 6)),
        (
            nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
            torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
        ),
    ]:
        with torch.no_grad():
            for v in tm.state_dict().values():
                if v.dtype.is_floating_point:
                    v.uniform_()
        m.load_state_dict(tm.state_dict())
        for key, value in tm.state_dict().items():
            np.testing.assert_array_equal(m.state_dict()[key].data, value.numpy())


NORMS16 = {
    "group_norm": (lambda x, w, b: F.group_norm(x, 4, w, b), lambda x, w, b: TF.group_norm(x, 4, w, b)),
    "instance_norm": (
        lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
        lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
    ),
    "layer_norm": (
        lambda x, w, b: F.layer_norm(x, (16, 32, 32), w, b),
        lambda x, w, b: TF.layer_norm(x, (16, 32, 32), w, b),
    ),
}


@pytest.mark.parametrize("name", list(NORMS16))
def test_float16_norms_accumulate_in_float32_like_torch(name):
    """float16 (16, 16, 32, 32) inputs of std 8 and mean 4: every group (even one channel's 1024
    values) sums more than 65504 in x^2, so statistics kept in float16 overflow.  torch accumulates them in
    float32 and rounds only the output (and the gradients) to float16; so must we."""
    rng = np.random.default_rng(1)
    x = (8 * rng.standard_normal((16, 16, 32, 32)) + 4).astype(np.float16)
    pshape = (16, 32, 32) if name == "layer_norm" else (16,)
    w = (1 + 0.5 * rng.standard_normal(pshape)).astype(np.float16)
    b = rng.standard_normal(pshape).astype(np.float16)
    ours, theirs = NORMS16[name]
    X, W, B = (dn.Tensor(a, requires_grad=True) for a in (x, w, b))
    Xt, Wt, Bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y, yt = ours(X, W, B), theirs(Xt, Wt, Bt)
    assert y.dtype == np.float16
    np.testing.assert_allclose(y.data.astype(np.float64), yt.detach().double().numpy(), rtol=2e-3, atol=4e-3)
    cot = rng.standard_normal(x.shape).astype(np.float16)
    y.backward(dn.Tensor(cot))
    yt.backward(torch.tensor(cot))
    for p, pt in ((X, Xt), (W, Wt), (B, Bt)):
        assert p.grad.dtype == np.float16
        ref = pt.grad.double().numpy()
        np.testing.assert_allclose(
            p.grad.data.astype(np.float64), ref, rtol=5e-3, atol=5e-3 * max(1.0, np.abs(ref).max())
        )
