"""RNN, LSTM, GRU and their cells against torch.nn with copied weights (float64): outputs, final states
and gradients w.r.t. inputs, initial states and every parameter; 100-step sequences; state_dict layout
and default initialisation; dropout between layers; numerical gradient checks of the fused primitive;
bad-input errors."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepnotes as dn
from deepnotes import nn
from deepnotes.autograd import gradcheck
from deepnotes.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from deepnotes.ops.rnn import RNNLayerFn

import _oracle as oracle

RTOL, ATOL = 1e-6, 1e-9

LAYERS = {
    "rnn_tanh": (RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, torch.nn.LSTM, {}),
    "gru": (GRU, torch.nn.GRU, {}),
}
CELLS = {
    "rnn_tanh": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (GRUCell, torch.nn.GRUCell, {}),
}


def _close(a, b, what):
    oracle.assert_close(a, b, RTOL, ATOL, what=what)


def _pair(table, mode, *args, **kwargs):
    ours, theirs, extra = table[mode]
    tm = theirs(*args, **extra, **kwargs).double()
    m = ours(*args, **extra, **kwargs).double()
    m.load_state_dict(tm.state_dict())
    return m, tm


def _compare_params(m, tm):
    ours = dict(m.named_parameters())
    theirs = dict(tm.named_parameters())
    assert list(ours) == list(theirs)
    for k, tp in theirs.items():
        assert ours[k].grad is not None, k
        _close(ours[k].grad, tp.grad, f"grad of {k}")


def _run_layer(
    mode, T, B, I, H, L, bidirectional, batch_first, bias, give_state, unbatched, seed, dropout=0.0, train=True
):
    rng = np.random.default_rng(seed)
    m, tm = _pair(
        LAYERS,
        mode,
        I,
        H,
        num_layers=L,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dropout=dropout,
    )
    m.train(train)
    tm.train(train)
    D = 2 if bidirectional else 1
    if unbatched:
        x_shape, s_shape = (T, I), (L * D, H)
    else:
        x_shape = (B, T, I) if batch_first else (T, B, I)
        s_shape = (L * D, B, H)
    x = rng.standard_normal(x_shape)
    xd, xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    states_d, states_t = [], []
    if give_state:
        for _ in range(2 if mode == "lstm" else 1):
            s = rng.standard_normal(s_shape)
            states_d.append(dn.Tensor(s, requires_grad=True))
            states_t.append(torch.tensor(s, requires_grad=True))
    if mode == "lstm":
        args_d = (tuple(states_d),) if give_state else ()
        args_t = (tuple(states_t),) if give_state else ()
        y, (h, c) = m(xd, *args_d)
        yt, (ht, ct) = tm(xt, *args_t)
        outs = [(y, yt, "output"), (h, ht, "h_n"), (c, ct, "c_n")]
    else:
        y, h = m(xd, *states_d)
        yt, ht = tm(xt, *states_t)
        outs = [(y, yt, "output"), (h, ht, "h_n")]
    loss_d, loss_t = 0, 0
    for a, b, what in outs:
        _close(a.data, b, what)
        cot = rng.standard_normal(a.shape)
        loss_d = loss_d + (a * dn.Tensor(cot)).sum()
        loss_t = loss_t + (b * torch.tensor(cot)).sum()
    loss_d.backward()
    loss_t.backward()
    _close(xd.grad, xt.grad, "grad of input")
    for i, (sd, stt) in enumerate(zip(states_d, states_t)):
        _close(sd.grad, stt.grad, f"grad of initial state {i}")
    _compare_params(m, tm)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mode=st.sampled_from(sorted(LAYERS)),
    T=st.integers(1, 6),
    B=st.integers(1, 3),
    I=st.integers(1, 4),
    H=st.integers(1, 4),
    L=st.integers(1, 2),
    bidirectional=st.booleans(),
    batch_first=st.booleans(),
    bias=st.booleans(),
    give_state=st.booleans(),
    unbatched=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_layers_match_torch(mode, T, B, I, H, L, bidirectional, batch_first, bias, give_state, unbatched, seed):
    _run_layer(mode, T, B, I, H, L, bidirectional, batch_first, bias, give_state, unbatched, seed)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_long_sequence_two_layers_bidirectional(mode):
    _run_layer(
        mode,
        T=100,
        B=3,
        I=5,
        H=7,
        L=2,
        bidirectional=True,
        batch_first=False,
        bias=True,
        give_state=True,
        unbatched=False,
        seed=1,
    )


def test_rnn_relu_long_sequence_batch_first():
    _run_layer(
        "rnn_relu",
        T=100,
        B=2,
        I=3,
        H=4,
        L=2,
        bidirectional=True,
        batch_first=True,
        bias=False,
        give_state=False,
        unbatched=False,
        seed=2,
    )


@settings(max_examples=30, deadline=None)
@given(
    mode=st.sampled_from(sorted(CELLS)),
    B=st.integers(1, 3),
    I=st.integers(1, 4),
    H=st.integers(1, 4),
    bias=st.booleans(),
    give_state=st.booleans(),
    unbatched=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_cells_match_torch(mode, B, I, H, bias, give_state, unbatched, seed):
    rng = np.random.default_rng(seed)
    m, tm = _pair(CELLS, mode, I, H, bias=bias)
    x = rng.standard_normal((I,) if unbatched else (B, I))
    xd, xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    sd, stt = [], []
    if give_state:
        for _ in range(2 if mode == "lstm" else 1):
            s = rng.standard_normal((H,) if unbatched else (B, H))
            sd.append(dn.Tensor(s, requires_grad=True))
            stt.append(torch.tensor(s, requires_grad=True))
    if mode == "lstm":
        od = m(xd, tuple(sd)) if give_state else m(xd)
        ot = tm(xt, tuple(stt)) if give_state else tm(xt)
    else:
        od, ot = (m(xd, sd[0]), tm(xt, stt[0])) if give_state else (m(xd), tm(xt))
        od, ot = (od,), (ot,)
    loss_d, loss_t = 0, 0
    for a, b in zip(od, ot):
        _close(a.data, b, "cell output")
        cot = rng.standard_normal(a.shape)
        loss_d = loss_d + (a * dn.Tensor(cot)).sum()
        loss_t = loss_t + (b * torch.tensor(cot)).sum()
    loss_d.backward()
    loss_t.backward()
    _close(xd.grad, xt.grad, "grad of input")
    for a, b in zip(sd, stt):
        _close(a.grad, b.grad, "grad of state")
    _compare_params(m, tm)


def test_cell_loop_equals_layer():
    """An LSTMCell stepped over time computes what a one-layer LSTM with the same weights computes."""
    rng = np.random.default_rng(3)
    lstm = LSTM(3, 4).double()
    cell = LSTMCell(3, 4).double()
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = rng.standard_normal((6, 2, 3))
    y, (h, c) = lstm(dn.Tensor(x))
    state = None
    for t in range(6):
        state = cell(dn.Tensor(x[t]), state)
        np.testing.assert_allclose(state[0].data, y.data[t], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(state[1].data, c.data[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", sorted(LAYERS))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_primitive_gradcheck(mode, reverse, bias):
    rng = np.random.default_rng(4)
    T, B, I, H = 3, 2, 2, 2
    G = {"lstm": 4, "gru": 3}.get(mode, 1)
    shapes = [(T, B, I), (B, H)] + ([(B, H)] if mode == "lstm" else []) + [(G * H, I), (G * H, H)]
    if bias:
        shapes += [(G * H,), (G * H,)]
    inputs = [dn.Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    if mode == "rnn_relu":  # keep pre-activations away from the kink at 0
        inputs[0].data += 1.5 * np.sign(inputs[0].data)

    def fn(*args):
        return RNNLayerFn.apply(*args, mode=mode, reverse=reverse, has_bias=bias)

    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_primitive_skips_gradients_not_needed():
    rng = np.random.default_rng(5)
    lstm = LSTM(3, 4).double()
    x = dn.Tensor(rng.standard_normal((4, 2, 3)))  # no grad for the input
    y, _ = lstm(x)
    y.sum().backward()
    assert x.grad is None
    assert all(p.grad is not None for p in lstm.parameters())
    with dn.no_grad():
        y2, _ = lstm(x)
    assert not y2.requires_grad
    np.testing.assert_array_equal(y2.data, y.data)


# ----------------------------------------------------------------------------- layout and init
@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_state_dict_layout_matches_torch(mode):
    m, tm = _pair(LAYERS, mode, 3, 5, num_layers=3, bidirectional=True, bias=True)
    sd, tsd = m.state_dict(), tm.state_dict()
    assert list(sd) == list(tsd)
    for k in tsd:
        assert sd[k].shape == tuple(tsd[k].shape), k
    # a torch checkpoint loads and reproduces torch's forward (float32 too)
    m32 = LAYERS[mode][0](3, 5, num_layers=3, bidirectional=True, **LAYERS[mode][2])
    t32 = LAYERS[mode][1](3, 5, num_layers=3, bidirectional=True, **LAYERS[mode][2])
    m32.load_state_dict(t32.state_dict())
    x = np.random.default_rng(6).standard_normal((4, 2, 3)).astype(np.float32)
    y = m32(dn.Tensor(x))[0]
    assert y.data.dtype == np.float32
    np.testing.assert_allclose(y.data, t32(torch.tensor(x))[0].detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_cell_state_dict_layout_matches_torch(mode):
    m, tm = _pair(CELLS, mode, 3, 5, bias=True)
    assert [(k, v.shape) for k, v in m.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in tm.state_dict().items()
    ]


def test_default_init_is_torchs_uniform():
    H = 64
    dn.manual_seed(0)
    m = LSTM(32, H, num_layers=2, bidirectional=True)
    bound = 1 / math.sqrt(H)
    values = np.concatenate([p.data.ravel() for p in m.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    # U(-b, b): variance b^2 / 3, mean 0 (about 200k samples)
    assert abs(values.var() / (bound**2 / 3) - 1) < 0.02
    assert abs(values.mean()) < 0.01 * bound
    assert sum(p.data.size for p in m.parameters()) == sum(
        p.numel() for p in torch.nn.LSTM(32, H, num_layers=2, bidirectional=True).parameters()
    )
    # distinct draws per tensor, and reproducible under a seed
    assert not np.array_equal(m.weight_hh_l0.data, m.weight_hh_l0_reverse.data)
    dn.manual_seed(0)
    np.testing.assert_array_equal(LSTM(32, H, num_layers=2, bidirectional=True).weight_ih_l1.data, m.weight_ih_l1.data)


def test_repr_matches_torch():
    for args, kw in [
        ((3, 4), {}),
        ((3, 4), dict(num_layers=2, bias=False, batch_first=True, dropout=0.5)),
        ((3, 4), dict(bidirectional=True)),
    ]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert repr(GRU(*args, **kw)) == repr(torch.nn.GRU(*args, **kw))
            assert repr(LSTM(*args, **kw)) == repr(torch.nn.LSTM(*args, **kw))
    assert repr(LSTMCell(3, 4)) == repr(torch.nn.LSTMCell(3, 4))
    assert repr(RNNCell(3, 4, bias=False, nonlinearity="relu")) == repr(
        torch.nn.RNNCell(3, 4, bias=False, nonlinearity="relu")
    )


# ----------------------------------------------------------------------------- dropout between layers
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_dropout_one_zeroes_inputs_of_upper_layers_like_torch(mode):
    # p = 1 is deterministic: every layer above the first sees zeros, the output is not dropped
    _run_layer(
        mode,
        T=5,
        B=2,
        I=3,
        H=4,
        L=3,
        bidirectional=True,
        batch_first=False,
        bias=True,
        give_state=True,
        unbatched=False,
        seed=7,
        dropout=1.0,
    )


def test_dropout_off_in_eval_mode():
    _run_layer(
        "lstm",
        T=5,
        B=2,
        I=3,
        H=4,
        L=2,
        bidirectional=False,
        batch_first=False,
        bias=True,
        give_state=False,
        unbatched=False,
        seed=8,
        dropout=0.5,
        train=False,
    )


def test_dropout_half_is_random_in_training_only():
    dn.manual_seed(0)
    m = GRU(3, 8, num_layers=2, dropout=0.5).double()
    x = dn.Tensor(np.random.default_rng(9).standard_normal((4, 2, 3)))
    a, b = m(x)[0].data, m(x)[0].data
    assert not np.allclose(a, b)
    m.eval()
    np.testing.assert_array_equal(m(x)[0].data, m(x)[0].data)


def test_dropout_warning_for_one_layer():
    with pytest.warns(UserWarning, match="num_layers"):
        LSTM(3, 4, dropout=0.3)


# ----------------------------------------------------------------------------- edge cases and errors
def test_empty_batch_like_torch():
    m, tm = _pair(LAYERS, "lstm", 3, 4)
    y, (h, c) = m(dn.Tensor(np.zeros((5, 0, 3))))
    yt, (ht, ct) = tm(torch.zeros(5, 0, 3, dtype=torch.float64))
    assert y.shape == tuple(yt.shape) and h.shape == tuple(ht.shape) and c.shape == tuple(ct.shape)


def test_bad_hidden_state_shapes():
    lstm = LSTM(3, 4, num_layers=2)
    x = dn.zeros(5, 2, 3)
    good = dn.zeros(2, 2, 4)
    with pytest.raises(ValueError, match=r"LSTM: expected h_0 \(hx\[0\]\) of shape \(2, 2, 4\).*got \(1, 2, 4\)"):
        lstm(x, (dn.zeros(1, 2, 4), good))
    with pytest.raises(ValueError, match=r"c_0 \(hx\[1\]\) of shape \(2, 2, 4\).*got \(2, 3, 4\)"):
        lstm(x, (good, dn.zeros(2, 3, 4)))
    with pytest.raises(ValueError, match=r"batched 3-D input, h_0.*3-D"):
        lstm(x, (dn.zeros(2, 4), good))
    with pytest.raises(TypeError, match=r"LSTM: hx must be a tuple \(h_0, c_0\)"):
        lstm(x, good)
    gru = GRU(3, 4, bidirectional=True)
    with pytest.raises(ValueError, match=r"GRU: expected hx \(h_0\) of shape \(2, 2, 4\)"):
        gru(x, dn.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"unbatched 2-D input, hx \(h_0\) should also be 2-D"):
        gru(dn.zeros(5, 3), dn.zeros(2, 1, 4))
    with pytest.raises(ValueError, match=r"GRU: expected hx \(h_0\) of shape \(2, 4\).*got \(2, 5\)"):
        gru(dn.zeros(5, 3), dn.zeros(2, 5))
    with pytest.raises(TypeError, match="GRU: hx must be a tensor"):
        gru(x, (dn.zeros(2, 2, 4),))


def test_bad_cell_states():
    cell = GRUCell(3, 4)
    with pytest.raises(ValueError, match="GRUCell: input batch size 2 doesn't match hx batch size 3"):
        cell(dn.zeros(2, 3), dn.zeros(3, 4))
    with pytest.raises(ValueError, match="GRUCell: hx has inconsistent hidden_size: got 5, expected 4"):
        cell(dn.zeros(2, 3), dn.zeros(2, 5))
    with pytest.raises(ValueError, match="GRUCell: expected input to be 1-D"):
        cell(dn.zeros(2, 2, 3))
    with pytest.raises(ValueError, match=r"LSTMCell: hx\[1\] \(c\) has inconsistent hidden_size"):
        LSTMCell(3, 4)(dn.zeros(2, 3), (dn.zeros(2, 4), dn.zeros(2, 2)))
    with pytest.raises(ValueError, match="RNNCell: input has inconsistent input_size: got 2, expected 3"):
        RNNCell(3, 4)(dn.zeros(2, 2))


def test_bad_inputs_and_arguments():
    with pytest.raises(ValueError, match=r"LSTM: dropout should be a number in range \[0, 1\].*-0.1"):
        LSTM(3, 4, num_layers=2, dropout=-0.1)
    with pytest.raises(ValueError, match="GRU: dropout should be a number in range"):
        GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'sigmoid'"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="LSTM: hidden_size must be a positive int, got 0"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match="LSTM: num_layers must be a positive int"):
        LSTM(3, 4, num_layers=0)
    lstm = LSTM(3, 4)
    with pytest.raises(ValueError, match="LSTM: input.size\\(-1\\) must be equal to input_size; expected 3, got 5"):
        lstm(dn.zeros(2, 2, 5))
    with pytest.raises(ValueError, match="LSTM: expected a 2-D .* or 3-D input, got shape"):
        lstm(dn.zeros(2, 2, 2, 3))
    with pytest.raises(ValueError, match="sequence length larger than 0"):
        lstm(dn.zeros(0, 2, 3))
    with pytest.raises(TypeError, match="LSTM: input dtype float64 does not match the parameters' dtype float32"):
        lstm(dn.zeros(2, 2, 3, dtype=dn.float64))
    with pytest.raises(TypeError, match="LSTM: expected a floating-point input"):
        lstm(dn.zeros(2, 2, 3, dtype=dn.int64))


def test_public_exports():
    for name in ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]:
        assert getattr(nn, name) is globals()[name]
