"""``DataLoader``: turns a dataset and a sampler into an iterable of collated batches.

How the pieces fit (seed 001): the ``Sampler`` yields indices, the ``BatchSampler`` groups them
into lists of ``batch_size``, the dataset maps each index to a sample, and ``collate_fn`` stacks
the samples of one list into batch tensors. With ``num_workers > 0`` the fetch-and-collate step runs
in worker processes: the main process deals the index lists out round robin, keeps
``prefetch_factor * num_workers`` of them in flight, and hands the batches back in sampler order,
so the batches are the same as with ``num_workers=0`` for a dataset that draws no random numbers.

Seeding mirrors torch: each iterator first draws a base seed from ``generator`` (or the library
generator that ``deepnotes.manual_seed`` seeds); worker ``i`` calls ``deepnotes.manual_seed(base_seed
+ i)`` before ``worker_init_fn(i)``, so random augmentations differ between workers yet repeat
under the same seed.
"""

from __future__ import annotations

import collections.abc
import copy
import multiprocessing
import numbers
import os
import pickle
import queue
import signal
import sys
import time
import traceback

import numpy as np

from .. import random as _random
from ..tensor import Tensor, get_default_dtype
from .dataset import _check_generator
from .sampler import BatchSampler, RandomSampler, SequentialSampler, _is_int

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info", "WorkerInfo"]

# --------------------------------------------------------------------------- collation

_BAD_ELEMENT = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def _stack(arrays, what):
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise ValueError(
                f"default_collate: {what} {i} of the batch has shape {a.shape}, expected {shape} "
                "(the shape of the first); samples must have equal shapes to be stacked, or "
                "pass a collate_fn that pads them or keeps a list"
            )
    return Tensor(np.stack(arrays))


