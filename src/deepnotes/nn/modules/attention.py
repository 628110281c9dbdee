"""Attention layers: ``MultiheadAttention`` (torch's layout) and ``AdditiveAttention`` (Bahdanau).

Seed 002 ("what is attention for"): attention is a weight distribution over the inputs, computed by
comparing each input with the current (decoder) state, then used for a weighted sum; it lets a decoder
pick the inputs relevant to the output it is producing.  The math lives in ``deepnotes.nn.functional.attention``.
"""

import math
import numbers

import numpy as np

from ...tensor import get_default_dtype
from .. import init
from ..functional import attention as A
from ..parameter import Parameter
from ._utils import check_device, layer_input
from .linear import Linear
from .module import Module


class MultiheadAttention(Module):
    """Multi-head attention: MultiHead(Q, K, V) = concat(head_1, ..., head_h) W_o^T + b_o with
    head_i = softmax(Q W_q,i^T (K W_k,i^T)^T / sqrt(E / h)) V W_v,i^T.

    ``MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
    add_zero_attn=False, kdim=None, vdim=None, batch_first=False)``.  Parameters as torch:
    ``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E,) when kdim = vdim = E, otherwise
    ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim); ``out_proj``
    (a Linear E -> E); ``bias_k``, ``bias_v`` (1, 1, E) with ``add_bias_kv``.  Initialisation as torch:
    Xavier-uniform projections, zero biases, Xavier-normal bias_k/bias_v.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)``: query (L, N, E) (or (N, L, E) with batch_first, or
    unbatched (L, E)), key (S, N, kdim), value (S, N, vdim); returns (output like query, weights (N, L, S)
    or (N, num_heads, L, S) or None).  Boolean masks mark with True what may NOT be attended.
    """

    def __init__(
        self,
        embed_dim,
        num_heads,
        dropout=0.0,
        bias=True,
        add_bias_kv=False,
        add_zero_attn=False,
        kdim=None,
        vdim=None,
        batch_first=False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        name = "MultiheadAttention"
        check_device(device, name)
        for label, val in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val <= 0:
                raise ValueError(f"{name}: {label} must be a positive int, got {val!r}")
        if embed_dim % num_heads:
            raise ValueError(f"{name}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        dtype = dtype or get_default_dtype()
        self.embed_dim = int(embed_dim)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.num_heads, self.dropout, self.batch_first = int(num_heads), float(dropout), bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        E = self.embed_dim
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(np.empty((E, E), dtype=dtype))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype=dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * E, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, E), dtype=dtype))
            self.bias_v = Parameter(np.empty((1, 1, E), dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = bool(add_zero_attn)
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=True,
        attn_mask=None,
        average_attn_weights=True,
        is_causal=False,
    ):
        name = "MultiheadAttention"
        q = layer_input(query, name)
        k = q if key is query else layer_input(key, name)
        v = k if value is key else layer_input(value, name)
        if self.batch_first and q.ndim == 3:
            # keep the identities q is k is v: they select the fused self-attention projection
            qt = q.transpose(0, 1)
            kt = qt if k is q else k.transpose(0, 1)
            vt = kt if v is k else v.transpose(0, 1)
            q, k, v = qt, kt, vt
        out, weights = A.multi_head_attention_forward(
            q,
            k,
            v,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and q.ndim == 3:
            out = out.transpose(0, 1)
        return out, weights


class AdditiveAttention(Module):
    """Additive (Bahdanau) attention: score(q, k_j) = v^T tanh(W_q q + W_k k_j), weights = softmax over
    j, context = sum_j weights_j value_j.

    ``AdditiveAttention(query_dim, key_dim, hidden_dim, bias=False)``.  Parameters: ``W_q`` (a Linear
    query_dim -> hidden_dim), ``W_k`` (a Linear key_dim -> hidden_dim), both without bias unless
    ``bias=True``, and ``v`` (hidden_dim,) ~ U(-1/sqrt(hidden_dim), 1/sqrt(hidden_dim)).

    ``forward(query, key, value=None, key_padding_mask=None) -> (context, weights)``, batch first:
    query (N, Dq) -> context (N, Dv), weights (N, S); or query (N, L, Dq) -> (N, L, Dv), (N, L, S).
    key (N, S, Dk); value (N, S, Dv), the key when omitted.  Unbatched: key (S, Dk) with query (Dq,) or
    (L, Dq).  ``key_padding_mask`` (N, S): True marks keys to ignore (padding); a query with every key
    masked gets weights 0.
    """

    def __init__(self, query_dim, key_dim, hidden_dim, bias=False, device=None, dtype=None):
        super().__init__()
        name = "AdditiveAttention"
        check_device(device, name)
        for label, val in (("query_dim", query_dim), ("key_dim", key_dim), ("hidden_dim", hidden_dim)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val <= 0:
                raise ValueError(f"{name}: {label} must be a positive int, got {val!r}")
        dtype = dtype or get_default_dtype()
        self.query_dim, self.key_dim, self.hidden_dim = int(query_dim), int(key_dim), int(hidden_dim)
        self.W_q = Linear(query_dim, hidden_dim, bias=bias, dtype=dtype)
        self.W_k = Linear(key_dim, hidden_dim, bias=bias, dtype=dtype)
        self.v = Parameter(np.empty(hidden_dim, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        self.W_q.reset_parameters()
        self.W_k.reset_parameters()
        bound = 1.0 / math.sqrt(self.hidden_dim)
        init.uniform_(self.v, -bound, bound)

    def extra_repr(self):
        return f"query_dim={self.query_dim}, key_dim={self.key_dim}, hidden_dim={self.hidden_dim}"

    def forward(self, query, key, value=None, key_padding_mask=None):
        name = "AdditiveAttention"
        q = layer_input(query, name)
        k = layer_input(key, name)
        val = k if value is None else layer_input(value, name)
        if k.ndim not in (2, 3):
            raise ValueError(f"{name}: expected key of shape (N, S, key_dim) or unbatched (S, key_dim), got {k.shape}")
        batched = k.ndim == 3
        if val.ndim != k.ndim:
            raise ValueError(
                f"{name}: value must have as many dimensions as key, got value {val.shape} and key {k.shape}"
            )
        if q.ndim not in (k.ndim - 1, k.ndim):
            want = "(N, query_dim) or (N, L, query_dim)" if batched else "(query_dim,) or (L, query_dim)"
            raise ValueError(f"{name}: expected query of shape {want} for key of shape {k.shape}, got {q.shape}")
        single = q.ndim == k.ndim - 1
        if not batched:
            q, k, val = q.unsqueeze(0), k.unsqueeze(0), val.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = layer_input(key_padding_mask, name, floating=False).unsqueeze(0)
        if single:
            q = q.unsqueeze(1)
        if q.shape[-1] != self.query_dim:
            raise ValueError(f"{name}: expected query with {self.query_dim} features, got shape {q.shape}")
        if k.shape[-1] != self.key_dim:
            raise ValueError(f"{name}: expected key with {self.key_dim} features, got shape {k.shape}")
        ctx, w = A.additive_attention(
            q, k, val, self.W_q.weight, self.W_k.weight, self.v, key_padding_mask, self.W_q.bias, self.W_k.bias
        )
        if single:
            ctx, w = ctx.squeeze(1), w.squeeze(1)
        if not batched:
            ctx, w = ctx.squeeze(0), w.squeeze(0)
        return ctx, w


__all__ = ["MultiheadAttention", "AdditiveAttention"]
