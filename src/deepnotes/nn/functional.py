"""Stateless neural-network operations on Tensors (the ``torch.nn.functional`` of deepnotes).

Modules in ``deepnotes.nn`` hold parameters and call these functions; the math lives here.  Names,
argument orders and defaults follow ``torch.nn.functional``; every function validates its inputs and
raises a ``ValueError``/``TypeError`` that names the function, what it got and what it expects.
"""
import warnings

import numpy as np

from ..amp import _autocast
from ..autograd.function import Function
from ..ops import activation as _act, normalization as _norm, upsample as _ups
from ..ops._limits import check_output_size
from ..ops.conv import Conv2dFn
from ..ops.conv_transpose import ConvTranspose2dFn, conv_transpose_output_size
from ..ops.elementwise import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ..ops.linear import LinearFn
from ..ops.norm import BatchNormFn
from ..ops.pool import AdaptiveAvg1dFn, AdaptiveMaxPool2dFn, AvgPool2dFn, MaxPool2dFn, pool_output_size
from ..random import default_generator
from ..tensor import Tensor, as_tensor, cat, get_default_dtype
from .attention import additive_attention, multi_head_attention_forward, scaled_dot_product_attention  # noqa: F401

_REDUCTIONS = ("none", "mean", "sum")


# ------------------------------------------------------------------------------------- helpers
def _pair(v, name="argument"):
    """An int or a pair of ints as a pair of ints (torch's ``_pair``)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name}: expected an int or a pair of ints, got {v!r}")
        return tuple(_int(i, name) for i in v)
    return (_int(v, name), _int(v, name))


def _int(v, name):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {v!r} of type {type(v).__name__}")
    return int(v)


def _tensor(x, name):
    if isinstance(x, Tensor):
        return x
    try:
        return as_tensor(x)
    except TypeError:
        raise TypeError(f"{name}: expected a Tensor or an array, got {type(x).__name__}") from None


def _check_float(x, name):
    """``x`` as a Tensor; a TypeError naming ``name`` when it does not hold floating-point values."""
    x = _tensor(x, name)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point input, got dtype {x.data.dtype} "
                        f"(convert it with .float() or .double())")
    return x


def _float_or_cast(x, name):
    """Integer and boolean inputs become the default float dtype (torch's sigmoid/tanh on ints)."""
    x = _tensor(x, name)
    if x.data.dtype.kind in "biu":
        return x.to(get_default_dtype())
    return _check_float(x, name)


def _array(v):
    return v.data if isinstance(v, Tensor) else np.asarray(v)


def _legacy_reduction(size_average, reduce, reduction):
    """Map torch's deprecated ``size_average``/``reduce`` flags onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction, name):
    _check_reduction(reduction, name)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# ------------------------------------------------------------------------------------- linear / conv
def linear(input, weight, bias=None):
    """y = x W^T + b.

    Shapes: input (*, in_features), weight (out_features, in_features), bias (out_features,)
    -> (*, out_features).  One fused primitive: backward is two matrix products and a sum.
    """
    return _linear(input, weight, bias, "linear")


def _linear(input, weight, bias, name):
    x = _check_float(input, name)
    weight = _tensor(weight, name)
    if weight.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D weight (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"{name}: expected input of shape (*, {weight.shape[1]}) (in_features="
                         f"{weight.shape[1]}), got shape {x.shape}")
    if bias is None:
        return LinearFn.apply(*_autocast(x, weight))
    bias = _tensor(bias, name)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"{name}: expected a bias of shape ({weight.shape[0]},), got {bias.shape}")
    return LinearFn.apply(*_autocast(x, weight, bias))


def _ntuple(v, n, name):
    """An int or a sequence of ``n`` ints as an n-tuple of ints (torch's ``_single``/``_pair``)."""
    if n == 2:
        return _pair(v, name)
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"{name}: expected an int or a sequence of {n} int(s), got {v!r}")
        return tuple(_int(i, name) for i in v)
    return (_int(v, name),) * n


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
            raise ValueError(f"{name}: padding must be an int, a {'pair' if nd == 2 else 'tuple'}, "
                             f"{', '.join(repr(m) for m in modes[:-1])} or {modes[-1]!r}, got {padding!r}")
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                             f"(got stride={stride}); expected stride 1")
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
        raise ValueError(f"{name}: expected a {nd + 1}-D (C, {dims}) or {nd + 2}-D (N, C, {dims}) input, got "
                         f"shape {x.shape}")
    groups = _int(groups, f"{name} groups")
    if transposed:
        cin, cout = weight.shape[0], weight.shape[1] * groups
        if groups < 1 or cin % groups:
            raise ValueError(f"{name}: groups={groups} must be positive and divide the {cin} input channels "
                             f"(weight {weight.shape})")
    else:
        cin, cout = weight.shape[1] * groups, weight.shape[0]
        if groups < 1 or cout % groups:
            raise ValueError(f"{name}: groups={groups} must be positive and divide the {cout} output channels")
    if x.shape[-nd - 1] != cin:
        raise ValueError(f"{name}: expected input with {cin} channels (weight {weight.shape}, groups={groups}), "
                         f"got input of shape {x.shape}")
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
        raise ValueError(f"{name}: input of spatial size {'x'.join(map(str, sizes))} (padded "
                         f"{'x'.join(map(str, padded))}) is smaller than the dilated kernel "
                         f"{'x'.join(map(str, eff))}")
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
        raise ValueError(f"{name}: padding must be an int or a tuple of {nd} ints, got {padding!r} (string "
                         f"padding is not supported for transposed convolutions)")
    padding = _ntuple(padding, nd, f"{name} padding")
    output_padding = _ntuple(output_padding, nd, f"{name} output_padding")
    if min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"{name}: padding and output_padding must be non-negative, got padding={padding}, "
                         f"output_padding={output_padding}")
    if any(q >= s and q >= d for q, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"{name}: output_padding must be smaller than either stride or dilation, got "
                         f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    kernel = weight.shape[2:]
    sizes = x.shape[2:]
    out = tuple(conv_transpose_output_size(n, k, s, p, q, d)
                for n, k, s, p, q, d in zip(sizes, kernel, stride, padding, output_padding, dilation))
    if min(out) < 1:
        raise ValueError(f"{name}: input of spatial size {'x'.join(map(str, sizes))} gives an output of size "
                         f"{'x'.join(map(str, out))}; expected a positive size (padding={padding} is too large)")
    check_output_size(name, x.shape[:1] + (weight.shape[1] * groups,) + out, x.data.dtype)
    if nd == 1:
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
        stride, dilation = (1,) + stride, (1,) + dilation
        padding, output_padding = (0,) + padding, (0,) + output_padding
    args = _autocast(x, weight) if bias is None else _autocast(x, weight, bias)
    y = ConvTranspose2dFn.apply(*args, stride=stride, padding=padding, output_padding=output_padding,
                                dilation=dilation, groups=groups)
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
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                           "conv_transpose2d")


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution: input (N, C, L) or (C, L), weight (C, O/groups, k) -> (N, O, Lo) with
    Lo = (L - 1) s - 2p + d (k - 1) + output_padding + 1 (see :func:`conv_transpose2d`)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                           "conv_transpose1d")


# ------------------------------------------------------------------------------------- pooling
def _pool_args(input, kernel_size, stride, padding, dilation, name):
    x = _tensor(input, name)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    k = _pair(kernel_size, f"{name} kernel_size")
    no_stride = stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0)
    s = k if no_stride else _pair(stride, f"{name} stride")
    p = _pair(padding, f"{name} padding")
    d = _pair(dilation, f"{name} dilation")
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{name}: kernel_size, stride and dilation must be >= 1, got {k}, {s} and {d}")
    if min(p) < 0 or p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{name}: padding must be between 0 and half the kernel size {k}, got {p}")
    return x, k, s, p, d


