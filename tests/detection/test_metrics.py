"""deepnotes.detection.metrics against scikit-learn (classification metrics), pycocotools (detection
matching, COCO 101-point AP) and the VOC devkit's AP formulas written out from their definition."""

import contextlib
import importlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepnotes.detection import metrics as M

skm = importlib.import_module("sklearn.metrics")
pc_coco = importlib.import_module("pycocotools.coco")
pc_eval = importlib.import_module("pycocotools.cocoeval")

TOL = 1e-12


# ------------------------------------------------------------------------ classification metrics
def _labels(seed, n=200, k=5, strings=False):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, k, n)
    p = np.where(rng.random(n) < 0.6, t, rng.integers(0, k + 1, n))  # class k only ever predicted
    if strings:
        names = np.array([f"c{i}" for i in range(k + 1)])
        return names[t], names[p]
    return t, p


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix(seed, normalize):
    t, p = _labels(seed)
    np.testing.assert_allclose(
        M.confusion_matrix(t, p, normalize=normalize), skm.confusion_matrix(t, p, normalize=normalize), rtol=0, atol=TOL
    )
    labels = [4, 0, 2, 7]
    np.testing.assert_array_equal(M.confusion_matrix(t, p, labels=labels), skm.confusion_matrix(t, p, labels=labels))
    w = np.random.default_rng(seed).random(t.size)
    np.testing.assert_allclose(
        M.confusion_matrix(t, p, sample_weight=w), skm.confusion_matrix(t, p, sample_weight=w), rtol=0, atol=TOL
    )
    ts, ps = _labels(seed, strings=True)
    np.testing.assert_array_equal(M.confusion_matrix(ts, ps), skm.confusion_matrix(ts, ps))


def _check_prf(ours, ref):
    for a, b in zip(ours, ref):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=0, atol=TOL)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("zero_division", [0.0, 1.0, np.nan])
def test_precision_recall_fscore_support_multiclass(seed, average, zero_division):
    t, p = _labels(seed)
    for beta in (1.0, 0.5, 2.0):
        _check_prf(
            M.precision_recall_fscore_support(t, p, beta=beta, average=average, zero_division=zero_division),
            skm.precision_recall_fscore_support(t, p, beta=beta, average=average, zero_division=zero_division),
        )
    labels = [0, 3, 9]  # 9 never occurs: zero division
    _check_prf(
        M.precision_recall_fscore_support(t, p, labels=labels, average=average, zero_division=zero_division),
        skm.precision_recall_fscore_support(t, p, labels=labels, average=average, zero_division=zero_division),
    )
    w = np.random.default_rng(seed + 10).random(t.size)
    _check_prf(
        M.precision_recall_fscore_support(t, p, average=average, sample_weight=w, zero_division=zero_division),
        skm.precision_recall_fscore_support(t, p, average=average, sample_weight=w, zero_division=zero_division),
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=40),
    st.sampled_from(["binary", "micro", "macro", "weighted"]),
)
def test_binary_scores_match_sklearn(pairs, average):
    t = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    for ours, ref in (
        (M.precision_score, skm.precision_score),
        (M.recall_score, skm.recall_score),
        (M.f1_score, skm.f1_score),
    ):
        np.testing.assert_allclose(
            ours(t, p, average=average, zero_division=0.0),
            ref(t, p, average=average, zero_division=0.0),
            rtol=0,
            atol=TOL,
        )
    np.testing.assert_allclose(
        M.fbeta_score(t, p, beta=0.5, average=average, zero_division=1.0),
        skm.fbeta_score(t, p, beta=0.5, average=average, zero_division=1.0),
        rtol=0,
        atol=TOL,
    )


def test_macro_f1_of_averages_is_the_seed_formula():
    t, p = _labels(4)
    P = skm.precision_score(t, p, average="macro", zero_division=0)
    R = skm.recall_score(t, p, average="macro", zero_division=0)
    ours = M.macro_f1_of_averages(t, p)
    np.testing.assert_allclose(ours, (P, R, 2 * P * R / (P + R)), rtol=0, atol=TOL)
    # it differs from the mean of per-class F1 (scikit-learn's macro F1)
    assert abs(ours[2] - skm.f1_score(t, p, average="macro")) > 1e-6


