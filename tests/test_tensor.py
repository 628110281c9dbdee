"""The Tensor type: construction, dtypes and type promotion (torch is the oracle), creation functions,
conversions, seeding, and the error messages for bad input."""

import itertools

import numpy as np
import pytest
import torch

import deepnotes as dn

NP2TORCH = {
    np.dtype(name): getattr(torch, name)
    for name in ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
}


def same_dtype(t, tt):
    return NP2TORCH[np.dtype(t.dtype)] == tt.dtype


# ----------------------------------------------------------------------------- construction
@pytest.mark.parametrize(
    "data", [[1.0, 2.5], [[1, 2], [3, 4]], [True, False], 3.5, 7, True, [[]], [], [[1.0], [2]], np.float64(2.0)]
)
def test_tensor_from_python_data_dtype_like_torch(data):
    t, tt = dn.tensor(data), torch.tensor(data)
    assert t.shape == tuple(tt.shape)
    assert same_dtype(t, tt), (t.dtype, tt.dtype)
    np.testing.assert_array_equal(t.data, tt.numpy())


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "int64", "uint8", "bool"])
def test_tensor_from_numpy_keeps_dtype_and_copies(dtype):
    a = np.arange(6).reshape(2, 3).astype(dtype)
    t, tt = dn.tensor(a), torch.tensor(a)
    assert same_dtype(t, tt)
    assert not np.shares_memory(t.data, a)
    f = dn.from_numpy(a)
    assert np.shares_memory(f.data, a)
    assert dn.as_tensor(a).data is a
    assert dn.as_tensor(f) is f


def test_tensor_properties_and_conversions():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = dn.tensor(a)
    assert t.shape == (2, 3) and t.ndim == 2 and t.dtype == dn.float32 and t.size() == (2, 3)
    assert t.size(1) == 3 and t.dim() == 2 and t.numel() == 6 and len(t) == 2
    assert isinstance(t.data, np.ndarray) and t.grad is None and not t.requires_grad
    np.testing.assert_array_equal(t.numpy(), a)
    assert t.tolist() == a.tolist()
    assert dn.tensor([[2.5]]).item() == 2.5 and isinstance(dn.tensor(3).item(), int)
    assert float(dn.tensor(1.5)) == 1.5 and int(dn.tensor(4)) == 4 and bool(dn.tensor([True]))
    assert [r.shape for r in t] == [(3,), (3,)]
    assert t.double().dtype == dn.float64 and t.long().dtype == dn.int64 and t.bool().dtype == dn.bool_
    assert t.to(dn.float64).dtype == dn.float64 and t.to("cpu") is t and t.to(dn.float32) is t
    assert t.type_as(dn.tensor([1])).dtype == dn.int64 and t.half().dtype == dn.float16
    assert "tensor(" in repr(t) and "requires_grad=True" in repr(dn.ones(2, requires_grad=True))
    assert "grad_fn=<MulBackward>" in repr(dn.ones(2, requires_grad=True) * 2)
    assert [1, 5, 9][dn.tensor(1)] == 5


def test_detach_numpy_item():
    x = dn.randn(2, 2, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and np.shares_memory(d.data, x.data)
    np.testing.assert_array_equal(d.numpy(), x.data)
    with pytest.raises(RuntimeError, match=r"numpy\(\): call detach\(\) first"):
        x.numpy()
    with pytest.raises(
        ValueError,
        match=r"item: only one-element tensors convert to a Python scalar, got "
        r"shape \(2, 2\)",
    ):
        x.item()


def test_requires_grad_propagates_through_casts():
    x = dn.randn(3, requires_grad=True)
    y = x.double() * 2
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, 2.0)


