"""Pruning with ``torch.nn.utils.prune``'s semantics.

Pruning parameter ``name`` of a module moves the parameter to ``name_orig``, stores a 0/1 buffer
``name_mask`` and turns ``name`` into a plain tensor ``name_orig * name_mask`` recomputed by a forward
pre-hook before every call, so gradients reach only the unpruned entries of ``name_orig``.  Pruning the
same parameter again composes the masks (the new method only sees the entries still unpruned, as
torch's ``PruningContainer`` does); ``remove`` makes the pruning permanent.
"""

import numbers

import numpy as np

from .. import random as _random
from ..nn.modules.module import Module
from ..tensor import Tensor

__all__ = [
    "BasePruningMethod",
    "CustomFromMask",
    "Identity",
    "L1Unstructured",
    "LnStructured",
    "PruningContainer",
    "RandomUnstructured",
    "custom_from_mask",
    "global_unstructured",
    "identity",
    "is_pruned",
    "l1_unstructured",
    "ln_structured",
    "random_unstructured",
    "remove",
    "sparsity_report",
]


# ---------------------------------------------------------------------- amounts
def _check_amount(amount, where):
    """An amount is a fraction in [0, 1] or a non-negative int count (bools are refused)."""
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"{where}: amount must be a float in [0, 1] or a non-negative int, got {amount!r}")
    if isinstance(amount, numbers.Integral):
        if amount < 0:
            raise ValueError(
                f"{where}: amount={amount} should be a float in the range [0, 1] or a non-negative integer"
            )
    elif not (0.0 <= float(amount) <= 1.0):
        raise ValueError(f"{where}: amount={amount} should be a float in the range [0, 1] or a non-negative integer")


def _count_to_prune(amount, size, where):
    """How many of ``size`` units to prune: an int is a count, a fraction is rounded (Python's round,
    half to even, as torch)."""
    k = int(amount) if isinstance(amount, numbers.Integral) else round(float(amount) * size)
    if k > size:
        raise ValueError(f"{where}: amount={amount} should be smaller than the number of parameters to prune={size}")
    return k


def _array(t):
    return t.data if isinstance(t, Tensor) else np.asarray(t)


