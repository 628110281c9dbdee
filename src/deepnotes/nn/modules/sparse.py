"""Embedding: a learnable lookup table from integer ids to dense vectors (torch's arguments and layout)."""

import numpy as np

from ...tensor import Tensor, get_default_dtype
from .. import functional as F
from ..parameter import Parameter
from ._utils import check_device
from .module import Module


class Embedding(Module):
    """out = weight[input]: integer ids (*) -> (*, embedding_dim), weight (num_embeddings, embedding_dim)
    drawn from N(0, 1).  Equivalent to a one-hot vector times the weight matrix, without the product.

    ``padding_idx``: that row starts at zero and receives no gradient (a fixed "pad" vector; negative
    values count from the end).  ``max_norm``: rows read by a forward pass are renormalised in place to
    at most that ``norm_type``-norm.  ``scale_grad_by_freq``: row gradients are divided by the row's
    frequency in the batch.
    """

    def __init__(
        self,
        num_embeddings,
        embedding_dim,
        padding_idx=None,
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        sparse=False,
        _weight=None,
        _freeze=False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        check_device(device, "Embedding")
        for label, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"Embedding: {label} must be a non-negative int, got {v!r}")
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
                raise TypeError(f"Embedding: padding_idx must be an int or None, got {padding_idx!r}")
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx={padding_idx} must be within num_embeddings="
                    f"{num_embeddings} (expected {-num_embeddings} <= padding_idx < {num_embeddings})"
                )
            padding_idx = int(padding_idx) % num_embeddings
        if sparse:
            raise ValueError("Embedding: sparse=True (sparse gradients) is not supported; expected sparse=False")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(
                np.empty((num_embeddings, embedding_dim), dtype=dtype or get_default_dtype()), requires_grad=not _freeze
            )
            self.reset_parameters()
        else:
            w = _weight.data if isinstance(_weight, Tensor) else np.asarray(_weight)
            if w.shape != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: _weight has shape {w.shape}, expected ({num_embeddings}, "
                    f"{embedding_dim}) = (num_embeddings, embedding_dim)"
                )
            self.weight = Parameter(w, requires_grad=not _freeze)

    def reset_parameters(self):
        from .. import init

        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input):
        return F.embedding(
            input, self.weight, self.padding_idx, self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse
        )

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s

    @classmethod
    def from_pretrained(
        cls,
        embeddings,
        freeze=True,
        padding_idx=None,
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        sparse=False,
    ):
        """An Embedding holding ``embeddings`` (num_embeddings, embedding_dim) as its weight (a copy);
        frozen (no gradient) unless ``freeze=False``."""
        w = embeddings.data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if w.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: embeddings must be 2-D (num_embeddings, "
                f"embedding_dim), got shape {w.shape}"
            )
        return cls(
            w.shape[0],
            w.shape[1],
            padding_idx=padding_idx,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            sparse=sparse,
            _weight=w.copy(),
            _freeze=freeze,
        )