def test_classification_errors():
    with pytest.raises(ValueError, match="same length"):
        M.precision_recall_fscore_support([0, 1], [0])
    with pytest.raises(ValueError, match="average must be one of"):
        M.f1_score([0, 1], [0, 1], average="mean")
    with pytest.raises(ValueError, match="average='binary' needs at most two classes"):
        M.precision_score([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="pos_label=3 is not a valid label"):
        M.recall_score([0, 1], [1, 0], pos_label=3)
    with pytest.raises(ValueError, match="1-D array"):
        M.confusion_matrix([[0, 1]], [[0, 1]])
    with pytest.raises(ValueError, match="normalize must be"):
        M.confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ValueError, match="zero_division"):
        M.f1_score([0, 1], [0, 1], zero_division=5)


# ------------------------------------------------------------------------------ detection matching
def _det_scene(seed, n_img=12, gt_per_img=5, dets_per_gt=3, n_rand=6, decimals=1):
    """One class, boxes as (x1, y1, x2, y2); duplicates and tied scores on purpose."""
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(n_img):
        ng = int(rng.integers(0, gt_per_img + 1))
        xy = rng.uniform(0, 200, (ng, 2))
        wh = rng.uniform(8, 80, (ng, 2))
        gt = np.c_[xy, xy + wh]
        preds = []
        for g in gt:
            for _ in range(int(rng.integers(0, dets_per_gt + 1))):
                j = rng.normal(0, 0.08, 4) * np.r_[g[2] - g[0], g[3] - g[1], g[2] - g[0], g[3] - g[1]]
                b = g + j
                preds.append(np.r_[np.minimum(b[:2], b[2:]), np.maximum(b[:2], b[2:])])
        for _ in range(int(rng.integers(0, n_rand + 1))):
            x, y = rng.uniform(0, 220, 2)
            w, h = rng.uniform(5, 60, 2)
            preds.append(np.array([x, y, x + w, y + h]))
        pb = np.array(preds).reshape(-1, 4)
        if len(pb) > 2:
            pb = np.r_[pb, pb[:1]]  # an exact duplicate
        ps = np.round(rng.uniform(0, 1, len(pb)), decimals)
        ign = rng.random(ng) < 0.15
        scenes.append((pb, ps, gt, ign))
    return scenes


def _pycocotools_single_class(scenes, iou_thr, use_ignore_area=False):
    """pycocotools on the scenes; ground-truth ignore flags are expressed through the area field
    (an area outside the single area range), so the IoU is the plain one."""
    images, anns, dets = [], [], []
    for i, (pb, ps, gt, ign) in enumerate(scenes):
        images.append({"id": i + 1})
        for g, ig in zip(gt, ign):
            area = 1e9 if (use_ignore_area and ig) else 100.0
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": 1,
                    "bbox": [g[0], g[1], g[2] - g[0], g[3] - g[1]],
                    "area": area,
                    "iscrowd": 0,
                }
            )
        for b, s in zip(pb, ps):
            dets.append(
                {"image_id": i + 1, "category_id": 1, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "score": float(s)}
            )
    with contextlib.redirect_stdout(io.StringIO()):
        g = pc_coco.COCO()
        g.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "x"}]}
        g.createIndex()
        E = pc_eval.COCOeval(g, g.loadRes(dets), "bbox")
        E.params.iouThrs = np.array([iou_thr])
        E.params.areaRng = [[0, 1e8]]
        E.params.areaRngLbl = ["all"]
        E.params.maxDets = [1000]
        E.evaluate()
        E.accumulate()
    return E


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("iou_thr", [0.5, 0.75])
def test_match_detections_coco_rule_equals_pycocotools(seed, iou_thr):
    scenes = _det_scene(seed)
    E = _pycocotools_single_class(scenes, iou_thr, use_ignore_area=True)
    n_tp = 0
    for i, (pb, ps, gt, ign) in enumerate(scenes):
        labels, matched = M.match_detections(pb, ps, gt, iou_thr, rule="coco", gt_ignore=ign)
        e = E.evalImgs[i]
        if e is None:
            assert len(pb) == 0
            continue
        # pycocotools lists detections in descending score order (stable) with ids = input order + offset
        order = np.argsort(-ps, kind="stable")
        first_id = min(e["dtIds"]) if e["dtIds"] else 0
        np.testing.assert_array_equal(np.asarray(e["dtIds"]) - first_id, order)
        m = e["dtMatches"][0] > 0
        ig = e["dtIgnore"][0].astype(bool)
        expected = np.where(m & ig, -1, np.where(m, 1, 0))
        np.testing.assert_array_equal(labels[order], expected)
        gt_first = min(a for a in E.cocoGt.getAnnIds(imgIds=[i + 1])) if len(gt) else 0
        np.testing.assert_array_equal(np.where(m, e["dtMatches"][0] - gt_first, -1), matched[order])
        tp, fp, fn = M.detection_counts(labels, int((~ign).sum()))
        assert tp == int((m & ~ig).sum()) and fp == int((~m & ~ig).sum())
        assert fn == int((e["gtIgnore"] == 0).sum()) - tp
        n_tp += tp
    assert n_tp > 5


