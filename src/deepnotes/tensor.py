"""``Tensor``: a NumPy array that remembers how it was made, so gradients can flow back through it.

Type promotion follows torch: tensors with dimensions decide the result category (bool < integer <
floating); zero-dimensional tensors and Python scalars only raise the category, never the precision
(``float32 tensor * 2.5`` stays float32, ``int tensor / int`` gives the default float dtype).

Why this file is long (about 1.6k lines, over the ~800-line guideline of docs/architecture.md): it is
one concept, the Tensor class, whose methods (operators, views and indexing, reductions, in-place
updates, dtype conversion, backward) must all live on the class, and the torch-style free functions
at the bottom (``as_tensor``, ``full``, ``where``, ``cat``, ``add``, ...) are both its public
functional forms and helpers its methods call.  Moving the functions out would make that module and
this one import each other, and moving methods out would mean attaching them to the class at import
time (both forbidden by the layer rules) or mixin classes spreading one concept over several files.  The math of
every differentiable operation is not here:
it is in ``deepnotes.ops`` (one file per family), which this module only calls.
"""

from __future__ import annotations

import builtins as _builtins
import operator as _operator

import numpy as np

from . import devices as _device
from .amp import _autocast
from .autograd import function as _function
from .autograd.differentiate import sweep as _sweep
from .autograd.function import Function, TensorBase, is_grad_enabled, run_backward
from .ops import arithmetic as A
from .ops import elementwise as E
from .ops import reduction as R
from .ops import shape as S

float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8
bool_ = np.bool_

_default_dtype = [np.float32]
_NUMERIC_KINDS = frozenset("biufc")
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_SCALAR_TYPES = (int, float, bool, complex, np.generic)


def get_default_dtype():
    """The floating dtype of tensors built from Python floats (float32 unless changed)."""
    return _default_dtype[0]


def set_default_dtype(dtype):
    """Set the floating dtype of tensors built from Python floats (float32 unless changed)."""
    dtype = np.dtype(dtype).type
    if dtype not in (np.float16, np.float32, np.float64):
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default_dtype[0] = dtype


def _np_dtype(dtype, name):
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: {dtype!r} is not a dtype; expected e.g. deepnotes.float32") from None


def _to_array(data, dtype=None, name="tensor"):
    """``data`` as a numeric ndarray (no copy for arrays); Python floats become the default dtype."""
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, np.generic):
        arr = np.asarray(data)  # a NumPy scalar keeps its dtype, as torch.tensor(np.float64(1)) does
    else:
        if isinstance(data, (list, tuple)) and _builtins.any(isinstance(d, Tensor) for d in data):
            data = [d.data if isinstance(d, Tensor) else d for d in data]
        try:
            arr = np.asarray(data)
        except (ValueError, TypeError) as exc:
            raise TypeError(
                f"{name}: cannot build a tensor from this {type(data).__name__}: expected "
                f"numbers or equally long nested sequences of numbers ({exc})"
            ) from None
        if dtype is None and arr.dtype.kind == "f":
            arr = arr.astype(get_default_dtype(), copy=False)
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{name}: expected numeric data (bool, integer or floating), got an array of "
            f"dtype {arr.dtype}" + (" (object arrays are not supported)" if arr.dtype.kind == "O" else "")
        )
    if dtype is not None:
        dt = _np_dtype(dtype, name)
        if dt.kind not in _NUMERIC_KINDS:
            raise TypeError(f"{name}: expected a numeric dtype, got {dt}")
        arr = arr.astype(dt, copy=False)
    return arr


def _scalar_like(value, ref):
    """A Python/NumPy scalar as a 0-d array of the dtype torch gives ``ref op value``."""
    kind = ref.dtype.kind
    if kind in "fc":
        return np.asarray(value, dtype=ref.dtype)
    if isinstance(value, (float, np.floating)):
        return np.asarray(value, dtype=get_default_dtype())
    if isinstance(value, (complex, np.complexfloating)):
        return np.asarray(value)
    if isinstance(value, (bool, np.bool_)):
        return np.asarray(value, dtype=ref.dtype)
    if kind in "iu":
        # wraps around like torch for values outside the range of the tensor's integer type
        return np.asarray(np.int64(value)).astype(ref.dtype)
    return np.asarray(value, dtype=np.int64)


def _promote_pair(d1, d2):
    """torch.promote_types: across categories the higher category's dtype wins (int64 + float16 ->
    float16); within one category NumPy's rule (int8 + uint8 -> int16, float16 + float32 -> float32)."""
    if d1 == d2:
        return d1
    c1, c2 = _CATEGORY[d1.kind], _CATEGORY[d2.kind]
    if c1 != c2:
        return d1 if c1 > c2 else d2
    return np.promote_types(d1, d2)


def _result_dtype(a, b):
    """Result dtype of a binary op on arrays ``a``, ``b``: a zero-dimensional operand only matters when
    it is of a higher category than the dimensioned one."""
    za, zb = a.ndim == 0, b.ndim == 0
    if za == zb:
        return _promote_pair(a.dtype, b.dtype)
    dim, zero = (b.dtype, a.dtype) if za else (a.dtype, b.dtype)
    return dim if _CATEGORY[dim.kind] >= _CATEGORY[zero.kind] else zero


class IntegerDivisionByZero(ZeroDivisionError, RuntimeError):
    """Integer ``//`` or ``%`` by zero: a ZeroDivisionError, and a RuntimeError as torch raises."""


def _integer_safe(op, a, b, name):
    """``op(a, b)`` for floor division / remainder; integer operands may not divide by zero (NumPy
    would return 0 with a warning, torch raises)."""
    if a.dtype.kind in "iub" and b.dtype.kind in "iub" and not b.all():
        raise IntegerDivisionByZero(
            f"{name}: integer division by zero (the divisor holds a 0); convert to a floating dtype for inf/nan results"
        )
    with np.errstate(divide="ignore", invalid="ignore"):  # floating: inf / nan, silently as torch
        return op(a, b)


_new_tensor = object.__new__


