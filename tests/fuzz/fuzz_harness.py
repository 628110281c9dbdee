"""The fuzz harness: one set of checks run against every entry of ``fuzz_registry``.

An :class:`Entry` says, for one public function, how to build valid inputs (a builder that takes a
:class:`Gen`), which call it is compared with (a torch/torchvision oracle taking torch tensors in the
same places), and where the array arguments sit (``floats``: floating-point tensors that are
differentiated and mutated; ``ints``: integer/boolean tensors such as labels and masks).  A position is
an index into the positional arguments, a keyword name, or a tuple path into a list argument
(``(0, 1)``: the second tensor of the list passed first).

The checks (one hypothesis test each, see ``test_fuzz_public_api.py``):

* ``valid``     random valid inputs in float64: values equal torch, gradients too where differentiable;
* ``empty``     a zero-size batch/box dimension: the same result as torch, or a clear error if torch
                also refuses;
* ``nonfinite`` NaN/+inf/-inf planted in the float inputs: the same NaN/inf pattern as torch;
* ``shape``     one array argument with an extra axis, a missing axis, or one side one longer;
* ``dtype``     a float argument given as int64/bool (labels given as floats);
* ``type``      a string or None where an array belongs.

One rule settles every mutated call: when torch raises, deepnotes must raise a *clear error*
(:data:`CLEAR_ERRORS`, message naming the function); when torch accepts the input, deepnotes must
return torch's result or raise a clear error (not for empty inputs, nor for non-finite ones unless the
entry documents rejecting them).  For a dtype mutation that torch refuses, deepnotes may instead
promote to float and must then equal torch on the promoted input.  Any other exception (IndexError,
KeyError, AttributeError, ZeroDivisionError, RecursionError, ...) or a different value fails.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import numpy as np
import torch
from hypothesis import strategies as st

import deepnotes as dn

# ----------------------------------------------------------------------------- the error policy
#: the exception types a public function may raise on bad input; the message must name the function.
#: RecursionError (a RuntimeError subclass) never counts as clear.
CLEAR_ERRORS = (ValueError, TypeError, RuntimeError)


class NotClear(AssertionError):
    pass


#: also clear when torch raises the same type on the same input (an out-of-range ``dim`` is an
#: IndexError in torch), again only with the function's name in the message
CLEAR_IF_TORCH_AGREES = (IndexError,)


def assert_clear_error(exc, entry, what, torch_exc=None):
    """``exc`` is a clear error for ``entry`` on input ``what``; raise an AssertionError otherwise."""
    named = entry.name in str(exc) and not isinstance(exc, RecursionError)
    if named and isinstance(exc, CLEAR_ERRORS):
        return
    if named and isinstance(exc, CLEAR_IF_TORCH_AGREES) and isinstance(torch_exc, type(exc)):
        return
    raise NotClear(
        f"{entry.id}: {what}: expected a ValueError/TypeError/RuntimeError naming "
        f"{entry.name!r}, got {type(exc).__name__}: {exc}"
    ) from exc


# ----------------------------------------------------------------------------- inputs
class Gen:
    """What a builder draws from: sizes through hypothesis (so they shrink), values from a seeded rng.

    ``batch()`` is the dimension the ``empty`` check sets to zero; every entry with ``empty=True`` must
    draw its batch/box count through it.
    """

    def __init__(self, data, empty=False):
        self._draw = data.draw
        self.empty = empty
        self.used_batch = False
        self.rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))

    def batch(self, lo=1, hi=4):
        self.used_batch = True
        return 0 if self.empty else self.int(lo, hi)

    def int(self, lo, hi):
        return self._draw(st.integers(lo, hi))

    def pick(self, options):
        return self._draw(st.sampled_from(list(options)))

    def flag(self):
        return self._draw(st.booleans())

    def arr(self, *shape, lo=-2.0, hi=2.0):
        return self.rng.uniform(lo, hi, shape)

    def normal(self, *shape, scale=1.0):
        return self.rng.standard_normal(shape) * scale

    def pos(self, *shape, lo=0.2, hi=2.0):
        return self.rng.uniform(lo, hi, shape)

    def labels(self, hi, *shape):
        return self.rng.integers(0, hi, shape).astype(np.int64)

    def mask(self, *shape):
        return self.rng.random(shape) < 0.5

    def boxes(self, *lead, scale=20.0):
        """Valid xyxy boxes (x2 > x1, y2 > y1) of shape ``lead + (4,)``."""
        xy = self.rng.uniform(0.0, scale, lead + (2,))
        wh = self.rng.uniform(0.5, scale / 2, lead + (2,))
        return np.concatenate([xy, xy + wh], -1)

    def distinct_scores(self, n):
        return self.rng.permutation(n).astype(np.float64) / max(n, 1) * 0.98 + 0.01


@dataclasses.dataclass
class Entry:
    """One public function under test (see the module docstring)."""

    path: str  # dotted public name, e.g. "deepnotes.nn.functional.conv2d"
    make: Callable  # Gen -> (args list, kwargs dict) of NumPy arrays and plain values
    ref: Callable  # the oracle, called with torch tensors where ``fn`` gets Tensors
    fn: Callable = None  # resolved from ``path`` (override for methods of objects)
    name: str = None  # what an error message must contain (default: last part of path)
    id: str = None  # test id (default: ``name``)
    floats: tuple = (0,)
    ints: tuple = ()
    plain: tuple = ()  # float arrays passed as tensors but not differentiated (running stats, rois)
    as_array: bool = False  # deepnotes gets NumPy arrays (the NumPy-first detection API)
    grad: bool = True
    empty: bool = True
    nonfinite: str = "match"  # "match_or_error": rejecting non-finite input is the documented contract
    rtol: float = 1e-9
    atol: float = 1e-10

    def __post_init__(self):
        if self.fn is None:
            self.fn = resolve(self.path)
        if self.name is None:
            self.name = self.path.rsplit(".", 1)[-1]
        if self.id is None:
            self.id = self.name
        if self.as_array:
            self.grad = False

    @property
    def positions(self):
        return tuple(self.floats) + tuple(self.ints) + tuple(self.plain)


def resolve(path):
    """The object a user reaches by the dotted public ``path`` (so every entry is public API):
    attributes first (``deepnotes.tensor`` is the function, not the module), submodules otherwise."""
    import importlib

    parts = path.split(".")
    obj = importlib.import_module(parts[0])
    for i, attr in enumerate(parts[1:], 1):
        if hasattr(obj, attr):
            obj = getattr(obj, attr)
        else:
            obj = importlib.import_module(".".join(parts[: i + 1]))
    return obj


# ----------------------------------------------------------------------------- argument plumbing
def _has(args, kwargs, pos):
    """Optional keyword tensors (a loss ``weight``) are positions only when the builder drew them."""
    head = pos[0] if isinstance(pos, tuple) else pos
    return head in kwargs if isinstance(head, str) else head < len(args)


def _get(args, kwargs, pos):
    path = pos if isinstance(pos, tuple) else (pos,)
    head, rest = path[0], path[1:]
    obj = kwargs[head] if isinstance(head, str) else args[head]
    for p in rest:
        obj = obj[p]
    return obj


def _set(args, kwargs, pos, value):
    path = pos if isinstance(pos, tuple) else (pos,)
    if len(path) == 1:
        if isinstance(path[0], str):
            kwargs[path[0]] = value
        else:
            args[path[0]] = value
        return
    parent = _get(args, kwargs, path[:-1])
    parent[path[-1]] = value


def _convert(entry, args, kwargs, side, grad):
    """Copies of ``args``/``kwargs`` for ``side`` ("dn" or "torch"), with the leaves to differentiate."""
    args, kwargs = copy.deepcopy(list(args)), copy.deepcopy(dict(kwargs))
    leaves = {}
    for pos in entry.positions:
        if not _has(args, kwargs, pos):
            continue
        a = np.array(_get(args, kwargs, pos), copy=True)
        want = grad and pos in entry.floats and a.dtype.kind == "f"
        if side == "torch":
            t = torch.from_numpy(a)
            if want:
                t.requires_grad_(True)
        elif entry.as_array:
            t = a
        else:
            t = dn.Tensor(a, requires_grad=want)
        if want:
            leaves[pos] = t
        _set(args, kwargs, pos, t)
    return args, kwargs, leaves


def flat(out):
    """Every array in a result (Tensor, torch tensor, ndarray, number, nested tuple) as ndarrays."""
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in flat(o)]
    if isinstance(out, dn.Tensor):
        return [np.asarray(out.data)]
    if isinstance(out, torch.Tensor):
        return [out.detach().numpy()]
    if out is None:
        return []
    return [np.asarray(out)]


def _first_float(out):
    if isinstance(out, (tuple, list)):
        for o in out:
            f = _first_float(o)
            if f is not None:
                return f
        return None
    if isinstance(out, (dn.Tensor, torch.Tensor)) and out.requires_grad:
        return out
    return None


def call(entry, args, kwargs, side, grad=False):
    """(result, leaves, exception): exactly one of result/exception is meaningful."""
    a, k, leaves = _convert(entry, args, kwargs, side, grad)
    try:
        with np.errstate(all="ignore"):
            out = (entry.ref if side == "torch" else entry.fn)(*a, **k)
    except Exception as exc:  # noqa: BLE001 - every exception is judged by the policy above
        return None, leaves, exc
    return out, leaves, None


def _kind(a):
    return "f" if a.dtype.kind in "fc" else ("b" if a.dtype.kind == "b" else "i")


def assert_same(entry, got, want, what, kinds=True):
    """deepnotes' result equals torch's: same arrays, shapes, dtype kinds, NaN/inf pattern, values."""
    g, w = flat(got), flat(want)
    assert len(g) == len(w), f"{entry.id}: {what}: {len(g)} result arrays, torch gives {len(w)}"
    for i, (a, b) in enumerate(zip(g, w)):
        tag = f"{entry.id}: {what}: result {i}"
        assert a.shape == b.shape, f"{tag}: shape {a.shape}, torch {b.shape}"
        assert not kinds or _kind(a) == _kind(b), f"{tag}: dtype {a.dtype}, torch {b.dtype}"
        if _kind(a) != "f" and _kind(b) != "f":
            np.testing.assert_array_equal(a, b, err_msg=tag)
            continue
        a, b = a.astype(np.result_type(a.dtype, np.float16)), b.astype(np.result_type(b.dtype, np.float16))
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{tag}: NaN pattern")
        np.testing.assert_array_equal(np.isposinf(a), np.isposinf(b), err_msg=f"{tag}: +inf pattern")
        np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b), err_msg=f"{tag}: -inf pattern")
        low = max(np.finfo(a.dtype).eps, np.finfo(b.dtype).eps) if a.size else 0
        rtol, atol = (entry.rtol, entry.atol) if low < 1e-10 else (2e-5, 1e-6)
        fin = np.isfinite(a) & np.isfinite(b)
        np.testing.assert_allclose(a[fin], b[fin], rtol=rtol, atol=atol, err_msg=tag)


def _grads(entry, got, want, dn_leaves, t_leaves, rng, what):
    out_d, out_t = _first_float(got), _first_float(want)
    assert (out_d is None) == (out_t is None), f"{entry.id}: {what}: differentiable output mismatch"
    if out_t is None:
        return
    w = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.from_numpy(w))
    out_d.backward(gradient=w)
    for pos, t in t_leaves.items():
        gd = dn_leaves[pos].grad
        gt = t.grad
        gd = np.zeros(t.shape) if gd is None else np.asarray(gd)
        gt = np.zeros(t.shape) if gt is None else gt.numpy()
        assert gd.shape == gt.shape, f"{entry.id}: {what}: grad of {pos} shape {gd.shape}, torch {gt.shape}"
        np.testing.assert_allclose(
            gd,
            gt,
            rtol=max(entry.rtol, 1e-8),
            atol=max(entry.atol, 1e-9),
            err_msg=f"{entry.id}: {what}: gradient of argument {pos}",
        )


# ----------------------------------------------------------------------------- the checks
def _judge(entry, args, kwargs, what, allow_refusal=True, promoted=None):
    """The one rule for mutated inputs (module docstring); returns (deepnotes, torch) results or None.

    ``promoted``: for a dtype mutation, the (args, kwargs) with that argument cast back to float64.
    torch refuses many mixed-dtype calls that deepnotes answers by promoting to float; that answer
    is accepted when it equals torch's on the promoted input (a value, never a wrong one).
    """
    want, _, t_exc = call(entry, args, kwargs, "torch")
    got, _, d_exc = call(entry, args, kwargs, "dn")
    if t_exc is not None:
        if d_exc is None:
            if promoted is not None:
                want_f, _, tf_exc = call(entry, *promoted, "torch")
                if tf_exc is None:
                    assert_same(
                        entry,
                        got,
                        want_f,
                        what + f" (promoted to float64; torch refuses it with {type(t_exc).__name__}: {t_exc})",
                        kinds=False,
                    )
                    return None
            raise AssertionError(
                f"{entry.id}: {what}: torch raises {type(t_exc).__name__}: {t_exc}; "
                f"deepnotes returned a value instead of a clear error"
            )
        assert_clear_error(d_exc, entry, what, t_exc)
        return None
    if d_exc is not None:
        if not allow_refusal:
            raise AssertionError(
                f"{entry.id}: {what}: torch accepts it, deepnotes raised {type(d_exc).__name__}: {d_exc}"
            ) from d_exc
        assert_clear_error(d_exc, entry, what)
        return None
    assert_same(entry, got, want, what)
    return got, want


def check_valid(entry, data):
    g = Gen(data)
    args, kwargs = entry.make(g)
    want, t_leaves, t_exc = call(entry, args, kwargs, "torch", grad=entry.grad)
    if t_exc is not None:
        raise AssertionError(f"{entry.id}: registry bug, the oracle rejects the valid input: {t_exc!r}")
    got, d_leaves, d_exc = call(entry, args, kwargs, "dn", grad=entry.grad)
    if d_exc is not None:
        raise AssertionError(f"{entry.id}: valid input: raised {type(d_exc).__name__}: {d_exc}") from d_exc
    assert_same(entry, got, want, "valid input")
    if entry.grad:
        _grads(entry, got, want, d_leaves, t_leaves, g.rng, "valid input")


def check_empty(entry, data):
    g = Gen(data, empty=True)
    args, kwargs = entry.make(g)
    assert g.used_batch, f"{entry.id}: registry bug, the builder never draws g.batch()"
    _judge(entry, args, kwargs, "empty input", allow_refusal=False)


_SPECIALS = (np.nan, np.inf, -np.inf)


def check_nonfinite(entry, data):
    g = Gen(data)
    args, kwargs = entry.make(g)
    targets = [p for p in entry.floats if _has(args, kwargs, p) and np.size(_get(args, kwargs, p))]
    if not targets:
        return
    pos = g.pick(targets)
    a = np.array(_get(args, kwargs, pos), dtype=np.float64, copy=True)
    flat_a = a.reshape(-1)
    for _ in range(g.int(1, min(3, flat_a.size))):
        flat_a[g.int(0, flat_a.size - 1)] = g.pick(_SPECIALS)
    _set(args, kwargs, pos, a)
    _judge(
        entry, args, kwargs, f"non-finite values in argument {pos}", allow_refusal=entry.nonfinite == "match_or_error"
    )


def _mutate_shape(g, a):
    kinds = ["extra_axis"] + (["missing_axis", "longer_axis"] if a.ndim else [])
    kind = g.pick(kinds)
    if kind == "extra_axis":
        return np.repeat(a[None], g.int(1, 2), axis=0), f"an extra leading axis, shape {a.shape}->"
    if kind == "missing_axis":
        axis = g.int(0, a.ndim - 1)
        if a.shape[axis] == 0:
            return np.sum(a, axis=axis), "a missing axis"
        return np.take(a, 0, axis=axis), "a missing axis"
    axis = g.int(0, a.ndim - 1)
    extra = (
        np.take(a, [0], axis=axis) if a.shape[axis] else np.zeros(a.shape[:axis] + (1,) + a.shape[axis + 1 :], a.dtype)
    )
    return np.concatenate([a, extra], axis=axis), f"axis {axis} one longer"


def check_shape(entry, data):
    g = Gen(data)
    args, kwargs = entry.make(g)
    pos = g.pick([p for p in entry.positions if _has(args, kwargs, p)])
    a = np.asarray(_get(args, kwargs, pos))
    b, how = _mutate_shape(g, a)
    _set(args, kwargs, pos, b)
    _judge(entry, args, kwargs, f"argument {pos} with {how} (shape {a.shape} -> {b.shape})")


def check_dtype(entry, data):
    g = Gen(data)
    args, kwargs = entry.make(g)
    pos = g.pick([p for p in entry.positions if _has(args, kwargs, p)])
    a = np.asarray(_get(args, kwargs, pos))
    if pos not in entry.ints:
        to = g.pick(["int64", "bool"])
        b = np.round(a * 2).astype(np.int64) if to == "int64" else a > 0
    else:
        to = "float64"
        b = a.astype(np.float64)
    promoted = (copy.deepcopy(args), copy.deepcopy(kwargs))
    _set(*promoted, pos, b.astype(np.float64))
    _set(args, kwargs, pos, b)
    _judge(entry, args, kwargs, f"argument {pos} as {to}", promoted=promoted)


def check_type(entry, data):
    """A non-array object (a string, None) where an array belongs: torch raises, deepnotes must too."""
    g = Gen(data)
    args, kwargs = entry.make(g)
    pos = g.pick([p for p in entry.positions if _has(args, kwargs, p)])
    bad = g.pick(["not an array", None])
    _set(args, kwargs, pos, bad)
    positions = entry.positions
    entry_pos = dataclasses.replace(entry, floats=(), ints=(), plain=tuple(p for p in positions if p != pos))
    _judge(entry_pos, args, kwargs, f"argument {pos} = {bad!r}")
