"""DistributedSampler gives torch's index lists for every rank (no MPI needed: rank and replicas given)."""

import pytest
from torch.utils.data import DistributedSampler as TorchSampler

from deepnotes.data import DistributedSampler


@pytest.mark.parametrize("size", [0, 1, 7, 10, 33, 1000])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_indices_equal_torch(size, replicas, shuffle, drop_last):
    data = list(range(size))
    for seed in (0, 17):
        for epoch in (0, 1, 5):
            for rank in range(replicas):
                ours = DistributedSampler(
                    data, num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last
                )
                theirs = TorchSampler(
                    data, num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last
                )
                ours.set_epoch(epoch)
                theirs.set_epoch(epoch)
                if size == 0 and not drop_last:
                    continue  # torch divides by zero padding an empty list; nothing to compare
                assert list(ours) == list(theirs)
                assert len(ours) == len(theirs)


def test_ranks_cover_the_dataset_once_padded():
    data = list(range(10))
    parts = [list(DistributedSampler(data, num_replicas=3, rank=r, seed=4)) for r in range(3)]
    assert set(sum(parts, [])) == set(range(10)) and len(sum(parts, [])) == 12


def test_bad_arguments_are_named():
    with pytest.raises(
        ValueError,
        match=r"DistributedSampler: invalid rank 3, rank should be in the interval "
        r"\[0, 2\]",
    ):
        DistributedSampler(list(range(5)), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="num_replicas must be a positive int, got 0"):
        DistributedSampler(list(range(5)), num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="set_epoch: epoch must be an int"):
        DistributedSampler(list(range(5)), num_replicas=1, rank=0).set_epoch(1.5)


def test_defaults_to_a_world_of_one_without_a_process_group():
    s = DistributedSampler(list(range(6)), shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (1, 0, list(range(6)))
