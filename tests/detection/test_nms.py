"""NMS variants against OpenCV's cv2.dnn NMS functions, reference loops and torch (YOLOv5/CenterNet)."""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import deepnotes as dn
from deepnotes.detection import batched_nms, centernet_peaks, diou_nms, merge_nms, nms, soft_nms, weighted_box_voting

cv2 = importlib.import_module("cv2")
tvb = importlib.import_module("torchvision.ops.boxes")


def random_set(rng, n, img=200.0, lo=5.0, hi=60.0):
    xy = rng.uniform(0, img, (n, 2))
    wh = rng.uniform(lo, hi, (n, 2))
    boxes = np.concatenate([xy, xy + wh], 1)
    scores = rng.permutation(n).astype(np.float64) / n * 0.98 + 0.01  # distinct, exact in float32
    return boxes, scores


def xywh(boxes):
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1)


def reference_greedy(boxes, scores, thr, labels=None, metric=None):
    """Greedy NMS written from its definition: visit by decreasing score (ties: lower index), keep a box
    unless some kept box of the same label overlaps it by more than ``thr``."""
    metric = metric or tvb.box_iou
    m = metric(torch.tensor(boxes), torch.tensor(boxes)).numpy()
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(not (m[k, i] > thr) or (labels is not None and labels[k] != labels[i]) for k in keep):
            keep.append(i)
    return np.array(keep, dtype=np.int64)


# --------------------------------------------------------------------------- nms / batched_nms
@pytest.mark.parametrize("thr", [0.0, 0.3, 0.5, 0.7, 0.95])
@pytest.mark.parametrize(
    "seed,n,img,lo,hi", [(0, 300, 200, 5, 60), (1, 2000, 400, 5, 40), (2, 1500, 100, 30, 90), (3, 40, 50, 1, 30)]
)
def test_nms_matches_opencv(seed, n, img, lo, hi, thr):
    rng = np.random.default_rng(seed)
    boxes, scores = random_set(rng, n, img, lo, hi)
    ref = np.asarray(cv2.dnn.NMSBoxes(xywh(boxes), scores.astype(np.float32), 0.0, thr)).reshape(-1)
    keep = nms(boxes, scores, thr)
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, ref)


def test_nms_matches_reference_loop_and_tensor_io(rng):
    boxes, scores = random_set(rng, 150)
    keep = nms(dn.tensor(boxes), dn.tensor(scores), 0.4)
    assert isinstance(keep, dn.Tensor)
    np.testing.assert_array_equal(keep.data, reference_greedy(boxes, scores, 0.4))


@pytest.mark.parametrize("thr", [0.2, 0.5])
def test_batched_nms_matches_opencv(rng, thr):
    boxes, scores = random_set(rng, 800, img=150)
    labels = rng.integers(0, 4, 800)
    ref = np.asarray(
        cv2.dnn.NMSBoxesBatched(xywh(boxes), scores.astype(np.float32), labels.astype(np.int32), 0.0, thr)
    ).reshape(-1)
    keep = batched_nms(boxes, scores, labels, thr)
    # OpenCV returns the per-class survivors in its own order; torchvision sorts by decreasing score
    np.testing.assert_array_equal(np.sort(keep), np.sort(ref))
    assert np.all(np.diff(scores[keep]) < 0)
    np.testing.assert_array_equal(keep, reference_greedy(boxes, scores, thr, labels))