# ---------------------------------------------------------------------- methods
class BasePruningMethod:
    """A pruning method: ``compute_mask(t, default_mask)`` returns the new 0/1 mask (a NumPy array of
    ``t``'s shape); an instance is the forward pre-hook that re-applies the mask."""

    PRUNING_TYPE = "unstructured"
    _tensor_name = None

    def compute_mask(self, t, default_mask):  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__}.compute_mask is not implemented")

    def __call__(self, module, inputs):
        object.__setattr__(module, self._tensor_name, self.apply_mask(module))

    def apply_mask(self, module):
        """``name_orig * name_mask`` as a tensor in the autograd graph of ``name_orig``."""
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return orig * mask

    def prune(self, t, default_mask=None, importance_scores=None):
        """The pruned copy of array/tensor ``t`` (the module is not touched)."""
        arr = _array(t)
        scores = arr if importance_scores is None else _array(importance_scores)
        default = np.ones_like(arr) if default_mask is None else _array(default_mask)
        return arr * self.compute_mask(scores, default)

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.name`` in place with ``cls(*args, **kwargs)`` and return the hook installed."""
        where = f"{cls.__name__}.apply"
        if not isinstance(module, Module):
            raise TypeError(f"{where}: expected a deepnotes Module, got {type(module).__name__}")
        if not isinstance(name, str):
            raise TypeError(f"{where}: name must be a str, got {type(name).__name__}")
        old_key, old_method = None, None
        for key, hook in module._forward_pre_hooks.items():
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                if old_method is not None:
                    raise RuntimeError(f"{where}: more than one pruning hook on parameter {name!r}")
                old_key, old_method = key, hook
        method = cls(*args, **kwargs)
        method._tensor_name = name
        if old_method is not None:
            container = old_method if isinstance(old_method, PruningContainer) else PruningContainer(old_method)
            container.add_pruning_method(method)
            method = container
            orig = module._parameters[name + "_orig"]
            default_mask = module._buffers[name + "_mask"].data.copy()
        else:
            orig = module._parameters.get(name)
            if orig is None:
                raise AttributeError(
                    f"{where}: {type(module).__name__} has no parameter {name!r}; its parameters are "
                    f"{list(k for k, v in module._parameters.items() if v is not None)}"
                )
            default_mask = np.ones_like(orig.data)
        scores = orig.data if importance_scores is None else _array(importance_scores)
        if importance_scores is not None and scores.shape != orig.data.shape:
            raise ValueError(
                f"{where}: importance_scores of shape {scores.shape} should match parameter {name!r} "
                f"of shape {orig.data.shape}"
            )
        if old_method is not None and importance_scores is None:
            scores = scores * default_mask  # torch scores the current (masked) weight
        mask = method.compute_mask(scores, default_mask).astype(orig.data.dtype)
        # the mask is known and valid: only now change the module
        if old_method is None:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
        else:
            del module._forward_pre_hooks[old_key]
        module.register_buffer(name + "_mask", Tensor(mask))
        object.__setattr__(module, name, method.apply_mask(module))
        module.register_forward_pre_hook(method)
        return method

    def remove(self, module):
        """Make the pruning permanent: ``name`` becomes a Parameter holding ``name_orig * name_mask``."""
        name = self._tensor_name
        weight = module._parameters[name + "_orig"].data * module._buffers[name + "_mask"].data
        module.__dict__.pop(name, None)
        orig = module._parameters.pop(name + "_orig")
        del module._buffers[name + "_mask"]
        orig.data = weight
        module.register_parameter(name, orig)


class PruningContainer(BasePruningMethod):
    """The sequence of methods applied to one parameter; each new one acts on the entries (or, for a
    structured method, the slices along its dim) that are still unpruned."""

    def __init__(self, *methods):
        self._pruning_methods = ()
        for m in methods:
            self.add_pruning_method(m)

    def add_pruning_method(self, method):
        if not isinstance(method, BasePruningMethod):
            raise TypeError(
                f"PruningContainer.add_pruning_method: expected a pruning method, got {type(method).__name__}"
            )
        if self._tensor_name is None:
            self._tensor_name = method._tensor_name
        elif method._tensor_name != self._tensor_name:
            raise ValueError(
                f"PruningContainer.add_pruning_method: cannot add a method pruning {method._tensor_name!r} "
                f"to a container for {self._tensor_name!r}"
            )
        self._pruning_methods = self._pruning_methods + (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, i):
        return self._pruning_methods[i]

    def compute_mask(self, t, default_mask):
        method = self._pruning_methods[-1]
        t = _array(t)
        mask = np.array(default_mask, copy=True)
        kind = method.PRUNING_TYPE
        if kind == "unstructured":
            keep = mask == 1
            mask[keep] = method.compute_mask(t[keep], mask[keep])
        elif kind == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError("PruningContainer: a structured pruning method needs a 'dim' attribute")
            dim = method.dim % t.ndim
            others = tuple(d for d in range(t.ndim) if d != dim)
            alive = mask.sum(axis=others) != 0
            index = [slice(None)] * t.ndim
            index[dim] = alive
            index = tuple(index)
            mask[index] = method.compute_mask(t[index], mask[index])
        elif kind == "global":
            mask = method.compute_mask(t, mask)
        else:
            raise ValueError(f"PruningContainer: unknown PRUNING_TYPE {kind!r}")
        return mask


class Identity(BasePruningMethod):
    """Prunes nothing: the mask stays the default one (all ones on a fresh parameter)."""

    def compute_mask(self, t, default_mask):
        return np.array(default_mask, copy=True)


class RandomUnstructured(BasePruningMethod):
    """Prunes ``amount`` entries chosen uniformly at random (seeded by ``deepnotes.manual_seed``)."""

    def __init__(self, amount):
        _check_amount(amount, "RandomUnstructured")
        self.amount = amount

    def compute_mask(self, t, default_mask):
        t = _array(t)
        k = _count_to_prune(self.amount, t.size, "random_unstructured")
        mask = np.array(default_mask, copy=True)
        if k:
            order = _random.default_generator().permutation(t.size)
            mask.reshape(-1)[order[:k]] = 0
        return mask


class L1Unstructured(BasePruningMethod):
    """Prunes the ``amount`` entries of smallest absolute value."""

    def __init__(self, amount):
        _check_amount(amount, "L1Unstructured")
        self.amount = amount

    def compute_mask(self, t, default_mask):
        t = _array(t)
        k = _count_to_prune(self.amount, t.size, "l1_unstructured")
        mask = np.array(default_mask, copy=True)
        if k:
            smallest = np.argsort(np.abs(t).reshape(-1), kind="stable")[:k]
            mask.reshape(-1)[smallest] = 0
        return mask


def _norm_over(t, n, dim):
    """The ``n``-norm of each slice ``t[..., i, ...]`` along ``dim`` (over all other dims)."""
    others = tuple(d for d in range(t.ndim) if d != dim)
    a = np.abs(t)
    if n == "fro":
        n = 2
    if n == np.inf:
        return a.max(axis=others)
    if n == -np.inf:
        return a.min(axis=others)
    if n == 0:
        return (a != 0).sum(axis=others).astype(t.dtype)
    return (a**n).sum(axis=others) ** (1.0 / n)


class LnStructured(BasePruningMethod):
    """Prunes the ``amount`` whole slices along ``dim`` (channels/filters) of smallest ``n``-norm."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1):
        _check_amount(amount, "LnStructured")
        if not (n == "fro" or (isinstance(n, numbers.Real) and not isinstance(n, bool))):
            raise ValueError(f"LnStructured: n must be a number (inf and -inf allowed) or 'fro', got {n!r}")
        if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
            raise TypeError(f"LnStructured: dim must be an int, got {dim!r}")
        self.amount, self.n, self.dim = amount, n, int(dim)

    def compute_mask(self, t, default_mask):
        t = _array(t)
        if t.ndim <= 1:
            raise ValueError(
                f"ln_structured: structured pruning can only be applied to multidimensional tensors, "
                f"found a tensor of shape {t.shape} with {t.ndim} dims"
            )
        if not -t.ndim <= self.dim < t.ndim:
            raise IndexError(f"ln_structured: invalid dim {self.dim} for a tensor of {t.ndim} dims")
        dim = self.dim % t.ndim
        size = t.shape[dim]
        k = _count_to_prune(self.amount, size, "ln_structured")
        if k == 0:
            return np.array(default_mask, copy=True)
        norms = _norm_over(t, self.n, dim)
        keep = np.argsort(-norms, kind="stable")[: size - k]
        mask = np.zeros_like(t)
        index = [slice(None)] * t.ndim
        index[dim] = keep
        mask[tuple(index)] = 1
        return mask * default_mask


