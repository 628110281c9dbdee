"""Loss modules wrapping the functional losses (torch's constructor arguments and state_dict)."""
from ...tensor import Tensor, as_tensor
from .. import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        reduction = F._legacy_reduction(size_average, reduce, reduction)
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'none', 'mean' or 'sum', got "
                             f"{reduction!r}")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with optional per-class weights, kept as the buffer ``weight`` (as in torch's state_dict)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        if weight is not None and not isinstance(weight, Tensor):
            weight = as_tensor(weight)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error (x - y)^2 with reduction 'mean' | 'sum' | 'none'."""

    def forward(self, input, target):
        return F._mse_loss(input, target, self.reduction, None, "MSELoss")


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood on log-probabilities (N, C, ...) with class-index targets (N, ...)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F._nll_loss(input, target, self.weight, self.ignore_index, self.reduction, "NLLLoss")


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy on logits = NLLLoss(LogSoftmax(dim=1)); class weights, ignore_index, label
    smoothing and class-probability targets as in torch."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F._cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                                self.label_smoothing, "CrossEntropyLoss")
