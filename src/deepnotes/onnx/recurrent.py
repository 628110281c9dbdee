"""Recurrent layers: one layer and direction of LSTM, GRU or Elman RNN as the ONNX node of that name."""

from __future__ import annotations

import numpy as np

from ..ops import rnn as _RNN
from .registry import register_op

_RNN_GATE_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "rnn_tanh": (0,), "rnn_relu": (0,)}


@register_op(_RNN.RNNLayerFn)
def _rnn_layer(g, rec, out):
    """deepnotes.ops.rnn.RNNLayerFn (one layer, one direction) as an ONNX LSTM/GRU/RNN node, with the
    packed output rebuilt: forward P = [h0, y_1..y_T, (c_T)], reverse P = [y_1..y_T, h0, (c_T)]."""
    kw = rec.kwargs
    mode, reverse, has_bias = kw["mode"], kw.get("reverse", False), kw.get("has_bias", True)
    lstm = mode == "lstm"
    ins = list(rec.inputs)
    x, h0 = ins[0], ins[1]
    c0 = ins[2] if lstm else None
    rest = ins[3:] if lstm else ins[2:]
    w_ih, w_hh = rest[0], rest[1]
    H = w_hh.shape[1]
    rows = np.concatenate([np.arange(k * H, (k + 1) * H) for k in _RNN_GATE_ORDER[mode]])
    perm = g.ints(rows, "gate_order")

    def weight(t):  # (G H, ...) -> gates reordered, with a leading num_directions axis of 1
        return g.unsqueeze(g.node("Gather", [g.value(t), perm], axis=0), [0])

    inputs = [g.value(x), weight(w_ih), weight(w_hh)]
    if has_bias:
        b = g.node("Concat", [g.node("Gather", [g.value(t), perm], axis=0) for t in rest[2:4]], axis=0)
        inputs.append(g.unsqueeze(b, [0]))
    else:
        inputs.append("")
    inputs += ["", g.unsqueeze(g.value(h0), [0])]
    if lstm:
        inputs.append(g.unsqueeze(g.value(c0), [0]))
    op_type = {"lstm": "LSTM", "gru": "GRU"}.get(mode, "RNN")
    attrs = {"hidden_size": int(H), "direction": "reverse" if reverse else "forward"}
    if mode == "gru":
        attrs["linear_before_reset"] = 1
    if mode in ("rnn_tanh", "rnn_relu"):
        attrs["activations"] = ["Tanh" if mode == "rnn_tanh" else "Relu"]
    results = g.node(op_type, inputs, n_out=3 if lstm else 2, **attrs)
    y = g.squeeze(results[0], [1])  # (T, 1, B, H) -> (T, B, H)
    first = g.unsqueeze(g.value(h0), [0])
    parts = [y, first] if reverse else [first, y]
    if lstm:
        parts.append(results[2])  # Y_c (1, B, H)
    g.node("Concat", parts, out, axis=0)
