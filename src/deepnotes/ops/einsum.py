"""``einsum``: Einstein summation over any number of operands, with its gradient.

The gradient of operand i is itself an einsum: the output gradient contracted with every other operand
onto operand i's subscripts.  Two details make that general: a subscript repeated within operand i
(a diagonal, ``"ii->i"``) gets a fresh letter tied to the first by an identity matrix, and a subscript
that only operand i carries (summed away, ``"ij->i"``) is brought back by a vector of ones.
"""

import string

import numpy as np

from ..autograd.function import Function
from ._graph import const, reshape
from .shape import Expand

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

    def _grad_terms(self, i):
        """The einsum giving operand i's gradient: (equation, terms), each term ``("g",)`` (the output
        gradient), ``("x", j)`` (operand j broadcast to its full size), ``("eye", c)`` (an identity
        matrix tying a repeated letter, a diagonal) or ``("ones", c)`` (a letter summed over in
        operand i only: d/dx of a sum is 1)."""
        inputs, out, sizes = self.inputs, self.out, self.sizes
        spare = iter(c for c in _LETTERS if c not in sizes)
        subs, terms = [out], [("g",)]
        for j, s in enumerate(inputs):
            if j != i:
                subs.append(s)
                terms.append(("x", j))
        elsewhere = set("".join(subs))
        target, seen = [], set()
        for c in inputs[i]:
            if c in seen:  # a diagonal: a fresh letter equal to c through an identity matrix
                f = next(spare)
                subs.append(c + f)
                terms.append(("eye", c))
                target.append(f)
                continue
            seen.add(c)
            if c not in elsewhere:
                subs.append(c)
                terms.append(("ones", c))
            target.append(c)
        return ",".join(subs) + "->" + "".join(target), terms

    def _broadcast_axes(self, i, grad_shape):
        """Axes along which operand i (of size 1 there) was broadcast: its gradient is summed over them."""
        shape = self.arrays[i].shape
        return tuple(k for k, n in enumerate(shape) if n == 1 and grad_shape[k] != 1)

    def backward(self, g):
        arrays, inputs, sizes = self.arrays, self.inputs, self.sizes
        full = [np.broadcast_to(a, tuple(sizes[c] for c in s)) for a, s in zip(arrays, inputs)]
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            equation, terms = self._grad_terms(i)
            ops = [self._term_array(t, g, full) for t in terms]
            grad = np.einsum(equation, *ops, optimize=True)
            axes = self._broadcast_axes(i, grad.shape)
            if axes:  # operand i was broadcast along these axes
                grad = grad.sum(axis=axes, keepdims=True)
            grads.append(np.asarray(grad, dtype=arrays[i].dtype).reshape(arrays[i].shape))
        return tuple(grads)

    def _term_array(self, term, g, full):
        kind = term[0]
        if kind == "g":
            return g
        if kind == "x":
            return full[term[1]]
        n = self.sizes[term[1]]
        return np.eye(n, dtype=g.dtype) if kind == "eye" else np.ones(n, dtype=g.dtype)

    def backward_graph(self, g):
        """The same einsums, recorded: the operands are the input tensors (expanded where they were
        broadcast) and the output gradient."""
        parents, inputs, sizes = self.parents, self.inputs, self.sizes
        full = []
        for t, sub in zip(parents, inputs):
            shape = tuple(sizes[c] for c in sub)
            full.append(t if tuple(t.shape) == shape else Expand.apply(t, shape=shape))
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            equation, terms = self._grad_terms(i)
            ops = [
                self._term_array(t, g, full) if t[0] in ("g", "x") else const(g, self._term_array(t, g.data, None))
                for t in terms
            ]
            grad = Einsum.apply(*ops, equation=equation)
            axes = self._broadcast_axes(i, grad.shape)
            if axes:
                grad = grad.sum(axes, keepdim=True)
            grads.append(reshape(grad, self.arrays[i].shape))
        return tuple(grads)
