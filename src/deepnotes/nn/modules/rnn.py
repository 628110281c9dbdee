"""Recurrent layers: RNN, LSTM, GRU (multi-layer, bidirectional) and their single-step cells.

Parameter names, shapes, gate order and default initialisation are torch's, so a torch state_dict loads
unchanged.  For layer k (suffix ``_reverse`` for the backward direction of a bidirectional layer):
``weight_ih_l{k}`` (G*hidden, input or D*hidden), ``weight_hh_l{k}`` (G*hidden, hidden), ``bias_ih_l{k}``,
``bias_hh_l{k}`` (G*hidden,), with G = 1 (RNN), 4 (LSTM, gates i, f, g, o) or 3 (GRU, gates r, z, n).
Every value starts U(-1/sqrt(hidden), 1/sqrt(hidden)).

Each layer and direction runs as one fused primitive (``deepnotes.ops.rnn.RNNLayerFn``): the input
projection of all time steps is one matrix product, the time loop does only the recurrent part, and
back-propagation through time is written out by hand.
"""

import math
import numbers
import warnings

import numpy as np

from ...ops.rnn import GATES, rnn_layer
from ...tensor import Tensor, cat, get_default_dtype, stack, zeros
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ._utils import check_device, layer_input
from .module import Module


def _positive_int(value, label, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name}: {label} must be a positive int, got {value!r}")
    return int(value)


def _nonnegative_int(value, label, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}: {label} must be a non-negative int, got {value!r}")
    return int(value)


