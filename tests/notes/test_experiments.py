"""The experiments of issue #12: each runs in quick mode, and its verdict is re-derived here from the
measured values it returns (tables and checks), never compared with a stored string alone."""

import math

import numpy as np
import pytest

from deepnotes.notes.experiments import names, run
from deepnotes.notes.result import CONTRADICTS, PARTLY, SUPPORTS

from _notes import column, expected_verdict, quick

ISSUE_12 = [
    "sigmoid_vs_relu_gradients",
    "xavier_vs_he_variance",
    "zero_init_symmetry",
    "rnn_vs_lstm_long_dependency",
    "stacked_3x3_vs_5x5",
    "focal_loss_easy_negatives",
    "batchnorm_batch_size",
    "warmup_on_off",
    "label_smoothing_calibration",
    "softmax_overflow",
    "dropout_train_vs_eval",
    "gradient_clipping_exploding",
    "batch_size_convergence",
]


def test_all_issue_12_experiments_registered():
    assert set(ISSUE_12) <= set(names())


@pytest.mark.slow
@pytest.mark.parametrize("name", ISSUE_12)
def test_quick_run_is_consistent(name):
    r = quick(name)
    assert r.experiment == name and r.quick and r.checks and r.tables
    assert r.verdict == expected_verdict(r)
    for c in r.checks:
        assert math.isfinite(c.threshold)
    d = r.to_dict()
    assert d["verdict"] == r.verdict and len(d["checks"]) == len(r.checks)


def test_softmax_overflow_from_table():
    r = quick("softmax_overflow")
    t = r.tables[0]
    levels, bad, err = column(t, "logit level"), column(t, "naive non-finite share"), column(t, "deepnotes max error")
    assert bad[levels.index(1000.0)] == 1.0 and bad[levels.index(-1000.0)] == 1.0 and bad[levels.index(0.0)] == 0.0
    assert max(err) < 1e-6
    assert all(column(t, "deepnotes all finite"))
    assert r.verdict == SUPPORTS


def test_xavier_he_from_table():
    r = quick("xavier_vs_he_variance")
    xav, he = np.array(column(r.tables[0], "Xavier")), np.array(column(r.tables[0], "He"))
    factor = (xav[-1] / xav[0]) ** (1 / (len(xav) - 1))
    assert 0.4 <= factor <= 0.6
    assert 0.9 <= (he[-1] / he[0]) ** (1 / (len(he) - 1)) <= 1.1
    assert r.verdict == SUPPORTS


def test_sigmoid_relu_from_table():
    r = quick("sigmoid_vs_relu_gradients")
    t = r.tables[0]
    sig = column(t, "dL/dh sigmoid + Xavier")
    he = column(t, "dL/dh ReLU + He")
    xav = column(t, "dL/dh ReLU + Xavier")
    assert sig[0] / sig[-1] < 1e-2  # sigmoid: vanishing
    assert 0.1 < he[0] / he[-1] < 10  # ReLU + He: kept
    assert xav[0] / xav[-1] < 0.1  # ReLU with Xavier still vanishes: the claim is only partly true
    assert r.verdict == PARTLY


def test_zero_init_symmetry_from_table():
    r = quick("zero_init_symmetry")
    t = r.tables[0]
    spread = dict(zip(column(t, "init"), column(t, "spread layer 2")))
    acc = dict(zip(column(t, "init"), column(t, "test accuracy")))
    assert spread["zeros"] == 0 and spread["constant 0.1"] < 1e-4 and spread["random"] > 0.1
    assert acc["random"] - acc["constant 0.1"] > 0.3


def test_focal_from_table():
    r = quick("focal_loss_easy_negatives")
    t = r.tables[0]
    share = dict(zip(column(t, "loss"), column(t, "easy-negative gradient share")))
    assert share["focal, gamma 2"] < 0.5 * share["cross entropy"]


def test_batchnorm_from_table():
    r = quick("batchnorm_batch_size")
    t = r.tables[0]
    acc = dict(zip(column(t, "batch size"), column(t, "test accuracy")))
    assert acc[64] - acc[2] > 0.02
    assert r.verdict == SUPPORTS


def test_gradient_clipping_from_table():
    r = quick("gradient_clipping_exploding")
    rows = {row[0]: row for row in r.tables[0].rows}
    assert rows["none"][3] is False  # the unclipped run overflowed
    assert rows["clip_grad_norm_(1.0)"][2] < 0.5 * rows["clip_grad_norm_(1.0)"][1]
    before, after = r.tables[1].rows[0]
    assert after == pytest.approx(before)  # clipping never enlarges a small gradient
    assert r.verdict == PARTLY


def test_dropout_from_table():
    r = quick("dropout_train_vs_eval")
    train, ev = r.tables[0].rows
    assert abs(train[1] - 0.5) < 0.01 and abs(train[2] - 1) < 0.01
    assert ev[1] == 0 and ev[2] == 1


def test_batch_size_from_table():
    r = quick("batch_size_convergence")
    t = r.tables[0]
    same = {row[0]: row for row in t.rows if row[1] == "same"}
    assert same[512][2] / same[64][2] > 1.5  # fewer updates per epoch: slower per epoch
    assert same[512][4] < same[8][4]  # steadier mini-batch loss


@pytest.mark.slow
def test_determinism_under_seed():
    a = run("focal_loss_easy_negatives", seed=3, quick=True)
    b = run("focal_loss_easy_negatives", seed=3, quick=True)
    assert [c.value for c in a.checks] == [c.value for c in b.checks]
    assert a.tables[0].rows == b.tables[0].rows
    c = run("zero_init_symmetry", seed=1, quick=True)
    d = run("zero_init_symmetry", seed=1, quick=True)
    assert [x.value for x in c.checks] == [x.value for x in d.checks]


