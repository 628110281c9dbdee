"""Batch normalisation layers with torch's training/evaluation semantics and state_dict layout."""

import numpy as np

from ...tensor import Tensor, get_default_dtype
from .. import functional as F
from ._utils import check_device, init_affine, layer_input, reset_affine
from .module import Module


class _BatchNorm(Module):
    """Per-channel batch normalisation, y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias.

    Training: batch statistics (biased variance) normalise; running_mean/running_var follow
    r <- (1 - momentum) r + momentum * stat (unbiased variance), or the cumulative average
    1 / num_batches_tracked when ``momentum=None``.  Evaluation: the running estimates normalise.
    ``track_running_stats=False`` always uses batch statistics and keeps no buffers.
    """

    _expected_dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__()
        check_device(device, type(self).__name__)
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got {num_features!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) or not eps >= 0:
            raise ValueError(f"{type(self).__name__}: eps must be a non-negative number, got {eps!r}")
        dtype = dtype or get_default_dtype()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        init_affine(self, num_features, affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        reset_affine(self)

    def _check_input_dim(self, x):
        if x.ndim not in self._expected_dims:
            dims = " or ".join(f"{d}-D" for d in self._expected_dims)
            raise ValueError(f"{self._get_name()}({self.num_features}): expected a {dims} input, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{self._get_name()}({self.num_features}): expected {self.num_features} channels in "
                f"dimension 1, got input of shape {x.shape}"
            )

    def forward(self, input):
        name = f"{self._get_name()}({self.num_features})"
        x = layer_input(input, name)
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        pass_stats = not self.training or self.track_running_stats
        return F._batch_norm(
            x,
            self.running_mean if pass_stats else None,
            self.running_var if pass_stats else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
            name,
        )

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs, statistics per channel over N (and L)."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs, statistics per channel over N, H and W."""

    _expected_dims = (4,)