def _voc_match_reference(pb, ps, gt, difficult, thr):
    """The VOC devkit's loop: best-overlap ground truth only, strict IoU > thr."""
    order = np.argsort(-ps, kind="stable")
    taken = np.zeros(len(gt), bool)
    out = np.zeros(len(pb), int)
    for d in order:
        b = pb[d]
        ovmax, jmax = -np.inf, -1
        if len(gt):
            ix1 = np.maximum(gt[:, 0], b[0])
            iy1 = np.maximum(gt[:, 1], b[1])
            ix2 = np.minimum(gt[:, 2], b[2])
            iy2 = np.minimum(gt[:, 3], b[3])
            inter = np.maximum(ix2 - ix1, 0.0) * np.maximum(iy2 - iy1, 0.0)
            uni = (b[2] - b[0]) * (b[3] - b[1]) + (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1]) - inter
            ov = inter / uni
            ovmax, jmax = ov.max(), int(ov.argmax())
        if ovmax > thr:
            if difficult[jmax]:
                out[d] = -1
            elif not taken[jmax]:
                out[d], taken[jmax] = 1, True
            else:
                out[d] = 0
        else:
            out[d] = 0
    return out


@pytest.mark.parametrize("seed", range(3))
def test_match_detections_voc_rule_equals_devkit_loop(seed):
    for pb, ps, gt, ign in _det_scene(seed + 10):
        labels, _ = M.match_detections(pb, ps, gt, 0.5, rule="voc", gt_ignore=ign)
        np.testing.assert_array_equal(labels, _voc_match_reference(pb, ps, gt, ign, 0.5))


def test_match_detections_highest_confidence_is_tp_and_score_threshold():
    gt = np.array([[0.0, 0.0, 10.0, 10.0]])
    pb = np.array([[0.0, 0.0, 10.0, 10.0], [0.5, 0.0, 10.0, 10.0], [0.0, 0.0, 9.0, 10.0]])
    ps = np.array([0.3, 0.9, 0.6])
    for rule in ("coco", "voc"):
        labels, matched = M.match_detections(pb, ps, gt, 0.5, rule=rule)
        # the perfect box has the lowest score; the highest-confidence match takes the ground truth
        np.testing.assert_array_equal(labels, [0, 1, 0])
        labels, _ = M.match_detections(pb, ps, gt, 0.5, rule=rule, score_threshold=0.95)
        np.testing.assert_array_equal(labels, [-2, -2, -2])


# ------------------------------------------------------------------------------- PR curve and AP
@pytest.mark.parametrize("seed", range(4))
def test_coco101_ap_equals_pycocotools(seed):
    scenes = _det_scene(seed + 20, n_img=20)
    for thr in (0.5, 0.7, 0.9):
        E = _pycocotools_single_class(scenes, thr)
        labels, scores, num_gt = [], [], 0
        for pb, ps, gt, _ in scenes:
            lab, _ = M.match_detections(pb, ps, gt, thr, rule="coco")
            labels.append(lab)
            scores.append(ps)
            num_gt += len(gt)
        prec, rec, _ = M.pr_curve(np.concatenate(scores), np.concatenate(labels), num_gt)
        ap = M.average_precision(rec, prec, method="coco101")
        np.testing.assert_allclose(ap, E.eval["precision"][0, :, 0, 0, 0].mean(), rtol=0, atol=TOL)
        np.testing.assert_allclose(rec[-1], E.eval["recall"][0, 0, 0, 0], rtol=0, atol=TOL)


