import numpy as np
import pytest

import deepnotes as dn
from deepnotes import data, nn, optim
from deepnotes.train import CheckpointMismatchError, Trainer, fit


def _toy(seed=0, n=96):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return data.TensorDataset(x, y)


def _setup(seed, epochs_sched=4, checkpoint_path=None, progress=False):
    dn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    loader = data.DataLoader(_toy(), batch_size=16, shuffle=True)
    val = data.DataLoader(_toy(1), batch_size=32)
    return Trainer(
        model,
        opt,
        loader,
        val_loader=val,
        scheduler=sched,
        checkpoint_path=checkpoint_path,
        progress=progress,
        log=None,
    )


def _weights(trainer):
    return {k: v.data.copy() for k, v in trainer.model.state_dict().items()}


def test_training_learns_and_records_history():
    t = _setup(0)
    hist = t.fit(4)
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
    assert [h["lr"] for h in hist] == [0.1, 0.1, 0.05, 0.05]  # StepLR stepped once per epoch
    assert hist[-1]["val_acc"] > 0.9
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]


def test_same_seed_gives_bit_identical_weights():
    a = _setup(7)
    a.fit(3)
    b = _setup(7)  # shuffling draws from the global generator, so build each run after seeding
    b.fit(3)
    wa, wb = _weights(a), _weights(b)
    for k in wa:
        assert np.array_equal(wa[k], wb[k]), k
    c = _setup(8)
    c.fit(3)
    assert not all(np.array_equal(wa[k], v) for k, v in _weights(c).items())


def test_progress_bars_do_not_change_the_result(capsys):
    """The bar must not create a second loader iterator (tqdm.auto's does when it wraps an iterable),
    which would draw another shuffle from the global generator."""
    quiet = _setup(3)
    quiet.fit(2)
    shown = _setup(3, progress=True)
    shown.fit(2)
    for k, v in _weights(quiet).items():
        assert np.array_equal(v, _weights(shown)[k]), k


def test_resume_continues_exactly(tmp_path):
    straight = _setup(3)
    straight.fit(4)
    ckpt = tmp_path / "ckpt.safetensors"
    first = _setup(3, checkpoint_path=ckpt)
    first.fit(2)
    resumed = _setup(99)  # different initial weights and generator state: all must come from the file
    resumed.load_checkpoint(ckpt)
    assert resumed.epoch == 2 and len(resumed.history) == 2
    resumed.fit(4)
    for k, v in _weights(straight).items():
        assert np.array_equal(v, _weights(resumed)[k]), k
    assert [h["lr"] for h in resumed.history] == [h["lr"] for h in straight.history]


def test_hand_written_loop_equals_trainer():
    """The plain loop of seed 001 (forward, loss, backward, step; scheduler per epoch) is what fit runs."""
    t = _setup(5)
    t.fit(2)
    dn.manual_seed(5)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    loader = data.DataLoader(_toy(), batch_size=16, shuffle=True)
    val = data.DataLoader(_toy(1), batch_size=32)
    for _ in range(2):
        model.train()
        for x, y in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        model.eval()
        with dn.no_grad():
            for x, _y in val:  # evaluation draws no random numbers but mirrors the Trainer's order
                model(x)
        sched.step()
    for k, v in model.state_dict().items():
        assert np.array_equal(v.data, _weights(t)[k]), k


def test_fit_function_and_bad_epochs():
    dn.manual_seed(0)
    model = nn.Linear(4, 2)
    hist = fit(
        model,
        optim.SGD(model.parameters(), lr=0.1),
        data.DataLoader(_toy(), batch_size=32),
        1,
        progress=False,
        log=None,
    )
    assert len(hist) == 1 and "val_acc" not in hist[0]
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        _setup(0).fit(-1)


def test_checkpoint_for_another_model_is_rejected(tmp_path):
    t = _setup(0, checkpoint_path=tmp_path / "c.safetensors")
    t.fit(1)
    dn.manual_seed(0)
    other = Trainer(
        nn.Linear(4, 2),
        optim.SGD(nn.Linear(4, 2).parameters(), lr=0.1),
        data.DataLoader(_toy()),
        progress=False,
        log=None,
    )
    with pytest.raises(CheckpointMismatchError, match="holds a Sequential model, but this Trainer trains a Linear"):
        other.load_checkpoint(tmp_path / "c.safetensors")
    # same class, other layers: one line naming the keys that do not fit
    narrow = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    other = Trainer(narrow, optim.SGD(narrow.parameters(), lr=0.1), data.DataLoader(_toy()), progress=False, log=None)
    with pytest.raises(CheckpointMismatchError, match=r"do not fit this Sequential: .*0\.weight") as e:
        other.load_checkpoint(tmp_path / "c.safetensors")
    assert "\n" not in str(e.value)
