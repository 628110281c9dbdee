"""Convolution the way the notes explain it: one kernel slides over the input, one output pixel at a time.

Notes: S003-01 (what a convolution is), S001-03 (deep-learning "convolution" is cross-correlation),
S001-09 / S003-02 (output size), S001-11 (implement a convolution by hand), S000-10 / S002-04
(grouped convolution), S000-12 (depthwise separable convolution), S002-23 (im2col, what the fast path
does instead).

Fast counterparts: :class:`deepnotes.ops.conv.Conv2dFn` (im2col + one GEMM per group forward, the
weight gradient from the same columns and col2im for the input gradient; a phase-split shifted-slice
path for depthwise layers) and :class:`deepnotes.ops.conv_transpose.ConvTranspose2dFn` (col2im of
``W^T x``).

Every function here loops over batch items, channels and positions in Python; the only NumPy work
inside the loops is one kernel against one window (the dot product of conv2d, the scaled kernel copy
that a transposed convolution scatters; the depthwise version even loops over the kernel taps).  They
are meant to be read, and they are slow: use them on tiny arrays.
"""

import numpy as np

from ._geometry import conv_out, pads, pair


def _padded(x, p):
    """x (N, C, H, W) with zeros around it: p = ((top, bottom), (left, right))."""
    (t, b), (left, r) = p
    return np.pad(x, ((0, 0), (0, 0), (t, b), (left, r)))


def _window(xp, n, channels, h0, w0, kh, kw, dilation):
    """The (len(channels), kh, kw) input window whose top-left tap is at padded (h0, w0)."""
    d0, d1 = dilation
    return xp[n, channels, h0 : h0 + d0 * (kh - 1) + 1 : d0, w0 : w0 + d1 * (kw - 1) + 1 : d1]


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation of x (N, C, H, W) with weight (O, C/groups, kh, kw), plus bias (O,).

    For every sample n, output channel o and output position (h, w):

        y[n, o, h, w] = b[o] + sum_{c, i, j} W[o, c, i, j] * x_pad[n, g*C/groups + c, s0*h + d0*i, s1*w + d1*j]

    where g = o // (O/groups) is the group of output channel o (it only sees its group's C/groups input
    channels, S000-10), ``x_pad`` is x surrounded by ``padding`` zeros and the output size follows
    S001-09: Ho = floor((H + p_top + p_bottom - d0 (kh - 1) - 1) / s0) + 1 (likewise Wo).

    ``padding`` is an int, a pair or ((top, bottom), (left, right)).  Notes: S003-01, S001-03, S001-11.
    Fast kernel: :class:`deepnotes.ops.conv.Conv2dFn` (im2col + GEMM, :func:`deepnotes.ops.conv.im2col`).
    """
    x, weight = np.asarray(x), np.asarray(weight)
    N, C, H, W = x.shape
    O, Cg, kh, kw = weight.shape
    s, d, p = pair(stride, "conv2d_forward"), pair(dilation, "conv2d_forward"), pads(padding, "conv2d_forward")
    if C != Cg * groups or O % groups:
        raise ValueError(f"conv2d_forward: weight {weight.shape} with groups={groups} does not fit input {x.shape}")
    Ho = conv_out(H, kh, s[0], p[0][0], p[0][1], d[0])
    Wo = conv_out(W, kw, s[1], p[1][0], p[1][1], d[1])
    xp = _padded(x, p)
    Og = O // groups
    y = np.zeros((N, O, Ho, Wo), dtype=np.result_type(x, weight))
    for n in range(N):
        for o in range(O):
            g = o // Og
            channels = slice(g * Cg, (g + 1) * Cg)
            for h in range(Ho):
                for w in range(Wo):
                    patch = _window(xp, n, channels, s[0] * h, s[1] * w, kh, kw, d)
                    y[n, o, h, w] = np.sum(weight[o] * patch) + (bias[o] if bias is not None else 0)
    return y


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of :func:`conv2d_forward` for an upstream gradient dy (N, O, Ho, Wo).

    Walk the same loops as the forward pass; output pixel y[n, o, h, w] was the dot product of W[o]
    with one window of x_pad, so its gradient dy[n, o, h, w]

    * adds dy * W[o] back onto that window of the padded input gradient (overlapping windows add up;
      the padding is cut off at the end): dx;
    * adds dy * window to the weight gradient of W[o]: dW;
    * adds dy to the bias gradient of channel o: db[o] = sum_{n, h, w} dy[n, o, h, w].

    Returns (dx, dW, db).  Notes: S001-11, S001-112 (back-propagation), S002-23.
    Fast kernel: :meth:`deepnotes.ops.conv.Conv2dFn.backward` (columns @ dy for dW, col2im of W^T dy for dx).
    """
    x, weight, dy = np.asarray(x), np.asarray(weight), np.asarray(grad_out)
    N, C, H, W = x.shape
    O, Cg, kh, kw = weight.shape
    s, d, p = pair(stride, "conv2d_backward"), pair(dilation, "conv2d_backward"), pads(padding, "conv2d_backward")
    xp = _padded(x, p)
    dxp = np.zeros_like(xp, dtype=dy.dtype)
    dw = np.zeros_like(weight, dtype=dy.dtype)
    Og = O // groups
    Ho, Wo = dy.shape[2:]
    d0, d1 = d
    for n in range(N):
        for o in range(O):
            g = o // Og
            channels = slice(g * Cg, (g + 1) * Cg)
            for h in range(Ho):
                for w in range(Wo):
                    h0, w0 = s[0] * h, s[1] * w
                    dw[o] += dy[n, o, h, w] * _window(xp, n, channels, h0, w0, kh, kw, d)
                    dxp[n, channels, h0 : h0 + d0 * (kh - 1) + 1 : d0, w0 : w0 + d1 * (kw - 1) + 1 : d1] += (
                        dy[n, o, h, w] * weight[o]
                    )
    db = dy.sum(axis=(0, 2, 3))
    (t, _), (left, _) = p
    return dxp[:, :, t : t + H, left : left + W], dw, db


