"""Small helpers shared by the experiment modules: seeding, the bundled digits as arrays, a training loop
for small classifiers and accuracy.  Experiments stay plain deepnotes code; this only removes repetition."""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes.data.datasets import Digits


def single_threaded(func):
    """Run ``func`` with one BLAS thread (through threadpoolctl when installed).

    The experiments multiply small matrices, where a multi-threaded BLAS spends its time waking threads
    (on a busy 2-core machine a 128x64 @ 64x64 product took 16 ms instead of 20 us)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            limit = contextlib.nullcontext()
        else:
            limit = threadpool_limits(1)
        with limit:
            return func(*args, **kwargs)

    return wrapper


def seeded(seed: int) -> np.random.Generator:
    """Seed deepnotes' global generator and return a NumPy generator for the experiment's own draws.

    The two must be different streams: deepnotes' generator seeded with ``seed`` is a NumPy generator too,
    and drawing data and dropout masks from the same stream makes them identical (a dropout mask that
    keeps exactly the larger inputs)."""
    dn.manual_seed(int(seed))
    return np.random.default_rng([int(seed), 12])


_DIGITS = {}


def digits(flat: bool = True):
    """The bundled 8x8 digits as float32 arrays in [0, 1]: (x_train, y_train, x_test, y_test).

    ``flat`` gives (n, 64) rows, otherwise (n, 1, 8, 8) images."""
    if "arrays" not in _DIGITS:
        train, test = Digits(train=True, size=8), Digits(train=False, size=8)
        _DIGITS["arrays"] = (train.images, train.targets, test.images, test.targets)
    xtr, ytr, xte, yte = _DIGITS["arrays"]
    if flat:
        xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    return xtr, ytr, xte, yte


def batches(n: int, batch_size: int, rng: np.random.Generator, drop_last: bool = False):
    """Indices of one shuffled epoch in mini-batches (the last one may be smaller unless ``drop_last``)."""
    order = rng.permutation(n)
    stop = n - n % batch_size if drop_last else n
    return [order[i : i + batch_size] for i in range(0, stop, batch_size)]


def logits_of(model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Model outputs for the rows of ``x`` (no graph), as a NumPy array."""
    with dn.no_grad():
        return np.concatenate([model(dn.tensor(x[i : i + batch_size])).numpy() for i in range(0, len(x), batch_size)])


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float((logits_of(model, x).argmax(1) == y).mean())


def train_classifier(model, optimizer, x, y, epochs, batch_size, rng, scheduler=None, loss_fn=None, drop_last=False):
    """Plain mini-batch training with cross entropy; returns the loss of every update."""
    loss_fn = loss_fn or F.cross_entropy
    losses = []
    model.train()
    for _ in range(epochs):
        for idx in batches(len(x), batch_size, rng, drop_last):
            loss = loss_fn(model(dn.tensor(x[idx])), dn.tensor(y[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(float(loss.item()))
    model.eval()
    return losses


def mean_std(values) -> tuple[float, float]:
    values = [float(v) for v in values]
    m = sum(values) / len(values)
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / len(values))


def t_statistic(values) -> float:
    """Mean over seeds divided by its standard error (sample standard deviation / sqrt(n)): how many
    standard errors a measured difference lies above zero.  +-inf when all values are equal and nonzero."""
    values = np.asarray([float(v) for v in values])
    if len(values) < 2:
        raise ValueError(f"t_statistic: needs at least 2 values, got {len(values)}")
    se = values.std(ddof=1) / math.sqrt(len(values))
    mean = float(values.mean())
    if se == 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / se