# ----------------------------------------------------------------------------- creation functions
@pytest.mark.parametrize(
    "name,args,kwargs",
    [
        ("zeros", (2, 3), {}),
        ("zeros", ((2, 3),), {}),
        ("ones", (4,), {}),
        ("ones", (2, 0), {}),
        ("zeros", (2,), {"dtype": "float64"}),
        ("ones", (3,), {"dtype": "int32"}),
        ("full", ((2, 2), 1.5), {}),
        ("full", ((2,), 3), {}),
        ("full", ((2,), True), {}),
        ("full", ((3,), 2), {"dtype": "float64"}),
        ("arange", (5,), {}),
        ("arange", (1, 7, 2), {}),
        ("arange", (0.0, 1.0, 0.25), {}),
        ("arange", (5,), {"dtype": "float64"}),
        ("arange", (2, -3, -1), {}),
        ("linspace", (0, 1, 5), {}),
        ("eye", (3,), {}),
        ("eye", (2, 4), {}),
    ],
)
def test_creation_functions_match_torch(name, args, kwargs):
    t = getattr(dn, name)(*args, **{k: getattr(dn, v) for k, v in kwargs.items()})
    tt = getattr(torch, name)(*args, **{k: getattr(torch, v) for k, v in kwargs.items()})
    assert t.shape == tuple(tt.shape) and same_dtype(t, tt), (t.dtype, tt.dtype)
    np.testing.assert_allclose(t.data, tt.numpy(), rtol=1e-6)


@pytest.mark.parametrize("fn", ["zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"])
def test_like_functions_keep_shape_and_dtype(fn):
    base = dn.ones(2, 3, dtype=dn.float64)
    t, tt = getattr(dn, fn)(base), getattr(torch, fn)(torch.ones(2, 3, dtype=torch.float64))
    assert t.shape == tuple(tt.shape) and same_dtype(t, tt)
    f = dn.full_like(base, 7)
    np.testing.assert_array_equal(f.data, torch.full_like(torch.ones(2, 3, dtype=torch.float64), 7).numpy())
    assert dn.zeros_like(dn.tensor([1, 2])).dtype == dn.int64
    assert dn.ones_like(base, dtype=dn.float32).dtype == dn.float32
    r = dn.randint_like(dn.tensor([[1, 2]]), 5)
    assert r.shape == (1, 2) and r.dtype == dn.int64 and r.data.min() >= 0 and r.data.max() < 5


def test_default_dtype_is_float32_and_settable():
    assert dn.get_default_dtype() is np.float32
    assert dn.tensor([1.0]).dtype == dn.float32 and dn.zeros(2).dtype == dn.float32
    assert dn.rand(2).dtype == dn.float32 and dn.randn(2).dtype == dn.float32
    dn.set_default_dtype(dn.float64)
    try:
        assert dn.tensor([1.0]).dtype == dn.float64 and dn.randn(2).dtype == dn.float64
        assert (dn.tensor([1, 2]) / 2).dtype == dn.float64
    finally:
        dn.set_default_dtype(dn.float32)
    with pytest.raises(TypeError, match="set_default_dtype: expected a floating dtype"):
        dn.set_default_dtype(dn.int64)


# ----------------------------------------------------------------------------- randomness
def test_manual_seed_makes_every_sampler_repeatable():
    def draw():
        return [
            dn.rand(3, 2).data,
            dn.randn(4).data,
            dn.randint(0, 10, (5,)).data,
            dn.randint(7, (3,)).data,
            dn.randperm(6).data,
            dn.rand(2, dtype=dn.float64).data,
            dn.randn_like(dn.zeros(2)).data,
        ]

    dn.manual_seed(1234)
    first = draw()
    dn.manual_seed(1234)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    dn.manual_seed(4321)
    assert not np.array_equal(draw()[0], first[0])