def _state_tensor(h, label, name):
    if not isinstance(h, Tensor):
        try:
            h = Tensor(h)
        except TypeError:
            raise TypeError(f"{name}: expected {label} to be a Tensor, got {type(h).__name__}") from None
    if h.data.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point {label}, got dtype {h.data.dtype}")
    return h


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU (torch's ``nn.RNNBase``).

    ``mode`` is 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'.  Input (T, N, input_size), or (N, T, input_size)
    with ``batch_first``, or unbatched (T, input_size); initial states (num_layers * D, N, hidden_size)
    (unbatched: (num_layers * D, hidden_size)), zeros when omitted; D = 2 if bidirectional else 1.
    """

    _MODES = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "LSTM": "lstm", "GRU": "gru"}

    def __init__(
        self,
        mode,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        check_device(device, name)
        if mode not in self._MODES:
            raise ValueError(f"{name}: unknown mode {mode!r}; expected one of {sorted(self._MODES)}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(
                f"{name}: dropout should be a number in range [0, 1] representing the "
                f"probability of an element being zeroed, got {dropout!r}"
            )
        input_size = _nonnegative_int(input_size, "input_size", name)
        hidden_size = _positive_int(hidden_size, "hidden_size", name)
        num_layers = _positive_int(num_layers, "num_layers", name)
        if proj_size != 0:
            raise NotImplementedError(
                f"{name}: proj_size={proj_size!r} (LSTM with projections) is not supported; expected proj_size=0"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout is applied after all but the last recurrent layer, so a "
                f"non-zero dropout expects num_layers greater than 1, but got dropout={dropout} "
                f"and num_layers={num_layers}",
                stacklevel=3,
            )
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.proj_size = bool(bidirectional), 0
        dtype = dtype or get_default_dtype()
        gate_size = GATES[self._MODES[mode]] * hidden_size
        D = 2 if bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * D
            for direction in range(D):
                suffix = "_reverse" if direction == 1 else ""
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                shapes = [(gate_size, layer_input_size), (gate_size, hidden_size)]
                if bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    shapes += [(gate_size,), (gate_size,)]
                for n, s in zip(names, shapes):
                    setattr(self, n, Parameter(np.empty(s, dtype=dtype)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _name(self):
        return type(self).__name__

    def reset_parameters(self):
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) (torch's default)."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for n in self._flat_weights_names:
            init.uniform_(getattr(self, n), -stdv, stdv)

    def flatten_parameters(self):
        """No-op (kept for torch compatibility: parameters here are always usable as they are)."""

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------------ forward helpers
    def _prepare_input(self, input):
        name = self._name
        x = layer_input(input, name)
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: expected a 2-D (unbatched: T, input_size) or 3-D input, got shape {x.shape}")
        batched = x.ndim == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input.size(-1) must be equal to input_size; expected "
                f"{self.input_size}, got {x.shape[-1]} (input shape {tuple(input.shape)})"
            )
        if x.shape[0] == 0:
            raise ValueError(f"{name}: expected a sequence length larger than 0, got input shape {tuple(input.shape)}")
        pdt = self._flat_weights[0].data.dtype
        if x.data.dtype != pdt:
            raise TypeError(
                f"{name}: input dtype {x.data.dtype} does not match the parameters' dtype {pdt}; "
                f"convert the input (e.g. .to({pdt.name})) or the module (.to(...))"
            )
        return x, batched

    def _prepare_state(self, h, label, batched, B, dtype):
        """A (L*D, B, H) initial state (zeros when ``h`` is None), checked against torch's rules."""
        name = self._name
        LD = self.num_layers * (2 if self.bidirectional else 1)
        H = self.hidden_size
        if h is None:
            return zeros(LD, B, H, dtype=dtype)
        h = _state_tensor(h, label, name)
        want_dim = 3 if batched else 2
        if h.ndim != want_dim:
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise ValueError(
                f"{name}: for {kind} input, {label} should also be {want_dim}-D, got a "
                f"{h.ndim}-D tensor of shape {h.shape}"
            )
        if not batched:
            h = h.unsqueeze(1)
        if h.shape != (LD, B, H):
            expected = (LD, B, H) if batched else (LD, H)
            got = h.shape if batched else (h.shape[0], h.shape[2])
            raise ValueError(
                f"{name}: expected {label} of shape {expected} (num_layers * num_directions, "
                f"batch, hidden_size), got {got}"
            )
        if h.data.dtype != dtype:
            raise TypeError(f"{name}: {label} dtype {h.data.dtype} does not match the input dtype {dtype}")
        return h

    def _run(self, x, h0, c0):
        """All layers and directions on time-major x; returns output (T, B, D*H), h_n, c_n."""
        mode = self._MODES[self.mode]
        D = 2 if self.bidirectional else 1
        hns, cns = [], []
        inp = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                weights = [getattr(self, n) for n in self._all_weights[k]]
                out, hn, cn = rnn_layer(
                    inp, h0[k], c0[k] if c0 is not None else None, *weights, mode=mode, reverse=d == 1
                )
                outs.append(out)
                hns.append(hn)
                cns.append(cn)
            inp = outs[0] if D == 1 else cat(outs, dim=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                inp = F.dropout(inp, self.dropout, True)
        h_n = stack(hns, dim=0)
        c_n = stack(cns, dim=0) if c0 is not None else None
        return inp, h_n, c_n

    def _finish(self, output, states, batched):
        if not batched:
            return output.squeeze(1), tuple(s.squeeze(1) for s in states)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, states

    def forward(self, input, hx=None):
        x, batched = self._prepare_input(input)
        if self.mode == "LSTM":
            if hx is None:
                h0 = c0 = None
            else:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0) of two tensors, got {type(hx).__name__}")
                h0, c0 = hx
            h0 = self._prepare_state(h0, "h_0 (hx[0])", batched, x.shape[1], x.data.dtype)
            c0 = self._prepare_state(c0, "c_0 (hx[1])", batched, x.shape[1], x.data.dtype)
            output, h_n, c_n = self._run(x, h0, c0)
            output, (h_n, c_n) = self._finish(output, (h_n, c_n), batched)
            return output, (h_n, c_n)
        if isinstance(hx, (tuple, list)):
            raise TypeError(f"{self._name}: hx must be a tensor h_0, got a {type(hx).__name__}")
        h0 = self._prepare_state(hx, "hx (h_0)", batched, x.shape[1], x.data.dtype)
        output, h_n, _ = self._run(x, h0, None)
        output, (h_n,) = self._finish(output, (h_n,), batched)
        return output, h_n


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)``.  Returns (output (T, N, D*H), h_n (num_layers*D, N, H)).
    A deep product of W_hh Jacobians is what makes plain RNNs forget long dependencies (seed 000).
    """

    def __init__(self, *args, **kwargs):
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if len(args) > 3:  # torch's positional order: input_size, hidden_size, num_layers, nonlinearity
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory (seed 000's gates; torch's stacking i, f, g, o):

        i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
        f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)       candidate cell C~_t
        o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
        C_t = f_t * C_{t-1} + i_t * C~_t                         (a sum, not a product: seed 000)
        h_t = o_t * tanh(C_t)

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``; ``forward(input, (h_0, c_0)=None)`` returns
    (output (T, N, D*H), (h_n, c_n) each (num_layers*D, N, H)).
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit (torch's equations, gates stacked r, z, n):

        r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)      reset gate
        z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)      update gate
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Same arguments and shapes as ``RNN``; returns (output, h_n).
    """

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


