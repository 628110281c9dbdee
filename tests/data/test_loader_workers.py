"""DataLoader with worker processes: same batches as in-process loading, seeding, errors, shutdown."""

import multiprocessing
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import deepnotes
from deepnotes.data import DataLoader, Dataset, TensorDataset, default_collate, get_worker_info

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="worker tests use the fork start method")


def _children():
    return {p.pid for p in multiprocessing.active_children()}


class SampleDataset(Dataset):
    """Deterministic nested samples."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full((2, 3), i, dtype=np.float32), "y": i, "tag": f"s{i}"}


class ProbeDataset(Dataset):
    """Reports which worker loaded a sample, its seed, and a number drawn from the library generator."""

    def __init__(self, n):
        self.n = n
        self.offset = 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        draw = float(deepnotes.random.default_generator().random())
        return (i, -1 if info is None else info.id, -1 if info is None else info.seed, draw, self.offset, os.getpid())


def _flatten(batches):
    out = []
    for b in batches:
        if isinstance(b, dict):
            out.append((b["x"].data.tolist(), b["y"].data.tolist(), list(b["tag"])))
        else:
            out.append([t.data.tolist() for t in b])
    return out


@pytest.mark.parametrize("num_workers, prefetch_factor", [(1, 1), (2, 2), (3, 1)])
@pytest.mark.parametrize("persistent", [False, True])
def test_workers_yield_the_batches_of_the_main_process(num_workers, prefetch_factor, persistent):
    before = _children()
    for make in (lambda: SampleDataset(23), lambda: TensorDataset(np.arange(46.0).reshape(23, 2), np.arange(23))):
        ds = make()
        deepnotes.manual_seed(7)
        single = DataLoader(ds, batch_size=4, shuffle=True, drop_last=True)
        expected = [_flatten(single), _flatten(single), _flatten(single)]
        deepnotes.manual_seed(7)
        multi = DataLoader(
            ds,
            batch_size=4,
            shuffle=True,
            drop_last=True,
            num_workers=num_workers,
            prefetch_factor=prefetch_factor,
            persistent_workers=persistent,
        )
        got = [_flatten(multi), _flatten(multi), _flatten(multi)]
        assert got == expected
        assert len(expected[0]) == len(multi) == 5
        del multi
    assert _children() == before


def test_generator_argument_gives_same_batches_with_and_without_workers():
    ds = SampleDataset(17)
    a = DataLoader(ds, batch_size=3, shuffle=True, generator=np.random.default_rng(11))
    b = DataLoader(ds, batch_size=3, shuffle=True, generator=np.random.default_rng(11), num_workers=2)
    assert [_flatten(a), _flatten(a)] == [_flatten(b), _flatten(b)]


def test_per_worker_seeding_matches_base_seed_plus_id():
    ds = ProbeDataset(12)
    loader = DataLoader(ds, batch_size=2, num_workers=2, generator=np.random.default_rng(5))
    rows = [list(zip(*[t.data.tolist() for t in b])) for b in loader]
    base = int(np.random.default_rng(5).integers(0, 2**63, dtype=np.int64))
    streams = {w: np.random.default_rng(base + w) for w in (0, 1)}
    for k, batch in enumerate(rows):
        for _i, worker, seed, draw, _, pid in batch:
            assert worker == k % 2  # batches are dealt out round robin
            assert seed == base + worker
            assert pid != os.getpid()
            assert draw == streams[worker].random()  # the worker's generator is seeded with its seed
    # the same generator seed repeats everything; another seed changes the worker draws
    again = [
        list(zip(*[t.data.tolist() for t in b]))
        for b in DataLoader(ds, batch_size=2, num_workers=2, generator=np.random.default_rng(5))
    ]
    assert [[r[:4] for r in b] for b in again] == [[r[:4] for r in b] for b in rows]
    other = [
        list(zip(*[t.data.tolist() for t in b]))
        for b in DataLoader(ds, batch_size=2, num_workers=2, generator=np.random.default_rng(6))
    ]
    assert [r[3] for b in other for r in b] != [r[3] for b in rows for r in b]


def _init_offset(worker_id):
    get_worker_info().dataset.offset = 100 * (worker_id + 1)
    assert get_worker_info().num_workers == 3


def test_worker_init_fn_runs_in_each_worker():
    loader = DataLoader(ProbeDataset(9), batch_size=1, num_workers=3, worker_init_fn=_init_offset)
    offsets = [int(b[4].data[0]) for b in loader]
    assert offsets == [100, 200, 300] * 3


class FailingDataset(SampleDataset):
    def __getitem__(self, i):
        if i == 5:
            raise ValueError(f"sample {i} is corrupt")
        return super().__getitem__(i)


def test_worker_exception_keeps_type_and_traceback_and_stops_workers():
    before = _children()
    loader = DataLoader(FailingDataset(12), batch_size=2, num_workers=2)
    it = iter(loader)
    assert _flatten([next(it), next(it)])[0][1] == [0, 1]
    with pytest.raises(ValueError) as info:
        next(it)
    message = str(info.value)
    assert "Caught ValueError in DataLoader worker process 0" in message
    assert "sample 5 is corrupt" in message and "Traceback" in message and "in __getitem__" in message
    assert _children() == before
    with pytest.raises(StopIteration):
        next(it)


def _bad_init(worker_id):
    raise KeyError(f"no config for worker {worker_id}")


def test_worker_init_fn_exception_is_raised():
    before = _children()
    with pytest.raises(KeyError, match="no config for worker"):
        list(DataLoader(SampleDataset(4), num_workers=2, worker_init_fn=_bad_init))
    assert _children() == before


class DyingDataset(SampleDataset):
    def __getitem__(self, i):
        if i == 3:
            os._exit(7)
        return super().__getitem__(i)


def test_worker_that_dies_is_reported():
    before = _children()
    with pytest.raises(RuntimeError, match=r"DataLoader worker\(s\) exited unexpectedly.*exit code 7"):
        list(DataLoader(DyingDataset(8), batch_size=2, num_workers=2))
    assert _children() == before


def test_unpicklable_batch_is_reported():
    before = _children()
    with pytest.raises(Exception, match="while pickling the batch"):
        list(DataLoader(SampleDataset(4), batch_size=2, num_workers=1, collate_fn=lambda b: lambda: b))
    assert _children() == before


class SlowDataset(SampleDataset):
    def __getitem__(self, i):
        time.sleep(3)
        return super().__getitem__(i)


def test_timeout_and_shutdown_of_busy_workers(monkeypatch):
    monkeypatch.setattr(deepnotes.data.loader, "_JOIN_TIMEOUT_S", 0.2)  # terminate the sleeping worker soon
    before = _children()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        next(iter(DataLoader(SlowDataset(4), num_workers=1, timeout=0.3)))
    assert _children() == before


def test_abandoned_iterator_and_loader_leave_no_process():
    before = _children()
    loader = DataLoader(SampleDataset(50), batch_size=2, num_workers=2)
    it = iter(loader)
    next(it)
    assert len(_children() - before) == 2
    del it
    assert _children() == before
    persistent = DataLoader(SampleDataset(50), batch_size=2, num_workers=2, persistent_workers=True)
    first = iter(persistent)
    next(first)
    pids = _children() - before
    # a new epoch after an unfinished one reuses the workers and starts from a fresh order
    assert _flatten(persistent) == _flatten(DataLoader(SampleDataset(50), batch_size=2))
    assert _children() - before == pids
    del first, persistent
    assert _children() == before


def test_spawn_context_with_library_dataset():
    ds = TensorDataset(np.arange(10.0), np.arange(10))
    a = DataLoader(ds, batch_size=3, num_workers=1, multiprocessing_context="spawn")
    assert _flatten(a) == _flatten(DataLoader(ds, batch_size=3))


def test_keyboard_interrupt_shuts_workers_down(tmp_path):
    script = textwrap.dedent("""
        import multiprocessing, os, signal, threading, time
        import numpy as np
        from deepnotes.data import DataLoader, Dataset

        class Slow(Dataset):
            def __len__(self):
                return 100
            def __getitem__(self, i):
                time.sleep(0.2)
                return np.zeros(2)

        it = iter(DataLoader(Slow(), batch_size=2, num_workers=2))
        next(it)
        pids = [p.pid for p in multiprocessing.active_children()]
        assert len(pids) == 2, pids
        threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            while True:
                next(it)
        except KeyboardInterrupt:
            pass
        alive = [pid for pid in pids if os.path.exists(f"/proc/{pid}") and
                 open(f"/proc/{pid}/stat").read().split()[2] != "Z"]
        print("ALIVE", alive, multiprocessing.active_children())
    """)
    path = tmp_path / "interrupt.py"
    path.write_text(script)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ALIVE [] []" in out.stdout, out.stdout + out.stderr


def test_len_and_collate_in_workers():
    loader = DataLoader(SampleDataset(10), batch_size=4, num_workers=2, collate_fn=lambda b: len(b))
    assert list(loader) == [4, 4, 2] and len(loader) == 3
    nobatch = DataLoader(SampleDataset(3), batch_size=None, num_workers=2)
    assert [int(s["y"]) for s in nobatch] == [0, 1, 2]
    assert default_collate  # the default collate runs in the workers in the other tests
