"""Convolutions: ``conv1d``/``conv2d`` (im2col + one matrix product, ``deepnotes.ops.conv``), the
textbook ``convolve2d`` (flipped kernel) and the transposed convolutions."""

from ...amp import _autocast
from ...ops._limits import check_output_size
from ...ops.conv import Conv2dFn
from ...ops.conv_transpose import ConvTranspose2dFn, conv_transpose_output_size
from ._utils import _check_float, _int, _ntuple, _tensor


def _conv_pads(padding, kernel, dilation, stride, name, flipped=False):
    """((before, after), ...) zero padding per spatial axis.

    'same' pads d (k - 1) in total and puts the odd extra pixel after (bottom/right) for
    cross-correlation, before (top/left) for a flipped kernel (``flipped``, scipy's alignment);
    'full' (flipped kernels only) pads d (k - 1) on both sides.
    """
    nd = len(kernel)
    if isinstance(padding, str):
        modes = ("same", "valid", "full") if flipped else ("same", "valid")
        if padding not in modes:
            raise ValueError(
                f"{name}: padding must be an int, a {'pair' if nd == 2 else 'tuple'}, "
                f"{', '.join(repr(m) for m in modes[:-1])} or {modes[-1]!r}, got {padding!r}"
            )
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError(
                f"{name}: padding='same' is not supported for strided convolutions "
                f"(got stride={stride}); expected stride 1"
            )
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            if padding == "full":
                pads.append((total, total))
            else:
                small, large = total // 2, total - total // 2
                pads.append((large, small) if flipped else (small, large))
        return tuple(pads)
    p = _ntuple(padding, nd, f"{name} padding")
    if min(p) < 0:
        raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
    return tuple((q, q) for q in p)


def _conv_operands(input, weight, bias, groups, nd, name, transposed=False):
    """Shared checks of conv1d/conv2d/conv_transpose*: input (N, C, *spatial) or (C, *spatial), weight
    (out, in/groups, *k) or transposed (in, out/groups, *k), bias (out,).  Returns the batched input,
    weight, bias, groups and whether the input was unbatched."""
    x = _check_float(input, name)
    weight = _tensor(weight, name)
    dims, ks = ("L", "k") if nd == 1 else ("H, W", "kh, kw")
    if weight.ndim != nd + 2:
        layout = "in_channels, out_channels/groups" if transposed else "out_channels, in_channels/groups"
        raise ValueError(f"{name}: expected a {nd + 2}-D weight ({layout}, {ks}), got shape {weight.shape}")
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{name}: expected a {nd + 1}-D (C, {dims}) or {nd + 2}-D (N, C, {dims}) input, got shape {x.shape}"
        )
    groups = _int(groups, f"{name} groups")
    if transposed:
        cin, cout = weight.shape[0], weight.shape[1] * groups
        if groups < 1 or cin % groups:
            raise ValueError(
                f"{name}: groups={groups} must be positive and divide the {cin} input channels (weight {weight.shape})"
            )
    else:
        cin, cout = weight.shape[1] * groups, weight.shape[0]
        if groups < 1 or cout % groups:
            raise ValueError(f"{name}: groups={groups} must be positive and divide the {cout} output channels")
    if x.shape[-nd - 1] != cin:
        raise ValueError(
            f"{name}: expected input with {cin} channels (weight {weight.shape}, groups={groups}), "
            f"got input of shape {x.shape}"
        )
    if bias is not None:
        bias = _tensor(bias, name)
        if bias.shape != (cout,):
            raise ValueError(f"{name}: expected a bias of shape ({cout},), got {bias.shape}")
    unbatched = x.ndim == nd + 1
    return (x.unsqueeze(0) if unbatched else x), weight, bias, groups, unbatched


def _strides(stride, dilation, nd, name):
    stride, dilation = _ntuple(stride, nd, f"{name} stride"), _ntuple(dilation, nd, f"{name} dilation")
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{name}: stride and dilation must be >= 1, got stride={stride}, dilation={dilation}")
    return stride, dilation


