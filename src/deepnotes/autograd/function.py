"""The differentiable-operation protocol and the backward pass.

A :class:`Function` has no state of its own between calls (seed 001: a Function defines ``forward`` and
``backward``; a Module holds parameters).  ``Function.apply`` creates a fresh context object per call,
runs ``forward`` on plain NumPy arrays and, when gradients are needed, records the context on the output
tensor.  ``backward`` receives the gradient of the output and returns one gradient per tensor input.

The backward sweep is iterative (an explicit stack, no recursion), so graphs of any depth work, and
gradients of a node used several times (``x * x``, diamonds) are summed before they flow further.
"""

from __future__ import annotations

import functools
import sys
import threading

import numpy as np


class _GradState(threading.local):
    # a class attribute gives every thread the default without a failing attribute lookup
    enabled = True


_state = _GradState()

# Tracing hook (used by deepnotes.onnx.export).  None almost always, so ``Function.apply`` pays one
# global lookup for it.  When set, ``apply`` first calls ``_trace_hook(cls, inputs, kwargs)``: the hook
# may run the call itself (re-entering ``apply``; it then returns None for that inner call) and return
# the output tensor, or return None to let ``apply`` proceed untraced (other threads, nested calls).
_trace_hook = None


def set_trace_hook(hook):
    """Install ``hook`` (or None to remove it) as the tracer of ``Function.apply``; returns the previous
    one so tracers can be restored in a ``finally`` block."""
    global _trace_hook
    previous, _trace_hook = _trace_hook, hook
    return previous


class TensorBase:
    """What the autograd engine knows of a tensor: :class:`deepnotes.Tensor` is its one subclass.

    The dependency runs one way: ``deepnotes.tensor`` imports the primitives in ``deepnotes.ops``, which
    import this module, so this module cannot import ``deepnotes.tensor``.  Instead the engine takes
    the tensor class from the data it is given: ``Function.apply`` builds its output with
    ``type(x)._from_op`` and converts non-tensor operands with ``type(x)._convert``, ``x`` being its
    first tensor operand, and ``run_backward`` builds ``.grad`` with the class of the tensor it fills.
    A subclass provides those two static methods and the attributes ``data``, ``_requires_grad``,
    ``_ctx``, ``_grad``, ``_retains_grad`` and ``_vc``.
    """

    __slots__ = ()

    @staticmethod
    def _from_op(data, ctx):  # pragma: no cover - interface
        raise NotImplementedError

    @staticmethod
    def _convert(value):  # pragma: no cover - interface
        raise NotImplementedError


def _first_tensor(cls, inputs):
    """The first tensor among a Function's inputs (its class builds the output); a TypeError when
    there is none: a primitive needs at least one Tensor operand (the public functions convert)."""
    for t in inputs:
        if isinstance(t, TensorBase):
            return t
    raise TypeError(
        f"{cls.__name__}.apply: expected at least one Tensor input, got "
        f"({', '.join(type(t).__name__ for t in inputs)}); convert with deepnotes.as_tensor first"
    )


# ------------------------------------------------------------------ version counters
# torch's rule against silently wrong gradients: every tensor counts the in-place operations on its
# memory (``Tensor._version``; the counter is shared with its views), a node remembers the versions its
# inputs had at forward time, and backward raises when a tensor whose memory the node saved for backward
# changed meanwhile.  A tensor's counter is ``tensor._vc``: None while nothing needed one (version 0,
# no view shares it), else a one-element list.  The common case costs one ``is None`` per input at
# forward time and per parent at backward time; the saved arrays are only examined after a change.


def _counter(t):
    """The version counter of tensor ``t`` (created on first need), to share with a view."""
    vc = t._vc
    if vc is None:
        vc = t._vc = [0]
    return vc


def _owner(a):
    """The array owning the memory ``a`` looks at (``a`` itself when it owns it)."""
    base = a.base
    while isinstance(base, np.ndarray):
        a, base = base, base.base
    return a


def _share_view_counter(out, inputs):
    """When ``out`` (a new tensor) looks at an input's memory (a NumPy view, or the input's array
    itself), share that input's counter, so an in-place change through either is seen by the other's
    checks (torch's views share their base's counter).  Returns the shared version, or 0."""
    d = out.data
    base = d.base
    for t in inputs:
        a = t.data
        if d is a or (base is not None and (base is a or base is a.base or _owner(d) is _owner(a))):
            vc = out._vc = _counter(t)
            return vc[0]
    return 0


def _versions(inputs):
    """The inputs' versions now (recorded by ``apply`` when any input has a counter)."""
    return tuple([0 if t._vc is None else t._vc[0] for t in inputs])


