"""Transposed 2-D convolution ("deconvolution", fractionally strided convolution) as the adjoint of conv2d.

conv2d maps an input x to y = W * x through im2col: ``cols = im2col(x)``, ``y = W cols``.  Its adjoint
(the map that computes conv2d's input gradient) is ``x' = col2im(W^T y)``.  A transposed convolution is
exactly that adjoint used as a layer: every input pixel scatters a copy of its kernel, scaled by the
pixel value, into an upsampled output, overlapping copies add.  So

* forward  = col2im of ``W^T x`` (one batched GEMM per group, then kh*kw strided slice additions),
  cropped by ``padding`` on each side and extended by ``output_padding`` at the bottom/right;
* backward = conv2d of the output gradient with the same weight (im2col + GEMM) for the input, and
  ``x cols^T`` for the weight.

Weight layout (in_channels, out_channels / groups, kh, kw), as in torch.
"""

import numpy as np

from ..autograd.function import Function
from .arithmetic import mm
from .conv import col2im, im2col, pad_input


def conv_transpose_output_size(size, kernel, stride=1, padding=0, output_padding=0, dilation=1):
    """(size - 1) s - 2p + d (k - 1) + output_padding + 1: the inverse of conv2d's output-size formula."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


class ConvTranspose2dFn(Function):
    """y[n, o, s h + d i - p, s w + d j - p] += sum_c x[n, c, h, w] W[c, o, i, j], plus b[o].

    x (N, C, H, W), w (C, O/g, kh, kw), b (O,) -> (N, O, Ho, Wo) with
    Ho = (H - 1) s - 2p + d (kh - 1) + output_padding + 1 (likewise Wo).

    Reference (loops, as the notes explain it): deepnotes.reference.conv.conv_transpose2d_forward /
    conv_transpose2d_backward.
    """

    def forward(self, x, w, b=None, *, stride, padding, output_padding, dilation, groups):
        N, C, H, W = x.shape
        _, Og, kh, kw = w.shape
        g = groups
        Cg, O = C // g, Og * g
        (p0, p1), (q0, q1) = padding, output_padding
        # the uncropped output: every kernel copy lies inside it, plus the output_padding rows/columns
        Hf = (H - 1) * stride[0] + dilation[0] * (kh - 1) + 1 + q0
        Wf = (W - 1) * stride[1] + dilation[1] * (kw - 1) + 1 + q1
        Ho, Wo = Hf - 2 * p0, Wf - 2 * p1
        if Ho <= 0 or Wo <= 0:
            raise ValueError(
                f"conv_transpose2d: input of spatial size {H}x{W} gives an output of size "
                f"{Ho}x{Wo}; expected a positive size (reduce padding={padding})"
            )
        xm = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).reshape(g, Cg, N * H * W)
        wm = w.reshape(g, Cg, Og * kh * kw)
        cols = mm(wm.transpose(0, 2, 1), xm)  # g, O/g*kh*kw, N*H*W
        full = col2im(cols, (O, N, Hf, Wf), (kh, kw), (H, W), stride, dilation)
        out = full[:, :, p0 : p0 + Ho, p1 : p1 + Wo]
        if b is not None:
            out += b.reshape(O, 1, 1, 1)
        self.w, self.xshape = w, x.shape
        self.xm = xm if self.needs_input_grad[1] else None
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.has_bias = b is not None
        return out.transpose(1, 0, 2, 3)

    def backward(self, grad):
        w, g = self.w, self.groups
        C, Og, kh, kw = w.shape
        N, _, H, W = self.xshape
        (p0, p1) = self.padding
        gx = gw = gb = None
        if self.has_bias and self.needs_input_grad[2]:
            gb = grad.sum(axis=(0, 2, 3))
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            # the windows of the (re-padded) output gradient seen by each input pixel: conv2d's im2col
            gpad = pad_input(grad, ((p0, p0), (p1, p1)))
            cols = im2col(gpad, kh, kw, H, W, self.stride, self.dilation, g)  # g, O/g*kh*kw, N*H*W
            if self.needs_input_grad[0]:
                wm = w.reshape(g, C // g, Og * kh * kw)
                gx = mm(wm, cols).reshape(C, N, H, W).transpose(1, 0, 2, 3)
            if self.needs_input_grad[1]:
                # cols @ x^T keeps the long N*H*W axis as the inner dimension of the product
                gw = mm(cols, self.xm.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(w.shape)
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def backward_graph(self, grad):
        """dx = conv2d(grad, W) (the convolution this layer is the adjoint of), dW = the weight
        gradient of that convolution with x as its output gradient, db = sum of grad; recorded."""
        from .conv import Conv2dFn, Conv2dWeightGradFn

        x, w = self.parents[:2]
        C, Og, kh, kw = self.w.shape
        H, W = self.xshape[2:]
        (p0, p1) = self.padding
        params = {"stride": self.stride, "pads": ((p0, p0), (p1, p1)), "dilation": self.dilation, "groups": self.groups}
        rows = (grad.shape[2] + 2 * p0 - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        cols = (grad.shape[3] + 2 * p1 - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        if (rows, cols) != (H, W):
            raise RuntimeError(
                "backward: double backward (create_graph=True) through ConvTranspose2dFn needs "
                f"output_padding < stride (got stride {self.stride}, input {H}x{W}, output "
                f"{grad.shape[2]}x{grad.shape[3]})"
            )
        needs = self.needs_input_grad
        gx = gw = gb = None
        if needs[0]:
            gx = Conv2dFn.apply(grad, w, **params)
        if needs[1]:
            gw = Conv2dWeightGradFn.apply(grad, x, wshape=self.w.shape, **params)
        if self.has_bias and needs[2]:
            gb = grad.sum((0, 2, 3))
        return (gx, gw, gb) if self.has_bias else (gx, gw)
