"""PASCAL VOC detection evaluation: per-class AP (11-point VOC2007 or all-point VOC2010+) and mAP.

The rules are those of the VOC devkit (``voc_eval``):

* detections of a class are ranked by descending confidence over all images (stable on ties);
* each detection looks only at its best-overlapping ground truth of that class in its image
  (IoU ties: the first box);
* if that IoU is strictly greater than ``iou_threshold``: a ``difficult`` box makes the detection
  neither TP nor FP; a box not yet claimed makes it a TP (the box is now claimed); an already claimed
  box makes it a FP.  Otherwise the detection is a FP;
* ``npos`` = number of non-difficult ground truths; ``recall = TP / npos``,
  ``precision = TP / max(TP + FP, eps)``; AP from :func:`~deepnotes.detection.metrics.average_precision`
  (``'voc11'`` when ``use_07_metric`` else ``'voc_all'``);
* mAP is the mean AP over classes that have at least one non-difficult ground truth (classes without
  any get ``AP = nan`` and are left out; the devkit would divide by zero).

Boxes are ``(x1, y1, x2, y2)``.  The devkit measures boxes in inclusive integer pixels (width
``x2 - x1 + 1``); pass ``pixel_offset=1.0`` for that convention, the default ``0.0`` treats coordinates
as continuous like the rest of ``deepnotes.detection``.
"""

from __future__ import annotations

import numpy as np

from .metrics import average_precision

__all__ = ["evaluate_voc", "voc_ap", "VOCResult"]


def voc_ap(rec, prec, use_07_metric=False):
    """AP of a VOC precision-recall curve (devkit name): 11-point when ``use_07_metric`` else all-point."""
    return average_precision(rec, prec, method="voc11" if use_07_metric else "voc_all")