def _saved_arrays(ctx):
    """The arrays ``ctx`` stored on itself in ``forward`` (directly, or in a tuple or list)."""
    for v in ctx.__dict__.values():
        if type(v) is np.ndarray:
            yield v
        elif type(v) in (tuple, list):
            for w in v:
                if type(w) is np.ndarray:
                    yield w


def _check_versions(ctx, node):
    """Raise when a tensor whose memory ``ctx`` saved for backward (an input, or its output ``node``)
    changed in place since the forward pass.  Inputs whose values backward does not need (add, sum,
    reshape, ...) are not saved, so changing them is harmless and passes, as in torch."""
    before = ctx._input_versions
    checks = [
        (t, 0 if t._vc is None else t._vc[0], 0 if before is None else before[i], f"its input {i}")
        for i, t in enumerate(ctx.parents)
    ]
    checks.append((node, 0 if node._vc is None else node._vc[0], ctx._out_version, "its output"))
    changed = [c for c in checks if c[1] != c[2]]
    if not changed:
        return
    owners = {id(_owner(a)) for a in _saved_arrays(ctx)}
    for t, now, then, what in changed:
        if id(_owner(t.data)) in owners:
            raise RuntimeError(
                f"backward: one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: [{t.data.dtype} tensor of shape {tuple(t.data.shape)}], saved by "
                f"{type(ctx).__name__} as {what}, is at version {now}; expected version {then} instead. "
                "Hint: do the in-place change after backward(), use an out-of-place operation "
                "(x = x + 1 instead of x += 1), or clone() the tensor before the operation that saves it"
            )


def is_grad_enabled() -> bool:
    """True when operations record the graph (outside ``no_grad``)."""
    return _state.enabled


class _GradMode:
    """Sets gradient recording on or off for a ``with`` block or a decorated function."""

    __slots__ = ("enabled", "prev")

    def __init__(self, enabled):
        self.enabled = None if enabled is None else bool(enabled)  # None: keep the current mode
        self.prev = None

    def __enter__(self):
        self.prev = _state.enabled
        if self.enabled is not None:
            _state.enabled = self.enabled
        return self

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False

    def __call__(self, func):
        enabled = self.enabled

        if enabled is None:
            return func

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with _GradMode(enabled):
                return func(*args, **kwargs)

        return wrapper


def no_grad(func=None):
    """Disable graph building: ``with no_grad():``, ``@no_grad`` or ``@no_grad()``."""
    if callable(func):
        return _GradMode(False)(func)
    return _GradMode(False)


def enable_grad(func=None):
    """Re-enable graph building inside a ``no_grad`` region: ``with enable_grad():`` or a decorator."""
    if callable(func):
        return _GradMode(True)(func)
    return _GradMode(True)


def inference_mode(mode=True):
    """Like :func:`no_grad` for inference: ``with inference_mode():``, ``@inference_mode`` or
    ``@inference_mode()``.  ``inference_mode(False)`` leaves the grad mode as it is (torch's meaning).
    deepnotes has no separate inference tensors, so this is graph building switched off."""
    if callable(mode):
        return _GradMode(False)(mode)
    return _GradMode(False if mode else None)


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(mode)`` switches recording at once; as a context manager it restores the
    previous mode on exit (torch's semantics)."""

    __slots__ = ()

    def __init__(self, mode: bool):
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"set_grad_enabled: expected a bool, got {type(mode).__name__}")
        super().__init__(mode)
        self.prev = _state.enabled
        _state.enabled = self.enabled

    def __enter__(self):
        return self

    def __call__(self, func):
        _state.enabled = self.prev  # used as a decorator: the mode applies only inside the call
        return _GradMode(self.enabled)(func)


