"""COCO's greedy matching of detections to ground truth, for one image and one category, as a loop.

Notes: S001-104 (how COCO computes mAP), S001-98 (when a detection is a true positive), S001-103
(AP), S001-105 (implement the mAP computation), S001-86 (IoU).

Fast counterpart: :meth:`deepnotes.detection.coco.COCOeval.evaluate` (every image, category, area range
and IoU threshold at once: round r matches the r-th detection of every (image, category) pair
together, in blocks reduced along an axis).  Its per-image view ``COCOeval.evalImgs`` holds exactly what
:func:`coco_match_image` returns, with annotation ids instead of positions.

Here it is pycocotools' ``evaluateImg`` loop: for each IoU threshold, for each detection in score order,
scan the ground truths for the best still-free one.
"""


def coco_box_iou(d, g, g_is_crowd):
    """IoU of two [x, y, w, h] boxes with COCO's crowd rule: |d ∩ g| / |d ∪ g|, or |d ∩ g| / |d| when g
    is a crowd region (a detection inside a crowd overlaps it fully); 0 without overlap.  The
    operations are those of pycocotools' C code, so the values agree to the last bit."""
    w = min(d[2] + d[0], g[2] + g[0]) - max(d[0], g[0])
    h = min(d[3] + d[1], g[3] + g[1]) - max(d[1], g[1])
    if not (w > 0 and h > 0):
        return 0.0
    inter = w * h
    area_d = d[2] * d[3]
    union = area_d if g_is_crowd else area_d + g[2] * g[3] - inter
    return inter / union


def coco_match_image(
    dt_boxes,
    dt_scores,
    dt_areas,
    gt_boxes,
    gt_areas,
    gt_crowd,
    iou_thresholds=(0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95),
    area_range=(0.0, 1e10),
    max_det=100,
):
    """Match the detections of one image and one category to its ground truths (S001-104).

    1. A ground truth is *ignored* when it is a crowd region or its area lies outside the closed
       ``area_range`` [lo, hi]; ground truths are listed with the non-ignored ones first (a stable
       sort, so annotation order is kept within each part).
    2. Detections are sorted by decreasing score (stable on ties) and only the best ``max_det`` kept.
    3. For each IoU threshold t and each detection in that order, scan the ground truths in the order
       of 1.: skip one already matched (unless it is a crowd region, which can absorb many detections);
       stop at the first ignored one if a non-ignored match was already found; otherwise take it when
       its IoU is >= the best so far (starting at min(t, 1 - 1e-10)), so the largest IoU wins and on
       equal IoU the later ground truth.  A detection matched to an ignored ground truth is ignored.
    4. An unmatched detection whose area lies outside ``area_range`` is ignored too.

    A matched, not ignored detection is a true positive, an unmatched not ignored one a false positive
    (S001-98); ignored ones count as neither.

    Boxes are [x, y, w, h].  Returns a dict of plain lists (positions refer to the input arrays):
        ``dt_order``   the kept detections, best first;            ``gt_order``  ground truths as in 1.;
        ``dt_matches`` [t][i] ground truth matched by dt_order[i], -1 if none;
        ``gt_matches`` [t][j] detection that matched gt_order[j] (the last one for a crowd), -1 if none;
        ``dt_ignore``  [t][i] bools;                               ``gt_ignore`` [j] bools.
    Fast kernel: :meth:`deepnotes.detection.coco.COCOeval.evaluate` (and its ``evalImgs`` records).
    """
    lo, hi = area_range
    n_gt, n_dt = len(gt_boxes), len(dt_boxes)
    ignored = [bool(gt_crowd[j]) or gt_areas[j] < lo or gt_areas[j] > hi for j in range(n_gt)]
    gt_order = sorted(range(n_gt), key=lambda j: (ignored[j], j))
    dt_order = sorted(range(n_dt), key=lambda i: (-dt_scores[i], i))[:max_det]
    iou = {(i, j): coco_box_iou(dt_boxes[i], gt_boxes[j], bool(gt_crowd[j])) for i in dt_order for j in gt_order}

    dt_matches, gt_matches, dt_ignore = [], [], []
    for t in iou_thresholds:
        taken = {j: -1 for j in gt_order}
        d_match, d_ign = [], []
        for i in dt_order:
            best_iou, m = min(t, 1 - 1e-10), -1
            for j in gt_order:
                if taken[j] >= 0 and not gt_crowd[j]:
                    continue  # already matched
                if m >= 0 and not ignored[m] and ignored[j]:
                    break  # the ignored ones come last
                if iou[i, j] < best_iou:
                    continue
                best_iou, m = iou[i, j], j
            if m >= 0:
                taken[m] = i
                d_match.append(m)
                d_ign.append(ignored[m])
            else:
                d_match.append(-1)
                d_ign.append(dt_areas[i] < lo or dt_areas[i] > hi)
        dt_matches.append(d_match)
        dt_ignore.append(d_ign)
        gt_matches.append([taken[j] for j in gt_order])
    return dict(
        dt_order=dt_order,
        gt_order=gt_order,
        dt_matches=dt_matches,
        gt_matches=gt_matches,
        dt_ignore=dt_ignore,
        gt_ignore=[ignored[j] for j in gt_order],
    )
