"""DataLoader worker processes against the single-process loader, and against torch's DataLoader.

An expensive per-sample transform (here a few hundred microseconds of NumPy work, like JPEG decoding
and augmentation would cost) is where worker processes pay off.  Prints one line per case with the
time of one epoch and the speed-up over 0 workers.

    python benchmarks/bench_data.py [--samples 512] [--repeat 3]
"""

import argparse
import statistics
import time

import numpy as np


class Expensive:
    """A map-style data set whose samples take real CPU time to produce."""

    def __init__(self, n, work=40):
        self.n, self.work = n, work

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        img = rng.standard_normal((3, 64, 64)).astype(np.float32)
        for _ in range(self.work):  # stand-in for decoding + augmentation
            img = np.tanh(img * 1.01 + 0.01)
        return img[:, ::4, ::4].copy(), i % 10  # a small result: the work dominates, not the transfer


def _epoch(loader):
    t0 = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from deepnotes.data import DataLoader

    ds = Expensive(args.samples)
    base = None
    for workers in (0, 1, 2):
        loader = DataLoader(ds, batch_size=32, shuffle=True, num_workers=workers, persistent_workers=workers > 0)
        _epoch(loader)  # warm-up (starts persistent workers)
        t = statistics.median(_epoch(loader) for _ in range(args.repeat))
        base = base or t
        print(f"deepnotes DataLoader num_workers={workers}: {t * 1e3:8.1f} ms/epoch  speed-up x{base / t:4.2f}")
    try:
        import torch.utils.data as tud
    except ImportError:
        return
    for workers in (0, 2):
        loader = tud.DataLoader(ds, batch_size=32, shuffle=True, num_workers=workers, persistent_workers=workers > 0)
        _epoch(loader)
        t = statistics.median(_epoch(loader) for _ in range(args.repeat))
        print(
            f"torch     DataLoader num_workers={workers}: {t * 1e3:8.1f} ms/epoch  (deepnotes 0 workers / this "
            f"= x{base / t:4.2f})"
        )


if __name__ == "__main__":
    main()
