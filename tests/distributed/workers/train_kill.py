"""Worker: a 2-rank Trainer run with a checkpoint after every epoch.

argv: out_dir epochs mode, mode one of
  plain       train and save;
  kill        rank 1 writes its pid to out_dir/victim.pid in the middle of epoch 2 and waits there to be
              killed;
  resume      continue from out_dir/checkpoint.safetensors;
  accumulate  accumulation_steps=2, counting the gradient reductions.
"""

import os
import sys
import time

import numpy as np

import deepnotes
import deepnotes.distributed as dist
from deepnotes import nn, optim
from deepnotes.data import DataLoader, DistributedSampler, TensorDataset
from deepnotes.train import Trainer

out, epochs, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
deepnotes.set_default_dtype(np.float64)
dist.init_process_group("mpi")
rank = dist.get_rank()
deepnotes.manual_seed(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((96, 6))
y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
data = TensorDataset(deepnotes.tensor(x), deepnotes.tensor(y))
model = nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2)))
opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loader = DataLoader(data, batch_size=4, sampler=DistributedSampler(data, seed=3))
val = DataLoader(data, batch_size=16, sampler=DistributedSampler(data, shuffle=False))
calls = [0]


def loss_fn(output, target):
    calls[0] += model.training  # training batches only (validation uses the loss too)
    if mode == "kill" and rank == 1 and calls[0] == len(loader) + 3:  # epoch 2, batch 3
        with open(os.path.join(out, "victim.pid.tmp"), "w") as f:
            f.write(str(os.getpid()))
        os.replace(os.path.join(out, "victim.pid.tmp"), os.path.join(out, "victim.pid"))
        time.sleep(120)  # killed here by the test
    return nn.functional.cross_entropy(output, target)


trainer = Trainer(
    model,
    opt,
    loader,
    val_loader=val,
    loss_fn=loss_fn,
    progress=False,
    accumulation_steps=2 if mode == "accumulate" else 1,
    checkpoint_path=os.path.join(out, "checkpoint.safetensors"),
    history_path=os.path.join(out, "history.json"),
)
if mode == "resume":
    trainer.load_checkpoint(os.path.join(out, "checkpoint.safetensors"))
trainer.fit(epochs)
# the validation metric of 2 ranks (each scoring half of the set) against one pass over the whole set
val_loss, val_acc = trainer.evaluate()
with deepnotes.no_grad():
    model.module.eval()
    full = model.module(deepnotes.tensor(x))
    full_loss = nn.functional.cross_entropy(full, deepnotes.tensor(y)).item()
    full_acc = float((full.data.argmax(1) == y).mean())
np.savez(
    os.path.join(out, f"final_rank{rank}.npz"),
    reductions=model.comm_stats["reductions"],
    steps=len(loader),
    val=np.array([val_loss, val_acc]),
    full=np.array([full_loss, full_acc]),
    **{k: v.data for k, v in model.state_dict().items()},
)
dist.destroy_process_group()