def default_collate(batch):
    """Merge a list of samples into a batch, the way ``torch.utils.data.default_collate`` does.

    For a batch of B samples whose first element is:
      * a Tensor or numeric ``numpy.ndarray`` of shape S -> one Tensor of shape (B, *S);
      * a NumPy scalar -> a Tensor of shape (B,) of its dtype;
      * a Python float -> float64 Tensor (B,); int -> int64 Tensor (B,); bool -> bool Tensor (B,);
      * a str or bytes -> the samples unchanged (the list or tuple given);
      * a Mapping -> the same kind of mapping, each key collated over the batch;
      * a namedtuple -> the same namedtuple, each field collated;
      * any other sequence -> the elements collated position by position (a tuple becomes a list,
        as in torch); every sample must have the same length.
    """
    if not isinstance(batch, (list, tuple)) or len(batch) == 0:
        raise ValueError(
            f"default_collate: expected a non-empty list of samples, got "
            f"{type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}"
        )
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b.data if isinstance(b, Tensor) else np.asarray(b) for b in batch], "tensor")
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "SUOV":
            raise TypeError(_BAD_ELEMENT.format(f"numpy array of dtype {elem.dtype}"))
        return _stack([np.asarray(b) for b in batch], "array")
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        if elem.dtype.kind in "SUOV":
            raise TypeError(_BAD_ELEMENT.format(f"numpy scalar of dtype {elem.dtype}"))
        return Tensor(np.array(batch))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, numbers.Integral):
        arr = np.array(batch)
        if arr.dtype.kind == "f":
            arr = arr.astype(get_default_dtype())
        elif arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
        return Tensor(arr)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, dict) and type(elem) is dict:
            return collated
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(collated)
                return clone
            return type(elem)(collated)
        except TypeError:
            return collated
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        for i, sample in enumerate(batch):
            if len(sample) != size:
                raise ValueError(
                    f"default_collate: each element in list of batch should be of equal size; "
                    f"sample 0 has {size} elements, sample {i} has {len(sample)}"
                )
        columns = [default_collate(samples) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, col in enumerate(columns):
                    clone[i] = col
                return clone
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(_BAD_ELEMENT.format(type(elem)))


def default_convert(data):
    """Convert one sample (no batching): NumPy arrays and scalars become Tensors, recursively.

    This is the collate function when ``batch_size=None`` (automatic batching off), as in torch.
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "SUOV" else Tensor(data)
    if isinstance(data, np.generic) and data.dtype.kind not in "SUOV":
        return Tensor(np.asarray(data))
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(value) for key, value in data.items()}
        if type(data) is dict:
            return converted
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update(converted)
                return clone
            return type(data)(converted)
        except TypeError:
            return converted
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        converted = [default_convert(d) for d in data]
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(converted):
                    clone[i] = d
                return clone
            return type(data)(converted)
        except TypeError:
            return converted
    return data


def _fetch(dataset, index, auto_collation, collate_fn):
    """One batch (a list of indices) or one sample, collated."""
    if not auto_collation:
        return collate_fn(dataset[index])
    if collate_fn is default_collate:
        fast = getattr(dataset, "_collated_batch", None)
        if fast is not None:
            out = fast(index)
            if out is not NotImplemented:
                return out
    getitems = getattr(dataset, "__getitems__", None)
    samples = getitems(index) if getitems is not None else [dataset[i] for i in index]
    return collate_fn(samples)


# --------------------------------------------------------------------------- workers


class WorkerInfo:
    """What a worker process knows about itself: ``id``, ``num_workers``, ``seed`` and ``dataset``."""

    __slots__ = ("id", "num_workers", "seed", "dataset")

    def __init__(self, id, num_workers, seed, dataset):  # noqa: A002 (torch's name)
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info = None


def get_worker_info():
    """The ``WorkerInfo`` of the current DataLoader worker process, or None in the main process."""
    return _worker_info


class _ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback as text."""

    def __init__(self, exc_type, message):
        self.exc_type = exc_type
        self.message = message

    def reraise(self):
        try:
            exc = self.exc_type(self.message)
        except Exception:
            exc = RuntimeError(self.message)
        raise exc


def _wrap_current_exception(where):
    exc_type, exc, _ = sys.exc_info()
    text = "".join(traceback.format_exception(exc))
    return _ExceptionWrapper(exc_type, f"Caught {exc_type.__name__} in {where}.\nOriginal {text}")


def _dumps(payload):
    """Pickle in the worker, so a batch that cannot be pickled becomes an error the main process sees."""
    try:
        return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        wrapper = _wrap_current_exception("DataLoader worker while pickling the batch")
    try:
        return pickle.dumps(wrapper, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return pickle.dumps(_ExceptionWrapper(RuntimeError, wrapper.message), protocol=pickle.HIGHEST_PROTOCOL)


_WORKER_POLL_S = 2.0  # how often an idle worker checks that its parent still lives
_MAIN_POLL_S = 0.5  # how often the waiting main process checks that its workers still live
_JOIN_TIMEOUT_S = 2.0  # grace period at shutdown before busy workers are terminated


def _worker_loop(
    dataset,
    index_queue,
    result_queue,
    auto_collation,
    collate_fn,
    seed,
    worker_init_fn,
    worker_id,
    num_workers,
    parent_pid,
):
    global _worker_info
    # Ctrl-C reaches the whole process group; the main process handles it and shuts the workers down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    result_queue.cancel_join_thread()
    _random.manual_seed(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error = None
    try:
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception:
        init_error = _wrap_current_exception(f"DataLoader worker process {worker_id} (in worker_init_fn)")
    while True:
        try:
            task = index_queue.get(timeout=_WORKER_POLL_S)
        except queue.Empty:
            if os.getppid() != parent_pid:
                break
            continue
        if task is None:
            break
        epoch, task_idx, index = task
        if init_error is not None:
            payload = init_error
        else:
            try:
                payload = _fetch(dataset, index, auto_collation, collate_fn)
            except Exception:
                payload = _wrap_current_exception(f"DataLoader worker process {worker_id}")
        result_queue.put((epoch, task_idx, _dumps(payload)))
        del payload


def _draw_base_seed(generator):
    return int(generator.integers(0, 2**63, dtype=np.int64))


class _SingleProcessIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._auto_collation = loader._auto_collation
        self._collate_fn = loader.collate_fn
        self._len = len(loader)
        self._base_seed = _draw_base_seed(_check_generator("DataLoader", loader.generator))
        self._sampler_iter = iter(loader._index_sampler)

    def __iter__(self):
        return self

    def __len__(self):
        return self._len

    def __next__(self):
        index = next(self._sampler_iter)
        return _fetch(self._dataset, index, self._auto_collation, self._collate_fn)


class _MultiProcessIter:
    def __init__(self, loader):
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._persistent = loader.persistent_workers
        self._timeout = loader.timeout
        self._index_sampler = loader._index_sampler
        self._generator = loader.generator
        self._len = len(loader)
        self._shutdown = True
        self._epoch = -1
        self._base_seed = _draw_base_seed(_check_generator("DataLoader", self._generator))

        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        elif isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        self._result_queue = ctx.Queue()
        self._index_queues, self._workers = [], []
        self._shutdown = False
        try:
            for worker_id in range(self._num_workers):
                index_queue = ctx.Queue()
                index_queue.cancel_join_thread()
                worker = ctx.Process(
                    target=_worker_loop,
                    args=(
                        loader.dataset,
                        index_queue,
                        self._result_queue,
                        loader._auto_collation,
                        loader.collate_fn,
                        self._base_seed + worker_id,
                        loader.worker_init_fn,
                        worker_id,
                        self._num_workers,
                        os.getpid(),
                    ),
                    daemon=True,
                )
                worker.start()
                self._index_queues.append(index_queue)
                self._workers.append(worker)
        except BaseException:
            self._shutdown_workers()
            raise
        self._start_epoch()

    def _start_epoch(self):
        self._epoch += 1
        self._sampler_iter = iter(self._index_sampler)
        self._sampler_done = False
        self._send_idx = 0
        self._rcvd_idx = 0
        self._reorder = {}
        for _ in range(self._prefetch):
            self._try_put_index()

    def _reset(self, loader):
        """Start a new epoch on the same (persistent) workers."""
        # Draw (and drop) a base seed as a fresh iterator would, so the sampler's random stream, and
        # hence the order of the batches, does not depend on persistent_workers.
        _draw_base_seed(_check_generator("DataLoader", self._generator))
        self._len = len(loader)
        self._start_epoch()

    def _try_put_index(self):
        if self._sampler_done:
            return
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            self._sampler_done = True
            return
        self._index_queues[self._send_idx % self._num_workers].put((self._epoch, self._send_idx, index))
        self._send_idx += 1

    def _get_result(self):
        start = time.monotonic()
        while True:
            wait = _MAIN_POLL_S
            if self._timeout > 0:
                left = self._timeout - (time.monotonic() - start)
                if left <= 0:
                    raise RuntimeError(
                        f"DataLoader timed out after {self._timeout} seconds waiting for a batch from its workers"
                    )
                wait = min(wait, left)
            try:
                return self._result_queue.get(timeout=wait)
            except queue.Empty:
                dead = [w for w in self._workers if not w.is_alive()]
                if dead:
                    info = ", ".join(f"pid {w.pid} exit code {w.exitcode}" for w in dead)
                    raise RuntimeError(
                        f"DataLoader worker(s) exited unexpectedly ({info}); a negative exit "
                        "code is the signal that ended the worker"
                    ) from None

    def _next_data(self):
        while True:
            if self._rcvd_idx in self._reorder:
                payload = self._reorder.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                self._try_put_index()
                data = pickle.loads(payload)
                if isinstance(data, _ExceptionWrapper):
                    data.reraise()
                return data
            if self._rcvd_idx >= self._send_idx:
                raise StopIteration
            epoch, task_idx, payload = self._get_result()
            if epoch == self._epoch:
                self._reorder[task_idx] = payload

    def __iter__(self):
        return self

    def __len__(self):
        return self._len

    def __next__(self):
        if self._shutdown:
            raise StopIteration
        try:
            return self._next_data()
        except StopIteration:
            if not self._persistent:
                self._shutdown_workers()
            raise
        except BaseException:
            self._shutdown_workers()
            raise

    def _shutdown_workers(self):
        if self._shutdown:
            return
        self._shutdown = True
        for q in self._index_queues:
            try:
                q.put(None)
            except Exception:  # a closed or broken queue: the worker is terminated below
                pass
        deadline = time.monotonic() + _JOIN_TIMEOUT_S
        for w in self._workers:
            w.join(timeout=max(0.0, deadline - time.monotonic()))
        for w in self._workers:
            if w.is_alive():
                w.terminate()
                w.join(timeout=_JOIN_TIMEOUT_S)
            if w.is_alive():
                w.kill()
                w.join()
        for q in self._index_queues + [self._result_queue]:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:  # interpreter teardown: multiprocessing ends daemon workers itself
            pass


# --------------------------------------------------------------------------- the loader


class DataLoader:
    """Iterate over ``dataset`` in batches (``torch.utils.data.DataLoader``).

    Args:
        dataset: map-style dataset (``__getitem__`` and ``__len__``).
        batch_size: samples per batch (positive int), or None to turn automatic batching off (each
            sample goes through ``collate_fn``, default ``default_convert``, on its own).
        shuffle: a fresh random order each epoch (``RandomSampler``); excludes ``sampler``.
        sampler: iterable of indices; excludes ``shuffle``.
        batch_sampler: iterable of index lists; excludes ``batch_size``, ``shuffle``, ``sampler`` and
            ``drop_last``.
        num_workers: 0 loads in the main process; k > 0 loads in k worker processes.
        collate_fn: merges a list of samples into a batch, default ``default_collate``.
        pin_memory: accepted for torch compatibility; there is no device memory here, so it does nothing.
        drop_last: drop the last batch when it has fewer than ``batch_size`` samples.
        timeout: seconds to wait for one batch from the workers (0: forever).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after it is seeded.
        multiprocessing_context: start method name or context; default 'fork' where available.
        generator: ``numpy.random.Generator`` for the shuffle and the workers' base seed; None uses the
            library generator, so ``deepnotes.manual_seed(s)`` repeats the order.
        prefetch_factor: batches each worker keeps loaded ahead (``prefetch_factor * num_workers``
            in flight); only used when ``num_workers > 0``.
        persistent_workers: keep the workers alive between epochs.

    ``len(loader)`` is the number of batches: ``ceil(N / B)``, or ``floor(N / B)`` with ``drop_last``.
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=False,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=2,
        persistent_workers=False,
    ):
        if not _is_int(num_workers) or num_workers < 0:
            raise ValueError(
                f"DataLoader: num_workers should be a non-negative int (0 loads in the main "
                f"process), got num_workers={num_workers!r}"
            )
        if not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError(f"DataLoader: timeout should be a non-negative number, got timeout={timeout!r}")
        if not _is_int(prefetch_factor) or prefetch_factor <= 0:
            raise ValueError(
                f"DataLoader: prefetch_factor should be a positive int, got prefetch_factor={prefetch_factor!r}"
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers=True needs num_workers > 0")
        if not isinstance(drop_last, (bool, np.bool_)):
            raise ValueError(f"DataLoader: drop_last should be a boolean value, got drop_last={drop_last!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn should be callable, got {type(worker_init_fn).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn should be callable, got {type(collate_fn).__name__}")
        _check_generator("DataLoader", generator)
        shuffle = bool(shuffle)

        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                    f"shuffle, sampler, and drop_last (got batch_size={batch_size!r}, "
                    f"shuffle={shuffle}, sampler={sampler!r}, drop_last={drop_last})"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None:
            if drop_last:
                raise ValueError(
                    "DataLoader: batch_size=None turns automatic batching off and is mutually exclusive with drop_last"
                )
        elif not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(
                f"DataLoader: batch_size should be a positive integer value (or None), got batch_size={batch_size!r}"
            )

        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))

        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = int(prefetch_factor)
        self.persistent_workers = bool(persistent_workers)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator = None

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        return len(self._index_sampler)

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if self.persistent_workers:
            if self._iterator is None or self._iterator._shutdown:
                self._iterator = _MultiProcessIter(self)
            else:
                self._iterator._reset(self)
            return self._iterator
        return _MultiProcessIter(self)
