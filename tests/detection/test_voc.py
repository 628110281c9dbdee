"""deepnotes.detection.voc against the PASCAL VOC devkit's ``voc_eval`` procedure, written out here
from its definition (per class: rank detections, best-overlap ground truth, strict IoU, difficult
boxes neither TP nor FP, 11-point or all-point AP)."""

import numpy as np
import pytest

from deepnotes.detection.voc import evaluate_voc, voc_ap

TOL = 1e-12


def make_voc(seed, n_img=25, n_cls=4, decimals=1):
    rng = np.random.default_rng(seed)
    dets, gts = [], []
    for _ in range(n_img):
        ng = int(rng.integers(0, 7))
        xy = np.round(rng.uniform(0, 300, (ng, 2)))
        wh = np.round(rng.uniform(5, 120, (ng, 2)))
        gb = np.c_[xy, xy + wh]
        gl = rng.integers(0, n_cls - 1, ng)  # the last class never has ground truth
        diff = rng.random(ng) < 0.2
        boxes, scores, labels = [], [], []
        for b, c in zip(gb, gl):
            for _ in range(int(rng.integers(0, 4))):
                j = rng.normal(0, 0.12, 4) * np.r_[b[2] - b[0], b[3] - b[1], b[2] - b[0], b[3] - b[1]]
                nb = b + j
                boxes.append(np.r_[np.minimum(nb[:2], nb[2:]), np.maximum(nb[:2], nb[2:])])
                labels.append(c if rng.random() < 0.85 else int(rng.integers(0, n_cls)))
        for _ in range(int(rng.integers(0, 5))):
            x, y = rng.uniform(0, 300, 2)
            w, h = rng.uniform(5, 100, 2)
            boxes.append(np.array([x, y, x + w, y + h]))
            labels.append(int(rng.integers(0, n_cls)))
        boxes = np.array(boxes).reshape(-1, 4)
        scores = np.round(rng.uniform(0, 1, len(boxes)), decimals)
        if len(boxes) > 1:  # an exact duplicate
            boxes, scores, labels = np.r_[boxes, boxes[:1]], np.r_[scores, scores[:1]], labels + labels[:1]
        dets.append({"boxes": boxes, "scores": scores, "labels": np.array(labels, dtype=int)})
        gts.append({"boxes": gb, "labels": gl, "difficult": diff})
    return dets, gts


def devkit_voc_eval(dets, gts, cls, ovthresh, use_07_metric, offset):
    """voc_eval for one class, as in the devkit (with a stable sort for reproducible ties)."""
    recs = {}
    npos = 0
    for i, g in enumerate(gts):
        m = g["labels"] == cls
        recs[i] = {"bbox": g["boxes"][m], "difficult": g["difficult"][m], "det": [False] * int(m.sum())}
        npos += int((~g["difficult"][m]).sum())
    image_ids, confidence, BB = [], [], []
    for i, d in enumerate(dets):
        m = d["labels"] == cls
        image_ids += [i] * int(m.sum())
        confidence += d["scores"][m].tolist()
        BB += d["boxes"][m].tolist()
    confidence, BB = np.array(confidence), np.array(BB).reshape(-1, 4)
    sorted_ind = np.argsort(-confidence, kind="stable")
    BB = BB[sorted_ind, :]
    image_ids = [image_ids[x] for x in sorted_ind]
    nd = len(image_ids)
    tp, fp = np.zeros(nd), np.zeros(nd)
    for d in range(nd):
        R = recs[image_ids[d]]
        bb = BB[d, :]
        ovmax = -np.inf
        BBGT = R["bbox"]
        if BBGT.size > 0:
            ixmin = np.maximum(BBGT[:, 0], bb[0])
            iymin = np.maximum(BBGT[:, 1], bb[1])
            ixmax = np.minimum(BBGT[:, 2], bb[2])
            iymax = np.minimum(BBGT[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin + offset, 0.0)
            ih = np.maximum(iymax - iymin + offset, 0.0)
            inters = iw * ih
            uni = (
                (bb[2] - bb[0] + offset) * (bb[3] - bb[1] + offset)
                + (BBGT[:, 2] - BBGT[:, 0] + offset) * (BBGT[:, 3] - BBGT[:, 1] + offset)
                - inters
            )
            overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = np.argmax(overlaps)
        if ovmax > ovthresh:
            if not R["difficult"][jmax]:
                if not R["det"][jmax]:
                    tp[d] = 1.0
                    R["det"][jmax] = 1
                else:
                    fp[d] = 1.0
        else:
            fp[d] = 1.0
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = 0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap += p / 11.0
    else:
        mrec = np.concatenate(([0.0], rec, [1.0]))
        mpre = np.concatenate(([0.0], prec, [0.0]))
        for i in range(mpre.size - 1, 0, -1):
            mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
        i = np.where(mrec[1:] != mrec[:-1])[0]
        ap = np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])
    return rec, prec, ap


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("use_07_metric", [False, True])
@pytest.mark.parametrize("thr, offset", [(0.5, 0.0), (0.5, 1.0), (0.7, 0.0)])
def test_per_class_ap_equals_devkit(seed, use_07_metric, thr, offset):
    dets, gts = make_voc(seed)
    res = evaluate_voc(dets, gts, thr, use_07_metric, pixel_offset=offset)
    aps = []
    for c in range(3):
        rec, prec, ap = devkit_voc_eval(dets, gts, c, thr, use_07_metric, offset)
        np.testing.assert_allclose(res.ap[c], ap, rtol=0, atol=TOL)
        np.testing.assert_allclose(res.recall[c], rec, rtol=0, atol=TOL)
        np.testing.assert_allclose(res.precision[c], prec, rtol=0, atol=TOL)
        aps.append(ap)
    # class 3 has detections but no ground truth: no AP, left out of the mean
    assert np.isnan(res.ap[3]) and res.npos[3] == 0
    np.testing.assert_allclose(res["map"], np.mean(aps), rtol=0, atol=TOL)