def _pool_size_check(x, k, s, p, d, ceil_mode, name):
    H, W = x.shape[-2:]
    Ho = pool_output_size(H, k[0], s[0], p[0], d[0], ceil_mode)
    Wo = pool_output_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"{name}: input of spatial size {H}x{W} is too small for kernel {k} with padding "
                         f"{p} and dilation {d} (output would be {Ho}x{Wo})")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over each (dilated) window; the gradient goes to the arg-max only (the first one on ties;
    a NaN in the window wins and propagates, as in torch).

    input (N, C, H, W) or (C, H, W) -> (N, C, Ho, Wo); stride defaults to kernel_size; padding pads
    with -inf.  With ``return_indices`` also returns the arg-max as a flat index into each H*W plane.
    """
    x, k, s, p, d = _pool_args(input, kernel_size, stride, padding, dilation, "max_pool2d")
    if x.data.dtype.kind not in "fiu":
        raise TypeError(f"max_pool2d: expected a numeric input, got dtype {x.data.dtype}")
    if x.ndim == 3:
        out = max_pool2d(x.unsqueeze(0), k, s, p, d, ceil_mode, return_indices)
        return (out[0].squeeze(0), out[1].squeeze(0)) if return_indices else out.squeeze(0)
    _pool_size_check(x, k, s, p, d, ceil_mode, "max_pool2d")
    kwargs = dict(kernel=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
    if not return_indices:
        return MaxPool2dFn.apply(x, **kwargs)
    out = MaxPool2dFn.apply(x, **kwargs)
    if out._ctx is not None:
        return out, Tensor(out._ctx.indices())
    fn = MaxPool2dFn()
    fn.forward(x.data, **kwargs)
    return out, Tensor(fn.indices())


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over each window; the gradient is split evenly over the window.

    The divisor is the window area clipped to the padded input (``count_include_pad=True``) or to the
    real input (``False``), or ``divisor_override``.  input (N, C, H, W) or (C, H, W).
    """
    x, k, s, p, d = _pool_args(input, kernel_size, stride, padding, 1, "avg_pool2d")
    x = _check_float(x, "avg_pool2d")
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override <= 0):
        raise ValueError(f"avg_pool2d: divisor_override must be a positive int, got {divisor_override!r}")
    if x.ndim == 3:
        return avg_pool2d(x.unsqueeze(0), k, s, p, ceil_mode, count_include_pad, divisor_override).squeeze(0)
    _pool_size_check(x, k, s, p, d, ceil_mode, "avg_pool2d")
    return AvgPool2dFn.apply(x, kernel=k, stride=s, padding=p, ceil_mode=ceil_mode,
                             count_include_pad=count_include_pad, divisor_override=divisor_override)


def _adaptive_args(input, output_size, name, floating=True):
    """The input (3-D or 4-D) and the (oh, ow) of an adaptive pooling call; ``None`` keeps a size."""
    x = _check_float(input, name) if floating else _tensor(input, name)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    H, W = x.shape[-2:]
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"{name}: output_size must be an int or a pair, got {output_size!r}")
        oh, ow = output_size
    else:
        oh = ow = output_size
    oh = H if oh is None else _int(oh, f"{name} output_size")
    ow = W if ow is None else _int(ow, f"{name} output_size")
    if oh < 1 or ow < 1:
        raise ValueError(f"{name}: output_size must be positive, got {(oh, ow)}")
    if H == 0 or W == 0:
        raise ValueError(f"{name}: input has an empty spatial size {H}x{W}")
    check_output_size(name, x.shape[:-2] + (oh, ow), x.data.dtype)
    return x, oh, ow


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size (torch's bins: [floor(i H/oh), ceil((i+1) H/oh))).

    input (N, C, H, W) or (C, H, W) -> (..., oh, ow); ``None`` in ``output_size`` keeps that size.
    Computed as P_h x P_w^T with per-bin averaging matrices (a reshape-mean when bins tile exactly);
    NaN and inf reach only the bins that hold them, as in torch (see ``AdaptiveAvg1dFn``).
    """
    x, oh, ow = _adaptive_args(input, output_size, "adaptive_avg_pool2d")
    H, W = x.shape[-2:]
    if oh == 1 and ow == 1:
        return x.mean(dim=(-2, -1), keepdim=True)
    if H % oh == 0 and W % ow == 0:
        lead = x.shape[:-2]
        return x.reshape(lead + (oh, H // oh, ow, W // ow)).mean(dim=(-3, -1))
    return AdaptiveAvg1dFn.apply(AdaptiveAvg1dFn.apply(x, axis=x.ndim - 2, out=oh), axis=x.ndim - 1, out=ow)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed output size over torch's adaptive bins [floor(i H/oh), ceil((i+1) H/oh)).

    input (N, C, H, W) or (C, H, W) -> (..., oh, ow); ``None`` in ``output_size`` keeps that size.  The
    gradient goes to each bin's arg-max (the first one in row-major order; NaN wins).  With
    ``return_indices`` also returns the arg-max as a flat index into each H*W plane (int64).
    """
    x, oh, ow = _adaptive_args(input, output_size, "adaptive_max_pool2d", floating=False)
    if x.data.dtype.kind not in "fiu":
        raise TypeError(f"adaptive_max_pool2d: expected a numeric input, got dtype {x.data.dtype}")
    if x.ndim == 3:
        out = adaptive_max_pool2d(x.unsqueeze(0), (oh, ow), return_indices)
        return (out[0].squeeze(0), out[1].squeeze(0)) if return_indices else out.squeeze(0)
    out = AdaptiveMaxPool2dFn.apply(x, output_size=(oh, ow))
    if not return_indices:
        return out
    if out._ctx is not None:
        return out, Tensor(out._ctx.indices())
    fn = AdaptiveMaxPool2dFn()
    fn.forward(x.data, output_size=(oh, ow))
    return out, Tensor(fn.indices())


def _spp_levels(levels, name):
    if isinstance(levels, (int, np.integer)) or not hasattr(levels, "__iter__"):
        raise TypeError(f"{name}: levels must be a sequence of ints or (oh, ow) pairs, got {levels!r}")
    levels = [_pair(level, f"{name} levels") for level in levels]
    if not levels or min(min(level) for level in levels) < 1:
        raise ValueError(f"{name}: levels must be a non-empty sequence of positive sizes, got {levels!r}")
    return levels


def spatial_pyramid_pool(input, levels=(1, 2, 4), mode="max"):
    """Spatial pyramid pooling (SPP-net, He et al. 2014): a fixed-length vector for any input size.

    Each level n (or (oh, ow)) pools the map into an n x n grid of adaptive bins; the grids are
    flattened per sample (channel-major, like ``flatten(1)``) and concatenated level after level.
    input (N, C, H, W) -> (N, C * sum_l oh_l ow_l); (C, H, W) -> (C * sum_l oh_l ow_l,).
    ``mode`` is 'max' (the paper's choice) or 'avg'.
    """
    name = "spatial_pyramid_pool"
    if mode not in ("max", "avg"):
        raise ValueError(f"{name}: mode must be 'max' or 'avg', got {mode!r}")
    levels = _spp_levels(levels, name)
    x = _check_float(input, name)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    pool = adaptive_max_pool2d if mode == "max" else adaptive_avg_pool2d
    start = x.ndim - 3
    return cat([pool(x, level).flatten(start) for level in levels], dim=start)


# ------------------------------------------------------------------------------------- activations
def relu(input, inplace=False):
    """max(x, 0); the gradient is 1 where x > 0 and 0 elsewhere (0 at x = 0, as torch)."""
    return ReLU.apply(_tensor(input, "relu"))


def sigmoid(input):
    """1 / (1 + e^-x), evaluated without overflow for any x."""
    return Sigmoid.apply(_float_or_cast(input, "sigmoid"))


def tanh(input):
    return Tanh.apply(_float_or_cast(input, "tanh"))


def _softmax_dim(x, dim, name):
    if dim is None:  # torch's legacy implicit choice
        dim = 0 if x.ndim in (0, 1, 3) else 1
    dim = _int(dim, f"{name} dim")
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor with {x.ndim} dimensions")
    return dim % max(x.ndim, 1)


def _softmax_input(input, dtype, name):
    x = _tensor(input, name)
    if dtype is not None:
        x = x.to(dtype)
    return _check_float(x, name)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x), finite for any finite logits."""
    x = _softmax_input(input, dtype, "softmax")
    if x.ndim == 0:
        return Softmax.apply(x.reshape(1), dim=0).reshape(())
    return Softmax.apply(x, dim=_softmax_dim(x, dim, "softmax"))


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log softmax(x)_i = (x_i - max x) - log sum_j exp(x_j - max x), exact for logits of any size."""
    x = _softmax_input(input, dtype, "log_softmax")
    if x.ndim == 0:
        return LogSoftmax.apply(x.reshape(1), dim=0).reshape(())
    return LogSoftmax.apply(x, dim=_softmax_dim(x, dim, "log_softmax"))


