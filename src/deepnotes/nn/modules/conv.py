"""Convolution layers: Conv1d, Conv2d (cross-correlation over im2col + GEMM) and the transposed
convolutions ConvTranspose1d/2d (the adjoint of conv, a learnable upsampler)."""

import math

import numpy as np

from ...ops.conv_transpose import conv_transpose_output_size
from ...tensor import get_default_dtype
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ._utils import check_device, layer_input
from .module import Module


class _ConvNd(Module):
    """Arguments, parameters and initialisation shared by the convolution layers (torch's _ConvNd).

    weight (out, in/groups, *k) for a convolution, (in, out/groups, *k) for a transposed one; bias
    (out,).  W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight.shape[1] * prod(k)
    (kaiming_uniform_ with a = sqrt(5)), as torch.
    """

    _nd = 2
    transposed = False

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        dilation,
        groups,
        bias,
        padding_mode,
        device,
        dtype,
        output_padding=0,
    ):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        check_device(device, name)
        for label, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name}: {label} must be an int, got {v!r}")
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: groups={groups} must be positive and divide in_channels={in_channels} "
                f"and out_channels={out_channels}"
            )
        if padding_mode != "zeros":
            raise ValueError(f"{name}: padding_mode {padding_mode!r} is not supported; expected 'zeros'")
        dtype = dtype or get_default_dtype()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = F._ntuple(kernel_size, nd, f"{name} kernel_size")
        self.stride = F._ntuple(stride, nd, f"{name} stride")
        self.dilation = F._ntuple(dilation, nd, f"{name} dilation")
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ValueError(
                f"{name}: kernel_size, stride and dilation must be >= 1, got {self.kernel_size}, "
                f"{self.stride} and {self.dilation}"
            )
        if isinstance(padding, str) and not self.transposed:
            F._conv_pads(padding, self.kernel_size, self.dilation, self.stride, name)  # validates
            self.padding = padding
        else:
            if isinstance(padding, str):
                raise ValueError(f"{name}: padding must be an int or a tuple of {nd} ints, got {padding!r}")
            self.padding = F._ntuple(padding, nd, f"{name} padding")
            if min(self.padding) < 0:
                raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
        self.output_padding = F._ntuple(output_padding, nd, f"{name} output_padding")
        if any(q < 0 or (q >= s and q >= d) for q, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(
                f"{name}: output_padding must be non-negative and smaller than either stride or "
                f"dilation, got output_padding={self.output_padding}, stride={self.stride}, "
                f"dilation={self.dilation}"
            )
        self.groups = int(groups)
        self.padding_mode = padding_mode
        lead = (in_channels, out_channels // groups) if self.transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(np.empty(lead + self.kernel_size, dtype=dtype))
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

    def _layer_name(self):
        """``repr(self)`` for error messages, cached while the attributes it shows are unchanged (the
        repr is built on every forward otherwise, a measurable share of a small network's time)."""
        key = (
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.output_padding,
            self.groups,
            self.bias is None,
        )
        cached = self.__dict__.get("_name_cache")
        if cached is None or cached[0] != key:
            cached = self.__dict__["_name_cache"] = (key, repr(self))
        return cached[1]

    def _input(self, input):
        name = self._layer_name()
        x = layer_input(input, name)
        dims = "L" if self._nd == 1 else "H, W"
        if x.ndim not in (self._nd + 1, self._nd + 2):
            raise ValueError(
                f"{name}: expected input of shape (N, {self.in_channels}, {dims}) or "
                f"({self.in_channels}, {dims}), got shape {x.shape}"
            )
        if x.shape[-self._nd - 1] != self.in_channels:
            raise ValueError(
                f"{name}: expected input with {self.in_channels} channels, got "
                f"{x.shape[-self._nd - 1]} channels (input shape {x.shape})"
            )
        return x, name

    def forward(self, input):
        x, name = self._input(input)
        return F._conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, self._nd, name)

    def extra_repr(self):
        nd = self._nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """1-D convolution layer (cross-correlation): (N, C_in, L) or (C_in, L) -> (N, C_out, Lo),
    Lo = floor((L + 2p - d(k - 1) - 1) / s) + 1; weight (C_out, C_in/groups, k), bias (C_out,)."""

    _nd = 1

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device, dtype
        )


class Conv2d(_ConvNd):
    """2-D convolution layer (cross-correlation), torch's arguments and default initialisation.

    input (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, Ho, Wo), Ho = floor((H + 2p - d(k-1) - 1)/s) + 1.
    weight (C_out, C_in/groups, kh, kw), bias (C_out,); W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = C_in/groups * kh * kw (kaiming_uniform_ with a = sqrt(5)).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device, dtype
        )


class _ConvTransposeNd(_ConvNd):
    transposed = True

    def _output_padding(self, x, output_size):
        """torch's rule: ``output_size`` (spatial sizes, optionally with the leading N, C) picks the
        output_padding; it must lie between the smallest output and that plus stride - 1."""
        nd = self._nd
        if output_size is None:
            return self.output_padding
        size = [int(v) for v in output_size]
        lead = 2 if x.ndim == nd + 2 else 1
        if len(size) == lead + nd:
            size = size[lead:]
        if len(size) != nd:
            raise ValueError(
                f"{type(self).__name__}: output_size must have {nd} or {lead + nd} elements (got {len(size)})"
            )
        pads = []
        for n, want, k, s, p, d in zip(x.shape[-nd:], size, self.kernel_size, self.stride, self.padding, self.dilation):
            smallest = conv_transpose_output_size(n, k, s, p, 0, d)
            if not smallest <= want <= smallest + s - 1:
                raise ValueError(
                    f"{type(self).__name__}: requested an output size of {tuple(size)}, but valid "
                    f"sizes along this axis range from {smallest} to {smallest + s - 1} (for an "
                    f"input of {tuple(x.shape[-nd:])})"
                )
            pads.append(want - smallest)
        return tuple(pads)

    def forward(self, input, output_size=None):
        x, name = self._input(input)
        output_padding = self._output_padding(x, output_size)
        return F._conv_transpose(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
            self._nd,
            name,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution: (N, C_in, L) -> (N, C_out, Lo), Lo = (L - 1) s - 2p + d (k - 1) +
    output_padding + 1; weight (C_in, C_out/groups, k).  ``forward(x, output_size)`` picks
    output_padding."""

    _nd = 1

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups=1,
        bias=True,
        dilation=1,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
            output_padding,
        )


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution (the adjoint of Conv2d: the input gradient of a conv as a layer), used
    to upsample in decoders, GAN generators and segmentation heads.

    input (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, Ho, Wo),
    Ho = (H - 1) s - 2p + d (kh - 1) + output_padding + 1.  weight (C_in, C_out/groups, kh, kw), bias
    (C_out,), initialised as torch (fan_in = C_out/groups * kh * kw).  A stride-s conv2d maps s
    different input sizes to one output size; ``output_padding`` (or ``forward(x, output_size)``)
    chooses which one the transposed layer produces.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups=1,
        bias=True,
        dilation=1,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
            output_padding,
        )
