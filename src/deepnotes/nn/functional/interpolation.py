"""Resampling: ``interpolate`` (nearest, linear, bilinear, bicubic, trilinear, area) and the deprecated
``upsample*`` aliases."""

import warnings

import numpy as np

from ...ops import upsample as _ups
from ...ops._limits import check_output_size
from ._utils import _check_float, _int, _number
from .pooling import adaptive_avg_pool2d

# ------------------------------------------------------------------------------------- interpolation
_INTERP_MODES = {
    "nearest": None,
    "nearest-exact": None,
    "linear": 1,
    "bilinear": 2,
    "bicubic": 2,
    "trilinear": 3,
    "area": None,
}


def _per_dim(v, n, name, label, cast):
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"{name}: {label} {tuple(v)} must give one value per spatial dimension ({n})")
        return tuple(cast(i) for i in v)
    return (cast(v),) * n


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
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
        raise ValueError(
            f"{name}: align_corners can only be set with the interpolating modes linear, bilinear, "
            f"bicubic and trilinear, got mode {mode!r}"
        )
    align_corners = bool(align_corners) if linear_mode else False
    if (size is None) == (scale_factor is None):
        raise ValueError(
            f"{name}: exactly one of size and scale_factor must be given, got size={size!r} and "
            f"scale_factor={scale_factor!r}"
        )
    in_sizes = x.shape[2:]
    if size is not None:
        out_sizes = _per_dim(size, dim, name, "size", lambda v: _int(v, f"{name} size"))
        scales = (None,) * dim
    else:
        scales = _per_dim(scale_factor, dim, name, "scale_factor", lambda v: _number(v, name, "scale_factor"))
        if any(not s > 0 or not np.isfinite(s) for s in scales):
            raise ValueError(f"{name}: scale_factor must be positive and finite, got {scale_factor!r}")
        out_sizes = tuple(int(np.floor(float(n) * s)) for n, s in zip(in_sizes, scales))
        if recompute_scale_factor:
            scales = (None,) * dim
    if min(in_sizes) < 1 or min(out_sizes) < 1:
        raise ValueError(
            f"{name}: input and output spatial sizes must be positive, got input {tuple(in_sizes)} "
            f"and output {out_sizes}"
        )
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
            continue  # this axis is copied unchanged
        out = _ups.Interp1dFn.apply(out, axis=2 + i, taps=taps)
    return out if out is not x else x.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of :func:`interpolate` (as in torch)."""
    warnings.warn("upsample: nn.functional.upsample is deprecated; use nn.functional.interpolate instead", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """interpolate(..., mode='nearest') (torch's deprecated helper)."""
    warnings.warn("upsample_nearest: deprecated; use nn.functional.interpolate instead", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """interpolate(..., mode='bilinear', align_corners=True) (torch's deprecated helper)."""
    warnings.warn("upsample_bilinear: deprecated; use nn.functional.interpolate instead", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
