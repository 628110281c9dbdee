"""Worker: SyncBatchNorm forward and backward on each rank's shard (uneven batch sizes, 2-D to 5-D
inputs); saves outputs, gradients and running statistics for the torch oracle in the test."""

import sys

import numpy as np

import deepnotes
import deepnotes.distributed as dist
from deepnotes import nn

out = sys.argv[1]
dist.init_process_group("mpi")
rank = dist.get_rank()
res = {}
for case, shape in enumerate([(2, 3, 4), (3, 4, 5, 5), (2, 3), (1, 2, 2, 3, 3)]):
    rng = np.random.default_rng(case)
    n = [shape[0], shape[0] + 3]  # uneven shards: rank 0 gets fewer samples
    full = rng.standard_normal((sum(n),) + shape[1:]) * 3 + 1.5
    wout = rng.standard_normal(full.shape)
    lo, hi = (0, n[0]) if rank == 0 else (n[0], sum(n))
    bn = nn.SyncBatchNorm(shape[1], momentum=0.3).double()
    bn.weight.data[...] = rng.standard_normal(shape[1])
    bn.bias.data[...] = rng.standard_normal(shape[1])
    x = deepnotes.tensor(full[lo:hi], requires_grad=True)
    y = bn(x)
    (y * deepnotes.tensor(wout[lo:hi])).sum().backward()
    res.update(
        {
            f"y{case}": y.data,
            f"gx{case}": x.grad.data,
            f"gw{case}": bn.weight.grad.data,
            f"gb{case}": bn.bias.grad.data,
            f"rm{case}": bn.running_mean.data,
            f"rv{case}": bn.running_var.data,
        }
    )
np.savez(f"{out}/rank{rank}.npz", **res)
dist.destroy_process_group()
