"""Parallel training wrappers (torch.nn.parallel): :class:`DistributedDataParallel` over MPI ranks."""

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