def _voc07_reference(rec, prec):
    ap = 0.0
    for t in np.arange(0.0, 1.1, 0.1):
        p = 0.0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
        ap += p / 11.0
    return ap


def _voc_all_reference(rec, prec):
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=0, max_size=60), st.integers(1, 40))
def test_voc_ap_formulas(points, extra_gt):
    scores = np.array([s / 20 for s, _ in points])
    labels = np.array([int(t) for _, t in points])
    num_gt = int(labels.sum()) + extra_gt
    prec, rec, thr = M.pr_curve(scores, labels, num_gt)
    np.testing.assert_allclose(M.average_precision(rec, prec, "voc11"), _voc07_reference(rec, prec), rtol=0, atol=TOL)
    np.testing.assert_allclose(
        M.average_precision(rec, prec, "voc_all"), _voc_all_reference(rec, prec), rtol=0, atol=TOL
    )
    assert np.all(np.diff(thr) <= 0)


@pytest.mark.parametrize("seed", range(3))
def test_pr_curve_equals_sklearn_without_ties(seed):
    rng = np.random.default_rng(seed)
    scores = rng.permutation(200) / 200.0
    labels = (rng.random(200) < 0.4).astype(int)
    prec, rec, thr = M.pr_curve(scores, labels, int(labels.sum()))
    p_ref, r_ref, t_ref = skm.precision_recall_curve(labels, scores)
    np.testing.assert_allclose(prec, p_ref[:-1][::-1], rtol=0, atol=TOL)
    np.testing.assert_allclose(rec, r_ref[:-1][::-1], rtol=0, atol=TOL)
    np.testing.assert_array_equal(thr, t_ref[::-1])


def test_ap_edge_cases_and_errors():
    for method in ("voc11", "voc_all", "coco101"):
        assert M.average_precision([], [], method) == 0.0
        assert M.average_precision([1.0], [1.0], method) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        M.average_precision([0.5], [1.0], "voc12")
    with pytest.raises(ValueError, match="non-decreasing"):
        M.average_precision([0.5, 0.2], [1.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        M.average_precision([0.5], [1.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        M.average_precision([np.nan], [1.0])
    with pytest.raises(ValueError, match="num_gt must be a positive integer"):
        M.pr_curve([0.5], [1], 0)
    with pytest.raises(ValueError, match="scores contains NaN"):
        M.pr_curve([np.nan], [1], 1)
    with pytest.raises(ValueError, match=r"gt_boxes\[0\].*x2 < x1"):
        M.match_detections(np.zeros((1, 4)), [0.5], [[5, 0, 1, 1]])
    with pytest.raises(ValueError, match="shape \\(N, 4\\)"):
        M.match_detections(np.zeros((2, 3)), [0.5, 0.4], np.zeros((0, 4)))
    with pytest.raises(ValueError, match="pred_scores has 1 entries for 2 boxes"):
        M.match_detections(np.zeros((2, 4)), [0.5], np.zeros((0, 4)))
    with pytest.raises(ValueError, match="rule must be"):
        M.match_detections(np.zeros((1, 4)), [0.5], np.zeros((0, 4)), rule="yolo")
    with pytest.raises(ValueError, match="true positives for only"):
        M.detection_counts([1, 1], 1)
    labels, matched = M.match_detections(np.zeros((0, 4)), [], np.zeros((0, 4)))
    assert labels.shape == (0,) and matched.shape == (0,)


def test_plot_pr_curve():
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prec = np.array([1.0, 0.5, 0.67, 0.5])
    rec = np.array([0.25, 0.25, 0.5, 0.5])
    ax = M.plot_pr_curve(prec, rec, label="cls")
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), rec)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), prec)
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [1.0, 0.67, 0.67, 0.5])
    plt.close(ax.figure)
