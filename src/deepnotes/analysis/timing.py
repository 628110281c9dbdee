"""Latency and throughput of a model's forward pass (seed 001's definitions).

* Latency: the time between making a request and receiving the answer -- here one forward pass of a
  batch, measured ``repeat`` times after ``warmup`` untimed passes; reported as percentiles (p50 is
  the median, p90 the time 90 % of the requests beat) and mean.
* Throughput: the number of inputs the network processes per unit of time -- here
  ``batch_size / mean latency`` in images (samples) per second, which equals the number of samples
  pushed through in the timed passes divided by their total time.  Larger batches usually raise
  throughput and latency together; the maximum throughput is found by growing the batch.

The passes run under ``no_grad`` in evaluation mode (each module's mode is restored afterwards).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .complexity import _check_model, _EvalMode, make_input

__all__ = ["LatencyResult", "measure_latency"]


@dataclass
class LatencyResult:
    """Timings of :func:`measure_latency`: ``times_ms`` (one per timed pass), ``mean_ms``, ``std_ms``,
    ``min_ms``, ``p50_ms``, ``p90_ms``, ``max_ms`` (NumPy linear-interpolated percentiles) and
    ``throughput`` = batch_size / (mean_ms / 1000) samples per second."""

    batch_size: int
    input_shape: tuple
    warmup: int
    repeat: int
    times_ms: tuple
    mean_ms: float
    std_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    max_ms: float
    throughput: float

    def __str__(self):
        return (
            f"batch {self.batch_size}, input {'x'.join(map(str, self.input_shape[1:]))}: latency p50 "
            f"{self.p50_ms:.3f} ms, p90 {self.p90_ms:.3f} ms, mean {self.mean_ms:.3f} ms "
            f"(min {self.min_ms:.3f}, max {self.max_ms:.3f}); throughput {self.throughput:,.1f} images/s "
            f"({self.repeat} timed passes after {self.warmup} warm-up)"
        )


def _count(value, low, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"measure_latency: {what} must be an int >= {low}, got {value!r}")
    return int(value)


def measure_latency(
    model, input_size=None, batch_size=1, warmup=10, repeat=50, *, input_data=None, timer=time.perf_counter
):
    """Time ``repeat`` forward passes of ``model`` on a (batch_size, *input_size) standard-normal input
    after ``warmup`` untimed ones; returns a :class:`LatencyResult` (p50/p90/mean latency in ms and
    throughput in images/s).  ``input_data`` replaces the generated input; ``timer`` is the clock
    (seconds, default ``time.perf_counter``)."""
    _check_model(model, "measure_latency")
    warmup = _count(warmup, 0, "warmup")
    repeat = _count(repeat, 1, "repeat")
    if not callable(timer):
        raise TypeError(f"measure_latency: timer must be callable, got {type(timer).__name__}")
    if input_data is not None:
        if not isinstance(input_data, Tensor):
            raise TypeError(f"measure_latency: input_data must be a deepnotes Tensor, got {type(input_data).__name__}")
        x = input_data
        batch_size = int(x.shape[0]) if x.ndim else 1
    else:
        if input_size is None:
            raise ValueError("measure_latency: give input_size (e.g. (3, 224, 224)) or input_data")
        x = make_input(model, input_size, batch_size, "measure_latency")
    times = np.empty(repeat, dtype=np.float64)
    with no_grad(), _EvalMode(model):
        for _ in range(warmup):
            model(x)
        for i in range(repeat):
            t0 = timer()
            model(x)
            times[i] = (timer() - t0) * 1e3
    mean = float(times.mean())
    return LatencyResult(
        batch_size=int(batch_size),
        input_shape=tuple(x.shape),
        warmup=warmup,
        repeat=repeat,
        times_ms=tuple(float(t) for t in times),
        mean_ms=mean,
        std_ms=float(times.std()),
        min_ms=float(times.min()),
        p50_ms=float(np.percentile(times, 50)),
        p90_ms=float(np.percentile(times, 90)),
        max_ms=float(times.max()),
        throughput=float(batch_size / (mean / 1e3)) if mean > 0 else float("inf"),
    )
