"""Fused recurrent primitives: one layer, one direction, every time step in a single Function.

Composing an LSTM from small Tensor operations records about twenty graph nodes per time step; here a
layer is one node.  ``forward`` projects the inputs of all time steps with one matrix product
(X W_ih^T + b for the whole (T*B, I) block), then loops over time doing only the recurrent product
h_{t-1} W_hh^T and the gate nonlinearities in place.  ``backward`` runs back-propagation through time
with the per-step factors precomputed in vectorised form, then forms every weight gradient with one
matrix product over all time steps (dW_ih = dA^T X, dW_hh = dA^T H_prev).

Weights use torch's layout and gate order, so arrays copy across unchanged:

* ``'rnn_tanh'`` / ``'rnn_relu'``: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).
* ``'lstm'``, gates stacked (i, f, g, o) along the rows of W_ih (4H, I) and W_hh (4H, H)
  (seed 000: f_t = sigma(W[h_{t-1}, x_t] + b), i_t = sigma(...), C~_t = tanh(...),
  C_t = f_t * C_{t-1} + i_t * C~_t, o_t = sigma(...), h_t = o_t * tanh(C_t); g is C~).
* ``'gru'``, gates stacked (r, z, n): r = sigma(W_ir x + b_ir + W_hr h + b_hr),
  z = sigma(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
  h_t = (1 - z) * n + z * h_{t-1}.

The output is one packed array so that a single graph node carries every result (see
:func:`rnn_layer`, which slices it into the output sequence and the final states).
"""

import numpy as np

