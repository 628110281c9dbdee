"""Loss modules wrapping the functional losses (torch's constructor arguments and state_dict)."""

from ...tensor import Tensor, as_tensor
from .. import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        reduction = F._legacy_reduction(size_average, reduce, reduction)
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
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

    def __init__(
        self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean", label_smoothing=0.0
    ):
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F._cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing, "CrossEntropyLoss"
        )


class L1Loss(_Loss):
    """Mean absolute error |x - y| with reduction 'mean' | 'sum' | 'none'."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = x - y)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta!r}")
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Huber: 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = x - y)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta!r}")
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross entropy on probabilities, -w (t log x + (1 - t) log(1 - x)); ``weight`` buffer."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross entropy on logits (sigmoid fused, exact for any logit) with ``weight`` and
    ``pos_weight`` buffers, as torch's state_dict."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else as_tensor(weight))
        self.register_buffer("pos_weight", None if pos_weight is None else as_tensor(pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class KLDivLoss(Module):
    """KL(target || exp(input)) with input = log-probabilities; reduction 'batchmean' gives the KL
    divergence per sample ('mean' averages over elements, as torch)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__()
        reduction = F._legacy_reduction(size_average, reduce, reduction)
        if reduction not in ("none", "batchmean", "sum", "mean"):
            raise ValueError(f"KLDivLoss: reduction must be 'none', 'batchmean', 'sum' or 'mean', got {reduction!r}")
        self.reduction, self.log_target = reduction, bool(log_target)

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class BalancedCrossEntropyLoss(_Loss):
    """Class-balanced binary cross entropy on logits, -alpha t log p - (1 - alpha)(1 - t) log(1 - p);
    ``alpha=None`` takes the fraction of negatives of each target (HED)."""

    def __init__(self, alpha=None, reduction="mean"):
        super().__init__(reduction=reduction)
        if alpha is not None and not 0 <= alpha <= 1:
            raise ValueError(f"BalancedCrossEntropyLoss: alpha must be in [0, 1] or None, got {alpha!r}")
        self.alpha = alpha

    def forward(self, input, target):
        return F.balanced_cross_entropy(input, target, alpha=self.alpha, reduction=self.reduction)


class SigmoidFocalLoss(_Loss):
    """RetinaNet's focal loss alpha_t (1 - p_t)^gamma BCE on logits (torchvision's formula); note the
    module's default reduction is 'mean' while the functional form defaults to 'none' (torchvision)."""

    def __init__(self, alpha=0.25, gamma=2.0, reduction="mean"):
        super().__init__(reduction=reduction)
        if not (0 <= alpha <= 1) and alpha != -1:
            raise ValueError(f"SigmoidFocalLoss: alpha must be in [0, 1] or -1 (no weighting), got {alpha!r}")
        if gamma < 0:
            raise ValueError(f"SigmoidFocalLoss: gamma must be non-negative, got {gamma!r}")
        self.alpha, self.gamma = alpha, gamma

    def forward(self, input, target):
        return F.sigmoid_focal_loss(input, target, self.alpha, self.gamma, self.reduction)


class SoftmaxFocalLoss(_Loss):
    """Multi-class focal loss -alpha[t] (1 - p_t)^gamma log p_t on logits; ``alpha`` None, a number or
    one weight per class (kept as the buffer ``alpha``)."""

    def __init__(self, gamma=2.0, alpha=None, reduction="mean", ignore_index=-100):
        super().__init__(reduction=reduction)
        if gamma < 0:
            raise ValueError(f"SoftmaxFocalLoss: gamma must be non-negative, got {gamma!r}")
        self.gamma, self.ignore_index = gamma, ignore_index
        self.register_buffer("alpha", None if alpha is None else as_tensor(alpha))

    def forward(self, input, target):
        return F.softmax_focal_loss(input, target, self.gamma, self.alpha, self.reduction, self.ignore_index)