def test_random_samplers_shapes_ranges_and_dtypes():
    dn.manual_seed(0)
    u = dn.rand(1000)
    assert u.dtype == dn.float32 and u.data.min() >= 0 and u.data.max() < 1
    n = dn.randn(2, 3, dtype=dn.float64)
    assert n.shape == (2, 3) and n.dtype == dn.float64
    assert dn.randn((4, 1)).shape == (4, 1)
    r = dn.randint(-3, 4, size=(200,))
    assert r.dtype == dn.int64 and r.data.min() >= -3 and r.data.max() <= 3
    p = dn.randperm(10)
    assert p.dtype == dn.int64 and sorted(p.tolist()) == list(range(10))
    g = np.random.default_rng(5)
    a = dn.rand(3, generator=g)
    b = dn.rand(3, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(a.data, b.data)
    x = dn.randn(3, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    with pytest.raises(TypeError, match="manual_seed: expected an int seed, got float"):
        dn.manual_seed(1.5)
    with pytest.raises(ValueError, match=r"randint: expected low < high, got low=5, high=5"):
        dn.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="rand: expected a floating dtype, got int64"):
        dn.rand(2, dtype=dn.int64)
    with pytest.raises(ValueError, match="randn: negative dimension"):
        dn.randn(2, -1)


# ----------------------------------------------------------------------------- type promotion vs torch
DTYPES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]


def _make(dtype, ndim):
    a = (np.arange(6).reshape(2, 3) % 3 + 1 if ndim else np.asarray(2)).astype(dtype)
    return a


@pytest.mark.parametrize("da,db", list(itertools.product(DTYPES, DTYPES)))
@pytest.mark.parametrize("nda,ndb", [(1, 1), (1, 0), (0, 1), (0, 0)])
def test_binary_result_dtype_matches_torch(da, db, nda, ndb):
    a, b = _make(da, nda), _make(db, ndb)
    x, y = dn.tensor(a), dn.tensor(b)
    tx, ty = torch.tensor(a), torch.tensor(b)
    ops = [
        ("add", lambda p, q: p + q),
        ("mul", lambda p, q: p * q),
        ("div", lambda p, q: p / q),
        ("maximum", lambda p, q: p.maximum(q) if hasattr(p, "maximum") else None),
    ]
    if da != "bool" or db != "bool":
        ops.append(("sub", lambda p, q: p - q))
    for name, op in ops:
        try:
            expected = op(tx, ty)
        except RuntimeError:
            continue
        got = op(x, y)
        assert same_dtype(got, expected), (name, da, db, nda, ndb, got.dtype, expected.dtype)
        np.testing.assert_allclose(got.data.astype(np.float64), expected.numpy().astype(np.float64), rtol=1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_python_scalar_result_dtype_matches_torch(dtype, scalar):
    a = _make(dtype, 1)
    x, tx = dn.tensor(a), torch.tensor(a)
    for op in (
        lambda p: p + scalar,
        lambda p: scalar * p,
        lambda p: p / scalar,
        lambda p: scalar - p if dtype != "bool" and not isinstance(scalar, bool) else p * scalar,
    ):
        expected, got = op(tx), op(x)
        assert same_dtype(got, expected), (dtype, scalar, got.dtype, expected.dtype)
        np.testing.assert_allclose(got.data.astype(np.float64), expected.numpy().astype(np.float64), rtol=1e-3)


def test_specific_dtype_rules():
    f32 = dn.ones(3)
    assert (f32 * 2.5).dtype == dn.float32 and (2.5 + f32).dtype == dn.float32
    assert (f32 * np.float64(2.0)).dtype == dn.float32
    assert (dn.tensor([1, 2]) / 2).dtype == dn.float32
    assert (dn.tensor([1, 2]) * 2).dtype == dn.int64
    assert (dn.tensor([1, 2]) + 0.5).dtype == dn.float32
    assert (f32 + dn.ones(3, dtype=dn.float64)).dtype == dn.float64
    assert (f32 + dn.tensor(np.float64(1.0))).dtype == dn.float32  # 0-d tensors do not widen
    assert (dn.tensor([1, 2], dtype=dn.int32) + dn.tensor(5)).dtype == dn.int32
    assert (f32 > 0.5).dtype == dn.bool_
    assert dn.tensor([1, 2]).float().mean().dtype == dn.float32
    assert dn.tensor([1, 2]).sum().dtype == dn.int64 and dn.tensor([True, True]).sum().item() == 2
    assert dn.tensor([4, 9]).sqrt().dtype == dn.float32


def test_ndarray_and_numpy_scalars_on_the_left_give_tensors():
    t = dn.ones(3)
    for r in (np.ones(3) + t, np.float64(2.0) * t, np.float32(2.0) - t, np.ones(3) @ t):
        assert isinstance(r, dn.Tensor)


def test_comparisons_and_logical_ops_match_torch():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])
    x, y, tx, ty = dn.tensor(a), dn.tensor(b), torch.tensor(a), torch.tensor(b)
    for op in (
        lambda p, q: p < q,
        lambda p, q: p <= q,
        lambda p, q: p > q,
        lambda p, q: p >= q,
        lambda p, q: p == q,
        lambda p, q: p != q,
        lambda p, q: (p > 1) & (q > 1),
        lambda p, q: (p > 1) | (q > 2),
        lambda p, q: (p > 1) ^ (q > 2),
        lambda p, q: ~(p > 1),
        lambda p, q: p // 2,
        lambda p, q: p % 2,
    ):
        np.testing.assert_array_equal(op(x, y).data, op(tx, ty).numpy())
    assert (x == None) is (tx == None) and (x != None) is (tx != None)  # noqa: E711
    i, ti = dn.tensor([6, 5, 12]), torch.tensor([6, 5, 12])
    np.testing.assert_array_equal((i & 4).data, (ti & 4).numpy())


