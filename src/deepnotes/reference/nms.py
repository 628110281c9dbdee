"""Greedy non-maximum suppression the way the notes describe it: take the best box, drop its overlaps,
repeat.

Notes: S001-95 (the NMS algorithm), S001-86 (IoU).

Fast counterpart: :func:`deepnotes.detection.nms.nms` / :func:`deepnotes.detection.nms.batched_nms`
(one step per kept box over a window of candidates kept sorted by x1 and found with ``searchsorted``,
one vectorised IoU per step, the sorted structure rebuilt as boxes die).
"""


def box_iou_pair(a, b):
    """IoU of two xyxy boxes: |a ∩ b| / (|a| + |b| - |a ∩ b|) (S001-86).  Two empty boxes give 0/0 = NaN
    (in floating point), which never counts as an overlap."""
    w = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    h = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    inter = w * h
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    union = area_a + area_b - inter
    if union == 0:
        return float("nan")
    return inter / union


def nms(boxes, scores, iou_threshold, idxs=None):
    """Greedy NMS (S001-95) over ``boxes`` (N, 4) xyxy with ``scores`` (N,).

        1. sort the boxes by decreasing score (equal scores: lower index first);
        2. take the first remaining box and keep it;
        3. remove every remaining box whose IoU with it is greater than ``iou_threshold``;
        4. repeat from 2 until no box remains.

    With ``idxs`` (N,) (class labels), a box only removes boxes of its own class (batched NMS).
    Returns the kept indices as a list, in the order they were kept (decreasing score).
    Fast kernels: :func:`deepnotes.detection.nms.nms` and :func:`deepnotes.detection.nms.batched_nms`.
    """
    boxes = [[float(v) for v in b] for b in boxes]
    scores = [float(s) for s in scores]
    remaining = sorted(range(len(boxes)), key=lambda k: (-scores[k], k))
    keep = []
    while remaining:
        best, rest = remaining[0], remaining[1:]
        keep.append(best)
        remaining = []
        for k in rest:
            same_class = idxs is None or idxs[k] == idxs[best]
            if same_class and box_iou_pair(boxes[best], boxes[k]) > iou_threshold:
                continue  # suppressed (a NaN IoU is never > threshold)
            remaining.append(k)
    return keep