class Function:
    """Base class of every differentiable primitive.

    Subclasses implement ``forward(self, *arrays, **kwargs) -> ndarray`` and
    ``backward(self, grad) -> ndarray | tuple``; values needed by ``backward`` are stored on ``self``.
    ``self.needs_input_grad`` (a tuple of bools, one per input, all False under ``no_grad``) lets
    ``forward`` skip saving and ``backward`` skip work.  ``backward`` may return ``None`` for an input
    that needs no gradient.  ``backward`` must not modify ``grad`` in place: it may be shared with
    other inputs or be a read-only broadcast view.
    """

    __slots__ = ("parents", "needs_input_grad", "__dict__")
    _released = False  # set on the instance once a backward without retain_graph freed its saved state
    # the output's version at forward time: not 0 only for a view sharing an input's counter (the
    # inputs' versions are in ``_input_versions`` when any input had a counter; else all were 0)
    _out_version = 0
    _input_versions = None

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run ``forward`` on the inputs' arrays and, when any input requires grad (and grad mode is
        on), record this call on the output tensor.  At least one input must be a tensor: the output
        is of its class, and non-tensor inputs (arrays, numbers) are converted with its ``_convert``
        (``deepnotes.as_tensor``); see :class:`TensorBase`."""
        if _trace_hook is not None:  # tracing (ONNX export): the hook records and runs the call
            out = _trace_hook(cls, inputs, kwargs)
            if out is not None:
                return out
        ctx = object.__new__(cls)
        n = len(inputs)
        # one- and two-input calls (almost all of them) avoid building intermediate sequences
        if n == 1:
            a = inputs[0]
            if not isinstance(a, TensorBase):
                _first_tensor(cls, inputs)  # raises: no tensor operand
            Tensor = type(a)
            if _state.enabled and a._requires_grad:
                ctx.needs_input_grad = (True,)
                ctx.parents = inputs
                if a._vc is not None:
                    ctx._input_versions = (a._vc[0],)
                out = Tensor._from_op(ctx.forward(a.data, **kwargs), ctx)
                if (out.data.base is not None or out.data is a.data) and _share_view_counter(out, inputs):
                    ctx._out_version = out._vc[0]
                return out
            ctx.needs_input_grad = (False,)
            out = Tensor._from_op(ctx.forward(a.data, **kwargs), None)
            if out.data.base is not None or out.data is a.data:
                _share_view_counter(out, inputs)
            return out
        if n == 2:
            a, b = inputs
            if isinstance(a, TensorBase):
                Tensor = type(a)
                if not isinstance(b, TensorBase):
                    b = Tensor._convert(b)
                    inputs = (a, b)
            else:
                Tensor = type(_first_tensor(cls, inputs))
                a = Tensor._convert(a)
                inputs = (a, b)
            if _state.enabled:
                needs = (a._requires_grad, b._requires_grad)
                ctx.needs_input_grad = needs
                if needs[0] or needs[1]:
                    ctx.parents = inputs
                    if a._vc is not None or b._vc is not None:
                        ctx._input_versions = _versions(inputs)
                    out = Tensor._from_op(ctx.forward(a.data, b.data, **kwargs), ctx)
                    d = out.data
                    if (d.base is not None or d is a.data or d is b.data) and _share_view_counter(out, inputs):
                        ctx._out_version = out._vc[0]
                    return out
            else:
                ctx.needs_input_grad = (False, False)
            out = Tensor._from_op(ctx.forward(a.data, b.data, **kwargs), None)
            d = out.data
            if d.base is not None or d is a.data or d is b.data:
                _share_view_counter(out, inputs)
            return out
        Tensor = type(_first_tensor(cls, inputs))
        for t in inputs:
            if not isinstance(t, TensorBase):
                inputs = tuple(t if isinstance(t, TensorBase) else Tensor._convert(t) for t in inputs)
                break
        record = False
        if _state.enabled:
            needs = tuple([t._requires_grad for t in inputs])
            record = True in needs
        else:
            needs = (False,) * n
        ctx.needs_input_grad = needs
        if record:
            ctx.parents = inputs
            for t in inputs:
                if t._vc is not None:
                    ctx._input_versions = _versions(inputs)
                    break
        out = Tensor._from_op(ctx.forward(*[t.data for t in inputs], **kwargs), ctx if record else None)
        shared = _share_view_counter(out, inputs)
        if record and shared:
            ctx._out_version = shared
        return out

    def forward(self, *arrays, **kwargs):  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, grad):  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    # The differentiable form of ``backward`` for higher-order gradients (``create_graph=True``):
    # ``backward_graph(self, grad)`` receives the output gradient as a tensor and returns the input
    # gradients as tensors built from recorded operations (on ``self.parents`` and ``grad``), so the
    # backward pass is itself a graph.  None: this primitive supports first-order gradients only.
    backward_graph = None


def _topological_order(roots):
    """Nodes reachable from the tensors ``roots`` through recorded operations, parents before children.

    Iterative depth-first search with an explicit stack, so graphs of any depth need no recursion.
    """
    order, visited = [], set()
    stack = [(root, False) for root in reversed(roots)]
    pop, push = stack.pop, stack.append
    while stack:
        node, expanded = pop()
        if expanded:
            order.append(node)
            continue
        key = id(node)
        if key in visited:
            continue
        visited.add(key)
        push((node, True))
        ctx = node._ctx
        if ctx is not None:
            if ctx._released:
                raise RuntimeError(
                    f"backward: trying to backward through the graph a second time: the values saved by "
                    f"{type(ctx).__name__} were freed by the first backward(); call the first "
                    "backward(retain_graph=True) to backward through the same graph again, or rebuild "
                    "the graph (run the forward pass again)"
                )
            for parent in ctx.parents:
                if parent.requires_grad and id(parent) not in visited:
                    push((parent, False))
    return order


# ------------------------------------------------------------------ adopting leaf gradients
# A leaf's first gradient is stored in ``.grad``.  A backward function may return an array it shares
# (Add returns the incoming gradient for both inputs, a reshape returns a view of it), so the safe default
# is a copy.  When nothing but the backward sweep references the array's memory, though, the copy only
# costs time (a whole pass over an input-sized gradient): such an array is adopted as it is.  Python's
# reference counts decide it; the expected counts are measured once, on arrays passed the same way.


def _ref_counts(a):
    """(references to ``a``, references to the array owning its memory or 0 when ``a`` owns it)."""
    base = a.base
    return sys.getrefcount(a), (0 if base is None else sys.getrefcount(base))


def _probe_ref_counts():
    """The counts :func:`_ref_counts` gives for arrays held by one local variable and nothing else."""
    owner = np.empty(2)
    counts = _ref_counts(owner)  # called as run_backward calls it (operands pending on the stack count)
    owner_refs = counts[0]
    view = np.empty(2).reshape(1, 2)
    counts = _ref_counts(view)
    return owner_refs, counts[1]


_OWNER_REFS, _BASE_REFS = _probe_ref_counts()


def _adoptable(a, counts):
    """True when ``a`` may become a leaf's ``.grad`` without a copy: writeable, C-contiguous, and neither
    it nor the array owning its memory (which it must cover whole) is referenced from anywhere but the
    caller's one local variable.  ``counts`` is ``_ref_counts(a)`` taken in the caller's frame."""
    refs, base_refs = counts
    if refs > _OWNER_REFS or not (a.flags.writeable and a.flags.c_contiguous):
        return False
    base = a.base
    if base is None:
        return True
    return type(base) is np.ndarray and base.base is None and base_refs <= _BASE_REFS and base.size == a.size


def _grad_tensor(node, array):
    """``array`` as the value of ``node.grad``: a tensor (of ``node``'s tensor class) outside the
    graph, sharing the memory."""
    return type(node)._from_op(array, None)


_PLAIN = (bool, int, float, str, type(None), np.generic, np.dtype, type)


def _plain(value):
    """True for configuration (numbers, strings, dtypes, shapes: tuples of those), not saved data."""
    if isinstance(value, _PLAIN):
        return True
    return type(value) in (tuple, list) and all(_plain(v) for v in value)


def _release(ctx):
    """Free what ``ctx`` saved for its backward (arrays and anything else that is not a plain number,
    string or tuple of them: the configuration, like a stride, stays readable).  A node that lost
    something is marked, so a later sweep through it raises; one that saved only configuration
    (a reshape, a transpose, an addition) stays usable, as in torch."""
    saved = ctx.__dict__
    freed = [k for k, v in saved.items() if not _plain(v)]
    for key in freed:
        del saved[key]
    if freed:
        ctx._released = True


# Post-accumulate-grad hooks (torch's ``Tensor.register_post_accumulate_grad_hook``): called with the
# leaf once its ``.grad`` holds every contribution of the current backward sweep (a leaf is visited
# once, after all its consumers).  Keyed by ``id(leaf)``; an entry is removed when its leaf is freed.
# Empty almost always, so the sweep pays one truth test per leaf.  DistributedDataParallel uses it to
# start gradient all-reduces while the rest of the backward pass is still running.
_post_accumulate_grad_hooks = {}


class _PostAccumulateHookHandle:
    """Returned by :func:`register_post_accumulate_grad_hook`; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, key, hook):
        self.key, self.id = key, _PostAccumulateHookHandle._next_id
        _PostAccumulateHookHandle._next_id += 1
        _post_accumulate_grad_hooks.setdefault(key, {})[self.id] = hook

    def remove(self):
        hooks = _post_accumulate_grad_hooks.get(self.key)
        if hooks is not None:
            hooks.pop(self.id, None)
            if not hooks:
                del _post_accumulate_grad_hooks[self.key]