def _conv(input, weight, bias, stride, padding, dilation, groups, nd, name, flipped=False):
    """conv1d/conv2d/convolve2d: validation, then the 2-D im2col primitive (1-D as height 1)."""
    x, weight, bias, groups, unbatched = _conv_operands(input, weight, bias, groups, nd, name)
    stride, dilation = _strides(stride, dilation, nd, name)
    kernel = weight.shape[2:]
    pads = _conv_pads(padding, kernel, dilation, stride, name, flipped)
    sizes = x.shape[2:]
    eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    padded = tuple(n + sum(p) for n, p in zip(sizes, pads))
    if any(n < e for n, e in zip(padded, eff)):
        raise ValueError(
            f"{name}: input of spatial size {'x'.join(map(str, sizes))} (padded "
            f"{'x'.join(map(str, padded))}) is smaller than the dilated kernel "
            f"{'x'.join(map(str, eff))}"
        )
    if flipped:
        weight = weight.flip(*range(2, weight.ndim))
    if nd == 1:
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
        stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
    args = _autocast(x, weight) if bias is None else _autocast(x, weight, bias)
    y = Conv2dFn.apply(*args, stride=stride, pads=pads, dilation=dilation, groups=groups)
    if nd == 1:
        y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (what deep-learning libraries call convolution), via im2col + GEMM.

    input (N, C, H, W) or (C, H, W), weight (O, C/groups, kh, kw), bias (O,) -> (N, O, Ho, Wo) with
    Ho = floor((H + 2p - d(kh - 1) - 1) / s) + 1;
    y[n, o, h, w] = b[o] + sum_{c, i, j} W[o, c, i, j] x[n, g(o) C/groups + c, s h + d i - p, s w + d j - p].
    ``padding`` is an int, a pair, 'valid' (no padding) or 'same' (output size = input size, stride 1).
    Depthwise layers (groups == channels) take a dedicated path without im2col (see ops.conv).
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def _conv2d(input, weight, bias, stride, padding, dilation, groups, name):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, name)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation: conv2d on a height-1 image.

    input (N, C, L) or (C, L), weight (O, C/groups, k), bias (O,) -> (N, O, Lo) with
    Lo = floor((L + 2p - d(k - 1) - 1) / s) + 1;
    y[n, o, l] = b[o] + sum_{c, i} W[o, c, i] x[n, g(o) C/groups + c, s l + d i - p].
    ``padding`` is an int, 'valid' or 'same' (stride 1; the odd extra pixel goes right).
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def convolve2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """True 2-D convolution (kernel flipped), next to the cross-correlation :func:`conv2d` of layers.

    Cross-correlation (conv2d, every deep-learning "convolution"):
        y[h, w] = sum_{i, j} W[i, j] x[h + i, w + j]
    Convolution in the signal-processing sense (this function, scipy.signal.convolve2d):
        y[h, w] = sum_{i, j} W[i, j] x[h - i, w - j]
    i.e. the kernel is rotated by 180 degrees before it slides: convolve2d(x, W) = conv2d(x, flip(W)).
    For learned kernels the difference does not matter (the network learns the flipped kernel), but it
    does for fixed filters (an asymmetric edge detector changes sign) and convolution, unlike
    correlation, is commutative and associative.

    Shapes, stride, dilation and groups as in :func:`conv2d` (channels are summed).  ``padding``: an int
    or a pair, 'valid', 'same' (scipy's 'same' alignment: for an even kernel the extra pixel pads the
    top/left) or 'full' (every position where kernel and input overlap, size H + d(kh - 1)).
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "convolve2d", flipped=True)


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, nd, name):
    x, weight, bias, groups, unbatched = _conv_operands(input, weight, bias, groups, nd, name, transposed=True)
    stride, dilation = _strides(stride, dilation, nd, name)
    if isinstance(padding, str):
        raise ValueError(
            f"{name}: padding must be an int or a tuple of {nd} ints, got {padding!r} (string "
            f"padding is not supported for transposed convolutions)"
        )
    padding = _ntuple(padding, nd, f"{name} padding")
    output_padding = _ntuple(output_padding, nd, f"{name} output_padding")
    if min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(
            f"{name}: padding and output_padding must be non-negative, got padding={padding}, "
            f"output_padding={output_padding}"
        )
    if any(q >= s and q >= d for q, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(
            f"{name}: output_padding must be smaller than either stride or dilation, got "
            f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
        )
    kernel = weight.shape[2:]
    sizes = x.shape[2:]
    out = tuple(
        conv_transpose_output_size(n, k, s, p, q, d)
        for n, k, s, p, q, d in zip(sizes, kernel, stride, padding, output_padding, dilation)
    )
    if min(out) < 1:
        raise ValueError(
            f"{name}: input of spatial size {'x'.join(map(str, sizes))} gives an output of size "
            f"{'x'.join(map(str, out))}; expected a positive size (padding={padding} is too large)"
        )
    check_output_size(name, x.shape[:1] + (weight.shape[1] * groups,) + out, x.data.dtype)
    if nd == 1:
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
        stride, dilation = (1,) + stride, (1,) + dilation
        padding, output_padding = (0,) + padding, (0,) + output_padding
    args = _autocast(x, weight) if bias is None else _autocast(x, weight, bias)
    y = ConvTranspose2dFn.apply(
        *args, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups
    )
    if nd == 1:
        y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution, the adjoint (input gradient) of conv2d used as a learnable upsampler.

    input (N, C, H, W) or (C, H, W), weight (C, O/groups, kh, kw), bias (O,) -> (N, O, Ho, Wo) with
    Ho = (H - 1) s - 2p + d (kh - 1) + output_padding + 1;
    y[n, o, s h + d i - p, s w + d j - p] += sum_c x[n, c, h, w] W[c, o, i, j] (within each group).
    ``output_padding`` (< stride or < dilation) adds rows/columns at the bottom/right to pick one of the
    input sizes that a strided conv2d maps to the same output size.  conv2d(conv_transpose2d(x, W)) is
    not x; conv_transpose2d is to conv2d what W^T is to W.
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2, "conv_transpose2d"
    )


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution: input (N, C, L) or (C, L), weight (C, O/groups, k) -> (N, O, Lo) with
    Lo = (L - 1) s - 2p + d (k - 1) + output_padding + 1 (see :func:`conv_transpose2d`)."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 1, "conv_transpose1d"
    )
