"""Sequence models: how far back a plain RNN, an LSTM and a GRU can carry information."""

from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import mean_std, single_threaded

_CLAIM = (
    "A plain RNN cannot carry information over long sequences (vanishing/exploding gradients through "
    "the repeated product), while the LSTM's additive cell state (and the GRU's gates) can."
)

_CELLS = ("RNN", "LSTM", "GRU")
_VOCAB = 4  # one-hot tokens 0..3; the first token is 0 or 1 and is the label
_HIDDEN = 16
_BATCH = 64
_LR = 0.01  # the largest of 0.003 / 0.01 / 0.03 at which every cell learns T=10 (0.03: LSTM fails 2 of 3 seeds)
_TEST = 512
_LEAD = 0.05  # a gated cell "remembers further" when it leads the RNN by this much in every seed


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

    The task counts as learnable when every cell averages > 0.9 at the shortest ``T`` (4 in quick mode, 10
    in full mode); otherwise the result is "not measurable here".  Memory is then scored per seed as the
    mean accuracy over the longer lengths (12 in quick mode, with 200 updates; 20 and 40 in full mode,
    with 400 updates), i.e. the area under
    the accuracy-vs-T curve, so that a length where every cell is at chance does not decide the verdict on
    its own.  Checks, fixed before the run: the LSTM leads the plain RNN by at least 0.05 in every seed
    (value = the smallest lead over the three seeds, spread = standard deviation of the lead), and the same
    for the GRU.  An effect is called only when it holds in all seeds.

    Why this rule (issue 12): an earlier version compared the cells at the longest ``T`` only and also
    checked "RNN accuracy <= 0.7" there.  In full mode (``T`` = 60) every cell was at chance, so that check
    passed although no gated cell remembered anything, turning quick mode's "contradicts" into "partly".
    Comparing the lead over all lengths beyond the sanity length measures the claim itself (the gated
    cells remember further than the RNN) at both scales.

    Oracle: this module's training loop run with torch.nn.RNN/LSTM/GRU from the same initial weights and
    batches (float64, Adam) follows deepnotes' losses to 1e-14 over 400 updates, so what is measured is the
    training dynamics, not the engine.  The learning rate is the largest of 0.003 / 0.01 / 0.03 at which
    every cell learns T=10 in all seeds (at 0.03 the LSTM stays at chance in 2 of 3 seeds even at T=10).

    Outcome at this budget (200-400 updates), with every one of those learning rates: the LSTM and the GRU
    are never ahead of the plain RNN.  Quick mode (T=12, 200 updates): the RNN and the LSTM learn the recall
    in every seed, the GRU in 2 of 3 (no lead).  Full mode (400 updates): at T=20 the RNN learns it in 1 of
    3 seeds, the LSTM and the GRU in none; at T=40 all three are at chance (lead of the LSTM over the RNN
    -0.07 +- 0.11, of the GRU -0.07 +- 0.11).  Earlier runs at T=15 / 300 updates: RNN 3 of 3 seeds, GRU 2
    of 3, LSTM 0 of 3.  The LSTM with torch's default initialisation has its forget gate near 0.5, so the
    stored token and its gradient shrink by about 2^-T until the gate is learned, while Adam rescales the
    RNN's small gradients.  A forget-gate bias of 1 (Keras/TensorFlow's default), tried by hand with the
    same budget, made the LSTM learn T=15 in 3 of 3 seeds but still not T=30 (0 of 3), so it does not
    change the verdict.  The notes' claim is not supported at this budget; it may hold with far longer
    training, where the RNN's vanishing gradient matters more.
    """
    seeds = [seed, seed + 1, seed + 2]
    lengths = [4, 12] if quick else [10, 20, 40]
    steps = 200 if quick else 400
    acc = {(c, t): [_train_recall(c, t, steps, s) for s in seeds] for t in lengths for c in _CELLS}
    stats = {k: mean_std(v) for k, v in acc.items()}
    short, longer = lengths[0], lengths[1:]
    rows = [[t, c, stats[(c, t)][0], stats[(c, t)][1]] + acc[(c, t)] for t in lengths for c in _CELLS]
    table = Table(
        f"Test accuracy of first-token recall (chance 0.5), {steps} updates, seeds {seeds}",
        ["T", "cell", "mean accuracy", "std"] + [f"seed {s}" for s in seeds],
        rows,
    )
    # per seed: mean accuracy over the lengths beyond the sanity length (the area under accuracy-vs-T)
    memory = {c: [float(np.mean([acc[(c, t)][i] for t in longer])) for i in range(len(seeds))] for c in _CELLS}
    gaps = {c: [a - b for a, b in zip(memory[c], memory["RNN"])] for c in ("LSTM", "GRU")}
    span = f"T in {longer}"
    table2 = Table(
        f"Per seed: mean accuracy over {span}, and the gated cell's lead over the plain RNN",
        ["cell", "mean", "std"] + [f"seed {s}" for s in seeds],
        [[c, *mean_std(memory[c]), *memory[c]] for c in _CELLS]
        + [[f"{c} - RNN", *mean_std(gaps[c]), *gaps[c]] for c in ("LSTM", "GRU")],
    )
    fig = Figure(
        "accuracy_vs_length",
        "Recall the first token among distractors after T steps",
        "sequence length T",
        "mean test accuracy",
        {c: (lengths, [stats[(c, t)][0] for t in lengths]) for c in _CELLS},
    )
    notes = (
        f"{steps} Adam updates (lr {_LR}, batch {_BATCH}) per cell, length and seed; {_HIDDEN} hidden "
        f"units; torch's default initialisation."
    )
    result = Result(
        experiment="rnn_vs_lstm_long_dependency",
        claim=_CLAIM,
        tables=[table, table2],
        figures=[fig],
        seeds=seeds,
        quick=quick,
        notes=notes,
    )
    lowest = min(stats[(c, short)][0] for c in _CELLS)
    if lowest <= 0.9:
        result.not_measurable = (
            f"the task is not learned at the shortest length T={short} (lowest mean "
            f"accuracy {lowest:.3f} <= 0.9), so failures at longer T say nothing about memory"
        )
        return result
    result.checks = [
        Check(
            f"{c} minus RNN mean accuracy over {span}, smallest over seeds",
            min(gaps[c]),
            ">=",
            _LEAD,
            spread=mean_std(gaps[c])[1],
        )
        for c in ("LSTM", "GRU")
    ]
    return result
