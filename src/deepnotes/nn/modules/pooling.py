"""Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, GlobalAvgPool2d
(SpatialPyramidPooling lives in spp.py)."""

from .. import functional as F
from .module import Module


class MaxPool2d(Module):
    """Max over (dilated) kh x kw windows: (N, C, H, W) -> (N, C, Ho, Wo),
    Ho = floor_or_ceil((H + 2p - d(k - 1) - 1) / s) + 1; stride defaults to kernel_size.  The gradient
    flows to each window's arg-max only; ``return_indices`` also returns it (flat index per plane)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return F.max_pool2d(
            input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )

    def extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """Mean over kh x kw windows; the divisor counts the zero padding unless ``count_include_pad=False``
    (or is ``divisor_override``).  The gradient is split evenly over each window."""

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return F.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed (oh, ow): bin i spans [floor(i H / oh), ceil((i + 1) H / oh)).
    ``AdaptiveAvgPool2d(1)`` is global average pooling."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed (oh, ow) over adaptive bins [floor(i H / oh), ceil((i + 1) H / oh)); the
    gradient goes to each bin's arg-max.  ``return_indices`` also returns it (flat index per plane)."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class GlobalAvgPool2d(Module):
    """Global average pooling (Network in Network, GoogLeNet, ResNet heads): the mean of each feature
    map, (N, C, H, W) -> (N, C, 1, 1), or (N, C) with ``flatten=True``; the same as
    AdaptiveAvgPool2d(1) (followed by flatten(1)).  Replaces fully connected heads without adding
    parameters and accepts any input size."""

    def __init__(self, flatten=False):
        super().__init__()
        self.flatten = bool(flatten)

    def forward(self, input):
        out = F.adaptive_avg_pool2d(input, 1)
        return out.flatten(out.ndim - 3) if self.flatten else out

    def extra_repr(self):
        return f"flatten={self.flatten}"
