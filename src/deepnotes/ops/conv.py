"""2-D convolution as cross-correlation by im2col + GEMM (the Caffe formulation of seed 002).

Every output pixel is a dot product between one kernel and one input patch.  im2col lays the patches
out as the columns of a matrix ``cols`` of shape (C/g * kh * kw, N * Ho * Wo); the whole layer is then
one matrix product per group, ``W (g, O/g, C/g*kh*kw) @ cols (g, C/g*kh*kw, N*Ho*Wo)``.  The backward
pass reuses ``cols`` for the weight gradient and scatters the column gradient back with col2im, one
vectorised add per kernel offset.  Depthwise convolutions (groups == channels == out channels) skip
im2col: kh*kw shifted multiply-adds over the flattened padded planes, strided ones after splitting
the input into stride phases.  The GEMM path returns NCHW views of channel-major (C, N, H, W) memory,
and the depthwise path keeps that layout, so consecutive layers (and batch norm) need no transposes.
"""

import numpy as np

from ..autograd.function import Function
from ._rowwise import row_broadcasts
from .arithmetic import mm


def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    """floor((size + 2p - d(k - 1) - 1) / s) + 1, the output-size formula of seeds 001/003."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def patches(xp, kh, kw, Ho, Wo, stride, dilation):
    """A read-only strided view (N, C, kh, kw, Ho, Wo) of the kernel windows of a padded input."""
    sN, sC, sH, sW = xp.strides
    (s0, s1), (d0, d1) = stride, dilation
    N, C = xp.shape[:2]
    return np.lib.stride_tricks.as_strided(
        xp, shape=(N, C, kh, kw, Ho, Wo), strides=(sN, sC, sH * d0, sW * d1, sH * s0, sW * s1), writeable=False
    )


def pad_input(x, pads, value=0.0):
    """Pad the two spatial axes by ((top, bottom), (left, right)); no copy when there is no padding."""
    (t, b), (l, r) = pads
    if t == b == l == r == 0:
        return x
    N, C, H, W = x.shape
    out = np.full((N, C, H + t + b, W + l + r), value, dtype=x.dtype)
    out[:, :, t : t + H, l : l + W] = x
    return out


def col2im_add(dxp, dpatches, Ho, Wo, stride, dilation):
    """Scatter-add window gradients (C, kh, kw, N, Ho, Wo) into a padded (C, N, Hp, Wp) gradient."""
    _, kh, kw = dpatches.shape[:3]
    (s0, s1), (d0, d1) = stride, dilation
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i * d0 : i * d0 + s0 * (Ho - 1) + 1 : s0, j * d1 : j * d1 + s1 * (Wo - 1) + 1 : s1] += dpatches[
                :, i, j
            ]


def im2col(xp, kh, kw, Ho, Wo, stride, dilation, groups):
    """The windows of a padded input (N, C, Hp, Wp) as columns (g, C/g * kh * kw, N * Ho * Wo).

    Reference (loops, as the notes explain it): deepnotes.reference.conv.conv2d_forward (one window per output pixel).
    """
    N, C = xp.shape[:2]
    view = patches(xp, kh, kw, Ho, Wo, stride, dilation)  # N C kh kw Ho Wo
    cols = np.ascontiguousarray(view.transpose(1, 2, 3, 0, 4, 5))  # C kh kw N Ho Wo
    return cols.reshape(groups, C // groups * kh * kw, N * Ho * Wo)


def col2im(cols, shape, kernel, out_size, stride, dilation):
    """The adjoint of :func:`im2col`: columns (g, C/g * kh * kw, N * Ho * Wo) summed back into a zero
    padded array of ``shape`` (C, N, Hp, Wp) (channel-major; transpose for NCHW).

    Reference (loops, as the notes explain it): deepnotes.reference.conv.conv2d_backward (per-window adds).
    """
    C, N = shape[:2]
    out = np.zeros(shape, dtype=cols.dtype)
    col2im_add(out, cols.reshape((C,) + tuple(kernel) + (N,) + tuple(out_size)), *out_size, stride, dilation)
    return out


def _weight_grad(cols, gm, wshape):
    """dW = gm cols^T per group, from the columns (g, C/g*kh*kw, N*Ho*Wo) and the output gradient
    (g, O/g, N*Ho*Wo); computed as cols @ gm^T (the long N*Ho*Wo axis inside the product is markedly
    faster in OpenBLAS than gm @ cols^T)."""
    return mm(cols, gm.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(wshape)


def _phase_spans(pad, size, stride):
    """For each phase a of a padded axis (padded index p = stride * i + a, input index p - pad): the
    first phase index i0 holding input, the input index h0 it holds and how many input indices (h0,
    h0 + stride, ...) the phase holds."""
    spans = []
    for a in range(stride):
        i0 = max(0, -(-(pad - a) // stride))
        h0 = stride * i0 + a - pad
        spans.append((i0, h0, max(0, (size - 1 - h0) // stride + 1) if h0 < size else 0))
    return spans


class Conv2dFn(Function):
    """y[n, o] = sum_c sum_ij W[o, c, i, j] x_pad[n, c, s*h + d*i, s*w + d*j] + b[o].

    Reference (loops, as the notes explain it): deepnotes.reference.conv.conv2d_forward / conv2d_backward;
    depthwise path: deepnotes.reference.conv.depthwise_conv2d_forward / depthwise_conv2d_backward.
    """

    def forward(self, x, w, b=None, *, stride, pads, dilation, groups):
        N, C, H, W = x.shape
        O, Cg, kh, kw = w.shape
        (pt, pb), (pl, pr) = pads
        Hp, Wp = H + pt + pb, W + pl + pr
        Ho = (Hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        Wo = (Wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        if Ho <= 0 or Wo <= 0:
            raise ValueError(
                f"conv2d: input of spatial size {H}x{W} (padded {Hp}x{Wp}) is smaller than "
                f"the dilated kernel {dilation[0] * (kh - 1) + 1}x{dilation[1] * (kw - 1) + 1}"
            )
        g = groups
        self.w, self.xshape, self.xpshape = w, x.shape, (N, C, Hp, Wp)
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.has_bias = b is not None
        self.depthwise = g == C == O and Cg == 1
        if self.depthwise:
            return self._depthwise_forward(x, w, b, Ho, Wo)
        xp = pad_input(x, pads)
        cols = im2col(xp, kh, kw, Ho, Wo, stride, dilation, g)
        wm = w.reshape(g, O // g, Cg * kh * kw)
        out = mm(wm, cols).reshape(O, N, Ho, Wo)
        if b is not None:
            out += b.reshape(O, 1, 1, 1)
        # the patches are only needed for the weight gradient; do not keep them alive otherwise
        self.cols = cols if self.needs_input_grad[1] else None
        return out.transpose(1, 0, 2, 3)

    # ------------------------------------------------------------------ depthwise (groups == channels)
    # One kh x kw filter per channel (MobileNet's depthwise step): kh*kw broadcast multiply-adds on
    # flattened planes replace im2col and its batched tiny GEMMs.  With stride s the padded input is
    # split into s0*s1 phase planes (rows a::s0, columns b::s1, each Hq x Wq); tap (i, j) reads phase
    # (i*d0 % s0, j*d1 % s1) shifted by (i*d0 // s0, j*d1 // s1), a stride-1 access.  On a plane
    # flattened with row pitch Wq, output pixel p = h*Wq + w reads phase pixel p + shift, so every
    # pass is one long contiguous slice; the Wq - Wo columns computed past each row's end are dropped.
    # Planes are kept in channel-major order (c, n), the layout of the im2col path's output, so a
    # network mixing both paths (MobileNet) never converts between layouts.  They are processed in
    # blocks of about _DW_BLOCK elements so the kh*kw passes over a block run in cache (measured 1.8x
    # faster than whole-array passes at 32x256x32x32).

    _DW_BLOCK = 1 << 17

    def _dw_geometry(self, Ho, Wo):
        """(L, taps, block starts, block): L output values per flattened plane, one (phase, shift) per
        kernel tap, and the plane blocks."""
        C, _, kh, kw = self.w.shape
        N, _, Hp, Wp = self.xpshape
        s0, s1, _, Wq = self._dw_phase_shape()
        d0, d1 = self.dilation
        L = (Ho - 1) * Wq + Wo
        taps = []
        for k in range(kh * kw):
            r, c = (k // kw) * d0, (k % kw) * d1
            taps.append(((r % s0) * s1 + c % s1, (r // s0) * Wq + c // s1))
        block = max(1, self._DW_BLOCK // max(Hp * Wp, 1))
        return L, taps, range(0, N * C, block), block

    def _dw_plane_weights(self, N):
        """(C*N, kh*kw): plane c*N + n uses channel c's filter."""
        C, _, kh, kw = self.w.shape
        return np.broadcast_to(self.w.reshape(C, 1, kh * kw), (C, N, kh * kw)).reshape(C * N, kh * kw)

    def _dw_phase_shape(self):
        (s0, s1), (Hp, Wp) = self.stride, self.xpshape[2:]
        return s0, s1, -(-Hp // s0), -(-Wp // s1)

    def _depthwise_forward(self, x, w, b, Ho, Wo):
        """Reference (loops, as the notes explain it): deepnotes.reference.conv.depthwise_conv2d_forward."""
        C, _, kh, kw = w.shape
        N, _, H, W = x.shape
        (t, _), (l, _) = self.pads
        s0, s1, Hq, Wq = self._dw_phase_shape()
        L, taps, starts, block = self._dw_geometry(Ho, Wo)
        # the zero-padded input split into its phases, channel-major, filled straight from x
        xph = np.zeros((s0, s1, C, N, Hq, Wq), dtype=x.dtype)
        xc = x.transpose(1, 0, 2, 3)
        for row_phase, (i0, h0, ni) in enumerate(_phase_spans(t, H, s0)):
            for col_phase, (j0, w0, nj) in enumerate(_phase_spans(l, W, s1)):
                if ni and nj:
                    xph[row_phase, col_phase, :, :, i0 : i0 + ni, j0 : j0 + nj] = xc[:, :, h0::s0, w0::s1]
        xph = xph.reshape(s0 * s1, C * N, Hq * Wq)
        self.xph = xph if self.needs_input_grad[1] else None
        wk = self._dw_plane_weights(N)
        acc = np.empty((C * N, Ho * Wq), dtype=np.result_type(x, w))
        tmp = np.empty((min(block, N * C), L), dtype=acc.dtype)
        with row_broadcasts(L):
            for a in starts:
                z = min(a + block, N * C)
                out, tb, wb = acc[a:z, :L], tmp[: z - a], wk[a:z]
                for k, (ph, off) in enumerate(taps):
                    if k == 0:
                        np.multiply(xph[ph, a:z, off : off + L], wb[:, :1], out=out)
                    else:
                        out += np.multiply(xph[ph, a:z, off : off + L], wb[:, k : k + 1], out=tb)
        # drop the columns past each row's end into a compact (C, N, Ho, Wo) array, adding the bias
        valid = acc.reshape(C, N, Ho, Wq)[:, :, :, :Wo]
        y = np.empty((C, N, Ho, Wo), dtype=acc.dtype)
        if b is not None:
            np.add(valid, b.reshape(C, 1, 1, 1), out=y)
        else:
            y[...] = valid
        return y.transpose(1, 0, 2, 3)

    def _depthwise_backward(self, grad):
        """Reference (loops, as the notes explain it): deepnotes.reference.conv.depthwise_conv2d_backward."""
        w = self.w
        C, _, kh, kw = w.shape
        N, _, H, W = self.xshape
        Ho, Wo = grad.shape[2:]
        s0, s1, Hq, Wq = self._dw_phase_shape()
        L, taps, starts, block = self._dw_geometry(Ho, Wo)
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        gx = gw = gb = None
        if self.has_bias and self.needs_input_grad[2]:
            gb = grad.sum(axis=(0, 2, 3))
        gpad = np.zeros((C * N, Ho * Wq), dtype=grad.dtype)  # grad on the phase row pitch, 0 past Wo
        gpad.reshape(C, N, Ho, Wq)[:, :, :, :Wo] = grad.transpose(1, 0, 2, 3)
        wk = self._dw_plane_weights(N)
        dxph = np.zeros((s0 * s1, C * N, Hq * Wq), dtype=grad.dtype) if need_x else None
        gwp = np.empty((C * N, kh * kw), dtype=grad.dtype) if need_w else None
        tmp = np.empty((min(block, N * C), L), dtype=grad.dtype)
        with row_broadcasts(L):
            for a in starts:
                z = min(a + block, N * C)
                gblock, scratch = gpad[a:z, :L], tmp[: z - a]
                for k, (ph, off) in enumerate(taps):
                    if need_w:
                        gwp[a:z, k] = np.einsum("pl,pl->p", gblock, self.xph[ph, a:z, off : off + L])
                    if need_x:
                        dxph[ph, a:z, off : off + L] += np.multiply(gblock, wk[a:z, k : k + 1], out=scratch)
        if need_w:
            gw = gwp.reshape(C, N, kh * kw).sum(axis=1).reshape(w.shape)
        if need_x:
            (t, _), (l, _) = self.pads
            dxpad = dxph.reshape(s0, s1, C, N, Hq, Wq).transpose(2, 3, 4, 0, 5, 1).reshape(C, N, Hq * s0, Wq * s1)
            gx = dxpad[:, :, t : t + H, l : l + W].transpose(1, 0, 2, 3)
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def backward(self, grad):
        if self.depthwise:
            return self._depthwise_backward(grad)
        w, g = self.w, self.groups
        O, Cg, kh, kw = w.shape
        N, C, H, W = self.xshape
        Ho, Wo = grad.shape[2:]
        gm = np.ascontiguousarray(grad.transpose(1, 0, 2, 3)).reshape(g, O // g, N * Ho * Wo)
        gx = gw = gb = None
        if self.needs_input_grad[1]:
            gw = _weight_grad(self.cols, gm, w.shape)
        if self.has_bias and self.needs_input_grad[2]:
            gb = gm.reshape(O, -1).sum(axis=1)
        if self.needs_input_grad[0]:
            wm = w.reshape(g, O // g, Cg * kh * kw)
            dcols = mm(wm.transpose(0, 2, 1), gm)
            dxp = col2im(dcols, (C, N) + self.xpshape[2:], (kh, kw), (Ho, Wo), self.stride, self.dilation)
            (t, _), (l, _) = self.pads
            gx = dxp[:, :, t : t + H, l : l + W].transpose(1, 0, 2, 3)
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def _params(self):
        return {"stride": self.stride, "pads": self.pads, "dilation": self.dilation, "groups": self.groups}

    def backward_graph(self, grad):
        """dx = conv2d's input gradient of grad (:class:`Conv2dInputGradFn`), dW = the correlation of
        x with grad (:class:`Conv2dWeightGradFn`), db = the sum of grad: all recorded primitives."""
        x, w = self.parents[:2]
        needs = self.needs_input_grad
        gx = gw = gb = None
        if needs[0]:
            gx = Conv2dInputGradFn.apply(grad, w, xshape=self.xshape, **self._params())
        if needs[1]:
            gw = Conv2dWeightGradFn.apply(x, grad, wshape=self.w.shape, **self._params())
        if self.has_bias and needs[2]:
            gb = grad.sum((0, 2, 3))
        return (gx, gw, gb) if self.has_bias else (gx, gw)


def _adjoint(w, xshape, stride, pads, dilation, groups):
    """A Conv2dFn context set up as its forward would leave it for an input of ``xshape`` and weight
    ``w`` (needing the input's gradient only), so its NumPy ``backward`` computes conv2d's input
    gradient for any output gradient: the one implementation of that map (im2col or depthwise)."""
    ctx = object.__new__(Conv2dFn)
    ctx.needs_input_grad = (True, False)
    N, C, H, W = xshape
    (pt, pb), (pl, pr) = pads
    ctx.w, ctx.xshape, ctx.xpshape = w, tuple(xshape), (N, C, H + pt + pb, W + pl + pr)
    ctx.stride, ctx.pads, ctx.dilation, ctx.groups = stride, pads, dilation, groups
    ctx.has_bias = False
    ctx.depthwise = groups == C == w.shape[0] and w.shape[1] == 1
    return ctx


class Conv2dInputGradFn(Function):
    """The input gradient of conv2d as a primitive: dx = W^T g scattered back over the windows
    (col2im), for output gradient ``g`` and weight ``w``, shaped like an input of ``xshape``.

    Bilinear in (g, w); for an incoming G (shaped like x): d/dg = conv2d(G, w) and d/dw = conv2d's
    weight gradient with G as input and g as output gradient.  With :class:`Conv2dWeightGradFn` and
    conv2d itself, convolutions are differentiable to any order.
    """

    def forward(self, g, w, *, xshape, stride, pads, dilation, groups):
        self.params = {"stride": stride, "pads": pads, "dilation": dilation, "groups": groups}
        self.g, self.w, self.xshape = g, w, tuple(xshape)
        return _adjoint(w, xshape, **self.params).backward(g)[0]

    def backward(self, G):
        need_g, need_w = self.needs_input_grad
        gg = gw = None
        if need_g:
            ctx = object.__new__(Conv2dFn)
            ctx.needs_input_grad = (False, False)
            gg = np.ascontiguousarray(ctx.forward(G, self.w, **self.params))
        if need_w:
            gw = Conv2dWeightGradFn.compute(G, self.g, self.w.shape, **self.params)
        return gg, gw

    def backward_graph(self, G):
        g, w = self.parents
        need_g, need_w = self.needs_input_grad
        gg = Conv2dFn.apply(G, w, **self.params) if need_g else None
        gw = Conv2dWeightGradFn.apply(G, g, wshape=self.w.shape, **self.params) if need_w else None
        return gg, gw


class Conv2dWeightGradFn(Function):
    """The weight gradient of conv2d as a primitive: dW[o, c, i, j] = sum_{n,h,w} g[n, o, h, w]
    x_pad[n, c, s h + d i, s w + d j] (per group), for input ``x`` and output gradient ``g``.

    Bilinear in (x, g); for an incoming G (shaped like W): d/dg = conv2d(x, G) and d/dx = conv2d's
    input gradient of g with weight G (:class:`Conv2dInputGradFn`).
    """

    @staticmethod
    def compute(x, g, wshape, stride, pads, dilation, groups):
        _, _, kh, kw = wshape
        Ho, Wo = g.shape[2:]
        cols = im2col(pad_input(x, pads), kh, kw, Ho, Wo, stride, dilation, groups)
        gm = np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(groups, wshape[0] // groups, -1)
        return _weight_grad(cols, gm, wshape)

    def forward(self, x, g, *, wshape, stride, pads, dilation, groups):
        self.params = {"stride": stride, "pads": pads, "dilation": dilation, "groups": groups}
        self.x, self.g, self.xshape = x, g, x.shape
        return self.compute(x, g, wshape, **self.params)

    def backward(self, G):
        need_x, need_g = self.needs_input_grad
        gx = gg = None
        if need_x:
            gx = _adjoint(G, self.xshape, **self.params).backward(self.g)[0]
        if need_g:
            ctx = object.__new__(Conv2dFn)
            ctx.needs_input_grad = (False, False)
            gg = np.ascontiguousarray(ctx.forward(self.x, G, **self.params))
        return gx, gg

    def backward_graph(self, G):
        x, g = self.parents
        need_x, need_g = self.needs_input_grad
        gx = Conv2dInputGradFn.apply(g, G, xshape=self.xshape, **self.params) if need_x else None
        gg = Conv2dFn.apply(x, G, **self.params) if need_g else None
        return gx, gg
