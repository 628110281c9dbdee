"""Issue 10: the training loop is honest (validation, not test, for model selection; patience as in
Keras/Lightning) and safe (non-finite losses, crash-consistent history, progress bars in logs)."""

import csv
import json
import math

import numpy as np
import pytest

import deepnotes as dn
from deepnotes import data, io, nn, optim
from deepnotes.train import (
    EarlyStopping,
    NonFiniteLossError,
    Trainer,
    build_scheduler,
    resume_scheduler,
    split_validation,
)
from deepnotes.train import trainer as trainer_module


def _toy(seed=0, n=64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return data.TensorDataset(x, y)


def _trainer(lr=0.1, seed=0, **kw):
    dn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    kw.setdefault("progress", False)
    kw.setdefault("log", None)
    return Trainer(model, opt, data.DataLoader(_toy(), batch_size=16, shuffle=True), **kw)


class _Counting:
    """A loader that counts how often it is iterated."""

    def __init__(self, loader):
        self.loader, self.passes = loader, 0

    def __iter__(self):
        self.passes += 1
        return iter(self.loader)

    def __len__(self):
        return len(self.loader)


def _weights(t):
    return {k: v.data.copy() for k, v in t.model.state_dict().items()}


# ----------------------------------------------------------------------------- validation vs test
def test_split_validation_fraction_count_and_seed():
    ds = _toy(n=50)
    train, val = split_validation(ds, 0.1, seed=3)
    assert (len(train), len(val)) == (45, 5)
    assert sorted(list(train.indices) + list(val.indices)) == list(range(50))
    assert list(split_validation(ds, 0.1, seed=3)[1].indices) == list(val.indices)
    assert list(split_validation(ds, 0.1, seed=4)[1].indices) != list(val.indices)
    assert len(split_validation(ds, 7)[1]) == 7
    assert split_validation(ds, 0) == (ds, None)
    for bad in (50, 1.5, -1):
        with pytest.raises(ValueError, match="does not leave a training set"):
            split_validation(ds, bad)


def test_model_selection_never_sees_the_test_set():
    test = _Counting(data.DataLoader(_toy(9), batch_size=32))
    t = _trainer(
        val_loader=data.DataLoader(_toy(5), batch_size=32), test_loader=test, early_stopping=EarlyStopping(patience=1)
    )
    t.fit(4)
    assert test.passes == 0
    loss, acc = t.test()
    assert test.passes == 1
    assert (loss, acc) == t.evaluate(test.loader)
    assert t.test_result == {"test_loss": loss, "test_acc": acc}
    with pytest.raises(ValueError, match="no test_loader"):
        _trainer().test()


# ----------------------------------------------------------------------------- patience
@pytest.mark.parametrize("patience, stop_epoch", [(0, 3), (1, 3), (2, 4), (3, 5), (4, 10)])
def test_patience_counts_epochs_without_improvement(patience, stop_epoch, monkeypatch):
    """Scripted val losses: best at epoch 2, then three worse, a new best at epoch 6, then worse.
    Keras/Lightning: stop at the end of the patience-th consecutive epoch without improvement
    (patience 0 acts as 1)."""
    losses = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.45, 0.9, 0.95, 0.99, 1.0])
    t = _trainer(val_loader=[(None, None)], early_stopping=EarlyStopping(patience=patience))
    monkeypatch.setattr(t, "evaluate", lambda loader=None: (next(losses), 0.5))
    hist = t.fit(10)
    assert t.stopped_early and len(hist) == stop_epoch


# ----------------------------------------------------------------------------- non-finite losses
def _nan_on_calls(bad_calls):
    calls = {"n": 0}

    def loss_fn(output, target):
        calls["n"] += 1
        loss = dn.nn.functional.cross_entropy(output, target)
        return loss * float("nan") if calls["n"] in bad_calls else loss

    return loss_fn


def test_nonfinite_loss_raises_naming_epoch_and_batch_and_keeps_the_good_checkpoint(tmp_path):
    ckpt = tmp_path / "c.safetensors"
    t = _trainer(loss_fn=_nan_on_calls({7}), checkpoint_path=ckpt, history_path=tmp_path / "h.csv")
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(nan\) at epoch 2, batch 3 of 4") as e:
        t.fit(3)
    assert (e.value.epoch, e.value.batch) == (2, 3)
    assert isinstance(e.value, FloatingPointError)
    saved = io.load_checkpoint(ckpt)
    assert saved["epoch"] == 1
    assert all(np.isfinite(v).all() for v in saved["model"].values())
    assert len(list(csv.DictReader(open(tmp_path / "h.csv")))) == 1


def test_huge_learning_rate_stops_before_saving_nonfinite_weights(tmp_path):
    ckpt = tmp_path / "c.safetensors"
    t = _trainer(lr=1e30, checkpoint_path=ckpt)
    with pytest.raises(NonFiniteLossError, match="epoch 1"):
        t.fit(3)
    assert not ckpt.exists()


