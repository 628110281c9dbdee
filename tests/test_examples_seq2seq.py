"""examples/seq2seq_reverse.py: the GRU encoder / additive-attention decoder learns to reverse digit
strings it has never seen (exact match of greedy decoding >= 95%)."""

import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "seq2seq_reverse.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("seq2seq_reverse", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_batches_exclude_held_out_strings(example):
    rng = np.random.default_rng(0)
    banned = example._codes(np.arange(9)[:, None])  # every 1-digit string but "9"
    assert np.all(example.sample_batch(rng, 1, 50, banned) == 9)
    test_set = example.make_test_set(rng, (5, 6), 40)
    for n, seqs in test_set.items():
        batch = example.sample_batch(rng, n, 2000, example._codes(seqs))
        assert not np.isin(example._codes(batch), example._codes(seqs)).any()


def test_targets_are_reversed_strings(example):
    src = np.array([[1, 2, 3, 4, 5]])
    tgt_in, tgt_out = example.targets(src)
    assert tgt_in.tolist() == [[example.START, 5, 4, 3, 2, 1]]
    assert tgt_out.tolist() == [[5, 4, 3, 2, 1, example.END]]


def test_seq2seq_reverse_reaches_95_percent(example):
    acc = example.main(seed=0)
    assert acc >= 0.95, f"held-out exact-match accuracy {acc:.3f} < 0.95"