# ----------------------------------------------------------------------------- errors with clear messages
def test_bad_data_is_rejected_with_clear_errors():
    with pytest.raises(TypeError, match="tensor: expected numeric data .* dtype object"):
        dn.tensor(np.array([{}, 1], dtype=object))
    with pytest.raises(TypeError, match="tensor: expected numeric data .* dtype object"):
        dn.Tensor(np.array([1, "a"], dtype=object))
    with pytest.raises(
        TypeError,
        match="tensor: cannot build a tensor from this list: expected numbers or equally long nested sequences",
    ):
        dn.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="tensor: expected numeric data .* got an array of dtype <U"):
        dn.tensor(["a", "b"])
    with pytest.raises(TypeError, match="tensor: expected numeric data"):
        dn.tensor({"a": 1})


def test_requires_grad_needs_a_floating_tensor():
    msg = r"requires_grad: only floating-point tensors can require gradients, got dtype int64"
    with pytest.raises(TypeError, match=msg):
        dn.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match=msg):
        dn.tensor([1, 2]).requires_grad_()
    t = dn.tensor([1, 2])
    with pytest.raises(TypeError, match=msg):
        t.requires_grad = True
    with pytest.raises(TypeError, match="dtype bool"):
        dn.ones(2, dtype=dn.bool_, requires_grad=True)
    with pytest.raises(TypeError, match="dtype int32"):
        dn.arange(3, dtype=dn.int32, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires_grad_: cannot switch off gradients of a non-leaf"):
        (dn.ones(2, requires_grad=True) * 2).requires_grad_(False)


def test_shape_errors_name_the_operation():
    x = dn.randn(2, 3)
    with pytest.raises(
        ValueError,
        match=r"reshape: cannot view a tensor of shape \(2, 3\) \(6 elements\) as "
        r"shape \(4, 2\)",
    ):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"reshape: cannot view .* as shape \(-1, 4\)"):
        x.view(-1, 4)
    with pytest.raises(
        ValueError,
        match=r"matmul: shapes \(2, 3\) and \(2, 3\) cannot be multiplied \(inner "
        r"dimensions 3 and 2 differ",
    ):
        x @ x
    with pytest.raises(
        ValueError,
        match=r"matmul: batch dimensions of shapes \(2, 2, 3\) and \(3, 3, 1\) "
        r"do not broadcast",
    ):
        dn.randn(2, 2, 3) @ dn.randn(3, 3, 1)
    with pytest.raises(ValueError, match=r"matmul: both operands need at least one dimension"):
        dn.tensor(2.0) @ x
    with pytest.raises(
        ValueError,
        match=r"cat: tensor 1 has shape \(3, 3\), incompatible with \(2, 3\) "
        r"outside dim 1",
    ):
        dn.cat([x, dn.randn(3, 3)], dim=1)
    with pytest.raises(IndexError, match=r"cat: dim 2 is out of range"):
        dn.cat([x, x], dim=2)
    with pytest.raises(ValueError, match="cat: expected a non-empty sequence"):
        dn.cat([])
    with pytest.raises(ValueError, match="cat: zero-dimensional tensors cannot be concatenated"):
        dn.cat([dn.tensor(1.0), dn.tensor(2.0)])
    with pytest.raises(ValueError, match=r"stack: tensor 1 has shape \(3,\), expected \(2, 3\)"):
        dn.stack([x, dn.randn(3)])
    with pytest.raises(IndexError, match=r"stack: dim 3 is out of range"):
        dn.stack([x, x], dim=3)
    with pytest.raises(ValueError, match=r"permute: dims \(0, 1, 5\) are not a permutation"):
        dn.randn(2, 3, 4).permute(0, 1, 5)
    with pytest.raises(ValueError, match=r"permute: dims \(0,\) are not a permutation"):
        x.permute(0)
    with pytest.raises(IndexError, match=r"unsqueeze: dim 3 is out of range"):
        x.unsqueeze(3)
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(2, 3\) to \(4, 3\)"):
        x.expand(4, 3)
    with pytest.raises(IndexError, match=r"sum: dim 2 is out of range for a tensor with 2 dimensions"):
        x.sum(2)
    with pytest.raises(ValueError, match=r"sum: dim \(1, -1\) names an axis more than once"):
        x.sum((1, -1))
    with pytest.raises(TypeError, match="mean: expected a floating tensor, got dtype int64"):
        dn.tensor([1, 2]).mean()
    with pytest.raises(IndexError, match=r"getitem: index .* is invalid for a tensor of shape \(2, 3\)"):
        x[5]
    with pytest.raises(IndexError, match="getitem: tensors used as indices must be integer or bool, got dtype float32"):
        x[dn.tensor([0.0])]
    with pytest.raises(ValueError, match=r"amax: cannot reduce over an empty dimension"):
        dn.zeros(0, 3).amax(0)
    with pytest.raises(IndexError, match=r"max: cannot reduce over dimension 0 of size 0"):
        dn.zeros(0, 3).max(0)