def test_batched_nms_never_suppresses_across_classes():
    boxes = np.array([[0.0, 0, 10, 10]] * 3)
    scores = np.array([0.9, 0.8, 0.7])
    np.testing.assert_array_equal(batched_nms(boxes, scores, np.array([0, 1, 0]), 0.5), [0, 1])
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [0])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.integers(0, 5),
            st.integers(0, 4),
            st.integers(0, 4),
            st.sampled_from([0.2, 0.5, 0.9]),
            st.integers(0, 1),
        ),
        min_size=0,
        max_size=12,
    ),
    st.sampled_from([-0.1, 0.0, 0.3, 0.5]),
)
def test_nms_ties_degenerate_boxes_and_empty(rows, thr):
    """Integer boxes with zero widths (IoU 0/0 = NaN never suppresses), tied scores and negative
    thresholds, against the reference loop (torchvision semantics)."""
    if rows:
        r = np.array(rows, dtype=np.float64)
        boxes = np.stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]], 1)
        scores, labels = r[:, 4], r[:, 5].astype(np.int64)
    else:
        boxes, scores, labels = np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(nms(boxes, scores, thr), reference_greedy(boxes, scores, thr))
        np.testing.assert_array_equal(
            batched_nms(boxes, scores, labels, thr), reference_greedy(boxes, scores, thr, labels)
        )
        np.testing.assert_array_equal(
            diou_nms(boxes, scores, thr), reference_greedy(boxes, scores, thr, metric=tvb.distance_box_iou)
        )


# --------------------------------------------------------------------------- DIoU-NMS
@pytest.mark.parametrize("thr", [0.2, 0.45, 0.6])
def test_diou_nms_matches_reference_loop(rng, thr):
    boxes, scores = random_set(rng, 250, img=120)
    np.testing.assert_array_equal(
        diou_nms(boxes, scores, thr), reference_greedy(boxes, scores, thr, metric=tvb.distance_box_iou)
    )
    labels = rng.integers(0, 3, 250)
    np.testing.assert_array_equal(
        diou_nms(boxes, scores, thr, idxs=labels), reference_greedy(boxes, scores, thr, labels, tvb.distance_box_iou)
    )


def test_diou_nms_keeps_distant_centres():
    # IoU 0.6 > 0.58, but the centre-distance penalty (0.029) brings DIoU to 0.571: DIoU-NMS keeps both
    boxes = np.array([[0.0, 0, 10, 10], [0, 0, 10, 16.6667]])
    scores = np.array([0.9, 0.8])
    assert len(nms(boxes, scores, 0.58)) == 1
    assert len(diou_nms(boxes, scores, 0.58)) == 2


# --------------------------------------------------------------------------- soft-NMS
def integer_set(rng, n, img=60, lo=4, hi=30):
    xy = rng.integers(0, img, (n, 2))
    wh = rng.integers(lo, hi, (n, 2))
    scores = (rng.permutation(n) + 1).astype(np.float32) / np.float32(n + 1)
    return xy, wh, scores


@pytest.mark.parametrize("method", ["linear", "gaussian"])
@pytest.mark.parametrize("seed", [0, 1, 2])
# Integer boxes have rational IoUs; OpenCV rounds the IoU through float (1 - (1 - IoU)), so a threshold
# equal to an attainable IoU such as 0.1 = 20/200 would be decided by rounding.  The thresholds below
# are not small-denominator fractions.
@pytest.mark.parametrize("thr,sigma,score_thr", [(0.3137, 0.5, 0.001), (0.5071, 0.3, 0.05), (0.1049, 1.0, 0.2)])
def test_soft_nms_matches_opencv(seed, method, thr, sigma, score_thr):
    rng = np.random.default_rng(seed)
    xy, wh, scores = integer_set(rng, 80)
    cv_method = cv2.dnn.SOFT_NMSMETHOD_SOFTNMS_LINEAR if method == "linear" else cv2.dnn.SOFT_NMSMETHOD_SOFTNMS_GAUSSIAN
    ref_scores, ref_idx = cv2.dnn.softNMSBoxes(
        np.concatenate([xy, wh], 1).astype(np.int32), scores, score_thr, thr, sigma=sigma, method=cv_method
    )
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float64)
    keep, new_scores = soft_nms(
        boxes, scores.astype(np.float64), method=method, sigma=sigma, iou_threshold=thr, score_threshold=score_thr
    )
    np.testing.assert_array_equal(keep, np.asarray(ref_idx).reshape(-1))
    np.testing.assert_allclose(new_scores, np.asarray(ref_scores).reshape(-1), rtol=2e-6, atol=1e-7)


