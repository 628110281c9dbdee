"""Pieces shared by the one-stage detectors: the IoU matcher of RetinaNet and FCOS's linear box coder.

Both follow ``torchvision.models.detection._utils`` (``Matcher``, ``BoxLinearCoder``): the matcher works
on NumPy arrays (matching is not differentiable), the coder on arrays or on Tensors (decoding is
differentiable, so the GIoU loss can flow through it).
"""

from __future__ import annotations

import numpy as np

from ...tensor import Tensor, stack

__all__ = ["Matcher", "BoxLinearCoder"]


class Matcher:
    """Assign every prediction (anchor) at most one ground-truth box from an ``(M, N)`` quality matrix.

    ``matches[n]`` is the index of the ground truth with the highest quality for prediction ``n`` (the
    first one on ties), or ``BELOW_LOW_THRESHOLD = -1`` when that quality is below ``low_threshold``, or
    ``BETWEEN_THRESHOLDS = -2`` when it lies in ``[low_threshold, high_threshold)``.  With
    ``allow_low_quality_matches`` every ground truth also keeps the predictions of its highest quality
    (all of them on ties), matched to their own best ground truth, even below the thresholds.
    """

    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2

    def __init__(self, high_threshold, low_threshold, allow_low_quality_matches=False):
        if not low_threshold <= high_threshold:
            raise ValueError(f"Matcher: low_threshold ({low_threshold}) must be <= high_threshold ({high_threshold})")
        self.high_threshold = float(high_threshold)
        self.low_threshold = float(low_threshold)
        self.allow_low_quality_matches = bool(allow_low_quality_matches)

    def __call__(self, match_quality_matrix):
        q = np.asarray(match_quality_matrix.data if isinstance(match_quality_matrix, Tensor) else match_quality_matrix)
        if q.ndim != 2:
            raise ValueError(f"Matcher: expected an (M, N) quality matrix, got shape {q.shape}")
        if q.size == 0:
            what = "ground-truth boxes" if q.shape[0] == 0 else "predictions"
            raise ValueError(f"Matcher: no {what} in the quality matrix of shape {q.shape}")
        matches = q.argmax(axis=0).astype(np.int64)
        best = q[matches, np.arange(q.shape[1])]
        all_matches = matches.copy()
        matches[best < self.low_threshold] = self.BELOW_LOW_THRESHOLD
        matches[(best >= self.low_threshold) & (best < self.high_threshold)] = self.BETWEEN_THRESHOLDS
        if self.allow_low_quality_matches:
            highest = q.max(axis=1)
            preds = np.nonzero(q == highest[:, None])[1]
            matches[preds] = all_matches[preds]
        return matches


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class BoxLinearCoder:
    """FCOS's box coding: the distances from a reference box's centre to the four sides of the target,
    ``(l, t, r, b)``, divided by the reference box's ``(w, h, w, h)`` when ``normalize_by_size``."""

    def __init__(self, normalize_by_size=True):
        self.normalize_by_size = bool(normalize_by_size)

    def _sizes(self, ref):
        w = ref[..., 2] - ref[..., 0]
        h = ref[..., 3] - ref[..., 1]
        return np.stack([w, h, w, h], axis=-1)

    def encode(self, reference_boxes, proposals):
        """Codes ``(..., 4)`` of ``proposals`` relative to ``reference_boxes`` (arrays)."""
        ref = _data(reference_boxes)
        prop = _data(proposals)
        cx = 0.5 * (ref[..., 0] + ref[..., 2])
        cy = 0.5 * (ref[..., 1] + ref[..., 3])
        out = np.stack([cx - prop[..., 0], cy - prop[..., 1], prop[..., 2] - cx, prop[..., 3] - cy], axis=-1)
        if self.normalize_by_size:
            out = out / self._sizes(ref)
        return out

    def decode(self, rel_codes, boxes):
        """Boxes ``(..., 4)`` from codes ``rel_codes`` (an array or a Tensor, differentiable) and reference
        ``boxes`` (an array)."""
        ref = _data(boxes)
        if isinstance(rel_codes, Tensor):
            ref = ref.astype(rel_codes.data.dtype, copy=False)
        cx = 0.5 * (ref[..., 0] + ref[..., 2])
        cy = 0.5 * (ref[..., 1] + ref[..., 3])
        if self.normalize_by_size:
            rel_codes = rel_codes * self._sizes(ref)
        parts = [cx - rel_codes[..., 0], cy - rel_codes[..., 1], cx + rel_codes[..., 2], cy + rel_codes[..., 3]]
        if isinstance(rel_codes, Tensor):
            return stack(parts, dim=-1)
        return np.stack(parts, axis=-1)