def depthwise_conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Depthwise convolution (MobileNet's first step, S000-12): one kh x kw filter per channel.

    x (N, C, H, W), weight (C, 1, kh, kw), bias (C,):

        y[n, c, h, w] = b[c] + sum_{i, j} W[c, 0, i, j] * x_pad[n, c, s0*h + d0*i, s1*w + d1*j]

    which is conv2d with groups = C: channel c never mixes with another channel, so a layer costs
    C * kh * kw weights instead of C * C * kh * kw (S000-13).  Notes: S000-12, S000-13, S002-79.
    Fast kernel: the depthwise path of :class:`deepnotes.ops.conv.Conv2dFn`
    (``Conv2dFn._depthwise_forward``: kh*kw shifted multiply-adds over flattened stride phases).
    """
    x, weight = np.asarray(x), np.asarray(weight)
    N, C, H, W = x.shape
    if weight.shape[:2] != (C, 1):
        raise ValueError(f"depthwise_conv2d_forward: expected a weight of shape ({C}, 1, kh, kw), got {weight.shape}")
    kh, kw = weight.shape[2:]
    s, d = pair(stride, "depthwise_conv2d_forward"), pair(dilation, "depthwise_conv2d_forward")
    p = pads(padding, "depthwise_conv2d_forward")
    Ho = conv_out(H, kh, s[0], p[0][0], p[0][1], d[0])
    Wo = conv_out(W, kw, s[1], p[1][0], p[1][1], d[1])
    xp = _padded(x, p)
    d0, d1 = d
    y = np.zeros((N, C, Ho, Wo), dtype=np.result_type(x, weight))
    for n in range(N):
        for c in range(C):
            for h in range(Ho):
                for w in range(Wo):
                    total = 0.0 if bias is None else bias[c]
                    for i in range(kh):
                        for j in range(kw):
                            total += weight[c, 0, i, j] * xp[n, c, s[0] * h + d0 * i, s[1] * w + d1 * j]
                    y[n, c, h, w] = total
    return y


def depthwise_conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1):
    """Gradients (dx, dW, db) of :func:`depthwise_conv2d_forward` for dy (N, C, Ho, Wo).

    Each tap contributes W[c, 0, i, j] * x_pad[n, c, s0*h + d0*i, s1*w + d1*j] to y[n, c, h, w], so

        dx_pad[n, c, s0*h + d0*i, s1*w + d1*j] += dy[n, c, h, w] * W[c, 0, i, j]
        dW[c, 0, i, j]                         += dy[n, c, h, w] * x_pad[n, c, s0*h + d0*i, s1*w + d1*j]
        db[c]                                  += dy[n, c, h, w]

    Notes: S000-12, S001-112.
    Fast kernel: ``deepnotes.ops.conv.Conv2dFn._depthwise_backward``.
    """
    x, weight, dy = np.asarray(x), np.asarray(weight), np.asarray(grad_out)
    N, C, H, W = x.shape
    kh, kw = weight.shape[2:]
    s, d = pair(stride, "depthwise_conv2d_backward"), pair(dilation, "depthwise_conv2d_backward")
    p = pads(padding, "depthwise_conv2d_backward")
    xp = _padded(x, p)
    dxp = np.zeros_like(xp, dtype=dy.dtype)
    dw = np.zeros_like(weight, dtype=dy.dtype)
    db = np.zeros(C, dtype=dy.dtype)
    Ho, Wo = dy.shape[2:]
    d0, d1 = d
    for n in range(N):
        for c in range(C):
            for h in range(Ho):
                for w in range(Wo):
                    g = dy[n, c, h, w]
                    db[c] += g
                    for i in range(kh):
                        for j in range(kw):
                            r, q = s[0] * h + d0 * i, s[1] * w + d1 * j
                            dxp[n, c, r, q] += g * weight[c, 0, i, j]
                            dw[c, 0, i, j] += g * xp[n, c, r, q]
    (t, _), (left, _) = p
    return dxp[:, :, t : t + H, left : left + W], dw, db


def conv_transpose2d_forward(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """Transposed convolution: every input pixel scatters a scaled copy of its kernel into the output.

    x (N, C, H, W), weight (C, O/groups, kh, kw) (torch's layout), bias (O,).  For every sample n, input
    channel c (of group g = c // (C/groups)) and input position (h, w):

        y_full[n, g*O/groups + o, s0*h + d0*i, s1*w + d1*j] += x[n, c, h, w] * W[c, o, i, j]

    for all o, i, j; overlapping copies add.  The canvas y_full has
    (H - 1) s0 + d0 (kh - 1) + 1 + output_padding rows; ``padding`` rows are then cut from the top and
    the bottom of it (columns likewise), so Ho = (H - 1) s0 - 2 p0 + d0 (kh - 1) + output_padding + 1,
    the inverse of conv2d's size formula (S001-09).  The map is the adjoint of conv2d: its forward pass
    is conv2d's input-gradient computation (compare :func:`conv2d_backward`).
    Notes: S001-09, S003-01.  Fast kernel: :class:`deepnotes.ops.conv_transpose.ConvTranspose2dFn`
    (one GEMM ``W^T x`` then :func:`deepnotes.ops.conv.col2im`).
    """
    x, weight = np.asarray(x), np.asarray(weight)
    N, C, H, W = x.shape
    _, Og, kh, kw = weight.shape
    s, d = pair(stride, "conv_transpose2d_forward"), pair(dilation, "conv_transpose2d_forward")
    p, q = pair(padding, "conv_transpose2d_forward"), pair(output_padding, "conv_transpose2d_forward")
    Cg = C // groups
    Hf = (H - 1) * s[0] + d[0] * (kh - 1) + 1 + q[0]
    Wf = (W - 1) * s[1] + d[1] * (kw - 1) + 1 + q[1]
    full = np.zeros((N, Og * groups, Hf, Wf), dtype=np.result_type(x, weight))
    d0, d1 = d
    for n in range(N):
        for c in range(C):
            g = c // Cg
            outs = slice(g * Og, (g + 1) * Og)
            for h in range(H):
                for w in range(W):
                    h0, w0 = s[0] * h, s[1] * w
                    rows, cols = slice(h0, h0 + d0 * (kh - 1) + 1, d0), slice(w0, w0 + d1 * (kw - 1) + 1, d1)
                    full[n, outs, rows, cols] += x[n, c, h, w] * weight[c]
    Ho, Wo = Hf - 2 * p[0], Wf - 2 * p[1]
    y = full[:, :, p[0] : p[0] + Ho, p[1] : p[1] + Wo].copy()
    if bias is not None:
        for o in range(y.shape[1]):
            y[:, o] += bias[o]
    return y


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """Gradients (dx, dW, db) of :func:`conv_transpose2d_forward` for dy (N, O, Ho, Wo).

    Put dy back on the uncropped canvas (zeros where the padding was cut off); input pixel x[n, c, h, w]
    wrote x * W[c] onto one window of that canvas, so

        dx[n, c, h, w] = sum_{o, i, j} W[c, o, i, j] * dy_full[n, g*O/groups + o, s0*h + d0*i, s1*w + d1*j]
        dW[c]         += x[n, c, h, w] * (that window of dy_full)
        db[o]          = sum_{n, h, w} dy[n, o, h, w]

    i.e. dx is a conv2d of dy with the same weight.  Notes: S001-112.
    Fast kernel: :meth:`deepnotes.ops.conv_transpose.ConvTranspose2dFn.backward` (im2col of the padded dy).
    """
    x, weight, dy = np.asarray(x), np.asarray(weight), np.asarray(grad_out)
    N, C, H, W = x.shape
    _, Og, kh, kw = weight.shape
    s, d = pair(stride, "conv_transpose2d_backward"), pair(dilation, "conv_transpose2d_backward")
    p = pair(padding, "conv_transpose2d_backward")
    q = pair(output_padding, "conv_transpose2d_backward")
    Cg = C // groups
    Hf = (H - 1) * s[0] + d[0] * (kh - 1) + 1 + q[0]
    Wf = (W - 1) * s[1] + d[1] * (kw - 1) + 1 + q[1]
    full = np.zeros((N, Og * groups, Hf, Wf), dtype=dy.dtype)
    full[:, :, p[0] : p[0] + dy.shape[2], p[1] : p[1] + dy.shape[3]] = dy
    dx = np.zeros_like(x, dtype=dy.dtype)
    dw = np.zeros_like(weight, dtype=dy.dtype)
    d0, d1 = d
    for n in range(N):
        for c in range(C):
            g = c // Cg
            outs = slice(g * Og, (g + 1) * Og)
            for h in range(H):
                for w in range(W):
                    h0, w0 = s[0] * h, s[1] * w
                    window = full[n, outs, h0 : h0 + d0 * (kh - 1) + 1 : d0, w0 : w0 + d1 * (kw - 1) + 1 : d1]
                    dx[n, c, h, w] = np.sum(weight[c] * window)
                    dw[c] += x[n, c, h, w] * window
    db = dy.sum(axis=(0, 2, 3))
    return dx, dw, db