class Tensor(TensorBase):
    """An n-dimensional array with reverse-mode automatic differentiation.

    ``data`` is the underlying ``numpy.ndarray``; ``grad`` holds the accumulated gradient of a leaf
    after ``backward()``; ``requires_grad`` marks tensors whose gradient is wanted (floating only).

    ``_version`` counts the in-place operations on the tensor (``add_``, ``t[i] = v``, ``zero_``, ...),
    as in torch; a tensor and the views made from it (reshape, view, indexing, transpose, expand,
    detach) share one counter.  An operation that saved a tensor for its backward records the version,
    and backward raises a RuntimeError when it changed meanwhile, instead of silently using the new
    values.  Writing to the NumPy array itself (``t.data[...] = v``, ``t.data = arr``, or the array
    returned by ``numpy()``) bypasses the counter, as ``.data`` does in torch: the escape hatch for
    updates that must not invalidate a graph (the optimizers update ``p.data`` this way, after backward).
    Tensors sharing memory without a view relation (``Tensor(t)``, two ``from_numpy`` of one array) have
    separate counters.
    """

    __slots__ = ("data", "_grad", "_requires_grad", "_ctx", "_retains_grad", "_vc", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, requires_grad=False):
        if dtype is None and isinstance(data, (list, tuple)):
            dtype = get_default_dtype()  # torch.Tensor([1, 2]) holds floats; deepnotes.tensor keeps ints
        self.data = _to_array(data, dtype)
        self._grad = None
        self._ctx = None
        self._retains_grad = False
        self._requires_grad = False
        self._vc = None
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _from_op(data, ctx):
        """A tensor made by an operation: ``ctx`` is its recorded Function (None outside the graph)."""
        t = _new_tensor(Tensor)
        t.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        t._grad = None
        t._ctx = ctx
        t._retains_grad = False
        t._requires_grad = ctx is not None
        t._vc = None
        return t

    @staticmethod
    def _convert(value):
        """A non-tensor operand of a Function (array, number) as a Tensor; the autograd engine calls it
        through the class of a tensor operand (see ``autograd.function.TensorBase``)."""
        return as_tensor(value)

    # ----------------------------------------------------------------- version counter
    # ``_vc`` is None until needed (version 0, no view shares it), else a one-element list holding the
    # version, shared by a tensor and its views.  Autograd reads it through ``_function._counter``.
    @property
    def _version(self):
        """How many in-place operations changed this tensor (or a view sharing its memory)."""
        vc = self._vc
        return 0 if vc is None else vc[0]

    def _bump_version(self):
        """Record one in-place change of this tensor's memory (shared with its views)."""
        vc = self._vc
        if vc is None:
            self._vc = [1]
        else:
            vc[0] += 1

    # ----------------------------------------------------------------- basic properties
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype.type

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def device(self):
        """Always ``deepnotes.device("cpu")``: tensors live in NumPy memory."""
        return _device.CPU

    @property
    def is_cuda(self):
        return False

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self):
        return self.data.ndim

    def numel(self):
        return int(self.data.size)

    def element_size(self):
        return self.data.itemsize

    def is_floating_point(self):
        return self.data.dtype.kind == "f"

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.data.shape[0]):
            yield self[i]

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != get_default_dtype() and self.data.dtype.kind == "f":
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}Backward>"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(
                f"bool(): the truth value of a tensor with {self.data.size} elements is "
                "ambiguous; expected exactly one element"
            )
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.data.reshape(()))

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    # ----------------------------------------------------------------- autograd
    @property
    def grad(self):
        """The accumulated gradient: a Tensor of this tensor's shape outside the graph, or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                if not isinstance(value, np.ndarray):
                    raise TypeError(f"grad: expected a Tensor, a numpy.ndarray or None, got {type(value).__name__}")
                value = Tensor._from_op(value, None)
            if value.data.shape != self.data.shape:
                raise ValueError(
                    f"grad: attempting to assign a gradient of size {value.data.shape} to a "
                    f"tensor of size {self.data.shape}; they must be the same"
                )
        self._grad = value

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients, got "
                f"dtype {self.data.dtype}; convert with .float() or .double() first"
            )
        if self._ctx is not None and not requires_grad:
            raise RuntimeError("requires_grad_: cannot switch off gradients of a non-leaf tensor; use detach()")
        self._requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        self._retains_grad = True
        return self

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` once each backward sweep has accumulated into this leaf's ``.grad``
        (torch's method; returns a handle whose ``remove()`` unregisters it)."""
        return _function.register_post_accumulate_grad_hook(self, hook)

    @property
    def retains_grad(self):
        return self._retains_grad

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires gradients.

        ``gradient`` (same shape as self) seeds the sweep; it may be omitted for one-element tensors.
        As in torch, the values the graph saved for backward are freed afterwards, so a second
        ``backward`` through it raises, unless this call passes ``retain_graph=True`` (which defaults
        to ``create_graph``).  With ``create_graph=True`` the backward pass is itself recorded: the
        gradients put into ``.grad`` are graph tensors that can be differentiated again (see
        ``deepnotes.autograd.grad``).  ``inputs`` (tensors) restricts the accumulation to them.
        """
        if not self._requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: gradient can be implicitly created only for scalar "
                    f"outputs, got shape {self.shape}; pass gradient="
                )
            g = np.ones(self.data.shape, dtype=self.data.dtype)
        else:
            g = _to_array(gradient, self.data.dtype, "backward")
            if g.shape != self.data.shape:
                raise ValueError(f"backward: gradient has shape {g.shape}, expected {self.shape}")
        retain = bool(create_graph if retain_graph is None else retain_graph)
        if not create_graph and inputs is None:
            run_backward(self, g, retain)
            return
        if inputs is not None:
            inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
            if not inputs:
                raise RuntimeError("backward: inputs argument was passed as an empty sequence")
            for i, t in enumerate(inputs):
                if not isinstance(t, Tensor) or not t._requires_grad:
                    raise RuntimeError(f"backward: input {i} passed in inputs= does not require grad")
        if create_graph:
            g = (
                gradient
                if isinstance(gradient, Tensor) and gradient.data.dtype == g.dtype
                else Tensor._from_op(g, None)
            )
        _sweep([self], [g], retain_graph=retain, create_graph=bool(create_graph), inputs=inputs)

    def detach(self):
        """The same data, cut from the graph (shares memory and the version counter)."""
        t = Tensor._from_op(self.data, None)
        t._vc = _function._counter(self)
        return t

    def detach_(self):
        self._ctx = None
        self._requires_grad = False
        return self

    def zero_(self):
        self.data[...] = 0
        self._bump_version()
        return self

    def fill_(self, value):
        self.data[...] = value.data if isinstance(value, Tensor) else value
        self._bump_version()
        return self

    def copy_(self, src):
        self.data[...] = _to_array(src, name="copy_")
        self._bump_version()
        return self

    def numpy(self):
        if self._requires_grad:
            raise RuntimeError("numpy(): call detach() first on a tensor that requires grad, or use .data")
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python scalar, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.data.tolist()

    def clone(self):
        return S.Clone.apply(self)

    def contiguous(self):
        """This tensor when its memory is already in row-major order, else a row-major copy (in the
        graph), so ``.contiguous().view(...)`` works as in torch."""
        if self.data.flags.c_contiguous:
            return self
        return S.Clone.apply(self)

    def is_contiguous(self):
        return bool(self.data.flags.c_contiguous)

    def cpu(self):
        return self

    def cuda(self, device=None, non_blocking=False):
        raise _device.DeviceError(
            "cuda: deepnotes runs on the CPU only, so tensors cannot move to a GPU; "
            "keep them on 'cpu' (deepnotes.cuda.is_available() is False)"
        )

    # ----------------------------------------------------------------- dtype conversions
    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """``to(dtype)``, ``to(device)``, ``to(other_tensor)``; only the CPU device exists."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.data.dtype
            elif isinstance(a, (str, _device.device)):
                device = a
            else:
                dtype = a
        if device is not None:
            _device.check_device(device, "to")
        if dtype is None:
            return Tensor._from_op(self.data.copy(), None) if copy and not self._requires_grad else self
        dt = _np_dtype(dtype, "to")
        if dt == self.data.dtype and not copy:
            return self
        if self._requires_grad and dt.kind in "fc":
            return _Cast.apply(self, dtype=dt)
        return Tensor._from_op(self.data.astype(dt), None)

    def type(self, dtype=None):
        if dtype is None:
            return f"deepnotes.{self.data.dtype.name}"
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.data.dtype)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def half(self):
        return self.to(np.float16)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    # ----------------------------------------------------------------- arithmetic
    def _other(self, other):
        if isinstance(other, Tensor):
            return other
        if isinstance(other, _SCALAR_TYPES):
            return Tensor._from_op(_scalar_like(other, self.data), None)
        return Tensor._from_op(_to_array(other), None)

    def _promote(self, other):
        """``(self, other)`` as tensors of the common dtype torch's type promotion gives."""
        da = self.data.dtype
        if isinstance(other, Tensor):
            b = other
        elif isinstance(other, _SCALAR_TYPES):
            arr = _scalar_like(other, self.data)
            if arr.dtype != da:
                dt = _result_dtype(self.data, arr)
                return self.to(dt), Tensor._from_op(arr.astype(dt, copy=False), None)
            return self, Tensor._from_op(arr, None)
        else:
            b = Tensor._from_op(_to_array(other), None)
        db = b.data.dtype
        if da == db:
            return self, b
        dt = _result_dtype(self.data, b.data)
        return (self if da == dt else self.to(dt)), (b if db == dt else b.to(dt))

    def _float_operands(self, other, name):
        a, b = self._promote(other)
        if a.data.dtype.kind not in "fc":
            dt = get_default_dtype()
            a, b = a.to(dt), b.to(dt)
        return a, b

    def __add__(self, other):
        return A.Add.apply(*self._promote(other))

    def __radd__(self, other):
        b, a = self._promote(other)
        return A.Add.apply(a, b)

    def __sub__(self, other):
        return A.Sub.apply(*self._promote(other))

    def __rsub__(self, other):
        b, a = self._promote(other)
        return A.Sub.apply(a, b)

    def __mul__(self, other):
        return A.Mul.apply(*self._promote(other))

    def __rmul__(self, other):
        b, a = self._promote(other)
        return A.Mul.apply(a, b)

    def __truediv__(self, other):
        return A.Div.apply(*self._float_operands(other, "div"))

    def __rtruediv__(self, other):
        b, a = self._float_operands(other, "div")
        return A.Div.apply(a, b)

    def __pow__(self, other):
        return A.Pow.apply(*self._promote(other))

    def __rpow__(self, other):
        b, a = self._promote(other)
        return A.Pow.apply(a, b)

    def __neg__(self):
        if self.data.dtype == np.bool_:
            raise TypeError("neg: negation of a bool tensor is not supported; use ~ (logical not)")
        return A.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return E.Abs.apply(self)

    def __matmul__(self, other):
        return A.MatMul.apply(*_autocast(*self._promote(other)))

    def __rmatmul__(self, other):
        b, a = self._promote(other)
        return A.MatMul.apply(*_autocast(a, b))

    def __floordiv__(self, other):
        a, b = self._promote(other)
        return Tensor._from_op(_integer_safe(np.floor_divide, a.data, b.data, "floor_divide"), None)

    def __rfloordiv__(self, other):
        b, a = self._promote(other)
        return Tensor._from_op(_integer_safe(np.floor_divide, a.data, b.data, "floor_divide"), None)

    def __mod__(self, other):
        a, b = self._promote(other)
        return Tensor._from_op(_integer_safe(np.mod, a.data, b.data, "remainder"), None)

    def __rmod__(self, other):
        b, a = self._promote(other)
        return Tensor._from_op(_integer_safe(np.mod, a.data, b.data, "remainder"), None)

    add = __add__
    sub = subtract = __sub__
    mul = multiply = __mul__
    div = divide = true_divide = __truediv__
    pow = __pow__
    neg = negative = __neg__
    matmul = __matmul__

    def mm(self, other):
        o = _t(other)
        if self.ndim != 2 or o.ndim != 2 or self.shape[1] != o.shape[0]:
            raise ValueError(f"mm: expected matrices of shapes (n, k) and (k, m), got {self.shape} and {o.shape}")
        return self @ other

    def bmm(self, other):
        o = _t(other)
        if self.ndim != 3 or o.ndim != 3 or self.shape[0] != o.shape[0] or self.shape[2] != o.shape[1]:
            raise ValueError(
                f"bmm: expected batches of matrices of shapes (b, n, k) and (b, k, m), got {self.shape} and {o.shape}"
            )
        return self @ other

    # in-place arithmetic: only on tensors outside the graph (parameter updates under no_grad)
    def _inplace(self, op, other, name):
        if self._requires_grad and is_grad_enabled():
            raise RuntimeError(f"{name}: in-place operation on a tensor that requires grad; wrap it in no_grad()")
        op(self.data, self._other(other).data, out=self.data, casting="unsafe")
        self._bump_version()
        return self

    def __iadd__(self, other):
        return self._inplace(np.add, other, "add_")

    def __isub__(self, other):
        return self._inplace(np.subtract, other, "sub_")

    def __imul__(self, other):
        return self._inplace(np.multiply, other, "mul_")

    def __itruediv__(self, other):
        return self._inplace(np.true_divide, other, "div_")

    def add_(self, other, alpha=1):
        return self._inplace(np.add, self._other(other).data * alpha if alpha != 1 else other, "add_")

    def sub_(self, other, alpha=1):
        return self._inplace(np.subtract, self._other(other).data * alpha if alpha != 1 else other, "sub_")

    def mul_(self, other):
        return self._inplace(np.multiply, other, "mul_")

    def div_(self, other):
        return self._inplace(np.true_divide, other, "div_")

    # ----------------------------------------------------------------- comparisons (no gradient)
    def _compare(self, op, other):
        a, b = self._promote(other)
        return Tensor._from_op(op(a.data, b.data), None)

    def __eq__(self, other):
        if other is None:
            return False
        return self._compare(np.equal, other)

    def __ne__(self, other):
        if other is None:
            return True
        return self._compare(np.not_equal, other)

    def __lt__(self, other):
        return self._compare(np.less, other)

    def __le__(self, other):
        return self._compare(np.less_equal, other)

    def __gt__(self, other):
        return self._compare(np.greater, other)

    def __ge__(self, other):
        return self._compare(np.greater_equal, other)

    def __and__(self, other):
        return self._compare(np.bitwise_and, other)

    def __or__(self, other):
        return self._compare(np.bitwise_or, other)

    def __xor__(self, other):
        return self._compare(np.bitwise_xor, other)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        return Tensor._from_op(~self.data, None)

    __hash__ = object.__hash__

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def logical_not(self):
        return Tensor._from_op(np.logical_not(self.data), None)

    def isnan(self):
        return Tensor._from_op(np.isnan(self.data), None)

    def isinf(self):
        return Tensor._from_op(np.isinf(self.data), None)

    def isfinite(self):
        return Tensor._from_op(np.isfinite(self.data), None)

    def equal(self, other):
        other = _t(other)
        return self.shape == other.shape and bool(np.array_equal(self.data, other.data))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return bool(np.allclose(self.data, _t(other).data, rtol=rtol, atol=atol, equal_nan=equal_nan))

    # ----------------------------------------------------------------- elementwise
    def _floating(self, name):
        if self.data.dtype.kind not in "fc":
            return self.to(get_default_dtype())
        return self

    def exp(self):
        return E.Exp.apply(self._floating("exp"))

    def log(self):
        return E.Log.apply(self._floating("log"))

    def sqrt(self):
        return E.Sqrt.apply(self._floating("sqrt"))

    def abs(self):
        return E.Abs.apply(self)

    def sin(self):
        return E.Sin.apply(self._floating("sin"))

    def cos(self):
        return E.Cos.apply(self._floating("cos"))

    def atan(self):
        return E.Atan.apply(self._floating("atan"))

    def sigmoid(self):
        return E.Sigmoid.apply(self._floating("sigmoid"))

    def tanh(self):
        return E.Tanh.apply(self._floating("tanh"))

    def relu(self):
        return E.ReLU.apply(self)

    def square(self):
        t = self.to(np.int64) if self.data.dtype == np.bool_ else self  # torch: bool squares to int64
        return t * t

    def rsqrt(self):
        return 1 / self.sqrt()

    def reciprocal(self):
        return 1 / self

    def sign(self):
        return E.PiecewiseConstant.apply(self, op=np.sign)

    def floor(self):
        return E.PiecewiseConstant.apply(self, op=np.floor)

    def ceil(self):
        return E.PiecewiseConstant.apply(self, op=np.ceil)

    def round(self):
        return E.PiecewiseConstant.apply(self, op=np.round)

    def clamp(self, min=None, max=None):
        """Clamp into [min, max]; bounds may be numbers or tensors (which then receive gradients where
        they are the active bound, as in torch)."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self
            if min is not None:
                a, lo = out._promote(min)
                out = where(a.data >= lo.data, a, lo)
            if max is not None:
                a, hi = out._promote(max)
                out = where(a.data <= hi.data, a, hi)
            return out
        x = self
        for bound in (min, max):  # an int tensor with a float bound gives a float result, as in torch
            if bound is not None:
                dt = _result_dtype(x.data, _scalar_like(bound, x.data))
                if dt != x.data.dtype:
                    x = x.to(dt)
        return E.Clamp.apply(x, min=min, max=max)

    clip = clamp

    def clamp_min(self, min):
        return self.clamp(min=min)

    def clamp_max(self, max):
        return self.clamp(max=max)

    def clamp_(self, min=None, max=None):
        if self._requires_grad and is_grad_enabled():
            raise RuntimeError("clamp_: in-place operation on a tensor that requires grad")
        np.clip(self.data, min, max, out=self.data)
        self._bump_version()
        return self

    def maximum(self, other):
        return E.Maximum.apply(*self._promote(other))

    def minimum(self, other):
        return E.Minimum.apply(*self._promote(other))

    def softmax(self, dim):
        x = self._floating("softmax")
        if x.data.ndim == 0:  # a single element: dim 0 or -1 allowed, as in torch
            R.normalize_axes(dim, 1, "softmax")
            return E.Softmax.apply(x.reshape(1), dim=0).reshape(())
        return E.Softmax.apply(x, dim=R.normalize_axes(dim, x.ndim, "softmax")[0])

    def log_softmax(self, dim):
        x = self._floating("log_softmax")
        if x.data.ndim == 0:
            R.normalize_axes(dim, 1, "log_softmax")
            return E.LogSoftmax.apply(x.reshape(1), dim=0).reshape(())
        return E.LogSoftmax.apply(x, dim=R.normalize_axes(dim, x.ndim, "log_softmax")[0])

    # ----------------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim=False, dtype=None):
        t = self if dtype is None else self.to(dtype)
        return R.Sum.apply(t, axes=R.normalize_axes(dim, t.data.ndim, "sum"), keepdim=keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None):
        t = self if dtype is None else self.to(dtype)
        if t.data.dtype.kind not in "fc":
            raise TypeError(
                f"mean: expected a floating tensor, got dtype {t.data.dtype}; pass "
                "dtype=deepnotes.float32 or convert with .float()"
            )
        return R.Mean.apply(t, axes=R.normalize_axes(dim, t.data.ndim, "mean"), keepdim=keepdim)

    def _correction(self, unbiased, correction, name):
        if (
            isinstance(unbiased, (int, np.integer))
            and not isinstance(unbiased, (bool, np.bool_))
            and correction is None
        ):
            raise TypeError(
                f"{name}: unbiased must be a bool, got {unbiased!r}; use correction= for an integer correction"
            )
        if correction is None:
            return 1 if unbiased is None or unbiased else 0
        if unbiased is not None:
            raise ValueError(f"{name}: give either unbiased or correction, not both")
        return correction

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Variance sum (x - mean)^2 / (N - correction); ``correction=1`` (Bessel) by default, as
        torch.var.  ``unbiased=False`` means correction 0."""
        if self.data.dtype.kind not in "fc":
            raise TypeError(f"var: expected a floating tensor, got dtype {self.data.dtype}")
        if isinstance(dim, (bool, np.bool_)):  # legacy var(unbiased) positional form
            dim, unbiased = None, dim
        corr = self._correction(unbiased, correction, "var")
        return R.Var.apply(self, axes=R.normalize_axes(dim, self.ndim, "var"), correction=corr, keepdim=keepdim)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Standard deviation: sqrt of :meth:`var` with the same arguments."""
        if self.data.dtype.kind not in "fc":
            raise TypeError(f"std: expected a floating tensor, got dtype {self.data.dtype}")
        if isinstance(dim, (bool, np.bool_)):
            dim, unbiased = None, dim
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def amax(self, dim=None, keepdim=False):
        """Largest value over ``dim`` (all axes when None); tied maxima share the gradient equally."""
        return R.AMax.apply(self, axes=R.normalize_axes(dim, self.ndim, "amax"), keepdim=keepdim)

    def amin(self, dim=None, keepdim=False):
        """Smallest value over ``dim``; tied minima share the gradient equally."""
        return R.AMin.apply(self, axes=R.normalize_axes(dim, self.ndim, "amin"), keepdim=keepdim)

    def _minmax_dim(self, dim, keepdim, largest):
        name = "max" if largest else "min"
        if isinstance(dim, Tensor):
            return self.maximum(dim) if largest else self.minimum(dim)
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(f"{name}: dim must be an int, got {dim!r}")
        if self.ndim == 0:
            R.normalize_axes(dim, 0, name)
            return MinMaxResult(self, Tensor._from_op(np.zeros((), dtype=np.int64), None))
        d = R.normalize_axes(dim, self.ndim, name)[0]
        if self.shape[d] == 0:
            raise IndexError(f"{name}: cannot reduce over dimension {dim} of size 0 (shape {self.shape})")
        idx = np.argmax(self.data, axis=d, keepdims=True) if largest else np.argmin(self.data, axis=d, keepdims=True)
        values = R.SelectDim.apply(self, dim=d, index=idx, keepdim=keepdim)
        return MinMaxResult(values, Tensor._from_op(idx if keepdim else np.squeeze(idx, axis=d), None))

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The ``k`` largest (or smallest) elements along ``dim`` as ``(values, indices)``, best first;
        equal values keep their index order.  The gradient flows to the selected elements."""
        name = "topk"
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"{name}: k must be an int, got {k!r}")
        x = self.reshape(1) if self.data.ndim == 0 else self
        d = R.normalize_axes(dim, x.ndim, name)[0]
        n = x.shape[d]
        if not 0 <= k <= n:
            raise ValueError(
                f"{name}: k={k} is out of range for dimension {dim} of size {n} (shape "
                f"{self.shape}); expected 0 <= k <= {n}"
            )
        data = x.data
        if largest:  # a stable ascending sort of the reversed axis, read backwards: ties keep index order
            order = np.flip(np.argsort(np.flip(data, axis=d), axis=d, kind="stable"), axis=d)
            order = (n - 1) - order
        else:
            order = np.argsort(data, axis=d, kind="stable")
        idx = np.ascontiguousarray(np.take(order, np.arange(k), axis=d)).astype(np.int64, copy=False)
        values = x.gather(d, idx)
        if self.data.ndim == 0:
            return MinMaxResult(values.reshape(()), Tensor._from_op(idx.reshape(()), None))
        return MinMaxResult(values, Tensor._from_op(idx, None))

    def max(self, dim=None, keepdim=False):
        """Without ``dim``: the largest element (ties share the gradient).  With ``dim``: a
        ``(values, indices)`` pair; the gradient goes to the returned index.  With a tensor: maximum."""
        if dim is None:
            return self.amax()
        return self._minmax_dim(dim, keepdim, True)

    def min(self, dim=None, keepdim=False):
        if dim is None:
            return self.amin()
        return self._minmax_dim(dim, keepdim, False)

    def argmax(self, dim=None, keepdim=False):
        if dim is None:
            return Tensor._from_op(np.asarray(np.argmax(self.data)), None)
        axis = R.normalize_axes(dim, self.ndim, "argmax")[0]
        return Tensor._from_op(np.argmax(self.data, axis=axis, keepdims=keepdim), None)

    def argmin(self, dim=None, keepdim=False):
        if dim is None:
            return Tensor._from_op(np.asarray(np.argmin(self.data)), None)
        axis = R.normalize_axes(dim, self.ndim, "argmin")[0]
        return Tensor._from_op(np.argmin(self.data, axis=axis, keepdims=keepdim), None)

    def all(self, dim=None, keepdim=False):
        return Tensor._from_op(np.asarray(self.data.all(axis=dim, keepdims=keepdim)), None)

    def any(self, dim=None, keepdim=False):
        return Tensor._from_op(np.asarray(self.data.any(axis=dim, keepdims=keepdim)), None)

    def prod(self, dim=None, keepdim=False):
        """Product of the elements (over one ``dim``, or all when None); exact gradients with zeros."""
        if dim is None:
            out = R.Prod.apply(self.reshape(-1), axis=0, keepdim=False)
            return out.reshape((1,) * self.ndim) if keepdim else out
        if self.ndim == 0:
            R.normalize_axes(dim, 0, "prod")
            return self
        return R.Prod.apply(self, axis=R.normalize_axes(dim, self.ndim, "prod")[0], keepdim=keepdim)

    def norm(self, p=2, dim=None, keepdim=False):
        """Vector p-norm over ``dim`` (all elements when None): (sum |x|^p)^(1/p)."""
        R.normalize_axes(dim, self.ndim, "norm")  # an out-of-range dim is reported as norm's
        if p == 2:
            return (self * self).sum(dim, keepdim).sqrt()
        if p == 1:
            return self.abs().sum(dim, keepdim)
        if p == float("inf"):
            return self.abs().amax(dim, keepdim)
        return (self.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    # ----------------------------------------------------------------- shapes
    def reshape(self, *shape):
        shape = _shape_arg(shape, "reshape")
        if shape == self.data.shape:
            return self
        return S.Reshape.apply(self, shape=shape)

    def view(self, *shape):
        """The same memory seen with another shape; unlike :meth:`reshape` it never copies, so writes
        through the result reach this tensor.  Raises when the strides allow no such view (e.g. after
        a transpose): use reshape() or contiguous().view() there."""
        shape = _shape_arg(shape, "view")
        if shape == self.data.shape:
            return self
        try:
            out = self.data.reshape(shape)  # a view when the strides allow one, else a copy
        except (ValueError, TypeError):  # a bad shape: Reshape raises its own message
            return S.Reshape.apply(self, shape=shape)
        if out.size and not np.may_share_memory(out, self.data):
            raise RuntimeError(
                f"view: a tensor of shape {self.shape} with strides "
                f"{tuple(s // self.data.itemsize for s in self.data.strides)} (elements) "
                f"cannot be viewed as {shape} without copying, because its elements are "
                "not laid out contiguously along the merged dimensions; use .reshape(...) "
                "(which copies) instead"
            )
        return S.Reshape.apply(self, shape=shape)

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = R.normalize_axes(start_dim, self.ndim, "flatten")[0], R.normalize_axes(end_dim, self.ndim, "flatten")[0]
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        n = 1
        for k in self.shape[s : e + 1]:
            n *= k
        return self.reshape(self.shape[:s] + (n,) + self.shape[e + 1 :])

    def unflatten(self, dim, sizes):
        d = R.normalize_axes(dim, self.ndim, "unflatten")[0]
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1 :])

    def permute(self, *dims):
        dims = _shape_arg(dims, "permute")
        nd = self.ndim
        norm = tuple(d + nd if d < 0 else d for d in dims)
        if len(dims) != nd or sorted(norm) != list(range(nd)):
            raise ValueError(
                f"permute: dims {dims} are not a permutation of the {nd} axes of a tensor of shape {self.shape}"
            )
        if norm == tuple(range(nd)):
            return self
        return S.Permute.apply(self, dims=norm)

    def transpose(self, dim0, dim1):
        """Swap two dimensions (a view)."""
        nd = self.data.ndim
        if nd == 0:
            R.normalize_axes(dim0, 0, "transpose"), R.normalize_axes(dim1, 0, "transpose")
            return self
        d0 = dim0 + nd if dim0 < 0 else dim0
        d1 = dim1 + nd if dim1 < 0 else dim1
        if not (0 <= d0 < nd and 0 <= d1 < nd):
            raise IndexError(
                f"transpose: dims ({dim0}, {dim1}) are out of range for a tensor with {nd} "
                f"dimensions (expected [{-nd}, {nd - 1}])"
            )
        if d0 == d1:
            return self
        dims = list(range(nd))
        dims[d0], dims[d1] = d1, d0
        return S.Permute.apply(self, dims=tuple(dims))

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dimensions, got {self.ndim}")
        return self.T

    def squeeze(self, dim=None):
        if dim is None:
            shape = tuple(n for n in self.shape if n != 1)
        else:
            dims = R.normalize_axes(dim, self.ndim, "squeeze")
            shape = tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim):
        d = dim if dim >= 0 else dim + self.ndim + 1
        if not 0 <= d <= self.ndim:
            raise IndexError(
                f"unsqueeze: dim {dim} is out of range for a tensor with {self.ndim} "
                f"dimensions (expected [{-self.ndim - 1}, {self.ndim}])"
            )
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def expand(self, *shape):
        shape = _shape_arg(shape, "expand")
        lead = len(shape) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: target {shape} has fewer dimensions than the tensor {self.shape}")
        if _builtins.any(n == -1 for n in shape[:lead]):
            raise ValueError(f"expand: -1 is not allowed for the new leading dimensions, got {shape}")
        full = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        bad = _builtins.any(m != n and m != 1 for m, n in zip(self.shape, full[lead:]))
        if bad or _builtins.min(full, default=0) < 0:
            raise ValueError(
                f"expand: cannot expand shape {self.shape} to {shape}: only size-1 dimensions can be expanded"
            )
        if full == self.shape:
            return self
        return S.Expand.apply(self, shape=full)

    def expand_as(self, other):
        return self.expand(other.shape)

    broadcast_to = expand

    def repeat(self, *sizes):
        sizes = _shape_arg(sizes, "repeat")
        if len(sizes) < self.ndim:
            raise ValueError(
                f"repeat: got {len(sizes)} repeat counts for a tensor with {self.ndim} "
                "dimensions; expected at least as many"
            )
        x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
        inter, exp = [], []
        for r, n in zip(sizes, x.shape):
            inter += [1, n]
            exp += [r, n]
        return x.reshape(inter).expand(exp).reshape(tuple(r * n for r, n in zip(sizes, x.shape)))

    def flip(self, *dims):
        dims = _shape_arg(dims, "flip")
        axes = R.normalize_axes(dims, self.ndim, "flip")
        index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(self.ndim))
        return self[index]

    def split(self, split_size_or_sections, dim=0):
        d = R.normalize_axes(dim, self.ndim, "split")[0]
        n = self.shape[d]
        if isinstance(split_size_or_sections, (int, np.integer)):
            step = int(split_size_or_sections)
            if step <= 0:
                raise ValueError(f"split: split_size must be positive, got {step}")
            sizes = [_builtins.min(step, n - s) for s in range(0, n, step)] or [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            total = _builtins.sum(sizes)
            if total != n:
                raise ValueError(f"split: sections {sizes} sum to {total}, expected the size {n} of dim {dim}")
        out, start = [], 0
        pre = (slice(None),) * d
        for s in sizes:
            out.append(self[pre + (slice(start, start + s),)])
            start += s
        return tuple(out)

    def chunk(self, chunks, dim=0):
        d = R.normalize_axes(dim, self.ndim, "chunk")[0]
        step = -(-self.shape[d] // int(chunks)) if self.shape[d] else 1
        return self.split(_builtins.max(step, 1), d)

    def unbind(self, dim=0):
        d = R.normalize_axes(dim, self.ndim, "unbind")[0]
        pre = (slice(None),) * d
        return tuple(self[pre + (i,)] for i in range(self.shape[d]))

    def __getitem__(self, index):
        index, advanced = _index_arg(index, self.data.shape)
        return S.GetItem.apply(self, index=index, advanced=advanced)

    def __setitem__(self, index, value):
        if self._requires_grad and is_grad_enabled():
            raise RuntimeError("setitem: item assignment on a tensor that requires grad; wrap it in no_grad()")
        self.data[_index_arg(index, self.data.shape)[0]] = value.data if isinstance(value, Tensor) else value
        self._bump_version()

    def gather(self, dim, index):
        """out[i][j][k] = self[index[i][j][k]][j][k] for dim 0 (and likewise for other dims)."""
        idx = index.data if isinstance(index, Tensor) else np.asarray(index)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"gather: index must be an integer tensor, got dtype {idx.dtype}")
        if idx.ndim != self.ndim:
            raise ValueError(f"gather: index has {idx.ndim} dimensions, expected {self.ndim} like the input")
        d = R.normalize_axes(dim, self.ndim, "gather")[0]
        if [a for a, (i, n) in enumerate(zip(idx.shape, self.shape)) if a != d and i > n]:
            raise ValueError(
                f"gather: index shape {idx.shape} must not exceed the input shape {self.shape} outside dim {d}"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= self.shape[d]):
            raise ValueError(
                f"gather: index values must lie in [0, {self.shape[d]}) "
                f"along dim {d}, got values from {idx.min()} to {idx.max()}"
            )
        grids = list(np.ogrid[tuple(slice(n) for n in idx.shape)])
        grids[d] = idx
        return S.GetItem.apply(self, index=tuple(grids), advanced=True)

    def masked_fill(self, mask, value):
        m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        if m.dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
        try:
            fits = np.broadcast_shapes(m.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"masked_fill: a mask of shape {m.shape} does not broadcast to the input shape {self.shape}"
            )
        fill = value if isinstance(value, Tensor) else Tensor._from_op(_scalar_like(value, self.data), None)
        if fill.data.dtype != self.data.dtype:
            fill = fill.to(self.data.dtype)
        return E.Where.apply(Tensor._from_op(m, None), fill, self)


class MinMaxResult(tuple):
    """``(values, indices)`` as returned by ``max(dim)``/``min(dim)``/``topk``."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


class _Cast(Function):
    def forward(self, a, dtype):
        self.src = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.src)

    def backward_graph(self, g):
        return _Cast.apply(g, dtype=self.src)


def _shape_arg(shape, name="shape"):
    """``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])`` as a tuple of ints (floats are rejected)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(map(_operator.index, shape))
    except TypeError:
        raise TypeError(f"{name}: expected a sequence of ints, got {shape!r}") from None


