"""Sequence to sequence with attention: learn to reverse digit strings.

Seed 002 ("what is a seq2seq model"): an encoder-decoder built from two RNNs; the encoder compresses the
input sequence, the decoder generates the output sequence from it.  Seed 002 ("attention"): the decoder
gives every input position a weight by comparing it with its own hidden state, and reads the weighted
sum of the encoder states.

Model (all deepnotes):

* encoder: digit embedding -> bidirectional ``nn.GRU``; its final states, through a Linear + tanh,
  start the decoder;
* decoder: token embedding -> ``nn.GRU`` (teacher forcing: the whole target shifted right by a start
  token runs as one fused sequence) -> ``nn.AdditiveAttention`` (Bahdanau's score
  v^T tanh(W_q s_t + W_k h_j)) over the encoder states -> Linear on [s_t, context_t] -> next token
  (a digit or the end token).  Attention is applied after the decoder RNN (Luong's placement), so
  training needs no Python loop over output steps; greedy decoding runs step by step.

Data: strings of 5-8 digits, one length per batch, never any of the held-out test strings.  Accuracy is
the exact-match rate of greedy decoding (every digit right and the end token in the right place).

Run: ``PYTHONPATH=src python examples/seq2seq_reverse.py [--steps 800] [--seed 0]`` (about 20 s on one core).
"""

import argparse
import contextlib
import time

import numpy as np

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn, optim
from deepnotes.nn.utils import clip_grad_norm_

try:  # optional: tiny matrix products run fastest on one BLAS thread, above all on a busy machine
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

DIGITS = 10
START = 10  # decoder input vocabulary: digits + start token
END = 10  # output classes: digits + end token


def _one_hot(tokens, n, dtype=np.float32):
    """(N, T) integer tokens -> (T, N, n) one-hot, time-major for the recurrent layers."""
    return dn.Tensor(np.eye(n, dtype=dtype)[tokens.T])


class Seq2Seq(nn.Module):
    """Bidirectional GRU encoder, GRU decoder with additive attention."""

    def __init__(self, hidden=64, embed=16):
        super().__init__()
        self.src_embed = nn.Linear(DIGITS, embed, bias=False)  # one-hot @ W^T is an embedding lookup
        self.encoder = nn.GRU(embed, hidden, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.tgt_embed = nn.Linear(DIGITS + 1, embed, bias=False)
        self.decoder = nn.GRU(embed, hidden)
        self.attention = nn.AdditiveAttention(hidden, 2 * hidden, hidden)
        self.out = nn.Linear(3 * hidden, END + 1)

    def encode(self, src):
        """src (N, T) digits -> keys (N, T, 2H) and the decoder's initial state (1, N, H)."""
        enc, h_n = self.encoder(self.src_embed(_one_hot(src, DIGITS)))
        h0 = self.bridge(dn.cat([h_n[0], h_n[1]], dim=-1)).tanh()
        return enc.transpose(0, 1), h0.unsqueeze(0)

    def step_logits(self, states, keys):
        """Decoder states (N, L, H) -> logits (N, L, classes) through attention over ``keys``."""
        context, _ = self.attention(states, keys)
        return self.out(dn.cat([states, context], dim=-1))

    def forward(self, src, tgt_in):
        """Teacher-forced logits (N, T + 1, classes) for decoder inputs tgt_in (N, T + 1)."""
        keys, h0 = self.encode(src)
        states, _ = self.decoder(self.tgt_embed(_one_hot(tgt_in, DIGITS + 1)), h0)
        return self.step_logits(states.transpose(0, 1), keys)

    @dn.no_grad()
    def greedy(self, src, max_len):
        """Greedy decoding: (N, max_len + 1) predicted tokens (digits, then END)."""
        keys, h = self.encode(src)
        N = src.shape[0]
        token = np.full((N, 1), START)
        out = []
        for _ in range(max_len + 1):
            s, h = self.decoder(self.tgt_embed(_one_hot(token, DIGITS + 1)), h)
            logits = self.step_logits(s.transpose(0, 1), keys)  # (N, 1, classes)
            token = logits.data.argmax(-1)
            out.append(token[:, 0])
        return np.stack(out, axis=1)


def _codes(seqs):
    """Each digit string as one integer (its length is implied by its batch)."""
    return seqs @ (10 ** np.arange(seqs.shape[1], dtype=np.int64))


def make_test_set(rng, lengths, per_length):
    return {n: np.unique(rng.integers(0, DIGITS, size=(per_length, n)), axis=0) for n in lengths}


def sample_batch(rng, n, batch, banned):
    """``batch`` random digit strings of length n, none of them in the set ``banned``."""
    seqs = rng.integers(0, DIGITS, size=(batch, n))
    bad = np.isin(_codes(seqs), banned)
    while bad.any():
        seqs[bad] = rng.integers(0, DIGITS, size=(int(bad.sum()), n))
        bad = np.isin(_codes(seqs), banned)
    return seqs


def targets(src):
    """Decoder inputs [START, reversed...] and outputs [reversed..., END] for src (N, T)."""
    rev = src[:, ::-1]
    N = src.shape[0]
    tgt_in = np.concatenate([np.full((N, 1), START), rev], axis=1)
    tgt_out = np.concatenate([rev, np.full((N, 1), END)], axis=1)
    return tgt_in, tgt_out


def exact_match(model, test_set):
    """Fraction of test strings whose greedy decoding is exactly the reversed string followed by END."""
    model.eval()
    right = total = 0
    for n, src in test_set.items():
        pred = model.greedy(src, max_len=max(test_set))
        _, want = targets(src)
        right += int(np.all(pred[:, : n + 1] == want, axis=1).sum())
        total += len(src)
    model.train()
    return right / total


def main(
    seed=0,
    steps=800,
    batch=64,
    hidden=64,
    lr=5e-3,
    lengths=(5, 6, 7, 8),
    test_per_length=250,
    verbose=False,
    blas_threads=1,
):
    """Train on random digit strings and return the exact-match accuracy on held-out strings.

    Adam with a cosine-annealed learning rate and gradient clipping at norm 1.  ``blas_threads`` caps
    the BLAS thread pool while training (needs threadpoolctl; None leaves it alone).
    """
    limit = threadpool_limits if threadpool_limits is not None and blas_threads else None
    with limit(blas_threads) if limit else contextlib.nullcontext():
        return _train(seed, steps, batch, hidden, lr, lengths, test_per_length, verbose)


def _train(seed, steps, batch, hidden, lr, lengths, test_per_length, verbose):
    dn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    test_set = make_test_set(np.random.default_rng(seed + 12345), lengths, test_per_length)
    banned = {n: _codes(s) for n, s in test_set.items()}
    model = Seq2Seq(hidden=hidden)
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)  # decays to 0: a stable final model
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        n = int(rng.choice(lengths))
        src = sample_batch(rng, n, batch, banned[n])
        tgt_in, tgt_out = targets(src)
        logits = model(src, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, END + 1), dn.Tensor(tgt_out.reshape(-1)))
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if verbose and (step % 100 == 0 or step == steps):
            print(f"step {step:4d}  loss {loss.item():.4f}  {time.perf_counter() - t0:5.1f}s", flush=True)
    acc = exact_match(model, test_set)
    if verbose:
        print(
            f"held-out exact-match accuracy: {acc:.4f} over {sum(len(s) for s in test_set.values())} "
            f"strings ({time.perf_counter() - t0:.1f}s)"
        )
    return acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-3)
    args = parser.parse_args()
    main(seed=args.seed, steps=args.steps, batch=args.batch, hidden=args.hidden, lr=args.lr, verbose=True)
