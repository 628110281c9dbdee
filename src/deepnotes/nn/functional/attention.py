"""Functional attention: scaled dot-product, multi-head and additive (Bahdanau) attention.

Seed 002: "attention is a weight distribution: each input word gets a weight, computed by comparing it
with the decoder's hidden state; the larger the weight, the more important the word; then a weighted
sum".  Every function here computes weights = softmax(score(query, key_j)) over the keys and returns
sum_j weights_j value_j; they differ in the score:

* scaled dot-product (Vaswani et al.): score = q . k / sqrt(E);
* additive (Bahdanau et al.): score = v^T tanh(W_q q + W_k k);
* multi-head: scaled dot-product in ``num_heads`` learned subspaces, outputs concatenated and projected.

Names, arguments, defaults and mask conventions follow ``torch.nn.functional``.
"""

import math
import numbers

import numpy as np

from ...ops.attention import _AttnSoftmax
from ...tensor import Tensor, as_tensor, cat, zeros
from . import dense, dropouts
from .shape import pad as _pad


# ------------------------------------------------------------------------------------------ helpers
def _tensor(x, label, name):
    if isinstance(x, Tensor):
        return x
    try:
        return as_tensor(x)
    except TypeError:
        raise TypeError(f"{name}: expected {label} to be a Tensor, got {type(x).__name__}") from None


def _float(x, label, name):
    x = _tensor(x, label, name)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point {label}, got dtype {x.data.dtype}")
    return x


def _probability(p, label, name):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: {label} must be a probability in [0, 1], got {p!r}")
    return float(p)


def _additive_mask(mask, label, dtype, name, true_means="keep"):
    """A boolean or floating mask as an additive float mask (0 / -inf for booleans).

    ``true_means='keep'``: True marks positions that take part (scaled_dot_product_attention);
    ``'drop'``: True marks positions to ignore (multi-head attention's masks).
    """
    m = _tensor(mask, label, name)
    kind = m.data.dtype.kind
    if kind == "b":
        drop = ~m.data if true_means == "keep" else m.data
        return Tensor(np.where(drop, -np.inf, 0.0).astype(dtype))
    if kind != "f":
        raise TypeError(f"{name}: {label} must be a bool or floating-point tensor, got dtype {m.data.dtype}")
    if m.data.dtype != dtype:
        m = m.to(dtype)
    return m


def _causal_mask(L, S, dtype):
    """(L, S) additive mask letting query i see keys j <= i (torch's top-left aligned ``is_causal``)."""
    keep = np.tril(np.ones((L, S), dtype=bool))
    return Tensor(np.where(keep, 0.0, -np.inf).astype(dtype))


