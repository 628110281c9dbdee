"""The Tensor type: construction, dtypes and type promotion (torch is the oracle), creation functions,
conversions, seeding, and the error messages for bad input."""
import itertools

import numpy as np
import pytest
import torch

import deepnotes as dn

NP2TORCH = {np.dtype(name): getattr(torch, name) for name in
            ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]}


def same_dtype(t, tt):
    return NP2TORCH[np.dtype(t.dtype)] == tt.dtype


# ----------------------------------------------------------------------------- construction
@pytest.mark.parametrize("data", [[1.0, 2.5], [[1, 2], [3, 4]], [True, False], 3.5, 7, True, [[]], [],
                                  [[1.0], [2]], np.float64(2.0)])
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
    with pytest.raises(ValueError, match=r"item: only one-element tensors convert to a Python scalar, got "
                                         r"shape \(2, 2\)"):
        x.item()


def test_requires_grad_propagates_through_casts():
    x = dn.randn(3, requires_grad=True)
    y = x.double() * 2
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, 2.0)


# ----------------------------------------------------------------------------- creation functions
@pytest.mark.parametrize("name,args,kwargs", [
    ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {}), ("ones", (4,), {}), ("ones", (2, 0), {}),
    ("zeros", (2,), {"dtype": "float64"}), ("ones", (3,), {"dtype": "int32"}),
    ("full", ((2, 2), 1.5), {}), ("full", ((2,), 3), {}), ("full", ((2,), True), {}),
    ("full", ((3,), 2), {"dtype": "float64"}), ("arange", (5,), {}), ("arange", (1, 7, 2), {}),
    ("arange", (0.0, 1.0, 0.25), {}), ("arange", (5,), {"dtype": "float64"}), ("arange", (2, -3, -1), {}),
    ("linspace", (0, 1, 5), {}), ("eye", (3,), {}), ("eye", (2, 4), {}),
])
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
        return [dn.rand(3, 2).data, dn.randn(4).data, dn.randint(0, 10, (5,)).data, dn.randint(7, (3,)).data,
                dn.randperm(6).data, dn.rand(2, dtype=dn.float64).data, dn.randn_like(dn.zeros(2)).data]

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
    shape = (2, 3) if ndim else ()
    a = (np.arange(6).reshape(2, 3) % 3 + 1 if ndim else np.asarray(2)).astype(dtype)
    return a


@pytest.mark.parametrize("da,db", list(itertools.product(DTYPES, DTYPES)))
@pytest.mark.parametrize("nda,ndb", [(1, 1), (1, 0), (0, 1), (0, 0)])
def test_binary_result_dtype_matches_torch(da, db, nda, ndb):
    a, b = _make(da, nda), _make(db, ndb)
    x, y = dn.tensor(a), dn.tensor(b)
    tx, ty = torch.tensor(a), torch.tensor(b)
    ops = [("add", lambda p, q: p + q), ("mul", lambda p, q: p * q), ("div", lambda p, q: p / q),
           ("maximum", lambda p, q: p.maximum(q) if hasattr(p, "maximum") else None)]
    if da != "bool" or db != "bool":
        ops.append(("sub", lambda p, q: p - q))
    for name, op in ops:
        try:
            expected = op(tx, ty)
        except RuntimeError:
            continue
        got = op(x, y)
        assert same_dtype(got, expected), (name, da, db, nda, ndb, got.dtype, expected.dtype)
        np.testing.assert_allclose(got.data.astype(np.float64), expected.numpy().astype(np.float64),
                                   rtol=1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_python_scalar_result_dtype_matches_torch(dtype, scalar):
    a = _make(dtype, 1)
    x, tx = dn.tensor(a), torch.tensor(a)
    for op in (lambda p: p + scalar, lambda p: scalar * p, lambda p: p / scalar, lambda p: scalar - p
               if dtype != "bool" and not isinstance(scalar, bool) else p * scalar):
        expected, got = op(tx), op(x)
        assert same_dtype(got, expected), (dtype, scalar, got.dtype, expected.dtype)
        np.testing.assert_allclose(got.data.astype(np.float64), expected.numpy().astype(np.float64),
                                   rtol=1e-3)


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
    for op in (lambda p, q: p < q, lambda p, q: p <= q, lambda p, q: p > q, lambda p, q: p >= q,
               lambda p, q: p == q, lambda p, q: p != q, lambda p, q: (p > 1) & (q > 1),
               lambda p, q: (p > 1) | (q > 2), lambda p, q: (p > 1) ^ (q > 2), lambda p, q: ~(p > 1),
               lambda p, q: p // 2, lambda p, q: p % 2):
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
    with pytest.raises(TypeError, match="tensor: cannot build a tensor from this list: expected numbers or "
                                        "equally long nested sequences"):
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
    with pytest.raises(ValueError, match=r"reshape: cannot view a tensor of shape \(2, 3\) \(6 elements\) as "
                                         r"shape \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"reshape: cannot view .* as shape \(-1, 4\)"):
        x.view(-1, 4)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(2, 3\) cannot be multiplied \(inner "
                                         r"dimensions 3 and 2 differ"):
        x @ x
    with pytest.raises(ValueError, match=r"matmul: batch dimensions of shapes \(2, 2, 3\) and \(3, 3, 1\) "
                                         r"do not broadcast"):
        dn.randn(2, 2, 3) @ dn.randn(3, 3, 1)
    with pytest.raises(ValueError, match=r"matmul: both operands need at least one dimension"):
        dn.tensor(2.0) @ x
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(3, 3\), incompatible with \(2, 3\) "
                                         r"outside dim 1"):
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
    with pytest.raises(IndexError, match="getitem: tensors used as indices must be integer or bool, got "
                                         "dtype float32"):
        x[dn.tensor([0.0])]
    with pytest.raises(ValueError, match=r"amax: cannot reduce over an empty dimension"):
        dn.zeros(0, 3).amax(0)
    with pytest.raises(IndexError, match=r"max: cannot reduce over dimension 0 of size 0"):
        dn.zeros(0, 3).max(0)


def test_pad_errors():
    from deepnotes.tensor import pad
    x = dn.randn(1, 2, 3)
    with pytest.raises(ValueError, match=r"pad: the pad sequence must have an even length of at most 2 \* "
                                         r"ndim = 6, got 3"):
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