def test_pad_errors():
    from deepnotes.tensor import pad

    x = dn.randn(1, 2, 3)
    with pytest.raises(
        ValueError,
        match=r"pad: the pad sequence must have an even length of at most 2 \* "
        r"ndim = 6, got 3",
    ):
        pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match=r"pad: reflect padding \(3, 0\) must be smaller than the size 3"):
        pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: circular padding \(0, 4\) must not exceed the size 3"):
        pad(x, (0, 4), mode="circular")
    with pytest.raises(ValueError, match="pad: mode must be one of"):
        pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match="pad: negative padding is only supported by mode 'constant'"):
        pad(x, (-1, 1), mode="replicate")
    with pytest.raises(TypeError, match="pad: expected a sequence of ints"):
        pad(x, 2)


def test_in_place_and_setitem():
    t = dn.zeros(2, 3)
    t[0, 1] = 5.0
    t[dn.tensor([1])] = dn.ones(1, 3)
    np.testing.assert_array_equal(t.data, [[0, 5, 0], [1, 1, 1]])
    t.fill_(2.0).add_(1.0)
    np.testing.assert_array_equal(t.data, np.full((2, 3), 3.0))
    t.zero_()
    assert t.data.sum() == 0
    w = dn.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="setitem: item assignment on a tensor that requires grad"):
        w[0] = 2.0
    with dn.no_grad():
        w[0] = 2.0
    np.testing.assert_array_equal(w.data, [2, 1])


