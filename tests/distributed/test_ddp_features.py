"""DistributedDataParallel: no_sync accumulation, find_unused_parameters, the error for parameters
without a gradient, and torch's ``module.`` state_dict prefix (2 MPI ranks)."""

import numpy as np
import pytest


def test_ddp_features(mpirun, tmp_path):
    mpirun("ddp_features.py", tmp_path)
    r = [dict(np.load(tmp_path / f"rank{k}.npz")) for k in range(2)]
    avg_both = (r[0]["local_both"] + r[1]["local_both"]) / 2
    for k in range(2):
        # inside no_sync nothing is reduced: the rank's own first micro-batch gradient ...
        assert not np.allclose(r[k]["after_no_sync"], avg_both)
        # ... then the synchronised backward averages the accumulated sums over the ranks
        np.testing.assert_allclose(r[k]["after_sync"], avg_both, rtol=1e-13, atol=1e-15)
        assert list(r[k]["keys"]) == ["module.0.bias", "module.0.weight", "module.2.bias", "module.2.weight"]
        np.testing.assert_allclose(r[k]["unused_a"], (r[0]["local_a"] + r[1]["local_a"]) / 2, rtol=1e-13)
        # b: used on rank 0 only; rank 1 contributes zero, and gets the average too
        np.testing.assert_allclose(r[k]["unused_b"], r[0]["local_b"] / 2, rtol=1e-13)
        assert r[k]["never_is_none"]
        err = str(r[k]["error"])
        assert "DistributedDataParallel: the previous iteration's gradient reduction did not finish" in err
        assert "never.weight" in err and "find_unused_parameters=True" in err


def test_ddp_needs_a_process_group():
    from deepnotes import nn

    with pytest.raises(RuntimeError, match="DistributedDataParallel: the default process group is not initialized"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