from ..autograd.function import Function

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _sigmoid_(a):
    """In-place logistic sigmoid via 1/2 + tanh(a/2)/2: no overflow for any input."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _lstm_perm(H):
    """Row order that turns torch's (i, f, g, o) into the internal (g, i, f, o): the three sigmoid gates
    become one contiguous block and the cell-gradient factors one (3, H) block."""
    return np.concatenate([np.arange(2 * H, 3 * H), np.arange(0, 2 * H), np.arange(3 * H, 4 * H)])


class RNNLayerFn(Function):
    """One recurrent layer in one direction over a whole (T, B, I) sequence.

    Inputs: x (T, B, I), h0 (B, H), [c0 (B, H) for LSTM], w_ih (G H, I), w_hh (G H, H),
    [b_ih (G H,), b_hh (G H,)] with G = 4 (LSTM), 3 (GRU) or 1 (RNN).
    Keyword arguments: ``mode`` (a key of ``GATES``), ``reverse`` (process t = T-1 .. 0),
    ``has_bias``.

    Output: the packed array P (T + 1 + [1 for LSTM], B, H).  With processing from t = 0
    (``reverse=False``) P[0] = h0, P[t + 1] = h_t, so the output sequence is P[1:T+1] and h_n = P[T];
    with ``reverse=True`` P[t] = h_t, P[T] = h0, so the output sequence is P[0:T] and h_n = P[0].
    For LSTM P[T + 1] = c_n.  (The h0 slot is a copy of h0; a gradient reaching it flows to h0.)

    Reference (loops, as the notes explain it): deepnotes.reference.rnn (lstm_cell_forward / lstm_cell_backward,
    gru_cell_forward / gru_cell_backward, and the time loops lstm_layer_* / gru_layer_*).
    """

    def forward(self, x, h0, *rest, mode, reverse=False, has_bias=True):
        if mode not in GATES:
            raise ValueError(f"RNNLayerFn: mode must be one of {sorted(GATES)}, got {mode!r}")
        lstm = mode == "lstm"
        if lstm:
            c0, rest = rest[0], rest[1:]
        w_ih, w_hh = rest[0], rest[1]
        b_ih, b_hh = (rest[2], rest[3]) if has_bias else (None, None)
        T, B, I = x.shape
        H = w_hh.shape[1]
        G = GATES[mode]
        dt = np.result_type(x.dtype, w_ih.dtype)
        if lstm:
            perm = _lstm_perm(H)
            w_ih, w_hh = w_ih[perm], w_hh[perm]
            if has_bias:
                b_ih, b_hh = b_ih[perm], b_hh[perm]
        self.mode, self.reverse, self.has_bias, self.perm = mode, reverse, has_bias, (perm if lstm else None)
        self.x, self.w_ih, self.w_hh = x, w_ih, w_hh
        # input projection for all time steps at once
        A = (x.reshape(T * B, I) @ w_ih.T).reshape(T, B, G * H)
        if A.dtype != dt:
            A = A.astype(dt)
        if has_bias:
            A += b_ih if mode == "gru" else b_ih + b_hh
        whhT = w_hh.T
        P = np.empty((T + 1 + lstm, B, H), dtype=dt)
        # P[t + out_off] is h_t and P[t + prev_off] the state before step t in processing order
        if reverse:
            P[T] = h0
            steps, prev_off, out_off = range(T - 1, -1, -1), 1, 0
        else:
            P[0] = h0
            steps, prev_off, out_off = range(T), 0, 1
        self.steps, self.prev_off, self.out_off = steps, prev_off, out_off
        h = P[T] if reverse else P[0]
        if lstm:
            C = np.empty((T + 1, B, H), dtype=dt)  # same indexing as P
            TC = np.empty((T, B, H), dtype=dt)
            C[T if reverse else 0] = c0
            c = C[T if reverse else 0]
            for t in steps:
                a = A[t]
                a += h @ whhT
                np.tanh(a[:, :H], out=a[:, :H])  # g = C~_t
                _sigmoid_(a[:, H:])  # i_t, f_t, o_t
                g, i, f, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
                cn = C[t + out_off]
                np.multiply(f, c, out=cn)  # C_t = f_t * C_{t-1} + i_t * C~_t
                cn += i * g
                tc = TC[t]
                np.tanh(cn, out=tc)
                h = P[t + out_off]
                np.multiply(o, tc, out=h)  # h_t = o_t * tanh(C_t)
                c = cn
            P[T + 1] = c
            self.C, self.TC = C, TC
        elif mode == "gru":
            HN = np.empty((T, B, H), dtype=dt)
            for t in steps:
                a = A[t]
                hh = h @ whhT
                if has_bias:
                    hh += b_hh
                rz = a[:, : 2 * H]
                rz += hh[:, : 2 * H]
                _sigmoid_(rz)
                r, z = a[:, :H], a[:, H : 2 * H]
                hn = HN[t]
                hn[...] = hh[:, 2 * H :]
                n = a[:, 2 * H :]
                n += r * hn
                np.tanh(n, out=n)
                hnew = P[t + out_off]
                np.subtract(h, n, out=hnew)  # h_t = n + z * (h_{t-1} - n)
                hnew *= z
                hnew += n
                h = hnew
            self.HN = HN
        else:
            relu = mode == "rnn_relu"
            for t in steps:
                a = A[t]
                a += h @ whhT
                h = P[t + out_off]
                if relu:
                    np.maximum(a, 0, out=h)
                else:
                    np.tanh(a, out=h)
        self.A, self.P = A, P
        return P

    def backward(self, grad):
        mode, reverse, has_bias = self.mode, self.reverse, self.has_bias
        x, w_ih, w_hh, A, P = self.x, self.w_ih, self.w_hh, self.A, self.P
        T, B, I = x.shape
        H = w_hh.shape[1]
        G = GATES[mode]
        lstm = mode == "lstm"
        dt = A.dtype
        out_off, prev_off = self.out_off, self.prev_off
        dY = grad[out_off : out_off + T]  # d loss / d h_t from the outputs
        Hprev = P[prev_off : prev_off + T]  # h_{t-1} in processing order
        dA = np.empty((T, B, G * H), dtype=dt)
        rec = np.zeros((B, H), dtype=dt)  # d loss / d h_t through h_{t+1}
        steps = self.steps[::-1]
        if lstm:
            C, TC = self.C, self.TC
            Cprev = C[prev_off : prev_off + T]
            g, i, f, o = A[..., :H], A[..., H : 2 * H], A[..., 2 * H : 3 * H], A[..., 3 * H :]
            K1 = o * (1 - TC * TC)  # d h_t / d C_t
            K3 = np.empty((T, B, 3, H), dtype=dt)  # d C_t / d (pre-activation of g, i, f)
            np.multiply(i, 1 - g * g, out=K3[:, :, 0])
            np.multiply(g * i, 1 - i, out=K3[:, :, 1])
            np.multiply(Cprev * f, 1 - f, out=K3[:, :, 2])
            Ko = TC * o * (1 - o)  # d h_t / d (pre-activation of o)
            dA4 = dA.reshape(T, B, 4, H)
            dc = np.array(grad[T + 1], dtype=dt)
            tmp = np.empty((B, H), dtype=dt)
            for t in steps:
                dh = dY[t] + rec
                np.multiply(dh, K1[t], out=tmp)
                dc += tmp
                np.multiply(dc[:, None, :], K3[t], out=dA4[t, :, :3])
                np.multiply(dh, Ko[t], out=dA4[t, :, 3])
                dc *= f[t]
                rec = dA[t] @ w_hh
            dGh = dA
            dGx = dA
            dc0 = dc
        elif mode == "gru":
            HN = self.HN
            r, z, n = A[..., :H], A[..., H : 2 * H], A[..., 2 * H :]
            # every gate gradient of a step is d loss / d h_t times a precomputed factor
            K = np.empty((T, B, 4, H), dtype=dt)  # order: r, z, n (through W_hn), n (through x)
            kn = K[:, :, 3]
            np.multiply(1 - z, 1 - n * n, out=kn)
            np.multiply(kn * HN, r * (1 - r), out=K[:, :, 0])
            np.multiply(Hprev - n, z * (1 - z), out=K[:, :, 1])
            np.multiply(kn, r, out=K[:, :, 2])
            dK = np.empty((T, B, 4, H), dtype=dt)
            dKf = dK.reshape(T, B, 4 * H)
            for t in steps:
                dh = dY[t] + rec
                np.multiply(dh[:, None, :], K[t], out=dK[t])
                rec = dh * z[t]
                rec += dKf[t, :, : 3 * H] @ w_hh
            dGh = np.ascontiguousarray(dKf[:, :, : 3 * H])
            dGx = dA
            dGx[:, :, : 2 * H] = dKf[:, :, : 2 * H]
            dGx[:, :, 2 * H :] = dKf[:, :, 3 * H :]
        else:
            Hout = P[out_off : out_off + T]
            Kact = (Hout > 0).astype(dt) if mode == "rnn_relu" else 1 - Hout * Hout
            for t in steps:
                dh = dY[t] + rec
                np.multiply(dh, Kact[t], out=dA[t])
                rec = dA[t] @ w_hh
            dGh = dGx = dA
        need = self.needs_input_grad
        k = 2 + lstm
        out = [None] * (len(need))
        if need[0]:
            out[0] = (dGx.reshape(T * B, G * H) @ w_ih).reshape(T, B, I)
        if need[1]:
            out[1] = rec + grad[T if reverse else 0]  # the h0 slot of P is a copy of h0
        if lstm and need[2]:
            out[2] = dc0
        perm = self.perm

        def unperm(a):
            if perm is None:
                return a
            res = np.empty_like(a)
            res[perm] = a
            return res

        if need[k]:
            out[k] = unperm(dGx.reshape(T * B, G * H).T @ x.reshape(T * B, I))
        if need[k + 1]:
            out[k + 1] = unperm(dGh.reshape(T * B, G * H).T @ Hprev.reshape(T * B, H))
        if has_bias and (need[k + 2] or need[k + 3]):
            gbx = unperm(dGx.sum(axis=(0, 1)))
            gbh = gbx.copy() if dGh is dGx else unperm(dGh.sum(axis=(0, 1)))
            out[k + 2] = gbx if need[k + 2] else None
            out[k + 3] = gbh if need[k + 3] else None
        return tuple(out)


def rnn_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, mode="lstm", reverse=False):
    """Run one fused recurrent layer; returns (output (T, B, H), h_n (B, H), c_n (B, H) or None).

    ``x`` (T, B, I) is time-major; ``c0`` is used (and required) only for ``mode='lstm'``.
    """
    has_bias = b_ih is not None
    args = [x, h0] + ([c0] if mode == "lstm" else []) + [w_ih, w_hh] + ([b_ih, b_hh] if has_bias else [])
    P = RNNLayerFn.apply(*args, mode=mode, reverse=reverse, has_bias=has_bias)
    T = x.shape[0]
    if reverse:
        out, hn = P[0:T], P[0]
    else:
        out, hn = P[1 : T + 1], P[T]
    cn = P[T + 1] if mode == "lstm" else None
    return out, hn, cn
