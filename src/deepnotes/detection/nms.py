"""Non-maximum suppression and peak extraction (seed 001).

* :func:`nms` / :func:`batched_nms` -- greedy NMS with ``torchvision.ops`` semantics: boxes are visited
  in decreasing score order (ties: lower index first) and a box is discarded when its IoU with an
  already kept box is **greater** than ``iou_threshold``; kept indices come back sorted by decreasing
  score.  ``batched_nms`` never suppresses across different ``idxs`` (classes).
* :func:`diou_nms` -- the same greedy loop with DIoU (IoU minus normalised centre distance).
* :func:`soft_nms` -- linear or Gaussian score decay instead of removal (OpenCV's ``softNMSBoxes``).
* :func:`weighted_box_voting` / :func:`merge_nms` -- YOLOv5's merge-NMS: every kept box is replaced by
  the score-weighted mean of all boxes whose IoU with it exceeds the threshold.
* :func:`centernet_peaks` -- anchor-free decoding: 3x3 max-pool peak test and global top-k.

Boxes are ``(N, 4)`` xyxy arrays (Tensors are read through ``.data``; nothing here is differentiable).

Implementation of the greedy loop: one step per *kept* box.  The candidates it can suppress must
overlap it (IoU > t >= 0 needs a positive intersection), so alive boxes are kept sorted by ``x1``
(per class) and each step only looks at the window ``x1_j in [x1_i - max_w, x2_i)``, found with
``searchsorted``; the IoU of that window is one vectorised NumPy expression.  The sorted structure is
rebuilt from the survivors whenever half of it has died, so dense clusters shrink the windows quickly.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..tensor import Tensor
from .boxes import _prepare, _raw

__all__ = ["nms", "batched_nms", "diou_nms", "soft_nms", "weighted_box_voting", "merge_nms", "centernet_peaks"]


# --------------------------------------------------------------------------- input handling
def _nms_inputs(boxes, scores, fn, idxs=None):
    boxes = _raw(_prepare(boxes, fn, batched=True))
    if boxes.ndim != 2:
        raise ValueError(f"{fn}: expected boxes of shape (N, 4), got shape {boxes.shape}")
    n = boxes.shape[0]
    boxes = boxes.astype(np.float64, copy=False)
    if not np.isfinite(boxes).all():
        raise ValueError(f"{fn}: boxes must be finite")
    s = np.asarray(_raw(scores))
    if s.dtype.kind not in "iuf":
        raise TypeError(f"{fn}: expected numeric scores, got dtype {s.dtype}")
    if s.shape != (n,):
        raise ValueError(f"{fn}: expected scores of shape ({n},) to match boxes {boxes.shape}, got shape {s.shape}")
    if np.isnan(s).any():
        raise ValueError(f"{fn}: scores contain NaN at index {int(np.flatnonzero(np.isnan(s))[0])}")
    lab = None
    if idxs is not None:
        lab = np.asarray(_raw(idxs))
        if lab.shape != (n,):
            raise ValueError(f"{fn}: expected idxs of shape ({n},) to match boxes {boxes.shape}, got shape {lab.shape}")
        if lab.dtype.kind not in "iub":
            raise TypeError(f"{fn}: idxs must hold integer category ids, got dtype {lab.dtype}")
        lab = lab.astype(np.int64)
    return boxes, s, lab


def _check_threshold(value, fn, name="iou_threshold"):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {name} must be a number, got {value!r}") from None
    if np.isnan(value):
        raise ValueError(f"{fn}: {name} is NaN")
    return value


def _out(keep, like):
    keep = np.asarray(keep, dtype=np.int64)
    return Tensor(keep) if isinstance(like, Tensor) else keep


def _order(scores):
    """Positions sorted by decreasing score; equal scores keep their index order (stable)."""
    return np.argsort(-scores.astype(np.float64), kind="stable")


# --------------------------------------------------------------------------- the greedy core
def _pair_metric(metric, x1, y1, x2, y2, area, r, sl, eps):
    """IoU (or DIoU) of box ``r`` against the boxes in the slices/arrays ``sl``."""
    X1, Y1, X2, Y2, AR = sl
    w = np.minimum(X2, x2[r]) - np.maximum(X1, x1[r])
    h = np.minimum(Y2, y2[r]) - np.maximum(Y1, y1[r])
    np.maximum(w, 0, out=w)
    np.maximum(h, 0, out=h)
    inter = w * h
    iou = inter / (area[r] + AR - inter)
    if metric == "iou":
        return iou
    cw = np.maximum(X2, x2[r]) - np.minimum(X1, x1[r])
    ch = np.maximum(Y2, y2[r]) - np.minimum(Y1, y1[r])
    diag2 = cw**2 + ch**2 + eps
    cdx = (x1[r] + x2[r]) / 2 - (X1 + X2) / 2
    cdy = (y1[r] + y2[r]) / 2 - (Y1 + Y2) / 2
    return iou - (cdx**2 + cdy**2) / diag2


def _greedy(b, thr, labels=None, metric="iou", eps=1e-7):
    """Greedy suppression of ``b`` (already in decreasing score order).

    Returns the kept positions, ascending.  A box dies when ``metric(kept, box) > thr`` for a kept box
    of the same label (NaN never suppresses).
    """
    n = b.shape[0]
    x1, y1, x2, y2 = (np.ascontiguousarray(b[:, i]) for i in range(4))
    area = (x2 - x1) * (y2 - y1)
    lab = np.zeros(n, dtype=np.int64) if labels is None else labels
    alive = np.ones(n, dtype=bool)
    n_alive = n
    keep = []
    windowed = thr >= 0  # metric > thr >= 0 needs a positive intersection (DIoU <= IoU)

    def build():
        o = np.flatnonzero(alive)
        o = o[np.lexsort((x1[o], lab[o]))]
        cols = tuple(np.ascontiguousarray(a[o]) for a in (x1, y1, x2, y2, area))
        maxw = float((cols[2] - cols[0]).max()) if o.size else 0.0
        return o, lab[o], cols, maxw

    o, L, cols, maxw = build()
    r = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        while True:
            while r < n and not alive[r]:
                r += 1
            if r >= n:
                break
            alive[r] = False
            n_alive -= 1
            keep.append(r)
            if labels is None:
                ls, le = 0, o.size
            else:
                ls = int(np.searchsorted(L, lab[r], "left"))
                le = int(np.searchsorted(L, lab[r], "right"))
            if windowed:
                X1 = cols[0][ls:le]
                low = x1[r] - maxw
                low -= 1e-9 * (abs(low) + maxw + 1.0)
                lo = ls + int(np.searchsorted(X1, low, "left"))
                hi = ls + int(np.searchsorted(X1, x2[r], "left"))
            else:
                lo, hi = ls, le
            if hi <= lo:
                continue
            idx = o[lo:hi]
            sl = tuple(c[lo:hi] for c in cols)
            m = _pair_metric(metric, x1, y1, x2, y2, area, r, sl, eps)
            hit = m > thr
            hit &= alive[idx]
            dead = idx[hit]
            if dead.size:
                alive[dead] = False
                n_alive -= dead.size
            if o.size > 64 and n_alive < o.size // 2:
                o, L, cols, maxw = build()
    return np.asarray(keep, dtype=np.int64)


def _run_greedy(boxes, scores, iou_threshold, fn, idxs=None, metric="iou"):
    b, s, lab = _nms_inputs(boxes, scores, fn, idxs)
    thr = _check_threshold(iou_threshold, fn)
    if b.shape[0] == 0:
        return _out(np.zeros(0, np.int64), boxes)
    order = _order(s)
    kept = _greedy(b[order], thr, None if lab is None else lab[order], metric)
    return _out(order[kept], boxes)


def nms(boxes, scores, iou_threshold):
    """Greedy non-maximum suppression (``torchvision.ops.nms``).

    ``boxes`` ``(N, 4)`` xyxy, ``scores`` ``(N,)``.  Returns int64 indices of the kept boxes in
    decreasing score order; a box is discarded when ``IoU > iou_threshold`` with a kept box.

    Reference (loops, as the notes explain it): deepnotes.reference.nms.nms.
    """
    return _run_greedy(boxes, scores, iou_threshold, "nms")


def batched_nms(boxes, scores, idxs, iou_threshold):
    """NMS applied independently per category ``idxs`` ``(N,)`` (``torchvision.ops.batched_nms``).

    Boxes of different categories never suppress each other; the result is sorted by decreasing score.

    Reference (loops, as the notes explain it): deepnotes.reference.nms.nms (with ``idxs``).
    """
    return _run_greedy(boxes, scores, iou_threshold, "batched_nms", idxs=idxs)


def diou_nms(boxes, scores, iou_threshold, idxs=None):
    """Greedy NMS with DIoU as the overlap measure (Zheng et al., 2020).

    A box is discarded when ``IoU - rho^2 / (c^2 + 1e-7) > iou_threshold`` against a kept box (same
    ``rho``/``c`` as :func:`deepnotes.detection.distance_box_iou`), so a box whose centre is far from
    the kept one survives a larger overlap.  Optional ``idxs`` make it class-aware.
    """
    return _run_greedy(boxes, scores, iou_threshold, "diou_nms", idxs=idxs, metric="diou")


# --------------------------------------------------------------------------- soft-NMS
def soft_nms(boxes, scores, method="linear", sigma=0.5, iou_threshold=0.3, score_threshold=0.001, top_k=0):
    """Soft-NMS (Bodla et al., 2017) with the semantics of OpenCV's ``cv2.dnn.softNMSBoxes``.

    Repeatedly pick the box with the highest *current* score (ties: lower index); stop when that
    score is below ``score_threshold`` (or ``top_k > 0`` boxes were picked).  Every remaining box
    ``j`` is rescored by its IoU ``o`` with the picked box:

    * ``'linear'``:   ``s_j *= 1 - o`` if ``o > iou_threshold``;
    * ``'gaussian'``: ``s_j *= exp(-o^2 / sigma)`` (``iou_threshold`` unused).

    Boxes whose score fell below ``score_threshold`` are never rescored or picked.  Returns
    ``(keep, kept_scores)``: int64 indices in picking order and their scores at the time of picking.
    IoU of two empty boxes (0/0) counts as 0 here (OpenCV counts it as 1).
    """
    fn = "soft_nms"
    if method not in ("linear", "gaussian"):
        raise ValueError(f"{fn}: unknown method={method!r}; expected 'linear' or 'gaussian'")
    b, s, _ = _nms_inputs(boxes, scores, fn)
    thr = _check_threshold(iou_threshold, fn)
    sthr = _check_threshold(score_threshold, fn, "score_threshold")
    if method == "gaussian" and not sigma > 0:
        raise ValueError(f"{fn}: sigma must be positive, got {sigma!r}")
    n = b.shape[0]
    limit = n if not top_k or top_k <= 0 else min(int(top_k), n)
    cur = s.astype(np.float64).copy()
    x1, y1, x2, y2 = (np.ascontiguousarray(b[:, i]) for i in range(4))
    area = (x2 - x1) * (y2 - y1)
    active = np.flatnonzero(cur >= sthr)
    keep, kept = [], []
    with np.errstate(invalid="ignore", divide="ignore"):
        while active.size and len(keep) < limit:
            j = int(np.argmax(cur[active]))
            i = int(active[j])
            keep.append(i)
            kept.append(cur[i])
            active = np.delete(active, j)
            if not active.size:
                break
            sl = (x1[active], y1[active], x2[active], y2[active], area[active])
            o = _pair_metric("iou", x1, y1, x2, y2, area, i, sl, 0.0)
            o = np.where(np.isnan(o), 0.0, o)
            if method == "linear":
                w = np.where(o > thr, 1 - o, 1.0)
            else:
                w = np.exp(-(o * o) / sigma)
            cur[active] *= w
            active = active[cur[active] >= sthr]
    keep = np.asarray(keep, dtype=np.int64)
    kept = np.asarray(kept, dtype=np.float64)
    if isinstance(boxes, Tensor):
        return Tensor(keep), Tensor(kept)
    return keep, kept


# --------------------------------------------------------------------------- merge-NMS / box voting
def weighted_box_voting(boxes, scores, keep, iou_threshold=0.5, idxs=None):
    """Refine kept boxes by score-weighted voting (YOLOv5's merge-NMS step).

    For every kept index ``i``: ``w_ij = s_j [IoU(b_i, b_j) > iou_threshold]`` over all ``N`` boxes
    (same category only when ``idxs`` is given; ``b_i`` itself always votes), and the refined box is
    ``sum_j w_ij b_j / sum_j w_ij``.  Returns ``(len(keep), 4)`` float64 boxes.
    """
    fn = "weighted_box_voting"
    b, s, lab = _nms_inputs(boxes, scores, fn, idxs)
    thr = _check_threshold(iou_threshold, fn)
    k = np.asarray(_raw(keep))
    if k.ndim != 1 or (k.size and k.dtype.kind not in "iu"):
        raise ValueError(f"{fn}: keep must be a 1-D integer index array, got shape {k.shape} dtype {k.dtype}")
    k = k.astype(np.int64)
    if k.size and (k.min() < -b.shape[0] or k.max() >= b.shape[0]):
        raise IndexError(f"{fn}: keep holds indices outside [0, {b.shape[0]})")
    out = np.zeros((k.size, 4), dtype=np.float64)
    if k.size == 0:
        return Tensor(out) if isinstance(boxes, Tensor) else out
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    chunk = max(1, 4_000_000 // max(b.shape[0], 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        for start in range(0, k.size, chunk):
            kk = k[start : start + chunk]
            bk = b[kk]
            lt = np.maximum(bk[:, None, :2], b[None, :, :2])
            rb = np.minimum(bk[:, None, 2:], b[None, :, 2:])
            wh = np.clip(rb - lt, 0, None)
            inter = wh[..., 0] * wh[..., 1]
            iou = inter / (area[kk][:, None] + area[None, :] - inter)
            vote = iou > thr
            vote[np.arange(kk.size), kk] = True
            if lab is not None:
                vote &= lab[kk][:, None] == lab[None, :]
            w = vote * s[None, :].astype(np.float64)
            out[start : start + kk.size] = (w @ b) / w.sum(axis=1, keepdims=True)
    return Tensor(out) if isinstance(boxes, Tensor) else out


def merge_nms(boxes, scores, iou_threshold, idxs=None):
    """Merge-NMS: ``keep = batched_nms(...)`` (or ``nms``), then :func:`weighted_box_voting`.

    Returns ``(keep, merged_boxes)``.
    """
    _nms_inputs(boxes, scores, "merge_nms", idxs)  # so that bad input is reported as merge_nms's
    keep = nms(boxes, scores, iou_threshold) if idxs is None else batched_nms(boxes, scores, idxs, iou_threshold)
    return keep, weighted_box_voting(boxes, scores, keep, iou_threshold, idxs)


# --------------------------------------------------------------------------- CenterNet decoding
def _max_pool_same(x, kernel):
    """Stride-1 ``kernel x kernel`` max pooling over the last two axes, padded with -inf."""
    pad = (kernel - 1) // 2
    width = [(0, 0)] * (x.ndim - 2) + [(pad, pad), (pad, pad)]
    p = np.pad(x, width, mode="constant", constant_values=-np.inf)
    rows = sliding_window_view(p, kernel, axis=-1).max(axis=-1)
    return sliding_window_view(rows, kernel, axis=-2).max(axis=-1)


def centernet_peaks(heatmap, k=100, kernel=3):
    """CenterNet's heatmap decoding: keep local maxima, then the global top ``k``.

    ``heatmap`` ``(C, H, W)`` or ``(B, C, H, W)`` (class scores, typically after a sigmoid).  A cell
    survives when it equals the max of its ``kernel x kernel`` neighbourhood (stride-1 max pooling,
    -inf padding); others are set to 0.  The ``k`` largest values over all classes and positions are
    returned in decreasing order (ties: lower flat index first) as ``(scores, classes, ys, xs)``, each
    of shape ``(k,)`` or ``(B, k)``; classes/ys/xs are int64.
    """
    fn = "centernet_peaks"
    h = np.asarray(_raw(heatmap))
    if h.dtype.kind not in "iuf":
        raise TypeError(f"{fn}: expected a numeric heatmap, got dtype {h.dtype}")
    if h.ndim not in (3, 4):
        raise ValueError(f"{fn}: expected heatmap of shape (C, H, W) or (B, C, H, W), got shape {h.shape}")
    if not isinstance(kernel, (int, np.integer)) or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"{fn}: kernel must be a positive odd integer, got {kernel!r}")
    single = h.ndim == 3
    if single:
        h = h[None]
    h = h.astype(np.float64) if h.dtype.kind != "f" else h
    B, C, H, W = h.shape
    total = C * H * W
    if not isinstance(k, (int, np.integer)) or k < 0 or k > total:
        raise ValueError(f"{fn}: k must be an integer in [0, C*H*W = {total}], got {k!r}")
    hmax = _max_pool_same(h, kernel) if total else h
    peaks = h * (hmax == h)
    flat = peaks.reshape(B, total)
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(flat, order, axis=1)
    classes = order // (H * W)
    rem = order % (H * W)
    ys, xs = rem // W, rem % W
    out = (scores, classes.astype(np.int64), ys.astype(np.int64), xs.astype(np.int64))
    if single:
        out = tuple(o[0] for o in out)
    if isinstance(heatmap, Tensor):
        out = tuple(Tensor(o) for o in out)
    return out
