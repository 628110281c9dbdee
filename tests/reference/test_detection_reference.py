"""deepnotes.reference.nms, .roi_align and .coco_match against the fast detection kernels (windowed
greedy NMS, matrix-product RoI Align, the all-at-once COCO matcher) on random small cases.

torchvision's C++ operators do not load here (see tests/conftest.py), so NMS and RoI Align are compared
with the deepnotes fast path only (itself checked against OpenCV / an independent sampler in
tests/detection); the COCO matching reference is also checked once against pycocotools' own
``evaluateImg`` records."""

import contextlib
import copy
import importlib
import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import deepnotes as dn
from deepnotes import reference as ref
from deepnotes.detection import batched_nms, nms, roi_align
from deepnotes.detection.coco import COCO, COCOeval


# ------------------------------------------------------------------------------------------ NMS
@st.composite
def box_sets(draw):
    n = draw(st.integers(0, 14))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    x1, y1 = rng.integers(0, 12, n).astype(float), rng.integers(0, 12, n).astype(float)
    w, h = rng.integers(0, 8, n).astype(float), rng.integers(0, 8, n).astype(float)  # some empty boxes
    if draw(st.booleans()):  # non-integer corners as well
        x1, y1 = x1 + rng.uniform(0, 1, n), y1 + rng.uniform(0, 1, n)
    boxes = np.stack([x1, y1, x1 + w, y1 + h], axis=1).reshape(n, 4)
    scores = np.round(rng.uniform(0, 1, n), 1)  # many equal scores: ties go to the lower index
    labels = rng.integers(0, 3, n)
    return boxes, scores, labels


@settings(max_examples=40, deadline=None)
@given(box_sets(), st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 1.0]))
def test_nms_reference_equals_windowed_greedy(case, thr):
    boxes, scores, labels = case
    np.testing.assert_array_equal(ref.nms(boxes, scores, thr), nms(boxes, scores, thr))
    np.testing.assert_array_equal(ref.nms(boxes, scores, thr, idxs=labels), batched_nms(boxes, scores, labels, thr))


def test_nms_reference_fixed_case():
    """A hand-checked case: boxes 0, 1 overlap with IoU 0.6, box 2 is apart, box 3 is empty."""
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 6], [20, 20, 30, 30], [5, 5, 5, 5]], dtype=float)
    scores = np.array([0.9, 0.95, 0.5, 0.99])
    assert ref.box_iou_pair(boxes[0], boxes[1]) == 0.6
    assert ref.nms(boxes, scores, 0.5) == [3, 1, 2] == nms(boxes, scores, 0.5).tolist()
    assert ref.nms(boxes, scores, 0.6) == [3, 1, 0, 2] == nms(boxes, scores, 0.6).tolist()


# ------------------------------------------------------------------------------------ RoI Align
@st.composite
def roi_cases(draw):
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    H, W = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    scale = draw(st.sampled_from([0.5, 1.0, 0.25]))
    K = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    x1 = rng.uniform(-3, W / scale, K)
    y1 = rng.uniform(-3, H / scale, K)
    x2 = x1 + rng.uniform(0, 1.2 * W / scale, K) * (rng.random(K) > 0.1)  # some zero-width boxes
    y2 = y1 + rng.uniform(0, 1.2 * H / scale, K)
    rois = np.stack([rng.integers(0, N, K), x1, y1, x2, y2], axis=1)
    return dict(
        x=rng.standard_normal((N, C, H, W)),
        rois=rois,
        scale=scale,
        out=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        ratio=draw(st.sampled_from([-1, 0, 1, 2, 3])),
        aligned=draw(st.booleans()),
        cot_seed=draw(st.integers(0, 2**31)),
    )


@settings(max_examples=40, deadline=None)
@given(roi_cases())
def test_roi_align_reference_equals_matrix_path(case):
    kw = dict(
        output_size=case["out"], spatial_scale=case["scale"], sampling_ratio=case["ratio"], aligned=case["aligned"]
    )
    xt = dn.Tensor(case["x"], requires_grad=True)
    y = roi_align(xt, case["rois"], **kw)
    cot = np.random.default_rng(case["cot_seed"]).standard_normal(y.shape)
    y.backward(dn.Tensor(cot))
    np.testing.assert_allclose(ref.roi_align_forward(case["x"], case["rois"], **kw), y.data, rtol=1e-12, atol=1e-12)
    dx = ref.roi_align_backward(cot, case["x"].shape, case["rois"], **kw)
    np.testing.assert_allclose(dx, xt.grad, rtol=1e-12, atol=1e-12)