# ---------------------------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """One time step: weight_ih (G*hidden, input), weight_hh (G*hidden, hidden), bias_ih, bias_hh."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        check_device(device, name)
        self.input_size = _nonnegative_int(input_size, "input_size", name)
        self.hidden_size = _positive_int(hidden_size, "hidden_size", name)
        self.bias = bool(bias)
        dtype = dtype or get_default_dtype()
        G = num_chunks * hidden_size
        self.weight_ih = Parameter(np.empty((G, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((G, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(np.empty(G, dtype=dtype))
            self.bias_hh = Parameter(np.empty(G, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _input(self, input):
        name = type(self).__name__
        x = layer_input(input, name)
        if x.ndim not in (1, 2):
            raise ValueError(
                f"{name}: expected input to be 1-D (input_size,) or 2-D (batch, input_size), "
                f"got {x.ndim}-D shape {x.shape}"
            )
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
        if x.shape[1] != self.input_size:
            raise ValueError(f"{name}: input has inconsistent input_size: got {x.shape[1]}, expected {self.input_size}")
        if x.data.dtype != self.weight_ih.data.dtype:
            raise TypeError(
                f"{name}: input dtype {x.data.dtype} does not match the parameters' dtype {self.weight_ih.data.dtype}"
            )
        return x, batched

    def _state(self, h, label, batched, B, dtype):
        name = type(self).__name__
        if h is None:
            return zeros(B, self.hidden_size, dtype=dtype)
        h = _state_tensor(h, label, name)
        if h.ndim != (2 if batched else 1):
            raise ValueError(
                f"{name}: {label} must be {'2-D (batch, hidden_size)' if batched else '1-D'} "
                f"like the input, got shape {h.shape}"
            )
        if not batched:
            h = h.unsqueeze(0)
        if h.shape[0] != B:
            raise ValueError(f"{name}: input batch size {B} doesn't match {label} batch size {h.shape[0]}")
        if h.shape[1] != self.hidden_size:
            raise ValueError(
                f"{name}: {label} has inconsistent hidden_size: got {h.shape[1]}, expected {self.hidden_size}"
            )
        if h.data.dtype != dtype:
            raise TypeError(f"{name}: {label} dtype {h.data.dtype} does not match the input dtype {dtype}")
        return h

    def _step(self, x, h, c, mode):
        weights = [self.weight_ih, self.weight_hh]
        if self.bias:
            weights += [self.bias_ih, self.bias_hh]
        _, hn, cn = rnn_layer(x.unsqueeze(0), h, c, *weights, mode=mode)
        return hn, cn


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh); input (N, input_size) or (input_size,), hx like it."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        h = self._state(hx, "hx", batched, x.shape[0], x.data.dtype)
        hn, _ = self._step(x, h, None, "rnn_tanh" if self.nonlinearity == "tanh" else "rnn_relu")
        return hn if batched else hn.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates as in ``LSTM``); ``forward(input, (h, c)=None) -> (h', c')``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        if hx is None:
            h = c = None
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTMCell: hx must be a tuple (h, c) of two tensors, got {type(hx).__name__}")
            h, c = hx
        h = self._state(h, "hx[0] (h)", batched, x.shape[0], x.data.dtype)
        c = self._state(c, "hx[1] (c)", batched, x.shape[0], x.data.dtype)
        hn, cn = self._step(x, h, c, "lstm")
        return (hn, cn) if batched else (hn.squeeze(0), cn.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (gates as in ``GRU``); ``forward(input, hx=None) -> h'``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        h = self._state(hx, "hx", batched, x.shape[0], x.data.dtype)
        hn, _ = self._step(x, h, None, "gru")
        return hn if batched else hn.squeeze(0)


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
