"""Normalisation layers beside batch norm: LayerNorm, GroupNorm, InstanceNorm1d/2d (torch's arguments,
defaults, reprs and state_dict layouts).

All standardise a group of values, x_hat = (x - mean) / sqrt(var + eps) (biased variance), then scale
and shift; they differ in what a group is.  For an (N, C, H, W) input:
batch norm: per channel over (N, H, W); layer norm: per sample over the trailing normalised dims;
instance norm: per (sample, channel) over (H, W); group norm: per sample over C/G channels and (H, W).
Only batch norm mixes samples, so the others behave the same in training and evaluation (instance norm
with ``track_running_stats=True`` excepted) and work with a batch of one.
"""

import warnings

import numpy as np

from ...tensor import get_default_dtype
from .. import functional as F
from ._utils import check_device, init_affine, layer_input, reset_affine
from .batchnorm import _BatchNorm
from .module import Module


class LayerNorm(Module):
    """y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias over the last ``len(normalized_shape)``
    dimensions of each sample; weight (ones) and bias (zeros) have shape ``normalized_shape`` when
    ``elementwise_affine`` (bias only if ``bias``).  input (*, *normalized_shape) -> same shape."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device, "LayerNorm")
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        try:
            shape = tuple(int(s) for s in normalized_shape)
        except (TypeError, ValueError):
            raise TypeError(
                f"LayerNorm: normalized_shape must be an int or a sequence of ints, got {normalized_shape!r}"
            ) from None
        if not shape or min(shape) < 1:
            raise ValueError(f"LayerNorm: normalized_shape must be non-empty with positive sizes, got {shape}")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        dtype = dtype or get_default_dtype()
        init_affine(self, shape, elementwise_affine, bias, dtype)

    def reset_parameters(self):
        reset_affine(self)

    def forward(self, input):
        return F.layer_norm(layer_input(input, "LayerNorm"), self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Group normalisation: the ``num_channels`` channels are split into ``num_groups`` groups; each
    group of each sample is standardised over its channels and positions, then scaled and shifted per
    channel (weight ones, bias zeros, when ``affine``).  Independent of the batch size.
    input (N, C, *) -> same shape.  G = 1 is layer norm over (C, *); G = C is instance norm."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        check_device(device, "GroupNorm")
        for label, v in (("num_groups", num_groups), ("num_channels", num_channels)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"GroupNorm: {label} must be a positive int, got {v!r}")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = int(num_groups), int(num_channels), eps, affine
        dtype = dtype or get_default_dtype()
        init_affine(self, num_channels, affine, bias, dtype)

    def reset_parameters(self):
        reset_affine(self)

    def forward(self, input):
        name = repr(self)
        x = layer_input(input, name)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"{name}: expected an input of shape (N, {self.num_channels}, *), got shape {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class _InstanceNorm(_BatchNorm):
    """Per-(sample, channel) normalisation over the spatial positions.  Defaults affine=False,
    track_running_stats=False (torch's); with tracking, training updates running_mean/running_var
    with the batch-averaged instance statistics and evaluation normalises with them."""

    _no_batch_dim = 0

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=False,
        track_running_stats=False,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input):
        name = f"{self._get_name()}({self.num_features})"
        x = layer_input(input, name)
        if x.ndim not in self._expected_dims:
            dims = " or ".join(f"{d}-D" for d in self._expected_dims)
            raise ValueError(f"{name}: expected a {dims} input, got shape {x.shape}")
        feature_dim = x.ndim - self._no_batch_dim
        if x.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(
                    f"{name}: expected {self.num_features} channels in dimension {feature_dim}, got "
                    f"input of shape {x.shape}"
                )
            # torch's rule: without affine parameters num_features is unused, so a mismatch only warns
            warnings.warn(
                f"{name}: the input's size {x.shape[feature_dim]} at dimension {feature_dim} does not "
                "match num_features (unused because affine=False)",
                stacklevel=2,
            )
        unbatched = x.ndim == self._no_batch_dim
        if unbatched:
            x = x.unsqueeze(0)
        out = F.instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance norm over L for (N, C, L) inputs, or (C, L) without a batch dimension."""

    _expected_dims = (2, 3)
    _no_batch_dim = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance norm over (H, W) for (N, C, H, W) inputs, or (C, H, W) without a batch dimension
    (style transfer's normalisation: removes each image's contrast)."""

    _expected_dims = (3, 4)
    _no_batch_dim = 3