def register_post_accumulate_grad_hook(tensor, hook):
    """Call ``hook(tensor)`` after each backward sweep has accumulated into the leaf ``tensor.grad``."""
    if not callable(hook):
        raise TypeError(f"register_post_accumulate_grad_hook: hook must be callable, got {type(hook).__name__}")
    if tensor._ctx is not None or not tensor._requires_grad:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: only leaf tensors that require grad "
            f"accumulate a gradient; got a tensor of shape {tuple(tensor.data.shape)} "
            f"({'non-leaf' if tensor._ctx is not None else 'requires_grad=False'})"
        )
    import weakref

    key = id(tensor)
    handle = _PostAccumulateHookHandle(key, hook)
    if len(_post_accumulate_grad_hooks[key]) == 1:  # first hook: forget the entry with the tensor
        weakref.finalize(tensor, _post_accumulate_grad_hooks.pop, key, None)
    return handle


def run_backward(root, grad, retain_graph=False):
    """Reverse-mode sweep from ``root`` seeded with ``grad``; leaf gradients accumulate into ``.grad``.

    Every node is processed once, after all of its consumers, so a tensor used several times receives
    the sum of its gradients.  Unless ``retain_graph``, each node's saved arrays are freed once its
    backward has run (torch's semantics): the memory goes back at once, and a second sweep through
    such a node raises instead of silently adding the gradients again.
    """
    order = _topological_order((root,))
    grads = {id(root): grad}
    for node in reversed(order):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        ctx = node._ctx
        if ctx is None:
            if node._requires_grad:
                data = node.data
                if g.dtype != data.dtype:
                    g = g.astype(data.dtype)
                if g.shape != data.shape:
                    g = np.broadcast_to(g, data.shape)
                held = node._grad
                if held is None:
                    counts = _ref_counts(g)  # a statement of its own: see _probe_ref_counts
                    node._grad = _grad_tensor(node, g if _adoptable(g, counts) else np.array(g))
                else:
                    held.data = held.data + g
                if _post_accumulate_grad_hooks:
                    hooks = _post_accumulate_grad_hooks.get(id(node))
                    if hooks:
                        g = None
                        for hook in list(hooks.values()):
                            hook(node)
            continue
        if node._retains_grad:
            held = node._grad
            if held is None:
                node._grad = _grad_tensor(node, np.array(g))
            else:
                held.data = held.data + g
        parents = ctx.parents
        # version check: the common case (no counter moved) costs an ``is None`` per tensor
        vc = node._vc
        if vc is not None and vc[0] != ctx._out_version:
            _check_versions(ctx, node)
        if ctx._input_versions is None:  # every input was at version 0 at forward time
            for parent in parents:
                vc = parent._vc
                if vc is not None and vc[0]:
                    _check_versions(ctx, node)
                    break
        elif _versions(parents) != ctx._input_versions:
            _check_versions(ctx, node)
        in_grads = ctx.backward(g)
        if not retain_graph:
            _release(ctx)
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        if len(in_grads) != len(parents):
            raise RuntimeError(
                f"{type(ctx).__name__}.backward returned {len(in_grads)} gradients for {len(parents)} inputs"
            )
        for parent, pg in zip(parents, in_grads):
            if pg is None or not parent._requires_grad:
                continue
            data = parent.data
            if pg.shape != data.shape:
                raise RuntimeError(
                    f"{type(ctx).__name__}.backward produced a gradient of shape {pg.shape} "
                    f"for an input of shape {data.shape}"
                )
            if pg.dtype != data.dtype:
                pg = pg.astype(data.dtype)
            key = id(parent)
            prev = grads.get(key)
            grads[key] = pg if prev is None else prev + pg
        # drop this step's references, so the gradient arrays are held by ``grads`` alone
        in_grads = pg = prev = g = None


@functools.lru_cache(maxsize=4096)
def _reduced_axes(grad_shape, shape):
    lead = len(grad_shape) - len(shape)
    return tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and grad_shape[i + lead] != 1)


def broadcasting(name):
    """Decorator for the ``forward`` of an op whose array inputs broadcast together: when they do not,
    raise a ValueError naming ``name``, the shapes and the rule (NumPy's own message names neither the
    operation nor the tensors' roles).  The check runs only after a failure: no cost on the hot path."""

    def wrap(forward):
        @functools.wraps(forward)
        def checked(self, *arrays, **kwargs):
            try:
                return forward(self, *arrays, **kwargs)
            except ValueError:
                shapes = [np.shape(a) for a in arrays]
                try:
                    np.broadcast_shapes(*shapes)
                except ValueError:
                    raise ValueError(
                        f"{name}: shapes {', '.join(map(str, shapes))} do not broadcast "
                        "(expected, axis by axis from the right, equal sizes or 1)"
                    ) from None
                raise

        return checked

    return wrap


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the gradient of NumPy broadcasting."""
    if grad.shape == shape:
        return grad
    axes = _reduced_axes(grad.shape, tuple(shape))
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)
