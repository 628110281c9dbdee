"""Worker: DistributedDataParallel's no_sync, find_unused_parameters, the unused-parameter error and
state_dict keys.  Saves the gradients for the test to compare with the expected averages."""

import sys

import numpy as np

import deepnotes
import deepnotes.distributed as dist
from deepnotes import nn

out = sys.argv[1]
deepnotes.set_default_dtype(np.float64)
dist.init_process_group("mpi")
rank = dist.get_rank()
res = {}
rng = np.random.default_rng(7)
x_all = rng.standard_normal((2, 2, 6, 3))  # [rank, micro-batch, samples, features]


def local_grad(model, xs):
    """Gradient of sum over micro-batches of mean-squared outputs, without any reduction."""
    model.zero_grad()
    for x in xs:
        (model(deepnotes.tensor(x)) ** 2).mean().backward()
    return [p.grad.data.copy() for p in model.parameters()]


# no_sync: the first micro-batch accumulates locally, the second reduces the accumulated sum
deepnotes.manual_seed(0)
net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
ddp = nn.parallel.DistributedDataParallel(net)
ddp.zero_grad()
with ddp.no_sync():
    (ddp(deepnotes.tensor(x_all[rank, 0])) ** 2).mean().backward()
res["after_no_sync"] = np.concatenate([p.grad.data.ravel() for p in net.parameters()])
(ddp(deepnotes.tensor(x_all[rank, 1])) ** 2).mean().backward()
res["after_sync"] = np.concatenate([p.grad.data.ravel() for p in net.parameters()])
deepnotes.manual_seed(0)
plain = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
res["local_both"] = np.concatenate([g.ravel() for g in local_grad(plain, x_all[rank])])
res["keys"] = np.array(sorted(ddp.state_dict()))


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)  # used on rank 0 only
        self.never = nn.Linear(3, 2)  # used by no rank

    def forward(self, x, use_b):
        y = self.a(x)
        return y + self.b(x) if use_b else y


deepnotes.manual_seed(1)
model = Branchy()
ddp = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
(ddp(deepnotes.tensor(x_all[rank, 0]), rank == 0) ** 2).sum().backward()
res["unused_a"] = model.a.weight.grad.data
res["unused_b"] = model.b.weight.grad.data
res["never_is_none"] = np.array(model.never.weight.grad is None)
deepnotes.manual_seed(1)
ref = Branchy()
(ref(deepnotes.tensor(x_all[rank, 0]), rank == 0) ** 2).sum().backward()
res["local_a"] = ref.a.weight.grad.data
res["local_b"] = ref.b.weight.grad.data if ref.b.weight.grad is not None else np.zeros((2, 3))

# without find_unused_parameters, the next forward names the parameters that got no gradient
ddp = nn.parallel.DistributedDataParallel(Branchy())
(ddp(deepnotes.tensor(x_all[rank, 0]), True) ** 2).sum().backward()
try:
    ddp(deepnotes.tensor(x_all[rank, 0]), True)
    res["error"] = np.array("no error")
except RuntimeError as e:
    res["error"] = np.array(str(e))
np.savez(f"{out}/rank{rank}.npz", **res)
dist.destroy_process_group()
