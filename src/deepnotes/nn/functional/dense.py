"""The affine map y = x W^T + b (``linear``), the primitive of fully connected layers."""

from ...amp import _autocast
from ...ops.linear import LinearFn
from ._utils import _check_float, _tensor


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
        raise ValueError(
            f"{name}: expected input of shape (*, {weight.shape[1]}) (in_features="
            f"{weight.shape[1]}), got shape {x.shape}"
        )
    if bias is None:
        return LinearFn.apply(*_autocast(x, weight))
    bias = _tensor(bias, name)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"{name}: expected a bias of shape ({weight.shape[0]},), got {bias.shape}")
    return LinearFn.apply(*_autocast(x, weight, bias))
