import errno
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from deepnotes import io
from deepnotes.cli import main
from deepnotes.train import default_lr
from deepnotes.train.factory import OPTIMIZERS


def test_help_everywhere(capsys):
    for argv in (["--help"], ["train", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    out = capsys.readouterr().out
    for opt in (
        "--model",
        "--epochs",
        "--batch-size",
        "--lr",
        "--optimizer",
        "--scheduler",
        "--seed",
        "--out",
        "--resume",
    ):
        assert opt in out


def test_unknown_option_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--epoch", "2", "--bogus"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --bogus" in err or "--bogus" in err


def test_misspelt_option_gets_a_hint(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--batchsize", "8"])
    assert "did you mean --batch-size" in capsys.readouterr().err


def test_bad_values_are_rejected(capsys):
    for argv, text in (
        (["train", "--epochs", "0"], "--epochs must be positive"),
        (["train", "--lr", "abc"], "--lr must be a number"),
        (["train", "--dataset", "imagenet"], "invalid choice"),
    ):
        with pytest.raises(SystemExit):
            main(argv)
        assert text in capsys.readouterr().err


def test_unknown_model_suggests(tmp_path, capsys):
    rc = main(["train", "--model", "lenet", "--epochs", "1", "--out", str(tmp_path), "--no-progress"])
    assert rc == 2
    assert "did you mean lenet5" in capsys.readouterr().err


def test_unknown_optimizer_and_scheduler_suggest(tmp_path, capsys):
    assert main(["train", "--optimizer", "adm", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "unknown optimizer 'adm'; did you mean adam" in capsys.readouterr().err
    assert main(["train", "--scheduler", "cosin", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "did you mean cosine" in capsys.readouterr().err


def test_local_dataset_needs_a_folder(tmp_path, capsys):
    assert main(["train", "--dataset", "mnist", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "--dataset mnist needs --data DIR" in capsys.readouterr().err
    assert main(["train", "--dataset", "mnist", "--data", str(tmp_path), "--out", str(tmp_path), "--no-progress"]) == 2
    assert "train-images-idx3-ubyte" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--dataset",
                "mnist",
                "--data",
                str(tmp_path / "nowhere"),
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 2
    )
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"not an idx file")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"nor this")
    assert main(["train", "--dataset", "mnist", "--data", str(tmp_path), "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "train-" in err and "Traceback" not in err


def test_train_on_local_mnist_files(tmp_path, capsys):
    """--dataset mnist --data DIR reads IDX files (written here) and pads 28x28 to LeNet's 32x32."""
    import struct

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):  # a learnable pattern: a bright bar whose row encodes the class
            images[i, 2 + 2 * c : 4 + 2 * c, 4:24] = 255
        (tmp_path / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                "mnist",
                "--data",
                str(tmp_path),
                "--epochs",
                "8",
                "--batch-size",
                "16",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "58 train / 6 validation / 32 test images" in text
    assert float(text.split("test accuracy ")[1].split()[0]) >= 0.5  # chance is 0.1


def test_training_options_run(tmp_path, capsys):
    rc = main(
        [
            "train",
            "--epochs",
            "2",
            "--optimizer",
            "sgd",
            "--scheduler",
            "onecycle",
            "--accumulate",
            "2",
            "--clip-grad-norm",
            "5",
            "--early-stopping",
            "3",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert rc == 0
    rows = (tmp_path / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,train_loss,train_acc,lr,val_loss,val_acc") and len(rows) == 3


def test_lr_find_command(tmp_path, capsys):
    png = tmp_path / "lr.png"
    assert main(["lr-find", "--num-iter", "30", "--no-progress", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    lr = float(out.split("suggested learning rate ")[1].split()[0])
    assert 1e-6 < lr < 10
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_missing_resume_checkpoint(tmp_path, capsys):
    rc = main(
        [
            "train",
            "--epochs",
            "1",
            "--out",
            str(tmp_path),
            "--resume",
            str(tmp_path / "none.safetensors"),
            "--no-progress",
        ]
    )
    assert rc == 2
    assert "no file at" in capsys.readouterr().err


@pytest.mark.slow
def test_train_resume_matches_straight_run(tmp_path, capsys):
    """1 epoch, then --resume to 2 epochs, gives the weights of a straight 2-epoch run."""
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    common = ["--no-progress", "--seed", "3", "--scheduler", "none"]
    assert main(["train", "--epochs", "2", "--out", str(a)] + common) == 0
    assert main(["train", "--epochs", "1", "--out", str(b)] + common) == 0
    assert (
        main(["train", "--epochs", "2", "--out", str(c), "--resume", str(b / "checkpoint.safetensors")] + common) == 0
    )
    hist = json.loads((c / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2]
    out = capsys.readouterr().out
    assert "resumed from" in out and "test accuracy" in out
    wa = io.load_weights(a / "model.safetensors")
    wc = io.load_weights(c / "model.safetensors")
    assert list(wa) == list(wc)
    for k in wa:
        assert np.array_equal(wa[k], wc[k]), k


def _run_main_job(out, *extra):
    proc = subprocess.run(
        [sys.executable, "-m", "deepnotes", "train", "--out", str(out), "--no-progress", *extra],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0, proc.stderr
    return float(proc.stdout.split("test accuracy ")[1].split()[0])


@pytest.mark.slow
def test_main_job_reaches_97_percent_and_is_repeatable(tmp_path):
    """`deepnotes train` with its defaults (the classic LeNet-5): >= 97% test accuracy; the same seed twice,
    identical weights; with --amp (float16 compute, float32 master weights, loss scaling) within 1 point of float32."""
    acc = _run_main_job(tmp_path / "r1")
    assert acc >= 0.97
    assert _run_main_job(tmp_path / "r2") == acc
    w1 = io.load_weights(tmp_path / "r1" / "model.safetensors")
    w2 = io.load_weights(tmp_path / "r2" / "model.safetensors")
    for k in w1:
        assert np.array_equal(w1[k], w2[k]), k
    acc_amp = _run_main_job(tmp_path / "amp", "--amp")
    assert abs(acc_amp - acc) <= 0.01, (acc, acc_amp)
    assert io.load_weights(tmp_path / "amp" / "model.safetensors")["c1.weight"].dtype == np.float32


def test_every_subcommand_is_wired(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in (
        "train",
        "lr-find",
        "coco-eval",
        "detect",
        "summary",
        "bench",
        "notes",
        "compress",
        "rl",
        "augment",
        "gan",
    ):
        assert f"\n    {cmd} " in out or f"\n    {cmd}\n" in out, cmd
    assert main(["summary", "lenet5"]) == 0  # the classic 1998 LeNet-5
    # seed 002's parameters per layer: C1, S2, C3 (partial table), S4, C5, F6, RBF output
    classic = [156, 12, 1516, 32, 48120, 10164, 840]
    assert f"Total params: {sum(classic):,}" in capsys.readouterr().out
    assert main(["summary", "lenett5"]) != 0
    assert "did you mean lenet5" in capsys.readouterr().err


def test_coco_eval_deeply_nested_json_prints_one_line_and_exits_2(tmp_path, capsys):
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "area": 25, "iscrowd": 0}],
    }
    gt_path, dt_path = tmp_path / "gt.json", tmp_path / "dt.json"
    gt_path.write_text(json.dumps(gt))
    dt_path.write_text("[" * 200_000 + "]" * 200_000)
    assert main(["coco-eval", str(gt_path), str(dt_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("deepnotes coco-eval: error: COCO.loadRes: ") and "is not a valid JSON file" in err
    gt_path.write_text("{" + '"a": {' * 200_000 + "}" * 200_001)
    assert main(["coco-eval", str(gt_path), str(dt_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("deepnotes coco-eval: error: COCO: ")


def test_train_resume_from_crafted_deep_checkpoint_is_one_line_error(tmp_path, capsys):
    from safetensors.numpy import save_file

    ck = tmp_path / "crafted.safetensors"
    deep = "[" * 100_000 + "]" * 100_000
    save_file(
        {"t0": np.zeros(1, np.float32)},
        str(ck),
        metadata={"deepnotes": '{"format": "deepnotes-checkpoint-1", "tree": ' + deep + "}"},
    )
    rc = main(["train", "--epochs", "1", "--out", str(tmp_path / "o"), "--resume", str(ck), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a valid JSON file (lists/objects nested more than 100" in err


# ------------------------------------------------------------------ issue 10: errors, safety, honesty
def _one_line_error(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory):
    """`deepnotes train --epochs 1` once for the tests that resume from or inspect a finished run."""
    out = tmp_path_factory.mktemp("one_epoch")
    assert main(["train", "--epochs", "1", "--out", str(out)]) == 0
    return out


def test_default_run_writes_every_artefact_and_no_progress_bars_into_logs(one_epoch_run, capsys):
    """stderr is not a terminal under pytest: the default shows no bars.  The test set is scored once,
    after training; the artefacts agree with one another."""
    results = json.loads((one_epoch_run / "results.json").read_text())
    history = json.loads((one_epoch_run / "history.json").read_text())
    rows = (one_epoch_run / "history.csv").read_text().splitlines()
    assert len(history) == 1 == len(rows) - 1 and results["epochs"] == 1
    assert set(history[0]) == {"epoch", "train_loss", "train_acc", "lr", "val_loss", "val_acc"}
    assert io.load_checkpoint(one_epoch_run / "checkpoint.safetensors")["history"] == history
    assert 0 < results["test_acc"] <= 1


def test_default_run_output(tmp_path, capsys):
    assert main(["train", "--epochs", "1", "--out", str(tmp_path), "--val-size", "100"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "1337 train / 100 validation / 360 test images" in captured.out
    assert "test accuracy" in captured.out


def test_nonfinite_loss_stops_with_a_clear_message(tmp_path, capsys):
    out = tmp_path / "nan"
    assert (
        main(["train", "--epochs", "2", "--optimizer", "sgd", "--lr", "1e6", "--out", str(out), "--no-progress"]) == 2
    )
    err = _one_line_error(capsys)
    assert "non-finite" in err and "at epoch 1, batch" in err and "--skip-nonfinite" in err
    assert not (out / "checkpoint.safetensors").exists() and not (out / "model.safetensors").exists()
    # skipping: the bad steps are counted, and a run that never recovers gives up all the same
    assert (
        main(["train", "--epochs", "2", "--optimizer", "sgd", "--lr", "1e6", "--out", str(out), "--skip-nonfinite"])
        == 2
    )
    assert "optimizer steps in a row" in _one_line_error(capsys)


def test_missing_matplotlib_is_reported_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["train", "--plot", "--out", str(tmp_path / "p")]) == 2
    assert "--plot needs matplotlib" in _one_line_error(capsys)
    assert not (tmp_path / "p" / "checkpoint.safetensors").exists()
    assert main(["lr-find", "--plot", str(tmp_path / "lr.png")]) == 2
    assert "pip install 'deepnotes[plot]'" in _one_line_error(capsys)


def test_resume_errors_are_one_line(one_epoch_run, tmp_path, capsys):
    ckpt = str(one_epoch_run / "checkpoint.safetensors")
    assert main(["train", "--resume", ckpt, "--model", "lenet5_modern", "--out", str(tmp_path)]) == 2
    assert "holds a LeNet5Classic model, but this Trainer trains a LeNet5" in _one_line_error(capsys)
    assert main(["train", "--resume", ckpt, "--optimizer", "sgd", "--out", str(tmp_path)]) == 2
    assert "trained with the optimizer Adam, but this Trainer uses SGD" in _one_line_error(capsys)
    assert main(["train", "--resume", ckpt, "--scheduler", "step", "--out", str(tmp_path)]) == 2
    assert "the scheduler CosineAnnealingLR, but this Trainer uses StepLR" in _one_line_error(capsys)
    assert main(["train", "--resume", str(one_epoch_run / "model.safetensors"), "--out", str(tmp_path)]) == 2
    assert "is not a deepnotes checkpoint" in _one_line_error(capsys)
    state = io.load_checkpoint(ckpt)
    del state["model"]
    io.save_checkpoint(state, tmp_path / "no_model.safetensors")
    assert main(["train", "--resume", str(tmp_path / "no_model.safetensors"), "--out", str(tmp_path)]) == 2
    assert "has no 'model' entry" in _one_line_error(capsys)


def test_resume_with_more_epochs_rebuilds_the_schedule(one_epoch_run, tmp_path, capsys):
    """A finished 1-epoch cosine run (lr now 0) resumed with --epochs 2 continues as a straight
    2-epoch cosine would: epoch 2 at half the base rate, said on the console."""
    capsys.readouterr()
    assert (
        main(
            [
                "train",
                "--resume",
                str(one_epoch_run / "checkpoint.safetensors"),
                "--epochs",
                "2",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "planned for 1 epochs; the cosine schedule is rebuilt for 2 epochs" in out
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["lr"] == pytest.approx(0.5 * default_lr("adam"), rel=1e-12)


def test_environment_errors_are_one_line(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main(["train", "--out", str(afile)]) == 2
    assert "is a file; expected a folder" in _one_line_error(capsys)

    def disk_full(f, payload):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(io, "_write_all", disk_full)
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "full")]) == 2
    err = _one_line_error(capsys)
    assert "checkpoint.safetensors" in err and "the disk is full" in err
    assert not any(p.name.endswith(".part") for p in (tmp_path / "full").iterdir())


def test_genuine_bugs_keep_their_traceback(tmp_path, monkeypatch):
    from deepnotes.train import trainer as trainer_module

    def broken(self, *a, **k):
        raise TypeError("a bug")

    monkeypatch.setattr(trainer_module.Trainer, "fit", broken)
    with pytest.raises(TypeError, match="a bug"):
        main(["train", "--out", str(tmp_path)])


def test_lr_find_says_when_the_curve_is_flat(capsys):
    assert main(["lr-find", "--start-lr", "1e-9", "--end-lr", "1e-8", "--num-iter", "20"]) == 0
    out = capsys.readouterr().out
    assert "no suggestion: no clear descent" in out
    assert "suggested learning rate" not in out and "lowest smoothed loss" not in out
    assert main(["lr-find", "--start-lr", "1", "--end-lr", "0.1"]) == 2
    assert "--start-lr 1 must be below --end-lr 0.1" in _one_line_error(capsys)


def _accuracy(out):
    return float(out.split("test accuracy ")[1].split()[0])


@pytest.mark.slow
@pytest.mark.parametrize("optimizer, scheduler", [(name, "cosine") for name in OPTIMIZERS] + [("nesterov", "onecycle")])
def test_every_optimizers_default_lr_trains_the_default_model(optimizer, scheduler, tmp_path, capsys):
    """Each optimizer's default rate trains the default model well above chance (10%); 3 epochs keep it short
    (the defaults were chosen on the full 10-epoch run; see train/factory.py)."""
    assert (
        main(["train", "--optimizer", optimizer, "--scheduler", scheduler, "--epochs", "3", "--out", str(tmp_path)])
        == 0
    )
    assert _accuracy(capsys.readouterr().out) > 0.8


@pytest.mark.slow
def test_lr_find_suggestion_trains_the_default_model(tmp_path, capsys):
    assert main(["lr-find"]) == 0
    out = capsys.readouterr().out
    lr = float(out.split("suggested learning rate ")[1].split()[0])
    assert main(["train", "--lr", repr(lr), "--epochs", "3", "--out", str(tmp_path)]) == 0
    assert _accuracy(capsys.readouterr().out) > 0.8
