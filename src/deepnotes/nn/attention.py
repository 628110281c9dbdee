"""Compatibility name: the attention functions live in :mod:`deepnotes.nn.functional.attention`.

``deepnotes.nn.attention.scaled_dot_product_attention`` and the other two names keep working (the notes
catalogue and older code use them); new code calls them through ``deepnotes.nn.functional``.
"""

from .functional.attention import additive_attention, multi_head_attention_forward, scaled_dot_product_attention

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward", "additive_attention"]