def test_difficult_boxes_are_neither_tp_nor_fp():
    gts = [
        {
            "boxes": np.array([[0.0, 0, 10, 10], [20, 20, 30, 30]]),
            "labels": np.array([0, 0]),
            "difficult": np.array([True, False]),
        }
    ]
    dets = [
        {
            "boxes": np.array([[0.0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]]),
            "scores": np.array([0.9, 0.8, 0.7]),
            "labels": np.array([0, 0, 0]),
        }
    ]
    res = evaluate_voc(dets, gts)
    rec, prec, ap = devkit_voc_eval(dets, gts, 0, 0.5, False, 0.0)
    np.testing.assert_allclose(res.precision[0], prec, atol=TOL)  # [1, 0.5]: the first is skipped
    assert len(res.precision[0]) == 3 and res.npos[0] == 1
    np.testing.assert_allclose(res.ap[0], ap, atol=TOL)


def test_strict_threshold():
    # IoU exactly 0.5 is not a match under VOC's strict rule
    gts = [{"boxes": np.array([[0.0, 0, 10, 10]]), "labels": np.array([1])}]
    dets = [{"boxes": np.array([[0.0, 0, 10, 5]]), "scores": np.array([0.9]), "labels": np.array([1])}]
    assert evaluate_voc(dets, gts, 0.5).ap[1] == 0.0
    assert evaluate_voc(dets, gts, 0.49).ap[1] == pytest.approx(1.0)


def test_voc_ap_alias():
    rec = np.array([0.1, 0.2, 0.2, 0.5])
    prec = np.array([1.0, 1.0, 0.66, 0.8])
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.maximum.accumulate(np.concatenate(([0.0], prec, [0.0]))[::-1])[::-1]
    i = np.where(mrec[1:] != mrec[:-1])[0]
    np.testing.assert_allclose(voc_ap(rec, prec), np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]), atol=TOL)


def test_bad_input():
    ok_gt = [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)}]
    ok_dt = [{"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, int)}]
    with pytest.raises(ValueError, match="detection entries for 2 images"):
        evaluate_voc(ok_dt, ok_gt * 2)
    with pytest.raises(ValueError, match=r"detections\[0\] is missing the key 'scores'"):
        evaluate_voc([{"boxes": np.zeros((0, 4)), "labels": np.zeros(0)}], ok_gt)
    with pytest.raises(ValueError, match=r"ground_truths\[0\]\['boxes'\]\[1\].*x2 < x1"):
        evaluate_voc(ok_dt, [{"boxes": np.array([[0, 0, 1, 1], [5, 0, 1, 1]]), "labels": np.array([0, 0])}])
    with pytest.raises(ValueError, match=r"\['labels'\] has 1 entries, expected 2"):
        evaluate_voc(ok_dt, [{"boxes": np.array([[0, 0, 1, 1], [0, 0, 1, 1]]), "labels": np.array([0])}])
    with pytest.raises(ValueError, match="contains NaN"):
        evaluate_voc(
            [{"boxes": np.array([[0, 0, 1, 1]]), "scores": np.array([np.nan]), "labels": np.array([0])}], ok_gt
        )
    with pytest.raises(TypeError, match="one dict per image"):
        evaluate_voc({"boxes": 1}, ok_gt)
    empty = evaluate_voc(ok_dt, ok_gt)
    assert empty.ap == {} and np.isnan(empty["map"])
