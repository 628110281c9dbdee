"""Training utilities on parameters: gradient clipping and weight penalties."""

from .clip_grad import clip_grad_norm_, clip_grad_value_
from .penalty import l1_penalty, l2_penalty

__all__ = ["clip_grad_norm_", "clip_grad_value_", "l1_penalty", "l2_penalty"]