class VOCResult(dict):
    """Result of :func:`evaluate_voc`: a dict with keys ``'ap'`` (class -> AP), ``'map'`` (float),
    ``'precision'``/``'recall'`` (class -> curve arrays), ``'npos'`` (class -> non-difficult count),
    also readable as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _array(fn, what, i, d, key, shape_tail, dtype):
    if key not in d:
        raise ValueError(f"{fn}: {what}[{i}] is missing the key '{key}'")
    arr = np.asarray(d[key], dtype=dtype)
    if shape_tail == (4,):
        arr = arr.reshape(-1, 4) if arr.size == 0 else arr
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise ValueError(f"{fn}: {what}[{i}]['{key}'] must have shape (N, 4) as (x1, y1, x2, y2), got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{fn}: {what}[{i}]['{key}'] contains NaN or infinite coordinates")
        bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
        if bad.any():
            j = int(np.argmax(bad))
            raise ValueError(f"{fn}: {what}[{i}]['{key}'][{j}] = {arr[j].tolist()} has x2 < x1 or y2 < y1")
    else:
        arr = arr.reshape(-1)
    return arr


def _stack(fn, what, items, keys):
    """Concatenate per-image dicts into flat arrays plus an image index."""
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"{fn}: {what} must be a list with one dict per image, got {type(items).__name__}")
    cols = {k: [] for k, *_ in keys}
    img = []
    for i, d in enumerate(items):
        if not isinstance(d, dict):
            raise TypeError(f"{fn}: {what}[{i}] must be a dict, got {type(d).__name__}")
        n = None
        for key, tail, dtype, default in keys:
            if key not in d and default is not None:
                arr = None
            else:
                arr = _array(fn, what, i, d, key, tail, dtype)
            if arr is not None:
                if n is None:
                    n = arr.shape[0]
                elif arr.shape[0] != n:
                    raise ValueError(f"{fn}: {what}[{i}]['{key}'] has {arr.shape[0]} entries, expected {n}")
            cols[key].append(arr)
        n = n or 0
        for key, _tail, dtype, default in keys:
            if cols[key][-1] is None:
                cols[key][-1] = np.full(n, default, dtype=dtype)
        img.append(np.full(n, i, dtype=np.int64))
    out = {}
    for key, tail, dtype, _ in keys:
        parts = cols[key]
        if parts:
            out[key] = np.concatenate(parts)
        else:
            out[key] = np.zeros((0, 4) if tail == (4,) else (0,), dtype=dtype)
    out["image"] = np.concatenate(img) if img else np.zeros(0, dtype=np.int64)
    return out


def evaluate_voc(detections, ground_truths, iou_threshold=0.5, use_07_metric=False, *, classes=None, pixel_offset=0.0):
    """VOC per-class AP and mAP.

    Args:
        detections: list, one dict per image, with ``'boxes'`` (N, 4) ``(x1, y1, x2, y2)``,
            ``'scores'`` (N,) and ``'labels'`` (N,) integer classes.
        ground_truths: list of the same length, one dict per image, with ``'boxes'`` (M, 4),
            ``'labels'`` (M,) and optionally ``'difficult'`` (M,) bool (default all False).
        iou_threshold: a detection needs IoU strictly greater than this (VOC: 0.5).
        use_07_metric: 11-point AP (VOC2007) instead of all-point AP.
        classes: classes to evaluate (default: every label in the ground truth or the detections).
        pixel_offset: 1.0 for the devkit's inclusive-pixel box size, 0.0 for continuous boxes.
    Returns:
        :class:`VOCResult` with ``ap``, ``map``, ``precision``, ``recall``, ``npos``.
    """
    fn = "evaluate_voc"
    dets = _stack(
        fn,
        "detections",
        detections,
        [("boxes", (4,), np.float64, None), ("scores", (), np.float64, None), ("labels", (), np.int64, None)],
    )
    gts = _stack(
        fn,
        "ground_truths",
        ground_truths,
        [("boxes", (4,), np.float64, None), ("labels", (), np.int64, None), ("difficult", (), bool, False)],
    )
    if len(detections) != len(ground_truths):
        raise ValueError(f"{fn}: {len(detections)} detection entries for {len(ground_truths)} images")
    if np.isnan(dets["scores"]).any():
        i = int(dets["image"][np.argmax(np.isnan(dets["scores"]))])
        raise ValueError(f"{fn}: detections[{i}]['scores'] contains NaN")
    if classes is None:
        classes = np.union1d(gts["labels"], dets["labels"]).tolist()
    result = VOCResult(ap={}, map=float("nan"), precision={}, recall={}, npos={})
    for c in classes:
        g_sel = np.flatnonzero(gts["labels"] == c)
        g_img = gts["image"][g_sel]
        g_box = gts["boxes"][g_sel]
        g_diff = gts["difficult"][g_sel]
        order_g = np.argsort(g_img, kind="stable")
        g_img, g_box, g_diff = g_img[order_g], g_box[order_g], g_diff[order_g]
        npos = int(np.count_nonzero(~g_diff))
        d_sel = np.flatnonzero(dets["labels"] == c)
        d_sel = d_sel[np.argsort(-dets["scores"][d_sel], kind="stable")]
        d_img = dets["image"][d_sel]
        d_box = dets["boxes"][d_sel]
        nd = d_sel.size
        # best-overlapping ground truth of each detection, over the (detection, gt) pairs of its image
        lo = np.searchsorted(g_img, d_img, side="left")
        cnt = np.searchsorted(g_img, d_img, side="right") - lo
        has = np.flatnonzero(cnt > 0)
        c_has = cnt[has]
        e_det = np.repeat(has, c_has)
        e_gt = np.repeat(lo[has] - (np.cumsum(c_has) - c_has), c_has) + np.arange(int(c_has.sum()))
        iou = _rowwise_iou(d_box[e_det], g_box[e_gt], pixel_offset)
        ovmax = np.full(nd, -np.inf)
        jmax = np.full(nd, -1, dtype=np.int64)
        if has.size:
            starts = np.r_[0, np.cumsum(c_has)[:-1]]
            best = np.maximum.reduceat(iou, starts)
            seg = np.repeat(np.arange(has.size), c_has)
            is_best = iou == best[seg]
            # first index attaining the maximum in each segment
            first = np.minimum.reduceat(np.where(is_best, np.arange(iou.size), iou.size), starts)
            ovmax[has] = best
            jmax[has] = e_gt[first]
        over = ovmax > iou_threshold
        diff_hit = over & g_diff[np.maximum(jmax, 0)] if g_diff.size else np.zeros(nd, bool)
        claim = over & ~diff_hit
        tp = np.zeros(nd)
        idx = np.flatnonzero(claim)
        _, first_claim = np.unique(jmax[idx], return_index=True)
        tp[idx[first_claim]] = 1.0
        fp = np.where(diff_hit, 0.0, 1.0 - tp)
        tp_c, fp_c = np.cumsum(tp), np.cumsum(fp)
        if npos > 0:
            rec = tp_c / float(npos)
            prec = tp_c / np.maximum(tp_c + fp_c, np.finfo(np.float64).eps)
            ap = voc_ap(rec, prec, use_07_metric)
        else:
            rec = np.full(nd, np.nan)
            prec = tp_c / np.maximum(tp_c + fp_c, np.finfo(np.float64).eps)
            ap = float("nan")
        result["ap"][c] = ap
        result["precision"][c] = prec
        result["recall"][c] = rec
        result["npos"][c] = npos
    aps = np.array([v for v in result["ap"].values() if not np.isnan(v)])
    result["map"] = float(aps.mean()) if aps.size else float("nan")
    return result


def _rowwise_iou(a, b, pixel_offset):
    iw = np.maximum(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + pixel_offset, 0.0)
    ih = np.maximum(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + pixel_offset, 0.0)
    inter = iw * ih
    union = (
        (a[:, 2] - a[:, 0] + pixel_offset) * (a[:, 3] - a[:, 1] + pixel_offset)
        + (b[:, 2] - b[:, 0] + pixel_offset) * (b[:, 3] - b[:, 1] + pixel_offset)
        - inter
    )
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
