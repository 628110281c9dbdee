"""Trainer options of issue 4: accumulation, clipping, early stopping, per-step schedules, history."""

import csv
import importlib
import json

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes import data, nn, optim
from deepnotes.train import EarlyStopping, Trainer, build_optimizer, build_scheduler


def _data(n=64, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(dtype)
    y = (x[:, 0] - x[:, 2] > 0).astype(np.int64)
    return data.TensorDataset(x, y)


def _model(seed=0):
    dn.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8, dtype=np.float64), nn.Tanh(), nn.Linear(8, 2, dtype=np.float64))


def test_gradient_accumulation_equals_one_large_batch():
    """4 batches of 8 accumulated == one batch of 32 (mean loss), for plain SGD."""
    a, b = _model(), _model()
    ta = Trainer(
        a,
        optim.SGD(a.parameters(), lr=0.5),
        data.DataLoader(_data(), batch_size=8),
        accumulation_steps=4,
        progress=False,
        log=None,
    )
    tb = Trainer(
        b, optim.SGD(b.parameters(), lr=0.5), data.DataLoader(_data(), batch_size=32), progress=False, log=None
    )
    ta.fit(3)
    tb.fit(3)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_allclose(va.data, vb.data, rtol=1e-12, atol=1e-14, err_msg=k)


def test_accumulation_flushes_a_partial_group():
    m = _model()
    steps = []
    opt = optim.SGD(m.parameters(), lr=0.1)
    orig = opt.step
    opt.step = lambda *a, **k: steps.append(1) or orig(*a, **k)
    Trainer(m, opt, data.DataLoader(_data(n=40), batch_size=8), accumulation_steps=3, progress=False, log=None).fit(1)
    assert len(steps) == 2  # 5 batches: one step after 3, one for the remaining 2


def test_gradient_clipping_in_the_loop_matches_torch():
    m = _model(1)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
    tm.load_state_dict({k: torch.tensor(v.data) for k, v in m.state_dict().items()})
    loader = data.DataLoader(_data(seed=1), batch_size=16)
    Trainer(m, optim.SGD(m.parameters(), lr=1.0), loader, clip_grad_norm=0.05, progress=False, log=None).fit(1)
    topt = torch.optim.SGD(tm.parameters(), lr=1.0)
    for x, y in loader:
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tm(torch.tensor(x.data)), torch.tensor(y.data)).backward()
        torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.05)
        topt.step()
    for (k, v), tv in zip(m.state_dict().items(), tm.state_dict().values()):
        np.testing.assert_allclose(v.data, tv.numpy(), rtol=1e-10, err_msg=k)


def test_early_stopping_stops_and_restores_best():
    es = EarlyStopping(monitor="val_loss", patience=2)
    records = [
        {"epoch": 1, "val_loss": 1.0},
        {"epoch": 2, "val_loss": 0.5},
        {"epoch": 3, "val_loss": 0.6},
        {"epoch": 4, "val_loss": 0.7},
    ]
    assert [es.step(r) for r in records] == [False, False, False, True]
    assert es.best == 0.5 and es.best_epoch == 2
    with pytest.raises(KeyError, match="metric 'val_acc' is not in the epoch record"):
        EarlyStopping(monitor="val_acc").step({"epoch": 1, "val_loss": 1.0})
    with pytest.raises(ValueError, match="patience must be >= 0"):
        EarlyStopping(patience=-1)

    # in the loop: lr so large the validation loss gets worse after the first epochs
    m = _model(2)
    t = Trainer(
        m,
        optim.SGD(m.parameters(), lr=1e-9),
        data.DataLoader(_data(), batch_size=16),
        val_loader=data.DataLoader(_data(seed=5), batch_size=64),
        early_stopping=EarlyStopping(patience=0, min_delta=1.0),
        progress=False,
        log=None,
    )
    hist = t.fit(20)
    assert t.stopped_early and len(hist) == 2  # epoch 1 sets the best, epoch 2 fails to beat it by 1.0


def test_per_step_onecycle_and_plateau():
    m = _model()
    loader = data.DataLoader(_data(), batch_size=16)
    opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    sched, interval = build_scheduler("onecycle", opt, epochs=3, steps_per_epoch=len(loader))
    assert interval == "step"
    Trainer(m, opt, loader, scheduler=sched, scheduler_interval=interval, progress=False, log=None).fit(3)
    assert sched.last_epoch == 3 * len(loader)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.1, epochs=3, steps_per_epoch=len(loader))
    for _ in range(3 * len(loader)):
        topt.step()
        tsched.step()
    np.testing.assert_allclose(opt.param_groups[0]["lr"], topt.param_groups[0]["lr"], rtol=1e-12)

    m = _model()
    opt = optim.SGD(m.parameters(), lr=1e-6)
    plateau, interval = build_scheduler("plateau", opt, epochs=6)
    t = Trainer(m, opt, loader, val_loader=loader, scheduler=plateau, progress=False, log=None)
    t.fit(6)
    assert opt.param_groups[0]["lr"] == 5e-7  # no progress at such a rate: the plateau rule halved it


def test_factories_by_name_and_errors():
    m = _model()
    for name in ("sgd", "nesterov", "adam", "adamw", "adamax", "nadam", "rmsprop", "adagrad", "adadelta"):
        opt = build_optimizer(name, m.parameters())
        for sname in (
            "none",
            "step",
            "multistep",
            "exponential",
            "natural-exp",
            "poly",
            "cosine",
            "cosine-restarts",
            "warmup-cosine",
            "onecycle",
            "cyclic",
            "plateau",
        ):
            build_scheduler(sname, build_optimizer(name, m.parameters()), epochs=5, steps_per_epoch=3)
        assert opt.param_groups[0]["lr"] > 0
    with pytest.raises(ValueError, match="unknown optimizer 'adm'; did you mean adam"):
        build_optimizer("adm", m.parameters())
    with pytest.raises(ValueError, match="unknown scheduler 'cosin'; did you mean cosine"):
        build_scheduler("cosin", build_optimizer("sgd", m.parameters()), epochs=3)
    with pytest.raises(ValueError, match="scheduler_interval must be 'epoch' or 'step'"):
        Trainer(m, build_optimizer("sgd", m.parameters()), [], scheduler_interval="batch")


def test_history_files_and_plot(tmp_path):
    importlib.import_module("matplotlib")
    m = _model()
    t = Trainer(
        m,
        optim.SGD(m.parameters(), lr=0.1),
        data.DataLoader(_data(), batch_size=16),
        val_loader=data.DataLoader(_data(seed=3), batch_size=64),
        history_path=tmp_path / "h.csv",
        plot_path=tmp_path / "curves.png",
        progress=False,
        log=None,
    )
    hist = t.fit(2)
    rows = list(csv.DictReader(open(tmp_path / "h.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    np.testing.assert_allclose([float(r["val_acc"]) for r in rows], [h["val_acc"] for h in hist])
    png = (tmp_path / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    t.history_path = tmp_path / "h.json"
    t.fit(3)
    assert [r["epoch"] for r in json.loads((tmp_path / "h.json").read_text())] == [1, 2, 3]
