"""Collectives on 2 MPI ranks equal NumPy's reductions of the ranks' inputs."""

import numpy as np
import pytest


def test_collectives_equal_numpy(mpirun, tmp_path):
    mpirun("collectives.py", tmp_path)
    r = [dict(np.load(tmp_path / f"rank{k}.npz")) for k in range(2)]
    checked = 0
    for key in r[0]:
        if not key.startswith("in_") or key in ("in_view", "in_async", "in_rs"):
            continue
        suffix = key[3:]
        x = np.stack([r[0][key], r[1][key]])
        for op, fn in (("sum", np.sum), ("product", np.prod), ("max", np.max), ("min", np.min), ("avg", np.mean)):
            name = f"allreduce_{op}_{suffix}"
            if name in r[0]:
                want = fn(x, axis=0).astype(x.dtype)
                for k in range(2):
                    got = r[k][name]
                    assert got.dtype == x.dtype and got.shape == x.shape[1:], name
                    np.testing.assert_allclose(got, want, rtol=1e-6 if x.dtype == np.float32 else 1e-14, err_msg=name)
                    checked += 1
        for k in range(2):
            np.testing.assert_array_equal(r[k][f"bcast_{suffix}"], x[1])
            np.testing.assert_array_equal(r[k][f"gather_{suffix}"], x)
    assert checked >= 6 * 4 * 4 * 2
    view = r[0]["in_view"] + r[1]["in_view"]
    asy = (r[0]["in_async"] + r[1]["in_async"]) / 2
    rs = r[0]["in_rs"] + r[1]["in_rs"]
    for k in range(2):
        np.testing.assert_allclose(r[k]["allreduce_view"], view, rtol=1e-14)
        np.testing.assert_allclose(r[k]["allreduce_async"], asy, rtol=1e-14)
        np.testing.assert_allclose(r[k]["reduce_scatter"], rs[k], rtol=1e-14)
        np.testing.assert_array_equal(r[k]["gather_into"], np.concatenate([np.arange(5.0), np.arange(5.0) + 10]))
        assert r[k]["objects_ok"]
    errors = list(r[0]["errors"])
    assert errors[0] == "TypeError: all_reduce: ReduceOp.AVG needs a floating-point tensor, got dtype int64"
    assert errors[1].startswith("TypeError: all_reduce: dtype float16 has no MPI equivalent")
    assert errors[2].startswith(
        "ValueError: all_reduce: op must be one of ReduceOp.SUM, AVG, PRODUCT, MAX, MIN, got 'median'"
    )
    assert errors[3] == "ValueError: broadcast: src must be a rank in 0..1, got 5"
    assert errors[4] == "TypeError: all_reduce: tensor must be a deepnotes Tensor or a numpy.ndarray, got list"


def test_import_deepnotes_does_not_import_mpi4py():
    import subprocess
    import sys

    code = (
        "import sys, deepnotes, deepnotes.distributed, deepnotes.nn.parallel, deepnotes.data; "
        "print('mpi4py' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_collectives_need_a_process_group():
    import deepnotes.distributed as dist

    assert not dist.is_initialized() and dist.get_world_size() == 1 and dist.get_rank() == 0
    with pytest.raises(RuntimeError, match="all_reduce: the default process group is not initialized"):
        dist.all_reduce(np.zeros(3))


def test_mpiexec_command():
    import sys

    from deepnotes.distributed import mpiexec_command

    cmd = mpiexec_command(3, ["-m", "deepnotes", "train"], hostfile="hosts")
    assert cmd[cmd.index("-n") + 1] == "3" and cmd[cmd.index("--hostfile") + 1] == "hosts"
    assert cmd[-4:] == [sys.executable, "-m", "deepnotes", "train"] and "--oversubscribe" not in cmd
    assert "--with-ft" in cmd  # the installed launcher is Open MPI 5 (the distributed extra's wheel)
    with pytest.raises(ValueError, match="mpiexec_command: nproc must be a positive int, got 0"):
        mpiexec_command(0, ["x.py"])
