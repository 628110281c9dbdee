"""``einsum``: Einstein summation over any number of operands, with its gradient.

The gradient of operand i is itself an einsum: the output gradient contracted with every other operand
onto operand i's subscripts.  Two details make that general: a subscript repeated within operand i
(a diagonal, ``"ii->i"``) gets a fresh letter tied to the first by an identity matrix, and a subscript
that only operand i carries (summed away, ``"ij->i"``) is brought back by a vector of ones.
"""

import string

import numpy as np

from ..autograd.function import Function

_LETTERS = string.ascii_letters


def parse(equation, shapes):
    """``equation`` with every ``...`` replaced by letters and the output made explicit.

    Returns (list of input subscript strings, output subscript string, {letter: size})."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: expected an equation string like 'ij,jk->ik', got {equation!r}")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: the equation {equation!r} has {len(terms)} operand(s), but {len(shapes)} tensor(s) were given"
        )
    for t in terms + [rhs]:
        bad = set(t.replace("...", "")) - set(_LETTERS)
        if bad or t.count("...") > 1:
            raise ValueError(
                f"einsum: invalid subscripts {t!r} in {equation!r}; expected letters and at most one '...' per operand"
            )
    used = set(eq) & set(_LETTERS)
    free = [c for c in _LETTERS if c not in used]
    n_ell = 0
    for t, shape in zip(terms, shapes):
        named = len(t.replace("...", ""))
        if ("..." in t and named > len(shape)) or ("..." not in t and named != len(shape)):
            raise ValueError(f"einsum: subscripts {t!r} do not fit an operand of shape {tuple(shape)} in {equation!r}")
        if "..." in t:
            n_ell = max(n_ell, len(shape) - named)
    ell = "".join(free[:n_ell])
    inputs = []
    for t, shape in zip(terms, shapes):
        if "..." in t:
            k = len(shape) - len(t.replace("...", ""))
            t = t.replace("...", ell[n_ell - k :])
        inputs.append(t)
    if arrow:
        rhs = rhs.replace("...", ell)  # ellipsis dimensions the output leaves out are summed over
    else:
        counts = {}
        for t in inputs:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        rhs = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    sizes = {}
    for t, shape in zip(inputs, shapes):
        for c, n in zip(t, shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                raise ValueError(
                    f"einsum: subscript {c!r} stands for sizes {sizes[c]} and {n} in "
                    f"{equation!r} (operand shapes {[tuple(s) for s in shapes]})"
                )
    for c in rhs:
        if c not in sizes:
            raise ValueError(f"einsum: output subscript {c!r} does not appear in the inputs of {equation!r}")
    if len(set(rhs)) != len(rhs):
        raise ValueError(f"einsum: output subscripts {rhs!r} repeat a letter in {equation!r}")
    return inputs, rhs, sizes


class Einsum(Function):
    def forward(self, *arrays, equation):
        inputs, out, sizes = parse(equation, [a.shape for a in arrays])
        self.arrays, self.inputs, self.out, self.sizes = arrays, inputs, out, sizes
        return np.asarray(np.einsum(",".join(inputs) + "->" + out, *arrays, optimize=True))

    def backward(self, g):
        arrays, inputs, out, sizes = self.arrays, self.inputs, self.out, self.sizes
        full = [np.broadcast_to(a, tuple(sizes[c] for c in s)) for a, s in zip(arrays, inputs)]
        spare = iter(c for c in _LETTERS if c not in sizes)
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            subs, ops = [out], [g]
            for j, s in enumerate(inputs):
                if j != i:
                    subs.append(s)
                    ops.append(full[j])
            elsewhere = set("".join(subs))
            target, seen = [], set()
            for c in inputs[i]:
                if c in seen:  # a diagonal: a fresh letter equal to c through an identity matrix
                    f = next(spare)
                    subs.append(c + f)
                    ops.append(np.eye(sizes[c], dtype=g.dtype))
                    target.append(f)
                    continue
                seen.add(c)
                if c not in elsewhere:  # summed over in operand i only: d/dx of a sum is 1
                    subs.append(c)
                    ops.append(np.ones(sizes[c], dtype=g.dtype))
                target.append(c)
            grad = np.einsum(",".join(subs) + "->" + "".join(target), *ops, optimize=True)
            shape = arrays[i].shape
            axes = tuple(k for k, n in enumerate(shape) if n == 1 and grad.shape[k] != 1)
            if axes:  # operand i was broadcast along these axes
                grad = grad.sum(axis=axes, keepdims=True)
            grads.append(np.asarray(grad, dtype=arrays[i].dtype).reshape(shape))
        return tuple(grads)
