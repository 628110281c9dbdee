"""Worker: rank 1 is late for a barrier; rank 0, with a 2-second process-group timeout, gives up."""

import datetime
import time

import deepnotes.distributed as dist

dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=2))
if dist.get_rank() == 1:
    time.sleep(8)
dist.barrier()
