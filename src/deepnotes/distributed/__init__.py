"""Data-parallel training across processes and machines, shaped like ``torch.distributed``.

The transport is MPI through ``mpi4py`` (an optional extra: ``pip install 'deepnotes[distributed]'``);
deepnotes adds the training semantics: :class:`deepnotes.nn.parallel.DistributedDataParallel`,
:class:`deepnotes.nn.SyncBatchNorm` and :class:`deepnotes.data.DistributedSampler`.  Start a job with
``mpiexec -n 4 python train.py`` (each process calls :func:`init_process_group`) or with
``deepnotes train --nproc 4 ...``.  Importing this module does not import mpi4py.
"""

from . import collectives as _collectives
from .collectives import (
    DistributedError,
    DistributedTimeoutError,
    RankFailedError,
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    new_group,
    reduce_scatter,
    reduce_scatter_tensor,
)
from .launch import mpiexec_command

__all__ = [*_collectives.__all__, "mpiexec_command"]