# ------------------------------------------------------------------------------ scaled dot product
def scaled_dot_product_attention(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """softmax(Q K^T * scale + M) V, with scale = 1/sqrt(E) by default.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); leading (batch, head)
    dimensions broadcast.  ``attn_mask`` broadcasts to (..., L, S): a boolean mask marks with True the
    query/key pairs that TAKE PART (False -> -inf); a floating mask is added to the scores.
    ``is_causal`` applies the top-left lower-triangular mask (query i sees keys 0..i) and excludes
    ``attn_mask``.  A query whose keys are all masked gets weights 0 (output 0, gradient 0), as torch.
    ``dropout_p`` > 0 drops attention weights (inverted dropout) on every call, as torch does.
    ``enable_gqa``: grouped-query attention, key/value heads (dim -3) are repeated to the query heads.
    """
    name = "scaled_dot_product_attention"
    q = _float(query, "query", name)
    k = _float(key, "key", name)
    v = _float(value, "value", name)
    dropout_p = _probability(dropout_p, "dropout_p", name)
    for label, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2:
            raise ValueError(
                f"{name}: expected {label} with at least 2 dimensions (..., seq, features), got shape {t.shape}"
            )
    if not (q.data.dtype == k.data.dtype == v.data.dtype):
        raise TypeError(
            f"{name}: query, key and value must share a dtype, got {q.data.dtype}, {k.data.dtype} and {v.data.dtype}"
        )
    E, L, S = q.shape[-1], q.shape[-2], k.shape[-2]
    if k.shape[-1] != E:
        raise ValueError(
            f"{name}: key must have the query's feature size {E} in its last dimension, got "
            f"key shape {k.shape} for query shape {q.shape}"
        )
    if v.shape[-2] != S:
        raise ValueError(
            f"{name}: value must have as many positions as key ({S}), got value shape {v.shape} for key shape {k.shape}"
        )
    if enable_gqa:
        if q.ndim < 3 or k.ndim < 3 or v.ndim < 3:
            raise ValueError(
                f"{name}: enable_gqa needs (..., heads, seq, features) inputs, got shapes "
                f"{q.shape}, {k.shape}, {v.shape}"
            )
        hq, hk = q.shape[-3], k.shape[-3]
        if hk == 0 or hq % hk or v.shape[-3] != hk:
            raise ValueError(
                f"{name}: with enable_gqa the query heads ({hq}) must be a multiple of the "
                f"key/value heads (key {hk}, value {v.shape[-3]})"
            )
        k, v = _repeat_heads(k, hq // hk), _repeat_heads(v, hq // hk)
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{name}: batch dimensions of query {q.shape}, key {k.shape} and value {v.shape} do not broadcast"
        ) from None
    dtype = q.data.dtype
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{name}: attn_mask must be None when is_causal=True (the causal mask replaces it)")
        mask = _causal_mask(L, S, dtype)
    elif attn_mask is not None:
        mask = _additive_mask(attn_mask, "attn_mask", dtype, name, true_means="keep")
        scores_shape = np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (L, S)
        try:
            np.broadcast_shapes(mask.shape, scores_shape)
        except ValueError:
            raise ValueError(
                f"{name}: attn_mask of shape {mask.shape} does not broadcast to the attention "
                f"scores' shape {scores_shape} (batch..., L, S)"
            ) from None
    if scale is None:
        scale = 1.0 / math.sqrt(E) if E > 0 else 1.0
    scores = (q @ k.transpose(-2, -1)) * float(scale)
    if mask is not None:
        scores = scores + mask
    weights = _AttnSoftmax.apply(scores, safe=True)
    if dropout_p > 0:
        weights = dropouts.dropout(weights, dropout_p, True)
    return weights @ v


def _repeat_heads(t, n):
    """(..., h, S, E) -> (..., h * n, S, E), each head repeated n times in place (repeat_interleave)."""
    if n == 1:
        return t
    shape = t.shape
    return t.unsqueeze(-3).expand(*shape[:-2], n, *shape[-2:]).reshape(*shape[:-3], shape[-3] * n, *shape[-2:])


# ------------------------------------------------------------------------------------- multi-head
def _check_shapes(q, k, v, key_padding_mask, attn_mask, num_heads, name):
    """torch's shape rules; returns True for batched (3-D) inputs and False for unbatched (2-D)."""
    if q.ndim == 3:
        if k.ndim != 3 or v.ndim != 3:
            raise ValueError(
                f"{name}: for batched 3-D query, key and value must be 3-D too, got {k.ndim}-D key and {v.ndim}-D value"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise ValueError(
                f"{name}: for batched 3-D query, key_padding_mask must be None or 2-D "
                f"(batch, S), got shape {key_padding_mask.shape}"
            )
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise ValueError(
                f"{name}: attn_mask must be None, 2-D (L, S) or 3-D (batch * num_heads, L, S), "
                f"got shape {attn_mask.shape}"
            )
        return True
    if q.ndim == 2:
        if k.ndim != 2 or v.ndim != 2:
            raise ValueError(
                f"{name}: for unbatched 2-D query, key and value must be 2-D too, got "
                f"{k.ndim}-D key and {v.ndim}-D value"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise ValueError(
                f"{name}: for unbatched 2-D query, key_padding_mask must be None or 1-D (S,), "
                f"got shape {key_padding_mask.shape}"
            )
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise ValueError(
                    f"{name}: attn_mask must be None, 2-D (L, S) or 3-D (num_heads, L, S), got shape {attn_mask.shape}"
                )
            if attn_mask.ndim == 3 and attn_mask.shape != (num_heads, q.shape[0], k.shape[0]):
                raise ValueError(
                    f"{name}: expected a 3-D attn_mask of shape "
                    f"{(num_heads, q.shape[0], k.shape[0])}, got {attn_mask.shape}"
                )
        return False
    raise ValueError(f"{name}: query must be 2-D (L, E) unbatched or 3-D (L, N, E) batched, got shape {q.shape}")


def _mask_tensor(mask, label, name):
    if mask is None:
        return None
    m = _tensor(mask, label, name)
    if m.data.dtype.kind not in "bf":
        raise TypeError(f"{name}: only bool and floating {label} are supported, got dtype {m.data.dtype}")
    return m


def multi_head_attention_forward(
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training=True,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    use_separate_proj_weight=False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights=True,
    is_causal=False,
):
    """Multi-head attention with torch's arguments and semantics (time-major inputs).

    query (L, N, E), key (S, N, kdim), value (S, N, vdim), or unbatched (L, E), (S, kdim), (S, vdim).
    Per head h (head_dim = E / num_heads): Q_h = query W_q,h^T + b_q,h and likewise K_h, V_h;
    A_h = softmax(Q_h K_h^T / sqrt(head_dim) + M); out = concat_h(A_h V_h) W_o^T + b_o.

    Masks (True = NOT allowed to attend, unlike ``scaled_dot_product_attention``; floating masks are
    added): ``attn_mask`` (L, S) or (N * num_heads, L, S); ``key_padding_mask`` (N, S) marks padded keys.
    ``bias_k``/``bias_v`` (1, 1, E) append one learned key/value; ``add_zero_attn`` appends a zero
    key/value.  ``static_k``/``static_v`` (N * num_heads, S, head_dim) replace the projected keys/values.
    Returns (output (L, N, E), weights) with weights (N, L, S) averaged over heads, (N, num_heads, L, S)
    with ``average_attn_weights=False``, or None when ``need_weights=False``.  As in torch, a query whose
    keys are all masked gets NaN with ``need_weights=True`` and a zero attention result otherwise.
    ``is_causal`` is only a hint that ``attn_mask`` is the causal mask (which is then required).
    """
    name = "multi_head_attention_forward"
    q_in = _float(query, "query", name)
    k_in = _float(key, "key", name)
    v_in = _float(value, "value", name)
    dropout_p = _probability(dropout_p, "dropout_p", name)
    key_padding_mask = _mask_tensor(key_padding_mask, "key_padding_mask", name)
    attn_mask = _mask_tensor(attn_mask, "attn_mask", name)
    batched = _check_shapes(q_in, k_in, v_in, key_padding_mask, attn_mask, num_heads, name)
    if not batched:
        q_in, k_in, v_in = q_in.unsqueeze(1), k_in.unsqueeze(1), v_in.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = q_in.shape
    S = k_in.shape[0]
    dtype = q_in.data.dtype
    if E != embed_dim_to_check:
        raise ValueError(f"{name}: expected query with embedding dimension {embed_dim_to_check}, got {E}")
    if isinstance(num_heads, bool) or not isinstance(num_heads, (int, np.integer)) or num_heads <= 0 or E % num_heads:
        raise ValueError(f"{name}: num_heads must be a positive int dividing embed_dim {E}, got {num_heads!r}")
    hd = E // num_heads
    if k_in.shape[:2] != v_in.shape[:2] or (not use_separate_proj_weight and k_in.shape != v_in.shape):
        raise ValueError(f"{name}: key shape {k_in.shape} does not match value shape {v_in.shape}")
    if k_in.shape[1] != N:
        raise ValueError(f"{name}: key batch size {k_in.shape[1]} does not match query batch size {N}")
    if is_causal and attn_mask is None:
        raise ValueError(
            f"{name}: is_causal=True is a hint that attn_mask is the causal mask; pass that "
            "attn_mask too (e.g. a (L, L) bool mask with True above the diagonal)"
        )
    causal_hint = is_causal and key_padding_mask is None and not need_weights

    # input projections
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise ValueError(f"{name}: in_proj_weight is required when use_separate_proj_weight=False")
        W = _float(in_proj_weight, "in_proj_weight", name)
        if W.shape != (3 * E, E):
            raise ValueError(f"{name}: expected in_proj_weight of shape {(3 * E, E)}, got {W.shape}")
        b = None if in_proj_bias is None else _float(in_proj_bias, "in_proj_bias", name)
        if query is key and key is value:
            qkv = dense.linear(q_in, W, b)
            q, k, v = qkv[..., :E], qkv[..., E : 2 * E], qkv[..., 2 * E :]
        else:
            bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
            q = dense.linear(q_in, W[:E], bq)
            if key is value:
                kv = dense.linear(k_in, W[E:], None if b is None else b[E:])
                k, v = kv[..., :E], kv[..., E:]
            else:
                k = dense.linear(k_in, W[E : 2 * E], bk)
                v = dense.linear(v_in, W[2 * E :], bv)
    else:
        ws = []
        for label, w, d in (
            ("q_proj_weight", q_proj_weight, E),
            ("k_proj_weight", k_proj_weight, k_in.shape[-1]),
            ("v_proj_weight", v_proj_weight, v_in.shape[-1]),
        ):
            if w is None:
                raise ValueError(f"{name}: {label} is required when use_separate_proj_weight=True")
            w = _float(w, label, name)
            if w.shape != (E, d):
                raise ValueError(f"{name}: expected {label} of shape {(E, d)}, got {w.shape}")
            ws.append(w)
        b = None if in_proj_bias is None else _float(in_proj_bias, "in_proj_bias", name)
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        q, k, v = dense.linear(q_in, ws[0], bq), dense.linear(k_in, ws[1], bk), dense.linear(v_in, ws[2], bv)

    # masks as additive float tensors
    if attn_mask is not None and not causal_hint:
        am = _additive_mask(attn_mask, "attn_mask", dtype, name, true_means="drop")
        if am.ndim == 2:
            if am.shape != (L, S):
                raise ValueError(f"{name}: the 2-D attn_mask must have shape {(L, S)} (L, S), got {am.shape}")
            am = am.unsqueeze(0)
        elif am.shape != (N * num_heads, L, S):
            raise ValueError(
                f"{name}: the 3-D attn_mask must have shape {(N * num_heads, L, S)} "
                f"(batch * num_heads, L, S), got {am.shape}"
            )
    else:
        am = None
    kpm = None
    if key_padding_mask is not None:
        kpm = _additive_mask(key_padding_mask, "key_padding_mask", dtype, name, true_means="drop")

    if bias_k is not None or bias_v is not None:
        if bias_k is None or bias_v is None:
            raise ValueError(f"{name}: bias_k and bias_v must be given together")
        if static_k is not None or static_v is not None:
            raise ValueError(f"{name}: bias_k/bias_v cannot be added to static_k/static_v")
        bk_ = _float(bias_k, "bias_k", name)
        bv_ = _float(bias_v, "bias_v", name)
        k = cat([k, bk_.reshape(1, 1, E).expand(1, N, E)], dim=0)
        v = cat([v, bv_.reshape(1, 1, E).expand(1, N, E)], dim=0)
        am = None if am is None else _pad(am, (0, 1))
        kpm = None if kpm is None else _pad(kpm, (0, 1))

    # heads: (L, N, E) -> (N * heads, L, head_dim)
    q = q.reshape(L, N * num_heads, hd).transpose(0, 1)
    if static_k is None:
        k = k.reshape(k.shape[0], N * num_heads, hd).transpose(0, 1)
    else:
        k = _float(static_k, "static_k", name)
        if k.ndim != 3 or k.shape[0] != N * num_heads or k.shape[2] != hd:
            raise ValueError(f"{name}: expected static_k of shape ({N * num_heads}, S, {hd}), got {k.shape}")
    if static_v is None:
        v = v.reshape(v.shape[0], N * num_heads, hd).transpose(0, 1)
    else:
        v = _float(static_v, "static_v", name)
        if v.ndim != 3 or v.shape[0] != N * num_heads or v.shape[2] != hd:
            raise ValueError(f"{name}: expected static_v of shape ({N * num_heads}, S, {hd}), got {v.shape}")
    if add_zero_attn:
        z = zeros(N * num_heads, 1, hd, dtype=dtype)
        k = cat([k, z], dim=1)
        v = cat([v, z], dim=1)
        am = None if am is None else _pad(am, (0, 1))
        kpm = None if kpm is None else _pad(kpm, (0, 1))
    S2 = k.shape[1]
    if kpm is not None:
        if kpm.shape != (N, S2):
            raise ValueError(
                f"{name}: expected key_padding_mask of shape {(N, S2)} (batch, S), got "
                f"{kpm.shape}" + ("" if batched else f" (unbatched: ({S2},))")
            )
        kpm = kpm.reshape(N, 1, 1, S2).expand(N, num_heads, 1, S2).reshape(N * num_heads, 1, S2)
        am = kpm if am is None else am + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = (q * float(math.sqrt(1.0 / hd))) @ k.transpose(-2, -1)
        if am is not None:
            scores = scores + am
        weights = _AttnSoftmax.apply(scores, safe=False)
        if dropout_p > 0:
            weights = dropouts.dropout(weights, dropout_p, True)
        out = (weights @ v).transpose(0, 1).reshape(L * N, E)
        out = dense.linear(out, out_proj_weight, out_proj_bias).reshape(L, N, E)
        weights = weights.reshape(N, num_heads, L, S2)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            return out.squeeze(1), weights.squeeze(0)
        return out, weights
    if am is not None:
        am = am.unsqueeze(0) if am.shape[0] == 1 else am.reshape(N, num_heads, -1, S2)
    out = scaled_dot_product_attention(
        q.reshape(N, num_heads, L, hd),
        k.reshape(N, num_heads, S2, hd),
        v.reshape(N, num_heads, S2, hd),
        am,
        dropout_p,
        causal_hint,
    )
    out = out.permute(2, 0, 1, 3).reshape(L * N, E)
    out = dense.linear(out, out_proj_weight, out_proj_bias).reshape(L, N, E)
    return (out if batched else out.squeeze(1)), None


# --------------------------------------------------------------------------------------- additive
def additive_attention(query, key, value, w_q, w_k, v, key_padding_mask=None, b_q=None, b_k=None):
    """Bahdanau attention: score_j = v^T tanh(W_q q + b_q + W_k k_j + b_k), weights = softmax_j(score),
    output sum_j weights_j value_j (the biases are optional and absent by default).

    query (N, L, Dq), key (N, S, Dk), value (N, S, Dv), w_q (hidden, Dq), w_k (hidden, Dk), v (hidden,)
    -> (output (N, L, Dv), weights (N, L, S)).  ``key_padding_mask`` (N, S): True marks keys to ignore
    (or a floating mask added to the scores); a query with every key masked gets weights 0.
    """
    name = "additive_attention"
    q = _float(query, "query", name)
    k = _float(key, "key", name)
    val = _float(value, "value", name)
    if q.ndim != 3 or k.ndim != 3 or val.ndim != 3:
        raise ValueError(
            f"{name}: expected 3-D query (N, L, Dq), key (N, S, Dk) and value (N, S, Dv), got "
            f"shapes {q.shape}, {k.shape} and {val.shape}"
        )
    N, S = k.shape[0], k.shape[1]
    if q.shape[0] != N or val.shape[:2] != (N, S):
        raise ValueError(f"{name}: batch/sequence sizes disagree: query {q.shape}, key {k.shape}, value {val.shape}")
    v = _float(v, "v", name)
    if v.ndim != 1:
        raise ValueError(f"{name}: expected v of shape (hidden,), got {v.shape}")
    qp = dense.linear(q, w_q, b_q)  # (N, L, hidden)
    kp = dense.linear(k, w_k, b_k)  # (N, S, hidden)
    e = (qp.unsqueeze(2) + kp.unsqueeze(1)).tanh()  # (N, L, S, hidden)
    scores = e @ v  # (N, L, S)
    if key_padding_mask is not None:
        m = _additive_mask(key_padding_mask, "key_padding_mask", scores.data.dtype, name, true_means="drop")
        if m.shape != (N, S):
            raise ValueError(f"{name}: expected key_padding_mask of shape {(N, S)} (batch, S), got {m.shape}")
        scores = scores + m.unsqueeze(1)
    weights = _AttnSoftmax.apply(scores, safe=True)
    return weights @ val, weights


__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward", "additive_attention"]
