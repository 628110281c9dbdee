"""``DistributedDataParallel``: one model replica per rank, gradients averaged across ranks.

Every rank runs the same model on its own share of the batch.  Wrapping broadcasts rank 0's
parameters and buffers, so all replicas start equal; after ``backward()`` every parameter's gradient
is the average over the ranks of the local gradients, so equal optimizer steps keep the replicas equal.
With each rank's loss a mean over its B samples, the averaged gradient is that of the mean loss over
all ranks' samples: n ranks with batch B step like one process with batch n*B (the notes' claim,
measured by ``tests/distributed/test_ddp_equivalence.py``), as long as nothing in the model mixes
samples of one batch (BatchNorm does; :class:`deepnotes.nn.SyncBatchNorm` restores the equality).

Communication is fused and overlapped as in torch: parameters are grouped, in reverse registration
order (roughly the order backward produces their gradients), into buckets of about ``bucket_cap_mb``
megabytes; a hook on each parameter's gradient accumulation copies the gradient into its bucket, and a
bucket whose gradients are all ready starts a non-blocking MPI all-reduce (``Iallreduce``) while
backward continues on earlier layers.  Buckets start in a fixed order on every rank (MPI needs
collectives in the same order everywhere); the last gradient waits for all of them and writes the
averages back into ``.grad``.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ... import distributed as dist
from ...autograd.function import is_grad_enabled
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]


def _tensors_in(obj, out):
    """Collect the Tensors in a (nested) forward output: tensor, tuple/list/namedtuple, dict."""
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensors_in(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors_in(o, out)
    return out


def _reachable_leaves(outputs):
    """ids of the leaf tensors the graphs of ``outputs`` lead to (what backward will give a gradient)."""
    seen, leaves = set(), set()
    stack = [t for t in outputs if t._requires_grad]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        ctx = t._ctx
        if ctx is None:
            leaves.add(id(t))
            continue
        stack.extend(p for p in ctx.parents if p._requires_grad)
    return leaves


class _Bucket:
    """Gradients of several parameters of one dtype, reduced by one all-reduce of a flat buffer."""

    def __init__(self, index, params, dtype):
        self.index, self.params = index, params
        self.offsets, off = [], 0
        for p in params:
            self.offsets.append(off)
            off += p.data.size
        self.buffer = np.zeros(off, dtype=dtype)
        self.pending = len(params)
        self.work = None

    def view(self, i):
        p = self.params[i]
        return self.buffer[self.offsets[i] : self.offsets[i] + p.data.size].reshape(p.data.shape)


class DistributedDataParallel(Module):
    """Data-parallel wrapper of ``module`` over the ranks of ``process_group`` (default: the world).

    ``bucket_cap_mb`` (default 25, torch's) sizes the gradient buckets; ``broadcast_buffers`` copies
    rank 0's buffers (BatchNorm running statistics) to every rank at each forward, as torch does;
    ``find_unused_parameters`` lets a forward leave some parameters out of the graph (their local
    contribution counts as zero; a parameter no rank used keeps its ``.grad``).  Without it, a
    parameter that gets no gradient makes the next forward raise, naming it.  ``no_sync()`` skips the
    reduction (gradient accumulation: the next synchronised backward reduces the accumulated sums).
    ``gradient_as_bucket_view`` makes each ``.grad`` a view into its bucket (no copy; the next backward
    replaces it).  ``static_graph`` is accepted for torch compatibility and changes nothing (the
    readiness hooks need no graph analysis).  The state_dict keys carry the ``module.`` prefix, like
    torch's.  Move or convert the model (dtype) before wrapping: the hooks are on the parameter tensors
    that exist at wrap time.
    """

    def __init__(
        self,
        module,
        device_ids=None,
        output_device=None,
        dim=0,
        broadcast_buffers=True,
        process_group=None,
        bucket_cap_mb=None,
        find_unused_parameters=False,
        gradient_as_bucket_view=False,
        static_graph=False,
    ):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel: module must be a deepnotes nn.Module, got {type(module).__name__}"
            )
        if device_ids not in (None, [], ["cpu"]) or output_device not in (None, "cpu"):
            raise ValueError("DistributedDataParallel: deepnotes runs on the CPU; pass device_ids=None")
        if dim != 0:
            raise ValueError(f"DistributedDataParallel: the batch dimension must be 0, got dim={dim}")
        if not dist.is_initialized() and process_group is None:
            raise RuntimeError(
                "DistributedDataParallel: the default process group is not initialized; call "
                "deepnotes.distributed.init_process_group() first (under mpiexec)"
            )
        cap = 25 if bucket_cap_mb is None else bucket_cap_mb
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not cap > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        self.module = module
        object.__setattr__(self, "process_group", process_group)
        object.__setattr__(self, "broadcast_buffers", bool(broadcast_buffers))
        object.__setattr__(self, "find_unused_parameters", bool(find_unused_parameters))
        object.__setattr__(self, "bucket_bytes_cap", int(cap * 1024 * 1024))
        object.__setattr__(self, "require_backward_grad_sync", True)
        object.__setattr__(self, "gradient_as_bucket_view", bool(gradient_as_bucket_view))
        object.__setattr__(self, "world_size", dist.get_world_size(process_group))
        self._sync_module_states()
        # parameters in reverse registration order, deduplicated (shared parameters reduce once)
        params, seen = [], set()
        for _, p in module.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        params.reverse()
        object.__setattr__(self, "_params", params)
        object.__setattr__(self, "_buckets", self._build_buckets(params))
        where = {}
        for b in self._buckets:
            for i, p in enumerate(b.params):
                where[id(p)] = (b, i)
        object.__setattr__(self, "_where", where)
        object.__setattr__(self, "_pindex", {id(p): k for k, p in enumerate(params)})
        names = {id(p): n for n, p in module.named_parameters()}
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_ready", set())
        object.__setattr__(self, "_expecting", False)  # a forward with grad ran; its backward will reduce
        object.__setattr__(self, "_used", None)  # ids of parameters in this forward's graph
        object.__setattr__(self, "_next_bucket", 0)
        object.__setattr__(self, "_handles", [p.register_post_accumulate_grad_hook(self._grad_ready) for p in params])
        # measurements for benchmarks: bytes handed to all-reduce and seconds spent waiting for it
        object.__setattr__(self, "comm_stats", {"allreduce_bytes": 0, "wait_seconds": 0.0, "reductions": 0})

    # ------------------------------------------------------------------ setup
    def _sync_module_states(self):
        """Rank 0's parameters and buffers, on every rank."""
        for t in list(self.module.parameters()) + [b for b in self.module.buffers() if b is not None]:
            dist.broadcast(t.data, src=0, group=self.process_group)

    def _build_buckets(self, params):
        buckets, current, size, dtype = [], [], 0, None
        for p in params:
            nbytes = p.data.nbytes
            if current and (p.data.dtype != dtype or size + nbytes > self.bucket_bytes_cap):
                buckets.append(_Bucket(len(buckets), current, dtype))
                current, size = [], 0
            current.append(p)
            size += nbytes
            dtype = p.data.dtype
        if current:
            buckets.append(_Bucket(len(buckets), current, dtype))
        return buckets

    @property
    def bucket_sizes(self):
        """The byte size of each gradient bucket (in the order they are reduced)."""
        return [b.buffer.nbytes for b in self._buckets]

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        if self._expecting:
            missing = [self._names.get(id(p), "?") for p in self._params if id(p) not in self._ready]
            object.__setattr__(self, "_expecting", False)
            raise RuntimeError(
                "DistributedDataParallel: the previous iteration's gradient reduction did not finish: these "
                f"parameters received no gradient in backward: {', '.join(missing[:10])}"
                f"{' ...' if len(missing) > 10 else ''}. If the forward pass does not use every parameter, "
                "wrap with find_unused_parameters=True; make sure the loss of every forward output is "
                "backpropagated"
            )
        if self.broadcast_buffers and self.world_size > 1:
            for b in self.module.buffers():
                if b is not None:
                    dist.broadcast(b.data, src=0, group=self.process_group)
        out = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync and self._params:
            self._prepare_for_backward(out)
        return out

    def _prepare_for_backward(self, out):
        outputs = _tensors_in(out, [])
        if not any(t._requires_grad for t in outputs):
            return
        for b in self._buckets:
            b.pending = len(b.params)
            b.work = None
        self._ready.clear()
        object.__setattr__(self, "_next_bucket", 0)
        object.__setattr__(self, "_expecting", True)
        if self.find_unused_parameters:
            used = _reachable_leaves(outputs)
            object.__setattr__(self, "_used", used)
            for p in self._params:
                if id(p) not in used:
                    self._mark_ready(p, None)
        else:
            object.__setattr__(self, "_used", None)

    # ------------------------------------------------------------------ backward
    def _grad_ready(self, p):
        """Hook: ``p.grad`` holds this backward's complete gradient."""
        if not self.require_backward_grad_sync or not self._expecting or id(p) in self._ready:
            return
        self._mark_ready(p, p.grad.data)

    def _mark_ready(self, p, grad):
        self._ready.add(id(p))
        bucket, i = self._where[id(p)]
        if grad is None:
            bucket.view(i)[...] = 0
        else:
            bucket.view(i)[...] = grad
        bucket.pending -= 1
        # start every bucket that is complete, in bucket order (the same order on every rank)
        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].pending == 0:
            b = self._buckets[self._next_bucket]
            b.work = dist.all_reduce(b.buffer, group=self.process_group, async_op=True)
            self.comm_stats["allreduce_bytes"] += b.buffer.nbytes
            object.__setattr__(self, "_next_bucket", self._next_bucket + 1)
        # give MPI a chance to progress the started reductions while backward runs
        for b in self._buckets[: self._next_bucket]:
            if b.work is not None and not b.work._done:
                b.work.is_completed()
        if len(self._ready) == len(self._params):
            self._finish()

    def _finish(self):
        import time

        t0 = time.perf_counter()
        for b in self._buckets:
            b.work.wait()
        used_anywhere = None
        if self.find_unused_parameters:
            flags = np.array([1 if id(p) in self._used else 0 for p in self._params], dtype=np.int32)
            dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=self.process_group)
            used_anywhere = flags
        self.comm_stats["wait_seconds"] += time.perf_counter() - t0
        self.comm_stats["reductions"] += 1
        scale = 1.0 / self.world_size
        for b in self._buckets:
            b.buffer *= scale
            for i, p in enumerate(b.params):
                if used_anywhere is not None and not used_anywhere[self._pindex[id(p)]]:
                    continue  # no rank used it: its .grad stays as it was (torch)
                avg = b.view(i) if self.gradient_as_bucket_view else b.view(i).copy()
                if p.grad is None:
                    p.grad = Tensor(avg)
                else:
                    p.grad.data = avg
        object.__setattr__(self, "_expecting", False)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this context, backward accumulates local gradients without reducing them."""
        old = self.require_backward_grad_sync
        object.__setattr__(self, "require_backward_grad_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "require_backward_grad_sync", old)

    def extra_repr(self):
        return f"world_size={self.world_size}, buckets={len(self._buckets)}"
