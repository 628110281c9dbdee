"""deepnotes.reference.batchnorm and .rnn against the fused kernels (BatchNormFn, RNNLayerFn) on random
small shapes, values and gradients in float64, and each reference once against torch."""

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import reference as ref
from deepnotes.ops.rnn import rnn_layer

torch.set_num_threads(1)
RTOL, ATOL = 1e-9, 1e-11


def close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


# ------------------------------------------------------------------------------------ batch norm
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    spatial=st.lists(st.integers(1, 3), max_size=2),
    training=st.booleans(),
    affine=st.booleans(),
    channel_major=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_batch_norm_reference_equals_fused_kernel(n, c, spatial, training, affine, channel_major, seed):
    shape = (n, c, *spatial)
    if training and n * int(np.prod(spatial)) < 2:
        n, shape = 2, (2, c, *spatial)  # training needs more than one value per channel
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
    if channel_major and len(shape) > 2:  # the layout the im2col convolution produces; BatchNormFn keeps it
        x = np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    eps, momentum = 1e-5, 0.3
    tensors = [dn.Tensor(a, requires_grad=True) for a in ((x, w, b) if affine else (x,))]
    rm_fast, rv_fast = rm.copy(), rv.copy()
    y = F.batch_norm(
        tensors[0],
        rm_fast,
        rv_fast,
        *(tensors[1:] if affine else (None, None)),
        training=training,
        momentum=momentum,
        eps=eps,
    )
    cot = rng.standard_normal(shape)
    y.backward(dn.Tensor(cot))
    y_ref, rm_ref, rv_ref, cache = ref.batch_norm_forward(
        x, *((w, b) if affine else (None, None)), rm, rv, training=training, momentum=momentum, eps=eps
    )
    close(y_ref, y.data, "forward")
    close(rm_ref, rm_fast, "running mean")
    close(rv_ref, rv_fast, "running var")
    dx, dw, db = ref.batch_norm_backward(cot, cache)
    close(dx, tensors[0].grad, "grad input")
    if affine:
        close(dw, tensors[1].grad, "grad weight")
        close(db, tensors[2].grad, "grad bias")


def test_batch_norm_reference_matches_torch():
    rng = np.random.default_rng(31)
    x, w, b = rng.standard_normal((4, 3, 5, 2)) * 2 + 1, rng.standard_normal(3), rng.standard_normal(3)
    for training in (True, False):
        rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
        rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)
        ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        yt = TF.batch_norm(ts[0], rm_t, rv_t, ts[1], ts[2], training=training, momentum=0.2, eps=1e-3)
        cot = rng.standard_normal(x.shape)
        (yt * torch.tensor(cot)).sum().backward()
        y, rm_new, rv_new, cache = ref.batch_norm_forward(x, w, b, rm, rv, training=training, momentum=0.2, eps=1e-3)
        close(y, yt.detach().numpy(), "forward")
        close(rm_new, rm_t.numpy(), "running mean")
        close(rv_new, rv_t.numpy(), "running var")
        for r, t, what in zip(ref.batch_norm_backward(cot, cache), ts, ("dx", "dw", "db")):
            close(r, t.grad.numpy(), what)


# ------------------------------------------------------------------------------------ LSTM / GRU
def _weights(rng, gates, I, H, bias):
    ws = [rng.standard_normal((gates * H, I)) * 0.6, rng.standard_normal((gates * H, H)) * 0.6]
    if bias:
        ws += [rng.standard_normal(gates * H) * 0.5, rng.standard_normal(gates * H) * 0.5]
    return ws


