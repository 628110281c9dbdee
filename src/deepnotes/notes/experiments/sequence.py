"""Sequence models: how far back a plain RNN, an LSTM and a GRU can carry information."""
from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F

from . import experiment
from ..result import Check, Figure, Result, Table
from ._common import mean_std, single_threaded

_CLAIM = ("A plain RNN cannot carry information over long sequences (vanishing/exploding gradients through "
          "the repeated product), while the LSTM's additive cell state (and the GRU's gates) can.")

_CELLS = ("RNN", "LSTM", "GRU")
_VOCAB = 4          # one-hot tokens 0..3; the first token is 0 or 1 and is the label
_HIDDEN = 16
_BATCH = 64
_LR = 0.01        # the largest of 0.003 / 0.01 / 0.03 at which every cell learns T=10 (0.03: LSTM fails 2 of 3 seeds)
_TEST = 512


def _recall_data(rng, n, length):
    """Token sequences of ``length`` one-hot vectors: the first token is 0 or 1 (the label), the other
    ``length - 1`` are distractors drawn uniformly from all four tokens (so later 0s and 1s look exactly like
    the one to recall, and only the position tells them apart)."""
    tokens = rng.integers(0, _VOCAB, size=(n, length))
    labels = rng.integers(0, 2, size=n)
    tokens[:, 0] = labels
    return np.eye(_VOCAB, dtype=np.float32)[tokens], labels.astype(np.int64)


class _Recall(nn.Module):
    """A one-layer recurrent cell (torch's default initialisation) and a linear read-out of its last state."""

    def __init__(self, cell):
        super().__init__()
        self.rnn = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[cell](_VOCAB, _HIDDEN, batch_first=True)
        self.head = nn.Linear(_HIDDEN, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def _train_recall(cell, length, steps, seed):
    """Test accuracy (fresh sequences) after ``steps`` Adam updates.  For one seed and length every cell
    sees the same training batches and test set; the initial weights come from the seeded global generator."""
    dn.manual_seed(int(seed))
    rng = np.random.default_rng([int(seed), 12, int(length)])
    model = _Recall(cell)
    opt = dn.optim.Adam(model.parameters(), lr=_LR)
    for _ in range(steps):
        x, y = _recall_data(rng, _BATCH, length)
        loss = F.cross_entropy(model(dn.tensor(x)), dn.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, y = _recall_data(rng, _TEST, length)
    with dn.no_grad():
        pred = model(dn.tensor(x)).numpy().argmax(1)
    return float((pred == y).mean())


@experiment("rnn_vs_lstm_long_dependency", ids=["S000-07", "S000-09", "S002-42", "S002-53"], claim=_CLAIM)
@single_threaded
def rnn_vs_lstm_long_dependency(seed=0, quick=False):
    """Notes S000-07 / S000-09 / S002-42 / S002-53: a plain RNN forgets long-range information because its
    state is a repeated product, the LSTM's cell state is a sum and remembers.

    Measured: recall the first token among distractors.  Each sequence has ``T`` one-hot tokens from a
    vocabulary of 4; the first is 0 or 1 and is the label, the other ``T - 1`` are uniform over all four
    tokens, so the cell must keep the first token and ignore identical-looking later ones.  A tanh RNN, an
    LSTM and a GRU (16 hidden units, torch's default initialisation: no forget-gate bias) each get the same
    budget: the same Adam learning rate (0.01), batch 64 and number of updates, and for one seed and ``T``
    the same batches.  Accuracy on 512 fresh sequences (chance 0.5), three seeds.

    The task counts as learnable when every cell averages > 0.9 at the shortest ``T``; otherwise the result
    is "not measurable here".  Checks, fixed before the run, at the longest ``T`` (means over seeds, spread
    = standard deviation over seeds): LSTM minus RNN accuracy >= 0.2, GRU minus RNN >= 0.2, and RNN accuracy
    <= 0.7.

    Oracle: this module's training loop run with torch.nn.RNN/LSTM/GRU from the same initial weights and
    batches (float64, Adam) follows deepnotes' losses to 1e-14 over 400 updates, so what is measured is the
    training dynamics, not the engine.  The learning rate is the largest of 0.003 / 0.01 / 0.03 at which
    every cell learns T=10 in all seeds (at 0.03 the LSTM stays at chance in 2 of 3 seeds even at T=10).

    Outcome at this budget (400 updates, T up to 60), with every one of those learning rates: the LSTM is
    never ahead of the plain RNN.  At T=30 and 60 all three cells are mostly at chance; where anything learns
    the long recall it is the RNN (and, at 0.03, the GRU), while the LSTM with the default initialisation
    stays at chance (its forget gate starts near 0.5, so the stored token and its gradient shrink by about
    2^-T until the gate is learned, while Adam rescales the RNN's small gradients).  The notes' claim is not
    supported here; it may hold with far longer training, where the RNN's vanishing gradient matters more.
    """
    seeds = [seed, seed + 1, seed + 2]
    lengths = [5, 15] if quick else [10, 30, 60]
    steps = 300 if quick else 400
    acc = {(c, t): [_train_recall(c, t, steps, s) for s in seeds] for t in lengths for c in _CELLS}
    stats = {k: mean_std(v) for k, v in acc.items()}
    short, long_ = lengths[0], lengths[-1]
    rows = [[t, c, stats[(c, t)][0], stats[(c, t)][1]] + acc[(c, t)] for t in lengths for c in _CELLS]
    table = Table(f"Test accuracy of first-token recall (chance 0.5), {steps} updates, seeds {seeds}",
                  ["T", "cell", "mean accuracy", "std"] + [f"seed {s}" for s in seeds], rows)
    fig = Figure("accuracy_vs_length", "Recall the first token among distractors after T steps",
                 "sequence length T", "mean test accuracy",
                 {c: (lengths, [stats[(c, t)][0] for t in lengths]) for c in _CELLS})
    notes = (f"{steps} Adam updates (lr {_LR}, batch {_BATCH}) per cell, length and seed; {_HIDDEN} hidden "
             f"units; torch's default initialisation.")
    result = Result(experiment="rnn_vs_lstm_long_dependency", claim=_CLAIM, tables=[table], figures=[fig],
                    seeds=seeds, quick=quick, notes=notes)
    lowest = min(stats[(c, short)][0] for c in _CELLS)
    if lowest <= 0.9:
        result.not_measurable = (f"the task is not learned at the shortest length T={short} (lowest mean "
                                 f"accuracy {lowest:.3f} <= 0.9), so failures at longer T say nothing about memory")
        return result
    gaps = {c: mean_std([a - b for a, b in zip(acc[(c, long_)], acc[("RNN", long_)])]) for c in ("LSTM", "GRU")}
    result.checks = [
        Check(f"LSTM minus RNN mean accuracy at T={long_}", gaps["LSTM"][0], ">=", 0.2, spread=gaps["LSTM"][1]),
        Check(f"GRU minus RNN mean accuracy at T={long_}", gaps["GRU"][0], ">=", 0.2, spread=gaps["GRU"][1]),
        Check(f"RNN mean accuracy at T={long_}", stats[("RNN", long_)][0], "<=", 0.7,
              spread=stats[("RNN", long_)][1]),
    ]
    return result
