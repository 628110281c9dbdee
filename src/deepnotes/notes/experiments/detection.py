"""Detection claims of the notes measurable with the detection toolkit: IoU / GIoU / DIoU as losses,
soft-NMS vs NMS, accuracy under imbalance, RoI Align vs RoI Pool, anchor-free heads and heatmap peaks,
YOLOv5's positive samples, and SPP-net.  (Claims about training a one-stage detector belong to the
detector issue.)"""

from __future__ import annotations

import math

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F
from deepnotes.analysis.complexity import count_parameters, profile
from deepnotes.detection import assign_yolov5
from deepnotes.detection.boxes import box_iou, distance_box_iou, generalized_box_iou
from deepnotes.detection.losses import _loss_inter_union, distance_box_iou_loss, generalized_box_iou_loss
from deepnotes.detection.metrics import (
    average_precision,
    confusion_matrix,
    f1_score,
    match_detections,
    pr_curve,
    recall_score,
)
from deepnotes.detection.nms import centernet_peaks, nms, soft_nms
from deepnotes.detection.roi import roi_align, roi_pool

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import mean_std, seeded, single_threaded


def _iou_loss(pred, target, eps=1e-7):
    """1 - IoU per box pair, differentiable (the plain IoU loss the GIoU / DIoU papers start from)."""
    inter, union = _loss_inter_union(pred, target)
    return 1 - inter / (union + eps)


_LOSSES = {"IoU": _iou_loss, "GIoU": generalized_box_iou_loss, "DIoU": distance_box_iou_loss}


def _grad_norm(loss_fn, pred, target):
    p = dn.tensor(np.asarray(pred, dtype=np.float64)).requires_grad_(True)
    loss_fn(p, dn.tensor(np.asarray(target, dtype=np.float64))).sum().backward()
    return float(np.linalg.norm(p.grad.numpy()))


def _regress(loss_fn, start, target, steps, lr):
    """Gradient descent on the corners of every predicted box (summed loss); returns the IoU with the
    target after each checkpoint step."""
    p = dn.tensor(start.copy()).requires_grad_(True)
    t = dn.tensor(target)
    opt = dn.optim.SGD([p], lr=lr)
    for _ in range(steps):
        loss = loss_fn(p, t).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with dn.no_grad():  # keep x1 < x2, y1 < y2
            d = p.data
            d[:, 2] = np.maximum(d[:, 2], d[:, 0] + 1e-3)
            d[:, 3] = np.maximum(d[:, 3], d[:, 1] + 1e-3)
    return np.diag(box_iou(p.detach().numpy(), target))


_IOU_CLAIM = (
    "IoU as a loss gives no gradient for non-overlapping boxes and cannot tell how boxes overlap; "
    "GIoU adds the empty part of the enclosing box (a gradient when apart, scale-invariant); "
    "DIoU adds the centre distance, still moves non-overlapping boxes and converges faster."
)


