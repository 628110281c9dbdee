"""Anchor generation and box encoding (seed 001: Faster R-CNN anchors, regression deltas).

:class:`AnchorGenerator` reproduces ``torchvision.models.detection.anchor_utils.AnchorGenerator`` with a
plain NumPy API, and :class:`BoxCoder` reproduces ``torchvision.models.detection._utils.BoxCoder``
(``encode_single``/``decode_single``), on arrays or on Tensors (decode is differentiable).
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from .boxes import _raw, _stack

__all__ = ["AnchorGenerator", "BoxCoder"]


def _int_pair(value, what):
    try:
        a, b = value
        return int(a), int(b)
    except (TypeError, ValueError):
        raise TypeError(f"AnchorGenerator: expected {what} as a pair of ints, got {value!r}") from None


class AnchorGenerator:
    """Anchors for a set of feature maps (Faster R-CNN / RPN).

    ``sizes[i]`` and ``aspect_ratios[i]`` describe level ``i``: every location of that feature map gets
    ``len(sizes[i]) * len(aspect_ratios[i])`` anchors.  With an aspect ratio ``r = h / w`` and size
    ``s`` the zero-centred cell anchor is ``round([-w, -h, w, h] / 2)`` where ``h = s sqrt(r)``,
    ``w = s / sqrt(r)`` (computed in float32 and rounded half to even, as torchvision), ordered
    ratio-major, size-minor.  The defaults give the notes' 9 anchors per location: sizes
    {128, 256, 512} x ratios {1:2, 1:1, 2:1}.

    Anchors of a level are the cell anchors shifted by ``(x * stride_w, y * stride_h)`` for every
    location, location-major (row by row), anchor-minor; ``stride = image_size // feature_size``.
    """

    def __init__(self, sizes=((128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),)):
        if len(sizes) == 0:
            raise ValueError("AnchorGenerator: sizes must not be empty")
        if not isinstance(sizes[0], (list, tuple)):
            sizes = tuple((s,) for s in sizes)
        if not isinstance(aspect_ratios[0], (list, tuple)):
            aspect_ratios = (aspect_ratios,) * len(sizes)
        if len(sizes) != len(aspect_ratios):
            raise ValueError(
                f"AnchorGenerator: got {len(sizes)} levels of sizes but "
                f"{len(aspect_ratios)} levels of aspect_ratios; they must match"
            )
        for lvl, (s, a) in enumerate(zip(sizes, aspect_ratios)):
            if len(s) == 0 or len(a) == 0 or min(s) <= 0 or min(a) <= 0:
                raise ValueError(
                    f"AnchorGenerator: level {lvl} needs positive sizes and aspect "
                    f"ratios, got sizes={s!r}, aspect_ratios={a!r}"
                )
        self.sizes = tuple(tuple(s) for s in sizes)
        self.aspect_ratios = tuple(tuple(a) for a in aspect_ratios)
        self.cell_anchors = [self.generate_anchors(s, a) for s, a in zip(self.sizes, self.aspect_ratios)]

    @staticmethod
    def generate_anchors(scales, aspect_ratios, dtype=np.float32):
        """Zero-centred ``(len(ratios) * len(scales), 4)`` anchors, rounded; returned as float64."""
        scales = np.asarray(scales, dtype=dtype)
        ratios = np.asarray(aspect_ratios, dtype=dtype)
        h_ratios = np.sqrt(ratios)
        w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
        hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
        base = np.stack([-ws, -hs, ws, hs], axis=1) / 2
        return np.round(base).astype(np.float64)

    def num_anchors_per_location(self):
        return [len(s) * len(a) for s, a in zip(self.sizes, self.aspect_ratios)]

    def grid_anchors(self, grid_sizes, strides):
        """Per level ``(gh * gw * A, 4)`` xyxy anchors for ``grid_sizes[i] = (gh, gw)`` and
        ``strides[i] = (stride_h, stride_w)``."""
        if not (len(grid_sizes) == len(strides) == len(self.cell_anchors)):
            raise ValueError(
                f"AnchorGenerator.grid_anchors: got {len(grid_sizes)} grid sizes and "
                f"{len(strides)} strides for {len(self.cell_anchors)} anchor levels; the "
                "numbers must match"
            )
        out = []
        for size, stride, base in zip(grid_sizes, strides, self.cell_anchors):
            gh, gw = _int_pair(size, "a grid size (height, width)")
            sh, sw = _int_pair(stride, "a stride (height, width)")
            sx = np.arange(gw, dtype=np.int64) * sw
            sy = np.arange(gh, dtype=np.int64) * sh
            yy, xx = np.meshgrid(sy, sx, indexing="ij")
            xx, yy = xx.reshape(-1), yy.reshape(-1)
            shifts = np.stack([xx, yy, xx, yy], axis=1).astype(np.float64)
            out.append((shifts[:, None, :] + base[None, :, :]).reshape(-1, 4))
        return out

    def _grid_sizes(self, feature_shapes):
        sizes = []
        for f in feature_shapes:
            if isinstance(f, Tensor) or isinstance(f, np.ndarray):
                shape = f.shape
                if len(shape) < 2:
                    raise ValueError(f"AnchorGenerator: a feature map needs >= 2 dimensions, got {shape}")
                sizes.append((int(shape[-2]), int(shape[-1])))
            else:
                sizes.append(_int_pair(f, "a feature shape (height, width)"))
        return sizes

    def __call__(self, feature_shapes, image_size):
        """All anchors ``(sum_i gh_i gw_i A_i, 4)`` for the feature maps of one image.

        ``feature_shapes``: per level ``(height, width)`` or the feature arrays themselves (their last
        two dimensions are used); ``image_size``: ``(height, width)`` of the (padded) input image.
        The same anchors serve every image of a batch (torchvision returns one copy per image).
        """
        grids = self._grid_sizes(feature_shapes)
        ih, iw = _int_pair(image_size, "image_size (height, width)")
        for g in grids:
            if g[0] <= 0 or g[1] <= 0:
                raise ValueError(f"AnchorGenerator: feature shapes must be positive, got {g}")
        strides = [(ih // g[0], iw // g[1]) for g in grids]
        per_level = self.grid_anchors(grids, strides)
        return np.concatenate(per_level, axis=0)

    forward = __call__

    def __repr__(self):
        return f"AnchorGenerator(sizes={self.sizes}, aspect_ratios={self.aspect_ratios})"


# --------------------------------------------------------------------------- box coder
def _exp(x):
    return x.exp() if isinstance(x, Tensor) else np.exp(x)


def _log(x):
    return x.log() if isinstance(x, Tensor) else np.log(x)


def _clamp_max(x, hi):
    return x.clamp(max=hi) if isinstance(x, Tensor) else np.minimum(x, np.asarray(hi, dtype=x.dtype))


def _as_2d(x, fn, name, width=4):
    if not isinstance(x, Tensor):
        x = np.asarray(x)
    if _raw(x).dtype.kind not in "iuf":
        raise TypeError(f"{fn}: {name} must be numeric, got dtype {_raw(x).dtype}")
    if _raw(x).dtype.kind != "f":
        x = x.to(np.float64) if isinstance(x, Tensor) else x.astype(np.float64)
    shape = _raw(x).shape
    if len(shape) != 2 or (width is not None and shape[1] != width) or (width is None and shape[1] % 4):
        want = "(N, 4)" if width is not None else "(N, 4 * k)"
        raise ValueError(f"{fn}: expected {name} of shape {want}, got shape {shape}")
    return x


# torchvision's clip on the decoded log-scale (dw, dh): exp() of it is at most 1000/16, a box 62.5 times
# its anchor
_DEFAULT_XFORM_CLIP = math.log(1000.0 / 16)


class BoxCoder:
    """Faster R-CNN box parameterisation (``torchvision.models.detection._utils.BoxCoder``).

    Encoding a ground-truth box ``g`` against a proposal/anchor ``p`` (centres ``x, y``, sizes ``w, h``):
    ``dx = wx (g_x - p_x) / p_w``, ``dy = wy (g_y - p_y) / p_h``, ``dw = ww log(g_w / p_w)``,
    ``dh = wh log(g_h / p_h)``.  Decoding inverts it, clamping ``dw, dh`` at ``bbox_xform_clip``
    before the exponential.
    """

    def __init__(self, weights=(1.0, 1.0, 1.0, 1.0), bbox_xform_clip=_DEFAULT_XFORM_CLIP):
        if len(weights) != 4:
            raise ValueError(f"BoxCoder: weights must have 4 entries (wx, wy, ww, wh), got {weights!r}")
        self.weights = tuple(float(w) for w in weights)
        self.bbox_xform_clip = float(bbox_xform_clip)

    # ------------------------------------------------------------------ encode
    def encode_single(self, reference_boxes, proposals):
        """Deltas ``(N, 4)`` turning ``proposals`` ``(N, 4)`` into ``reference_boxes`` ``(N, 4)``."""
        fn = "BoxCoder.encode_single"
        ref = _as_2d(reference_boxes, fn, "reference_boxes")
        prop = _as_2d(proposals, fn, "proposals")
        if _raw(ref).shape[0] != _raw(prop).shape[0]:
            raise ValueError(
                f"{fn}: reference_boxes {_raw(ref).shape} and proposals {_raw(prop).shape} "
                "must have the same number of rows"
            )
        wx, wy, ww, wh = self.weights
        px1, py1, px2, py2 = (prop[:, i : i + 1] for i in range(4))
        gx1, gy1, gx2, gy2 = (ref[:, i : i + 1] for i in range(4))
        with np.errstate(divide="ignore", invalid="ignore"):
            ex_w = px2 - px1
            ex_h = py2 - py1
            ex_x = px1 + 0.5 * ex_w
            ex_y = py1 + 0.5 * ex_h
            gt_w = gx2 - gx1
            gt_h = gy2 - gy1
            gt_x = gx1 + 0.5 * gt_w
            gt_y = gy1 + 0.5 * gt_h
            dx = wx * (gt_x - ex_x) / ex_w
            dy = wy * (gt_y - ex_y) / ex_h
            dw = ww * _log(gt_w / ex_w)
            dh = wh * _log(gt_h / ex_h)
        parts = [dx, dy, dw, dh]
        if any(isinstance(p, Tensor) for p in parts):
            from ..tensor import cat

            return cat(parts, dim=1)
        return np.concatenate(parts, axis=1)

    def encode(self, reference_boxes, proposals):
        """Arrays: :meth:`encode_single`.  Lists of per-image arrays: a list of per-image deltas."""
        if isinstance(reference_boxes, (list, tuple)) or isinstance(proposals, (list, tuple)):
            if not (isinstance(reference_boxes, (list, tuple)) and isinstance(proposals, (list, tuple))):
                raise TypeError(
                    "BoxCoder.encode: pass reference_boxes and proposals both as arrays or "
                    "both as lists of per-image arrays"
                )
            counts = [len(_raw(b)) for b in reference_boxes]
            ref = (
                np.concatenate([np.asarray(_raw(b), dtype=np.float64).reshape(-1, 4) for b in reference_boxes])
                if counts
                else np.zeros((0, 4))
            )
            prop = (
                np.concatenate([np.asarray(_raw(b), dtype=np.float64).reshape(-1, 4) for b in proposals])
                if proposals
                else np.zeros((0, 4))
            )
            deltas = self.encode_single(ref, prop)
            return list(np.split(deltas, np.cumsum(counts)[:-1]))
        return self.encode_single(reference_boxes, proposals)

    # ------------------------------------------------------------------ decode
    def decode_single(self, rel_codes, boxes):
        """Boxes ``(N, 4k)`` from deltas ``rel_codes`` ``(N, 4k)`` applied to reference ``boxes``
        ``(N, 4)`` (``k`` classes' worth of deltas per row).  Differentiable in Tensor inputs."""
        fn = "BoxCoder.decode_single"
        rel = _as_2d(rel_codes, fn, "rel_codes", width=None)
        ref = _as_2d(boxes, fn, "boxes")
        if _raw(rel).shape[0] != _raw(ref).shape[0]:
            raise ValueError(
                f"{fn}: rel_codes {_raw(rel).shape} and boxes {_raw(ref).shape} must have the same number of rows"
            )
        dt = _raw(rel).dtype
        if isinstance(ref, Tensor):
            ref = ref.to(dt)
        else:
            ref = ref.astype(dt, copy=False)
        wx, wy, ww, wh = self.weights
        widths = ref[:, 2] - ref[:, 0]
        heights = ref[:, 3] - ref[:, 1]
        ctr_x = ref[:, 0] + 0.5 * widths
        ctr_y = ref[:, 1] + 0.5 * heights
        dx = rel[:, 0::4] / wx
        dy = rel[:, 1::4] / wy
        dw = _clamp_max(rel[:, 2::4] / ww, self.bbox_xform_clip)
        dh = _clamp_max(rel[:, 3::4] / wh, self.bbox_xform_clip)
        pcx = dx * widths[:, None] + ctr_x[:, None]
        pcy = dy * heights[:, None] + ctr_y[:, None]
        pw = _exp(dw) * widths[:, None]
        ph = _exp(dh) * heights[:, None]
        half_w = 0.5 * pw
        half_h = 0.5 * ph
        out = _stack([pcx - half_w, pcy - half_h, pcx + half_w, pcy + half_h], 2)
        n, k = _raw(rel).shape[0], _raw(rel).shape[1]
        return out.reshape(n, k)  # explicit sizes: (0, -1) is ambiguous for an empty batch

    def decode(self, rel_codes, boxes):
        """Arrays: :meth:`decode_single`.  A list/tuple of per-image reference boxes: torchvision's
        ``decode`` -- ``(sum K_i, k, 4)`` predictions for ``rel_codes`` of shape ``(sum K_i, 4k)``."""
        if isinstance(boxes, (list, tuple)):
            counts = [len(_raw(b)) for b in boxes]
            total = sum(counts)
            ref = np.concatenate([np.asarray(_raw(b)).reshape(-1, 4) for b in boxes]) if boxes else np.zeros((0, 4))
            rel = rel_codes
            if total > 0:
                rel = rel.reshape(total, -1)
            pred = self.decode_single(rel, ref)
            if total > 0:
                pred = pred.reshape(total, -1, 4)
            return pred
        return self.decode_single(rel_codes, boxes)