def _fast_layer(mode, x, h0, c0, ws, reverse, seed):
    """rnn_layer (the fused RNNLayerFn) with autograd: outputs and the gradients of a random loss on
    the outputs, h_n and (LSTM) c_n."""
    leaves = [dn.Tensor(a, requires_grad=True) for a in [x, h0] + ([c0] if mode == "lstm" else []) + ws]
    lstm = mode == "lstm"
    x_t, h_t = leaves[0], leaves[1]
    c_t = leaves[2] if lstm else None
    out, hn, cn = rnn_layer(x_t, h_t, c_t, *leaves[2 + lstm :], mode=mode, reverse=reverse)
    rng = np.random.default_rng(seed)
    cots = [rng.standard_normal(t.shape) for t in (out, hn) + ((cn,) if lstm else ())]
    loss = (out * dn.Tensor(cots[0])).sum() + (hn * dn.Tensor(cots[1])).sum()
    if lstm:
        loss = loss + (cn * dn.Tensor(cots[2])).sum()
    loss.backward()
    return (out, hn, cn), cots, [t.grad for t in leaves]


@settings(max_examples=30, deadline=None)
@given(
    T=st.integers(1, 3),
    B=st.integers(1, 3),
    I=st.integers(1, 3),
    H=st.integers(1, 3),
    bias=st.booleans(),
    reverse=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_lstm_reference_equals_fused_layer(T, B, I, H, bias, reverse, seed):
    rng = np.random.default_rng(seed)
    x, h0, c0 = rng.standard_normal((T, B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    ws = _weights(rng, 4, I, H, bias)
    (out, hn, cn), cots, grads = _fast_layer("lstm", x, h0, c0, ws, reverse, seed + 1)
    out_r, hn_r, cn_r, state = ref.lstm_layer_forward(x, h0, c0, *ws, reverse=reverse)
    close(out_r, out.data, "outputs")
    close(hn_r, hn.data, "h_n")
    close(cn_r, cn.data, "c_n")
    back = ref.lstm_layer_backward(cots[0], cots[1], cots[2], state)
    names = ["dx", "dh0", "dc0", "dW_ih", "dW_hh", "db_ih", "db_hh"]
    for r, g, what in zip(back, grads, names):
        close(r, g, what)


@settings(max_examples=30, deadline=None)
@given(
    T=st.integers(1, 3),
    B=st.integers(1, 3),
    I=st.integers(1, 3),
    H=st.integers(1, 3),
    bias=st.booleans(),
    reverse=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_gru_reference_equals_fused_layer(T, B, I, H, bias, reverse, seed):
    rng = np.random.default_rng(seed)
    x, h0 = rng.standard_normal((T, B, I)), rng.standard_normal((B, H))
    ws = _weights(rng, 3, I, H, bias)
    (out, hn, _), cots, grads = _fast_layer("gru", x, h0, None, ws, reverse, seed + 1)
    out_r, hn_r, state = ref.gru_layer_forward(x, h0, *ws, reverse=reverse)
    close(out_r, out.data, "outputs")
    close(hn_r, hn.data, "h_n")
    back = ref.gru_layer_backward(cots[0], cots[1], state)
    for r, g, what in zip(back, grads, ["dx", "dh0", "dW_ih", "dW_hh", "db_ih", "db_hh"]):
        close(r, g, what)


def _public_cell(cls, I, H, ws):
    """A deepnotes nn.LSTMCell / nn.GRUCell (float64) holding the weights ``ws``."""
    cell = cls(I, H, bias=len(ws) == 4, dtype=np.float64)
    for p, a in zip([cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh], ws):
        p.data[...] = a
    return cell


def _cell_grads(cell):
    return [cell.weight_ih.grad, cell.weight_hh.grad] + ([cell.bias_ih.grad, cell.bias_hh.grad] if cell.bias else [])


@settings(max_examples=30, deadline=None)
@given(B=st.integers(1, 3), I=st.integers(1, 3), H=st.integers(1, 3), bias=st.booleans(), seed=st.integers(0, 2**31))
def test_cell_references_equal_public_cells(B, I, H, bias, seed):
    """One step through the public nn.LSTMCell / nn.GRUCell (a one-step fused layer) and its autograd."""
    rng = np.random.default_rng(seed)
    x, h, c = rng.standard_normal((B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    dh1, dc1 = rng.standard_normal((B, H)), rng.standard_normal((B, H))

    ws = _weights(rng, 4, I, H, bias)
    cell = _public_cell(dn.nn.LSTMCell, I, H, ws)
    xt, ht, ct = (dn.Tensor(a, requires_grad=True) for a in (x, h, c))
    h1, c1 = cell(xt, (ht, ct))
    ((h1 * dn.Tensor(dh1)).sum() + (c1 * dn.Tensor(dc1)).sum()).backward()
    h_r, c_r, cache = ref.lstm_cell_forward(x, h, c, *ws)
    close(h_r, h1.data, "lstm h'")
    close(c_r, c1.data, "lstm c'")
    dx, dh, dc, *dws = ref.lstm_cell_backward(dh1, dc1, cache)
    for r, g, what in zip(
        [dx, dh, dc] + dws[: len(ws)],
        [xt.grad, ht.grad, ct.grad] + _cell_grads(cell),
        ["dx", "dh", "dc", "dW_ih", "dW_hh", "db_ih", "db_hh"],
    ):
        close(r, g, "lstm " + what)

    ws = _weights(rng, 3, I, H, bias)
    cell = _public_cell(dn.nn.GRUCell, I, H, ws)
    xt, ht = (dn.Tensor(a, requires_grad=True) for a in (x, h))
    h1 = cell(xt, ht)
    h1.backward(dn.Tensor(dh1))
    h_r, cache = ref.gru_cell_forward(x, h, *ws)
    close(h_r, h1.data, "gru h'")
    dx, dh, *dws = ref.gru_cell_backward(dh1, cache)
    for r, g, what in zip(
        [dx, dh] + dws[: len(ws)],
        [xt.grad, ht.grad] + _cell_grads(cell),
        ["dx", "dh", "dW_ih", "dW_hh", "db_ih", "db_hh"],
    ):
        close(r, g, "gru " + what)


def test_lstm_cell_reference_matches_torch():
    rng = np.random.default_rng(32)
    B, I, H = 3, 4, 5
    x, h, c = rng.standard_normal((B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    ws = _weights(rng, 4, I, H, True)
    cell = torch.nn.LSTMCell(I, H).double()
    with torch.no_grad():
        for p, a in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), ws):
            p.copy_(torch.tensor(a))
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    h1, c1 = cell(xt, (ht, ct))
    dh1, dc1 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    ((h1 * torch.tensor(dh1)).sum() + (c1 * torch.tensor(dc1)).sum()).backward()
    h_r, c_r, cache = ref.lstm_cell_forward(x, h, c, *ws)
    close(h_r, h1.detach().numpy(), "h'")
    close(c_r, c1.detach().numpy(), "c'")
    expected = [
        xt.grad,
        ht.grad,
        ct.grad,
        cell.weight_ih.grad,
        cell.weight_hh.grad,
        cell.bias_ih.grad,
        cell.bias_hh.grad,
    ]
    for r, t, what in zip(
        ref.lstm_cell_backward(dh1, dc1, cache), expected, ["dx", "dh", "dc", "dW_ih", "dW_hh", "db_ih", "db_hh"]
    ):
        close(r, t.numpy(), what)


def test_gru_cell_reference_matches_torch():
    rng = np.random.default_rng(33)
    B, I, H = 3, 4, 5
    x, h = rng.standard_normal((B, I)), rng.standard_normal((B, H))
    ws = _weights(rng, 3, I, H, True)
    cell = torch.nn.GRUCell(I, H).double()
    with torch.no_grad():
        for p, a in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), ws):
            p.copy_(torch.tensor(a))
    xt, ht = (torch.tensor(a, requires_grad=True) for a in (x, h))
    h1 = cell(xt, ht)
    dh1 = rng.standard_normal((B, H))
    (h1 * torch.tensor(dh1)).sum().backward()
    h_r, cache = ref.gru_cell_forward(x, h, *ws)
    close(h_r, h1.detach().numpy(), "h'")
    expected = [xt.grad, ht.grad, cell.weight_ih.grad, cell.weight_hh.grad, cell.bias_ih.grad, cell.bias_hh.grad]
    for r, t, what in zip(
        ref.gru_cell_backward(dh1, cache), expected, ["dx", "dh", "dW_ih", "dW_hh", "db_ih", "db_hh"]
    ):
        close(r, t.numpy(), what)
