"""Embedding lookup (``embedding``) and one-hot encoding (``one_hot``)."""

import numpy as np

from ...ops.embedding import _EmbeddingFn
from ...tensor import Tensor
from ._utils import _array, _check_float, _int


# ------------------------------------------------------------------------------------- embedding
def _embedding_renorm(weight, idx, max_norm, norm_type):
    """Rescale (in place, outside the graph) the rows of ``weight`` read by ``idx`` whose p-norm
    exceeds max_norm to norm max_norm / (norm + 1e-7) * norm, as torch.embedding_renorm_."""
    rows = np.unique(idx)
    w = weight.data[rows]
    if norm_type == np.inf:
        norms = np.abs(w).max(axis=1) if w.shape[1] else np.zeros(len(rows))
    else:
        norms = np.sum(np.abs(w) ** norm_type, axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    if big.any():
        scale = max_norm / (norms[big] + 1e-7)
        weight.data[rows[big]] = (w[big] * scale[:, None]).astype(weight.data.dtype)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """Look up rows of ``weight`` (num_embeddings, embedding_dim): integer input (*) ->
    (*, embedding_dim).  ``padding_idx`` rows receive no gradient; ``max_norm`` first renormalises (in
    place) the referenced rows whose ``norm_type``-norm exceeds it; ``scale_grad_by_freq`` divides each
    row's gradient by how often it occurs in the batch."""
    idx = _array(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: expected integer indices, got dtype {idx.dtype}")
    w = _check_float(weight, "embedding")
    if w.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {w.shape}")
    num = w.shape[0]
    if sparse:
        raise ValueError("embedding: sparse=True (sparse gradients) is not supported; expected sparse=False")
    if padding_idx is not None:
        padding_idx = _int(padding_idx, "embedding padding_idx")
        if not -num <= padding_idx < num:
            raise ValueError(
                f"embedding: padding_idx={padding_idx} must be within num_embeddings={num} "
                f"(expected {-num} <= padding_idx < {num})"
            )
        padding_idx %= num
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = idx[(idx < 0) | (idx >= num)].reshape(-1)[0]
        raise IndexError(
            f"embedding: index {int(bad)} is out of range for {num} embeddings (expected 0 <= index < {num})"
        )
    idx = idx.astype(np.int64, copy=False)
    if max_norm is not None:
        _embedding_renorm(w, idx, float(max_norm), float(norm_type))
    return _EmbeddingFn.apply(w, padding_idx=padding_idx, indices=idx, scale_grad_by_freq=bool(scale_grad_by_freq))


def one_hot(tensor, num_classes=-1):
    """(*) integer classes -> (*, num_classes) int64 one-hot (num_classes=-1: max + 1)."""
    t = _array(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got dtype {t.dtype}")
    if num_classes < 0 and not t.size:
        raise ValueError(f"one_hot: cannot infer num_classes from an empty tensor of shape {t.shape}; pass num_classes")
    n = int(t.max()) + 1 if num_classes < 0 else num_classes
    if t.size and (t.min() < 0 or t.max() >= n):
        raise IndexError(f"one_hot: class values must be in [0, {n}), got range [{t.min()}, {t.max()}]")
    return Tensor(np.eye(n, dtype=np.int64)[t])