class CustomFromMask(BasePruningMethod):
    """Prunes where the given mask is 0 (combined with any earlier mask)."""

    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = _array(mask)

    def compute_mask(self, t, default_mask):
        if self.mask.shape != np.shape(default_mask):
            raise ValueError(
                f"custom_from_mask: mask of shape {self.mask.shape} should have shape {np.shape(default_mask)}"
            )
        return default_mask * self.mask.astype(np.asarray(default_mask).dtype)


# ---------------------------------------------------------------------- functions
def identity(module, name):
    """Prune nothing, but reparametrise ``name`` as ``name_orig * name_mask`` with an all-ones mask."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prune ``amount`` (fraction or count) randomly chosen entries of ``module.name``."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prune the ``amount`` (fraction or count) entries of ``module.name`` of smallest magnitude."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prune ``amount`` whole slices of ``module.name`` along ``dim`` with the smallest ``n``-norm."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module, name, mask):
    """Prune ``module.name`` where ``mask`` is 0."""
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prune the (module, name) pairs together: the threshold is chosen over all their entries, so
    layers lose different fractions.  ``pruning_method`` must be unstructured (``L1Unstructured`` or
    ``RandomUnstructured``); ``kwargs`` (e.g. ``amount``) go to it."""
    if isinstance(parameters, dict) or not hasattr(parameters, "__iter__"):
        raise TypeError("global_unstructured: parameters must be an iterable of (module, name) pairs")
    parameters = list(parameters)
    for pair in parameters:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], Module)):
            raise TypeError(f"global_unstructured: expected (module, name) pairs, got {pair!r}")
    if not (isinstance(pruning_method, type) and issubclass(pruning_method, BasePruningMethod)):
        raise TypeError(f"global_unstructured: pruning_method must be a pruning method class, got {pruning_method!r}")
    importance_scores = importance_scores or {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured: importance_scores must be a dict keyed by (module, name)")
    scores, defaults = [], []
    for module, name in parameters:
        current = _array(getattr(module, name))
        scores.append(_array(importance_scores.get((module, name), current)).reshape(-1))
        mask = module._buffers.get(name + "_mask")
        defaults.append(np.ones_like(current).reshape(-1) if mask is None else mask.data.reshape(-1))
    method = pruning_method(**kwargs)
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(
            f"global_unstructured: only unstructured pruning methods are supported, got {pruning_method.__name__} "
            f"of type {method.PRUNING_TYPE!r}"
        )
    method._tensor_name = "temp"
    container = PruningContainer(method)
    final = container.compute_mask(np.concatenate(scores), np.concatenate(defaults))
    start = 0
    for module, name in parameters:
        shape = _array(getattr(module, name)).shape
        size = int(np.prod(shape))
        custom_from_mask(module, name, final[start : start + size].reshape(shape))
        start += size


def remove(module, name):
    """Make the pruning of ``module.name`` permanent and drop ``name_orig``, ``name_mask`` and the hook."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(
        f"remove: parameter {name!r} of module {type(module).__name__} has to be pruned before pruning can be removed"
    )


def is_pruned(module):
    """Whether ``module`` or any of its sub-modules carries a pruning hook."""
    return any(isinstance(hook, BasePruningMethod) for m in module.modules() for hook in m._forward_pre_hooks.values())


def sparsity_report(model, names=("weight",)):
    """The fraction of zero entries of each parameter called one of ``names`` (pruned or not), by
    dotted name, plus ``"total"`` over all of them: ``{name: (zeros, count, fraction)}``."""
    if not isinstance(model, Module):
        raise TypeError(f"sparsity_report: expected a deepnotes Module, got {type(model).__name__}")
    report = {}
    zeros_all = count_all = 0
    for prefix, m in model.named_modules():
        for name in names:
            if name + "_orig" in m._parameters:
                values = m._parameters[name + "_orig"].data * m._buffers[name + "_mask"].data
            elif m._parameters.get(name) is not None:
                values = m._parameters[name].data
            else:
                continue
            zeros, count = int(np.count_nonzero(values == 0)), int(values.size)
            report[f"{prefix}.{name}" if prefix else name] = (zeros, count, zeros / count if count else 0.0)
            zeros_all += zeros
            count_all += count
    report["total"] = (zeros_all, count_all, zeros_all / count_all if count_all else 0.0)
    return report
