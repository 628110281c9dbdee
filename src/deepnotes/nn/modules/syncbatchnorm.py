"""``SyncBatchNorm``: batch normalisation whose batch statistics span every rank of a data-parallel job.

With plain BatchNorm each rank normalises with the mean and variance of its own B samples, so n ranks
of batch B do not compute what one process of batch n*B computes.  SyncBatchNorm merges the ranks'
per-channel statistics in forward (each rank's count, mean and sum of squared deviations, combined with
Chan's parallel formula, which stays accurate where sum / sum-of-squares would cancel), and in backward
all-reduces the two per-channel sums the input gradient needs (sum of dy and of dy (x - mean)), so
values and gradients equal those of one BatchNorm over the concatenated batch.  The weight and bias
gradients stay local sums, as in torch; DistributedDataParallel averages them with the others.
"""

from ...ops.sync_batchnorm import SyncBatchNormFn
from ._utils import layer_input
from .batchnorm import _BatchNorm
from .module import Module


class SyncBatchNorm(_BatchNorm):
    """Batch norm over (N, C, *) inputs whose training statistics cover the batches of all ranks of
    ``process_group`` (default: the world).  Outside a multi-rank job, or in evaluation, it is the
    ordinary BatchNorm.  Parameters, buffers and state_dict are BatchNorm's."""

    _expected_dims = (2, 3, 4, 5)

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        process_group=None,
        device=None,
        dtype=None,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        object.__setattr__(self, "process_group", process_group)

    def forward(self, input):
        from ... import distributed as dist

        if not (self.training and dist.is_initialized() and dist.get_world_size(self.process_group) > 1):
            return super().forward(input)
        name = f"SyncBatchNorm({self.num_features})"
        x = layer_input(input, name)
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        rm = self.running_mean.data if self.running_mean is not None else None
        rv = self.running_var.data if self.running_var is not None else None
        args = [x] + [p for p in (self.weight, self.bias) if p is not None]
        return SyncBatchNormFn.apply(
            *args,
            has_weight=self.weight is not None,
            has_bias=self.bias is not None,
            running_mean=rm,
            running_var=rv,
            momentum=factor,
            eps=self.eps,
            world=dist.get_world_size(self.process_group),
            all_gather=lambda out, mine: dist.all_gather_into_tensor(out, mine, group=self.process_group),
            all_reduce=lambda buf: dist.all_reduce(buf, group=self.process_group),
        )

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/2d layer replaced by a SyncBatchNorm holding the same
        parameters, buffers and training mode (the module itself when it is one)."""
        if not isinstance(module, Module):
            raise TypeError(f"SyncBatchNorm.convert_sync_batchnorm: expected a Module, got {type(module).__name__}")
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                process_group,
            )
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.train(module.training)
        for name, child in list(module.named_children()):
            new = cls.convert_sync_batchnorm(child, process_group)
            if new is not child:
                setattr(out, name, new)
        return out
