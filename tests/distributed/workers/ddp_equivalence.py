"""Worker: 20 SGD-momentum steps of a small conv net, 2 ranks x batch B under DistributedDataParallel,
and (rank 0, afterwards) the same 20 steps in one process with batch 2B.  Saves both weight sets.

argv: out_dir norm  (norm: none | bn | syncbn)
"""

import sys

import numpy as np

import deepnotes
import deepnotes.distributed as dist
from deepnotes import nn, optim

out, norm = sys.argv[1], sys.argv[2]
deepnotes.set_default_dtype(np.float64)
dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
B, STEPS = 4, 20


def make_model():
    deepnotes.manual_seed(0)
    layers = [nn.Conv2d(3, 6, 3, padding=1)]
    if norm != "none":
        layers.append(nn.BatchNorm2d(6))
    layers += [nn.ReLU(), nn.Conv2d(6, 4, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 3 * 3, 5)]
    return nn.Sequential(*layers)


data_rng = np.random.default_rng(1)
xs = data_rng.standard_normal((STEPS, world * B, 3, 8, 8))
ys = data_rng.integers(0, 5, size=(STEPS, world * B))
loss_fn = nn.CrossEntropyLoss()


def train(model, shard):
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(STEPS):
        x, y = xs[step], ys[step]
        if shard is not None:
            x, y = x[shard * B : (shard + 1) * B], y[shard * B : (shard + 1) * B]
        opt.zero_grad()
        loss = loss_fn(model(deepnotes.tensor(x)), deepnotes.tensor(y))
        loss.backward()
        opt.step()


model = make_model()
if rank == 1:  # different initial weights on rank 1: wrapping must broadcast rank 0's
    for p in model.parameters():
        p.data += 1.0
if norm == "syncbn":
    model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
ddp = nn.parallel.DistributedDataParallel(
    model,
    bucket_cap_mb=0.0005,  # several buckets
    gradient_as_bucket_view=norm == "syncbn",
)
assert len(ddp.bucket_sizes) > 1
train(ddp, rank)
state = {k: v.data.copy() for k, v in ddp.state_dict().items()}
np.savez(f"{out}/ddp_rank{rank}.npz", **state)
dist.barrier()
if rank == 0:
    ref = make_model()
    train(ref, None)
    np.savez(f"{out}/single.npz", **{"module." + k: v.data for k, v in ref.state_dict().items()})
dist.destroy_process_group()
