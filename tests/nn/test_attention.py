"""Attention against torch (float64): scaled_dot_product_attention vs torch.nn.functional's (boolean,
float and causal masks, broadcasting, fully masked rows, grouped-query attention), MultiheadAttention vs
torch.nn.MultiheadAttention with copied weights (packed and separate projections, bias_k/bias_v, zero
attention, key_padding_mask, attn_mask of each kind, need_weights, averaged or per-head weights,
batch_first, unbatched inputs, train and eval), additive attention vs the same formula written in torch;
gradients of every input and parameter; numerical gradient checks; bad-input errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepnotes as dn
from deepnotes import nn
from deepnotes.autograd import gradcheck
from deepnotes.nn.attention import additive_attention, multi_head_attention_forward, scaled_dot_product_attention
from deepnotes.nn.modules.attention import AdditiveAttention, MultiheadAttention

import _oracle as oracle

RTOL, ATOL = 1e-6, 1e-9


def _close(a, b, what):
    oracle.assert_close(a, b, RTOL, ATOL, what=what)


def _leaf(a):
    return dn.Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _backward_pair(outs_d, outs_t, rng):
    oracle.backward_pair(list(outs_d), list(outs_t), rng)


def _mask(rng, shape, kind, keep_one_axis=None):
    """A random mask of ``kind`` ('bool' True = keep, 'float'); with ``keep_one_axis`` every row along
    that axis keeps at least one position."""
    keep = rng.random(shape) < 0.6
    if keep_one_axis is not None and keep.size:
        first = np.zeros(shape, dtype=bool)
        idx = [slice(None)] * len(shape)
        idx[keep_one_axis] = 0
        first[tuple(idx)] = True
        keep |= first
    if kind == "bool":
        return keep
    return np.where(keep, rng.standard_normal(shape), -np.inf)


# ----------------------------------------------------------------------------- scaled dot product
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.sampled_from([(), (1,), (2,), (2, 3)]),
    L=st.integers(1, 5),
    S=st.integers(1, 5),
    E=st.integers(1, 4),
    Ev=st.integers(1, 4),
    mask=st.sampled_from(["none", "bool", "float", "causal"]),
    mask_batch=st.booleans(),
    scale=st.sampled_from([None, 0.3]),
    seed=st.integers(0, 2**16),
)
def test_sdpa_matches_torch(batch, L, S, E, Ev, mask, mask_batch, scale, seed):
    rng = np.random.default_rng(seed)
    (qd, qt), (kd, kt), (vd, vt) = (_leaf(rng.standard_normal(batch + s)) for s in [(L, E), (S, E), (S, Ev)])
    kw_d, kw_t = {}, {}
    if mask == "causal":
        kw_d["is_causal"] = kw_t["is_causal"] = True
    elif mask != "none":
        m = _mask(rng, (batch if mask_batch else ()) + (L, S), mask)  # some rows may be fully masked
        kw_d["attn_mask"], kw_t["attn_mask"] = dn.Tensor(m), torch.tensor(m)
    if scale is not None:
        kw_d["scale"] = kw_t["scale"] = scale
    out = scaled_dot_product_attention(qd, kd, vd, **kw_d)
    ref = TF.scaled_dot_product_attention(qt, kt, vt, **kw_t)
    _close(out.data, ref, "sdpa output")
    _backward_pair([out], [ref], rng)
    for a, b, w in [(qd, qt, "query"), (kd, kt, "key"), (vd, vt, "value")]:
        _close(a.grad, b.grad, f"grad of {w}")


def test_sdpa_fully_masked_rows_give_zero_like_torch():
    rng = np.random.default_rng(0)
    (qd, qt), (kd, kt), (vd, vt) = (_leaf(rng.standard_normal(s)) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 6)])
    for m in [np.ones((3, 5), bool), np.zeros((3, 5))]:
        if m.dtype == bool:
            m[1] = False
        else:
            m[1] = -np.inf
        out = scaled_dot_product_attention(qd, kd, vd, attn_mask=dn.Tensor(m))
        ref = TF.scaled_dot_product_attention(qt, kt, vt, attn_mask=torch.tensor(m))
        assert np.all(out.data[:, 1] == 0)
        _close(out.data, ref, "output")
        qd.grad = kd.grad = vd.grad = None
        qt.grad = kt.grad = vt.grad = None
        _backward_pair([out], [ref], rng)
        assert np.all(qd.grad.data[:, 1] == 0)
        for a, b in [(qd, qt), (kd, kt), (vd, vt)]:
            _close(a.grad, b.grad, "grad")


def test_sdpa_causal_with_more_queries_than_keys_and_broadcast_batch():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((2, 1, 6, 3)), rng.standard_normal((1, 4, 4, 3)), rng.standard_normal((1, 4, 4, 2))
    out = scaled_dot_product_attention(dn.Tensor(q), dn.Tensor(k), dn.Tensor(v), is_causal=True)
    ref = TF.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v), is_causal=True)
    _close(out.data, ref, "output")


def test_sdpa_float_mask_gradient():
    rng = np.random.default_rng(2)
    (qd, qt), (kd, kt), (vd, vt), (md, mt) = (
        _leaf(rng.standard_normal(s)) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 3), (3, 5)]
    )
    out = scaled_dot_product_attention(qd, kd, vd, attn_mask=md)
    ref = TF.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt)
    _backward_pair([out], [ref], rng)
    _close(md.grad, mt.grad, "grad of attn_mask")


def test_sdpa_grouped_query_attention():
    rng = np.random.default_rng(3)
    (qd, qt), (kd, kt), (vd, vt) = (_leaf(rng.standard_normal(s)) for s in [(2, 6, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3)])
    out = scaled_dot_product_attention(qd, kd, vd, enable_gqa=True)
    ref = TF.scaled_dot_product_attention(qt, kt, vt, enable_gqa=True)
    _close(out.data, ref, "output")
    _backward_pair([out], [ref], rng)
    for a, b in [(qd, qt), (kd, kt), (vd, vt)]:
        _close(a.grad, b.grad, "grad")


def test_sdpa_dropout():
    rng = np.random.default_rng(4)
    q, k, v = (rng.standard_normal(s) for s in [(1, 3, 4), (1, 5, 4), (1, 5, 2)])
    # p = 1 drops every weight, as in torch
    out1 = scaled_dot_product_attention(dn.Tensor(q), dn.Tensor(k), dn.Tensor(v), dropout_p=1.0)
    ref1 = TF.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v), dropout_p=1.0)
    _close(out1.data, ref1, "p=1")
    # inverted dropout keeps the expectation: the mean of many draws approaches torch's p=0 result
    dn.manual_seed(0)
    ref = TF.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v)).numpy()
    qd, kd, vd = dn.Tensor(np.repeat(q, 4000, 0)), dn.Tensor(np.repeat(k, 4000, 0)), dn.Tensor(np.repeat(v, 4000, 0))
    draws = scaled_dot_product_attention(qd, kd, vd, dropout_p=0.5).data
    assert not np.allclose(draws[0], draws[1])
    np.testing.assert_allclose(draws.mean(0), ref[0], atol=0.05)


def test_attention_softmax_gradcheck():
    rng = np.random.default_rng(5)
    q, k, v = (dn.Tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 3, 2), (2, 4, 2), (2, 4, 3)])
    mask = np.ones((3, 4), bool)
    mask[0] = False  # a fully masked row
    mask[1, 2] = False
    m = dn.Tensor(mask)
    assert gradcheck(lambda a, b, c: scaled_dot_product_attention(a, b, c, attn_mask=m), [q, k, v])
    w_q, w_k = (dn.Tensor(rng.standard_normal((5, 2)), requires_grad=True) for _ in range(2))
    vv = dn.Tensor(rng.standard_normal(5), requires_grad=True)
    assert gradcheck(lambda a, b, c, d, e, f: additive_attention(a, b, c, d, e, f)[0], [q, k, v, w_q, w_k, vv])


# ----------------------------------------------------------------------------- multi-head attention
def _mha_pair(E, heads, **kw):
    tm = torch.nn.MultiheadAttention(E, heads, **kw).double()
    m = MultiheadAttention(E, heads, **kw).double()
    m.load_state_dict(tm.state_dict())
    return m, tm


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    heads=st.integers(1, 3),
    hd=st.integers(1, 3),
    L=st.integers(1, 4),
    S=st.integers(1, 4),
    N=st.integers(1, 3),
    unbatched=st.booleans(),
    batch_first=st.booleans(),
    bias=st.booleans(),
    add_bias_kv=st.booleans(),
    add_zero_attn=st.booleans(),
    inputs=st.sampled_from(["self", "kv_same", "all_different", "kdim_vdim"]),
    attn_mask=st.sampled_from(["none", "bool2d", "float2d", "bool3d", "float3d"]),
    key_padding_mask=st.sampled_from(["none", "bool", "float"]),
    need_weights=st.booleans(),
    average=st.booleans(),
    train=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_multihead_attention_matches_torch(
    heads,
    hd,
    L,
    S,
    N,
    unbatched,
    batch_first,
    bias,
    add_bias_kv,
    add_zero_attn,
    inputs,
    attn_mask,
    key_padding_mask,
    need_weights,
    average,
    train,
    seed,
):
    rng = np.random.default_rng(seed)
    E = heads * hd
    if inputs == "self":
        S = L
    kdim, vdim = (E + 1, E + 2) if inputs == "kdim_vdim" else (None, None)
    m, tm = _mha_pair(
        E,
        heads,
        bias=bias,
        add_bias_kv=add_bias_kv,
        add_zero_attn=add_zero_attn,
        kdim=kdim,
        vdim=vdim,
        batch_first=batch_first,
    )
    m.train(train)
    tm.train(train)

    def shape(T, D):
        if unbatched:
            return (T, D)
        return (N, T, D) if batch_first else (T, N, D)

    qd, qt = _leaf(rng.standard_normal(shape(L, E)))
    leaves = [(qd, qt)]
    if inputs == "self":
        kd, kt, vd, vt = qd, qt, qd, qt
    else:
        kd, kt = _leaf(rng.standard_normal(shape(S, kdim or E)))
        leaves.append((kd, kt))
        if inputs == "kv_same":
            vd, vt = kd, kt
        else:
            vd, vt = _leaf(rng.standard_normal(shape(S, vdim or E)))
            leaves.append((vd, vt))
    kw_d, kw_t = dict(need_weights=need_weights, average_attn_weights=average), {}
    # every query keeps at least one key so that no row is fully masked (those are tested separately)
    if attn_mask != "none":
        kind = attn_mask[:-2]
        ms = (L, S) if attn_mask.endswith("2d") else (heads if unbatched else N * heads, L, S)
        mk = _mask(rng, ms, kind, keep_one_axis=-1)
        am = ~mk if kind == "bool" else mk  # MHA's boolean masks mark what is NOT allowed
        kw_d["attn_mask"] = dn.Tensor(am)
        kw_t["attn_mask"] = torch.tensor(am)
    if key_padding_mask != "none":
        ks = (S,) if unbatched else (N, S)
        keep = rng.random(ks) < 0.7
        keep[..., 0] = True  # key 0 is never masked by either mask
        kind = key_padding_mask if attn_mask == "none" else attn_mask[:-2]  # torch warns on mixed kinds
        kpm = ~keep if kind == "bool" else np.where(keep, rng.standard_normal(ks), -np.inf)
        kw_d["key_padding_mask"] = dn.Tensor(kpm)
        kw_t["key_padding_mask"] = torch.tensor(kpm)
    kw_t.update(need_weights=need_weights, average_attn_weights=average)
    out, w = m(qd, kd, vd, **kw_d)
    ref, wt = tm(qt, kt, vt, **kw_t)
    _close(out.data, ref, "output")
    if need_weights:
        _close(w.data, wt, "weights")
    else:
        assert w is None and wt is None
    outs_d, outs_t = ([out, w], [ref, wt]) if need_weights else ([out], [ref])
    _backward_pair(outs_d, outs_t, rng)
    for a, b in leaves:
        _close(a.grad, b.grad, "grad of input")
    ours = dict(m.named_parameters())
    for k, p in tm.named_parameters():
        _close(ours[k].grad, p.grad, f"grad of {k}")


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_fully_masked_query_like_torch(need_weights):
    """torch gives NaN for a query with every key masked on the need_weights path, and a zero attention
    result (output = out_proj bias) on the scaled_dot_product_attention path."""
    rng = np.random.default_rng(6)
    m, tm = _mha_pair(4, 2)
    with torch.no_grad():
        tm.out_proj.bias.normal_()
    m.load_state_dict(tm.state_dict())
    q, k = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 2, 4))
    am = np.zeros((3, 5), bool)
    am[1] = True
    out, _ = m(dn.Tensor(q), dn.Tensor(k), dn.Tensor(k), attn_mask=dn.Tensor(am), need_weights=need_weights)
    ref, _ = tm(
        torch.tensor(q), torch.tensor(k), torch.tensor(k), attn_mask=torch.tensor(am), need_weights=need_weights
    )
    assert np.isnan(out.data[1]).all() == need_weights
    _close(out.data, ref, "output")


def test_mha_is_causal_hint():
    rng = np.random.default_rng(7)
    m, tm = _mha_pair(6, 3, batch_first=True)
    x = rng.standard_normal((2, 4, 6))
    causal = np.triu(np.ones((4, 4), bool), 1)
    for need_weights in [True, False]:
        out, _ = m(
            dn.Tensor(x),
            dn.Tensor(x),
            dn.Tensor(x),
            attn_mask=dn.Tensor(causal),
            is_causal=True,
            need_weights=need_weights,
        )
        xt = torch.tensor(x)
        ref, _ = tm(xt, xt, xt, attn_mask=torch.tensor(causal), is_causal=True, need_weights=need_weights)
        _close(out.data, ref, "output")
    with pytest.raises(ValueError, match="is_causal=True is a hint that attn_mask is the causal mask"):
        m(dn.Tensor(x), dn.Tensor(x), dn.Tensor(x), is_causal=True)


def test_mha_functional_static_kv_matches_torch():
    rng = np.random.default_rng(8)
    E, H, L, S, N = 4, 2, 3, 5, 2
    tm = torch.nn.MultiheadAttention(E, H).double()
    q = rng.standard_normal((L, N, E))
    sk, sv = rng.standard_normal((N * H, S, E // H)), rng.standard_normal((N * H, S, E // H))
    args = dict(embed_dim_to_check=E, num_heads=H, bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0)
    ref, wt = TF.multi_head_attention_forward(
        torch.tensor(q),
        torch.tensor(q),
        torch.tensor(q),
        in_proj_weight=tm.in_proj_weight,
        in_proj_bias=tm.in_proj_bias,
        out_proj_weight=tm.out_proj.weight,
        out_proj_bias=tm.out_proj.bias,
        static_k=torch.tensor(sk),
        static_v=torch.tensor(sv),
        **args,
    )
    out, w = multi_head_attention_forward(
        dn.Tensor(q),
        dn.Tensor(q),
        dn.Tensor(q),
        in_proj_weight=dn.Tensor(tm.in_proj_weight.detach().numpy()),
        in_proj_bias=dn.Tensor(tm.in_proj_bias.detach().numpy()),
        out_proj_weight=dn.Tensor(tm.out_proj.weight.detach().numpy()),
        out_proj_bias=dn.Tensor(tm.out_proj.bias.detach().numpy()),
        static_k=dn.Tensor(sk),
        static_v=dn.Tensor(sv),
        **args,
    )
    _close(out.data, ref, "output")
    _close(w.data, wt, "weights")


@pytest.mark.parametrize("kw", [{}, dict(kdim=3, vdim=5), dict(bias=False), dict(add_bias_kv=True)])
def test_mha_state_dict_layout_and_init_match_torch(kw):
    E = 8
    m = MultiheadAttention(E, 2, **kw)
    tm = torch.nn.MultiheadAttention(E, 2, **kw)
    assert [(k, v.shape) for k, v in m.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in tm.state_dict().items()
    ]
    assert m.in_proj_bias is None or not m.in_proj_bias.data.any()
    assert m.out_proj.bias is None or not m.out_proj.bias.data.any()
    if not kw:
        bound = math.sqrt(6 / (E + 3 * E))  # xavier_uniform_ on the (3E, E) packed weight
        w = m.in_proj_weight.data
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound


def test_mha_statistics_of_xavier_init():
    dn.manual_seed(0)
    E = 256
    w = MultiheadAttention(E, 4).in_proj_weight.data
    assert abs(w.var() / (2 / (E + 3 * E)) - 1) < 0.03


def test_mha_dropout_on_weights_in_training_only():
    rng = np.random.default_rng(9)
    m, _ = _mha_pair(4, 2, dropout=0.5)
    x = dn.Tensor(rng.standard_normal((3, 2, 4)))
    dn.manual_seed(0)
    w1 = m(x, x, x)[1].data
    w2 = m(x, x, x)[1].data
    assert not np.allclose(w1, w2)
    m.eval()
    np.testing.assert_array_equal(m(x, x, x)[1].data, m(x, x, x)[1].data)


# ----------------------------------------------------------------------------- additive attention
def _torch_additive(q, k, v, Wq, Wk, vv, bq=None, bk=None, kpm=None):
    scores = (
        torch.tanh(
            (q @ Wq.T + (0 if bq is None else bq)).unsqueeze(2) + (k @ Wk.T + (0 if bk is None else bk)).unsqueeze(1)
        )
        @ vv
    )
    if kpm is not None:
        scores = scores.masked_fill(kpm.unsqueeze(1), float("-inf"))
    w = torch.softmax(scores, dim=-1)
    return w @ v, w


@settings(max_examples=30, deadline=None)
@given(
    N=st.integers(1, 3),
    L=st.integers(1, 3),
    S=st.integers(1, 5),
    Dq=st.integers(1, 4),
    Dk=st.integers(1, 4),
    Dv=st.integers(1, 4),
    hidden=st.integers(1, 5),
    bias=st.booleans(),
    query=st.sampled_from(["single", "many"]),
    separate_value=st.booleans(),
    masked=st.booleans(),
    unbatched=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_additive_attention_matches_torch_formula(
    N, L, S, Dq, Dk, Dv, hidden, bias, query, separate_value, masked, unbatched, seed
):
    rng = np.random.default_rng(seed)
    m = AdditiveAttention(Dq, Dk, hidden, bias=bias).double()
    Wq, Wk, vv = (torch.tensor(p.data, requires_grad=True) for p in (m.W_q.weight, m.W_k.weight, m.v))
    bq = torch.tensor(m.W_q.bias.data, requires_grad=True) if bias else None
    bk = torch.tensor(m.W_k.bias.data, requires_grad=True) if bias else None
    Nb = 1 if unbatched else N
    qshape = (Nb, Dq) if query == "single" else (Nb, L, Dq)
    (qd, qt), (kd, kt) = _leaf(rng.standard_normal(qshape)), _leaf(rng.standard_normal((Nb, S, Dk)))
    vd, vt = _leaf(rng.standard_normal((Nb, S, Dv))) if separate_value else (kd, kt)
    kpm = None
    if masked:
        kpm = rng.random((Nb, S)) < 0.4
        kpm[:, 0] = False
    squeeze = (lambda a: a[0]) if unbatched else (lambda a: a)
    args = [squeeze(qd), squeeze(kd)] + ([squeeze(vd)] if separate_value else [])
    out, w = m(*args, key_padding_mask=None if kpm is None else dn.Tensor(squeeze(kpm)))
    q3 = qt.unsqueeze(1) if query == "single" else qt
    ref, wt = _torch_additive(q3, kt, vt, Wq, Wk, vv, bq, bk, None if kpm is None else torch.tensor(kpm))
    if query == "single":
        ref, wt = ref[:, 0], wt[:, 0]
    if unbatched:
        ref, wt = ref[0], wt[0]
    _close(out.data, ref, "context")
    _close(w.data, wt, "weights")
    _backward_pair([out, w], [ref, wt], rng)
    leaves = [(qd, qt), (kd, kt)] + ([(vd, vt)] if separate_value else [])
    for a, b in leaves:
        _close(a.grad, b.grad, "grad of input")
    pairs = [(m.W_q.weight, Wq), (m.W_k.weight, Wk), (m.v, vv)] + ([(m.W_q.bias, bq), (m.W_k.bias, bk)] if bias else [])
    for a, b in pairs:
        _close(a.grad, b.grad, "grad of parameter")


def test_additive_attention_fully_masked_query_gets_zero_weights():
    m = AdditiveAttention(2, 3, 4).double()
    rng = np.random.default_rng(10)
    kpm = np.zeros((2, 5), bool)
    kpm[1] = True
    ctx, w = m(
        dn.Tensor(rng.standard_normal((2, 2))),
        dn.Tensor(rng.standard_normal((2, 5, 3))),
        key_padding_mask=dn.Tensor(kpm),
    )
    assert np.all(w.data[1] == 0) and np.all(ctx.data[1] == 0)
    np.testing.assert_allclose(w.data[0].sum(), 1.0)


# ----------------------------------------------------------------------------- errors
def test_attention_errors():
    q, k, v = dn.zeros(2, 3, 4), dn.zeros(2, 5, 4), dn.zeros(2, 5, 6)
    with pytest.raises(
        ValueError,
        match=r"scaled_dot_product_attention: attn_mask of shape \(4, 5\) does not "
        r"broadcast to the attention scores' shape \(2, 3, 5\)",
    ):
        scaled_dot_product_attention(q, k, v, attn_mask=dn.ones(4, 5, dtype=dn.bool_))
    with pytest.raises(
        ValueError,
        match=r"scaled_dot_product_attention: dropout_p must be a probability in "
        r"\[0, 1\], got -0.1",
    ):
        scaled_dot_product_attention(q, k, v, dropout_p=-0.1)
    with pytest.raises(ValueError, match="attn_mask must be None when is_causal=True"):
        scaled_dot_product_attention(q, k, v, attn_mask=dn.ones(3, 5, dtype=dn.bool_), is_causal=True)
    with pytest.raises(ValueError, match="key must have the query's feature size 4"):
        scaled_dot_product_attention(q, dn.zeros(2, 5, 3), v)
    with pytest.raises(TypeError, match="attn_mask must be a bool or floating-point tensor"):
        scaled_dot_product_attention(q, k, v, attn_mask=dn.ones(3, 5, dtype=dn.int64))

    m = MultiheadAttention(4, 2)
    x, y = dn.zeros(3, 2, 4), dn.zeros(5, 2, 4)
    with pytest.raises(ValueError, match=r"MultiheadAttention: dropout must be a probability in \[0, 1\], got -0.1"):
        MultiheadAttention(4, 2, dropout=-0.1)
    with pytest.raises(ValueError, match=r"embed_dim \(6\) must be divisible by num_heads \(4\)"):
        MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match=r"the 2-D attn_mask must have shape \(3, 5\) \(L, S\), got \(3, 4\)"):
        m(x, y, y, attn_mask=dn.zeros(3, 4, dtype=dn.bool_))
    with pytest.raises(ValueError, match=r"the 3-D attn_mask must have shape \(4, 3, 5\)"):
        m(x, y, y, attn_mask=dn.zeros(2, 3, 5, dtype=dn.bool_))
    with pytest.raises(ValueError, match=r"expected key_padding_mask of shape \(2, 5\) \(batch, S\), got \(2, 4\)"):
        m(x, y, y, key_padding_mask=dn.zeros(2, 4, dtype=dn.bool_))
    with pytest.raises(ValueError, match="key_padding_mask must be None or 2-D"):
        m(x, y, y, key_padding_mask=dn.zeros(5, dtype=dn.bool_))
    with pytest.raises(ValueError, match="expected query with embedding dimension 4, got 3"):
        m(dn.zeros(3, 2, 3), y, y)
    with pytest.raises(ValueError, match="multi_head_attention_forward: dropout_p must be a probability"):
        multi_head_attention_forward(
            x, y, y, 4, 2, m.in_proj_weight, m.in_proj_bias, None, None, False, -0.5, m.out_proj.weight, m.out_proj.bias
        )
    with pytest.raises(ValueError, match="AdditiveAttention: expected key with 3 features"):
        AdditiveAttention(2, 3, 4)(dn.zeros(2, 2), dn.zeros(2, 5, 4))
    with pytest.raises(ValueError, match=r"additive_attention: expected key_padding_mask of shape \(2, 5\)"):
        AdditiveAttention(2, 3, 4)(dn.zeros(2, 2), dn.zeros(2, 5, 3), key_padding_mask=dn.zeros(2, 4, dtype=dn.bool_))


def test_public_exports():
    assert nn.MultiheadAttention is MultiheadAttention
    assert nn.AdditiveAttention is AdditiveAttention
    assert nn.functional.scaled_dot_product_attention is scaled_dot_product_attention
    assert nn.functional.multi_head_attention_forward is multi_head_attention_forward
