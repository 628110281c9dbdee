"""Activation layers: ReLU, Sigmoid, Tanh, Softmax, LogSoftmax and the issue-3 family (LeakyReLU, PReLU,
ELU/SELU/CELU, SiLU/Swish, Hardtanh/ReLU6, Hardshrink, Hardsigmoid, Hardswish, GELU, Softplus, Maxout,
Softmax2d)."""

import numpy as np

from ...tensor import get_default_dtype
from .. import functional as F
from ..parameter import Parameter
from ._utils import check_device, layer_input
from .module import Module


class ReLU(Module):
    """ReLU(x) = max(0, x); gradient 1 for x > 0, else 0."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """sigma(x) = 1 / (1 + e^-x), gradient sigma (1 - sigma) (at most 1/4: the vanishing-gradient cause)."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x) = (e^x - e^-x) / (e^x + e^-x), gradient 1 - tanh^2."""

    def forward(self, input):
        return F.tanh(input)


class Softmax(Module):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x) along ``dim`` (overflow-safe)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log softmax along ``dim``: (x_i - max x) - log sum_j exp(x_j - max x)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


# ------------------------------------------------------------------------------------- issue 3 activations
class LeakyReLU(Module):
    """LeakyReLU(x) = x for x > 0, negative_slope * x otherwise (no dead units: the gradient for x < 0
    is negative_slope instead of 0)."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """PReLU(x) = x for x > 0, a * x otherwise, with a learnable slope ``a``: one shared value
    (``num_parameters=1``) or one per input channel (dimension 1).  weight (num_parameters,) starts at
    ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        check_device(device, "PReLU")
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, (int, np.integer)) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got {num_parameters!r}")
        self.num_parameters, self.init = int(num_parameters), init
        self.weight = Parameter(np.full(self.num_parameters, init, dtype=dtype or get_default_dtype()))

    def reset_parameters(self):
        self.weight.data[...] = self.init

    def forward(self, input):
        return F.prelu(layer_input(input, repr(self)), self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """ELU(x) = x for x > 0, alpha (e^x - 1) otherwise: negative outputs push mean activations
    towards zero; saturates at -alpha."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.elu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SELU(Module):
    """SELU(x) = scale * (x if x > 0 else alpha (e^x - 1)), alpha ~ 1.6733, scale ~ 1.0507."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.selu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class CELU(Module):
    """CELU(x) = max(0, x) + min(0, alpha (e^(x / alpha) - 1)) (continuously differentiable ELU)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.celu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SiLU(Module):
    """SiLU(x) = x * sigmoid(x), i.e. Swish with beta = 1."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Swish(Module):
    """Swish(x) = x * sigmoid(beta * x).  beta = 1 is SiLU; beta -> infinity approaches ReLU and
    beta = 0 gives the linear x / 2.  With ``learnable=True`` beta is a Parameter of shape (1,)
    trained with the network."""

    def __init__(self, beta=1.0, learnable=False, device=None, dtype=None):
        super().__init__()
        check_device(device, "Swish")
        self.learnable = bool(learnable)
        if self.learnable:
            self.beta = Parameter(np.full(1, beta, dtype=dtype or get_default_dtype()))
        else:
            self.beta = float(beta)

    def forward(self, input):
        return F.swish(input, self.beta)

    def extra_repr(self):
        beta = float(self.beta.data[0]) if self.learnable else self.beta
        return f"beta={beta}, learnable={self.learnable}"


class Hardtanh(Module):
    """Hardtanh(x) = clip(x, min_val, max_val); gradient 1 strictly between the bounds, else 0."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class Hardshrink(Module):
    """Hardshrink(x) = x where |x| > lambd, else 0 (hard thresholding); gradient 1 outside
    [-lambd, lambd], 0 on it."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class ReLU6(Hardtanh):
    """ReLU6(x) = min(max(0, x), 6) (MobileNet's bounded ReLU, friendly to low-precision inference)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def forward(self, input):
        return F.relu6(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Hardsigmoid(Module):
    """Hardsigmoid(x) = ReLU6(x + 3) / 6, a piecewise-linear sigmoid."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.hardsigmoid(input)


class Hardswish(Module):
    """Hardswish(x) = x * ReLU6(x + 3) / 6, MobileNetV3's cheap Swish."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.hardswish(input)


class GELU(Module):
    """GELU(x) = x * Phi(x) (Phi the standard normal CDF), or its tanh approximation with
    ``approximate='tanh'``."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """Softplus(x) = log(1 + e^(beta x)) / beta, a smooth ReLU; linear where beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Maxout(Module):
    """Maxout: the maximum over each group of ``pool_size`` consecutive entries of dimension ``dim``,
    (N, C * k, *) -> (N, C, *).  After a Linear/Conv layer with k times the units it learns a
    piecewise-linear convex activation."""

    def __init__(self, pool_size, dim=1):
        super().__init__()
        if isinstance(pool_size, bool) or not isinstance(pool_size, (int, np.integer)) or pool_size < 1:
            raise ValueError(f"Maxout: pool_size must be a positive int, got {pool_size!r}")
        self.pool_size, self.dim = int(pool_size), dim

    def forward(self, input):
        return F.maxout(input, self.pool_size, self.dim)

    def extra_repr(self):
        return f"pool_size={self.pool_size}, dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels at every spatial position: (N, C, H, W) or (C, H, W), dim -3."""

    def forward(self, input):
        x = layer_input(input, "Softmax2d")
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-D or 4-D input, got shape {x.shape}")
        return F.softmax(x, -3)
