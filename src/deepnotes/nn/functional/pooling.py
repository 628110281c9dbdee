"""Pooling: max/average (fixed windows), adaptive average/max (output size given) and spatial pyramid
pooling."""

import numpy as np

from ...ops._limits import check_output_size
from ...ops.pool import AdaptiveAvg1dFn, AdaptiveMaxPool2dFn, AvgPool2dFn, MaxPool2dFn, pool_output_size
from ...tensor import Tensor, cat
from ._utils import _check_float, _int, _pair, _tensor


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
        raise ValueError(
            f"{name}: input of spatial size {H}x{W} is too small for kernel {k} with padding "
            f"{p} and dilation {d} (output would be {Ho}x{Wo})"
        )


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
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


def avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """Mean over each window; the gradient is split evenly over the window.

    The divisor is the window area clipped to the padded input (``count_include_pad=True``) or to the
    real input (``False``), or ``divisor_override``.  input (N, C, H, W) or (C, H, W).
    """
    x, k, s, p, d = _pool_args(input, kernel_size, stride, padding, 1, "avg_pool2d")
    x = _check_float(x, "avg_pool2d")
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer)) or divisor_override <= 0):
        raise ValueError(f"avg_pool2d: divisor_override must be a positive int, got {divisor_override!r}")
    if x.ndim == 3:
        return avg_pool2d(x.unsqueeze(0), k, s, p, ceil_mode, count_include_pad, divisor_override).squeeze(0)
    _pool_size_check(x, k, s, p, d, ceil_mode, "avg_pool2d")
    return AvgPool2dFn.apply(
        x,
        kernel=k,
        stride=s,
        padding=p,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )


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