def test_skip_policy_drops_the_bad_steps_and_counts_them():
    """Skipping batch 3 leaves the weights as a run that never took that step: compare with a run whose
    batch-3 step is a zero update (plain SGD without momentum, so a skipped step changes nothing else)."""

    def make(loss_fn):
        dn.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 2))
        return Trainer(
            model,
            optim.SGD(model.parameters(), lr=0.1),
            data.DataLoader(_toy(), batch_size=16),
            loss_fn=loss_fn,
            nonfinite="skip",
            progress=False,
            log=None,
        )

    skipped = make(_nan_on_calls({3}))
    hist = skipped.fit(1)
    assert skipped.skipped_steps == 1 and hist[0]["skipped_steps"] == 1
    assert math.isfinite(hist[0]["train_loss"])

    calls = {"n": 0}

    def zero_third(output, target):
        calls["n"] += 1
        loss = dn.nn.functional.cross_entropy(output, target)
        return loss * 0.0 if calls["n"] == 3 else loss

    reference = make(zero_third)
    reference.fit(1)
    for k, v in _weights(reference).items():
        np.testing.assert_array_equal(_weights(skipped)[k], v, err_msg=k)


def test_skip_policy_gives_up_after_too_many_bad_steps_in_a_row():
    t = _trainer(loss_fn=_nan_on_calls(set(range(2, 100))), nonfinite="skip", max_consecutive_skips=5)
    with pytest.raises(NonFiniteLossError, match="5 optimizer steps in a row had a non-finite loss"):
        t.fit(3)
    with pytest.raises(ValueError, match="nonfinite must be 'raise' or 'skip'"):
        _trainer(nonfinite="ignore")


def test_nonfinite_gradients_are_caught_too():
    """A finite loss whose gradient is not: d sqrt(u)/du at u = 0 is infinite."""

    def loss_fn(output, target):
        return dn.nn.functional.cross_entropy(output, target) + (output.sum() * 0.0).sqrt()

    t = _trainer(loss_fn=loss_fn)
    with pytest.raises(NonFiniteLossError, match="non-finite gradients at epoch 1, batch 1"):
        t.fit(1)


# ----------------------------------------------------------------------------- crash-consistent files
@pytest.mark.parametrize("crash_in", ["history", "checkpoint"])
def test_a_crash_between_writes_never_leaves_the_history_ahead(tmp_path, monkeypatch, crash_in):
    ckpt, csv_path, json_path = tmp_path / "c.safetensors", tmp_path / "h.csv", tmp_path / "h.json"
    t = _trainer(checkpoint_path=ckpt, history_path=[csv_path, json_path])
    t.fit(1)
    real = trainer_module.write_history if crash_in == "history" else io.save_checkpoint
    target = (trainer_module, "write_history") if crash_in == "history" else (trainer_module.io, "save_checkpoint")

    def crash(*a, **k):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(*target, crash)
    with pytest.raises(KeyboardInterrupt):
        t.fit(2)
    monkeypatch.setattr(*target, real)
    saved_epochs = io.load_checkpoint(ckpt)["epoch"]
    rows = list(csv.DictReader(open(csv_path)))
    assert len(rows) <= saved_epochs == (2 if crash_in == "history" else 1)
    assert len(json.loads(json_path.read_text())) == len(rows)
    # resuming takes the history from the checkpoint and rewrites both files
    resumed = _trainer(seed=5, checkpoint_path=ckpt, history_path=[csv_path, json_path])
    resumed.load_checkpoint(ckpt)
    assert [int(r["epoch"]) for r in csv.DictReader(open(csv_path))] == list(range(1, saved_epochs + 1))
    assert [r["epoch"] for r in json.loads(json_path.read_text())] == list(range(1, saved_epochs + 1))


def test_checkpoint_without_model_entry_is_a_clear_error(tmp_path):
    path = tmp_path / "c.safetensors"
    t = _trainer(checkpoint_path=path)
    t.fit(1)
    state = t.state_dict()
    del state["model"]
    io.save_checkpoint(state, path)
    with pytest.raises(ValueError, match="the checkpoint has no 'model' entry"):
        _trainer().load_checkpoint(path)


# ----------------------------------------------------------------------------- progress bars
def test_progress_bars_only_on_a_terminal(capsys):
    _trainer().fit(1)
    assert capsys.readouterr().err == ""  # progress=False
    _trainer(progress=None).fit(1)  # the default: stderr here is not a terminal
    assert capsys.readouterr().err == ""
    _trainer(progress=True).fit(1)
    assert "epoch 1" in capsys.readouterr().err


# ----------------------------------------------------------------------------- resumed schedules
@pytest.mark.parametrize("name, interval_steps", [("cosine", 1), ("onecycle", 4)])
def test_resumed_schedule_follows_the_longer_run(name, interval_steps):
    """A 3-epoch schedule resumed for 6 epochs gives, from epoch 4 on, the rates of a straight 6-epoch run."""

    def opt():
        return optim.SGD([nn.Parameter(np.zeros(2))], lr=0.5, momentum=0.9)

    straight = opt()
    sched, interval = build_scheduler(name, straight, 6, steps_per_epoch=4)
    short = opt()
    old, _ = build_scheduler(name, short, 3, steps_per_epoch=4)
    for _ in range(3 * interval_steps):
        straight.step()
        sched.step()
        short.step()
        old.step()
    resumed, _ = resume_scheduler(name, short, 6, 3, base_lr=0.5, steps_per_epoch=4)
    for _ in range(3 * interval_steps):
        assert short.param_groups[0]["lr"] == pytest.approx(straight.param_groups[0]["lr"], rel=1e-12)
        straight.step()
        sched.step()
        short.step()
        resumed.step()
