"""Shape helpers of torch.nn.functional: ``flatten`` and ``pad``."""

from ...tensor import pad as _pad
from ._utils import _tensor


def flatten(input, start_dim=1, end_dim=-1):
    """Merge dimensions start_dim..end_dim (``nn.Flatten``'s defaults keep the batch axis)."""
    return _tensor(input, "flatten").flatten(start_dim, end_dim)


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: ``pad`` lists (before, after) pairs starting from the LAST dimension.

    Modes: 'constant' (fill ``value``, default 0; negative amounts crop), 'reflect', 'replicate',
    'circular'.
    """
    return _pad(input, pad, mode=mode, value=0.0 if value is None else value)