def _index_item(i):
    if isinstance(i, Tensor):
        i = i.data
    elif isinstance(i, (list, tuple)):
        i = np.asarray(i)
        if i.size == 0:
            i = i.astype(np.int64)
    if isinstance(i, np.ndarray):
        if i.dtype.kind not in "biu":
            raise IndexError(f"getitem: tensors used as indices must be integer or bool, got dtype {i.dtype}")
        if i.ndim == 0 and i.dtype.kind in "iu":
            return int(i), False
        return i, i.dtype.kind != "b"
    return i, False


def _index_arg(index, shape=None):
    """A NumPy index for ``index``, and whether it holds integer arrays (so indices may repeat and the
    gradient must be accumulated)."""
    if isinstance(index, (int, slice)) or index is None or index is Ellipsis:
        return index, False
    if isinstance(index, tuple):
        out, advanced = [], False
        for i in index:
            i, adv = _index_item(i)
            out.append(i)
            advanced |= adv
        return tuple(out), advanced
    return _index_item(index)


# --------------------------------------------------------------------------- construction helpers
def as_tensor(data, dtype=None, device=None):
    """``data`` as a Tensor, sharing memory where possible (no copy for a Tensor or ndarray)."""
    _device.check_device(device, "as_tensor")
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.data.dtype):
        return data
    return Tensor(_to_array(data, dtype, "as_tensor"))


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new leaf tensor holding a copy of ``data``.  Python floats give the default dtype (float32),
    Python ints int64, bools bool; a NumPy array keeps its dtype."""
    _device.check_device(device, "tensor")
    arr = _to_array(data, dtype)
    src = data.data if isinstance(data, Tensor) else data
    if isinstance(src, np.ndarray) and np.shares_memory(arr, src):
        arr = arr.copy()
    return Tensor(arr, requires_grad=requires_grad)


def from_numpy(array):
    """A tensor sharing memory with ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def _dt(dtype, name="tensor"):
    return get_default_dtype() if dtype is None else _np_dtype(dtype, name)