# ------------------------------------------------------------------------------------- normalisation
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Batch normalisation over (N, *spatial) per channel with torch's semantics.

    Training: y = (x - mu_B) / sqrt(var_B + eps) * weight + bias with the biased batch variance, and
    the running estimates (updated in place when given) follow
    r <- (1 - momentum) r + momentum * stat, the variance using the unbiased var_B * n / (n - 1).
    Evaluation: the running estimates replace the batch statistics.  input (N, C, *).
    """
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, "batch_norm")


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, name):
    x = _check_float(input, name)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected an input of at least 2 dimensions (N, C, *), got shape {x.shape}")
    if not eps >= 0:
        raise ValueError(f"{name}: eps must be a non-negative number (it keeps sqrt(var + eps) away from "
                         f"zero), got {eps!r}")
    if training and not eps > 0:  # torch's rule: a batch of equal values would divide by zero
        raise ValueError(f"{name}: eps must be positive during training, got {eps!r}")
    C = x.shape[1]
    rm = None if running_mean is None else _array(running_mean)
    rv = None if running_var is None else _array(running_var)
    if not training and (rm is None or rv is None):
        raise ValueError(f"{name}: running_mean and running_var are required in evaluation mode")
    for label, arr in (("running_mean", rm), ("running_var", rv)):
        if arr is not None and arr.shape != (C,):
            raise ValueError(f"{name}: expected {label} of shape ({C},) for input of shape {x.shape}, got "
                             f"{arr.shape}")
        if arr is not None and arr.dtype.kind != "f":
            raise TypeError(f"{name}: expected a floating-point {label}, got dtype {arr.dtype}")
    if training and (rm is not None or rv is not None) and momentum is None:
        raise ValueError(f"{name}: momentum must be a number when running statistics are updated, got None")
    if training and x.data.size == 0:
        # an empty batch has no statistics: the output is empty and the running statistics stay (torch)
        return x.clone()
    if training and x.data.size // max(C, 1) <= 1:
        raise ValueError(f"{name}: expected more than 1 value per channel when training, got input of "
                         f"shape {x.shape}")
    args = [x]
    for label, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            p = _tensor(p, name)
            if p.shape != (C,):
                raise ValueError(f"{name}: expected {label} of shape ({C},), got {p.shape}")
            args.append(p)
    return BatchNormFn.apply(*args, has_weight=weight is not None, has_bias=bias is not None,
                             running_mean=rm, running_var=rv, training=bool(training),
                             momentum=momentum, eps=eps)


# ------------------------------------------------------------------------------------- dropout
def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p), so the
    expectation is unchanged and evaluation needs no rescaling.  Identity when not training."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be a number in [0, 1], got {p!r}")
    x = _check_float(input, "dropout")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = default_generator().random(x.shape) >= p
    mask = keep.astype(x.data.dtype) * x.data.dtype.type(1.0 / (1.0 - p))
    return x * Tensor(mask)


# ------------------------------------------------------------------------------------- losses
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error l_i = w_i (x_i - y_i)^2; with ``weight`` the mean is sum(l) / sum(w).

    ``target`` broadcasts against ``input`` (with a warning when the shapes differ, as torch).
    """
    return _mse_loss(input, target, _legacy_reduction(size_average, reduce, reduction), weight, "mse_loss")


def _mse_loss(input, target, reduction, weight, name):
    x, y = _pointwise_operands(input, target, reduction, name)
    d = x - y
    return _weighted_reduce(d * d, weight, x.shape, reduction, name)


class _PickNLL(Function):
    """l = -w * logp[target] along the class axis 1 (the fused gather of nll_loss).

    ``target`` holds valid class indices (ignored entries already replaced by any class and given
    weight 0); the gradient is -w g at the picked class and 0 elsewhere.
    """

    def forward(self, logp, *, target, weight):
        idx = target[:, None]
        self.idx, self.w, self.shape = idx, weight, logp.shape
        return -weight * np.take_along_axis(logp, idx, axis=1)[:, 0]

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        np.put_along_axis(out, self.idx, (-self.w * g)[:, None], axis=1)
        return out


def _class_targets(t, C, ignore_index, name):
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-index targets must be integers, got dtype {t.dtype} (use class "
                        f"probabilities of the input's shape for soft targets)")
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= C))
    if bad.any():
        first = int(t[bad].reshape(-1)[0])
        raise IndexError(f"{name}: target label {first} is out of range for {C} classes (expected "
                         f"0 <= label < {C}, or ignore_index={ignore_index})")
    return valid


def _class_weight(weight, C, dtype, name):
    if weight is None:
        return None
    w = np.asarray(_array(weight), dtype=dtype)
    if w.shape != (C,):
        raise ValueError(f"{name}: weight must hold one value per class, shape ({C},), got {w.shape}")
    return w


def _nll(logp, t, w, ignore_index, reduction, name):
    """nll on log-probabilities ``logp`` (N, C, *) or (C,), targets (N, *) or (); returns the loss and
    the per-sample weights (0 for ignored samples) used for the mean."""
    _check_reduction(reduction, name)
    one_d = logp.ndim == 1
    expected = () if one_d else logp.shape[:1] + logp.shape[2:]
    if logp.ndim == 0 or t.shape != expected:
        raise ValueError(f"{name}: input of shape {logp.shape} needs a target of shape {expected} "
                         f"(input (N, C, d1, ...) and target (N, d1, ...), or input (C,) and a scalar "
                         f"target), got target shape {t.shape}")
    C = logp.shape[0] if one_d else logp.shape[1]
    valid = _class_targets(t, C, ignore_index, name)
    dtype = logp.data.dtype
    lp = logp.reshape(1, C) if one_d else logp
    if lp.ndim > 2:  # (N, C, d1, ...) -> (N, C, M): the class axis stays axis 1, no transpose needed
        lp = lp.reshape(lp.shape[0], C, int(np.prod(lp.shape[2:])))   # explicit: -1 is ambiguous when N = 0
    tf = np.where(valid, t, 0).reshape(lp.shape[:1] + lp.shape[2:])
    sw = valid.reshape(tf.shape).astype(dtype)
    if w is not None:
        sw = sw * w[tf]
    loss = _PickNLL.apply(lp, target=tf, weight=sw)
    if reduction == "none":
        return loss.reshape(t.shape), sw
    if reduction == "sum":
        return loss.sum(), sw
    with np.errstate(invalid="ignore", divide="ignore"):
        return loss.sum() / Tensor(np.asarray(sw.sum(), dtype=dtype)), sw


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of the target class, l_i = -w[t_i] logp_i[t_i].

    input (N, C) or (N, C, d1, ...) of log-probabilities, target (N) or (N, d1, ...) of class indices
    (``ignore_index`` entries contribute nothing).  The mean is sum_i l_i / sum_i w[t_i] over the
    non-ignored samples (torch's weighted mean).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _nll_loss(input, target, weight, ignore_index, reduction, "nll_loss")


def _nll_loss(input, target, weight, ignore_index, reduction, name):
    x = _check_float(input, name)
    t = _array(target)
    C = x.shape[0] if x.ndim == 1 else (x.shape[1] if x.ndim > 1 else 0)
    return _nll(x, t, _class_weight(weight, C, x.data.dtype, name), ignore_index, reduction, name)[0]


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy on logits: nll_loss(log_softmax(x, dim=1)), with torch's options.

    input (N, C), (N, C, d1, ...) or (C,).  ``target`` holds class indices (N, d1, ...) or class
    probabilities of the input's shape.  With smoothing eps the target distribution becomes
    (1 - eps) onehot + eps / C, i.e. loss = (1 - eps) nll + eps / C sum_c (-w_c logp_c), normalised like
    nll.  Probability targets: l = -sum_c w_c q_c logp_c, and 'mean' divides by the number of samples.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, "cross_entropy")


