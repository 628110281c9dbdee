"""Timing shared by the benchmark scripts: warm-up, then the median of alternating runs."""

import statistics
import time


def timed_pair(fn_a, fn_b, repeat, warmup=3):
    """Median seconds of ``fn_a`` and ``fn_b``, run alternately so that load changes hit both."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    times_a, times_b = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn_a()
        t1 = time.perf_counter()
        fn_b()
        t2 = time.perf_counter()
        times_a.append(t1 - t0)
        times_b.append(t2 - t1)
    return statistics.median(times_a), statistics.median(times_b)