def _size(shape, name):
    shape = _shape_arg(shape, name)
    if _builtins.any(n < 0 for n in shape):
        raise ValueError(f"{name}: negative dimension in size {shape}")
    return shape


def zeros(*size, dtype=None, device=None, requires_grad=False):
    _device.check_device(device, "zeros")
    return Tensor(np.zeros(_size(size, "zeros"), dtype=_dt(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    _device.check_device(device, "ones")
    return Tensor(np.ones(_size(size, "ones"), dtype=_dt(dtype)), requires_grad=requires_grad)


def _fill_dtype(fill_value):
    if isinstance(fill_value, (bool, np.bool_)):
        return np.bool_
    if isinstance(fill_value, (int, np.integer)):
        return np.int64
    return get_default_dtype()


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value`` (int64 for an int, bool for a bool, else the
    default float dtype, as torch.full)."""
    _device.check_device(device, "full")
    size = _size((size,) if isinstance(size, (int, np.integer)) else (tuple(size),), "full")
    dtype = _fill_dtype(fill_value) if dtype is None else dtype
    return Tensor(np.full(size, fill_value, dtype=dtype), requires_grad=requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    _device.check_device(device, "empty")
    return Tensor(np.empty(_size(size, "empty"), dtype=_dt(dtype)), requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    _device.check_device(device, "eye")
    return Tensor(np.eye(n, m, dtype=_dt(dtype)), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` (inclusive) to ``end`` (exclusive) by ``step``; int64 when all are ints."""
    _device.check_device(device, "arange")
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        is_int = _builtins.all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if is_int else get_default_dtype()
    return Tensor(np.arange(start, end, step, dtype=dtype), requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    _device.check_device(device, "linspace")
    return Tensor(np.linspace(start, end, steps, dtype=_dt(dtype)), requires_grad=requires_grad)


def _like(t, dtype, name):
    arr = _to_array(t, None, name)
    return arr.shape, (arr.dtype if dtype is None else _np_dtype(dtype, name))


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    _device.check_device(device, "zeros_like")
    shape, dt = _like(input, dtype, "zeros_like")
    return Tensor(np.zeros(shape, dtype=dt), requires_grad=requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    _device.check_device(device, "ones_like")
    shape, dt = _like(input, dtype, "ones_like")
    return Tensor(np.ones(shape, dtype=dt), requires_grad=requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    _device.check_device(device, "empty_like")
    shape, dt = _like(input, dtype, "empty_like")
    return Tensor(np.empty(shape, dtype=dt), requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    _device.check_device(device, "full_like")
    shape, dt = _like(input, dtype, "full_like")
    return Tensor(np.full(shape, fill_value, dtype=dt), requires_grad=requires_grad)


# --------------------------------------------------------------------------- functional forms
def _t(x, name="tensor"):
    """``x`` as a Tensor for the function ``name`` (which an error about unusable data names)."""
    return x if isinstance(x, Tensor) else Tensor(_to_array(x, None, name))


def _operand(x, name):
    """A second operand: Tensors and Python/NumPy scalars pass as they are (scalar type promotion),
    anything else becomes a Tensor, or a TypeError that names ``name``."""
    return x if isinstance(x, (Tensor,) + _SCALAR_TYPES) else _t(x, name)


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other`` (broadcast together); gradients flow to the
    chosen side only."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    input, other = _operand(input, "where"), _operand(other, "where")
    if isinstance(input, Tensor):
        a, b = input._promote(other)
    elif isinstance(other, Tensor):
        b, a = other._promote(input)
    else:
        a, b = _t(input, "where")._promote(other)
    return E.Where.apply(Tensor._from_op(cond, None), a, b)


def _check_dim(dim, ndim, name):
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"{name}: dim {dim} is out of range for tensors with {ndim - (name == 'stack')} "
            f"dimensions (expected [{-ndim}, {ndim - 1}])"
        )
    return int(dim) % ndim


def cat(tensors, dim=0):
    """Concatenate tensors along an existing dimension ``dim``; all other sizes must agree."""
    if isinstance(tensors, Tensor) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"cat: expected a sequence of tensors, got {type(tensors).__name__}")
    tensors = [_t(t, "cat") for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    nd = tensors[0].ndim
    if nd == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    d = _check_dim(dim, nd, "cat")
    ref = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.ndim != nd or t.shape[:d] + t.shape[d + 1 :] != ref[:d] + ref[d + 1 :]:
            raise ValueError(f"cat: tensor {i} has shape {t.shape}, incompatible with {ref} outside dim {dim}")
    tensors = _common_dtype(tensors)
    if len(tensors) == 1:
        return tensors[0]
    return S.Cat.apply(*tensors, dim=d)


concatenate = concat = cat


def _common_dtype(tensors):
    dt = tensors[0].data.dtype
    for t in tensors[1:]:
        dt = _promote_pair(dt, t.data.dtype)
    return [t if t.data.dtype == dt else t.to(dt) for t in tensors]


def stack(tensors, dim=0):
    """Join equally shaped tensors along a new dimension ``dim``."""
    if isinstance(tensors, Tensor) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"stack: expected a sequence of tensors, got {type(tensors).__name__}")
    tensors = [_t(t, "stack") for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape}, expected {tensors[0].shape} like tensor 0")
    d = _check_dim(dim, tensors[0].ndim + 1, "stack")
    return S.Stack.apply(*_common_dtype(tensors), dim=d)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input, pad, mode="constant", value=0.0):
    """torch.nn.functional.pad: ``pad`` = (left, right) for the last dimension, then (top, bottom) for
    the one before, and so on.  Modes: ``constant`` (fill ``value``; negative amounts crop),
    ``reflect`` (mirror without repeating the edge, amount < size), ``replicate`` (repeat the edge)
    and ``circular`` (wrap around, amount <= size).  Output size per axis: n + before + after."""
    x = _t(input, "pad")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    try:
        amounts = [int(p) for p in pad]
    except (TypeError, ValueError):
        raise TypeError(f"pad: expected a sequence of ints, got {pad!r}") from None
    if len(amounts) % 2 or len(amounts) // 2 > x.ndim:
        raise ValueError(
            f"pad: the pad sequence must have an even length of at most 2 * ndim = "
            f"{2 * x.ndim}, got {len(amounts)} for input shape {x.shape}"
        )
    width = [(0, 0)] * x.ndim
    for k in range(len(amounts) // 2):
        width[x.ndim - 1 - k] = (amounts[2 * k], amounts[2 * k + 1])
    for axis, (before, after) in enumerate(width):
        n = x.shape[axis]
        if mode == "constant":
            if n + before + after < 0 or (before < 0 and -before > n) or (after < 0 and -after > n):
                raise ValueError(f"pad: padding {(before, after)} would crop dimension {axis} of size {n} below zero")
            continue
        if (before or after) and (before < 0 or after < 0):
            raise ValueError(
                f"pad: negative padding is only supported by mode 'constant', got {(before, after)} with mode {mode!r}"
            )
        if mode == "reflect" and (before >= n or after >= n) and (before or after):
            raise ValueError(
                f"pad: reflect padding {(before, after)} must be smaller than the size {n} "
                f"of dimension {axis} (input shape {x.shape})"
            )
        if mode == "circular" and (before > n or after > n):
            raise ValueError(
                f"pad: circular padding {(before, after)} must not exceed the size {n} of "
                f"dimension {axis} (input shape {x.shape})"
            )
        if mode == "replicate" and n == 0 and (before or after):
            raise ValueError(f"pad: cannot replicate-pad dimension {axis} of size 0")
    if _builtins.all(b == 0 and a == 0 for b, a in width):
        return x
    return S.Pad.apply(x, pad_width=tuple(width), mode=mode, value=value)


def maximum(input, other):
    return _t(input, "maximum").maximum(_operand(other, "maximum"))


def minimum(input, other):
    return _t(input, "minimum").minimum(_operand(other, "minimum"))


def clamp(input, min=None, max=None):
    return _t(input, "clamp").clamp(min, max)


clip = clamp


def _unary(name):
    def fn(input, *args, **kwargs):
        return getattr(_t(input, name), name)(*args, **kwargs)

    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = f"Functional form of ``Tensor.{name}``."
    return fn


for _name in [
    "exp",
    "log",
    "sqrt",
    "abs",
    "sin",
    "cos",
    "atan",
    "sigmoid",
    "tanh",
    "relu",
    "sum",
    "mean",
    "var",
    "std",
    "amax",
    "amin",
    "max",
    "min",
    "argmax",
    "argmin",
    "reshape",
    "flatten",
    "permute",
    "transpose",
    "squeeze",
    "unsqueeze",
    "softmax",
    "log_softmax",
    "square",
    "gather",
    "sign",
    "neg",
    "expand",
    "flip",
    "split",
    "chunk",
    "unbind",
    "masked_fill",
    "norm",
    "rsqrt",
    "reciprocal",
    "floor",
    "ceil",
    "round",
    "isnan",
    "isinf",
    "isfinite",
    "all",
    "any",
    "prod",
    "clone",
    "detach",
]:
    globals()[_name] = _unary(_name)


def add(input, other, alpha=1):
    other = _operand(other, "add")
    return _t(input, "add") + (other if alpha == 1 else other * alpha)


def sub(input, other, alpha=1):
    other = _operand(other, "sub")
    return _t(input, "sub") - (other if alpha == 1 else other * alpha)


def mul(input, other):
    return _t(input, "mul") * _operand(other, "mul")


def div(input, other):
    return _t(input, "div") / _operand(other, "div")


def pow(input, exponent):
    if isinstance(input, Tensor):
        return input ** _operand(exponent, "pow")
    return _t(exponent, "pow").__rpow__(_operand(input, "pow"))


def matmul(input, other):
    return _t(input, "matmul") @ _operand(other, "matmul")


def mm(input, mat2):
    return _t(input, "mm").mm(_t(mat2, "mm"))


def bmm(input, mat2):
    return _t(input, "bmm").bmm(_t(mat2, "bmm"))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """Functional form of :meth:`Tensor.topk`: ``(values, indices)`` of the ``k`` best along ``dim``."""
    return _t(input).topk(k, dim, largest, sorted)


def einsum(equation, *operands):
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``; ``...`` and the implicit output
    (letters used once, sorted) follow torch/NumPy.  Differentiable in every operand."""
    from .ops.einsum import Einsum

    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: expected at least one operand")
    tensors = _common_dtype([_t(t) for t in operands])
    return Einsum.apply(*tensors, equation=equation)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return _t(input, "numel").numel()
