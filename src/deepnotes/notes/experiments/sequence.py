"""Sequence models: how far back a plain RNN, an LSTM and a GRU can carry information."""
from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F

from . import experiment
from ..result import Check, Figure, Result, Table
from ._common import seeded, single_threaded

_CLAIM = ("A plain RNN cannot carry information over long sequences (vanishing/exploding gradients through "
          "the repeated product), while the LSTM's additive cell state (and the GRU's gates) can.")


def _first_token_data(rng, n, length):
    """A +-1 bit followed by ``length - 1`` zeros; the label is the bit (recall it after ``length`` steps)."""
    bits = rng.integers(0, 2, size=n)
    x = np.zeros((n, length, 1), dtype=np.float32)
    x[:, 0, 0] = 2.0 * bits - 1.0
    return x, bits.astype(np.int64)


class _Recall(nn.Module):
    def __init__(self, cell, hidden):
        super().__init__()
        self.rnn = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[cell](1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)
        if cell == "LSTM":  # the usual forget-gate bias of 1 (gates i, f, g, o): start by remembering
            self.rnn.bias_hh_l0.data[hidden:2 * hidden] = 1.0

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def _train_recall(cell, length, steps, rng, hidden=16, batch=32, lr=0.01):
    model = _Recall(cell, hidden)
    opt = dn.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x, y = _first_token_data(rng, batch, length)
        loss = F.cross_entropy(model(dn.tensor(x)), dn.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, y = _first_token_data(rng, 512, length)
    with dn.no_grad():
        pred = model(dn.tensor(x)).numpy().argmax(1)
    return float((pred == y).mean())


@experiment("rnn_vs_lstm_long_dependency", ids=["S000-07", "S000-09", "S002-42", "S002-53"], claim=_CLAIM)
@single_threaded
def rnn_vs_lstm_long_dependency(seed=0, quick=False):
    """Notes S000-07 / S000-09 / S002-42 / S002-53: a plain RNN forgets long-range information because its
    state is a repeated product, the LSTM's cell state is a sum and remembers.

    Measured: test accuracy (fresh sequences) of a plain tanh RNN, an LSTM (forget-gate bias 1) and a GRU
    (16 hidden units, Adam lr 0.01, batch 32, the same number of updates) asked to output, after ``T``
    steps, the +-1 bit seen at step 1 (the other steps are 0), for short and long ``T``.  Chance is 0.5.
    Checks: every cell solves the short task (> 0.9), the LSTM solves the long one (> 0.9), and the RNN
    trails the LSTM on the long one by more than 0.2.
    """
    rng = seeded(seed)
    lengths = [5, 20] if quick else [5, 20, 40]
    steps = 200 if quick else 300
    cells = ["RNN", "LSTM", "GRU"]
    acc = {(c, t): _train_recall(c, t, steps, rng) for t in lengths for c in cells}
    short, long_ = lengths[0], lengths[-1]
    rows = [[t] + [acc[(c, t)] for c in cells] for t in lengths]
    checks = [
        Check(f"lowest accuracy of the three cells at T={short}", min(acc[(c, short)] for c in cells), ">", 0.9),
        Check(f"LSTM accuracy at T={long_}", acc[("LSTM", long_)], ">", 0.9),
        Check(f"LSTM minus RNN accuracy at T={long_}", acc[("LSTM", long_)] - acc[("RNN", long_)], ">", 0.2),
    ]
    fig = Figure("accuracy_vs_length", "Recall the first bit after T steps", "sequence length T",
                 "test accuracy", {c: (lengths, [acc[(c, t)] for t in lengths]) for c in cells})
    return Result(experiment="rnn_vs_lstm_long_dependency", claim=_CLAIM, checks=checks,
                  tables=[Table("Test accuracy (chance 0.5)", ["T"] + cells, rows)], figures=[fig],
                  seeds=[seed], quick=quick,
                  notes=f"{steps} Adam updates (lr 0.01, batch 32) per cell and length; 16 hidden units.")
