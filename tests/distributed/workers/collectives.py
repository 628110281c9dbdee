"""Worker: every collective on several dtypes and shapes; each rank saves inputs and results."""

import sys

import numpy as np

import deepnotes
import deepnotes.distributed as dist

out = sys.argv[1]
dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(100 + rank)
res = {}
dtypes = {
    "float64": np.float64,
    "float32": np.float32,
    "int64": np.int64,
    "int32": np.int32,
    "uint8": np.uint8,
    "complex128": np.complex128,
}
shapes = [(), (7,), (3, 5), (2, 3, 4)]
for dname, dt in dtypes.items():
    for si, shape in enumerate(shapes):
        if np.dtype(dt).kind in "iu":
            x = np.asarray(rng.integers(0, 5, size=shape)).astype(dt)
        elif np.dtype(dt).kind == "c":
            x = np.asarray(rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
        else:
            x = np.asarray(rng.standard_normal(shape)).astype(dt)
        res[f"in_{dname}_{si}"] = x.copy()
        ops = ["sum", "product", "max", "min"] + (["avg"] if np.dtype(dt).kind in "fc" else [])
        if np.dtype(dt).kind == "c":
            ops = ["sum", "product", "avg"]
        for op in ops:
            t = deepnotes.tensor(x.copy()) if si % 2 else x.copy()  # Tensors and arrays alike
            dist.all_reduce(t, op=op)
            res[f"allreduce_{op}_{dname}_{si}"] = t.data if hasattr(t, "data") and not isinstance(t, np.ndarray) else t
        b = x.copy()
        dist.broadcast(b, src=1)
        res[f"bcast_{dname}_{si}"] = b
        outs = [np.zeros_like(x) for _ in range(world)]
        dist.all_gather(outs, deepnotes.tensor(x.copy()))
        res[f"gather_{dname}_{si}"] = np.stack(outs)
# a non-contiguous tensor (a transposed view) is reduced in place as well
v = rng.standard_normal((4, 6))
res["in_view"] = v.copy()
w = v.T
dist.all_reduce(w)
res["allreduce_view"] = v
# asynchronous all_reduce
a = rng.standard_normal(1000)
res["in_async"] = a.copy()
work = dist.all_reduce(a, op=dist.ReduceOp.AVG, async_op=True)
work.wait()
res["allreduce_async"] = a
# reduce_scatter: input world x (3, 2), output (3, 2)
rs_in = rng.standard_normal((world, 3, 2))
res["in_rs"] = rs_in.copy()
rs_out = np.zeros((3, 2))
dist.reduce_scatter(rs_out, list(rs_in))
res["reduce_scatter"] = rs_out
ag = np.zeros((world * 5,))
dist.all_gather_into_tensor(ag, np.arange(5.0) + 10 * rank)
res["gather_into"] = ag
objs = [None] * world
dist.all_gather_object(objs, {"rank": rank, "name": f"r{rank}"})
res["objects_ok"] = np.array(objs == [{"rank": r, "name": f"r{r}"} for r in range(world)])
errors = []
for bad in (
    lambda: dist.all_reduce(np.arange(3), op=dist.ReduceOp.AVG),
    lambda: dist.all_reduce(np.zeros(3, dtype=np.float16)),
    lambda: dist.all_reduce(np.zeros(3), op="median"),
    lambda: dist.broadcast(np.zeros(3), src=5),
    lambda: dist.all_reduce([1.0, 2.0]),
):
    try:
        bad()
        errors.append("no error")
    except (TypeError, ValueError) as e:
        errors.append(f"{type(e).__name__}: {e}")
res["errors"] = np.array(errors)
dist.barrier()
np.savez(f"{out}/rank{rank}.npz", **res)
dist.destroy_process_group()