# ----------------------------------------------------------------------------- torch habits (issue 11)
def _both(values, **kw):
    return dn.tensor(np.array(values), **kw), torch.tensor(np.array(values), **kw)


@pytest.mark.parametrize("op", ["sign", "floor", "ceil", "round"])
def test_piecewise_constant_ops_backpropagate_zeros_like_torch(op):
    v = np.array([-1.5, -0.2, 0.0, 0.7, 2.5])
    x, t = dn.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    y, ty = getattr(x, op)(), getattr(t, op)()
    assert y.requires_grad and ty.requires_grad
    (y * 3.0).sum().backward()
    (ty * 3.0).sum().backward()
    np.testing.assert_array_equal(getattr(x, op)().data, getattr(t, op)().detach().numpy())
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


@pytest.mark.parametrize(
    "bounds", [dict(min=0.5), dict(max=2.5), dict(min=0.5, max=2.5), dict(min=1, max=2), dict(max=2), dict(min=-1.5)]
)
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "float32", "float64"])
def test_clamp_result_dtype_and_values_like_torch(bounds, dtype):
    v = np.array([0, 1, 2, 3]).astype(dtype)
    out, ref = dn.tensor(v).clamp(**bounds), torch.tensor(v).clamp(**bounds)
    assert same_dtype(out, ref)
    np.testing.assert_array_equal(out.data, ref.numpy())
    np.testing.assert_array_equal(dn.clamp(dn.tensor(v), **bounds).data, ref.numpy())


