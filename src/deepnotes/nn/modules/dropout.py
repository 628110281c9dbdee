"""Dropout (inverted: scale kept units by 1/(1-p) in training, identity in evaluation), channel dropout
(Dropout1d/2d) and DropConnect (drops weights instead of activations)."""

from ...random import default_generator
from ...tensor import Tensor
from .. import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability p during training and scale the rest by 1/(1-p)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability p must be a number in [0, 1], got {p!r}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


def _check_p(p, name):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: probability p must be a number in [0, 1], got {p!r}")
    return p


class Dropout1d(Module):
    """Zero whole channels of (N, C, L) or (C, L) inputs with probability p in training, scaling the kept
    channels by 1/(1-p); identity in evaluation."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p, self.inplace = _check_p(p, "Dropout1d"), inplace

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Module):
    """Zero whole feature maps x[n, c] of (N, C, H, W) inputs with probability p in training, scaling the
    kept maps by 1/(1-p); identity in evaluation (torch's Dropout2d, including its reading of 3-D inputs
    as (N, C, L))."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p, self.inplace = _check_p(p, "Dropout2d"), inplace

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class DropConnect(Module):
    """DropConnect (Wan et al. 2013): in training every forward pass zeroes each weight of the wrapped
    layer (Linear, Conv2d or any module with a ``weight`` parameter) with probability p and scales the
    kept weights by 1/(1-p), so E[W_dropped] = W; the bias is kept.  Evaluation uses the exact weights.
    Where Dropout removes units (activations), DropConnect removes connections.

    The wrapped layer is the child ``module`` (state_dict keys ``module.weight``, ``module.bias``); the
    last sampled keep-mask is available as ``mask`` (a bool array of the weight's shape).
    """

    def __init__(self, module, p=0.5):
        super().__init__()
        weight = module._parameters.get("weight") if isinstance(module, Module) else None
        if weight is None:
            raise TypeError(
                f"DropConnect: expected a layer with a weight parameter (Linear, Conv2d, ...), got "
                f"{type(module).__name__}"
            )
        self.p = _check_p(p, "DropConnect")
        self.module = module
        self.mask = None

    def forward(self, input):
        params = self.module._parameters
        weight = params["weight"]
        if not self.training or self.p == 0.0:
            return self.module(input)
        keep = default_generator().random(weight.shape) >= self.p
        self.mask = keep
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        params["weight"] = weight * Tensor(keep.astype(weight.data.dtype) * weight.data.dtype.type(scale))
        try:
            return self.module(input)
        finally:
            params["weight"] = weight

    def extra_repr(self):
        return f"p={self.p}"
