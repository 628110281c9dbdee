"""A rank that raises ends the whole job quickly, and the job's error output names that rank and its
exception (the other rank is not left waiting in its next collective)."""

import time


def test_a_raising_rank_is_named_and_the_job_stops(mpirun):
    start = time.monotonic()
    code, out, err = mpirun("raises.py", check=False, timeout=120)
    assert code != 0
    assert time.monotonic() - start < 60
    assert "rank 0 should not get here" not in out
    assert "[rank 1 of 2]" in err and "ValueError: a bad batch on rank 1" in err, err
    assert "rank 1 raised ValueError and exits" in err, err
