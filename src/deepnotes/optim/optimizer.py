"""``Optimizer``: the base class of every optimizer, with torch's param-group and state_dict layout.

An optimizer holds

* ``param_groups``: a list of dicts, each with a ``"params"`` list of :class:`deepnotes.Tensor`
  leaves plus that group's hyper-parameters (missing ones are filled from ``defaults``);
* ``state``: a ``defaultdict(dict)`` keyed by parameter, holding per-parameter buffers as NumPy
  arrays (``exp_avg``, ``momentum_buffer`` ...) and counters as Python numbers (``step``).

Updates are written into ``p.data`` in place.  Element-wise updates are applied block by block
(``_BLOCK_BYTES`` per operand) through reusable scratch buffers, so one step allocates nothing and
the temporaries of a block stay in the CPU caches.

``state_dict()`` returns ``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``
exactly as torch does (indices count parameters in group order); arrays in it are copies, so the
dict is a snapshot.  ``load_state_dict()`` checks that the dict matches this optimizer's groups and
parameter shapes and raises ``ValueError`` when it does not.
"""

from __future__ import annotations

import copy
import functools
import numbers
from collections import defaultdict
from itertools import chain

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyper-parameter that every param group must specify (torch's ``required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

# Bytes per operand processed per block by the element-wise kernels.  Large tensors are updated in
# blocks so that the 4-7 operands of a block (parameter, gradient, state buffers, scratch) stay in
# the CPU caches while the kernel's ~10 ufuncs pass over them; smaller blocks pay more per-call
# overhead than they save (measured with benchmarks/bench_optim.py).
_BLOCK_BYTES = 1 << 19


class _Workspace:
    """Scratch buffers reused across steps, one pool per dtype (never part of the optimizer state)."""

    def __init__(self):
        self._pools = {}

    def get(self, dtype, size, count):
        dtype = np.dtype(dtype)
        pool = self._pools.get(dtype)
        if pool is None or pool.shape[0] < count or pool.shape[1] < size:
            rows = max(count, 0 if pool is None else pool.shape[0])
            cols = max(size, 0 if pool is None else pool.shape[1])
            pool = np.empty((rows, cols), dtype=dtype)
            self._pools[dtype] = pool
        return [pool[i, :size] for i in range(count)]


def _flat(a):
    """A 1-D view of a C-contiguous array (``None`` passes through); ``None`` if no view exists."""
    if a is None:
        return None
    if a.flags.c_contiguous:
        return a.reshape(-1)
    return False


def lerp_(start, end, weight, tmp):
    """``start.lerp_(end, weight)`` in place, with torch's two-branch formula.

    ``start + weight * (end - start)`` when ``|weight| < 0.5``, else ``end - (end - start) * (1 - weight)``
    (the form that is exact at ``weight = 1``).  ``tmp`` is scratch of the same shape.
    """
    np.subtract(end, start, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        start += tmp
    else:
        tmp *= 1.0 - weight
        np.subtract(end, tmp, out=start)


def _wrap_step(step):
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        self._opt_called = True
        return step(self, *args, **kwargs)

    wrapper._deepnotes_wrapped = True
    return wrapper


def _copy_state_value(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy_state_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_state_value(v) for v in value)
    return value


def _is_number(x):
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of :class:`deepnotes.Tensor` (usually ``model.parameters()``), of
            ``(name, tensor)`` pairs, or of dicts, each dict a param group with a ``"params"`` entry
            and optional per-group hyper-parameters.
        defaults: hyper-parameter defaults used for groups that do not set them.

    Subclasses implement ``step(closure=None)``.
    """

    # State keys whose arrays have the parameter's shape (checked on load_state_dict).
    _param_shaped_state: tuple[str, ...] = ()
    # State keys holding scalars (stored as Python floats).
    _scalar_state: tuple[str, ...] = ("step",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_deepnotes_wrapped", False):
            cls.step = _wrap_step(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._opt_called = False
        self._workspace = _Workspace()
        name = type(self).__name__
        if isinstance(params, (Tensor, np.ndarray)):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got {type(params).__name__}"
            )
        if isinstance(params, dict):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got a single dict; wrap it in a list"
            )
        try:
            param_groups = list(params)
        except TypeError:
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got {type(params).__name__}"
            ) from None
        self.state = defaultdict(dict)
        self.param_groups = []
        if len(param_groups) == 0:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Append a param group (a dict with ``"params"`` and optional hyper-parameters).

        Missing hyper-parameters take this optimizer's defaults.  A parameter may belong to one
        group only.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}.add_param_group: param_group has no 'params' entry")
        param_group = dict(param_group)
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                f"{name}: optimizer parameters need to be organized in ordered "
                "collections, but the ordering of tensors in sets will change between "
                "runs. Please use a list instead."
            )
        else:
            params = list(params)

        tensors, names = [], []
        for item in params:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                names.append(item[0])
                tensors.append(item[1])
            else:
                tensors.append(item)
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    f"{name}: all optimizer params should be with/without names. Some param names are missing"
                )
            param_group["param_names"] = names
        param_group["params"] = tensors

        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: optimizer can only optimize deepnotes Tensors, but one of "
                    f"the params is {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor")
            if p.data.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimize floating-point tensors, got dtype {p.data.dtype}")

        for key, default in self.defaults.items():
            if default is required and key not in param_group:
                raise ValueError(
                    f"{name}: parameter group didn't specify a value of required optimization parameter {key}"
                )
            param_group.setdefault(key, default)
        self._validate_group(param_group)

        ids = {id(p) for p in tensors}
        if len(ids) != len(tensors):
            raise ValueError(f"{name}: a parameter group contains the same parameter twice")
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                kind = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    f"{name}: all optimizer param groups should be with/without names. "
                    f"cannot add param group {kind} to the optimizer"
                )
            if any(id(p) in ids for p in group["params"]):
                raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def _validate_group(self, group):
        """Check a group's hyper-parameters (subclasses extend it; called by add_param_group, so by the
        constructor for every group, and by load_state_dict for every saved group)."""
        if "lr" in group:
            self._check(group["lr"], "learning rate", lambda v: v >= 0, "lr >= 0")

    def _check(self, value, what, ok, expected):
        name = type(self).__name__
        if not _is_number(value):
            raise TypeError(f"{name}: {what} must be a real number, got {value!r} ({type(value).__name__})")
        if value != value or not ok(value):  # NaN is never a valid hyper-parameter
            raise ValueError(f"{name}: Invalid {what}: {value} (expected {expected})")

    def _check_non_negative(self, group, *keys):
        """Each named hyper-parameter of ``group`` must be a number >= 0 (eps, weight_decay, ...)."""
        for key in keys:
            self._check(
                group[key], "epsilon value" if key == "eps" else f"{key} value", lambda v: v >= 0, f"{key} >= 0"
            )

    def _check_betas(self, betas):
        name = type(self).__name__
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            if not _is_number(b):
                raise TypeError(f"{name}: beta parameter at index {i} must be a real number, got {b!r}")
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{name}: Invalid beta parameter at index {i}: {b} (expected 0 <= beta < 1)")

    # ------------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors: to ``None`` (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad.data if isinstance(p.grad, Tensor) else p.grad
                    g[...] = 0

    def _grad(self, p):
        """``p.grad`` as a C-contiguous array of ``p``'s dtype and shape, or ``None``."""
        g = p.grad
        if g is None:
            return None
        if isinstance(g, Tensor):
            g = g.data
        g = np.asarray(g)
        if g.shape != p.data.shape:
            raise ValueError(
                f"{type(self).__name__}.step: gradient has shape {g.shape}, but its parameter has shape {p.data.shape}"
            )
        return np.ascontiguousarray(g, dtype=p.data.dtype)

    def _run_closure(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _foreach_block(self, kernel, arrays, nscratch, **kw):
        """Run ``kernel(*arrays, *scratch, **kw)`` over aligned blocks of same-shaped arrays.

        ``arrays[0]`` is the parameter data; ``None`` entries pass through.  Arrays that are not
        C-contiguous make the kernel run once on the whole arrays with freshly allocated scratch.
        """
        data = arrays[0]
        dtype = data.dtype
        flats = [_flat(a) for a in arrays]
        if any(f is False for f in flats):
            scratch = [np.empty(data.shape, dtype=dtype) for _ in range(nscratch)]
            kernel(*arrays, *scratch, **kw)
            return
        n = data.size
        block = max(1024, _BLOCK_BYTES // dtype.itemsize)
        if n <= block:
            kernel(*flats, *self._workspace.get(dtype, n, nscratch), **kw)
            return
        scratch = self._workspace.get(dtype, block, nscratch)
        for start in range(0, n, block):
            stop = start + block
            if stop > n:
                stop = n
                scratch = [s[: stop - start] for s in scratch]
            kernel(*[None if f is None else f[start:stop] for f in flats], *scratch, **kw)

    def step(self, closure=None):
        """Perform one optimization step (``closure`` re-evaluates the model and returns the loss)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ state dict
    def state_dict(self):
        """A snapshot of the optimizer: ``{"state": {index: {...}}, "param_groups": [...]}``.

        Parameters are replaced by their index (counting through the groups in order); state arrays
        are copied.
        """
        mapping = {}
        groups = []
        start = 0
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {}
        for key, value in self.state.items():
            index = mapping.get(id(key), key) if isinstance(key, Tensor) else key
            state[index] = _copy_state_value(value)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a dict produced by ``state_dict()`` (of an optimizer of the same kind and layout).

        Raises ``ValueError`` when the number of groups, the group sizes, the hyper-parameter keys,
        the parameter indices or the shapes of per-parameter buffers do not match, and ``ValueError``
        / ``TypeError`` when a saved hyper-parameter fails the checks the constructor applies (a NaN
        or negative learning rate, betas outside ``[0, 1)``, a negative ``eps`` ...); nothing is
        loaded then.
        """
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{where}: expected a dict with keys 'state' and 'param_groups', got {got}")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(
                f"{where}: loaded state dict has a different number of parameter "
                f"groups ({len(saved_groups)}) than the optimizer ({len(groups)})"
            )
        for i, (g, sg) in enumerate(zip(groups, saved_groups)):
            if not isinstance(sg, dict) or "params" not in sg:
                raise ValueError(f"{where}: param_groups[{i}] is not a dict with a 'params' entry")
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(
                    f"{where}: loaded state dict contains a parameter group that doesn't "
                    f"match the size of optimizer's group (group {i}: "
                    f"{len(sg['params'])} saved vs {len(g['params'])} parameters)"
                )
            missing = [k for k in self.defaults if k not in sg]
            if missing:
                raise ValueError(
                    f"{where}: param_groups[{i}] lacks hyper-parameters {missing} of "
                    f"{name}; was the state dict saved by another optimizer?"
                )
            # the checks of the constructor and add_param_group: a NaN or negative lr, betas outside
            # [0, 1) ... would otherwise load silently and poison the weights at the next step
            try:
                self._validate_group(sg)
            except (TypeError, ValueError) as err:
                msg = str(err).removeprefix(f"{name}: ")
                raise type(err)(f"{where}: param_groups[{i}]: {msg}") from None
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups), chain.from_iterable(g["params"] for g in groups)
            )
        )
        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key not in id_map:
                raise ValueError(
                    f"{where}: state refers to parameter index {key!r}, which no "
                    f"param group lists (indices: {sorted(id_map)})"
                )
            param = id_map[key]
            if not isinstance(value, dict):
                raise ValueError(f"{where}: state[{key!r}] must be a dict, got {type(value).__name__}")
            state[param] = self._load_param_state(param, value, key, where)
        for g, sg in zip(groups, saved_groups):
            sg["params"] = g["params"]
            if "param_names" in g and "param_names" not in sg:
                sg["param_names"] = g["param_names"]
        self.state = state
        self.param_groups = saved_groups

    def _load_param_state(self, param, value, index, where):
        out = {}
        for k, v in value.items():
            if k in self._scalar_state:
                if isinstance(v, Tensor):
                    v = v.data
                out[k] = float(v)
                continue
            if isinstance(v, Tensor):
                v = v.data
            if k in self._param_shaped_state and v is not None:
                arr = np.asarray(v)
                if arr.shape != param.data.shape:
                    raise ValueError(
                        f"{where}: state[{index}][{k!r}] has shape {arr.shape}, but the "
                        f"parameter has shape {param.data.shape}"
                    )
            out[k] = self._cast_state(param, v)
        return out

    def _cast_state(self, param, v):
        if isinstance(v, Tensor):
            v = v.data
        if isinstance(v, np.ndarray):
            dtype = param.data.dtype if v.dtype.kind == "f" else v.dtype
            return np.array(v, dtype=dtype, order="C", copy=True)
        if isinstance(v, dict):
            return {k: self._cast_state(param, x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return type(v)(self._cast_state(param, x) for x in v)
        return v

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