def test_soft_nms_top_k_and_ties_match_opencv():
    xy = np.array([[0, 0], [1, 0], [0, 0], [30, 30]])
    wh = np.array([[10, 10]] * 4)
    scores = np.array([0.5, 0.5, 0.5, 0.4], dtype=np.float32)
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float64)
    for top_k in [0, 2]:
        ref_s, ref_i = cv2.dnn.softNMSBoxes(
            np.concatenate([xy, wh], 1).astype(np.int32),
            scores,
            0.0,
            0.3,
            top_k=top_k,
            method=cv2.dnn.SOFT_NMSMETHOD_SOFTNMS_LINEAR,
        )
        keep, s = soft_nms(boxes, scores.astype(np.float64), iou_threshold=0.3, score_threshold=0.0, top_k=top_k)
        np.testing.assert_array_equal(keep, np.asarray(ref_i).reshape(-1))
        np.testing.assert_allclose(s, np.asarray(ref_s).reshape(-1), rtol=1e-6)


def test_soft_nms_empty_and_tensor_io():
    keep, s = soft_nms(np.zeros((0, 4)), np.zeros(0))
    assert keep.shape == (0,) and s.shape == (0,)
    keep, s = soft_nms(dn.tensor([[0.0, 0, 1, 1]]), dn.tensor([0.5]))
    assert isinstance(keep, dn.Tensor) and keep.tolist() == [0] and s.tolist() == [0.5]


# --------------------------------------------------------------------------- merge-NMS (YOLOv5)
def yolov5_merge(boxes, scores, classes, keep, thr, max_wh=7680.0):
    """YOLOv5's merge step (utils/general.py non_max_suppression, merge=True) written in torch."""
    x = torch.tensor(boxes)
    s = torch.tensor(scores)
    off = torch.tensor(classes, dtype=torch.float64)[:, None] * max_wh
    b = x + off
    i = torch.tensor(keep)
    iou = tvb.box_iou(b[i], b) > thr
    weights = iou * s[None]
    return (torch.mm(weights, x) / weights.sum(1, keepdim=True)).numpy()


@pytest.mark.parametrize("thr", [0.3, 0.6])
def test_merge_nms_matches_yolov5(rng, thr):
    boxes, scores = random_set(rng, 500, img=120)
    classes = rng.integers(0, 3, 500)
    keep, merged = merge_nms(boxes, scores, thr, idxs=classes)
    ref_keep = np.asarray(
        cv2.dnn.NMSBoxesBatched(xywh(boxes), scores.astype(np.float32), classes.astype(np.int32), 0.0, thr)
    ).reshape(-1)
    np.testing.assert_array_equal(np.sort(keep), np.sort(ref_keep))
    np.testing.assert_allclose(merged, yolov5_merge(boxes, scores, classes, keep, thr), rtol=1e-12)
    # class-agnostic variant
    keep, merged = merge_nms(boxes, scores, thr)
    np.testing.assert_allclose(merged, yolov5_merge(boxes, scores, np.zeros(500), keep, thr), rtol=1e-12)
    np.testing.assert_allclose(weighted_box_voting(boxes, scores, keep, thr), merged, rtol=0)


def test_weighted_box_voting_small_example():
    boxes = np.array([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]])
    scores = np.array([0.6, 0.2, 0.9])
    out = weighted_box_voting(boxes, scores, [0, 2], 0.5)
    np.testing.assert_allclose(out[0], (0.6 * boxes[0] + 0.2 * boxes[1]) / 0.8)
    np.testing.assert_allclose(out[1], boxes[2])
    assert weighted_box_voting(boxes, scores, np.zeros(0, np.int64)).shape == (0, 4)


