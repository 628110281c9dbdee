"""Small helpers shared by the references: argument normalisation and the output-size formulas.

Written out once here so that every reference reads the same way; none of them is used by the fast
kernels.
"""


def pair(value, name):
    """``value`` as a pair of ints (an int ``v`` becomes ``(v, v)``)."""
    if isinstance(value, int):
        return (value, value)
    pair_ = tuple(int(v) for v in value)
    if len(pair_) != 2:
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")
    return pair_


def pads(padding, name):
    """Zero padding as ((top, bottom), (left, right)).

    Accepts an int, a pair ``(ph, pw)`` (the same amount on both sides of an axis) or the explicit
    ``((top, bottom), (left, right))`` the fast primitive receives (conv2d's 'same' padding can be
    asymmetric).
    """
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    rows, cols = padding
    if isinstance(rows, int) and isinstance(cols, int):
        return ((rows, rows), (cols, cols))
    (t, b), (left, r) = rows, cols
    if min(t, b, left, r) < 0:
        raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
    return ((int(t), int(b)), (int(left), int(r)))


def conv_out(size, kernel, stride, pad_before, pad_after, dilation):
    """The notes' output-size formula (S001-09): floor((H + p_before + p_after - d (k - 1) - 1) / s) + 1."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1