@experiment("iou_losses", ids=["S001-86", "S001-87", "S001-88"], claim=_IOU_CLAIM)
@single_threaded
def iou_losses(seed=0, quick=False):
    """Notes S001-86 (IoU as a loss: no gradient when the boxes do not overlap, "IoU无法精确的反应两者的重合
    大小"), S001-87 (GIoU = IoU - |C \\ (A u B)| / |C|, scale-insensitive, looks at the non-overlapping part)
    and S001-88 (DIoU = IoU - d^2 / c^2: moves non-overlapping boxes, "收敛更快", equals IoU only when the
    centres coincide).

    Measured (float64, autograd): gradient norms of 1 - IoU, 1 - GIoU and 1 - DIoU for two disjoint unit
    boxes; three boxes with the same IoU 0.25 against a 2x2 target (shifted sideways, centred inside,
    in a corner inside); the three measures and an L1 loss on the corners after scaling both boxes by 10;
    and a regression simulation: 400 predicted boxes (200 in quick mode) around random targets, half of
    them not overlapping their target, moved by gradient descent on their corners (SGD, lr 0.05, 150
    steps) with each loss; mean final IoU and the share of initially disjoint boxes that never overlap.
    Three seeds (five in full mode).

    Checks: the IoU loss's gradient is 0 for disjoint boxes; GIoU's and DIoU's are not; the IoU is the same
    for the three placements but DIoU separates the centred box from the corner box (by > 0.05) while GIoU
    does not (difference < 1e-9: GIoU degenerates to IoU when one box contains the other); all three
    measures are scale-invariant (< 1e-6, the eps of the formulas) while L1 grows 10x; DIoU ends with a higher mean
    IoU than GIoU
    in every seed (> +0.02); with the IoU loss >= 90% of the disjoint boxes stay disjoint.

    Outcome: everything holds except the faster convergence of DIoU.  In this simulation GIoU is slightly
    ahead at every checkpoint (mean IoU after 10 / 30 / 150 steps, seed 0, overlapping half: GIoU 0.40 /
    0.67 / 0.97, DIoU 0.40 / 0.65 / 0.96); boxes 3-5 units away barely move with either loss at this
    step size, and at lr 0.5 or 2 (tried by hand) the two stay within a few hundredths of each other
    with no consistent winner.  The DIoU paper's faster convergence comes from its own simulation
    protocol (and matters most when one box contains the other, where GIoU degenerates to IoU: shown above).
    """
    a, b = [[0.0, 0.0, 1.0, 1.0]], [[2.0, 0.0, 3.0, 1.0]]
    g = {k: _grad_norm(fn, a, b) for k, fn in _LOSSES.items()}
    target = np.array([[0.0, 0.0, 2.0, 2.0]])
    placements = {
        "shifted sideways": [1.2, 0.0, 3.2, 2.0],
        "centred inside": [0.5, 0.5, 1.5, 1.5],
        "corner inside": [0.0, 0.0, 1.0, 1.0],
    }
    meas = {}
    for name, box in placements.items():
        bx = np.array([box])
        meas[name] = (
            float(box_iou(bx, target)[0, 0]),
            float(generalized_box_iou(bx, target)[0, 0]),
            float(distance_box_iou(bx, target)[0, 0]),
        )
    scale_err = 0.0
    rng = seeded(seed)
    ctr = rng.uniform(0, 10, (50, 2))
    wh = rng.uniform(0.5, 3, (50, 2))
    p1 = np.concatenate([ctr - wh / 2, ctr + wh / 2], 1)
    ctr2 = ctr + rng.normal(0, 1, (50, 2))
    p2 = np.concatenate([ctr2 - wh / 2, ctr2 + wh / 2], 1)
    for fn in (box_iou, generalized_box_iou, distance_box_iou):
        scale_err = max(scale_err, float(np.abs(np.diag(fn(p1, p2)) - np.diag(fn(10 * p1, 10 * p2))).max()))
    l1_ratio = float(np.abs(10 * p1 - 10 * p2).sum() / np.abs(p1 - p2).sum())

    seeds = [seed + i for i in range(3 if quick else 5)]
    n = 200 if quick else 400
    final = {k: [] for k in _LOSSES}
    stuck = []
    for s in seeds:
        r = seeded(s)
        tc = r.uniform(-2, 2, (n, 2))
        twh = np.exp(r.uniform(np.log(1), np.log(3), (n, 2)))
        tgt = np.concatenate([tc - twh / 2, tc + twh / 2], 1)
        ang = r.uniform(0, 2 * np.pi, n)
        dist = np.where(np.arange(n) < n // 2, r.uniform(0, 1, n), r.uniform(3, 5, n))
        pc = tc + dist[:, None] * np.stack([np.cos(ang), np.sin(ang)], 1)
        pwh = np.exp(r.uniform(np.log(0.5), np.log(2), (n, 2)))
        start = np.concatenate([pc - pwh / 2, pc + pwh / 2], 1)
        disjoint = np.diag(box_iou(start, tgt)) == 0
        for name, fn in _LOSSES.items():
            iou = _regress(fn, start, tgt, 150, 0.05)
            final[name].append(float(iou.mean()))
            if name == "IoU":
                stuck.append(float((iou[disjoint] == 0).mean()))
    gap = [d - gg for d, gg in zip(final["DIoU"], final["GIoU"])]
    table1 = Table(
        "Disjoint unit boxes 1 apart: gradient norm of the loss w.r.t. the predicted corners",
        ["loss", "gradient norm"],
        [[k, v] for k, v in g.items()],
    )
    table2 = Table(
        "Three placements inside / beside a 2x2 target, all with IoU 0.25",
        ["placement", "IoU", "GIoU", "DIoU"],
        [[k, *v] for k, v in meas.items()],
    )
    table3 = Table(
        f"Box regression by gradient descent on corners (SGD lr 0.05, 150 steps, {n} boxes, half "
        f"disjoint at the start): mean final IoU",
        ["loss", "mean", "std"] + [f"seed {s}" for s in seeds],
        [[k, *mean_std(v), *v] for k, v in final.items()],
    )
    c, ci = meas["centred inside"], meas["corner inside"]
    checks = [
        Check("IoU loss gradient norm, disjoint boxes", g["IoU"], "<", 1e-12),
        Check("GIoU loss gradient norm, disjoint boxes", g["GIoU"], ">", 1e-3),
        Check("DIoU loss gradient norm, disjoint boxes", g["DIoU"], ">", 1e-3),
        Check("IoU spread over the three placements", float(np.ptp([v[0] for v in meas.values()])), "<", 1e-9),
        Check("DIoU centred minus corner (contained boxes)", c[2] - ci[2], ">", 0.05),
        Check("|GIoU centred - corner| (contained boxes: GIoU = IoU)", abs(c[1] - ci[1]), "<", 1e-9),
        Check("IoU, GIoU, DIoU change under x10 scaling, largest (eps = 1e-7 in the losses)", scale_err, "<", 1e-6),
        Check("L1 loss on corners, x10 scaled / original", l1_ratio, ">=", 9.999),
        Check("final mean IoU DIoU minus GIoU, smallest over seeds", min(gap), ">", 0.02, spread=mean_std(gap)[1]),
        Check("IoU loss: share of disjoint boxes still disjoint, smallest over seeds", min(stuck), ">=", 0.9),
    ]
    return Result(
        experiment="iou_losses",
        claim=_IOU_CLAIM,
        checks=checks,
        tables=[table1, table2, table3],
        seeds=seeds,
        quick=quick,
    )


def _crowd_scene(rng, n_pairs, size=200.0):
    """Ground truths in overlapping pairs (the second box of a pair is the first shifted by about a third of
    its width, IoU about 0.4-0.6) and detections: each object one good detection (jitter 3% of its size,
    score 0.6-1), two looser duplicates (jitter 10%, score 0.3-0.7), plus 5 random false positives."""
    gts, dets, scores = [], [], []
    for _ in range(n_pairs):
        w, h = rng.uniform(30, 60, 2)
        x, y = rng.uniform(0, size - 2 * w), rng.uniform(0, size - h)
        first = np.array([x, y, x + w, y + h])
        dx = rng.uniform(0.25, 0.4) * w
        gts += [first, first + np.array([dx, 0, dx, 0])]
    gts = np.array(gts)
    for gt in gts:
        w, h = gt[2] - gt[0], gt[3] - gt[1]
        for jit, lo, hi, k in ((0.03, 0.6, 1.0, 1), (0.10, 0.3, 0.7, 2)):
            for _ in range(k):
                dets.append(gt + rng.normal(0, jit, 4) * np.array([w, h, w, h]))
                scores.append(rng.uniform(lo, hi))
    for _ in range(5):
        x, y = rng.uniform(0, size - 40, 2)
        dets.append(np.array([x, y, x + rng.uniform(20, 40), y + rng.uniform(20, 40)]))
        scores.append(rng.uniform(0.0, 0.5))
    return gts, np.array(dets), np.array(scores)


_SOFT_CLAIM = (
    "Hard NMS deletes real objects that overlap the top box (lower recall); soft-NMS decays their "
    "scores instead, raising recall and AP."
)


@experiment("soft_nms_vs_nms", ids=["S001-97"], claim=_SOFT_CLAIM)
@single_threaded
def soft_nms_vs_nms(seed=0, quick=False):
    """Note S001-97: NMS "可能会把一些相邻检测框框给过滤掉, 从而导致目标的 recall 指标比较低"; soft-NMS decays
    the scores of overlapping boxes (linear or Gaussian) instead of zeroing them.

    Measured on generated crowded scenes: 3 pairs of overlapping objects per image (IoU within a pair
    about 0.4-0.6), per object a good detection and two looser duplicates, plus random false positives;
    40 images per seed (100 in full mode).  Hard NMS at IoU 0.5, soft-NMS linear (N_t 0.3) and Gaussian
    (sigma 0.5), score threshold 0.001.  Matching at IoU 0.5 (COCO rule), recall of all kept detections
    and AP (all-point).  Three seeds (five in full mode).

    Checks: Gaussian soft-NMS has a higher recall than hard NMS (by > 0.02) and a higher AP (by > 0.005) in
    every seed.
    """
    seeds = [seed + i for i in range(3 if quick else 5)]
    n_img = 40 if quick else 100
    methods = {
        "hard NMS 0.5": lambda b, s: (lambda k: (k, s[k]))(nms(b, s, 0.5)),
        "soft-NMS linear": lambda b, s: soft_nms(b, s, method="linear", iou_threshold=0.3),
        "soft-NMS Gaussian": lambda b, s: soft_nms(b, s, method="gaussian", sigma=0.5),
    }
    rec = {k: [] for k in methods}
    ap = {k: [] for k in methods}
    for s in seeds:
        rng = seeded(s)
        scenes = [_crowd_scene(rng, 3) for _ in range(n_img)]
        for name, fn in methods.items():
            all_scores, all_labels, n_gt = [], [], 0
            for gts, dets, scores in scenes:
                keep, kept = fn(dets, scores)
                keep = np.asarray(keep)
                kept = np.asarray(kept, dtype=np.float64)
                labels, _ = match_detections(dets[keep], kept, gts, 0.5)
                all_scores.append(kept)
                all_labels.append(np.asarray(labels))
                n_gt += len(gts)
            sc, lab = np.concatenate(all_scores), np.concatenate(all_labels)
            prec, recall, _ = pr_curve(sc, lab, n_gt)
            rec[name].append(float(recall[-1]))
            ap[name].append(float(average_precision(recall, prec, method="voc_all")))
    table = Table(
        f"Crowded scenes ({n_img} images x 6 objects per seed): recall and AP at IoU 0.5",
        ["method", "recall (mean)", "std", "AP (mean)", "std"],
        [[k, *mean_std(rec[k]), *mean_std(ap[k])] for k in methods],
    )
    dr = [a - b for a, b in zip(rec["soft-NMS Gaussian"], rec["hard NMS 0.5"])]
    da = [a - b for a, b in zip(ap["soft-NMS Gaussian"], ap["hard NMS 0.5"])]
    checks = [
        Check(
            "recall Gaussian soft-NMS minus hard NMS, smallest over seeds", min(dr), ">", 0.02, spread=mean_std(dr)[1]
        ),
        Check("AP Gaussian soft-NMS minus hard NMS, smallest over seeds", min(da), ">", 0.005, spread=mean_std(da)[1]),
    ]
    return Result(
        experiment="soft_nms_vs_nms", claim=_SOFT_CLAIM, checks=checks, tables=[table], seeds=seeds, quick=quick
    )


_ACC_CLAIM = (
    "Accuracy = (TP + TN) / (TP + FP + TN + FN) measures overall correctness but is misleading when "
    "the classes are imbalanced; F1 = 2PR / (P + R) = 2TP / (N + TP - TN)."
)


@experiment("accuracy_under_imbalance", ids=["S001-99"], claim=_ACC_CLAIM)
@single_threaded
def accuracy_under_imbalance(seed=0, quick=False):
    """Note S001-99: "准确率可以判断总的正确率, 但是在样本不平衡的情况下不能很好的作为指标来衡量结果", with the
    formulas of accuracy, precision, recall and F1 (including F1 = 2TP / (样例总数 + TP - TN)).

    Measured on generated labels with 1% positives (10000 samples per seed; 100000 in full mode): a classifier
    that always says "negative", and a useful one that finds 80% of the positives at a 2% false-positive
    rate.  Confusion matrix, accuracy, recall and F1 from deepnotes.detection.metrics.  Three seeds (five in full mode).

    Checks: the formulas agree with the metrics (accuracy from the confusion matrix, the note's F1 =
    2TP / (N + TP - TN) vs f1_score: < 1e-12); the always-negative classifier scores >= 0.98 accuracy with
    recall 0; the useful classifier has lower accuracy than the always-negative one but higher F1, in every
    seed (accuracy ranks them the wrong way round).
    """
    seeds = [seed + i for i in range(3 if quick else 5)]
    n = 10000 if quick else 100000
    rows, formula_err, trivial_acc, trivial_rec, inverted = [], 0.0, [], [], []
    for s in seeds:
        rng = seeded(s)
        y = (rng.random(n) < 0.01).astype(np.int64)
        trivial = np.zeros(n, dtype=np.int64)
        useful = np.where(y == 1, rng.random(n) < 0.8, rng.random(n) < 0.02).astype(np.int64)
        res = {}
        for name, pred in (("always negative", trivial), ("useful", useful)):
            cm = np.asarray(confusion_matrix(y, pred, labels=[0, 1]))
            tn, fp, fn, tp = cm.ravel()
            acc = (tp + tn) / cm.sum()
            formula_err = max(formula_err, abs(acc - float((pred == y).mean())))
            f1 = float(f1_score(y, pred, zero_division=0.0))
            f1_note = 2 * tp / (n + tp - tn)
            formula_err = max(formula_err, abs(f1 - f1_note))
            rec = float(recall_score(y, pred, zero_division=0.0))
            res[name] = (float(acc), rec, f1)
            rows.append([s, name, int(tp), int(fp), int(fn), int(tn), float(acc), rec, f1])
        trivial_acc.append(res["always negative"][0])
        trivial_rec.append(res["always negative"][1])
        inverted.append(
            float(res["useful"][0] < res["always negative"][0] and res["useful"][2] > res["always negative"][2])
        )
    table = Table(
        f"{n} samples, 1% positives", ["seed", "classifier", "TP", "FP", "FN", "TN", "accuracy", "recall", "F1"], rows
    )
    checks = [
        Check("largest |formula - metric| (accuracy, note's F1 formula)", formula_err, "<", 1e-12),
        Check("always-negative accuracy, smallest over seeds", min(trivial_acc), ">=", 0.98),
        Check("always-negative recall, largest over seeds", max(trivial_rec), "<=", 0.0),
        Check(
            "share of seeds where accuracy prefers always-negative but F1 the useful classifier",
            min(inverted),
            ">=",
            1.0,
        ),
    ]
    return Result(
        experiment="accuracy_under_imbalance", claim=_ACC_CLAIM, checks=checks, tables=[table], seeds=seeds, quick=quick
    )


def _bilinear(fmap, y, x):
    """Bilinear interpolation of a 2-D map at continuous (y, x), torchvision's border rule (clamped)."""
    h, w = fmap.shape
    y, x = min(max(y, 0.0), h - 1.0), min(max(x, 0.0), w - 1.0)
    y0, x0 = int(math.floor(y)), int(math.floor(x))
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    ly, lx = y - y0, x - x0
    return (
        (1 - ly) * (1 - lx) * fmap[y0, x0]
        + (1 - ly) * lx * fmap[y0, x1]
        + ly * (1 - lx) * fmap[y1, x0]
        + ly * lx * fmap[y1, x1]
    )


def _grid_average(fmap, box, out, ratio):
    """RoI Align by hand for one box (aligned=True): each of out x out bins averages a fixed ratio x ratio
    grid of bilinear samples at the bin's regular sub-cell centres."""
    x1, y1, x2, y2 = (v - 0.5 for v in box)
    bh, bw = (y2 - y1) / out, (x2 - x1) / out
    res = np.zeros((out, out))
    for i in range(out):
        for j in range(out):
            vals = [
                _bilinear(fmap, y1 + (i + (a + 0.5) / ratio) * bh, x1 + (j + (b + 0.5) / ratio) * bw)
                for a in range(ratio)
                for b in range(ratio)
            ]
            res[i, j] = np.mean(vals)
    return res


_ROI_CLAIM = (
    "RoI Align keeps the proposal's floating-point coordinates and samples each bin by bilinear "
    "interpolation (no quantisation); RoI Pool quantises twice.  The note: the sample points are a "
    "random number of random points per bin."
)


@experiment("roi_align_vs_roi_pool", ids=["S001-108"], claim=_ROI_CLAIM)
@single_threaded
def roi_align_vs_roi_pool(seed=0, quick=False):
    """Note S001-108: RoI Pooling quantises twice (box to feature-map cells, and bins), RoI Align uses the
    floating-point box and bilinear interpolation; "从cell中随机采样一点数目的点".

    Measured: (1) on a random 32x32 feature map, deepnotes.detection.roi_align (aligned, sampling ratio 2)
    against a hand-written average over a fixed, regular 2x2 grid of bilinear samples per bin, for 20
    random fractional boxes, and the same call repeated (a random sampler would differ); (2) on a ramp
    feature map f(y, x) = x, a 12-pixel box shifted right by 0, 0.1, ..., 0.9 pixel: the mean pooled value
    should follow the shift exactly (slope 1).  roi_pool (max) and roi_align (average) are both compared
    with the exact ramp statistic of the continuous bins (max: right edge; mean: centre), in pixel-centre
    coordinates.

    Checks: roi_align equals the regular-grid average (< 1e-5); the note's random points would make two
    identical calls differ (> 0) -- they do not, so that part of the note is wrong; roi_align follows a sub-pixel
    shift (largest error < 1e-4 pixel);
    roi_pool does not (largest error >= 0.25 pixel, its quantisation).
    """
    rng = seeded(seed)
    fmap = rng.normal(0, 1, (32, 32))
    boxes = []
    for _ in range(20):
        x1, y1 = rng.uniform(2, 18, 2)
        boxes.append([x1, y1, x1 + rng.uniform(4, 12), y1 + rng.uniform(4, 12)])
    boxes = np.array(boxes)
    inp = dn.tensor(fmap[None, None])
    rois = dn.tensor(np.concatenate([np.zeros((20, 1)), boxes], 1))
    out1 = roi_align(inp, rois, 4, sampling_ratio=2, aligned=True)
    out2 = roi_align(inp, rois, 4, sampling_ratio=2, aligned=True)
    out1 = np.asarray(out1.numpy() if hasattr(out1, "numpy") else out1)
    out2 = np.asarray(out2.numpy() if hasattr(out2, "numpy") else out2)
    manual = np.stack([_grid_average(fmap, b, 4, 2) for b in boxes])
    grid_err = float(np.abs(out1[:, 0] - manual).max())
    repeat = float(np.abs(out1 - out2).max())

    ramp = np.tile(np.arange(32, dtype=np.float64), (32, 1))
    rinp = dn.tensor(ramp[None, None])
    shifts = np.round(np.arange(0, 1.0, 0.1), 10)
    align_err, pool_err, rows = 0.0, 0.0, []
    for d in shifts:
        box = np.array([[0.0, 8.0 + d, 8.0, 20.0 + d, 20.0]])
        a = roi_align(rinp, dn.tensor(box), 4, sampling_ratio=2, aligned=True)
        p = roi_pool(rinp, dn.tensor(box), 4)
        a = np.asarray(a.numpy() if hasattr(a, "numpy") else a)[0, 0]
        p = np.asarray(p.numpy() if hasattr(p, "numpy") else p)[0, 0]
        edges = 8.0 + d + 3.0 * np.arange(5)
        exact_mean = (edges[:-1] + edges[1:]) / 2 - 0.5  # pixel i covers [i, i + 1), value i at its centre
        exact_max = edges[1:] - 0.5
        ae = float(np.abs(a - exact_mean[None, :]).max())
        pe = float(np.abs(p - exact_max[None, :]).max())
        align_err, pool_err = max(align_err, ae), max(pool_err, pe)
        rows.append(
            [float(d), float(a.mean()), float(exact_mean.mean()), ae, float(p.mean()), float(exact_max.mean()), pe]
        )
    table = Table(
        "Ramp f(y, x) = x, a 12-pixel box shifted right by d pixels, 4x4 output",
        [
            "shift d",
            "roi_align mean",
            "exact bin mean",
            "roi_align max error",
            "roi_pool mean",
            "exact bin max",
            "roi_pool max error",
        ],
        rows,
    )
    table2 = Table(
        "roi_align vs a fixed regular 2x2 sampling grid per bin (20 random boxes)",
        ["quantity", "value"],
        [
            ["largest |roi_align - regular-grid average|", grid_err],
            ["largest difference between two identical calls", repeat],
        ],
    )
    fig = Figure(
        "shift",
        "Mean pooled value of a ramp as the box moves",
        "shift (pixels)",
        "mean output",
        {
            "roi_align": (shifts.tolist(), [r[1] for r in rows]),
            "roi_pool": (shifts.tolist(), [r[4] for r in rows]),
            "exact mean": (shifts.tolist(), [r[2] for r in rows]),
        },
    )
    checks = [
        Check("largest |roi_align - regular 2x2 grid average|", grid_err, "<", 1e-5),
        Check(
            "the note's random sample points: largest difference between two identical roi_align calls",
            repeat,
            ">",
            0.0,
        ),
        Check("roi_align vs exact ramp bin mean under sub-pixel shifts, largest error", align_err, "<", 1e-4),
        Check("roi_pool vs exact ramp bin max under sub-pixel shifts, largest error", pool_err, ">=", 0.25),
    ]
    return Result(
        experiment="roi_align_vs_roi_pool",
        claim=_ROI_CLAIM,
        checks=checks,
        tables=[table2, table],
        figures=[fig],
        seeds=[seed],
        quick=quick,
    )


_AF_CLAIM = (
    "An anchor-free head has 2/3 fewer parameters than an anchor-based one (one box per location "
    "instead of 3), and CenterNet's 3x3 max pooling on the heatmap replaces NMS."
)


def _head(channels, n_out, tower):
    layers = []
    for _ in range(tower):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
    layers.append(nn.Conv2d(channels, n_out, 1))
    return nn.Sequential(*layers)


@experiment("anchor_free_head_and_peaks", ids=["S001-110"], claim=_AF_CLAIM)
@single_threaded
def anchor_free_head_and_peaks(seed=0, quick=False):
    """Note S001-110: "Anchor-free要比Anchor-based少2/3的参数量, 因为Anchor-based一个位置要预测3个长宽不同的
    bbox, 而free只预测一个", and (in the catalogue entry) CenterNet's heatmap max pooling as NMS.

    Measured: parameter counts (deepnotes.analysis.count_parameters) of YOLO-style prediction heads for 80
    classes on 256 channels: the 1x1 output convolution alone (3 anchors x 85 outputs vs 85), and heads
    with a tower of two 3x3 convolutions before it.  Then heatmaps of 8 objects (Gaussian peaks, sigma 2,
    centres at least 6 cells apart, on 64x64 plus uniform noise up to 0.05): CenterNet decoding
    (centernet_peaks, 3x3 max pooling then top 8) vs the top 8 cells without the pooling.  20 maps per
    seed (50 in full mode), three seeds (five in full mode).

    Checks: the anchor-free output layer has <= 0.34x the anchor-based one's parameters (the note's 2/3
    fewer); with the convolution tower the whole head still has <= 0.34x (the note's claim as stated for
    the model); the pooled decoding finds every centre exactly (recall 1.0 in every seed); without pooling
    the top 8 cells miss objects (recall <= 0.8, duplicates on the strongest peaks).
    """
    out_ab = count_parameters(_head(256, 3 * 85, 0))
    out_af = count_parameters(_head(256, 85, 0))
    head_ab = count_parameters(_head(256, 3 * 85, 2))
    head_af = count_parameters(_head(256, 85, 2))
    seeds = [seed + i for i in range(3 if quick else 5)]
    n_maps = 20 if quick else 50
    rec_pool, rec_plain = [], []
    yy, xx = np.mgrid[0:64, 0:64]
    for s in seeds:
        rng = seeded(s)
        hits_pool = hits_plain = total = 0
        for _ in range(n_maps):
            centres = []
            while len(centres) < 8:
                c = rng.integers(4, 60, 2)
                if all(np.abs(c - o).max() >= 6 for o in centres):
                    centres.append(c)
            heat = rng.uniform(0, 0.05, (64, 64))
            for cy, cx in centres:
                heat = np.maximum(heat, rng.uniform(0.5, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0))
            _, _, ys, xs = centernet_peaks(heat[None].astype(np.float32), k=8)
            found = {(int(a), int(b)) for a, b in zip(np.asarray(ys), np.asarray(xs))}
            flat = np.argsort(-heat.ravel(), kind="stable")[:8]
            plain = {(int(i // 64), int(i % 64)) for i in flat}
            truth = {(int(a), int(b)) for a, b in centres}
            hits_pool += len(found & truth)
            hits_plain += len(plain & truth)
            total += len(truth)
        rec_pool.append(hits_pool / total)
        rec_plain.append(hits_plain / total)
    table = Table(
        "Prediction-head parameters, 80 classes, 256 channels",
        ["head", "anchor-based (3 anchors)", "anchor-free", "ratio"],
        [
            ["1x1 output convolution", out_ab, out_af, out_af / out_ab],
            ["two 3x3 convolutions + output", head_ab, head_af, head_af / head_ab],
        ],
    )
    table2 = Table(
        f"Heatmap decoding, 8 objects per 64x64 map, {n_maps} maps per seed",
        ["decoding", "recall of object centres (mean)", "std"],
        [
            ["3x3 max pooling + top 8 (centernet_peaks)", *mean_std(rec_pool)],
            ["top 8 cells, no pooling", *mean_std(rec_plain)],
        ],
    )
    checks = [
        Check("output-layer parameters anchor-free / anchor-based", out_af / out_ab, "<=", 0.34),
        Check("whole head (tower + output) parameters anchor-free / anchor-based", head_af / head_ab, "<=", 0.34),
        Check("recall of centres with 3x3 max-pool decoding, smallest over seeds", min(rec_pool), ">=", 1.0),
        Check("recall of centres with plain top-k, largest over seeds", max(rec_plain), "<=", 0.8),
    ]
    return Result(
        experiment="anchor_free_head_and_peaks",
        claim=_AF_CLAIM,
        checks=checks,
        tables=[table, table2],
        seeds=seeds,
        quick=quick,
    )


_ANCHORS_PX = [
    np.array([[10, 13], [16, 30], [33, 23]], dtype=np.float64),
    np.array([[30, 61], [62, 45], [59, 119]], dtype=np.float64),
    np.array([[116, 90], [156, 198], [373, 326]], dtype=np.float64),
]
_STRIDES = (8, 16, 32)

_YOLO_CLAIM = (
    "YOLOv5 keeps a ground truth / anchor pair when the width and height ratios are within 4, and "
    "makes the centre cell and its two nearest neighbours positive: at most 9 and at least 3 "
    "positive anchors per ground truth."
)


@experiment("yolov5_positive_samples", ids=["S001-128"], claim=_YOLO_CLAIM)
@single_threaded
def yolov5_positive_samples(seed=0, quick=False):
    """Note S001-128: YOLOv5 matches by width/height ratio (threshold 4, not IoU), uses the centre cell and
    the two nearest neighbouring cells, "所以理论上最多一个gt会分配9个正样本anchor, 最少为3个".

    Measured with deepnotes.detection.assign_yolov5 (tested against a torch transcription of YOLOv5's
    build_targets), YOLOv5's default anchors and strides 8/16/32 on a 640x640 image: 2000 random ground
    truths per seed (5000 in full mode), centres uniform, widths and heights log-uniform in 4..600 pixels.
    Per ground truth and level: the number of positives; and whether the anchors kept are exactly those
    with max(r, 1/r) < 4 for both ratios.  Three seeds (five in full mode).

    Checks: the kept anchor set equals the ratio rule (0 mismatches); at most 9 positives per ground truth
    and level (holds by construction); the note's "at least 3": the share of ground truths with fewer than
    3 positives over all levels is 0 (it is not: extreme sizes or aspect ratios match no anchor); a ground
    truth can get more than 9 positives over the three levels.
    """
    seeds = [seed + i for i in range(3 if quick else 5)]
    n = 2000 if quick else 5000
    anchors = [a / s for a, s in zip(_ANCHORS_PX, _STRIDES)]
    max_level, few, above9, mismatch = [], [], [], 0
    rows = []
    for s in seeds:
        rng = seeded(s)
        xy = rng.uniform(0, 1, (n, 2))
        wh = np.exp(rng.uniform(np.log(4), np.log(600), (n, 2))) / 640
        targets = np.concatenate([np.zeros((n, 1)), np.arange(n)[:, None], xy, wh], 1)
        tcls, _, indices, _ = assign_yolov5(targets, anchors, list(_STRIDES), image_size=(640, 640))
        per_gt = np.zeros((n, 3), dtype=np.int64)
        for lvl in range(3):
            cls = np.asarray(tcls[lvl]).astype(np.int64)
            per_gt[:, lvl] = np.bincount(cls, minlength=n)
            a_idx = np.asarray(indices[lvl][1])
            kept = {(int(c), int(a)) for c, a in zip(cls, a_idx)}
            r = (wh * 640 / _STRIDES[lvl])[:, None, :] / anchors[lvl][None]
            rule = np.maximum(r, 1 / r).max(2) < 4.0
            expected = {(int(i), int(a)) for i, a in zip(*np.nonzero(rule))}
            mismatch += len(kept ^ expected)
        total = per_gt.sum(1)
        max_level.append(int(per_gt.max()))
        few.append(float((total < 3).mean()))
        above9.append(float((total > 9).mean()))
        rows.append(
            [
                s,
                int(per_gt.max()),
                int(total.max()),
                float((total == 0).mean()),
                few[-1],
                above9[-1],
                float(total.mean()),
            ]
        )
    table = Table(
        f"Positives per ground truth ({n} random boxes of 4..600 px on 640x640 per seed)",
        [
            "seed",
            "max per level",
            "max over levels",
            "share with 0",
            "share with < 3",
            "share with > 9",
            "mean over levels",
        ],
        rows,
    )
    checks = [
        Check("kept (ground truth, anchor) pairs not matching the ratio rule", mismatch, "<", 1),
        Check("largest number of positives per ground truth and level", max(max_level), "<=", 9),
        Check(
            "share of ground truths with fewer than 3 positives (the note: none), largest over seeds",
            max(few),
            "<=",
            0.0,
        ),
        Check(
            "share of ground truths with more than 9 positives over all levels, smallest over seeds",
            min(above9),
            ">",
            0.0,
        ),
    ]
    return Result(
        experiment="yolov5_positive_samples", claim=_YOLO_CLAIM, checks=checks, tables=[table], seeds=seeds, quick=quick
    )


_SPP_CLAIM = (
    "SPP-net runs the convolutions once per image and pools each proposal's region of the feature map "
    "into a fixed-length vector with spatial pyramid pooling, instead of one CNN pass per warped "
    "proposal (R-CNN), which makes it much faster."
)


@experiment("spp_net_shared_features", ids=["S002-38"], claim=_SPP_CLAIM)
@single_threaded
def spp_net_shared_features(seed=0, quick=False):
    """Note S002-38: SPP-net "共享卷积计算" (each image is convolved once) and "空间金字塔池化" turns regions of any
    size into a fixed-size output.

    Measured: deepnotes.nn.functional.spatial_pyramid_pool (levels 1, 2, 4) on feature maps of several
    sizes, its output length; and the multiply-accumulates (deepnotes.analysis.profile) of a small
    5-layer convolutional backbone run R-CNN style (once per proposal, each warped to 64x64) vs SPP-net
    style (once on a 224x224 image) for 200 proposals, plus the SPP pooling itself.

    Checks: the SPP output length is the same for every input size (8 channels x 21 bins); the R-CNN style
    costs >= 10x the MACs of the SPP-net style for 200 proposals.
    """
    sizes = [(13, 13), (10, 17), (24, 24), (7, 31)]
    lengths = []
    rng = seeded(seed)
    for h, w in sizes:
        x = dn.tensor(rng.normal(0, 1, (1, 8, h, w)).astype(np.float32))
        lengths.append(int(F.spatial_pyramid_pool(x, levels=(1, 2, 4)).shape[-1]))
    backbone = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
    )
    n_prop = 200
    per_crop = profile(backbone, (3, 64, 64)).macs
    once = profile(backbone, (3, 224, 224)).macs
    # SPP on each proposal's 28x28-cell window at most: one comparison per covered cell per bin level
    spp_cost = n_prop * 64 * 28 * 28 * 3
    rcnn, sppnet = n_prop * per_crop, once + spp_cost
    table = Table(
        "Spatial pyramid pooling (levels 1, 2, 4) of an 8-channel map",
        ["input H x W", "output length"],
        [[f"{h} x {w}", n] for (h, w), n in zip(sizes, lengths)],
    )
    table2 = Table(
        f"Backbone multiply-accumulates for {n_prop} proposals",
        ["pipeline", "MACs"],
        [
            ["R-CNN: backbone on every proposal warped to 64x64", rcnn],
            ["SPP-net: backbone once on 224x224 + pyramid pooling per proposal (upper bound)", sppnet],
            ["ratio", rcnn / sppnet],
        ],
    )
    checks = [
        Check("distinct SPP output lengths over input sizes", len(set(lengths)), "<=", 1),
        Check("SPP output length - 8 x 21", abs(lengths[0] - 8 * 21), "<=", 0),
        Check("R-CNN / SPP-net MACs for 200 proposals", rcnn / sppnet, ">=", 10),
    ]
    return Result(
        experiment="spp_net_shared_features",
        claim=_SPP_CLAIM,
        checks=checks,
        tables=[table, table2],
        seeds=[seed],
        quick=quick,
    )
