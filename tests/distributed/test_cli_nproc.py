"""``deepnotes train --nproc 2``: two ranks train, rank 0 alone prints and writes; the checkpoint
resumes in one process (a checkpoint of N ranks resumes with M)."""

import json
import os
import subprocess
import sys

from deepnotes.io import load_checkpoint


def test_train_with_two_processes_then_resume_with_one(tmp_path):
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env = dict(os.environ, PYTHONPATH=os.path.abspath(src), OMP_NUM_THREADS="1")
    out = tmp_path / "run"
    common = [
        "--train-size",
        "200",
        "--test-size",
        "60",
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--no-progress",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    p = subprocess.run(
        [sys.executable, "-m", "deepnotes", "train", "--nproc", "2"] + common,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert sum(ln.startswith("training lenet5") for ln in lines) == 1  # rank 0 alone prints
    assert sum(ln.startswith("epoch ") for ln in lines) == 2
    assert sum(ln.startswith("test accuracy") for ln in lines) == 1
    state = load_checkpoint(str(out / "checkpoint.safetensors"))
    assert state["epoch"] == 2 and state["model_class"] == "LeNet5Classic"
    assert not any(k.startswith("module.") for k in state["model"])  # the unwrapped model
    assert json.loads((out / "results.json").read_text())["epochs"] == 2
    common[common.index("--epochs") + 1] = "3"
    p = subprocess.run(
        [sys.executable, "-m", "deepnotes", "train", "--resume", str(out / "checkpoint.safetensors")] + common,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "resumed from" in p.stdout and load_checkpoint(str(out / "checkpoint.safetensors"))["epoch"] == 3


def test_hostfile_needs_nproc(tmp_path, capsys):
    from deepnotes.cli import main

    assert main(["train", "--hostfile", "hosts", "--out", str(tmp_path)]) == 2
    assert "--hostfile is used with --nproc N" in capsys.readouterr().err
