import json
import os
import subprocess
import sys

import numpy as np
import pytest

from deepnotes import io
from deepnotes.cli import build_parser, main


def test_help_everywhere(capsys):
    for argv in (["--help"], ["train", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--model", "--epochs", "--batch-size", "--lr", "--optimizer", "--scheduler", "--seed", "--out",
                "--resume"):
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
    for argv, text in ((["train", "--epochs", "0"], "--epochs must be positive"),
                       (["train", "--lr", "abc"], "--lr must be a number"),
                       (["train", "--dataset", "imagenet"], "invalid choice")):
        with pytest.raises(SystemExit):
            main(argv)
        assert text in capsys.readouterr().err


def test_unknown_model_suggests(tmp_path, capsys):
    rc = main(["train", "--model", "lenet", "--epochs", "1", "--out", str(tmp_path), "--no-progress"])
    assert rc == 1
    assert "did you mean lenet5" in capsys.readouterr().err


def test_unknown_optimizer_and_scheduler_suggest(tmp_path, capsys):
    assert main(["train", "--optimizer", "adm", "--out", str(tmp_path), "--no-progress"]) == 1
    assert "unknown optimizer 'adm'; did you mean adam" in capsys.readouterr().err
    assert main(["train", "--scheduler", "cosin", "--out", str(tmp_path), "--no-progress"]) == 1
    assert "did you mean cosine" in capsys.readouterr().err


def test_local_dataset_needs_a_folder(tmp_path, capsys):
    assert main(["train", "--dataset", "mnist", "--out", str(tmp_path), "--no-progress"]) == 1
    assert "--dataset mnist needs --data DIR" in capsys.readouterr().err
    assert main(["train", "--dataset", "mnist", "--data", str(tmp_path), "--out", str(tmp_path),
                 "--no-progress"]) == 1
    assert "train-images-idx3-ubyte" in capsys.readouterr().err


def test_train_on_local_mnist_files(tmp_path, capsys):
    """--dataset mnist --data DIR reads IDX files (written here) and pads 28x28 to LeNet's 32x32."""
    import struct
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):   # a learnable pattern: a bright bar whose row encodes the class
            images[i, 2 + 2 * c:4 + 2 * c, 4:24] = 255
        (tmp_path / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28)
                                                               + images.tobytes())
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist", "--data", str(tmp_path), "--epochs", "8", "--batch-size", "16",
                 "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "32 test images" in text
    assert float(text.split("test accuracy ")[1].split()[0]) >= 0.5   # chance is 0.1


def test_training_options_run(tmp_path, capsys):
    rc = main(["train", "--epochs", "2", "--optimizer", "sgd", "--scheduler", "onecycle", "--accumulate", "2",
               "--clip-grad-norm", "5", "--early-stopping", "3", "--out", str(tmp_path), "--no-progress"])
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
    rc = main(["train", "--epochs", "1", "--out", str(tmp_path), "--resume", str(tmp_path / "none.safetensors"),
               "--no-progress"])
    assert rc == 1
    assert "no file at" in capsys.readouterr().err


def test_train_resume_matches_straight_run(tmp_path, capsys):
    """1 epoch, then --resume to 2 epochs, gives the weights of a straight 2-epoch run."""
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    common = ["--no-progress", "--seed", "3", "--scheduler", "none"]
    assert main(["train", "--epochs", "2", "--out", str(a)] + common) == 0
    assert main(["train", "--epochs", "1", "--out", str(b)] + common) == 0
    assert main(["train", "--epochs", "2", "--out", str(c), "--resume", str(b / "checkpoint.safetensors")]
                + common) == 0
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
    proc = subprocess.run([sys.executable, "-m", "deepnotes", "train", "--out", str(out), "--no-progress", *extra],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr
    return float(proc.stdout.split("test accuracy ")[1].split()[0])


def test_main_job_reaches_97_percent_and_is_repeatable(tmp_path):
    """`deepnotes train` with its defaults (the classic LeNet-5): >= 97% test accuracy; the same seed twice, identical weights;
    with --amp (float16 compute, float32 master weights, loss scaling) within 1 point of float32."""
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
    for cmd in ("train", "lr-find", "coco-eval", "summary", "bench"):
        assert cmd in out
    assert main(["summary", "lenet5"]) == 0          # the classic 1998 LeNet-5
    # seed 002's parameters per layer: C1, S2, C3 (partial table), S4, C5, F6, RBF output
    classic = [156, 12, 1516, 32, 48120, 10164, 840]
    assert f"Total params: {sum(classic):,}" in capsys.readouterr().out
    assert main(["summary", "lenett5"]) != 0
    assert "did you mean lenet5" in capsys.readouterr().err


def test_coco_eval_deeply_nested_json_prints_one_line_and_exits_2(tmp_path, capsys):
    gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "area": 25, "iscrowd": 0}]}
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
    save_file({"t0": np.zeros(1, np.float32)}, str(ck),
              metadata={"deepnotes": '{"format": "deepnotes-checkpoint-1", "tree": ' + deep + "}"})
    rc = main(["train", "--epochs", "1", "--out", str(tmp_path / "o"), "--resume", str(ck), "--no-progress"])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a valid JSON file (lists/objects nested more than 100" in err
