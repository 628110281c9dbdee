"""Iterative magnitude pruning with fine-tuning, and a per-layer sparsity table.

Pruning a trained network in one shot to a high sparsity loses accuracy that a few epochs of
fine-tuning cannot win back; pruning in several steps, fine-tuning after each, keeps it (Han et al.,
2015).  :func:`iterative_magnitude_pruning` runs that loop on the pruning functions of
:mod:`deepnotes.compress.prune` (``torch.nn.utils.prune``'s semantics): at step ``i`` the weights are
pruned to the cumulative sparsity ``amounts[i]`` (each step only removes entries that are still
alive, so the masks only grow), then ``fine_tune(model, i)`` trains the survivors (the masks are
re-applied on every forward, so pruned weights stay zero and get no gradient) and ``evaluate(model)``
scores the result.

Three scopes:

* ``"global"``: one magnitude threshold over all the weights (``global_unstructured``), so layers
  lose different fractions;
* ``"layer"``: every weight tensor pruned to the same fraction (``l1_unstructured``);
* ``"structured"``: whole output channels / rows of smallest L``n`` norm (``ln_structured`` along
  ``dim`` 0), the kind of sparsity that shrinks dense layers and makes them faster.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from ..nn.modules.conv import Conv2d
from ..nn.modules.linear import Linear
from ..nn.modules.module import Module
from . import prune

__all__ = [
    "PruningStep",
    "geometric_schedule",
    "iterative_magnitude_pruning",
    "prunable_parameters",
    "sparsity_table",
]

SCOPES = ("global", "layer", "structured")


@dataclass
class PruningStep:
    """One step of :func:`iterative_magnitude_pruning`: the cumulative ``target`` sparsity, the sparsity
    reached over the pruned tensors, the score returned by ``evaluate`` (None without one) and the
    sparsity of each pruned tensor by dotted name."""

    step: int
    target: float
    sparsity: float
    metric: float | None = None
    layers: dict = field(default_factory=dict)


def prunable_parameters(model, types=(Linear, Conv2d), name="weight"):
    """The ``(module, name)`` pairs of every ``types`` layer of ``model`` (default: the ``weight`` of each
    Linear and Conv2d), in module order: what :func:`iterative_magnitude_pruning` prunes by default."""
    if not isinstance(model, Module):
        raise TypeError(f"prunable_parameters: expected a deepnotes Module, got {type(model).__name__}")
    pairs = []
    for m in model.modules():
        if isinstance(m, types) and (m._parameters.get(name) is not None or name + "_orig" in m._parameters):
            pairs.append((m, name))
    return pairs


def geometric_schedule(final_sparsity, steps):
    """Cumulative sparsities that remove the same fraction of the surviving weights at every step:
    ``s_i = 1 - (1 - final_sparsity) ** (i / steps)`` for i = 1..steps (the last is ``final_sparsity``)."""
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"geometric_schedule: steps must be a positive int, got {steps!r}")
    if not isinstance(final_sparsity, numbers.Real) or not 0.0 <= float(final_sparsity) <= 1.0:
        raise ValueError(f"geometric_schedule: final_sparsity must be in [0, 1], got {final_sparsity!r}")
    keep = 1.0 - float(final_sparsity)
    return [1.0 - keep ** (i / steps) for i in range(1, steps)] + [float(final_sparsity)]


def _values(module, name):
    if name + "_orig" in module._parameters:
        return module._parameters[name + "_orig"].data * module._buffers[name + "_mask"].data
    return module._parameters[name].data


def _mask(module, name):
    buf = module._buffers.get(name + "_mask")
    return None if buf is None else buf.data


def _pruned_count(module, name):
    mask = _mask(module, name)
    return 0 if mask is None else int(mask.size - np.count_nonzero(mask))


def _dead_slices(module, name, dim):
    mask = _mask(module, name)
    if mask is None:
        return 0
    others = tuple(d for d in range(mask.ndim) if d != dim % mask.ndim)
    return int(np.count_nonzero(mask.sum(axis=others) == 0))


def _check_amounts(amounts):
    if isinstance(amounts, (str, bytes)) or not hasattr(amounts, "__iter__"):
        raise TypeError(f"iterative_magnitude_pruning: amounts must be a list of sparsities, got {amounts!r}")
    out = []
    for a in amounts:
        if isinstance(a, bool) or not isinstance(a, numbers.Real) or not 0.0 <= float(a) <= 1.0:
            raise ValueError(
                f"iterative_magnitude_pruning: every amount must be a sparsity in [0, 1], got {a!r} in {list(amounts)}"
            )
        out.append(float(a))
    if not out:
        raise ValueError("iterative_magnitude_pruning: amounts is empty; give at least one target sparsity")
    if any(b < a for a, b in zip(out, out[1:])):
        raise ValueError(
            f"iterative_magnitude_pruning: amounts are cumulative sparsities and must not decrease, got {out}"
        )
    return out


def _refresh(parameters):
    """Recompute each pruned ``name`` as ``name_orig * name_mask`` from the current weights, as the
    pruning hook does on a forward.  Without it the scores would be those of the last forward, before
    the fine-tuning's final optimizer step (torch's ``prune`` functions read that stale attribute)."""
    for m, k in parameters:
        for hook in m._forward_pre_hooks.values():
            if isinstance(hook, prune.BasePruningMethod) and hook._tensor_name == k:
                object.__setattr__(m, k, hook.apply_mask(m))


def _prune_to(parameters, target, scope, n, dim):
    """Prune ``parameters`` further so that the cumulative sparsity reaches ``target`` (counts rounded
    half to even, as torch rounds a fraction).  Only entries still alive are removed."""
    _refresh(parameters)
    if scope == "global":
        total = sum(_values(m, k).size for m, k in parameters)
        more = round(target * total) - sum(_pruned_count(m, k) for m, k in parameters)
        if more > 0:
            prune.global_unstructured(parameters, prune.L1Unstructured, amount=int(more))
    elif scope == "layer":
        for m, k in parameters:
            more = round(target * _values(m, k).size) - _pruned_count(m, k)
            if more > 0:
                prune.l1_unstructured(m, k, amount=int(more))
    else:
        for m, k in parameters:
            size = _values(m, k).shape[dim]
            more = round(target * size) - _dead_slices(m, k, dim)
            if more > 0:
                prune.ln_structured(m, k, amount=int(more), n=n, dim=dim)


def _sparsities(parameters, names):
    zeros = total = 0
    layers = {}
    for m, k in parameters:
        v = _values(m, k)
        z = int(v.size - np.count_nonzero(v))
        layers[names.get(id(m), type(m).__name__) + "." + k] = z / v.size
        zeros, total = zeros + z, total + v.size
    return zeros / total if total else 0.0, layers


def iterative_magnitude_pruning(
    model,
    fine_tune,
    amounts=None,
    *,
    final_sparsity=None,
    steps=None,
    parameters=None,
    scope="global",
    n=2,
    dim=0,
    evaluate=None,
    make_permanent=False,
):
    """Prune ``model`` in steps to the cumulative sparsities ``amounts`` (e.g. ``[0.5, 0.75, 0.9]``),
    or to ``final_sparsity`` in ``steps`` geometric steps (:func:`geometric_schedule`), calling
    ``fine_tune(model, step)`` after each pruning step and ``evaluate(model) -> float`` after each
    fine-tuning.

    ``parameters``: the ``(module, name)`` pairs to prune (default :func:`prunable_parameters`, every
    Linear/Conv2d weight).  ``scope``: 'global' (one threshold over all of them), 'layer' (each to the
    same fraction) or 'structured' (whole slices along ``dim`` of smallest ``n``-norm).  Sparsity is
    counted as pruned entries over all entries of the pruned tensors.  ``make_permanent`` calls
    ``prune.remove`` at the end (the masks are folded into the weights).  Returns the list of
    :class:`PruningStep` records; the model is pruned in place.
    """
    where = "iterative_magnitude_pruning"
    if not isinstance(model, Module):
        raise TypeError(f"{where}: expected a deepnotes Module, got {type(model).__name__}")
    if fine_tune is not None and not callable(fine_tune):
        raise TypeError(f"{where}: fine_tune must be a callable fine_tune(model, step) or None, got {fine_tune!r}")
    if evaluate is not None and not callable(evaluate):
        raise TypeError(f"{where}: evaluate must be a callable evaluate(model) -> float or None, got {evaluate!r}")
    if scope not in SCOPES:
        raise ValueError(f"{where}: scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if amounts is None:
        if final_sparsity is None or steps is None:
            raise ValueError(f"{where}: give amounts (cumulative sparsities) or both final_sparsity and steps")
        amounts = geometric_schedule(final_sparsity, steps)
    elif final_sparsity is not None or steps is not None:
        raise ValueError(f"{where}: give either amounts or final_sparsity and steps, not both")
    amounts = _check_amounts(amounts)
    parameters = prunable_parameters(model) if parameters is None else list(parameters)
    if not parameters:
        raise ValueError(
            f"{where}: the model has no Linear or Conv2d weight to prune; pass parameters=[(module, name)]"
        )
    for pair in parameters:
        if not (
            isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], Module) and isinstance(pair[1], str)
        ):
            raise TypeError(f"{where}: parameters must be (module, name) pairs, got {pair!r}")
    names = {id(m): p for p, m in model.named_modules()}
    history = []
    for i, target in enumerate(amounts):
        _prune_to(parameters, target, scope, n, dim)
        if fine_tune is not None:
            fine_tune(model, i)
        sparsity, layers = _sparsities(parameters, names)
        metric = None if evaluate is None else float(evaluate(model))
        history.append(PruningStep(i, target, sparsity, metric, layers))
    if make_permanent:
        for m, k in parameters:
            if k + "_orig" in m._parameters:
                prune.remove(m, k)
    return history


def sparsity_table(model, names=("weight",)):
    """A text table of :func:`prune.sparsity_report`: one row per parameter (shape, zeros, size,
    sparsity in %) and a total row; the zero entries of pruned and unpruned tensors are counted alike."""
    report = prune.sparsity_report(model, names)
    shapes = {}
    for prefix, m in model.named_modules():
        for k in names:
            if k + "_orig" in m._parameters or m._parameters.get(k) is not None:
                shapes[f"{prefix}.{k}" if prefix else k] = tuple(_values(m, k).shape)
    rows = [
        (name, "x".join(map(str, shapes.get(name, ()))) or "-", z, c, f"{100 * f:.2f}")
        for name, (z, c, f) in report.items()
    ]
    header = ("parameter", "shape", "zeros", "size", "sparsity %")
    widths = [max(len(str(r[j])) for r in rows + [header]) for j in range(len(header))]
    line = "  ".join("-" * w for w in widths)

    def fmt(r):
        return "  ".join(str(v).ljust(w) if j < 2 else str(v).rjust(w) for j, (v, w) in enumerate(zip(r, widths)))

    body = [fmt(r) for r in rows[:-1]]
    return "\n".join([fmt(header), line, *body, line, fmt(rows[-1])])
