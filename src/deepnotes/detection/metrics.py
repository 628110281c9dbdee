"""Classification and detection metrics (seed 001): precision, recall, F1, confusion matrix, TP/FP/FN
for boxes, precision-recall curves and average precision (VOC 11-point, VOC all-point, COCO 101-point).

Definitions (seed 001)::

    precision P = TP / (TP + FP)        recall R = TP / (TP + FN)        F1 = 2 P R / (P + R)
    F_beta = (1 + beta^2) TP / ((1 + beta^2) TP + beta^2 FN + FP)

Averages over classes (``average=``): ``'macro'`` = unweighted mean of the per-class scores,
``'weighted'`` = mean weighted by support, ``'micro'`` = scores of the summed TP/FP/FN counts.
The classification functions follow ``sklearn.metrics`` (names, arguments, defaults, ``zero_division``).

Detection rule (seed 001): a prediction is a true positive when its IoU with a ground-truth box reaches
the threshold; when several predictions match one ground truth, the highest-confidence one is the TP
and the others are FPs.  Unmatched ground truths are FNs.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "confusion_matrix",
    "precision_recall_fscore_support",
    "precision_score",
    "recall_score",
    "f1_score",
    "fbeta_score",
    "macro_f1_of_averages",
    "match_detections",
    "detection_counts",
    "pr_curve",
    "average_precision",
    "plot_pr_curve",
]

_AVERAGES = (None, "binary", "micro", "macro", "weighted")


# ------------------------------------------------------------------------------ classification
def _labels_1d(name, fn, y):
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{fn}: {name} must be a 1-D array of class labels, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{fn}: {name} contains NaN or infinite labels")
    return arr


def _targets(fn, y_true, y_pred):
    y_true = _labels_1d("y_true", fn, y_true)
    y_pred = _labels_1d("y_pred", fn, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{fn}: y_true and y_pred must have the same length, got {y_true.shape[0]} and {y_pred.shape[0]}"
        )
    if y_true.size and y_pred.size and (y_true.dtype.kind in "US") != (y_pred.dtype.kind in "US"):
        raise ValueError(f"{fn}: y_true and y_pred mix string and numeric labels ({y_true.dtype} vs {y_pred.dtype})")
    return y_true, y_pred


def confusion_matrix(y_true, y_pred, *, labels=None, sample_weight=None, normalize=None):
    """Confusion matrix ``C`` with ``C[i, j]`` = number of samples of true class ``labels[i]`` predicted as
    ``labels[j]`` (as ``sklearn.metrics.confusion_matrix``).

    Args:
        y_true, y_pred: (N,) class labels.
        labels: class order (default: sorted union of the labels present). Samples whose true or
            predicted label is not listed are left out.
        sample_weight: optional (N,) weights.
        normalize: ``None``, ``'true'`` (rows sum to 1), ``'pred'`` (columns sum to 1) or ``'all'``.
    Returns:
        (L, L) array (int64 counts, float64 when weighted or normalised).
    """
    fn = "confusion_matrix"
    y_true, y_pred = _targets(fn, y_true, y_pred)
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"{fn}: normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    if labels is None:
        labels = np.union1d(y_true, y_pred)
    else:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.size == 0:
            raise ValueError(f"{fn}: labels must be a non-empty 1-D list, got {labels!r}")
        if not np.isin(labels, np.union1d(y_true, y_pred)).any() and y_true.size:
            raise ValueError(f"{fn}: none of the given labels appears in y_true or y_pred")
    L = labels.size
    sorter = np.argsort(labels, kind="stable")

    def index(y):
        pos = np.searchsorted(labels[sorter], y)
        pos = np.minimum(pos, L - 1) if L else pos
        ok = labels[sorter][pos] == y if L else np.zeros(y.shape, bool)
        return np.where(ok, sorter[pos], -1)

    ti, pi = index(y_true), index(y_pred)
    keep = (ti >= 0) & (pi >= 0)
    if sample_weight is None:
        w = np.ones(y_true.size, dtype=np.int64)
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != y_true.shape:
            raise ValueError(f"{fn}: sample_weight must have shape {y_true.shape}, got {w.shape}")
    cm = np.bincount(
        ti[keep] * L + pi[keep], weights=w[keep] if sample_weight is not None else None, minlength=L * L
    ).reshape(L, L)
    if sample_weight is None:
        cm = cm.astype(np.int64)
    if normalize is not None:
        cm = cm.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if normalize == "true":
                cm = cm / cm.sum(axis=1, keepdims=True)
            elif normalize == "pred":
                cm = cm / cm.sum(axis=0, keepdims=True)
            else:
                cm = cm / cm.sum()
        cm = np.nan_to_num(cm)
    return cm


def _divide(num, den, zero_division):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    out[den == 0] = zero_division
    return out


def _zero_division_value(fn, zero_division):
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return 0.0
        raise ValueError(f"{fn}: zero_division must be 'warn', 0.0, 1.0 or nan, got {zero_division!r}")
    if isinstance(zero_division, numbers.Real) and (zero_division in (0, 1) or np.isnan(zero_division)):
        return float(zero_division)
    raise ValueError(f"{fn}: zero_division must be 'warn', 0.0, 1.0 or nan, got {zero_division!r}")


def _nan_average(x, weights=None):
    mask = np.isnan(x)
    if x.size == 0 or mask.all():
        return float("nan")
    if weights is None:
        return float(np.mean(x[~mask]))
    x, weights = x[~mask], np.asarray(weights, dtype=np.float64)[~mask]
    if weights.sum() == 0:
        return float(np.mean(x))
    return float(np.average(x, weights=weights))


def precision_recall_fscore_support(
    y_true, y_pred, *, beta=1.0, labels=None, pos_label=1, average=None, sample_weight=None, zero_division="warn"
):
    """Per-class (or averaged) precision, recall, F-beta and support, as in scikit-learn.

    Args:
        y_true, y_pred: (N,) class labels (multiclass or binary).
        beta: weight of recall in the F-score (``beta=1`` gives F1).
        labels: classes to report (default: sorted union of the labels present).
        pos_label: the positive class when ``average='binary'``.
        average: ``None`` (per class), ``'binary'``, ``'micro'``, ``'macro'`` or ``'weighted'``.
        sample_weight: optional (N,) sample weights.
        zero_division: value for 0/0 (``'warn'`` behaves as 0, silently).
    Returns:
        ``(precision, recall, fbeta, support)``: arrays of shape (L,) when ``average is None``, else
        floats and ``support=None``.
    """
    fn = "precision_recall_fscore_support"
    if average not in _AVERAGES:
        raise ValueError(f"{fn}: average must be one of {_AVERAGES}, got {average!r}")
    if not isinstance(beta, numbers.Real) or beta < 0:
        raise ValueError(f"{fn}: beta must be a non-negative number, got {beta!r}")
    zd = _zero_division_value(fn, zero_division)
    y_true, y_pred = _targets(fn, y_true, y_pred)
    present = np.union1d(y_true, y_pred)
    if average == "binary":
        if present.size > 2:
            raise ValueError(
                f"{fn}: average='binary' needs at most two classes, got {present.size} "
                f"({present[:5].tolist()}...); use average='micro', 'macro' or 'weighted'"
            )
        if pos_label not in present.tolist() and present.size >= 2:
            raise ValueError(
                f"{fn}: pos_label={pos_label!r} is not a valid label; it should be one of {present.tolist()}"
            )
        labels = np.asarray([pos_label])
    elif labels is None:
        labels = present
    else:
        labels = np.asarray(labels)
    w = np.ones(y_true.size) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    # per-label counts
    t_eq = y_true[None, :] == labels[:, None]  # (L, N)
    p_eq = y_pred[None, :] == labels[:, None]
    tp = (t_eq & p_eq) @ w
    pred_sum = p_eq @ w
    true_sum = t_eq @ w
    if sample_weight is None:
        tp, pred_sum, true_sum = (np.rint(x).astype(np.int64) for x in (tp, pred_sum, true_sum))
    if average == "micro":
        tp, pred_sum, true_sum = (np.asarray([x.sum()]) for x in (tp, pred_sum, true_sum))
    precision = _divide(tp, pred_sum, zd)
    recall = _divide(tp, true_sum, zd)
    if np.isposinf(beta):
        f = recall
    elif beta == 0:
        f = precision
    else:
        b2 = beta * beta
        f = _divide(
            (1 + b2) * np.asarray(tp, dtype=np.float64), b2 * np.asarray(true_sum, dtype=np.float64) + pred_sum, zd
        )
    if average is None:
        return precision, recall, f, true_sum
    weights = true_sum if average == "weighted" else None
    return (_nan_average(precision, weights), _nan_average(recall, weights), _nan_average(f, weights), None)


def precision_score(
    y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None, zero_division="warn"
):
    """Precision ``TP / (TP + FP)`` (scikit-learn semantics, default ``average='binary'``)."""
    return precision_recall_fscore_support(
        y_true,
        y_pred,
        labels=labels,
        pos_label=pos_label,
        average=average,
        sample_weight=sample_weight,
        zero_division=zero_division,
    )[0]


def recall_score(
    y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None, zero_division="warn"
):
    """Recall ``TP / (TP + FN)`` (scikit-learn semantics, default ``average='binary'``)."""
    return precision_recall_fscore_support(
        y_true,
        y_pred,
        labels=labels,
        pos_label=pos_label,
        average=average,
        sample_weight=sample_weight,
        zero_division=zero_division,
    )[1]


def fbeta_score(
    y_true, y_pred, *, beta, labels=None, pos_label=1, average="binary", sample_weight=None, zero_division="warn"
):
    """F-beta ``(1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP)`` (scikit-learn semantics)."""
    return precision_recall_fscore_support(
        y_true,
        y_pred,
        beta=beta,
        labels=labels,
        pos_label=pos_label,
        average=average,
        sample_weight=sample_weight,
        zero_division=zero_division,
    )[2]


def f1_score(y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None, zero_division="warn"):
    """F1 ``2 P R / (P + R)`` (scikit-learn semantics; ``'macro'`` is the mean of per-class F1)."""
    return fbeta_score(
        y_true,
        y_pred,
        beta=1.0,
        labels=labels,
        pos_label=pos_label,
        average=average,
        sample_weight=sample_weight,
        zero_division=zero_division,
    )


def macro_f1_of_averages(y_true, y_pred, *, labels=None, zero_division=0.0):
    """The seed's macro scores: ``(macro-P, macro-R, 2 macro-P macro-R / (macro-P + macro-R))``.

    Seed 001 (after Zhou Zhihua, *Machine Learning*) defines macro-F1 from the averaged precision and
    recall, which differs from scikit-learn's ``f1_score(average='macro')`` (the mean of the per-class
    F1 scores); both are offered.  Returns three floats (F1 is ``zero_division`` when P + R = 0).
    """
    p, r, _, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=zero_division
    )
    f = float(_divide(2 * p * r, p + r, _zero_division_value("macro_f1_of_averages", zero_division)))
    return p, r, f


# ------------------------------------------------------------------------------------ detection
def _boxes(fn, name, boxes):
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{fn}: {name} must have shape (N, 4) as (x1, y1, x2, y2), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{fn}: {name} contains NaN or infinite coordinates")
    bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{fn}: {name}[{i}] = {arr[i].tolist()} has x2 < x1 or y2 < y1 (expected x1 <= x2, y1 <= y2)")
    return arr


def pairwise_iou(boxes1, boxes2, pixel_offset=0.0):
    """IoU matrix of ``(x1, y1, x2, y2)`` boxes, shape (N, M).

    ``pixel_offset=1`` uses the VOC devkit's inclusive pixel convention (width = x2 - x1 + 1).
    """
    w1 = boxes1[:, 2] - boxes1[:, 0] + pixel_offset
    h1 = boxes1[:, 3] - boxes1[:, 1] + pixel_offset
    w2 = boxes2[:, 2] - boxes2[:, 0] + pixel_offset
    h2 = boxes2[:, 3] - boxes2[:, 1] + pixel_offset
    iw = np.maximum(
        np.minimum(boxes1[:, None, 2], boxes2[None, :, 2])
        - np.maximum(boxes1[:, None, 0], boxes2[None, :, 0])
        + pixel_offset,
        0.0,
    )
    ih = np.maximum(
        np.minimum(boxes1[:, None, 3], boxes2[None, :, 3])
        - np.maximum(boxes1[:, None, 1], boxes2[None, :, 1])
        + pixel_offset,
        0.0,
    )
    inter = iw * ih
    union = (w1 * h1)[:, None] + (w2 * h2)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_detections(
    pred_boxes, pred_scores, gt_boxes, iou_threshold=0.5, *, rule="coco", gt_ignore=None, score_threshold=None
):
    """Label the predictions of one image (one class) as TP / FP / ignored.

    Predictions are visited in descending score order (stable on ties), so the highest-confidence
    prediction claims a ground truth first (seed 001) and later ones on the same box are FPs.

    * ``rule='coco'`` (pycocotools): a prediction takes the *unmatched* ground truth with the largest
      IoU ``>= iou_threshold`` (preferring non-ignored ones); matched to an ignored ground truth it is
      ignored, unmatched it is a FP.
    * ``rule='voc'`` (PASCAL VOC devkit): a prediction looks only at its best-overlapping ground truth
      (first on ties); if that IoU ``> iou_threshold`` (strict) it is a TP when the box is still free,
      a FP when already taken, ignored when the box is ``difficult`` (``gt_ignore``); otherwise a FP.

    Args:
        pred_boxes: (N, 4) ``(x1, y1, x2, y2)``.  pred_scores: (N,).
        gt_boxes: (M, 4) ``(x1, y1, x2, y2)``.
        iou_threshold: IoU needed for a match.
        gt_ignore: optional (M,) bool, ground truths that neither count as FN nor make TPs
            (COCO crowd-free "ignore", VOC "difficult").
        score_threshold: predictions scoring below it are dropped (label -2) before matching.
    Returns:
        ``(labels, matched_gt)``: (N,) int arrays in input order; labels 1 = TP, 0 = FP,
        -1 = ignored, -2 = below ``score_threshold``; ``matched_gt`` the ground-truth index or -1.
    """
    fn = "match_detections"
    pb = _boxes(fn, "pred_boxes", pred_boxes)
    gb = _boxes(fn, "gt_boxes", gt_boxes)
    ps = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    if ps.shape[0] != pb.shape[0]:
        raise ValueError(f"{fn}: pred_scores has {ps.shape[0]} entries for {pb.shape[0]} boxes")
    if np.isnan(ps).any():
        raise ValueError(f"{fn}: pred_scores contains NaN")
    if rule not in ("coco", "voc"):
        raise ValueError(f"{fn}: rule must be 'coco' or 'voc', got {rule!r}")
    ign = np.zeros(gb.shape[0], bool) if gt_ignore is None else np.asarray(gt_ignore, dtype=bool).reshape(-1)
    if ign.shape[0] != gb.shape[0]:
        raise ValueError(f"{fn}: gt_ignore has {ign.shape[0]} entries for {gb.shape[0]} ground truths")
    n = pb.shape[0]
    labels = np.zeros(n, dtype=np.int64)
    matched = np.full(n, -1, dtype=np.int64)
    active = np.ones(n, bool) if score_threshold is None else ps >= score_threshold
    labels[~active] = -2
    order = np.argsort(-ps, kind="stable")
    order = order[active[order]]
    if order.size == 0 or gb.shape[0] == 0:
        return labels, matched
    iou = pairwise_iou(pb[order], gb)  # (n_active, M), rows in score order
    if rule == "voc":
        best = iou.argmax(axis=1)
        over = iou[np.arange(order.size), best] > iou_threshold
        claim = over & ~ign[best]
        # the first claimant of each ground truth (in score order) is the TP
        first = np.zeros(order.size, bool)
        idx = np.flatnonzero(claim)
        _, first_pos = np.unique(best[idx], return_index=True)
        first[idx[first_pos]] = True
        lab = np.where(over & ign[best], -1, np.where(first, 1, 0))
        labels[order] = lab
        matched[order] = np.where(over, best, -1)
        return labels, matched
    # COCO greedy: a sequential scan (each step depends on which boxes are taken)
    taken = np.zeros(gb.shape[0], bool)
    gt_order = np.argsort(ign, kind="stable")  # non-ignored first, as pycocotools
    iou = iou[:, gt_order]
    ign_s = ign[gt_order]
    thr = min(iou_threshold, 1 - 1e-10)
    for row, det in enumerate(order):
        ok = ~taken & (iou[row] >= thr)
        regular = ok & ~ign_s
        cand = regular if regular.any() else ok
        if not cand.any():
            continue
        vals = np.where(cand, iou[row], -1.0)
        j = cand.size - 1 - int(np.argmax(vals[::-1]))  # last index among the maxima
        taken[j] = True
        labels[det] = -1 if ign_s[j] else 1
        matched[det] = gt_order[j]
    return labels, matched


def detection_counts(labels, num_gt):
    """``(TP, FP, FN)`` from :func:`match_detections` labels (1 = TP, 0 = FP) and the number of
    non-ignored ground truths: ``FN = num_gt - TP``."""
    lab = np.asarray(labels)
    tp = int(np.count_nonzero(lab == 1))
    fp = int(np.count_nonzero(lab == 0))
    if tp > num_gt:
        raise ValueError(f"detection_counts: {tp} true positives for only {num_gt} ground truths")
    return tp, fp, int(num_gt) - tp


def pr_curve(scores, labels, num_gt):
    """Precision-recall curve of scored detections (all images of one class).

    Detections are sorted by descending score (stable: ties keep input order); ignored (-1) and
    dropped (-2) labels are skipped.  With ``TP_i``/``FP_i`` the counts among the first ``i + 1``::

        precision[i] = TP_i / (TP_i + FP_i)       recall[i] = TP_i / num_gt

    Args:
        scores: (N,) confidences.  labels: (N,) 1 = TP, 0 = FP (-1/-2 skipped).
        num_gt: number of non-ignored ground truths (> 0).
    Returns:
        ``(precision, recall, thresholds)``, each (n,) for the n counted detections; ``thresholds[i]`` is
        the score of the i-th one (a detection is kept when its score >= threshold).
    """
    fn = "pr_curve"
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    lab = np.asarray(labels).reshape(-1)
    if s.shape != lab.shape:
        raise ValueError(f"{fn}: scores and labels must have the same length, got {s.shape[0]} and {lab.shape[0]}")
    if np.isnan(s).any():
        raise ValueError(f"{fn}: scores contains NaN")
    if not np.isin(lab, (1, 0, -1, -2)).all():
        raise ValueError(f"{fn}: labels must be 1 (TP), 0 (FP), -1 (ignored) or -2 (dropped)")
    if not isinstance(num_gt, (numbers.Integral, np.integer)) or num_gt <= 0:
        raise ValueError(f"{fn}: num_gt must be a positive integer, got {num_gt!r}")
    order = np.argsort(-s, kind="stable")
    order = order[lab[order] >= 0]
    tp = np.cumsum(lab[order] == 1).astype(np.float64)
    fp = np.cumsum(lab[order] == 0).astype(np.float64)
    return tp / (tp + fp), tp / num_gt, s[order]


_METHODS = ("voc11", "voc_all", "coco101")


def average_precision(recall, precision, method="voc_all"):
    """Average precision of a precision-recall curve.

    Args:
        recall, precision: (n,) the curve in detection order (recall non-decreasing), e.g. from
            :func:`pr_curve`.
        method:
            ``'voc11'`` (VOC2007 11-point): ``AP = 1/11 sum_{t in 0, .1, ..., 1} max_{recall >= t} precision``
            (0 when no point reaches ``t``), on the devkit's grid ``np.arange(0, 1.1, 0.1)``;
            ``'voc_all'`` (VOC2010+ all-point): the area under the precision envelope
            ``p_interp(r) = max_{r' >= r} p(r')``, ``AP = sum_i (r_{i+1} - r_i) p_interp(r_{i+1})``;
            ``'coco101'`` (COCO): ``AP = 1/101 sum_{t in 0, .01, ..., 1} p_interp(first point with
            recall >= t)`` (0 when no point reaches ``t``), as pycocotools per class and IoU.
    Returns:
        float.  An empty curve gives 0.
    """
    fn = "average_precision"
    rec = np.asarray(recall, dtype=np.float64).reshape(-1)
    prec = np.asarray(precision, dtype=np.float64).reshape(-1)
    if rec.shape != prec.shape:
        raise ValueError(
            f"{fn}: recall and precision must have the same length, got {rec.shape[0]} and {prec.shape[0]}"
        )
    if method not in _METHODS:
        raise ValueError(f"{fn}: method must be one of {_METHODS}, got {method!r}")
    if not (np.isfinite(rec).all() and np.isfinite(prec).all()):
        raise ValueError(f"{fn}: recall and precision must be finite")
    if rec.size and (np.diff(rec) < 0).any():
        raise ValueError(f"{fn}: recall must be non-decreasing (points in descending score order)")
    if method == "voc11":
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            reach = rec >= t
            ap += (prec[reach].max() if reach.any() else 0.0) / 11.0
        return float(ap)
    if method == "voc_all":
        mrec = np.concatenate(([0.0], rec, [1.0]))
        mpre = np.concatenate(([0.0], prec, [0.0]))
        mpre = np.maximum.accumulate(mpre[::-1])[::-1]
        i = np.flatnonzero(mrec[1:] != mrec[:-1])
        return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))
    rec_thrs = np.linspace(0.0, 1.0, 101)
    env = np.maximum.accumulate(prec[::-1])[::-1] if prec.size else prec
    idx = np.searchsorted(rec, rec_thrs, side="left")
    q = np.where(idx < rec.size, env[np.minimum(idx, max(rec.size - 1, 0))] if rec.size else 0.0, 0.0)
    return float(np.mean(q))


def plot_pr_curve(precision, recall, *, ax=None, label=None, interpolated=True, **kwargs):
    """Plot a precision-recall curve with matplotlib (imported here; install ``deepnotes[plot]``).

    Draws precision against recall as a step curve; with ``interpolated`` also the envelope
    ``max_{r' >= r} p(r')`` used by AP, dashed.  Returns the matplotlib ``Axes``.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - matplotlib is installed in the test environment
        raise ImportError("plot_pr_curve needs matplotlib: pip install matplotlib") from err
    prec = np.asarray(precision, dtype=np.float64).reshape(-1)
    rec = np.asarray(recall, dtype=np.float64).reshape(-1)
    if prec.shape != rec.shape:
        raise ValueError(
            f"plot_pr_curve: precision and recall must have the same length, got {prec.shape[0]} and {rec.shape[0]}"
        )
    if ax is None:
        _, ax = plt.subplots()
    ax.step(rec, prec, where="post", label=label, **kwargs)
    if interpolated and prec.size:
        env = np.maximum.accumulate(prec[::-1])[::-1]
        ax.step(
            rec,
            env,
            where="post",
            linestyle="--",
            alpha=0.7,
            label=None if label is None else f"{label} (interpolated)",
        )
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.05)
    if label is not None:
        ax.legend()
    return ax
