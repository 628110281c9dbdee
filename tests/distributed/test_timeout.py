"""A collective that the other ranks do not join raises after the process group's timeout, naming the
collective and the rank that waited, instead of hanging."""


def test_collective_times_out_with_a_clear_error(mpirun):
    code, out, err = mpirun("timeout.py", check=False, timeout=120)
    assert code != 0
    assert "DistributedTimeoutError: barrier: rank 0 waited 2 s (the process group's timeout)" in err, err