def test_roi_align_reference_fixed_case():
    """On a linear map f(y, x) = 10 y + x bilinear interpolation is exact, so every bin of a box well
    inside the map is the value at the bin centre."""
    H, W = 6, 8
    x = (10.0 * np.arange(H)[:, None] + np.arange(W)[None, :])[None, None]
    rois = np.array([[0, 1.0, 1.0, 5.0, 3.0]])
    out = ref.roi_align_forward(x, rois, (2, 2), sampling_ratio=2, aligned=False)
    centres_y, centres_x = np.array([1.5, 2.5]), np.array([2.0, 4.0])
    np.testing.assert_allclose(out[0, 0], 10 * centres_y[:, None] + centres_x[None, :], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out, roi_align(x, rois, (2, 2), sampling_ratio=2), rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------ COCO matching
def _coco_set(rng, n_img=2, n_cat=2):
    images = [{"id": i + 1, "width": 40, "height": 40} for i in range(n_img)]
    cats = [{"id": c + 1, "name": f"c{c}"} for c in range(n_cat)]
    anns, dets = [], []
    for img in images:
        for _ in range(int(rng.integers(0, 6))):
            x, y = float(rng.integers(0, 20)), float(rng.integers(0, 20))
            w, h = float(rng.integers(1, 16)), float(rng.integers(1, 16))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img["id"],
                    "category_id": int(rng.integers(1, n_cat + 1)),
                    "bbox": [x, y, w, h],
                    "area": float(rng.choice([w * h, 100.0, w * h * 0.7])),
                    "iscrowd": int(rng.random() < 0.25),
                }
            )
        own = [a for a in anns if a["image_id"] == img["id"]]
        for _ in range(int(rng.integers(0, 9))):
            cat = int(rng.integers(1, n_cat + 1))
            if own and rng.random() < 0.75:  # near a ground truth of this image, mostly of its category
                near = own[int(rng.integers(len(own)))]
                gx, gy, gw, gh = near["bbox"]
                box = [
                    gx + float(rng.integers(-2, 3)),
                    gy + float(rng.integers(-2, 3)),
                    max(gw + float(rng.integers(-2, 3)), 1.0),
                    max(gh + float(rng.integers(-2, 3)), 1.0),
                ]
                cat = near["category_id"] if rng.random() < 0.85 else cat
            else:
                box = [
                    float(rng.integers(0, 30)),
                    float(rng.integers(0, 30)),
                    float(rng.integers(1, 12)),
                    float(rng.integers(1, 12)),
                ]
            dets.append(
                {"image_id": img["id"], "category_id": cat, "bbox": box, "score": float(np.round(rng.uniform(0, 1), 1))}
            )
    return {"images": images, "annotations": anns, "categories": cats}, dets


THRESHOLDS = [0.3, 0.5, 0.7, 0.9, 1.0]
AREAS = [[0, 1e10], [0, 100], [100, 1e10]]


def _set_params(p, max_det):
    p.iouThrs = np.array(THRESHOLDS)
    p.areaRng = [list(a) for a in AREAS]
    p.areaRngLbl = ["all", "small", "large"]
    p.maxDets = [1, max_det]


def _check_records(records, gt, dets, max_det, label):
    """Every per-(category, area range, image) record against coco_match_image on the same data."""
    anns = {a["id"]: a for a in gt["annotations"]}
    results = {i + 1: d for i, d in enumerate(dets)}
    checked = 0
    for rec in records:
        if rec is None:
            continue
        img, cat, rng_ = rec["image_id"], rec["category_id"], rec["aRng"]
        g_ids = [a["id"] for a in gt["annotations"] if a["image_id"] == img and a["category_id"] == cat]
        d_ids = [i for i, d in results.items() if d["image_id"] == img and d["category_id"] == cat]
        out = ref.coco_match_image(
            [results[i]["bbox"] for i in d_ids],
            [results[i]["score"] for i in d_ids],
            [results[i]["bbox"][2] * results[i]["bbox"][3] for i in d_ids],
            [anns[j]["bbox"] for j in g_ids],
            [anns[j]["area"] for j in g_ids],
            [anns[j]["iscrowd"] for j in g_ids],
            iou_thresholds=THRESHOLDS,
            area_range=rng_,
            max_det=max_det,
        )
        where = f"{label}: image {img} category {cat} area {rng_}"
        assert [d_ids[i] for i in out["dt_order"]] == list(rec["dtIds"]), where
        assert [g_ids[j] for j in out["gt_order"]] == list(rec["gtIds"]), where
        dt_m = [[g_ids[j] if j >= 0 else 0 for j in row] for row in out["dt_matches"]]
        gt_m = [[d_ids[i] if i >= 0 else 0 for i in row] for row in out["gt_matches"]]
        np.testing.assert_array_equal(np.reshape(dt_m, np.shape(rec["dtMatches"])), rec["dtMatches"], err_msg=where)
        np.testing.assert_array_equal(np.reshape(gt_m, np.shape(rec["gtMatches"])), rec["gtMatches"], err_msg=where)
        np.testing.assert_array_equal(
            np.reshape(out["dt_ignore"], np.shape(rec["dtIgnore"])),
            np.asarray(rec["dtIgnore"], dtype=bool),
            err_msg=where,
        )
        np.testing.assert_array_equal(out["gt_ignore"], np.asarray(rec["gtIgnore"], dtype=bool), err_msg=where)
        checked += 1
    return checked


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), max_det=st.sampled_from([2, 5, 100]))
def test_coco_match_reference_equals_vectorised_evaluator(seed, max_det):
    gt, dets = _coco_set(np.random.default_rng(seed))
    g = COCO(copy.deepcopy(gt))
    if not dets:
        return  # nothing to match (loadRes warns on an empty result list)
    E = COCOeval(g, g.loadRes(copy.deepcopy(dets)), "bbox")
    _set_params(E.params, max_det)
    E.evaluate()
    _check_records(E.evalImgs, gt, dets, max_det, "deepnotes")


def test_coco_match_reference_matches_pycocotools():
    pc_coco = importlib.import_module("pycocotools.coco")
    pc_eval = importlib.import_module("pycocotools.cocoeval")
    gt, dets = _coco_set(np.random.default_rng(41), n_img=4, n_cat=2)
    with contextlib.redirect_stdout(io.StringIO()):
        g = pc_coco.COCO()
        g.dataset = copy.deepcopy(gt)
        g.createIndex()
        E = pc_eval.COCOeval(g, g.loadRes(copy.deepcopy(dets)), "bbox")
        _set_params(E.params, 5)
        E.evaluate()
    assert _check_records(E.evalImgs, gt, dets, 5, "pycocotools") >= 10
