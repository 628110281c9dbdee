"""Conv2d: the cross-correlation layer over im2col + GEMM."""
import math

import numpy as np

from ...tensor import get_default_dtype
from .. import functional as F
from .. import init
from ..functional import _pair
from ..parameter import Parameter
from ._utils import check_device, layer_input
from .module import Module


class Conv2d(Module):
    """2-D convolution layer (cross-correlation), torch's arguments and default initialisation.

    input (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, Ho, Wo), Ho = floor((H + 2p - d(k-1) - 1)/s) + 1.
    weight (C_out, C_in/groups, kh, kw), bias (C_out,); W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = C_in/groups * kh * kw (kaiming_uniform_ with a = sqrt(5)).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        check_device(device, "Conv2d")
        for label, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"Conv2d: {label} must be an int, got {v!r}")
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must be positive and divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: padding_mode {padding_mode!r} is not supported; expected 'zeros'")
        dtype = dtype or get_default_dtype()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "Conv2d kernel_size")
        self.stride = _pair(stride, "Conv2d stride")
        self.dilation = _pair(dilation, "Conv2d dilation")
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ValueError(f"Conv2d: kernel_size, stride and dilation must be >= 1, got {self.kernel_size}, "
                             f"{self.stride} and {self.dilation}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' is not supported for strided convolutions (got "
                                 f"stride={self.stride})")
            self.padding = padding
        else:
            self.padding = _pair(padding, "Conv2d padding")
            if min(self.padding) < 0:
                raise ValueError(f"Conv2d: padding must be non-negative, got {padding!r}")
        self.groups = int(groups)
        self.padding_mode = padding_mode
        self.weight = Parameter(np.empty((out_channels, in_channels // groups) + self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        name = repr(self)
        x = layer_input(input, name)
        if x.ndim not in (3, 4):
            raise ValueError(f"{name}: expected input of shape (N, {self.in_channels}, H, W) or "
                             f"({self.in_channels}, H, W), got shape {x.shape}")
        if x.shape[-3] != self.in_channels:
            raise ValueError(f"{name}: expected input with {self.in_channels} channels, got {x.shape[-3]} "
                             f"channels (input shape {x.shape})")
        return F._conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, name)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