def test_label_smoothing_from_table():
    r = quick("label_smoothing_calibration")
    t = r.tables[0]
    by_eps = {row[0]: row for row in t.rows}
    conf, ece = t.columns.index("test confidence"), t.columns.index("test ECE")
    assert by_eps[0.1][conf] < by_eps[0.0][conf]  # smoothing lowers confidence
    ece_check = [c for c in r.checks if "ECE" in c.name][0]
    assert ece_check.passed == (by_eps[0.1][ece] < by_eps[0.0][ece])
    assert abs([c for c in r.checks if "optimum" in c.name][0].value) < 0.005


def test_rnn_lstm_from_table():
    r = quick("rnn_vs_lstm_long_dependency")
    t = r.tables[0]
    col = {c: t.columns.index(c) for c in ("T", "cell", "mean accuracy")}
    seed_cols = [i for i, c in enumerate(t.columns) if c.startswith("seed ")]
    assert len(seed_cols) == len(r.seeds) >= 3
    acc = {(row[col["T"]], row[col["cell"]]): [row[i] for i in seed_cols] for row in t.rows}
    for row in t.rows:
        assert row[col["mean accuracy"]] == pytest.approx(np.mean([row[i] for i in seed_cols]))
    lengths = sorted({k[0] for k in acc})
    short, longer = lengths[0], lengths[1:]
    assert longer
    learnable = min(np.mean(acc[(short, c)]) for c in ("RNN", "LSTM", "GRU")) > 0.9
    if not learnable:
        assert r.verdict == "not measurable here" and not r.checks
        return
    # memory per seed = mean accuracy over the lengths beyond the sanity length; a gated cell "remembers
    # further" only when it leads the RNN by >= 0.05 in every seed
    memory = {c: np.mean([acc[(t_, c)] for t_ in longer], axis=0) for c in ("RNN", "LSTM", "GRU")}
    lead = {c: memory[c] - memory["RNN"] for c in ("LSTM", "GRU")}
    assert len(r.checks) == 2
    for check, cell in zip(r.checks, ("LSTM", "GRU")):
        assert check.name.startswith(cell) and check.value == pytest.approx(lead[cell].min())
        assert check.threshold == 0.05 and check.relation == ">="
    holds = [lead["LSTM"].min() >= 0.05, lead["GRU"].min() >= 0.05]
    assert r.verdict == (SUPPORTS if all(holds) else CONTRADICTS if not any(holds) else PARTLY)
    # at this budget the plain RNN is never behind both gated cells on average (the measured outcome)
    assert memory["RNN"].mean() >= min(memory["LSTM"].mean(), memory["GRU"].mean())


def test_rnn_lstm_training_matches_torch():
    """The experiment's model and training loop, run in float64 from the same weights and batches with
    torch's RNN/LSTM/GRU and Adam, gives the same losses (the measurement is not an engine artefact)."""
    import torch

    import deepnotes as dn
    import deepnotes.nn.functional as F
    from deepnotes.notes.experiments import sequence as S

    for cell in ("RNN", "LSTM", "GRU"):
        dn.manual_seed(3)
        rng = np.random.default_rng(5)
        model = S._Recall(cell).to(np.float64)
        ref = getattr(torch.nn, cell)(S._VOCAB, S._HIDDEN, batch_first=True).double()
        head = torch.nn.Linear(S._HIDDEN, 2).double()
        with torch.no_grad():
            for name, p in ref.named_parameters():
                p.copy_(torch.from_numpy(getattr(model.rnn, name).data.copy()))
            for name, p in head.named_parameters():
                p.copy_(torch.from_numpy(getattr(model.head, name).data.copy()))
        opt = dn.optim.Adam(model.parameters(), lr=S._LR)
        ref_opt = torch.optim.Adam(list(ref.parameters()) + list(head.parameters()), lr=S._LR)
        for _ in range(15):
            x, y = S._recall_data(rng, 16, 12)
            x = x.astype(np.float64)
            loss = F.cross_entropy(model(dn.tensor(x)), dn.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            out, _ = ref(torch.from_numpy(x))
            ref_loss = torch.nn.functional.cross_entropy(head(out[:, -1]), torch.from_numpy(y))
            ref_opt.zero_grad()
            ref_loss.backward()
            ref_opt.step()
            assert loss.item() == pytest.approx(ref_loss.item(), abs=1e-12), cell
        with torch.no_grad():
            for name, p in ref.named_parameters():
                np.testing.assert_allclose(getattr(model.rnn, name).data, p.numpy(), atol=1e-12, err_msg=cell)


def test_stacked_and_warmup_checks_match_tables():
    r = quick("stacked_3x3_vs_5x5")
    rows = {row[0]: row for row in r.tables[0].rows}
    assert rows["two 3x3"][1] == rows["one 5x5"][1] == 5  # the same 5x5 receptive field
    assert rows["two 3x3"][2] / rows["one 5x5"][2] < 0.8  # 18C^2 + C vs 25C^2 + C
    w = quick("warmup_on_off")
    peak = {row[0]: row[1] for row in w.tables[0].rows}
    assert peak["warmup"] <= peak["no warmup"]  # warmup lowers the early peak a little
    assert w.verdict == CONTRADICTS  # ... by less than 20%, and accuracy does not improve
