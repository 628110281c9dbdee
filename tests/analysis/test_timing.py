"""measure_latency: structure and arithmetic only (tests never judge timings).  A fake clock gives
known durations, so percentiles and throughput are checked exactly against NumPy."""

import numpy as np
import pytest

import deepnotes as dn
from deepnotes import nn
from deepnotes.analysis import LatencyResult, measure_latency


class Counting(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.calls, self.modes = 0, set()

    def forward(self, x):
        self.calls += 1
        self.modes.add((self.training, dn.is_grad_enabled()))
        return self.fc(x)


def fake_clock(durations_ms):
    """A timer whose consecutive (start, stop) readings are durations_ms apart."""
    readings = []
    t = 100.0
    for d in durations_ms:
        readings += [t, t + d / 1e3]
        t += d / 1e3 + 0.5
    it = iter(readings)
    return lambda: next(it)


def test_fake_clock_percentiles_and_throughput():
    durations = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 6.0, 7.0, 9.0, 8.0]
    m = Counting()
    m.train()
    res = measure_latency(m, (4,), batch_size=8, warmup=3, repeat=10, timer=fake_clock(durations))
    assert isinstance(res, LatencyResult)
    assert m.calls == 13 and m.modes == {(False, False)} and m.training
    np.testing.assert_allclose(res.times_ms, durations, rtol=1e-9)
    assert res.p50_ms == pytest.approx(np.percentile(durations, 50))
    assert res.p90_ms == pytest.approx(np.percentile(durations, 90))
    assert res.mean_ms == pytest.approx(np.mean(durations)) and res.std_ms == pytest.approx(np.std(durations))
    assert (res.min_ms, res.max_ms) == pytest.approx((1.0, 10.0))
    assert res.throughput == pytest.approx(8 * 10 / (sum(durations) / 1e3))  # samples / total time
    assert res.input_shape == (8, 4) and (res.warmup, res.repeat, res.batch_size) == (3, 10, 8)
    assert "p50 5.500 ms" in str(res)


def test_real_clock_structure():
    res = measure_latency(Counting(), (4,), batch_size=2, warmup=1, repeat=5)
    assert len(res.times_ms) == 5 and all(t >= 0 for t in res.times_ms)
    assert res.min_ms <= res.p50_ms <= res.p90_ms <= res.max_ms
    assert res.throughput == pytest.approx(2 / (res.mean_ms / 1e3))


def test_input_data_and_bad_arguments():
    m = Counting()
    res = measure_latency(m, input_data=dn.zeros(3, 4), warmup=0, repeat=2, timer=fake_clock([1.0, 3.0]))
    assert res.batch_size == 3 and res.throughput == pytest.approx(3 / 2e-3)
    for kwargs, match in (
        ({"repeat": 0}, "repeat"),
        ({"warmup": -1}, "warmup"),
        ({"warmup": 1.5}, "warmup"),
        ({"batch_size": 0}, "batch_size"),
    ):
        with pytest.raises(ValueError, match=f"measure_latency: {match}"):
            measure_latency(m, (4,), **kwargs)
    with pytest.raises(TypeError, match="timer"):
        measure_latency(m, (4,), timer=5)
    with pytest.raises(TypeError, match="measure_latency: expected a deepnotes.nn.Module"):
        measure_latency(lambda x: x, (4,))
    with pytest.raises(ValueError, match="input_size"):
        measure_latency(m)
