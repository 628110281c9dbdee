"""LSTM and GRU the way the notes write them: one gate at a time, one sample at a time, one time step
at a time.

Notes: S000-08 / S002-17 (the LSTM gate formulas), S002-52 (derive LSTM forward and backward
propagation), S002-13 / S002-15 / S002-53 (GRU and how it differs from LSTM), S000-07 (recurrence).

Fast counterpart: :class:`deepnotes.ops.rnn.RNNLayerFn` (one fused graph node per layer and direction:
the input projection of all time steps is one matrix product, gates are updated in place in a
permuted order, back-propagation through time uses precomputed per-step factors and forms every
weight gradient with one matrix product over all steps).

Weights use torch's layout: W_ih (G*H, I) and W_hh (G*H, H) stack the gates along their rows, LSTM in
the order (i, f, g, o), GRU in the order (r, z, n); b_ih, b_hh (G*H,) likewise.  The cell functions
loop over the samples of the batch and compute each gate with its own block of rows; the layer
functions loop over time steps calling the cell.
"""

import numpy as np


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _rows(w, k, H):
    """Gate k's block of rows of a stacked weight (or bias): rows k*H .. (k+1)*H."""
    return w[k * H : (k + 1) * H]


def _bias(b, k, H):
    return 0.0 if b is None else _rows(b, k, H)


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step for a batch x (B, I) with state h, c (B, H).

    For every sample (S000-08):
        i  = sigma(W_ii x + b_ii + W_hi h + b_hi)        input gate
        f  = sigma(W_if x + b_if + W_hf h + b_hf)        forget gate
        g  = tanh (W_ig x + b_ig + W_hg h + b_hg)        candidate cell C~
        o  = sigma(W_io x + b_io + W_ho h + b_ho)        output gate
        c' = f * c + i * g
        h' = o * tanh(c')
    Returns (h', c', cache) with ``cache`` for :func:`lstm_cell_backward`.
    Fast kernel: the ``'lstm'`` branch of :meth:`deepnotes.ops.rnn.RNNLayerFn.forward`.
    """
    x, h, c = np.asarray(x), np.asarray(h), np.asarray(c)
    B, H = h.shape
    gates = {name: np.zeros((B, H)) for name in "ifgo"}
    h_new, c_new = np.zeros((B, H)), np.zeros((B, H))
    for b in range(B):
        pre = [
            _rows(w_ih, k, H) @ x[b] + _bias(b_ih, k, H) + _rows(w_hh, k, H) @ h[b] + _bias(b_hh, k, H)
            for k in range(4)
        ]
        i, f, g, o = _sigmoid(pre[0]), _sigmoid(pre[1]), np.tanh(pre[2]), _sigmoid(pre[3])
        c_new[b] = f * c[b] + i * g
        h_new[b] = o * np.tanh(c_new[b])
        for name, v in zip("ifgo", (i, f, g, o)):
            gates[name][b] = v
    cache = dict(x=x, h=h, c=c, c_new=c_new, w_ih=w_ih, w_hh=w_hh, has_bias=b_ih is not None, **gates)
    return h_new, c_new, cache


def lstm_cell_backward(dh_new, dc_new, cache):
    """Back-propagate through one LSTM step (S002-52), given d loss / d h' and d loss / d c'.

    For every sample, with t' = tanh(c'):
        dc   = dc' + dh' * o * (1 - t'^2)               (c' reaches the loss directly and through h')
        do   = dh' * t'          ->  da_o = do * o (1 - o)
        di   = dc * g            ->  da_i = di * i (1 - i)
        dg   = dc * i            ->  da_g = dg * (1 - g^2)
        df   = dc * c            ->  da_f = df * f (1 - f)
        d(previous c) = dc * f
    and with da = (da_i, da_f, da_g, da_o) stacked like the weights:
        dx = W_ih^T da,   d(previous h) = W_hh^T da,   dW_ih += da x^T,   dW_hh += da h^T,   db = da.
    Returns (dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh) (the bias gradients are None without biases).
    Fast kernel: the ``'lstm'`` branch of :meth:`deepnotes.ops.rnn.RNNLayerFn.backward`.
    """
    x, h, c, w_ih, w_hh = cache["x"], cache["h"], cache["c"], cache["w_ih"], cache["w_hh"]
    i, f, g, o, c_new = cache["i"], cache["f"], cache["g"], cache["o"], cache["c_new"]
    B, H = h.shape
    dx, dh, dc = np.zeros_like(x, dtype=np.float64), np.zeros((B, H)), np.zeros((B, H))
    dw_ih, dw_hh, db = np.zeros(w_ih.shape), np.zeros(w_hh.shape), np.zeros(4 * H)
    for b in range(B):
        t = np.tanh(c_new[b])
        dc_total = dc_new[b] + dh_new[b] * o[b] * (1 - t * t)
        da_o = dh_new[b] * t * o[b] * (1 - o[b])
        da_i = dc_total * g[b] * i[b] * (1 - i[b])
        da_g = dc_total * i[b] * (1 - g[b] * g[b])
        da_f = dc_total * c[b] * f[b] * (1 - f[b])
        da = np.concatenate([da_i, da_f, da_g, da_o])
        dc[b] = dc_total * f[b]
        dx[b] = w_ih.T @ da
        dh[b] = w_hh.T @ da
        dw_ih += np.outer(da, x[b])
        dw_hh += np.outer(da, h[b])
        db += da
    has_bias = cache["has_bias"]
    return dx, dh, dc, dw_ih, dw_hh, (db if has_bias else None), (db.copy() if has_bias else None)


def gru_cell_forward(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step for a batch x (B, I) with state h (B, H).

    For every sample (S002-13, S002-15; torch's form, where the reset gate scales W_hn h + b_hn):
        r  = sigma(W_ir x + b_ir + W_hr h + b_hr)        reset gate
        z  = sigma(W_iz x + b_iz + W_hz h + b_hz)        update gate
        n  = tanh (W_in x + b_in + r * (W_hn h + b_hn))  candidate state
        h' = (1 - z) * n + z * h
    Returns (h', cache) with ``cache`` for :func:`gru_cell_backward`.
    Fast kernel: the ``'gru'`` branch of :meth:`deepnotes.ops.rnn.RNNLayerFn.forward`.
    """
    x, h = np.asarray(x), np.asarray(h)
    B, H = h.shape
    r, z, n, hn = (np.zeros((B, H)) for _ in range(4))
    h_new = np.zeros((B, H))
    for b in range(B):
        r[b] = _sigmoid(_rows(w_ih, 0, H) @ x[b] + _bias(b_ih, 0, H) + _rows(w_hh, 0, H) @ h[b] + _bias(b_hh, 0, H))
        z[b] = _sigmoid(_rows(w_ih, 1, H) @ x[b] + _bias(b_ih, 1, H) + _rows(w_hh, 1, H) @ h[b] + _bias(b_hh, 1, H))
        hn[b] = _rows(w_hh, 2, H) @ h[b] + _bias(b_hh, 2, H)
        n[b] = np.tanh(_rows(w_ih, 2, H) @ x[b] + _bias(b_ih, 2, H) + r[b] * hn[b])
        h_new[b] = (1 - z[b]) * n[b] + z[b] * h[b]
    cache = dict(x=x, h=h, r=r, z=z, n=n, hn=hn, w_ih=w_ih, w_hh=w_hh, has_bias=b_ih is not None)
    return h_new, cache


def gru_cell_backward(dh_new, cache):
    """Back-propagate through one GRU step, given d loss / d h'.

    For every sample, with hn = W_hn h + b_hn:
        dn = dh' * (1 - z)        ->  da_n = dn * (1 - n^2)      (pre-activation of n)
        dz = dh' * (h - n)        ->  da_z = dz * z (1 - z)
        d(hn) = da_n * r,   dr = da_n * hn   ->  da_r = dr * r (1 - r)
        dx = W_ir^T da_r + W_iz^T da_z + W_in^T da_n
        d(previous h) = dh' * z + W_hr^T da_r + W_hz^T da_z + W_hn^T d(hn)
        dW_ih += (da_r, da_z, da_n) x^T,   dW_hh += (da_r, da_z, d(hn)) h^T,
        db_ih = (da_r, da_z, da_n),        db_hh = (da_r, da_z, d(hn)).
    Returns (dx, dh, dW_ih, dW_hh, db_ih, db_hh).
    Fast kernel: the ``'gru'`` branch of :meth:`deepnotes.ops.rnn.RNNLayerFn.backward`.
    """
    x, h, w_ih, w_hh = cache["x"], cache["h"], cache["w_ih"], cache["w_hh"]
    r, z, n, hn = cache["r"], cache["z"], cache["n"], cache["hn"]
    B, H = h.shape
    dx, dh = np.zeros(x.shape), np.zeros((B, H))
    dw_ih, dw_hh = np.zeros(w_ih.shape), np.zeros(w_hh.shape)
    db_ih, db_hh = np.zeros(3 * H), np.zeros(3 * H)
    for b in range(B):
        g = dh_new[b]
        da_n = g * (1 - z[b]) * (1 - n[b] * n[b])
        da_z = g * (h[b] - n[b]) * z[b] * (1 - z[b])
        d_hn = da_n * r[b]
        da_r = da_n * hn[b] * r[b] * (1 - r[b])
        a_x = np.concatenate([da_r, da_z, da_n])
        a_h = np.concatenate([da_r, da_z, d_hn])
        dx[b] = w_ih.T @ a_x
        dh[b] = g * z[b] + w_hh.T @ a_h
        dw_ih += np.outer(a_x, x[b])
        dw_hh += np.outer(a_h, h[b])
        db_ih += a_x
        db_hh += a_h
    has_bias = cache["has_bias"]
    return dx, dh, dw_ih, dw_hh, (db_ih if has_bias else None), (db_hh if has_bias else None)


def _time_order(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def lstm_layer_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """One LSTM layer over a sequence x (T, B, I): the cell applied at t = 0, 1, ..., T-1 (or backwards
    with ``reverse``), each step's state feeding the next (S000-07).

    Returns (outputs (T, B, H), h_n, c_n, caches).  Fast kernel: :class:`deepnotes.ops.rnn.RNNLayerFn`
    (``mode='lstm'``), through :func:`deepnotes.ops.rnn.rnn_layer`.
    """
    x = np.asarray(x)
    T = x.shape[0]
    h, c = np.asarray(h0), np.asarray(c0)
    outputs = np.zeros((T,) + h.shape)
    caches = {}
    for t in _time_order(T, reverse):
        h, c, caches[t] = lstm_cell_forward(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
        outputs[t] = h
    return outputs, h, c, dict(caches=caches, T=T, reverse=reverse, has_bias=b_ih is not None)


def lstm_layer_backward(d_outputs, d_hn, d_cn, state):
    """Back-propagation through time for :func:`lstm_layer_forward` (S002-52).

    Steps are visited in the reverse of the processing order; the gradient reaching h_t is the
    output's own gradient plus what step t + 1 sends back, and the weight gradients of all steps add.
    Returns (dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh).
    Fast kernel: :meth:`deepnotes.ops.rnn.RNNLayerFn.backward`.
    """
    caches, T = state["caches"], state["T"]
    dh, dc = np.array(d_hn, dtype=np.float64), np.array(d_cn, dtype=np.float64)
    dx = np.zeros((T,) + caches[0]["x"].shape)
    totals = None
    for t in reversed(list(_time_order(T, state["reverse"]))):
        dx[t], dh, dc, *grads = lstm_cell_backward(d_outputs[t] + dh, dc, caches[t])
        totals = grads if totals is None else [None if a is None else a + g for a, g in zip(totals, grads)]
    return (dx, dh, dc, *totals)


def gru_layer_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """One GRU layer over a sequence x (T, B, I), the cell applied step after step.

    Returns (outputs (T, B, H), h_n, caches).  Fast kernel: :class:`deepnotes.ops.rnn.RNNLayerFn`
    (``mode='gru'``).
    """
    x = np.asarray(x)
    T = x.shape[0]
    h = np.asarray(h0)
    outputs = np.zeros((T,) + h.shape)
    caches = {}
    for t in _time_order(T, reverse):
        h, caches[t] = gru_cell_forward(x[t], h, w_ih, w_hh, b_ih, b_hh)
        outputs[t] = h
    return outputs, h, dict(caches=caches, T=T, reverse=reverse)


def gru_layer_backward(d_outputs, d_hn, state):
    """Back-propagation through time for :func:`gru_layer_forward`.

    Returns (dx, dh0, dW_ih, dW_hh, db_ih, db_hh).  Fast kernel: :meth:`deepnotes.ops.rnn.RNNLayerFn.backward`.
    """
    caches, T = state["caches"], state["T"]
    dh = np.array(d_hn, dtype=np.float64)
    dx = np.zeros((T,) + caches[0]["x"].shape)
    totals = None
    for t in reversed(list(_time_order(T, state["reverse"]))):
        dx[t], dh, *grads = gru_cell_backward(d_outputs[t] + dh, caches[t])
        totals = grads if totals is None else [None if a is None else a + g for a, g in zip(totals, grads)]
    return (dx, dh, *totals)
