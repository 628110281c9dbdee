"""Worker: rank 1 raises in the middle of training; rank 0 waits in the next all_reduce."""

import numpy as np

import deepnotes.distributed as dist

dist.init_process_group("mpi")
buf = np.ones(4)
dist.all_reduce(buf)
if dist.get_rank() == 1:
    raise ValueError("a bad batch on rank 1")
dist.all_reduce(buf)
print("rank 0 should not get here")