def _cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, name):
    x = _check_float(input, name)
    _check_reduction(reduction, name)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if x.ndim == 0:
        raise ValueError(f"{name}: expected input of shape (N, C, ...) or (C,), got a scalar")
    cdim = 0 if x.ndim == 1 else 1
    C = x.shape[cdim]
    logp = LogSoftmax.apply(x, dim=cdim)
    t = _array(target)
    w = _class_weight(weight, C, x.data.dtype, name)
    wshape = [1] * x.ndim
    wshape[cdim] = C
    if t.dtype.kind == "f":  # class probabilities
        if t.shape != x.shape:
            raise ValueError(f"{name}: probability targets must have the input's shape {x.shape}, got "
                             f"{t.shape}")
        # a target tensor stays in the graph: its gradient -w_c logp_c flows back, as in torch
        q = target if isinstance(target, Tensor) else Tensor(t)
        if q.data.dtype != x.data.dtype:
            q = q.to(x.data.dtype)
        if label_smoothing:
            q = q * (1 - label_smoothing) + label_smoothing / C
        if w is not None:
            q = q * Tensor(w.reshape(wshape))
        loss = -(logp * q).sum(dim=cdim)
        if reduction == "mean":  # torch divides by the number of samples, numel / C
            with np.errstate(invalid="ignore", divide="ignore"):
                return loss.sum() / Tensor(np.asarray(x.data.size // max(C, 1), dtype=x.data.dtype))
        return _reduce(loss, reduction, name)
    nll, sw = _nll(logp, t, w, ignore_index, reduction, name)
    if label_smoothing == 0.0:
        return nll
    valid = (t != ignore_index).astype(x.data.dtype)
    per = logp * Tensor(w.reshape(wshape)) if w is not None else logp
    smooth = -per.sum(dim=cdim) * Tensor(valid)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            smooth = smooth.sum() / Tensor(np.asarray(sw.sum(), dtype=x.data.dtype))
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / C)


# ------------------------------------------------------------------------------------- more losses
# The sigmoid focal loss, smooth L1 and the overflow-free BCE-with-logits primitive live in
# deepnotes.detection.losses (written for detection first); the functions below reuse them.

def _det_losses():
    from ..detection import losses
    return losses


def _pointwise_operands(input, target, reduction, name, stacklevel=4):
    """``input`` and ``target`` as tensors for an elementwise loss; like torch, differing shapes
    broadcast with a warning (``stacklevel`` points it at the user's call)."""
    x = _check_float(input, name)
    y = _tensor(target, name)
    _check_reduction(reduction, name)
    if y.shape != x.shape:
        try:
            np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise ValueError(f"{name}: target shape {y.shape} does not broadcast to input shape {x.shape}") \
                from None
        warnings.warn(f"{name}: using a target size {y.shape} that is different to the input size "
                      f"{x.shape}; the values broadcast, which is likely not intended", stacklevel=stacklevel)
    return x, y


def _weighted_reduce(loss, weight, shape, reduction, name, mean_over_weight=True):
    """Multiply by an optional ``weight`` of the input's ``shape`` and reduce; the weighted 'mean' is
    sum(w l) / sum(w) (``mean_over_weight``) or the plain mean of w l (torch's huber_loss)."""
    if weight is None:
        return _reduce(loss, reduction, name)
    w = _tensor(weight, name)
    if w.shape != shape:
        raise ValueError(f"{name}: weight must have the input's shape {shape}, got {w.shape}")
    loss = loss * w
    if reduction == "mean" and mean_over_weight:
        return loss.sum() / w.sum()
    return _reduce(loss, reduction, name)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error l_i = w_i |x_i - y_i|; with ``weight`` the mean is sum(l) / sum(w).

    The gradient at x_i = y_i is 0 (torch's sign(0)).  ``target`` broadcasts (with a warning).
    """
    name = "l1_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    x, y = _pointwise_operands(input, target, reduction, name, stacklevel=3)
    return _weighted_reduce((x - y).abs(), weight, x.shape, reduction, name)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Smooth L1 of d = x - y: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (L1 when beta = 0).

    Quadratic near zero (gradient d / beta, no kink), linear outside (gradient sign(d), robust to
    outliers); Fast R-CNN's box regression loss.
    """
    name = "smooth_l1_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    x, y = _pointwise_operands(input, target, reduction, name, stacklevel=3)
    return _det_losses().smooth_l1_loss(x, y, beta=beta, reduction=reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Huber loss of d = x - y: 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta).

    Equals delta * smooth_l1_loss(beta=delta): the same shape, but the linear part has slope delta
    instead of 1.  With ``weight`` (input's shape) the 'mean' is the plain mean of w l (torch).
    """
    name = "huber_loss"
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.integer, np.floating)) or not delta > 0:
        raise ValueError(f"{name}: delta must be a positive number, got {delta!r}")
    x, y = _pointwise_operands(input, target, reduction, name, stacklevel=3)
    loss = _det_losses().smooth_l1_loss(x, y, beta=delta, reduction="none") * delta
    return _weighted_reduce(loss, weight, x.shape, reduction, name, mean_over_weight=False)


class _BinaryCrossEntropy(Function):
    """l = -(t log x + (1 - t) log(1 - x)) with each log clamped at -100 (torch), so x = 0 or 1 give
    finite losses.  Gradients are torch's: dl/dx = (x - t) / max(x (1 - x), 1e-12) and
    dl/dt = log(1 - x) - log(x)."""

    def forward(self, x, t):
        self.x, self.t = x, t
        with np.errstate(divide="ignore"):
            return -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log1p(-x), -100))

    def backward(self, g):
        x, t = self.x, self.t
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = g * (x - t) / np.maximum(x * (1 - x), x.dtype.type(1e-12))
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gt = g * (np.log1p(-x) - np.log(x))
        return gx, gt


def _same_shape_target(x, target, name, message):
    t = _tensor(target, name)
    if t.shape != x.shape:
        raise ValueError(f"{name}: {message} target shape {t.shape}, input shape {x.shape}")
    return t if t.data.dtype == x.data.dtype else t.to(x.data.dtype)


def _broadcast_weight(weight, shape, name, label):
    if weight is None:
        return None
    w = _tensor(weight, name)
    try:
        if np.broadcast_shapes(w.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{name}: {label} of shape {w.shape} does not broadcast to the input shape {shape}") \
            from None
    return w


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross entropy on probabilities: l = -w (t log x + (1 - t) log(1 - x)).

    input and target of the same shape, input in [0, 1] (use the logits version when you have
    logits: it is exact where this one clamps log at -100); ``weight`` broadcasts to the input.
    """
    name = "binary_cross_entropy"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name)
    x = _check_float(input, name)
    t = _same_shape_target(x, target, name, "expected a target of the input's shape (as torch), got")
    xa = x.data
    if xa.size and not ((xa >= 0) & (xa <= 1)).all():
        raise ValueError(f"{name}: all elements of input must be probabilities in [0, 1], got values in "
                         f"[{np.nanmin(xa)}, {np.nanmax(xa)}] (use binary_cross_entropy_with_logits for logits)")
    ta = t.data
    if ta.size and not ((ta >= 0) & (ta <= 1)).all():
        raise ValueError(f"{name}: all elements of target must be in [0, 1], got values in "
                         f"[{np.min(ta)}, {np.max(ta)}]")
    loss = _BinaryCrossEntropy.apply(x, t)
    w = _broadcast_weight(weight, x.shape, name, "weight")
    return _reduce(loss if w is None else loss * w, reduction, name)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Binary cross entropy on logits, exact for any magnitude:
    l = w [(1 - t) x + (1 + (p - 1) t) log(1 + e^-x)], computed as max(x, 0) - x t + log(1 + e^-|x|)
    plus (p - 1) t softplus(-x) when ``pos_weight`` p is given.

    ``weight`` broadcasts to the input; ``pos_weight`` (one value per class, broadcast along the last
    axis) scales the positive term: p > 1 favours recall, p = #neg / #pos balances classes.
    """
    name = "binary_cross_entropy_with_logits"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name)
    x = _check_float(input, name)
    t = _same_shape_target(x, target, name, "target size must be the same as input size, got")
    bce = _det_losses()._BCEWithLogits
    loss = bce.apply(x, t)
    pw = _broadcast_weight(pos_weight, x.shape, name, "pos_weight")
    if pw is not None:
        softplus_neg = _act.SoftplusFn.apply(-x, beta=1.0, threshold=np.inf)      # log(1 + e^-x), exact
        loss = loss + (pw - 1) * t * softplus_neg
    w = _broadcast_weight(weight, x.shape, name, "weight")
    return _reduce(loss if w is None else loss * w, reduction, name)


class _XLogX(Function):
    """t log t with 0 log 0 = 0 (torch's xlogy(t, t)); gradient log t + 1 (NaN at t = 0, as torch's
    xlogy(t, t) backward gives there)."""

    def forward(self, t):
        self.t = t
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t == 0, t.dtype.type(0), t * np.log(t))

    def backward(self, g):
        t = self.t
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * (np.where(t != 0, np.log(t), t.dtype.type(0)) + t / t)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence KL(target || q) with ``input`` = log q (log-probabilities):
    l = t (log t - x) (0 where t = 0), or with ``log_target`` (target given as log t) l = e^t (t - x).

    reduction: 'batchmean' (sum / batch size: the true KL per sample), 'sum', 'none', or 'mean'
    (sum / number of elements, with torch's warning that it is not the KL divergence).
    """
    name = "kl_div"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("none", "batchmean", "sum", "mean"):
        raise ValueError(f"{name}: reduction must be one of ('none', 'batchmean', 'sum', 'mean'), got "
                         f"{reduction!r}")
    x = _check_float(input, name)
    t = _tensor(target, name)
    try:
        np.broadcast_shapes(x.shape, t.shape)
    except ValueError:
        raise ValueError(f"{name}: target shape {t.shape} does not broadcast to input shape {x.shape}") from None
    if t.data.dtype.kind != "f":
        t = t.to(x.data.dtype)
    if reduction == "mean":
        warnings.warn(f"{name}: reduction='mean' divides the total loss by both the batch size and the "
                      "support size; 'batchmean' divides only by the batch size and matches the KL "
                      "divergence", stacklevel=2)
    loss = t.exp() * (t - x) if log_target else _XLogX.apply(t) - t * x
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    return _reduce(loss, reduction, name)


def balanced_cross_entropy(input, target, alpha=None, reduction="mean"):
    """Class-balanced binary cross entropy on logits (HED; the alpha-balanced CE of the focal-loss
    paper): l = -alpha t log p - (1 - alpha)(1 - t) log(1 - p), p = sigmoid(x).

    ``alpha`` weights the positives; None sets it from the target as the fraction of negatives,
    alpha / (1 - alpha) = #neg / #pos (alpha = 1 - mean(t)), so both classes contribute equally.
    Equals sigmoid_focal_loss with gamma = 0.
    """
    name = "balanced_cross_entropy"
    x = _check_float(input, name)
    t = _tensor(target, name)
    if alpha is None:
        alpha = 1.0 - float(t.data.mean()) if t.data.size else 0.5
    elif isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)) \
            or not 0 <= alpha <= 1:
        raise ValueError(f"{name}: alpha must be a number in [0, 1] or None, got {alpha!r}")
    return _det_losses().sigmoid_focal_loss(x, t, alpha=alpha, gamma=0, reduction=reduction)


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """RetinaNet's focal loss on logits, torchvision's formula and defaults:
    l = alpha_t (1 - p_t)^gamma BCE(x, t), p_t = p t + (1 - p)(1 - t), alpha_t = alpha t + (1 - alpha)(1 - t)
    (alpha = -1: no weighting).  (1 - p_t)^gamma down-weights easy, well-classified examples.
    """
    name = "sigmoid_focal_loss"
    return _det_losses().sigmoid_focal_loss(_check_float(inputs, name), _tensor(targets, name), alpha=alpha,
                                            gamma=gamma, reduction=reduction)


