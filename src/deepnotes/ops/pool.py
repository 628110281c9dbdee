"""Max and average pooling over strided window views.

Max pooling sends the gradient only to the arg-max of each window; average pooling splits it evenly
over the window (seed 001).  Both loop over the kh*kw kernel offsets, never over pixels.
"""

import numpy as np

from ..autograd.function import Function
from ._finite import all_finite
from ._graph import linked
from .conv import pad_input, patches
from .linear import AxisMatrixFn, along_axis
from .shape import GetItem, IndexScatter


def pool_output_size(size, kernel, stride, padding, dilation=1, ceil_mode=False):
    """torch's pooling output size: floor (or ceil) division, and with ceil_mode the last window must
    start inside the input or the left padding."""
    eff = dilation * (kernel - 1) + 1
    num = size + 2 * padding - eff
    out = (-(-num // stride) if ceil_mode else num // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _geometry(shape, kernel, stride, padding, dilation, ceil_mode):
    H, W = shape[2:]
    Ho = pool_output_size(H, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    Wo = pool_output_size(W, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    if Ho <= 0 or Wo <= 0:
        raise ValueError(
            f"pool2d: input of spatial size {H}x{W} is too small for kernel {kernel} with padding {padding}"
        )
    # extra bottom/right padding so the last (ceil-mode) window lies inside the padded array
    need_h = (Ho - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1
    need_w = (Wo - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1
    pads = (
        (padding[0], max(need_h - H - padding[0], padding[0])),
        (padding[1], max(need_w - W - padding[1], padding[1])),
    )
    return Ho, Wo, pads


class MaxPool2dFn(Function):
    """Running maximum over the kh*kw kernel offsets of strided window views (no window copies).

    A later offset replaces the current maximum when it is strictly larger or NaN (torch's rule, so
    ties keep the first offset and NaN propagates); ``arg`` records the winning offset per output.

    Reference (loops, as the notes explain it): deepnotes.reference.pool.max_pool2d_forward / max_pool2d_backward.
    """

    def forward(self, x, kernel, stride, padding, dilation, ceil_mode):
        Ho, Wo, pads = _geometry(x.shape, kernel, stride, padding, dilation, ceil_mode)
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xp = pad_input(x, pads, fill)
        kh, kw = kernel
        view = patches(xp, kh, kw, Ho, Wo, stride, dilation)  # N C kh kw Ho Wo
        out = view[:, :, 0, 0].copy()
        arg = np.zeros(out.shape, dtype=np.int16 if kh * kw < 2**15 else np.int64)
        check_nan = x.dtype.kind == "f" and bool(np.isnan(x).any())
        better = np.empty(out.shape, dtype=bool)
        step = np.empty(out.shape, dtype=arg.dtype)
        # masked assignments (copyto/where with a random mask) are ~30x slower than these dense passes
        for k in range(1, kh * kw):
            v = view[:, :, k // kw, k % kw]
            np.greater(v, out, out=better)
            if check_nan:
                better |= np.isnan(v)
            np.maximum(out, v, out=out)  # NaN propagates, as in torch
            np.subtract(arg.dtype.type(k), arg, out=step)
            step *= better
            arg += step
        self.arg, self.xshape, self.xpshape, self.pads = arg, x.shape, xp.shape, pads
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.outside = None
        # a padding tap can only have won where the maximum is the fill value itself
        if (pads[0][0] or pads[1][0]) and (out == fill).any():
            self._first_inside_tap()
        return out

    def _taps(self, arg):
        """Input (row, col) of kernel tap ``arg`` of each output window (negative inside the padding)."""
        Ho, Wo = self.arg.shape[2:]
        i, j = np.divmod(arg, self.kernel[1])
        rows = np.arange(Ho)[:, None] * self.stride[0] + i * self.dilation[0] - self.pads[0][0]
        cols = np.arange(Wo)[None, :] * self.stride[1] + j * self.dilation[1] - self.pads[1][0]
        return rows, cols

    def _first_inside_tap(self):
        """torch starts each window's arg-max at its first tap inside the input and moves it only to a
        strictly larger (or NaN) value, so a window whose input taps are all -inf (or the integer
        minimum) reports that first inside tap, not the padding tap that won the running maximum here.
        Move ``arg`` there.  A window with no tap inside the input (dilation) keeps no gradient and
        reports torch's index of the would-be first tap (``outside``)."""
        rows, cols = self._taps(self.arg)
        H, W = self.xshape[2:]
        padded = (rows < 0) | (cols < 0)
        if not padded.any():
            return
        Ho, Wo = self.arg.shape[2:]
        first = []
        for n, s, d, p in zip((Ho, Wo), self.stride, self.dilation, (self.pads[0][0], self.pads[1][0])):
            start = np.arange(n) * s - p
            m = np.maximum(0, -(start // d))  # taps skipped before the input begins
            first.append((m, start + m * d))
        (mh, rh), (mw, rw) = first
        tap = mh[:, None] * self.kernel[1] + mw[None, :]
        inside = (
            ((mh < self.kernel[0])[:, None] & (mw < self.kernel[1])[None, :]) & (rh < H)[:, None] & (rw < W)[None, :]
        )
        fix = padded & inside
        self.arg = np.where(fix, tap.astype(self.arg.dtype), self.arg)
        if (padded & ~inside).any():
            self.outside = (padded & ~inside, rh[:, None] * W + rw[None, :])

    def indices(self):
        """Flat indices into each input plane (H*W), as torch's return_indices gives them."""
        rows, cols = self._taps(self.arg)
        idx = (rows * self.xshape[3] + cols).astype(np.int64)
        if self.outside is not None:
            mask, torch_index = self.outside
            idx = np.where(mask, torch_index, idx)
        return idx

    def backward(self, grad):
        N, C, H, W = self.xshape
        kh, kw = self.kernel
        Ho, Wo = grad.shape[2:]
        (s0, s1), (d0, d1) = self.stride, self.dilation
        dxp = np.zeros(self.xpshape, dtype=grad.dtype)
        zero = np.zeros((), dtype=grad.dtype)
        finite = bool(np.isfinite(grad).all())  # then grad * mask is exact and much faster than where
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            hit = self.arg == k
            dxp[:, :, i * d0 : i * d0 + s0 * (Ho - 1) + 1 : s0, j * d1 : j * d1 + s1 * (Wo - 1) + 1 : s1] += (
                grad * hit if finite else np.where(hit, grad, zero)
            )
        (t, _), (l, _) = self.pads
        return dxp[:, :, t : t + H, l : l + W]

    def backward_graph(self, grad):
        """grad added at each window's arg-max (recorded as an index scatter, whose own gradient is
        the gather at those positions); windows lying wholly in the padding pass nothing."""
        H, W = self.xshape[2:]
        rows, cols = self._taps(self.arg)
        N, C = self.xshape[:2]
        shape = self.arg.shape
        n = np.broadcast_to(np.arange(N).reshape(N, 1, 1, 1), shape)
        c = np.broadcast_to(np.arange(C).reshape(1, C, 1, 1), shape)
        rows, cols = np.broadcast_to(rows, shape), np.broadcast_to(cols, shape)
        inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
        if inside.all():
            index = (n, c, rows, cols)
        else:
            keep = np.nonzero(inside)
            grad = GetItem.apply(grad, index=keep, advanced=True)
            index = (n[keep], c[keep], rows[keep], cols[keep])
        return linked(IndexScatter.apply(grad, shape=self.xshape, index=index, advanced=True), self.parents[0])


def _avg_divisor(size, kernel, stride, pad, out, count_include_pad):
    """Per-output window length along one axis, following torch's avg_pool2d: windows are clipped to
    the padded extent, and to the real input unless padding counts."""
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    length = end - start
    if not count_include_pad:
        length = np.minimum(end, size) - np.maximum(start, 0)
    return length


class AvgPool2dFn(Function):
    """Window sums as kh*kw dense slice additions (a strided ``sum`` over window views is ~5x slower),
    divided by torch's per-window divisor; the backward pass spreads grad / divisor over each window.

    Reference (loops, as the notes explain it): deepnotes.reference.pool.avg_pool2d_forward / avg_pool2d_backward.
    """

    def forward(self, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        dil = (1, 1)
        Ho, Wo, pads = _geometry(x.shape, kernel, stride, padding, dil, ceil_mode)
        xp = pad_input(x, pads)
        kh, kw = kernel
        view = patches(xp, kh, kw, Ho, Wo, stride, dil)
        total = view[:, :, 0, 0].copy()
        for k in range(1, kh * kw):
            total += view[:, :, k // kw, k % kw]
        H, W = x.shape[2:]
        if divisor_override:
            div = np.full((Ho, Wo), float(divisor_override))
        else:
            dh = _avg_divisor(H, kh, stride[0], padding[0], Ho, count_include_pad)
            dw = _avg_divisor(W, kw, stride[1], padding[1], Wo, count_include_pad)
            div = np.outer(dh, dw).astype(np.float64)
        self.div = div.astype(x.dtype)
        self.xshape, self.xpshape, self.pads = x.shape, xp.shape, pads
        self.kernel, self.stride = kernel, stride
        self.options = (padding, ceil_mode, count_include_pad, divisor_override)
        total /= self.div
        return total

    def backward(self, grad):
        return _avg_spread(grad, self.div, self.xshape, self.xpshape, self.pads, self.kernel, self.stride)

    def backward_graph(self, grad):
        return linked(AvgPool2dBackwardFn.apply(grad, pool=self), self.parents[0])


def _avg_spread(grad, div, xshape, xpshape, pads, kernel, stride):
    """Each window's grad / divisor added back over the window: average pooling's input gradient."""
    H, W = xshape[2:]
    kh, kw = kernel
    Ho, Wo = grad.shape[2:]
    s0, s1 = stride
    g = grad / div
    dxp = np.zeros(xpshape, dtype=grad.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i : i + s0 * (Ho - 1) + 1 : s0, j : j + s1 * (Wo - 1) + 1 : s1] += g
    (t, _), (l, _) = pads
    return dxp[:, :, t : t + H, l : l + W]


class AvgPool2dBackwardFn(Function):
    """Average pooling's input gradient as a primitive (for higher-order gradients).  The map is
    linear and its adjoint is average pooling itself, so its gradient is the pooling again."""

    def forward(self, g, pool):
        self.geometry = (pool.div, pool.xshape, pool.xpshape, pool.pads, pool.kernel, pool.stride)
        padding, ceil_mode, count_include_pad, divisor_override = pool.options
        self.kwargs = {
            "kernel": pool.kernel,
            "stride": pool.stride,
            "padding": padding,
            "ceil_mode": ceil_mode,
            "count_include_pad": count_include_pad,
            "divisor_override": divisor_override,
        }
        return _avg_spread(g, *self.geometry)

    def backward(self, gg):
        return object.__new__(AvgPool2dFn).forward(gg, **self.kwargs)

    def backward_graph(self, gg):
        return AvgPool2dFn.apply(gg, **self.kwargs)


def adaptive_bins(size, out):
    """torch's adaptive bins along one axis: bin i covers [floor(i size / out), ceil((i + 1) size / out))."""
    i = np.arange(out)
    return (i * size) // out, -(-((i + 1) * size) // out)


def adaptive_matrix(size, out, dtype):
    """(out, size) averaging matrix: row i holds 1 / n_i over bin i's n_i positions, 0 elsewhere."""
    start, end = adaptive_bins(size, out)
    cols = np.arange(size)
    inside = (cols[None, :] >= start[:, None]) & (cols[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvg1dFn(Function):
    """Mean over torch's adaptive bins along one axis (``axis`` of x, ``out`` bins).

    Normally one matrix product with the (out, size) averaging matrix P: y = P x along the axis, and
    dx = P^T g.  P's zeros would turn a NaN or inf into 0 * inf = NaN in every bin of its row, where
    torch's per-bin sums reach only the bins holding it; so an array with a non-finite value takes
    the per-bin path instead: sums over [start_i, end_i) by ``np.add.reduceat`` forward, and each bin's
    g_i / n_i added back onto its positions (``np.add.at``, bins may overlap) backward.
    """

    def forward(self, a, axis, out):
        self.axis, self.out, self.shape = axis, out, a.shape
        self.matrix = adaptive_matrix(a.shape[axis], out, a.dtype)
        if all_finite(a):
            return along_axis(self.matrix, a, axis)
        start, end = adaptive_bins(a.shape[axis], out)
        # sums over [start_i, end_i): reduceat over the pairs (start_i, end_i), every other segment kept;
        # one zero appended along the axis makes an end equal to the axis length a valid index
        pad = [(0, 1) if d == axis else (0, 0) for d in range(a.ndim)]
        sums = np.add.reduceat(np.pad(a, pad), np.stack([start, end], axis=1).ravel(), axis=axis)
        sums = np.take(sums, np.arange(0, 2 * out, 2), axis=axis)
        counts = (end - start).astype(a.dtype)
        return sums / counts.reshape([-1 if d == axis else 1 for d in range(a.ndim)])

    def backward(self, g):
        axis = self.axis
        if all_finite(g):
            return along_axis(self.matrix.T, g, axis)
        start, end = adaptive_bins(self.shape[axis], self.out)
        lengths = end - start
        bins = np.repeat(np.arange(self.out), lengths)
        positions = np.concatenate([np.arange(s, e) for s, e in zip(start, end)])
        share = np.moveaxis(g, axis, -1) / lengths.astype(g.dtype)
        dx = np.zeros(self.shape, dtype=g.dtype)
        np.add.at(np.moveaxis(dx, axis, -1), (Ellipsis, positions), share[..., bins])
        return dx

    def backward_graph(self, g):
        return linked(AxisMatrixFn.apply(g, matrix=self.matrix.T, axis=self.axis), self.parents[0])


def _bin_index(size, out):
    """(out, kmax) input positions of each bin, the shorter bins padded by repeating their last
    position (a repeat never changes a maximum nor the first position that attains it)."""
    start, end = adaptive_bins(size, out)
    kmax = int((end - start).max())
    return np.minimum(start[:, None] + np.arange(kmax), end[:, None] - 1)


class AdaptiveMaxPool2dFn(Function):
    """Maximum over torch's adaptive bins (adjacent bins may overlap by one pixel).

    All bins are gathered at once into a (N, C, oh, ow, kh_max * kw_max) array whose window elements
    run in row-major order; the first maximum wins, a NaN wins and the last NaN is kept (torch's CPU
    rule ``val > max || isnan(val)``).  ``arg`` holds the flat input index (h * W + w) of each
    maximum; the backward pass adds each output gradient at its index (bins that share a maximum add).
    """

    def forward(self, x, output_size):
        N, C, H, W = x.shape
        oh, ow = output_size
        rows, cols = _bin_index(H, oh), _bin_index(W, ow)  # (oh, kh), (ow, kw)
        kh, kw = rows.shape[1], cols.shape[1]
        win = x[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # N C oh ow kh kw
        win = win.reshape(N, C, oh, ow, kh * kw)
        k = win.argmax(axis=-1)  # first maximum (or first NaN)
        if x.dtype.kind == "f":
            nan = np.isnan(win)
            if nan.any():
                last = kh * kw - 1 - nan[..., ::-1].argmax(axis=-1)
                k = np.where(nan.any(axis=-1), last, k)
        out = np.take_along_axis(win, k[..., None], axis=-1)[..., 0]
        flat = rows[:, None, :, None] * W + cols[None, :, None, :]  # oh ow kh kw
        flat = flat.reshape(oh, ow, kh * kw)
        self.arg = np.take_along_axis(np.broadcast_to(flat, k.shape + (kh * kw,)), k[..., None], axis=-1)[..., 0]
        self.xshape = x.shape
        return out

    def indices(self):
        """Flat indices into each input plane (H*W), as torch's return_indices gives them."""
        return self.arg.astype(np.int64)

    def backward(self, grad):
        N, C, H, W = self.xshape
        plane = (np.arange(N * C) * (H * W)).reshape(N, C, 1, 1)
        total = np.bincount((self.arg + plane).ravel(), weights=grad.ravel(), minlength=N * C * H * W)
        return total.astype(grad.dtype, copy=False).reshape(self.xshape)

    def backward_graph(self, grad):
        N, C, H, W = self.xshape
        shape = self.arg.shape
        n = np.broadcast_to(np.arange(N).reshape(N, 1, 1, 1), shape)
        c = np.broadcast_to(np.arange(C).reshape(1, C, 1, 1), shape)
        index = (n, c) + np.divmod(self.arg, W)
        return linked(IndexScatter.apply(grad, shape=self.xshape, index=index, advanced=True), self.parents[0])