# --------------------------------------------------------------------------- CenterNet peaks
def centernet_reference(heat, k, kernel):
    h = torch.tensor(heat)
    pad = (kernel - 1) // 2
    hmax = F.max_pool2d(h, (kernel, kernel), stride=1, padding=pad)
    peaks = h * (hmax == h).double()
    b, c, hh, ww = h.shape
    scores, inds = torch.topk(peaks.view(b, -1), k)
    return scores.numpy(), (inds // (hh * ww)).numpy(), (inds % (hh * ww) // ww).numpy(), (inds % ww).numpy()


@pytest.mark.parametrize("kernel", [3, 5])
def test_centernet_peaks_match_torch(rng, kernel):
    heat = 1 / (1 + np.exp(-rng.standard_normal((2, 3, 16, 13)) * 2))  # > 20 true peaks: no ties
    ours = centernet_peaks(heat, k=20, kernel=kernel)
    ref = centernet_reference(heat, 20, kernel)
    for a, b in zip(ours, ref):
        np.testing.assert_array_equal(a, b)
    single = centernet_peaks(heat[1], k=20, kernel=kernel)
    for a, b in zip(single, ours):
        np.testing.assert_array_equal(a, b[1])


def test_centernet_peaks_finds_planted_peaks():
    heat = np.zeros((2, 8, 8))
    heat[0, 2, 3], heat[1, 6, 6], heat[0, 2, 4] = 0.9, 0.8, 0.7  # (2, 4) is next to a larger peak
    scores, classes, ys, xs = centernet_peaks(heat, k=2)
    np.testing.assert_array_equal(scores, [0.9, 0.8])
    np.testing.assert_array_equal(np.stack([classes, ys, xs], 1), [[0, 2, 3], [1, 6, 6]])


# --------------------------------------------------------------------------- bad input
def test_nms_rejects_bad_input():
    b = np.array([[0.0, 0, 1, 1], [0, 0, 2, 2]])
    s = np.array([0.5, 0.4])
    with pytest.raises(ValueError, match=r"nms: boxes\[1\] = \[2\.0, 0\.0, 1\.0, 2\.0\] has x2 < x1"):
        nms(np.array([[0.0, 0, 1, 1], [2, 0, 1, 2]]), s, 0.5)
    with pytest.raises(ValueError, match=r"nms: expected scores of shape \(2,\)"):
        nms(b, np.array([0.5]), 0.5)
    with pytest.raises(ValueError, match="nms: scores contain NaN at index 1"):
        nms(b, np.array([0.5, np.nan]), 0.5)
    with pytest.raises(ValueError, match=r"batched_nms: expected idxs of shape \(2,\)"):
        batched_nms(b, s, np.array([0]), 0.5)
    with pytest.raises(TypeError, match="batched_nms: idxs must hold integer category ids"):
        batched_nms(b, s, np.array([0.5, 1.5]), 0.5)
    with pytest.raises(ValueError, match=r"nms: expected boxes of shape \(N, 4\)"):
        nms(np.zeros((1, 2, 4)), s, 0.5)
    with pytest.raises(ValueError, match="soft_nms: unknown method='hard'"):
        soft_nms(b, s, method="hard")
    with pytest.raises(ValueError, match="soft_nms: sigma must be positive"):
        soft_nms(b, s, method="gaussian", sigma=0)
    with pytest.raises(TypeError, match="nms: iou_threshold must be a number"):
        nms(b, s, "high")
    with pytest.raises(ValueError, match="centernet_peaks: kernel must be a positive odd integer"):
        centernet_peaks(np.zeros((1, 4, 4)), k=1, kernel=2)
    with pytest.raises(ValueError, match=r"centernet_peaks: k must be an integer in \[0, C\*H\*W = 16\]"):
        centernet_peaks(np.zeros((1, 4, 4)), k=17)
    with pytest.raises(ValueError, match=r"centernet_peaks: expected heatmap of shape \(C, H, W\)"):
        centernet_peaks(np.zeros((4, 4)), k=1)
    with pytest.raises(IndexError, match="weighted_box_voting: keep holds indices outside"):
        weighted_box_voting(b, s, [5])
