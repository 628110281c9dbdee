"""2-D convolution as cross-correlation by im2col + GEMM (the Caffe formulation of seed 002).

Every output pixel is a dot product between one kernel and one input patch.  im2col lays the patches
out as the columns of a matrix ``cols`` of shape (C/g * kh * kw, N * Ho * Wo); the whole layer is then
one matrix product per group, ``W (g, O/g, C/g*kh*kw) @ cols (g, C/g*kh*kw, N*Ho*Wo)``.  The backward
pass reuses ``cols`` for the weight gradient and scatters the column gradient back with col2im, one
vectorised add per kernel offset.  Depthwise convolutions with stride 1 (groups == channels) skip
im2col: kh*kw shifted multiply-adds over the flattened padded planes.
"""
import numpy as np

from ..autograd.function import Function
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
        xp, shape=(N, C, kh, kw, Ho, Wo),
        strides=(sN, sC, sH * d0, sW * d1, sH * s0, sW * s1), writeable=False)


def pad_input(x, pads, value=0.0):
    """Pad the two spatial axes by ((top, bottom), (left, right)); no copy when there is no padding."""
    (t, b), (l, r) = pads
    if t == b == l == r == 0:
        return x
    N, C, H, W = x.shape
    out = np.full((N, C, H + t + b, W + l + r), value, dtype=x.dtype)
    out[:, :, t:t + H, l:l + W] = x
    return out


def col2im_add(dxp, dpatches, Ho, Wo, stride, dilation):
    """Scatter-add window gradients (C, kh, kw, N, Ho, Wo) into a padded (C, N, Hp, Wp) gradient."""
    _, kh, kw = dpatches.shape[:3]
    (s0, s1), (d0, d1) = stride, dilation
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i * d0:i * d0 + s0 * (Ho - 1) + 1:s0,
                j * d1:j * d1 + s1 * (Wo - 1) + 1:s1] += dpatches[:, i, j]


