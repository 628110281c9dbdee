"""YOLOv5 positive-sample assignment (seed 001: width/height ratio threshold 4, two neighbouring cells).

For every prediction level, a ground-truth box is matched to each anchor whose width and height are both
within a factor ``anchor_t`` of the box (``max(r, 1/r) < anchor_t`` for ``r = box_wh / anchor_wh``).  Each
match is assigned to the cell containing the box centre and to up to two neighbouring cells: the left
(upper) neighbour when the centre lies in the left (upper) half of its cell, the right (lower) one when
it lies in the right (lower) half -- i.e. the fractional offset ``< g`` -- unless the centre is within
one cell of the border.  Regression targets are the centre offset from the assigned cell's corner
(range ``(-g, 1 + g)``) and the box size, all in grid units.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor

__all__ = ["assign_yolov5"]

# centre cell, then shifts whose subtraction moves to the left, upper, right and lower neighbour
_OFFSETS = np.array([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.float64)


def _level_shapes(feature_shapes, image_size, n_levels):
    fn = "assign_yolov5"
    if len(feature_shapes) != n_levels:
        raise ValueError(
            f"{fn}: got {len(feature_shapes)} feature shapes/strides for {n_levels} anchor "
            "levels; the numbers must match"
        )
    shapes = []
    for f in feature_shapes:
        if isinstance(f, (int, np.integer)):
            if image_size is None:
                raise ValueError(
                    f"{fn}: strides were given ({f!r}); pass image_size=(height, width) "
                    "too, or give feature shapes (ny, nx)"
                )
            if f <= 0:
                raise ValueError(f"{fn}: strides must be positive, got {f!r}")
            ih, iw = image_size
            shapes.append((int(ih) // int(f), int(iw) // int(f)))
        else:
            try:
                ny, nx = f
            except (TypeError, ValueError):
                raise TypeError(f"{fn}: each feature shape must be (ny, nx) or an int stride, got {f!r}") from None
            shapes.append((int(ny), int(nx)))
        if shapes[-1][0] <= 0 or shapes[-1][1] <= 0:
            raise ValueError(f"{fn}: feature shapes must be positive, got {shapes[-1]}")
    return shapes


def assign_yolov5(targets, anchors, feature_shapes, anchor_t=4.0, g=0.5, image_size=None):
    """YOLOv5's ``build_targets``.

    Parameters
    ----------
    targets : ``(n, 6)`` rows ``[image, class, x, y, w, h]`` with ``x, y, w, h`` normalised to [0, 1].
    anchors : per level an ``(na, 2)`` array of anchor ``(w, h)`` in grid units (pixels / stride).
    feature_shapes : per level ``(ny, nx)``; or int strides together with ``image_size=(H, W)``.
    anchor_t : the ratio threshold (4.0 in YOLOv5's hyper-parameters).
    g : the neighbour bias (0.5: the two nearer neighbouring cells).

    Returns
    -------
    ``(tcls, tbox, indices, anch)``, lists over levels (the order of ``build_targets``): class ids
    ``(m,)``; boxes ``(m, 4)`` = centre offset from the assigned cell and ``(w, h)``, grid units;
    ``(image, anchor, grid_j, grid_i)`` int64 index arrays (``j`` row / y, ``i`` column / x, clamped to
    the grid); and the matched anchors ``(m, 2)``.  Matches are ordered offset-major (centre cell, left,
    up, right, down), then anchor, then target.
    """
    fn = "assign_yolov5"
    t0 = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if t0.dtype.kind not in "iuf":
        raise TypeError(f"{fn}: targets must be numeric, got dtype {t0.dtype}")
    if t0.ndim != 2 or t0.shape[1] != 6:
        raise ValueError(f"{fn}: expected targets of shape (n, 6) [image, class, x, y, w, h], got shape {t0.shape}")
    t0 = t0.astype(np.float64)
    if not np.isfinite(t0).all():
        raise ValueError(f"{fn}: targets must be finite")
    if not anchor_t > 0:
        raise ValueError(f"{fn}: anchor_t must be positive, got {anchor_t!r}")
    if isinstance(anchors, np.ndarray) and anchors.ndim == 2:
        anchors = [anchors]
    levels = [np.asarray(a.data if isinstance(a, Tensor) else a, dtype=np.float64) for a in anchors]
    for i, a in enumerate(levels):
        if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] == 0:
            raise ValueError(f"{fn}: anchors[{i}] must have shape (na, 2), got {a.shape}")
        if (a <= 0).any():
            raise ValueError(f"{fn}: anchors[{i}] must be positive, got {a.tolist()}")
    shapes = _level_shapes(feature_shapes, image_size, len(levels))

    nt = t0.shape[0]
    off = _OFFSETS * g
    tcls, tbox, indices, anch = [], [], [], []
    for a_wh, (ny, nx) in zip(levels, shapes):
        na = a_wh.shape[0]
        gain = np.array([1, 1, nx, ny, nx, ny], dtype=np.float64)
        ai = np.broadcast_to(np.arange(na, dtype=np.float64)[:, None, None], (na, nt, 1))
        t = np.concatenate([np.broadcast_to(t0 * gain, (na, nt, 6)), ai], axis=2)  # (na, nt, 7)
        if nt:
            with np.errstate(divide="ignore"):
                r = t[..., 4:6] / a_wh[:, None, :]
                match = np.maximum(r, 1 / r).max(axis=2) < anchor_t
            t = t[match]
            gxy = t[:, 2:4]
            gxi = np.array([nx, ny], dtype=np.float64) - gxy
            near_lo = (np.mod(gxy, 1) < g) & (gxy > 1)
            near_hi = (np.mod(gxi, 1) < g) & (gxi > 1)
            sel = np.stack(
                [np.ones(len(t), dtype=bool), near_lo[:, 0], near_lo[:, 1], near_hi[:, 0], near_hi[:, 1]]
            )  # (5, m)
            offsets = np.broadcast_to(off[:, None, :], (5, len(t), 2))[sel]
            t = np.broadcast_to(t, (5,) + t.shape)[sel]
        else:
            t = t.reshape(-1, 7)[:0]
            offsets = np.zeros((0, 2))
        b = t[:, 0].astype(np.int64)
        c = t[:, 1].astype(np.int64)
        gxy, gwh = t[:, 2:4], t[:, 4:6]
        a = t[:, 6].astype(np.int64)
        gij = (gxy - offsets).astype(np.int64)
        gi, gj = gij[:, 0], gij[:, 1]
        indices.append((b, a, np.clip(gj, 0, ny - 1), np.clip(gi, 0, nx - 1)))
        tbox.append(np.concatenate([gxy - gij, gwh], axis=1))
        anch.append(a_wh[a])
        tcls.append(c)
    return tcls, tbox, indices, anch
