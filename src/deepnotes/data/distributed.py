"""``DistributedSampler``: each rank of a data-parallel job reads its own share of the dataset.

torch's semantics and torch's exact index lists: with ``shuffle`` the order is the permutation
``torch.randperm(len(dataset))`` draws from a generator seeded with ``seed + epoch`` (reproduced here from
the same Mersenne-Twister stream, so a job mixing deepnotes and torch readers agrees on the order);
without ``drop_last`` the list is padded by repeating its head until it divides evenly by the number of
replicas, with ``drop_last`` its tail is cut; rank r takes every ``num_replicas``-th index from r.
"""

from __future__ import annotations

import math

import numpy as np

from .sampler import Sampler, _is_int

__all__ = ["DistributedSampler"]


def _torch_randperm(n, seed):
    """The permutation ``torch.randperm(n, generator=torch.Generator().manual_seed(seed))`` returns on
    CPU: a Fisher-Yates pass where step i swaps position i with i + (u_i mod (n - i)), u_i the i-th
    32-bit output of MT19937 initialised with the low 32 bits of the seed (torch uses 64-bit outputs
    only for n beyond 2**32 / 20, far past any dataset this sampler serves)."""
    if n >= 2**32 // 20:
        raise ValueError(f"DistributedSampler: datasets of {n} items or more are not supported")
    raw = np.random.RandomState(seed & 0xFFFFFFFF)._bit_generator.random_raw(max(n - 1, 0))
    perm = list(range(n))
    for i, u in enumerate(raw.tolist()):
        j = i + u % (n - i)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


class DistributedSampler(Sampler):
    """Indices of ``dataset`` for rank ``rank`` of ``num_replicas`` (defaults: the process group's)."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        from .. import distributed as dist

        if num_replicas is None:
            num_replicas = dist.get_world_size()
        if rank is None:
            rank = dist.get_rank()
        if not _is_int(num_replicas) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        if not _is_int(rank) or not 0 <= rank < num_replicas:
            raise ValueError(
                f"DistributedSampler: invalid rank {rank!r}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        if not _is_int(seed):
            raise TypeError(f"DistributedSampler: seed must be an int, got {type(seed).__name__}")
        try:
            n = len(dataset)
        except TypeError:
            raise TypeError(
                f"DistributedSampler: the dataset must have a length, got {type(dataset).__name__}"
            ) from None
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = bool(shuffle), int(seed), bool(drop_last), 0
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        n = len(self.dataset)
        indices = _torch_randperm(n, self.seed + self.epoch) if self.shuffle else list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad > 0:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Make the next iteration use the order of ``epoch`` (call it at the start of every epoch, as in
        torch; otherwise every epoch repeats the same order)."""
        if not _is_int(epoch):
            raise TypeError(f"DistributedSampler.set_epoch: epoch must be an int, got {type(epoch).__name__}")
        self.epoch = int(epoch)
