"""Every differentiable primitive against torch: forward values and gradients w.r.t. every input, on
identical float64 inputs (rtol 1e-6), with broadcasting, Python scalars, dims/keepdim, ties, empty and
size-1 dimensions."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import deepnotes as dn
from deepnotes.tensor import pad as dn_pad

import _oracle as oracle

RTOL64, ATOL64 = 1e-6, 1e-9
RTOL32, ATOL32 = 1e-4, 1e-5
HSET = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _np(t):
    return t.detach().numpy()


def check(fn_dn, fn_torch, *arrays, fn_torch_args=None, rtol=RTOL64, atol=ATOL64, seed=0, grad=True):
    """Run ``fn_dn`` on deepnotes tensors and ``fn_torch`` on torch tensors built from the same arrays;
    compare outputs (shape, dtype, values) and the gradients w.r.t. every floating input under the same
    random cotangent."""
    xs = [dn.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    out = fn_dn(*xs)
    tout = fn_torch(*ts)
    oracle.assert_close(out, tout, rtol, atol, what="output", check_dtype=True, equal_nan=True)
    if not grad or not tout.requires_grad:
        return out
    oracle.backward_pair(out, tout, np.random.default_rng(seed))
    for i, (x, t) in enumerate(zip(xs, ts)):
        if not t.requires_grad:
            continue
        tg = np.zeros(t.shape, dtype=arrays[i].dtype) if t.grad is None else t.grad
        g = np.zeros(x.shape, dtype=arrays[i].dtype) if x.grad is None else x.grad
        oracle.assert_close(g, tg, rtol, atol, what=f"gradient of input {i}", check_dtype=True, equal_nan=True)
    return out


def randn(*shape, seed=0, dtype=np.float64):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape), dtype=dtype)


def positive(*shape, seed=0):
    return np.asarray(np.random.default_rng(seed).uniform(0.5, 2.0, shape), dtype=np.float64)


def away_from_zero(*shape, seed=0):
    r = np.random.default_rng(seed)
    return np.asarray(r.uniform(0.5, 2.0, shape) * r.choice([-1.0, 1.0], shape), dtype=np.float64)


# ----------------------------------------------------------------------------- binary arithmetic
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "pow": (lambda a, b: a**b, lambda a, b: a**b),
    "maximum": (dn.maximum, torch.maximum),
    "minimum": (dn.minimum, torch.minimum),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3),
    seed=st.integers(0, 2**16),
)
@HSET
def test_binary_broadcasting_both_orders(name, shapes, seed):
    f_dn, f_t = BINARY[name]
    sa, sb = shapes.input_shapes
    a = positive(*sa, seed=seed) if name in ("pow", "div") else randn(*sa, seed=seed)
    b = away_from_zero(*sb, seed=seed + 1) if name == "div" else randn(*sb, seed=seed + 1)
    if name == "pow":
        a = positive(*sa, seed=seed)
    check(f_dn, f_t, a, b, seed=seed)
    if name == "div":
        a, b = away_from_zero(*sa, seed=seed), randn(*sb, seed=seed + 1)
    if name == "pow":
        a, b = randn(*sa, seed=seed), positive(*sb, seed=seed + 1)
    check(lambda x, y: f_dn(y, x), lambda x, y: f_t(y, x), a, b, seed=seed)


@pytest.mark.parametrize("scalar", [2, 2.5, -1.5, 0.0])
@pytest.mark.parametrize("op", ["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv", "pow", "rpow"])
def test_binary_with_python_scalar(op, scalar):
    x = positive(3, 4) if op in ("pow", "rdiv") else randn(3, 4)
    fns = {
        "add": lambda t: t + scalar,
        "radd": lambda t: scalar + t,
        "sub": lambda t: t - scalar,
        "rsub": lambda t: scalar - t,
        "mul": lambda t: t * scalar,
        "rmul": lambda t: scalar * t,
        "div": lambda t: t / (scalar or 3.0),
        "rdiv": lambda t: scalar / t,
        "pow": lambda t: t**scalar,
        "rpow": lambda t: abs(scalar or 1.5) ** t,
    }
    check(fns[op], fns[op], x)


def test_neg_and_float32_binary():
    check(lambda t: -t, lambda t: -t, randn(2, 3))
    a32, b32 = randn(4, 1, 3, dtype=np.float32), randn(5, 1, dtype=np.float32, seed=1)
    for f_dn, f_t in BINARY.values():
        check(f_dn, f_t, np.abs(a32) + 0.5, np.abs(b32) + 0.5, rtol=RTOL32, atol=ATOL32)


def test_pow_special_points_follow_torch():
    # base 0 with exponents 0, 0.5, 2 and 3; negative base with an integer exponent
    base = np.array([0.0, 0.0, 0.0, 0.0, -1.5, 2.0])
    expo = np.array([0.0, 2.0, 3.0, 1.0, 2.0, 0.0])
    check(lambda a, b: a**b, lambda a, b: a**b, base, expo)
    check(lambda a: a**0, lambda a: a**0, np.array([0.0, 1.0, -2.0]))


def test_maximum_minimum_ties_share_gradient():
    a = np.array([1.0, 2.0, 3.0, 2.0])
    b = np.array([1.0, 1.0, 3.0, 5.0])
    for f_dn, f_t in (BINARY["maximum"], BINARY["minimum"]):
        check(f_dn, f_t, a, b)
        check(f_dn, f_t, a.reshape(4, 1), b[:3])


# ----------------------------------------------------------------------------- elementwise
UNARY = {
    "exp": (lambda t: t.exp(), lambda t: t.exp(), randn),
    "log": (lambda t: t.log(), lambda t: t.log(), positive),
    "sqrt": (lambda t: t.sqrt(), lambda t: t.sqrt(), positive),
    "abs": (lambda t: t.abs(), lambda t: t.abs(), randn),
    "sin": (lambda t: t.sin(), lambda t: t.sin(), randn),
    "cos": (lambda t: t.cos(), lambda t: t.cos(), randn),
    "atan": (lambda t: t.atan(), lambda t: t.atan(), randn),
    "sigmoid": (lambda t: t.sigmoid(), lambda t: t.sigmoid(), randn),
    "tanh": (lambda t: t.tanh(), lambda t: t.tanh(), randn),
    "relu": (lambda t: t.relu(), lambda t: t.relu(), randn),
    "square": (lambda t: t.square(), lambda t: t.square(), randn),
    "rsqrt": (lambda t: t.rsqrt(), lambda t: t.rsqrt(), positive),
    "reciprocal": (lambda t: t.reciprocal(), lambda t: t.reciprocal(), away_from_zero),
    "functional_exp": (dn.exp, torch.exp, randn),
    "functional_abs": (dn.abs, torch.abs, randn),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), seed=st.integers(0, 2**16))
@HSET
def test_unary(name, shape, seed):
    f_dn, f_t, make = UNARY[name]
    check(f_dn, f_t, make(*shape, seed=seed), seed=seed)


def test_abs_relu_at_zero_and_sigmoid_extremes():
    x = np.array([-2.0, 0.0, 0.0, 3.0])
    check(lambda t: t.abs(), lambda t: t.abs(), x)
    check(lambda t: t.relu(), lambda t: t.relu(), x)
    big = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    check(lambda t: t.sigmoid(), lambda t: t.sigmoid(), big)
    check(lambda t: t.tanh(), lambda t: t.tanh(), big)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax(dim):
    x = randn(3, 5) * 30
    x[0, 0] = 1000.0  # would overflow a naive exp
    check(lambda t: t.softmax(dim), lambda t: t.softmax(dim), x)
    check(lambda t: t.log_softmax(dim), lambda t: t.log_softmax(dim), x)


@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (None, 0.3), (-0.2, None), (0.5, -0.5), (0.0, 1.0)])
def test_clamp_including_boundary_ties(bounds):
    lo, hi = bounds
    x = np.array([-1.0, -0.5, -0.2, 0.0, 0.3, 0.5, 1.0, 2.0])
    check(lambda t: t.clamp(lo, hi), lambda t: t.clamp(lo, hi), x)
    check(lambda t: dn.clamp(t, min=lo, max=hi), lambda t: torch.clamp(t, min=lo, max=hi), x)


def test_clamp_with_tensor_bounds():
    x, lo, hi = randn(3, 4), randn(4, seed=1) - 0.5, randn(3, 1, seed=2) + 0.5
    check(lambda a, b, c: a.clamp(b, c), lambda a, b, c: a.clamp(b, c), x, lo, hi)
    check(lambda a, b: a.clamp(min=b), lambda a, b: a.clamp(min=b), x, lo)


@given(
    shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, min_side=0, max_side=3),
    seed=st.integers(0, 2**16),
)
@HSET
def test_where_broadcasting(shapes, seed):
    sc, sa, sb = shapes.input_shapes
    cond = np.random.default_rng(seed).random(sc) > 0.5
    a, b = randn(*sa, seed=seed), randn(*sb, seed=seed + 1)
    check(
        lambda x, y: dn.where(dn.tensor(cond), x, y),
        lambda x, y: torch.where(torch.tensor(cond), x, y),
        a,
        b,
        seed=seed,
    )


def test_where_with_scalars():
    cond = np.array([True, False, True])
    x = randn(3)
    check(lambda t: dn.where(dn.tensor(cond), t, 0.5), lambda t: torch.where(torch.tensor(cond), t, 0.5), x)
    check(lambda t: dn.where(dn.tensor(cond), -1.0, t), lambda t: torch.where(torch.tensor(cond), -1.0, t), x)


# ----------------------------------------------------------------------------- reductions
def _all_dims(ndim):
    dims = [None]
    for r in range(1, ndim + 1):
        dims += list(itertools.combinations(range(ndim), r))
    dims += [-1] if ndim else []
    return dims


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32(name):
    f_dn, f_t, make = UNARY[name]
    check(f_dn, f_t, make(3, 5, seed=4).astype(np.float32), rtol=RTOL32, atol=ATOL32)


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "var", "std", "prod"])
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 2), -1])
def test_reductions_float32(op, dim):
    x = randn(3, 4, 2, seed=5, dtype=np.float32)
    if op == "prod" and isinstance(dim, tuple):
        return
    check(
        lambda t: getattr(t, op)(dim) if dim is not None else getattr(t, op)(),
        lambda t: getattr(t, op)(dim) if dim is not None else getattr(t, op)(),
        x,
        rtol=RTOL32,
        atol=ATOL32,
    )


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin"])
@given(
    shape=array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
    seed=st.integers(0, 2**16),
    keepdim=st.booleans(),
)
@HSET
def test_reductions_every_dim_keepdim(op, shape, seed, keepdim):
    x = randn(*shape, seed=seed)
    for dim in _all_dims(len(shape)):
        if dim is None:
            if keepdim:
                continue
            check(lambda t: getattr(t, op)(), lambda t: getattr(t, op)(), x, seed=seed)
        else:
            check(lambda t: getattr(t, op)(dim, keepdim), lambda t: getattr(t, op)(dim, keepdim), x, seed=seed)


@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3), seed=st.integers(0, 2**16))
@HSET
def test_sum_mean_with_empty_dims(shape, seed):
    x = randn(*shape, seed=seed)
    check(lambda t: t.sum(0), lambda t: t.sum(0), x)
    check(lambda t: t.sum(-1, keepdim=True), lambda t: t.sum(-1, keepdim=True), x)
    check(lambda t: t.sum(), lambda t: t.sum(), x)
    if x.size:
        check(lambda t: t.mean(0), lambda t: t.mean(0), x)


def test_amax_over_nonempty_dim_of_tensor_with_empty_dims():
    x = randn(0, 3)
    check(lambda t: t.amax(1), lambda t: t.amax(1), x)
    check(lambda t: t.sum(1), lambda t: t.sum(1), x)


def test_full_max_min_ties_share_gradient_like_torch():
    x = np.array([[3.0, 1.0, 3.0], [0.0, 3.0, -1.0]])
    check(lambda t: t.max(), lambda t: t.max(), x)
    check(lambda t: t.min(), lambda t: t.min(), -x)
    check(lambda t: t.amax(dim=(0, 1)), lambda t: t.amax(dim=(0, 1)), x)
    check(lambda t: t.amax(dim=1), lambda t: t.amax(dim=1), x)
    check(lambda t: dn.max(t), lambda t: torch.max(t), x)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_max_min_dim_indices_and_gradient_to_returned_index(dim, keepdim):
    x = np.array([[3.0, 1.0, 3.0, 2.0], [0.0, 3.0, 3.0, -1.0], [5.0, 5.0, 5.0, 5.0]])
    for name in ("max", "min"):
        d = dn.tensor(x, requires_grad=True)
        t = torch.tensor(x, requires_grad=True)
        v, i = getattr(d, name)(dim, keepdim)
        tv, ti = getattr(t, name)(dim, keepdim)
        np.testing.assert_array_equal(i.data, ti.numpy())
        assert i.dtype == np.int64
        np.testing.assert_array_equal(v.data, _np(tv))
        cot = randn(*tv.shape)
        v.backward(dn.tensor(cot))
        tv.backward(torch.tensor(cot))
        np.testing.assert_array_equal(d.grad, t.grad.numpy())
        res = getattr(d, name)(dim=dim, keepdim=keepdim)
        np.testing.assert_array_equal(res.values.data, _np(tv))
        np.testing.assert_array_equal(res.indices.data, ti.numpy())


@pytest.mark.filterwarnings("ignore:var")
@pytest.mark.parametrize(
    "kwargs", [{}, {"unbiased": True}, {"unbiased": False}, {"correction": 0}, {"correction": 1}, {"correction": 2}]
)
@given(
    shape=array_shapes(min_dims=1, max_dims=3, min_side=3, max_side=4),
    seed=st.integers(0, 2**16),
    keepdim=st.booleans(),
)
@settings(max_examples=10, deadline=None)
def test_var_std(kwargs, shape, seed, keepdim):
    x = randn(*shape, seed=seed)
    for op in ("var", "std"):
        check(lambda t: getattr(t, op)(**kwargs), lambda t: getattr(t, op)(**kwargs), x)
        for dim in _all_dims(len(shape))[1:]:
            check(
                lambda t: getattr(t, op)(dim, keepdim=keepdim, **kwargs),
                lambda t: getattr(t, op)(dim, keepdim=keepdim, **kwargs),
                x,
            )


@pytest.mark.filterwarnings("ignore:var")
def test_var_degenerate_counts_match_torch():
    x = randn(1, 3)
    with np.errstate(all="ignore"):
        check(lambda t: t.var(0), lambda t: t.var(0), x, grad=False)
        check(lambda t: t.var(1, correction=3), lambda t: t.var(1, correction=3), x, grad=False)
    check(lambda t: t.var(False), lambda t: t.var(False), x)


def test_prod_with_zeros():
    x = np.array([[2.0, 0.0, 3.0], [1.5, -2.0, 0.5], [0.0, 0.0, 4.0]])
    check(lambda t: t.prod(1), lambda t: t.prod(1), x)
    check(lambda t: t.prod(0, keepdim=True), lambda t: t.prod(0, keepdim=True), x)
    check(lambda t: t.prod(), lambda t: t.prod(), x[1:2])
    check(lambda t: t.prod(), lambda t: t.prod(), x)


@pytest.mark.parametrize("p", [1, 2, 3, float("inf")])
def test_norm(p):
    x = randn(3, 4)
    check(lambda t: t.norm(p), lambda t: t.norm(p), x)
    check(lambda t: t.norm(p, dim=1, keepdim=True), lambda t: t.norm(p, dim=1, keepdim=True), x)


# ----------------------------------------------------------------------------- matmul
MATMUL_SHAPES = [
    ((4,), (4,)),
    ((4,), (4, 3)),
    ((2, 4), (4,)),
    ((2, 4), (4, 3)),
    ((5, 2, 4), (4, 3)),
    ((2, 4), (5, 4, 3)),
    ((4,), (5, 4, 3)),
    ((5, 2, 4), (4,)),
    ((5, 2, 4), (5, 4, 3)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 3, 4), (6, 1, 4, 2)),
    ((0, 2, 4), (4, 3)),
    ((2, 0), (0, 3)),
    ((3, 0, 4), (4, 2)),
    ((1, 4), (4, 1)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_shapes(sa, sb):
    a, b = randn(*sa), randn(*sb, seed=1)
    check(lambda x, y: x @ y, lambda x, y: x @ y, a, b)
    check(dn.matmul, torch.matmul, a, b)


def test_matmul_float32_and_mm_bmm():
    a, b = randn(5, 2, 4, dtype=np.float32), randn(5, 4, 3, dtype=np.float32, seed=1)
    check(lambda x, y: x.bmm(y), lambda x, y: x.bmm(y), a, b, rtol=RTOL32, atol=ATOL32)
    check(lambda x, y: x[0].mm(y[0]), lambda x, y: x[0].mm(y[0]), a, b, rtol=RTOL32, atol=ATOL32)


@given(
    m=st.integers(0, 3),
    k=st.integers(0, 3),
    n=st.integers(0, 3),
    batch=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, min_side=1, max_side=3),
    seed=st.integers(0, 2**16),
)
@HSET
def test_matmul_broadcast_batches(m, k, n, batch, seed):
    ba, bb = batch.input_shapes
    a, b = randn(*ba, m, k, seed=seed), randn(*bb, k, n, seed=seed + 1)
    check(lambda x, y: x @ y, lambda x, y: x @ y, a, b)


# ----------------------------------------------------------------------------- indexing
INDEXES = [
    (lambda t: t[1], None),
    (lambda t: t[-1, 2], None),
    (lambda t: t[1:3], None),
    (lambda t: t[:, 1:4:2], None),
    (lambda t: t[..., 0], None),
    (lambda t: t[None, :, None, 2], None),
    (lambda t: t[1, ..., None], None),
    (lambda t: t[:, -3:-1, 1:], None),
    (lambda t: t[[0, 2, 2, 0]], None),  # repeated rows accumulate their gradient
    (lambda t: t[:, [1, 1, 3]], None),
    (lambda t: t[[0, 1, 2], [4, 4, 0]], None),
    (lambda t: t[np.array([[0, 1], [1, 1]])], None),
    (lambda t: t[[1, 2], :, [0, 0]], None),
    (lambda t: t[[2], 1:3, [1, 0]], None),
    (lambda t: t[np.array([-1, 0, -1])], None),
    (lambda t: t[[]], None),
    (lambda t: t[::-1], lambda t: t.flip(0)),
    (lambda t: t[:, ::-2], lambda t: t.flip(1)[:, ::2]),
    (lambda t: t[1:, 3:0:-1, ::-1], lambda t: t[1:, 1:4].flip(1).flip(2)),
]


@pytest.mark.parametrize("k", range(len(INDEXES)))
def test_getitem_matches_torch(k):
    f_dn, f_t = INDEXES[k]
    x = randn(3, 5, 2)
    check(f_dn, f_t or f_dn, x)


def test_getitem_bool_masks_and_tensor_indices():
    x = randn(3, 4)
    mask = x > 0.1
    check(lambda t: t[dn.tensor(mask)], lambda t: t[torch.tensor(mask)], x)
    row = np.array([True, False, True])
    check(lambda t: t[dn.tensor(row)], lambda t: t[torch.tensor(row)], x)
    check(lambda t: t[dn.tensor(row), 1:], lambda t: t[torch.tensor(row), 1:], x)
    check(lambda t: t[:, [True, False, True, True]], lambda t: t[:, [True, False, True, True]], x)
    idx = np.array([2, 0, 2, 2])
    check(lambda t: t[dn.tensor(idx)], lambda t: t[torch.tensor(idx)], x)
    check(
        lambda t: t[dn.tensor(idx), dn.tensor(np.array([0, 1, 3, 3]))],
        lambda t: t[torch.tensor(idx), torch.tensor(np.array([0, 1, 3, 3]))],
        x,
    )
    check(lambda t: t[dn.tensor(1)], lambda t: t[torch.tensor(1)], x)
    none = np.zeros((3, 4), bool)
    check(lambda t: t[dn.tensor(none)], lambda t: t[torch.tensor(none)], x)


@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
@HSET
def test_getitem_random_int_arrays_with_repeats(shape, data):
    x = randn(*shape)
    idx = np.array(data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=0, max_size=6)), dtype=np.int64)
    check(lambda t: t[idx], lambda t: t[torch.tensor(idx)], x)


def test_getitem_heavily_repeated_rows():
    rng = np.random.default_rng(3)
    x = randn(4, 3, 2)
    for n in (40, 400):  # few and many occurrences per row take different accumulation paths
        idx = rng.integers(-4, 4, n)
        check(lambda t: t[idx], lambda t: t[torch.tensor(idx)], x)
        check(lambda t: t[idx, :], lambda t: t[torch.tensor(idx), :], x)
    idx2 = rng.integers(0, 4, (30, 5))
    check(lambda t: t[idx2], lambda t: t[torch.tensor(idx2)], x)
    check(lambda t: t[:, 0, 1][idx2], lambda t: t[:, 0, 1][torch.tensor(idx2)], x)


def test_gather_masked_fill():
    x = randn(3, 4)
    idx = np.array([[0, 0, 3], [1, 2, 2], [3, 3, 3]])
    check(lambda t: t.gather(1, dn.tensor(idx)), lambda t: t.gather(1, torch.tensor(idx)), x)
    idx0 = np.array([[2, 0, 1, 1], [2, 2, 2, 0]])
    check(lambda t: t.gather(0, dn.tensor(idx0)), lambda t: t.gather(0, torch.tensor(idx0)), x)
    m = x > 0
    check(lambda t: t.masked_fill(dn.tensor(m), -1.5), lambda t: t.masked_fill(torch.tensor(m), -1.5), x)


# ----------------------------------------------------------------------------- shape ops
SHAPE_OPS = [
    (lambda t: t.reshape(4, 6), None),
    (lambda t: t.reshape(-1), None),
    (lambda t: t.view(2, -1, 3), None),
    (lambda t: t.reshape((24,)), None),
    (lambda t: t.transpose(0, 2), None),
    (lambda t: t.transpose(-1, 1), None),
    (lambda t: t.permute(2, 0, 1), None),
    (lambda t: t.permute((1, 2, 0)), None),
    (lambda t: t.flatten(), None),
    (lambda t: t.flatten(1), None),
    (lambda t: t.flatten(0, 1), None),
    (lambda t: t.flatten(-2, -1), None),
    (lambda t: t.unsqueeze(0), None),
    (lambda t: t.unsqueeze(-1), None),
    (lambda t: t.unsqueeze(2), None),
    (lambda t: t[:, :1].squeeze(), None),
    (lambda t: t[:, :1].squeeze(1), None),
    (lambda t: t[:, :1].squeeze(0), None),
    (lambda t: t[:1, :1].squeeze((0, 1)), None),
    (lambda t: t[:, :1].expand(2, 5, 4), None),
    (lambda t: t[:, :1].expand(3, -1, 2, 4), None),
    (lambda t: t.repeat(2, 1, 3), None),
    (lambda t: t.repeat(2, 1, 1, 2), None),
    (lambda t: t.flip(0, 2), None),
    (lambda t: t.T, lambda t: t.permute(2, 1, 0)),
    (lambda t: t.mT, None),
    (lambda t: t[0].t(), None),
    (lambda t: dn.stack(t.split(2, dim=2), 0), lambda t: torch.stack(t.split(2, dim=2), 0)),
    (lambda t: dn.cat(t.split([1, 2], dim=1)[::-1], 1), lambda t: torch.cat(t.split([1, 2], dim=1)[::-1], 1)),
    (lambda t: dn.cat(t.chunk(3, dim=2), 0), lambda t: torch.cat(t.chunk(3, dim=2), 0)),
    (lambda t: dn.stack(t.unbind(1), -1), lambda t: torch.stack(t.unbind(1), -1)),
    (lambda t: t.clone() * 2, None),
    (lambda t: t.unflatten(2, (2, 2)), None),
    (lambda t: dn.reshape(t, (6, 4)), lambda t: torch.reshape(t, (6, 4))),
    (lambda t: dn.permute(t, (1, 0, 2)), lambda t: torch.permute(t, (1, 0, 2))),
    (lambda t: dn.squeeze(dn.unsqueeze(t, 1), 1), lambda t: torch.squeeze(torch.unsqueeze(t, 1), 1)),
]


@pytest.mark.parametrize("k", range(len(SHAPE_OPS)))
def test_shape_ops(k):
    f_dn, f_t = SHAPE_OPS[k]
    check(f_dn, f_t or f_dn, randn(2, 3, 4))


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_cat_dims(dim):
    shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
    sizes = [1, 0, 3]
    arrays = []
    for s, n in zip(shapes, sizes):
        s = list(s)
        s[dim] = n
        arrays.append(randn(*s, seed=n))
    check(lambda *xs: dn.cat(xs, dim), lambda *xs: torch.cat(xs, dim), *arrays)


@pytest.mark.parametrize("dim", [0, 1, 2, 3, -1, -4])
def test_stack_dims(dim):
    arrays = [randn(2, 3, 4, seed=i) for i in range(3)]
    check(lambda *xs: dn.stack(xs, dim), lambda *xs: torch.stack(xs, dim), *arrays)


def test_cat_stack_with_constant_input_and_dtype_promotion():
    a = randn(2, 3)
    const = np.ones((1, 3), np.float32)
    check(lambda x: dn.cat([x, dn.tensor(const)]), lambda x: torch.cat([x, torch.tensor(const)]), a)
    check(lambda x: dn.stack([x, x * 2, x]), lambda x: torch.stack([x, x * 2, x]), a)


# ----------------------------------------------------------------------------- pad
PAD_CASES = [
    ("constant", (3, 5), (1, 2)),
    ("constant", (2, 3, 4), (1, 0, 2, 3)),
    ("constant", (2, 3, 4), (1, 1, 0, 2, 3, 0)),
    ("constant", (2, 5), (-1, 2)),
    ("constant", (3, 5), (-2, -1, 1, -1)),
    ("reflect", (2, 5), (2, 3)),
    ("reflect", (2, 3, 5), (4, 1)),
    ("reflect", (2, 2, 4, 5), (1, 2, 3, 0)),
    ("reflect", (1, 2, 3, 4, 5), (1, 2, 2, 1, 1, 1)),
    ("reflect", (3, 4), (0, 3)),
    ("replicate", (2, 5), (2, 3)),
    ("replicate", (2, 3, 4, 5), (3, 1, 0, 4)),
    ("replicate", (1, 2, 3, 4, 2), (1, 2, 2, 1, 3, 3)),
    ("replicate", (2, 1, 1), (2, 2)),
    ("circular", (2, 5), (2, 3)),
    ("circular", (2, 3, 4, 5), (5, 1, 4, 2)),
    ("circular", (1, 2, 3, 4, 2), (1, 2, 2, 1, 3, 2)),
]


@pytest.mark.parametrize("mode,shape,pad", PAD_CASES)
def test_pad_against_torch(mode, shape, pad):
    x = randn(*shape)
    kw = {"value": 0.75} if mode == "constant" else {}
    check(lambda t: dn_pad(t, pad, mode=mode, **kw), lambda t: TF.pad(t, pad, mode=mode, **kw), x)


@given(shape=array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4), data=st.data())
@HSET
def test_pad_hypothesis(shape, data):
    mode = data.draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    # torch pads the last k dims of (k+1)- or (k+2)-D inputs in the non-constant modes
    k = data.draw(st.integers(max(1, len(shape) - 2), min(3, len(shape) - 1)))
    pad = []
    for axis in range(len(shape) - 1, len(shape) - 1 - k, -1):
        n = shape[axis]
        hi = {"constant": 3, "reflect": n - 1, "replicate": 3, "circular": n}[mode]
        lo = -n if mode == "constant" else 0
        pad += [data.draw(st.integers(lo, hi)), data.draw(st.integers(lo, hi))]
        if mode == "constant" and n + pad[-1] + pad[-2] < 0:
            pad[-1] = pad[-2] = 0
    x = randn(*shape)
    check(lambda t: dn_pad(t, tuple(pad), mode=mode), lambda t: TF.pad(t, tuple(pad), mode=mode), x)


# ----------------------------------------------------------------------------- composite graphs
def test_composite_expression_float32():
    f32 = np.float32
    a, b, c = randn(4, 3, dtype=f32), randn(3, dtype=f32, seed=1), randn(4, 1, dtype=f32, seed=2)

    def f(x, y, z, lib):
        h = (x * y + z).tanh() @ (y.unsqueeze(1) * 2.0)
        w = lib.where(h > 0, h, h * 0.1)
        return (w.exp().sum(0) / (1.0 + z.abs().mean())).log() - (x - z).var(0).sum()

    check(lambda x, y, z: f(x, y, z, dn), lambda x, y, z: f(x, y, z, torch), a, b, c, rtol=RTOL32, atol=ATOL32)


def test_row_broadcasts_lowers_the_ufunc_buffer_only_inside_and_restores_it():
    from deepnotes.ops._rowwise import row_broadcasts

    previous = np.setbufsize(4096)
    try:
        x = np.random.default_rng(0).standard_normal((6, 1024)).astype(np.float32)
        col = np.random.default_rng(1).standard_normal((6, 1)).astype(np.float32)
        expected = x * col + col
        with row_broadcasts(1024):
            assert np.getbufsize() < 1024  # rows longer than the buffer: no column expansion
            got = x * col
            got += col
        np.testing.assert_array_equal(got, expected)  # only the iteration changes, not the values
        assert np.getbufsize() == 4096
        for short_or_long in (100, 8192, 100_000):
            with row_broadcasts(short_or_long):
                assert np.getbufsize() == 4096
        with pytest.raises(RuntimeError):
            with row_broadcasts(2048):
                raise RuntimeError("inside")
        assert np.getbufsize() == 4096
    finally:
        np.setbufsize(previous)