@pytest.mark.parametrize("op", ["floordiv", "mod"])
def test_integer_division_by_zero_raises_like_torch(op):
    fn = {"floordiv": lambda a, b: a // b, "mod": lambda a, b: a % b}[op]
    a, ta = dn.tensor([3, 4, 5]), torch.tensor([3, 4, 5])
    for divisor in (0, dn.tensor([1, 0, 2])):
        tdiv = divisor if isinstance(divisor, int) else torch.tensor(divisor.data)
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            fn(ta, tdiv)
        with pytest.raises(ZeroDivisionError, match="integer division by zero"):
            fn(a, divisor)
        with pytest.raises(RuntimeError):  # also a RuntimeError, as torch's
            fn(a, divisor)
    with pytest.raises(ZeroDivisionError):
        fn(7, dn.tensor([1, 0]))
    # floating operands give inf / nan, as in torch; nonzero integer divisors work
    f, tf = dn.tensor([3.0, -4.0]), torch.tensor([3.0, -4.0])
    np.testing.assert_array_equal(fn(f, 0).data, fn(tf, 0).numpy())
    np.testing.assert_array_equal(fn(a, 2).data, fn(ta, 2).numpy())


def test_view_of_non_contiguous_tensor_raises_like_torch_and_reshape_copies():
    x, t = dn.arange(6.0).reshape(2, 3), torch.arange(6.0).reshape(2, 3)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        t.t().view(6)
    with pytest.raises(RuntimeError, match=r"view: a tensor of shape \(3, 2\).*use \.reshape"):
        x.t().view(6)
    np.testing.assert_array_equal(x.t().reshape(6).data, t.t().reshape(6).numpy())
    np.testing.assert_array_equal(x.t().contiguous().view(6).data, t.t().contiguous().view(6).numpy())
    assert x.is_contiguous() and not x.t().is_contiguous() and x.t().contiguous().is_contiguous()
    assert x.contiguous() is x
    # views that need no copy share memory: writes through them reach the original
    v = x.view(3, 2)
    v.data[0, 0] = 100.0
    assert x.data[0, 0] == 100.0
    assert np.shares_memory(x.t().view(3, 2).data, x.data)  # same shape: the transposed tensor itself
    col = x[:, 1:]  # merging a non-contiguous column block is refused too
    with pytest.raises(RuntimeError, match="view"):
        col.view(4)
    tv = t[:, 1:]
    with pytest.raises(RuntimeError, match="view size"):
        tv.view(4)
    with pytest.raises(ValueError, match="number of elements"):
        x.view(7)
    # gradients flow through view as through reshape
    a = dn.tensor(np.arange(6.0), requires_grad=True)
    (a.view(2, 3) * dn.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(a.grad.data, np.arange(6.0))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_of_zero_dim_tensor_like_torch(name, dim):
    x, t = dn.tensor(2.5, requires_grad=True), torch.tensor(2.5, requires_grad=True)
    out, ref = getattr(x, name)(dim), getattr(t, name)(dim)
    assert out.shape == ()
    np.testing.assert_allclose(out.data, ref.detach().numpy())
    np.testing.assert_allclose(getattr(dn, name)(x, dim).data, ref.detach().numpy())
    out.backward()
    ref.backward()
    np.testing.assert_allclose(x.grad.data, t.grad.numpy())
    with pytest.raises(IndexError):
        getattr(t, name)(1)
    with pytest.raises(IndexError, match=name):
        getattr(x, name)(1)


def test_tensor_class_constructor_gives_the_default_float_dtype_like_torch():
    for data in ([1, 2], [[1, 2], [3, 4]], [True, False], (3, 4)):
        t, tt = dn.Tensor(data), torch.Tensor(data)
        assert same_dtype(t, tt)
        np.testing.assert_array_equal(t.data, tt.numpy())
    assert dn.tensor([1, 2]).dtype == np.int64 and dn.as_tensor([1, 2]).dtype == np.int64
    dn.set_default_dtype(np.float64)
    try:
        assert dn.Tensor([1, 2]).dtype == np.float64
    finally:
        dn.set_default_dtype(np.float32)


@pytest.mark.parametrize("shape,dim", [((7,), 0), ((4, 9), -1), ((4, 9), 0), ((3, 5, 6), 1)])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [0, 1, 3])
def test_topk_values_indices_and_gradients_like_torch(shape, dim, largest, k, rng):
    v = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64)  # no ties
    x, t = dn.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    vals, idx = x.topk(k, dim=dim, largest=largest)
    tv, ti = t.topk(k, dim=dim, largest=largest, sorted=True)
    np.testing.assert_array_equal(vals.data, tv.detach().numpy())
    np.testing.assert_array_equal(idx.data, ti.numpy())
    assert idx.dtype == np.int64
    fvals, fidx = dn.topk(x, k, dim, largest)
    assert fvals.equal(vals) and fidx.equal(idx)
    w = rng.standard_normal(tv.shape)
    (vals * dn.tensor(w)).sum().backward()
    (tv * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


def test_topk_named_fields_ties_and_errors():
    x, t = dn.tensor([1.0, 3.0, 3.0, 2.0]), torch.tensor([1.0, 3.0, 3.0, 2.0])
    res = x.topk(2)
    np.testing.assert_array_equal(res.values.data, t.topk(2).values.numpy())
    np.testing.assert_array_equal(res.indices.data, [1, 2])  # equal values keep their index order
    np.testing.assert_array_equal(dn.tensor([[3, 1, 2]]).topk(2, dim=1).values.data, [[3, 2]])
    assert dn.tensor(5.0).topk(1).values.shape == ()
    with pytest.raises(RuntimeError):
        t.topk(5)
    with pytest.raises(ValueError, match=r"topk: k=5 is out of range.*size 4"):
        x.topk(5)
    with pytest.raises(TypeError, match="topk: k must be an int"):
        x.topk(1.5)


@pytest.mark.parametrize(
    "eq,shapes",
    [
        ("ij,jk->ik", [(3, 4), (4, 5)]),
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
        ("i,i->", [(5,), (5,)]),
        ("i,j->ij", [(3,), (4,)]),
        ("ii->i", [(4, 4)]),
        ("ii", [(4, 4)]),
        ("ij->j", [(3, 4)]),
        ("ij", [(3, 4)]),
        ("ij,jk", [(3, 4), (4, 2)]),
        ("ba", [(3, 4)]),
        ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
        ("bn...,bn...->b", [(2, 3, 4, 5), (2, 3, 4, 5)]),
        ("i...->...", [(3, 2, 4)]),
        ("...i,...i", [(1, 3, 4), (2, 1, 4)]),
        ("iij,jk,k->i", [(3, 3, 4), (4, 2), (2,)]),
        ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ],
)
def test_einsum_values_and_gradients_like_torch(eq, shapes, rng):
    arrays = [rng.standard_normal(s) for s in shapes]
    xs = [dn.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = dn.einsum(eq, *xs), torch.einsum(eq, *ts)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(tuple(ref.shape))
    (out * dn.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert dn.autograd.gradcheck(lambda *a: dn.einsum(eq, *a), xs)


def test_einsum_list_form_dtypes_and_errors():
    a, b = dn.ones(2, 3), dn.ones(3, 4, dtype=np.float64)
    out = dn.einsum("ij,jk->ik", [a, b])
    assert out.dtype == np.float64 and np.all(out.data == 3.0)
    assert dn.einsum("ij->", dn.tensor([[1, 2], [3, 4]])).item() == 10
    with pytest.raises(ValueError, match="einsum: the equation 'ij,jk->ik' has 2 operand"):
        dn.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match="einsum: subscripts 'ijk' do not fit an operand of shape"):
        dn.einsum("ijk", a)
    with pytest.raises(ValueError, match="einsum: subscript 'j' stands for sizes 3 and 4"):
        dn.einsum("ij,jk->ik", a, dn.ones(4, 4))
    with pytest.raises(ValueError, match="einsum: output subscript 'z'"):
        dn.einsum("ij->z", a)


def test_device_handling_is_cpu_only_like_torch_without_cuda():
    x = dn.ones(2, 3)
    assert x.device == dn.device("cpu") and str(x.device) == "cpu" and x.device.type == "cpu"
    assert repr(x.device) == repr(torch.device("cpu"))
    assert x.cpu() is x and x.to("cpu") is x and x.to(dn.device("cpu")) is x
    assert x.to(dn.float64).dtype == np.float64 and x.to("cpu", dn.float64).dtype == np.float64
    assert x.to(device="cpu", dtype=dn.int64).dtype == np.int64
    assert dn.device("cuda:1").index == 1 and dn.device("cuda", 0) == dn.device("cuda:0")
    for bad in (
        lambda: x.cuda(),
        lambda: x.to("cuda"),
        lambda: x.to("cuda:0", dn.float64),
        lambda: x.to(dn.device("mps")),
    ):
        with pytest.raises(RuntimeError, match="CPU only"):
            bad()
    for make in (dn.zeros, dn.ones, dn.empty, dn.randn, dn.rand):
        assert make(2, device="cpu").shape == (2,)
        with pytest.raises(RuntimeError, match=f"{make.__name__}: only device='cpu'.*got 'cuda'"):
            make(2, device="cuda")
    assert dn.tensor([1.0], device="cpu").device == "cpu"
    assert dn.full((2,), 1.0, device=dn.device("cpu")).shape == (2,)
    assert dn.arange(3, device="cpu").shape == (3,) and dn.zeros_like(x, device="cpu").shape == (2, 3)
    with pytest.raises(RuntimeError, match="CPU only"):
        dn.tensor([1.0], device="cuda")
    with pytest.raises(ValueError, match="unknown device type 'gpu'"):
        dn.device("gpu")
    assert dn.cuda.is_available() is torch.cuda.is_available() is False
    assert dn.cuda.device_count() == 0