def softmax_focal_loss(input, target, gamma=2.0, alpha=None, reduction="mean", ignore_index=-100):
    """Multi-class focal loss on logits: l = -alpha[t] (1 - p_t)^gamma log p_t, p = softmax(x, dim=1).

    input (N, C), (N, C, d1, ...) or (C,); target class indices (N, d1, ...) or ().  ``alpha``: None,
    a number (all classes) or C per-class weights.  gamma = 0 and alpha = None give cross entropy.
    'mean' averages over the non-ignored samples.
    """
    name = "softmax_focal_loss"
    x = _check_float(input, name)
    _check_reduction(reduction, name)
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)) or gamma < 0:
        raise ValueError(f"{name}: gamma must be a non-negative number, got {gamma!r}")
    if x.ndim == 0:
        raise ValueError(f"{name}: expected input of shape (N, C, ...) or (C,), got a scalar")
    cdim = 0 if x.ndim == 1 else 1
    C = x.shape[cdim]
    t = _array(target)
    if alpha is not None and np.ndim(_array(alpha)) == 0:
        alpha = np.full(C, float(_array(alpha)))
    w = _class_weight(alpha, C, x.data.dtype, name)
    logp = LogSoftmax.apply(x, dim=cdim)
    nll, sw = _nll(logp, t, None, ignore_index, "none", name)     # -log p_t, 0 where ignored
    valid = sw
    if w is not None:
        sw = sw * w[np.where(valid > 0, t.reshape(sw.shape), 0)]
    # on ignored samples p_t is 1 and (1 - p_t)^gamma may have an infinite slope: use any finite value
    # there (the sample weight 0 removes it)
    neg_logpt = nll + Tensor(np.where(valid > 0, 0, 1).astype(x.data.dtype).reshape(nll.shape))
    modulating = (1 - (-neg_logpt).exp()) ** gamma if gamma != 0 else 1
    loss = modulating * nll * Tensor(sw.reshape(nll.shape))
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return loss.sum() / Tensor(np.asarray(valid.sum(), dtype=x.data.dtype))
    return _reduce(loss, reduction, name)


