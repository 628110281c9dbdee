"""Max and average pooling the way the notes explain them: one window at a time.

Notes: S001-04 (max/average pooling, forward and backward), S003-25 (how pooling back-propagates),
S001-07 (overlapping pooling: stride < kernel), S001-09 (output size).

Fast counterparts: :class:`deepnotes.ops.pool.MaxPool2dFn` and :class:`deepnotes.ops.pool.AvgPool2dFn`
(a running max / sum over the kh*kw kernel offsets of strided window views, never a loop over pixels).

Here every output position is visited in Python and its window is listed tap by tap.  Padding is
virtual: a tap outside the input is skipped (max pooling pads with -inf, so such a tap never wins);
for average pooling it is counted in the divisor only when ``count_include_pad``.
"""

import math

import numpy as np

from ._geometry import pair


def pool_output_size(size, kernel, stride, padding, dilation=1, ceil_mode=False):
    """Output length along one axis: (size + 2p - d (k - 1) - 1) / s + 1, rounded down (or up with
    ``ceil_mode``); with ``ceil_mode`` a last window that would start past the input and its left
    padding is dropped (torch's rule).  Notes: S001-09."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _taps(start, kernel, dilation, size):
    """Input indices start, start + d, ... (``kernel`` taps) that lie inside [0, size)."""
    return [start + dilation * i for i in range(kernel) if 0 <= start + dilation * i < size]


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling of x (N, C, H, W): y[n, c, h, w] = max over the window's taps inside the input.

    The window of output (h, w) starts at input row s0*h - p0 and column s1*w - p1 and holds taps
    d apart.  Taps are visited row by row; a later tap replaces the current maximum only when it is
    strictly larger (so the first maximum wins ties) or NaN (NaN propagates and the last NaN
    wins, torch's CPU rule ``val > max || isnan(val)``).

    Returns (y, argmax) where argmax[n, c, h, w] is the flat index r * W + q of the winning input
    position (-1 for a window with no tap inside the input; its output is -inf).
    Notes: S001-04, S001-07.  Fast kernel: :class:`deepnotes.ops.pool.MaxPool2dFn`.
    """
    x = np.asarray(x)
    N, C, H, W = x.shape
    k = pair(kernel_size, "max_pool2d_forward")
    s = k if stride is None else pair(stride, "max_pool2d_forward")
    p, d = pair(padding, "max_pool2d_forward"), pair(dilation, "max_pool2d_forward")
    Ho = pool_output_size(H, k[0], s[0], p[0], d[0], ceil_mode)
    Wo = pool_output_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    y = np.full((N, C, Ho, Wo), -np.inf, dtype=x.dtype)
    arg = np.full((N, C, Ho, Wo), -1, dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for h in range(Ho):
                rows = _taps(s[0] * h - p[0], k[0], d[0], H)
                for w in range(Wo):
                    cols = _taps(s[1] * w - p[1], k[1], d[1], W)
                    best, where = None, -1
                    for r in rows:
                        for q in cols:
                            v = x[n, c, r, q]
                            if best is None or v > best or np.isnan(v):
                                best, where = v, r * W + q
                    if best is not None:
                        y[n, c, h, w], arg[n, c, h, w] = best, where
    return y, arg


def max_pool2d_backward(grad_out, x_shape, argmax):
    """Gradient of max pooling: each output's gradient goes to the one input position that won its
    window, dx[argmax[n, c, h, w]] += dy[n, c, h, w] (overlapping windows can send several gradients to
    one pixel, S001-07); every other input gets 0.  Notes: S001-04, S003-25.
    Fast kernel: :meth:`deepnotes.ops.pool.MaxPool2dFn.backward`.
    """
    dy = np.asarray(grad_out)
    N, C, H, W = x_shape
    dx = np.zeros((N, C, H, W), dtype=dy.dtype)
    for n in range(N):
        for c in range(C):
            for h in range(dy.shape[2]):
                for w in range(dy.shape[3]):
                    a = argmax[n, c, h, w]
                    if a >= 0:
                        dx[n, c, a // W, a % W] += dy[n, c, h, w]
    return dx


def _avg_window(h, w, k, s, p, H, W, count_include_pad, divisor_override):
    """The input rows and columns of window (h, w) and its divisor, by torch's avg_pool2d rule: the
    window is first clipped to the padded input [-p, size + p) (a ceil-mode window can run past it),
    its area is the divisor when padding counts; then it is clipped to the input itself."""
    r0, q0 = s[0] * h - p[0], s[1] * w - p[1]
    r1, q1 = min(r0 + k[0], H + p[0]), min(q0 + k[1], W + p[1])
    divisor = (r1 - r0) * (q1 - q0)
    r0, q0, r1, q1 = max(r0, 0), max(q0, 0), min(r1, H), min(q1, W)
    if not count_include_pad:
        divisor = (r1 - r0) * (q1 - q0)
    if divisor_override:
        divisor = divisor_override
    return range(r0, r1), range(q0, q1), divisor


def avg_pool2d_forward(
    x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """Average pooling of x (N, C, H, W): y[n, c, h, w] = (sum of the window's inputs) / divisor.

    The divisor is the window's area inside the zero-padded input (``count_include_pad=True``), or
    inside the input only (``False``), or ``divisor_override``.  Notes: S001-04, S001-07.
    Fast kernel: :class:`deepnotes.ops.pool.AvgPool2dFn`.
    """
    x = np.asarray(x)
    N, C, H, W = x.shape
    k = pair(kernel_size, "avg_pool2d_forward")
    s = k if stride is None else pair(stride, "avg_pool2d_forward")
    p = pair(padding, "avg_pool2d_forward")
    Ho = pool_output_size(H, k[0], s[0], p[0], 1, ceil_mode)
    Wo = pool_output_size(W, k[1], s[1], p[1], 1, ceil_mode)
    y = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for h in range(Ho):
        for w in range(Wo):
            rows, cols, divisor = _avg_window(h, w, k, s, p, H, W, count_include_pad, divisor_override)
            for n in range(N):
                for c in range(C):
                    total = 0.0
                    for r in rows:
                        for q in cols:
                            total += x[n, c, r, q]
                    y[n, c, h, w] = total / divisor
    return y


def avg_pool2d_backward(
    grad_out,
    x_shape,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """Gradient of average pooling: each output's gradient is split evenly over its window,
    dx[n, c, r, q] += dy[n, c, h, w] / divisor for every input (r, q) of window (h, w).
    Notes: S001-04, S003-25.  Fast kernel: :meth:`deepnotes.ops.pool.AvgPool2dFn.backward`.
    """
    dy = np.asarray(grad_out)
    N, C, H, W = x_shape
    k = pair(kernel_size, "avg_pool2d_backward")
    s = k if stride is None else pair(stride, "avg_pool2d_backward")
    p = pair(padding, "avg_pool2d_backward")
    dx = np.zeros((N, C, H, W), dtype=dy.dtype)
    for h in range(dy.shape[2]):
        for w in range(dy.shape[3]):
            rows, cols, divisor = _avg_window(h, w, k, s, p, H, W, count_include_pad, divisor_override)
            for n in range(N):
                for c in range(C):
                    share = dy[n, c, h, w] / divisor
                    for r in rows:
                        for q in cols:
                            dx[n, c, r, q] += share
    return dx
