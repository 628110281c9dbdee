"""``deepnotes compress prune|quantize|distill`` end to end on a tiny checkpoint written by ``deepnotes train``."""

import json
import os

import numpy as np
import pytest

from deepnotes import io
from deepnotes.cli import main

FAST = ["--test-size", "60", "--train-size", "96", "--repeats", "1", "--batch-size", "32"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    code = main(
        ["train", "--model", "lenet5_modern", "--epochs", "1", "--train-size", "96", "--test-size", "60",
         "--no-progress", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    return str(out / "checkpoint.safetensors")


def _rows(text):
    """The before/after table: row label -> its cells."""
    rows = {}
    for line in text.splitlines():
        for label in ("test accuracy", "size on disk", "size, gzip -9", "latency, batch 1 ", "latency, batch 32"):
            if line.startswith(label):
                rows[label.strip()] = line[len(label) :].split()
    return rows


def test_quantize(checkpoint, tmp_path, capsys):
    out = tmp_path / "q"
    code = main(["compress", "quantize", checkpoint, "--model", "lenet5_modern", "--calibration-batches", "2",
                 "--out", str(out), *FAST])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    assert "quantised 5 layer(s) of lenet5_modern" in text
    rows = _rows(text)
    assert set(rows) == {"test accuracy", "size on disk", "size, gzip -9", "latency, batch 1", "latency, batch 32"}
    res = json.loads((out / "results.json").read_text())
    assert res["action"] == "quantize" and res["after"]["size_bytes"] / res["before"]["size_bytes"] < 0.3
    assert os.path.getsize(out / "model_int8.safetensors") == res["after"]["size_bytes"]
    stored = io.load_weights(str(out / "model_int8.safetensors"))
    assert sum(v.dtype == np.int8 for v in stored.values()) == 5
    assert float(rows["test accuracy"][0]) == pytest.approx(res["before"]["accuracy"], abs=1e-4)
    assert not (out / ".float-weights.safetensors").exists()


def test_prune(checkpoint, tmp_path, capsys):
    out = tmp_path / "p"
    code = main(["compress", "prune", checkpoint, "--model", "lenet5_modern", "--amount", "0.75", "--steps", "2",
                 "--fine-tune-epochs", "1", "--out", str(out), *FAST])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    assert "step 2: sparsity 0.7500" in text and "total" in text
    res = json.loads((out / "results.json").read_text())
    weights = io.load_weights(str(out / "model.safetensors"))
    w = np.concatenate([v.ravel() for k, v in weights.items() if k.endswith("weight")])
    assert np.mean(w == 0) == pytest.approx(0.75, abs=1e-3)  # masks folded into plain weights
    assert not any(k.endswith(("_orig", "_mask")) for k in weights)
    assert res["after"]["gzip_bytes"] < 0.6 * res["before"]["gzip_bytes"]
    assert [round(s["target"], 6) for s in res["steps"]] == [0.5, 0.75]


def test_structured_prune(checkpoint, tmp_path, capsys):
    out = tmp_path / "ps"
    code = main(["compress", "prune", checkpoint, "--model", "lenet5_modern", "--amount", "0.5", "--steps", "1",
                 "--method", "structured", "--fine-tune-epochs", "0", "--out", str(out), *FAST])  # fmt: skip
    assert code == 0
    assert "the output layer keeps its 10 outputs" in capsys.readouterr().out
    weights = io.load_weights(str(out / "model.safetensors"))
    conv = weights["features.0.weight"]
    assert int(np.all(conv.reshape(6, -1) == 0, axis=1).sum()) == 3  # whole filters
    assert not np.any(np.all(weights["classifier.5.weight"] == 0, axis=1))  # no class removed


def test_distill(checkpoint, tmp_path, capsys):
    out = tmp_path / "d"
    code = main(["compress", "distill", checkpoint, "--model", "lenet5_modern", "--student", "mlp:16", "--epochs",
                 "1", "--compare-alone", "--out", str(out), *FAST])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    assert "teacher" in text and "trained on the labels alone" in text
    res = json.loads((out / "results.json").read_text())
    assert 0 <= res["after"]["accuracy"] <= 1 and 0 <= res["accuracy_alone"] <= 1
    assert res["after"]["size_bytes"] == os.path.getsize(out / "student.safetensors")
    assert sorted(io.load_weights(str(out / "student.safetensors"))) == ["1.bias", "1.weight", "3.bias", "3.weight"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "lenet5"], "holds a LeNet5 model, but --model lenet5 builds a LeNet5Classic"),
        (["--model", "lenet5_modern", "--student", "mlp:x"], "--student mlp:x: expected mlp:H"),
        (["--model", "lenet5_modern", "--student", "mobilenet_v3_small"], "--student mobilenet_v3_small takes"),
    ],
)
def test_errors_are_one_line(checkpoint, tmp_path, capsys, extra, message):
    code = main(["compress", "distill", checkpoint, *extra, "--epochs", "1", "--out", str(tmp_path), *FAST])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_missing_checkpoint_and_bad_amount(tmp_path, capsys):
    assert main(["compress", "quantize", str(tmp_path / "none.safetensors"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["compress", "prune", "x.safetensors", "--amount", "1.5"])
    assert e.value.code == 2
    assert "--amount must be in [0, 1), got 1.5" in capsys.readouterr().err
