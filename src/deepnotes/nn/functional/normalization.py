"""Normalisation layers' math: batch, layer, group and instance normalisation."""

import numpy as np

from ...ops import normalization as _norm
from ...ops.norm import BatchNormFn
from ._utils import _array, _check_float, _int, _tensor


# ------------------------------------------------------------------------------------- normalisation
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
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
        raise ValueError(
            f"{name}: eps must be a non-negative number (it keeps sqrt(var + eps) away from zero), got {eps!r}"
        )
    if training and not eps > 0:  # torch's rule: a batch of equal values would divide by zero
        raise ValueError(f"{name}: eps must be positive during training, got {eps!r}")
    C = x.shape[1]
    rm = None if running_mean is None else _array(running_mean)
    rv = None if running_var is None else _array(running_var)
    if not training and (rm is None or rv is None):
        raise ValueError(f"{name}: running_mean and running_var are required in evaluation mode")
    for label, arr in (("running_mean", rm), ("running_var", rv)):
        if arr is not None and arr.shape != (C,):
            raise ValueError(f"{name}: expected {label} of shape ({C},) for input of shape {x.shape}, got {arr.shape}")
        if arr is not None and arr.dtype.kind != "f":
            raise TypeError(f"{name}: expected a floating-point {label}, got dtype {arr.dtype}")
    if training and (rm is not None or rv is not None) and momentum is None:
        raise ValueError(f"{name}: momentum must be a number when running statistics are updated, got None")
    if training and x.data.size == 0:
        # an empty batch has no statistics: the output is empty and the running statistics stay (torch)
        return x.clone()
    if training and x.data.size // max(C, 1) <= 1:
        raise ValueError(f"{name}: expected more than 1 value per channel when training, got input of shape {x.shape}")
    args = [x]
    for label, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            p = _tensor(p, name)
            if p.shape != (C,):
                raise ValueError(f"{name}: expected {label} of shape ({C},), got {p.shape}")
            args.append(p)
    return BatchNormFn.apply(
        *args,
        has_weight=weight is not None,
        has_bias=bias is not None,
        running_mean=rm,
        running_var=rv,
        training=bool(training),
        momentum=momentum,
        eps=eps,
    )


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
        raise TypeError(
            f"layer_norm: normalized_shape must be an int or a sequence of ints, got {normalized_shape!r}"
        ) from None
    k = len(shape)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k :] != shape:
        raise ValueError(
            f"layer_norm: normalized_shape={list(shape)} expects an input of shape "
            f"(*, {', '.join(map(str, shape))}), got shape {x.shape}"
        )
    args = _affine_args(x, weight, bias, shape, "layer_norm")
    m = int(np.prod(shape))
    return _norm.LayerNormFn.apply(*args, m=m, has_weight=weight is not None, has_bias=bias is not None, eps=float(eps))


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
        raise ValueError(
            f"group_norm: num_groups={g} must be positive and divide the number of channels "
            f"C={c} (input shape {x.shape})"
        )
    if x.shape[0] * (c // g) * int(np.prod(x.shape[2:])) == 1:
        raise ValueError(
            f"group_norm: expected more than 1 value per group when the batch has one sample, "
            f"got input of shape {x.shape} with num_groups={g}"
        )
    args = _affine_args(x, weight, bias, (c,), "group_norm")
    return _norm.GroupNormFn.apply(
        *args, groups=g, has_weight=weight is not None, has_bias=bias is not None, eps=float(eps)
    )


def instance_norm(
    input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True, momentum=0.1, eps=1e-5
):
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
            raise ValueError(f"{name}: expected {label} of shape ({c},) for input of shape {x.shape}, got {arr.shape}")
    args = _affine_args(x, weight, bias, (c,), name)
    flags = dict(has_weight=weight is not None, has_bias=bias is not None)
    if not use_input_stats:
        if rm is None or rv is None:
            raise ValueError(f"{name}: running_mean and running_var are required when use_input_stats=False")
        return BatchNormFn.apply(
            *args, **flags, running_mean=rm, running_var=rv, training=False, momentum=0.0, eps=float(eps)
        )
    spatial = int(np.prod(x.shape[2:]))
    if spatial == 1:
        raise ValueError(
            f"{name}: expected more than 1 spatial element when using input statistics, got input of shape {x.shape}"
        )
    if (rm is not None or rv is not None) and momentum is None:
        raise ValueError(f"{name}: momentum must be a number when running statistics are updated, got None")
    return _norm.GroupNormFn.apply(
        *args,
        groups=c,
        **flags,
        eps=float(eps),
        running_mean=rm,
        running_var=rv,
        momentum=0.0 if momentum is None else float(momentum),
    )
