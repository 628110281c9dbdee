"""The notes' claim measured: 2 ranks x batch B under DistributedDataParallel step exactly like one
process with batch 2B (float64, 20 SGD-momentum steps) for a model without batch norm; with BatchNorm2d
they differ (each rank normalises with its own half batch); with SyncBatchNorm they agree again."""

import numpy as np
import pytest


def _max_diffs(tmp_path):
    r0, r1 = (dict(np.load(tmp_path / f"ddp_rank{k}.npz")) for k in range(2))
    single = dict(np.load(tmp_path / "single.npz"))
    assert sorted(r0) == sorted(single) and all(k.startswith("module.") for k in r0)
    # parameters (the running statistics of plain BatchNorm are each rank's own: compared separately)
    weights = [k for k in r0 if not k.endswith(("num_batches_tracked", "running_mean", "running_var"))]
    between_ranks = max(float(np.max(np.abs(r0[k] - r1[k]))) for k in weights)
    vs_single = max(float(np.max(np.abs(r0[k] - single[k]))) for k in weights)
    return between_ranks, vs_single


@pytest.mark.parametrize("norm", ["none", "syncbn"])
def test_two_ranks_equal_one_process_with_twice_the_batch(mpirun, tmp_path, norm):
    mpirun("ddp_equivalence.py", tmp_path, norm)
    between_ranks, vs_single = _max_diffs(tmp_path)
    print(f"norm={norm}: max |w_2ranks - w_1process| = {vs_single:.3g}")
    assert between_ranks == 0.0
    assert vs_single <= 1e-10
    if norm == "syncbn":  # SyncBatchNorm's running statistics are the full batch's too
        r0, single = np.load(tmp_path / "ddp_rank0.npz"), np.load(tmp_path / "single.npz")
        for k in ("module.1.running_mean", "module.1.running_var", "module.1.num_batches_tracked"):
            np.testing.assert_allclose(r0[k], single[k], rtol=0, atol=1e-12)


def test_plain_batchnorm_breaks_the_equality(mpirun, tmp_path):
    mpirun("ddp_equivalence.py", tmp_path, "bn")
    between_ranks, vs_single = _max_diffs(tmp_path)
    print(f"norm=BatchNorm2d: max |w_2ranks - w_1process| = {vs_single:.3g}")
    assert between_ranks == 0.0  # the replicas stay equal to each other ...
    assert vs_single > 1e-4  # ... but not to the single process: half-batch statistics