def smooth_labels(target, num_classes, eps=0.1, dim=1, dtype=None):
    """Label smoothing as a target transform: q = (1 - eps) onehot(t) + eps / C.

    Integer class indices (N, d1, ...) become probabilities with the class axis inserted at ``dim``
    (default 1, the layout cross_entropy expects: (N,) -> (N, C), (N, d1) -> (N, C, d1); a scalar
    target gives (C,)); floating targets are taken as distributions along ``dim`` and smoothed.
    cross_entropy(x, smooth_labels(t, C, eps)) equals cross_entropy(x, t, label_smoothing=eps).
    """
    name = "smooth_labels"
    t = _array(target)
    C = _int(num_classes, f"{name} num_classes")
    if C < 1:
        raise ValueError(f"{name}: num_classes must be positive, got {C}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) or not 0 <= eps <= 1:
        raise ValueError(f"{name}: eps must be a number in [0, 1], got {eps!r}")
    dt = np.dtype(get_default_dtype() if dtype is None else dtype)
    if t.dtype.kind in "iu":
        if t.size and (t.min() < 0 or t.max() >= C):
            raise IndexError(f"{name}: class values must be in [0, {C}), got range [{t.min()}, {t.max()}]")
        q = np.eye(C, dtype=dt)[t]
        d = min(_int(dim, f"{name} dim"), t.ndim)
        q = np.moveaxis(q, -1, d)
    elif t.dtype.kind == "f":
        d = _int(dim, f"{name} dim") if t.ndim > 1 else 0
        if t.ndim == 0 or t.shape[d] != C:
            raise ValueError(f"{name}: probability targets need {C} classes along dim {d}, got shape {t.shape}")
        q = t.astype(dt)
    else:
        raise TypeError(f"{name}: expected integer class indices or floating probabilities, got dtype {t.dtype}")
    return Tensor(np.ascontiguousarray(q * dt.type(1 - eps) + dt.type(eps / C)))


# ------------------------------------------------------------------------------------- misc
def flatten(input, start_dim=1, end_dim=-1):
    """Merge dimensions start_dim..end_dim (``nn.Flatten``'s defaults keep the batch axis)."""
    return _tensor(input, "flatten").flatten(start_dim, end_dim)


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: ``pad`` lists (before, after) pairs starting from the LAST dimension.

    Modes: 'constant' (fill ``value``, default 0; negative amounts crop), 'reflect', 'replicate',
    'circular'.
    """
    from ..tensor import pad as _pad
    return _pad(input, pad, mode=mode, value=0.0 if value is None else value)


def one_hot(tensor, num_classes=-1):
    """(*) integer classes -> (*, num_classes) int64 one-hot (num_classes=-1: max + 1)."""
    t = _array(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got dtype {t.dtype}")
    if num_classes < 0 and not t.size:
        raise ValueError(f"one_hot: cannot infer num_classes from an empty tensor of shape {t.shape}; "
                         "pass num_classes")
    n = int(t.max()) + 1 if num_classes < 0 else num_classes
    if t.size and (t.min() < 0 or t.max() >= n):
        raise IndexError(f"one_hot: class values must be in [0, {n}), got range [{t.min()}, {t.max()}]")
    return Tensor(np.eye(n, dtype=np.int64)[t])


__all__ = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "relu", "sigmoid", "tanh",
           "softmax", "log_softmax", "batch_norm", "dropout", "mse_loss", "nll_loss", "cross_entropy",
           "flatten", "pad", "one_hot"]
__all__ += ["conv1d", "convolve2d", "conv_transpose1d", "conv_transpose2d", "adaptive_max_pool2d",
            "spatial_pyramid_pool", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
            "binary_cross_entropy_with_logits", "kl_div", "balanced_cross_entropy", "sigmoid_focal_loss",
            "softmax_focal_loss", "smooth_labels"]


# ===================================================================================== issue 3, part A
# activations, normalisation, channel dropout, embedding and interpolation
def _number(v, name, label):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: {label} must be a number, got {v!r} of type {type(v).__name__}")
    return float(v)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """LeakyReLU(x) = x for x > 0, negative_slope * x otherwise; gradient 1 or negative_slope (at 0:
    negative_slope, as torch)."""
    slope = _number(negative_slope, "leaky_relu", "negative_slope")
    return _act.LeakyReLUFn.apply(_check_float(input, "leaky_relu"), negative_slope=slope)


def prelu(input, weight):
    """PReLU(x) = x for x > 0, a_c x otherwise, with learnable slopes ``weight``: one value, or one per
    channel (dimension 1 of the input; inputs of fewer than 2 dimensions have one channel)."""
    x = _check_float(input, "prelu")
    w = _check_float(weight, "prelu")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.ndim > 1 or w.data.size not in (1, channels):
        raise ValueError(f"prelu: weight must hold 1 or {channels} (the input's channels) values, got shape "
                         f"{w.shape} for input of shape {x.shape}")
    if w.data.dtype != x.data.dtype:
        raise TypeError(f"prelu: weight dtype {w.data.dtype} differs from input dtype {x.data.dtype}")
    return _act.PReLUFn.apply(x, w)


def elu(input, alpha=1.0, inplace=False):
    """ELU(x) = x for x > 0, alpha (e^x - 1) otherwise; smooth at 0 when alpha = 1."""
    return _act.ELUFn.apply(_check_float(input, "elu"), alpha=_number(alpha, "elu", "alpha"), scale=1.0,
                            input_scale=1.0)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """SELU(x) = scale * ELU(x, alpha) with alpha ~ 1.6733, scale ~ 1.0507 (self-normalising)."""
    return _act.ELUFn.apply(_check_float(input, "selu"), alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0)


def celu(input, alpha=1.0, inplace=False):
    """CELU(x) = max(0, x) + min(0, alpha (e^(x / alpha) - 1))."""
    alpha = _number(alpha, "celu", "alpha")
    if alpha == 0:
        raise ValueError("celu: alpha must be nonzero, got 0")
    return _act.ELUFn.apply(_check_float(input, "celu"), alpha=alpha, scale=1.0, input_scale=1.0 / alpha)


def silu(input, inplace=False):
    """SiLU(x) = x * sigmoid(x) (Swish with beta = 1); finite for any x."""
    return _act.SiLUFn.apply(_check_float(input, "silu"))


def swish(input, beta=1.0):
    """Swish(x) = x * sigmoid(beta * x).  ``beta`` is a number or a tensor that broadcasts against the
    input (a learnable beta receives its gradient sum(x^2 s (1 - s)), s = sigmoid(beta x))."""
    x = _check_float(input, "swish")
    if isinstance(beta, Tensor):
        b = _check_float(beta, "swish")
        try:
            np.broadcast_shapes(b.shape, x.shape)
        except ValueError:
            raise ValueError(f"swish: beta of shape {b.shape} does not broadcast to input shape {x.shape}") \
                from None
        return _act.SwishFn.apply(x, b.to(x.data.dtype))
    b = _number(beta, "swish", "beta")
    if b == 1.0:
        return _act.SiLUFn.apply(x)
    return _act.SwishFn.apply(x, Tensor(np.asarray(b, dtype=x.data.dtype)))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Hardtanh(x) = clip(x, min_val, max_val); gradient 1 strictly between the bounds, else 0."""
    lo, hi = _number(min_val, "hardtanh", "min_val"), _number(max_val, "hardtanh", "max_val")
    if lo > hi:
        raise ValueError(f"hardtanh: min_val ({lo}) must not exceed max_val ({hi})")
    return _act.HardtanhFn.apply(_check_float(input, "hardtanh"), min_val=lo, max_val=hi)


def relu6(input, inplace=False):
    """ReLU6(x) = min(max(x, 0), 6) (Hardtanh(0, 6)); gradient 1 on (0, 6), else 0."""
    return _act.HardtanhFn.apply(_check_float(input, "relu6"), min_val=0.0, max_val=6.0)


def hardsigmoid(input, inplace=False):
    """Hardsigmoid(x) = ReLU6(x + 3) / 6: 0 below -3, 1 above 3, x / 6 + 1/2 between."""
    return _act.HardsigmoidFn.apply(_check_float(input, "hardsigmoid"))


def hardswish(input, inplace=False):
    """Hardswish(x) = x * ReLU6(x + 3) / 6 (MobileNetV3's h-swish)."""
    return _act.HardswishFn.apply(_check_float(input, "hardswish"))


def gelu(input, approximate="none"):
    """GELU(x) = x * Phi(x), Phi the standard normal CDF (``approximate='none'``), or
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) with ``approximate='tanh'``."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _act.GELUFn.apply(_check_float(input, "gelu"), approximate=approximate)


def softplus(input, beta=1.0, threshold=20.0):
    """Softplus(x) = log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (torch's
    linear region).  Never overflows."""
    beta = _number(beta, "softplus", "beta")
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero, got 0")
    return _act.SoftplusFn.apply(_check_float(input, "softplus"), beta=beta,
                                 threshold=_number(threshold, "softplus", "threshold"))


def maxout(input, pool_size, dim=1):
    """Maxout: split dimension ``dim`` (size C * pool_size) into C groups of ``pool_size`` consecutive
    entries and keep each group's maximum, (N, C * k, *) -> (N, C, *).  The gradient flows to each
    group's arg-max (the first one on ties)."""
    x = _check_float(input, "maxout")
    k = _int(pool_size, "maxout pool_size")
    if k < 1:
        raise ValueError(f"maxout: pool_size must be >= 1, got {k}")
    if x.ndim == 0:
        raise ValueError("maxout: expected an input with at least one dimension, got a scalar")
    d = _int(dim, "maxout dim")
    if not -x.ndim <= d < x.ndim:
        raise IndexError(f"maxout: dim {d} is out of range for a tensor with {x.ndim} dimensions")
    d %= x.ndim
    if x.shape[d] % k:
        raise ValueError(f"maxout: the size {x.shape[d]} of dimension {d} must be divisible by pool_size={k} "
                         f"(input shape {x.shape})")
    return x.unflatten(d, (x.shape[d] // k, k)).max(dim=d + 1)[0]


# ------------------------------------------------------------------------------------- normalisation
def _affine_args(x, weight, bias, shape, name):
    args = [x]
    for label, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            p = _tensor(p, name)
            if p.shape != shape:
                raise ValueError(f"{name}: expected {label} of shape {shape}, got {p.shape}")
            if p.data.dtype != x.data.dtype:
                p = p.to(x.data.dtype)
            args.append(p)
    return args


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the trailing ``normalized_shape`` dimensions of each sample:
    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias, mean and biased variance over those
    dimensions; weight and bias (optional) have shape ``normalized_shape``.  input (*, *normalized_shape).
    """
    x = _check_float(input, "layer_norm")
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (normalized_shape,)
    try:
        shape = tuple(_int(s, "layer_norm normalized_shape") for s in normalized_shape)
    except TypeError:
        raise TypeError(f"layer_norm: normalized_shape must be an int or a sequence of ints, got "
                        f"{normalized_shape!r}") from None
    k = len(shape)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"layer_norm: normalized_shape={list(shape)} expects an input of shape "
                         f"(*, {', '.join(map(str, shape))}), got shape {x.shape}")
    args = _affine_args(x, weight, bias, shape, "layer_norm")
    m = int(np.prod(shape))
    return _norm.LayerNormFn.apply(*args, m=m, has_weight=weight is not None, has_bias=bias is not None,
                                   eps=float(eps))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation: the C channels of each sample are split into ``num_groups`` groups of C / G
    consecutive channels; each group (its channels and all spatial positions) is standardised with its
    own mean and biased variance, then y = x_hat * weight[c] + bias[c].  input (N, C, *)."""
    x = _check_float(input, "group_norm")
    g = _int(num_groups, "group_norm num_groups")
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, *), got shape {x.shape}")
    c = x.shape[1]
    if g < 1 or c % g:
        raise ValueError(f"group_norm: num_groups={g} must be positive and divide the number of channels "
                         f"C={c} (input shape {x.shape})")
    if x.shape[0] * (c // g) * int(np.prod(x.shape[2:])) == 1:
        raise ValueError(f"group_norm: expected more than 1 value per group when the batch has one sample, "
                         f"got input of shape {x.shape} with num_groups={g}")
    args = _affine_args(x, weight, bias, (c,), "group_norm")
    return _norm.GroupNormFn.apply(*args, groups=g, has_weight=weight is not None, has_bias=bias is not None,
                                   eps=float(eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Instance normalisation: each channel of each sample (N, C, *) is standardised over its spatial
    positions, y = (x - mu_nc) / sqrt(var_nc + eps) * weight[c] + bias[c].

    With ``use_input_stats`` the per-instance statistics are used and the running estimates, when given,
    are updated in place with the batch average of the instance statistics:
    r <- (1 - momentum) r + momentum * mean_n(stat_nc) (unbiased variance).  Otherwise the running
    estimates normalise (evaluation with ``track_running_stats``).
    """
    name = "instance_norm"
    x = _check_float(input, name)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected an input of shape (N, C, *), got shape {x.shape}")
    c = x.shape[1]
    rm = None if running_mean is None else _array(running_mean)
    rv = None if running_var is None else _array(running_var)
    for label, arr in (("running_mean", rm), ("running_var", rv)):
        if arr is not None and arr.shape != (c,):
            raise ValueError(f"{name}: expected {label} of shape ({c},) for input of shape {x.shape}, got "
                             f"{arr.shape}")
    args = _affine_args(x, weight, bias, (c,), name)
    flags = dict(has_weight=weight is not None, has_bias=bias is not None)
    if not use_input_stats:
        if rm is None or rv is None:
            raise ValueError(f"{name}: running_mean and running_var are required when use_input_stats=False")
        return BatchNormFn.apply(*args, **flags, running_mean=rm, running_var=rv, training=False,
                                 momentum=0.0, eps=float(eps))
    spatial = int(np.prod(x.shape[2:]))
    if spatial == 1:
        raise ValueError(f"{name}: expected more than 1 spatial element when using input statistics, got input "
                         f"of shape {x.shape}")
    if (rm is not None or rv is not None) and momentum is None:
        raise ValueError(f"{name}: momentum must be a number when running statistics are updated, got None")
    return _norm.GroupNormFn.apply(*args, groups=c, **flags, eps=float(eps), running_mean=rm,
                                   running_var=rv, momentum=0.0 if momentum is None else float(momentum))


# ------------------------------------------------------------------------------------- channel dropout
def _check_p(p, name):
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)) \
            or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: probability p must be a number in [0, 1], got {p!r}")
    return float(p)


def _feature_dropout(x, p, training):
    """Zero whole feature maps x[n, c] with probability p, scale the kept ones by 1 / (1 - p)."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    shape = x.shape[:2] + (1,) * (x.ndim - 2)
    keep = default_generator().random(shape) >= p
    return x * Tensor(keep.astype(x.data.dtype) * x.data.dtype.type(1.0 / (1.0 - p)))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Channel dropout for (N, C, L) or (C, L) inputs: each channel is zeroed with probability p, the
    others scaled by 1 / (1 - p).  Identity when not training."""
    p = _check_p(p, "dropout1d")
    x = _check_float(input, "dropout1d")
    if x.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {x.shape}")
    if x.ndim == 2:
        return _feature_dropout(x.unsqueeze(0), p, training).squeeze(0)
    return _feature_dropout(x, p, training)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout: each feature map x[n, c] of an (N, C, H, W) input is zeroed with probability
    p and the kept maps are scaled by 1 / (1 - p) (neighbouring pixels are correlated, so dropping
    single pixels would regularise little).  Identity when not training.  Like torch, a 3-D input is
    treated as (N, C, L) (with a warning), other ranks drop per (dim 0, dim 1) entry, also warned."""
    p = _check_p(p, "dropout2d")
    x = _check_float(input, "dropout2d")
    if x.ndim not in (3, 4):
        warnings.warn(f"dropout2d: received a {x.ndim}-D input; dropout2d expects (N, C, H, W) or (C, H, W) "
                      "inputs (use dropout for other shapes)", stacklevel=2)
    if x.ndim == 3:
        warnings.warn("dropout2d: received a 3-D input; as in torch it is read as (N, C, L) and whole "
                      "channels are dropped per sample (use dropout1d for that)", stacklevel=2)
    if x.ndim < 2:
        raise ValueError(f"dropout2d: expected an input with a batch and a channel dimension, got shape {x.shape}")
    return _feature_dropout(x, p, training)


# ------------------------------------------------------------------------------------- embedding
class _EmbeddingFn(Function):
    """out = weight[indices]; the gradient of row r is the sum of the gradients of the outputs that
    read it (divided by its count in the batch with ``scale_grad_by_freq``); ``padding_idx`` gets none."""

    def forward(self, weight, indices, padding_idx, scale_grad_by_freq):
        self.idx, self.shape = indices.reshape(-1), weight.shape
        self.padding_idx, self.scale = padding_idx, scale_grad_by_freq
        return weight[indices]

    def backward(self, g):
        from ..ops.shape import _scatter_add_rows
        idx = self.idx
        rows = g.reshape(idx.size, self.shape[1])
        if self.scale:
            counts = np.bincount(idx, minlength=self.shape[0])
            rows = rows / counts[idx][:, None].astype(g.dtype)
        if self.padding_idx is not None:
            keep = idx != self.padding_idx
            idx, rows = idx[keep], rows[keep]
        return _scatter_add_rows(self.shape, idx, np.ascontiguousarray(rows))


def _embedding_renorm(weight, idx, max_norm, norm_type):
    """Rescale (in place, outside the graph) the rows of ``weight`` read by ``idx`` whose p-norm
    exceeds max_norm to norm max_norm / (norm + 1e-7) * norm, as torch.embedding_renorm_."""
    rows = np.unique(idx)
    w = weight.data[rows]
    if norm_type == np.inf:
        norms = np.abs(w).max(axis=1) if w.shape[1] else np.zeros(len(rows))
    else:
        norms = np.sum(np.abs(w) ** norm_type, axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    if big.any():
        scale = max_norm / (norms[big] + 1e-7)
        weight.data[rows[big]] = (w[big] * scale[:, None]).astype(weight.data.dtype)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Look up rows of ``weight`` (num_embeddings, embedding_dim): integer input (*) ->
    (*, embedding_dim).  ``padding_idx`` rows receive no gradient; ``max_norm`` first renormalises (in
    place) the referenced rows whose ``norm_type``-norm exceeds it; ``scale_grad_by_freq`` divides each
    row's gradient by how often it occurs in the batch."""
    idx = _array(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: expected integer indices, got dtype {idx.dtype}")
    w = _check_float(weight, "embedding")
    if w.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {w.shape}")
    num = w.shape[0]
    if sparse:
        raise ValueError("embedding: sparse=True (sparse gradients) is not supported; expected sparse=False")
    if padding_idx is not None:
        padding_idx = _int(padding_idx, "embedding padding_idx")
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding: padding_idx={padding_idx} must be within num_embeddings={num} "
                             f"(expected {-num} <= padding_idx < {num})")
        padding_idx %= num
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = idx[(idx < 0) | (idx >= num)].reshape(-1)[0]
        raise IndexError(f"embedding: index {int(bad)} is out of range for {num} embeddings (expected "
                         f"0 <= index < {num})")
    idx = idx.astype(np.int64, copy=False)
    if max_norm is not None:
        _embedding_renorm(w, idx, float(max_norm), float(norm_type))
    return _EmbeddingFn.apply(w, padding_idx=padding_idx, indices=idx,
                              scale_grad_by_freq=bool(scale_grad_by_freq))


# ------------------------------------------------------------------------------------- interpolation
_INTERP_MODES = {"nearest": None, "nearest-exact": None, "linear": 1, "bilinear": 2, "bicubic": 2,
                 "trilinear": 3, "area": None}


def _per_dim(v, n, name, label, cast):
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"{name}: {label} {tuple(v)} must give one value per spatial dimension ({n})")
        return tuple(cast(i) for i in v)
    return (cast(v),) * n


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions of an (N, C, *spatial) input (1 to 3 spatial dimensions).

    ``size`` gives the output size, or ``scale_factor`` gives out = floor(in * scale_factor) (then the
    factor itself maps coordinates, unless ``recompute_scale_factor=True``).  Modes: 'nearest'
    (src = floor(dst * in / out), torch's legacy rule), 'nearest-exact' (floor((dst + 1/2) in / out)),
    'linear' (3-D), 'bilinear' and 'bicubic' (4-D), 'trilinear' (5-D), 'area' (adaptive average
    pooling); indices and weights are computed in the input's precision, as torch does.  With
    ``align_corners=True`` the corner pixels of input and output are aligned, src = dst (in - 1) /
    (out - 1); otherwise pixel centres are, src = (dst + 1/2) in / out - 1/2.
    """
    name = "interpolate"
    x = _check_float(input, name)
    if mode not in _INTERP_MODES:
        raise ValueError(f"{name}: mode must be one of {tuple(_INTERP_MODES)}, got {mode!r}")
    if antialias:
        raise ValueError(f"{name}: antialias=True is not supported; expected antialias=False")
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"{name}: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got shape {x.shape}")
    dim = x.ndim - 2
    need = _INTERP_MODES[mode]
    if need is not None and need != dim:
        raise ValueError(f"{name}: mode {mode!r} needs a {need + 2}-D input, got shape {x.shape}")
    if mode == "area" and dim == 3:
        raise ValueError(f"{name}: mode 'area' supports 3-D and 4-D inputs, got shape {x.shape}")
    linear_mode = mode in ("linear", "bilinear", "bicubic", "trilinear")
    if align_corners is not None and not linear_mode:
        raise ValueError(f"{name}: align_corners can only be set with the interpolating modes linear, bilinear, "
                         f"bicubic and trilinear, got mode {mode!r}")
    align_corners = bool(align_corners) if linear_mode else False
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: exactly one of size and scale_factor must be given, got size={size!r} and "
                         f"scale_factor={scale_factor!r}")
    in_sizes = x.shape[2:]
    if size is not None:
        out_sizes = _per_dim(size, dim, name, "size", lambda v: _int(v, f"{name} size"))
        scales = (None,) * dim
    else:
        scales = _per_dim(scale_factor, dim, name, "scale_factor",
                          lambda v: _number(v, name, "scale_factor"))
        if any(not s > 0 or not np.isfinite(s) for s in scales):
            raise ValueError(f"{name}: scale_factor must be positive and finite, got {scale_factor!r}")
        out_sizes = tuple(int(np.floor(float(n) * s)) for n, s in zip(in_sizes, scales))
        if recompute_scale_factor:
            scales = (None,) * dim
    if min(in_sizes) < 1 or min(out_sizes) < 1:
        raise ValueError(f"{name}: input and output spatial sizes must be positive, got input {tuple(in_sizes)} "
                         f"and output {out_sizes}")
    check_output_size(name, x.shape[:2] + out_sizes, x.data.dtype)
    if mode == "area":
        if dim == 1:
            return adaptive_avg_pool2d(x.unsqueeze(2), (1, out_sizes[0])).squeeze(2)
        return adaptive_avg_pool2d(x, out_sizes)
    dtype = x.data.dtype
    out = x
    # the last spatial axis first: the order in which torch accumulates the separable products
    for i in reversed(range(dim)):
        n_in, n_out, sf = in_sizes[i], out_sizes[i], scales[i]
        if mode in ("nearest", "nearest-exact"):
            taps = _ups.nearest_taps(n_in, n_out, sf, mode == "nearest-exact", dtype, legacy_2d=dim == 2)
        elif mode == "bicubic":
            taps = _ups.cubic_taps(n_in, n_out, align_corners, sf, dtype)
        else:
            taps = _ups.linear_taps(n_in, n_out, align_corners, sf, dtype)
        if len(taps) == 1 and n_in == n_out and np.array_equal(taps[0][0], np.arange(n_in)):
            continue                                   # this axis is copied unchanged
        out = _ups.Interp1dFn.apply(out, axis=2 + i, taps=taps)
    return out if out is not x else x.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of :func:`interpolate` (as in torch)."""
    warnings.warn("upsample: nn.functional.upsample is deprecated; use nn.functional.interpolate instead",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """interpolate(..., mode='nearest') (torch's deprecated helper)."""
    warnings.warn("upsample_nearest: deprecated; use nn.functional.interpolate instead", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """interpolate(..., mode='bilinear', align_corners=True) (torch's deprecated helper)."""
    warnings.warn("upsample_bilinear: deprecated; use nn.functional.interpolate instead", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


__all__ += ["leaky_relu", "prelu", "elu", "selu", "celu", "silu", "swish", "hardtanh", "relu6", "hardsigmoid",
            "hardswish", "gelu", "softplus", "maxout", "layer_norm", "group_norm", "instance_norm", "dropout1d",
            "dropout2d", "embedding", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]
