"""Faults: one of two ranks killed with SIGKILL in the middle of an epoch makes the other stop within
60 s with an error naming the dead rank; the checkpoint of the last finished epoch is intact, and a
new job resumes from it to the same weights as a run that was never interrupted."""

import os
import signal
import subprocess
import time

import numpy as np

from deepnotes.io import load_checkpoint


def test_killed_rank_is_named_and_the_run_resumes(mpirun, mpistart, tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    killed.mkdir()
    clean.mkdir()
    proc = mpistart("train_kill.py", killed, 3, "kill")
    try:
        deadline = time.monotonic() + 120
        while not (killed / "victim.pid").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "rank 1 never reached the middle of epoch 2"
            time.sleep(0.05)
        epoch_saved = load_checkpoint(str(killed / "checkpoint.safetensors"))["epoch"]
        os.kill(int((killed / "victim.pid").read_text()), signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("the surviving rank did not stop within 60 s of the kill") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode != 0
    assert "RankFailedError" in err and "rank 1 of the 2-rank job died" in err, err
    assert "[rank 0 of 2]" in err
    # the checkpoint of epoch 1 is intact; the interrupted epoch 2 wrote nothing
    assert epoch_saved == 1
    state = load_checkpoint(str(killed / "checkpoint.safetensors"))
    assert state["epoch"] == 1 and len(state["history"]) == 1
    # resume to 3 epochs; an uninterrupted 3-epoch run gives the same weights
    mpirun("train_kill.py", killed, 3, "resume")
    mpirun("train_kill.py", clean, 3, "plain")
    assert load_checkpoint(str(killed / "checkpoint.safetensors"))["epoch"] == 3
    a, b = np.load(killed / "final_rank0.npz"), np.load(clean / "final_rank0.npz")
    for k in b.files:
        if k in ("reductions", "steps", "val", "full"):
            continue
        np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-12, err_msg=k)


def test_trainer_accumulation_reduces_once_per_optimizer_step(mpirun, tmp_path):
    mpirun("train_kill.py", tmp_path, 2, "accumulate")
    r0, r1 = np.load(tmp_path / "final_rank0.npz"), np.load(tmp_path / "final_rank1.npz")
    # 12 batches per epoch, 2 per optimizer step: 6 reductions per epoch (no_sync on the first of each pair)
    assert int(r0["steps"]) == 12 and int(r0["reductions"]) == int(r1["reductions"]) == 2 * 6
    for k in r0.files:
        np.testing.assert_array_equal(r0[k], r1[k])
    # Trainer.evaluate sums loss and hits over the ranks' halves: the whole validation set's figures
    np.testing.assert_allclose(r0["val"], r0["full"], rtol=1e-12)