def im2col(xp, kh, kw, Ho, Wo, stride, dilation, groups):
    """The windows of a padded input (N, C, Hp, Wp) as columns (g, C/g * kh * kw, N * Ho * Wo)."""
    N, C = xp.shape[:2]
    view = patches(xp, kh, kw, Ho, Wo, stride, dilation)            # N C kh kw Ho Wo
    cols = np.ascontiguousarray(view.transpose(1, 2, 3, 0, 4, 5))   # C kh kw N Ho Wo
    return cols.reshape(groups, C // groups * kh * kw, N * Ho * Wo)


def col2im(cols, shape, kernel, out_size, stride, dilation):
    """The adjoint of :func:`im2col`: columns (g, C/g * kh * kw, N * Ho * Wo) summed back into a zero
    padded array of ``shape`` (C, N, Hp, Wp) (channel-major; transpose for NCHW)."""
    C, N = shape[:2]
    out = np.zeros(shape, dtype=cols.dtype)
    col2im_add(out, cols.reshape((C,) + tuple(kernel) + (N,) + tuple(out_size)), *out_size, stride, dilation)
    return out


class Conv2dFn(Function):
    """y[n, o] = sum_c sum_ij W[o, c, i, j] x_pad[n, c, s*h + d*i, s*w + d*j] + b[o]."""

    def forward(self, x, w, b=None, *, stride, pads, dilation, groups):
        N, C, H, W = x.shape
        O, Cg, kh, kw = w.shape
        xp = pad_input(x, pads)
        Hp, Wp = xp.shape[2:]
        Ho = (Hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        Wo = (Wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        if Ho <= 0 or Wo <= 0:
            raise ValueError(f"conv2d: input of spatial size {H}x{W} (padded {Hp}x{Wp}) is smaller than "
                             f"the dilated kernel {dilation[0] * (kh - 1) + 1}x{dilation[1] * (kw - 1) + 1}")
        g = groups
        self.w, self.xshape, self.xpshape = w, x.shape, xp.shape
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.has_bias = b is not None
        # measured: the shifted-slice path wins for stride 1 only; strided depthwise stays on im2col
        self.depthwise = g == C == O and Cg == 1 and stride == (1, 1)
        if self.depthwise:
            return self._depthwise_forward(w, b, xp, Ho, Wo)
        cols = im2col(xp, kh, kw, Ho, Wo, stride, dilation, g)
        wm = w.reshape(g, O // g, Cg * kh * kw)
        out = mm(wm, cols).reshape(O, N, Ho, Wo)
        if b is not None:
            out += b.reshape(O, 1, 1, 1)
        # the patches are only needed for the weight gradient; do not keep them alive otherwise
        self.cols = cols if self.needs_input_grad[1] else None
        return out.transpose(1, 0, 2, 3)

    # ------------------------------------------------------------------ depthwise (groups == channels)
    # One kh x kw filter per channel (MobileNet's depthwise step) with stride 1: kh*kw broadcast
    # multiply-adds on the flattened padded planes replace im2col and the batched tiny GEMMs.  Output
    # pixel p = h*Wp + w reads input pixel p + i*d0*Wp + j*d1, so every pass is one long contiguous
    # slice; the Wp - Wo columns computed past each row's end are dropped.  The N*C planes are processed
    # in blocks of about _DW_BLOCK elements, so the kh*kw passes over a block run in cache (measured
    # 1.8x faster than whole-array passes at 32x256x32x32).

    _DW_BLOCK = 1 << 17

    def _dw_geometry(self, C, kh, kw, N, Hp, Wp, Ho, Wo):
        L = (Ho - 1) * Wp + Wo
        offsets = [(k // kw) * self.dilation[0] * Wp + (k % kw) * self.dilation[1] for k in range(kh * kw)]
        block = max(1, self._DW_BLOCK // max(Hp * Wp, 1))
        return L, offsets, range(0, N * C, block), block

    def _depthwise_forward(self, w, b, xp, Ho, Wo):
        C, _, kh, kw = w.shape
        N, _, Hp, Wp = xp.shape
        L, offsets, starts, block = self._dw_geometry(C, kh, kw, N, Hp, Wp, Ho, Wo)
        xf = np.ascontiguousarray(xp).reshape(N * C, Hp * Wp)
        self.xf = xf if self.needs_input_grad[1] else None
        # per-plane weights (N*C, kh*kw): plane n*C + c uses channel c's filter
        wk = np.broadcast_to(w.reshape(1, C, kh * kw), (N, C, kh * kw)).reshape(N * C, kh * kw)
        acc = np.empty((N * C, Ho * Wp), dtype=np.result_type(xp, w))
        tmp = np.empty((min(block, N * C), L), dtype=acc.dtype)
        for a in starts:
            z = min(a + block, N * C)
            out, t, wb, xb = acc[a:z, :L], tmp[:z - a], wk[a:z], xf[a:z]
            for k, off in enumerate(offsets):
                if k == 0:
                    np.multiply(xb[:, off:off + L], wb[:, :1], out=out)
                else:
                    out += np.multiply(xb[:, off:off + L], wb[:, k:k + 1], out=t)
        y = acc.reshape(N, C, Ho, Wp)[:, :, :, :Wo]
        if b is not None:
            y += b.reshape(C, 1, 1)
        return y

    def _depthwise_backward(self, grad):
        w = self.w
        C, _, kh, kw = w.shape
        N, _, H, W = self.xshape
        Hp, Wp = self.xpshape[2:]
        Ho, Wo = grad.shape[2:]
        L, offsets, starts, block = self._dw_geometry(C, kh, kw, N, Hp, Wp, Ho, Wo)
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        gx = gw = gb = None
        if self.has_bias and self.needs_input_grad[2]:
            gb = grad.sum(axis=(0, 2, 3))
        gpad = np.zeros((N * C, Ho * Wp), dtype=grad.dtype)     # grad on the padded row pitch, 0 past Wo
        gpad.reshape(N, C, Ho, Wp)[:, :, :, :Wo] = grad
        wk = np.broadcast_to(w.reshape(1, C, kh * kw), (N, C, kh * kw)).reshape(N * C, kh * kw)
        dxf = np.zeros((N * C, Hp * Wp), dtype=grad.dtype) if need_x else None
        gwp = np.empty((N * C, kh * kw), dtype=grad.dtype) if need_w else None
        tmp = np.empty((min(block, N * C), L), dtype=grad.dtype)
        for a in starts:
            z = min(a + block, N * C)
            gblock, scratch = gpad[a:z, :L], tmp[:z - a]
            for k, off in enumerate(offsets):
                if need_w:
                    gwp[a:z, k] = np.einsum("pl,pl->p", gblock, self.xf[a:z, off:off + L])
                if need_x:
                    dxf[a:z, off:off + L] += np.multiply(gblock, wk[a:z, k:k + 1], out=scratch)
        if need_w:
            gw = gwp.reshape(N, C, kh * kw).sum(axis=0).reshape(w.shape)
        if need_x:
            (t, _), (l, _) = self.pads
            gx = dxf.reshape(N, C, Hp, Wp)[:, :, t:t + H, l:l + W]
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
            # cols @ gm^T (long inner dimension N*Ho*Wo) is markedly faster in OpenBLAS than gm @ cols^T
            gw = mm(self.cols, gm.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(w.shape)
        if self.has_bias and self.needs_input_grad[2]:
            gb = gm.reshape(O, -1).sum(axis=1)
        if self.needs_input_grad[0]:
            wm = w.reshape(g, O // g, Cg * kh * kw)
            dcols = mm(wm.transpose(0, 2, 1), gm)
            dxp = col2im(dcols, (C, N) + self.xpshape[2:], (kh, kw), (Ho, Wo), self.stride, self.dilation)
            (t, _), (l, _) = self.pads
            gx = dxp[:, :, t:t + H, l:l + W].transpose(1, 0, 2, 3)
        return (gx, gw, gb) if self.has_bias else (gx, gw)
