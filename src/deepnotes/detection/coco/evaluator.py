"""COCO box evaluation: a vectorised drop-in for ``pycocotools.cocoeval.COCOeval`` (``iouType='bbox'``).

The numbers are those of pycocotools, bit for bit: the same IoU arithmetic (crowd boxes use
``inter / area(det)``), the same greedy matching and tie rules, the same precision envelope and
recall-threshold sampling.  Only the way they are computed differs:

* ``evaluate`` sorts every detection once by (image, category, -score) and runs the greedy matching
  for all images, categories, area ranges and IoU thresholds at once: round r handles the r-th
  detection of every (image, category) pair together (at most ``maxDets[-1]`` rounds), in blocks of
  detections with the same number of candidate ground truths so that every step is an axis reduction,
  instead of one Python call per (image, category, area range) and one loop step per detection;
* ``accumulate`` sorts all detections by (category, -score) once and computes the cumulative TP/FP
  counts, the precision envelope and the recall-threshold look-ups for every category and IoU threshold
  with whole-array operations.

Definitions (T IoU thresholds, R recall thresholds, K categories, A area ranges, M detection caps):

    IoU(d, g)      = |d ∩ g| / |d ∪ g|          (g not crowd)
                   = |d ∩ g| / |d|              (g crowd)
    ignored g      : crowd, or area outside the area range (the range is closed: lo <= area <= hi)
    matching       : detections in descending score order (stable on ties); each takes the unmatched
                     non-ignored g with the largest IoU >= t (ties: the later g in annotation order); only
                     when there is none may it take an ignored g (a crowd g can absorb many detections).
                     A detection matched to an ignored g, or unmatched with area outside the range, is
                     ignored (neither TP nor FP).
    precision[t, r, k, a, m] = max_{i >= i_r} TP_i / (TP_i + FP_i + eps), i_r = first i with
                     recall_i >= recThrs[r] (0 when the curve never reaches it), over the detections of
                     category k (the m best of each image) sorted by score;
    recall[t, k, a, m]       = TP / (number of non-ignored g), -1 where there is no non-ignored g.
"""

from __future__ import annotations

import copy
import datetime
import numbers

import numpy as np

from .dataset import AnnotationTable, build_table

__all__ = ["COCOeval", "Params"]

_EPS = np.spacing(1)


class Params:
    """Evaluation parameters, as ``pycocotools.cocoeval.Params`` for ``iouType='bbox'``.

    Attributes:
        imgIds, catIds: ids to evaluate (default: every image and category of the ground truth).
        iouThrs: T IoU thresholds, ``[.5:.05:.95]``.
        recThrs: R recall thresholds, ``[0:.01:1]``.
        maxDets: M caps on detections per image and category, ``[1, 10, 100]``.
        areaRng: A closed area ranges ``[[0, 1e10], [0, 32**2], [32**2, 96**2], [96**2, 1e10]]``.
        areaRngLbl: their labels ``['all', 'small', 'medium', 'large']``.
        useCats: 1 to match within categories; 0 to ignore category labels (class-agnostic).
    """

    def __init__(self, iouType="bbox"):
        if iouType != "bbox":
            raise ValueError(f"Params: only iouType='bbox' is supported, got {iouType!r}")
        self.imgIds = []
        self.catIds = []
        self.iouThrs = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
        self.recThrs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
        self.maxDets = [1, 10, 100]
        self.areaRng = [[0**2, 1e5**2], [0**2, 32**2], [32**2, 96**2], [96**2, 1e5**2]]
        self.areaRngLbl = ["all", "small", "medium", "large"]
        self.useCats = 1
        self.iouType = iouType
        self.useSegm = None


def _check_id_list(name, values):
    arr = np.asarray(list(values))
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"COCOeval: params.{name} must be a list of integer ids, got {list(values)[:5]!r}...")
    return arr.astype(np.int64)


def _check_params(p):
    thr = np.asarray(p.iouThrs, dtype=np.float64)
    if thr.ndim != 1 or thr.size == 0 or not np.isfinite(thr).all():
        raise ValueError(f"COCOeval: params.iouThrs must be a non-empty 1-D list of finite numbers, got {p.iouThrs!r}")
    rec = np.asarray(p.recThrs, dtype=np.float64)
    if rec.ndim != 1 or rec.size == 0 or not np.isfinite(rec).all():
        raise ValueError(f"COCOeval: params.recThrs must be a non-empty 1-D list of finite numbers, got {p.recThrs!r}")
    md = list(p.maxDets)
    if not md or not all(
        isinstance(m, (numbers.Integral, np.integer)) and not isinstance(m, bool) and m > 0 for m in md
    ):
        raise ValueError(f"COCOeval: params.maxDets must be a non-empty list of positive integers, got {p.maxDets!r}")
    rng = np.asarray(p.areaRng, dtype=np.float64)
    if rng.ndim != 2 or rng.shape[1] != 2 or rng.shape[0] == 0:
        raise ValueError(f"COCOeval: params.areaRng must be a list of [lo, hi] pairs, got {p.areaRng!r}")
    if p.useCats not in (0, 1):
        raise ValueError(f"COCOeval: params.useCats must be 0 or 1, got {p.useCats!r}")


def _table_of(coco, need_score):
    """The annotation table of a COCO object (ours, or any object with a pycocotools-style ``dataset``)."""
    table = getattr(coco, "table", None)
    if isinstance(table, AnnotationTable) and (not need_score or table.score is not None or len(table) == 0):
        if need_score and table.score is None:
            table.score = np.zeros(0)
        return table
    anns = coco.dataset.get("annotations", [])
    return build_table(anns, "COCOeval", "detection" if need_score else "annotation", need_score=need_score)


def _positions(ids, keys):
    """Index of each of ``ids`` in the 1-D array ``keys`` (any order), -1 where absent."""
    if keys.size == 0:
        return np.full(ids.shape, -1, dtype=np.int64)
    sorter = np.argsort(keys, kind="stable")
    sk = keys[sorter]
    pos = np.searchsorted(sk, ids)
    pos = np.minimum(pos, sk.size - 1)
    found = sk[pos] == ids
    return np.where(found, sorter[pos], -1)


def box_iou_crowd(dt_boxes, gt_boxes, iscrowd):
    """Elementwise IoU of ``[x, y, w, h]`` boxes with pycocotools' crowd rule (``maskUtils.iou``).

    ``iou = inter / (area_d + area_g - inter)``, or ``inter / area_d`` when the ground truth is a crowd
    region; 0 when the boxes do not overlap.  The operation order reproduces pycocotools' C code so the
    values agree to the last bit.

    Args:
        dt_boxes, gt_boxes: float64 arrays of shape (N, 4).
        iscrowd: bool array of shape (N,).
    Returns:
        float64 array of shape (N,).
    """
    dx, dy, dw, dh = dt_boxes[:, 0], dt_boxes[:, 1], dt_boxes[:, 2], dt_boxes[:, 3]
    gx, gy, gw, gh = gt_boxes[:, 0], gt_boxes[:, 1], gt_boxes[:, 2], gt_boxes[:, 3]
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = w * h
    da = dw * dh
    union = np.where(iscrowd, da, da + gw * gh - inter)
    ok = (w > 0) & (h > 0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=ok)


def _precision_table(tp, kept, ks, score, npig, rec_thrs):
    """Precision/recall/score tables for the category segments of one (area range, maxDets) setting.

    Args:
        tp, kept: (T, n) bool; detection i is a true positive / not ignored at threshold t.  Columns are
            the detections sorted by (category, -score, image, rank); ``ks`` (n,) their categories.
        score: (n,) their scores.  npig: non-ignored ground truths per category (all > 0 here).
        rec_thrs: (R,) recall thresholds.
    Returns:
        q (T, R, S) interpolated precision, s (T, R, S) scores, recall (T, S), seg_k (S,) categories.

    pycocotools walks the whole sorted list of each category.  Only true positives matter: recall
    rises only there, so the first position with recall >= r > 0 is a true positive, and precision
    peaks there, so the envelope max_{j>=i} precision_j is a maximum over true positives.  With c_i the
    number of non-ignored detections up to the i-th true positive, precision_i = i / (c_i + eps) (the
    float expression pycocotools evaluates, since tp + fp = c_i).  Thresholds r <= 0 sample the first
    detection of the category, where the envelope is the maximum over all true positives (0 if none).
    """
    T, n = tp.shape
    R = rec_thrs.size
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    S = starts.size
    seg = np.cumsum(np.r_[True, ks[1:] != ks[:-1]]) - 1
    seg_k = ks[starts]
    npig_s = npig[seg_k]
    pos = np.flatnonzero(tp)  # flat (t, column) positions of true positives
    row = pos // n
    col = pos - row * n
    seg_of = seg[col]
    lane = row * S + seg_of  # (t, segment) of each true positive, nondecreasing
    seg_first = row * n + starts[seg_of]  # flat position where its segment starts
    # c = non-ignored detections from the segment start up to the true positive, counted through the
    # sparser of the kept / ignored position lists
    if 2 * np.count_nonzero(kept) <= kept.size:
        kp = np.flatnonzero(kept)
        c = np.searchsorted(kp, pos, side="right") - np.searchsorted(kp, seg_first)
    else:
        ip = np.flatnonzero(~kept)
        c = (pos - seg_first + 1) - (np.searchsorted(ip, pos) - np.searchsorted(ip, seg_first))
    c = c.astype(np.float64)
    new_lane = np.r_[True, lane[1:] != lane[:-1]]
    m = lane.size
    first_tp = np.maximum.accumulate(np.where(new_lane, np.arange(m), 0)) if m else np.zeros(0, np.int64)
    i = (np.arange(m) - first_tp + 1).astype(np.float64)
    fp = c - i
    pr = i / (fp + i + _EPS)
    rc = i / npig_s[lane % S] if m else np.zeros(0)
    z = np.empty(m, dtype=np.complex128)
    z.real = -lane
    z.imag = pr
    env = np.maximum.accumulate(z[::-1])[::-1].imag if m else np.zeros(0)
    ntp = np.bincount(lane, minlength=T * S).reshape(T, S)
    recall = ntp / npig_s[None, :]

    lanes_q = np.arange(T * S).reshape(T, S)
    key = np.empty(m, dtype=np.complex128)
    key.real = lane
    key.imag = rc
    qry = np.empty((T, S, R), dtype=np.complex128)
    qry.real = lanes_q[:, :, None]
    qry.imag = rec_thrs[None, None, :]
    hit = np.searchsorted(key, qry.ravel(), side="left").reshape(T, S, R)
    hit_c = np.minimum(hit, max(m - 1, 0))
    valid = (hit < m) & (lane[hit_c] == lanes_q[:, :, None]) if m else np.zeros((T, S, R), bool)
    q = np.where(valid, env[hit_c] if m else 0.0, 0.0)
    s = np.where(valid, score[col[hit_c]] if m else 0.0, 0.0)
    low = rec_thrs <= 0
    if low.any():
        has_tp = ntp > 0
        first = np.searchsorted(lane, lanes_q)  # first true positive of each lane
        env_all = np.where(has_tp, env[np.minimum(first, max(m - 1, 0))] if m else 0.0, 0.0)
        q[:, :, low] = env_all[:, :, None]
        s[:, :, low] = score[starts][None, :, None]
    return q.transpose(0, 2, 1), s.transpose(0, 2, 1), recall, seg_k


def _ids_or_zero(pos, ids):
    """``ids[pos]`` as float64 where ``pos >= 0``, 0 elsewhere (pycocotools' "no match"); safe when
    ``ids`` is empty, as it is when no ground truth or no detection was selected at all."""
    out = np.zeros(pos.shape, dtype=np.float64)
    hit = pos >= 0
    out[hit] = ids[pos[hit]]
    return out


class _Evaluated:
    """Everything ``evaluate`` leaves for ``accumulate`` and ``evalImgs`` (arrays over kept detections)."""


class COCOeval:
    """COCO box evaluator with pycocotools' interface and results, vectorised.

    Usage (as pycocotools)::

        E = COCOeval(cocoGt, cocoDt, iouType='bbox')
        E.params.catIds = [...]           # optional
        E.evaluate(); E.accumulate(); E.summarize()
        E.stats                           # the 12 summary numbers
        E.eval['precision']               # T x R x K x A x M
        E.eval['recall']                  # T x K x A x M
        E.eval['scores']                  # T x R x K x A x M

    ``evalImgs`` (per image/category/area dicts with ``dtMatches``, ``gtMatches``, ``dtIgnore`` ...)
    is rebuilt lazily on first access, in pycocotools' order and layout.

    Differences from pycocotools (it would crash or give nonsense there):
        * only ``iouType='bbox'`` (``'segm'``/``'keypoints'`` raise ``ValueError``);
        * ``summarize`` works for any ``maxDets``: AP lines and the area-range AR lines use the largest
          cap ``maxDets[-1]`` (pycocotools uses the literal 100, giving -1 when 100 is not a cap, or
          ``maxDets[2]``, raising ``IndexError`` with fewer than three caps); the three AR lines use
          ``maxDets[0]``, ``maxDets[1]``, ``maxDets[2]``, repeating the last cap when there are fewer.
          With the default caps (or any three caps ending in 100) the numbers are pycocotools' own;
        * a match to a ground truth or detection whose id is 0 counts (pycocotools stores matched ids
          and tests them against 0, losing such matches);
        * ``accumulate`` raises ``RuntimeError`` before ``evaluate`` and does not rewrite
          ``params.catIds`` to ``[-1]`` when ``useCats=0``; with ``useCats=0`` duplicate ``catIds`` are
          dropped (pycocotools would count their annotations twice).
    """

    def __init__(self, cocoGt=None, cocoDt=None, iouType="bbox"):
        if iouType != "bbox":
            raise ValueError(f"COCOeval: only iouType='bbox' is supported, got {iouType!r}")
        self.cocoGt = cocoGt
        self.cocoDt = cocoDt
        self.params = Params(iouType=iouType)
        self.eval = {}
        self.stats = []
        self._paramsEval = {}
        self._ev = None
        self._evalImgs = None
        if cocoGt is not None:
            self.params.imgIds = sorted(cocoGt.getImgIds())
            self.params.catIds = sorted(cocoGt.getCatIds())

    # --------------------------------------------------------------- evaluate
    def evaluate(self):
        """Match detections to ground truth for every image, category, area range and IoU threshold.

        Reference (loops, as the notes explain it): deepnotes.reference.coco_match.coco_match_image
        (one image and one category, pycocotools' loop).
        """
        p = self.params
        if p.useSegm is not None and p.useSegm:
            raise ValueError("COCOeval.evaluate: params.useSegm=1 asks for mask evaluation; only boxes are supported")
        if p.iouType != "bbox":
            raise ValueError(f"COCOeval.evaluate: only iouType='bbox' is supported, got {p.iouType!r}")
        if self.cocoGt is None or self.cocoDt is None:
            raise ValueError("COCOeval.evaluate: both cocoGt and cocoDt are required")
        _check_params(p)
        img_ids = np.unique(_check_id_list("imgIds", p.imgIds))
        cat_ids = _check_id_list("catIds", p.catIds)
        if p.useCats:
            cat_ids = np.unique(cat_ids)
        else:
            cat_ids = np.asarray(list(dict.fromkeys(cat_ids.tolist())), dtype=np.int64)
        p.imgIds = img_ids.tolist()
        p.catIds = cat_ids.tolist()
        p.maxDets = sorted(int(m) for m in p.maxDets)
        self.params = p

        gt = _table_of(self.cocoGt, need_score=False)
        dt = _table_of(self.cocoDt, need_score=True)
        ev = _Evaluated()
        self._ev = ev
        self._evalImgs = None
        I, K = img_ids.size, cat_ids.size
        Ke = K if p.useCats else 1
        thr = np.minimum(np.asarray(p.iouThrs, dtype=np.float64), 1 - 1e-10)
        rng = np.asarray(p.areaRng, dtype=np.float64)
        T, A = thr.size, rng.shape[0]
        L = A * T
        max_det = p.maxDets[-1]

        def select(table):
            img = _positions(table.image_ids, img_ids)
            cpos = _positions(table.category_ids, cat_ids)
            keep = np.flatnonzero((img >= 0) & (cpos >= 0))
            img, cpos = img[keep], cpos[keep]
            k = cpos if p.useCats else np.zeros_like(cpos)
            return keep, img, k, cpos

        # ground truth, sorted by (image, category, [category order], annotation order)
        gkeep, gimg, gk, gcp = select(gt)
        gpair = gimg * Ke + gk
        order = np.lexsort((gcp, gpair))
        gkeep, gimg, gk, gpair = gkeep[order], gimg[order], gk[order], gpair[order]
        gbox, garea, gcrowd = gt.bbox[gkeep], gt.area[gkeep], gt.iscrowd[gkeep]
        gign = gcrowd[:, None] | (garea[:, None] < rng[None, :, 0]) | (garea[:, None] > rng[None, :, 1])

        # detections, sorted by (image, category, -score, [category order], result order), top max_det
        dkeep, dimg, dk, dcp = select(dt)
        dscore = dt.score[dkeep]
        dpair = dimg * Ke + dk
        # rows are in result order already and lexsort is stable: ties keep result order
        order = np.lexsort((dcp, -dscore, dpair)) if not p.useCats else np.lexsort((-dscore, dpair))
        dkeep, dimg, dk, dpair, dscore = dkeep[order], dimg[order], dk[order], dpair[order], dscore[order]
        n = dkeep.size
        new_pair = np.ones(n, dtype=bool)
        new_pair[1:] = dpair[1:] != dpair[:-1]
        first = np.maximum.accumulate(np.where(new_pair, np.arange(n), 0)) if n else np.zeros(0, np.int64)
        drank = np.arange(n) - first
        top = drank < max_det
        dkeep, dimg, dk, dpair, dscore, drank = (x[top] for x in (dkeep, dimg, dk, dpair, dscore, drank))
        dbox, darea = dt.bbox[dkeep], dt.area[dkeep]
        D = dkeep.size

        # candidate (detection, ground truth) pairs of the same image/category, by rank then pair
        g_lo = np.searchsorted(gpair, dpair, side="left")
        g_n = np.searchsorted(gpair, dpair, side="right") - g_lo
        # candidate (detection, ground truth) pairs of the same image/category.  Detections are ordered
        # by (rank, number of candidate ground truths): one greedy round handles every detection of a
        # given rank at once (they live in different images/categories), and detections with the same
        # number c of candidates form contiguous (n, c) blocks that reduce along an axis.
        cand = np.flatnonzero(g_n > 0)
        cand = cand[np.lexsort((g_n[cand], drank[cand]))]
        cnt = g_n[cand]
        n_e = int(cnt.sum())
        e_dt = np.repeat(cand, cnt)
        e_gt = np.repeat(g_lo[cand] - (np.cumsum(cnt) - cnt), cnt) + np.arange(n_e)
        e_crowd = gcrowd[e_gt]
        e_iou = box_iou_crowd(dbox[e_dt], gbox[e_gt], e_crowd)
        c_rank, c_cnt = drank[cand], cnt
        c_start = np.cumsum(cnt) - cnt  # first entry of each candidate detection
        block = np.flatnonzero(
            np.r_[True, (c_rank[1:] != c_rank[:-1]) | (c_cnt[1:] != c_cnt[:-1])]
            if cand.size
            else np.zeros(0, dtype=bool)
        )
        block_end = np.r_[block[1:], cand.size]

        # greedy matching, all lanes (area range a, threshold t) -> lane a*T + t at once
        thr_l = np.tile(thr, A)
        gign_l = np.repeat(gign, T, axis=1)  # (G, L)
        g_taken = np.zeros((gkeep.size, L), dtype=bool)
        g_by = np.full((gkeep.size, L), -1, dtype=np.int32)  # detection that took each gt (last one)
        d_gt = np.full((L, D), -1, dtype=np.int32)  # gt taken by each detection
        d_gig = np.zeros((L, D), dtype=bool)  # ... and whether that gt is ignored
        for b0, b1 in zip(block.tolist(), block_end.tolist()):
            c = int(c_cnt[b0])
            n_b = b1 - b0
            e0 = int(c_start[b0])
            e1 = e0 + n_b * c
            eg = e_gt[e0:e1].reshape(n_b, c)
            iou = e_iou[e0:e1].reshape(n_b, c, 1)
            free = ~g_taken[eg] | e_crowd[e0:e1].reshape(n_b, c, 1)  # (n_b, c, L)
            elig = free & (iou >= thr_l)
            regular = elig & ~gign_l[eg]
            # non-ignored ground truths first; among the candidates the largest IoU, ties -> the later
            elig = np.where(regular.any(axis=1, keepdims=True), regular, elig)
            val = np.where(elig, iou, -1.0)
            hit = elig & (val == val.max(axis=1, keepdims=True))
            rows, lanes = np.nonzero(hit.any(axis=1))
            if rows.size:
                last = c - 1 - np.argmax(hit[:, ::-1, :], axis=1)  # (n_b, L)
                gsel = eg[rows, last[rows, lanes]]
                dsel = cand[b0 + rows]
                g_taken[gsel, lanes] = True
                g_by[gsel, lanes] = dsel
                d_gt[lanes, dsel] = gsel
                d_gig[lanes, dsel] = gign_l[gsel, lanes]
        matched = (d_gt >= 0).reshape(A, T, D)
        dout = (darea[None, :] < rng[:, 0, None]) | (darea[None, :] > rng[:, 1, None])  # (A, D)
        ignored = np.where(matched, d_gig.reshape(A, T, D), dout[:, None, :])  # (A, T, D)

        ev.T, ev.A, ev.K, ev.Ke, ev.I = T, A, K, Ke, I
        ev.img_ids, ev.cat_ids = img_ids, cat_ids
        ev.d_img, ev.d_k, ev.d_score, ev.d_rank = dimg, dk, dscore, drank
        # (A, T, D) layouts: accumulate gathers contiguous rows
        ev.d_kept = ~ignored
        ev.d_tp = matched & ev.d_kept
        ev.d_ignored, ev.d_gt = ignored, d_gt.reshape(A, T, D)
        ev.d_ids, ev.d_pair = dt.ids[dkeep], dpair
        ev.g_img, ev.g_k, ev.g_ign, ev.g_pair = gimg, gk, gign, gpair
        ev.g_ids, ev.g_by = gt.ids[gkeep], g_by
        self._paramsEval = copy.deepcopy(p)

    # ------------------------------------------------------------- accumulate
    def accumulate(self, p=None):
        """Build ``self.eval`` (precision, recall and scores arrays) from the evaluation.

        Args:
            p: optional :class:`Params`; its ``imgIds``, ``catIds``, ``areaRng`` and ``maxDets`` select a
                subset of what ``evaluate`` covered (entries it did not cover stay -1) and its
                ``recThrs`` may differ.  Default: ``self.params``.
        """
        ev = self._ev
        if ev is None:
            raise RuntimeError("COCOeval.accumulate: call evaluate() first")
        if p is None:
            p = self.params
        pe = self._paramsEval
        if len(p.iouThrs) != ev.T or not np.array_equal(np.asarray(p.iouThrs, float), np.asarray(pe.iouThrs, float)):
            raise ValueError("COCOeval.accumulate: params.iouThrs differ from those used by evaluate()")
        if bool(p.useCats) != bool(pe.useCats):
            raise ValueError("COCOeval.accumulate: params.useCats differs from the one used by evaluate()")
        rec_thrs = np.asarray(p.recThrs, dtype=np.float64)
        T, R = ev.T, rec_thrs.size
        cat_out = list(p.catIds) if p.useCats else [-1]
        K = len(cat_out)
        A, M = len(p.areaRng), len(p.maxDets)
        precision = -np.ones((T, R, K, A, M))
        recall = -np.ones((T, K, A, M))
        scores = -np.ones((T, R, K, A, M))

        if p.useCats:
            k_src = _positions(np.asarray(cat_out, dtype=np.int64), ev.cat_ids)
        else:
            k_src = np.zeros(1, dtype=np.int64)
        k_dst = np.full(ev.Ke, -1, dtype=np.int64)  # evaluated category -> output column
        for j, k in enumerate(k_src.tolist()):
            if k >= 0 and k_dst[k] < 0:
                k_dst[k] = j
        eval_rngs = [tuple(map(float, r)) for r in pe.areaRng]
        a_src = [eval_rngs.index(tuple(map(float, r))) if tuple(map(float, r)) in eval_rngs else -1 for r in p.areaRng]
        m_ok = [int(m) in pe.maxDets for m in p.maxDets]
        img_sel = (
            np.isin(ev.img_ids, np.asarray(list(p.imgIds), dtype=np.int64))
            if len(p.imgIds)
            else np.zeros(ev.I, dtype=bool)
        )

        g_in = img_sel[ev.g_img] & (k_dst[ev.g_k] >= 0)
        d_in = img_sel[ev.d_img] & (k_dst[ev.d_k] >= 0)
        # rows are sorted by (image, category, rank); a stable sort on (category, -score) therefore
        # breaks score ties by (image, rank), the order in which pycocotools concatenates them
        order = np.lexsort((-ev.d_score, ev.d_k))
        order = order[d_in[order]]
        o_k, o_rank, o_score = ev.d_k[order], ev.d_rank[order], ev.d_score[order]

        for ai, a in enumerate(a_src):
            if a < 0:
                continue
            npig = np.bincount(ev.g_k[g_in & ~ev.g_ign[:, a]], minlength=ev.Ke)  # non-ignored gt per category
            has_gt = np.flatnonzero((npig > 0) & (k_dst >= 0))
            cols = k_dst[has_gt]
            for mi, max_det in enumerate(p.maxDets):
                if not m_ok[mi]:
                    continue
                precision[:, :, cols, ai, mi] = 0.0
                scores[:, :, cols, ai, mi] = 0.0
                recall[:, cols, ai, mi] = 0.0
                sel = np.flatnonzero((o_rank < max_det) & (npig[o_k] > 0))
                if sel.size == 0:
                    continue
                q, s, rc_final, seg_k = _precision_table(
                    np.take(ev.d_tp[a], order[sel], axis=1),
                    np.take(ev.d_kept[a], order[sel], axis=1),
                    o_k[sel],
                    o_score[sel],
                    npig,
                    rec_thrs,
                )
                seg_cols = k_dst[seg_k]
                recall[:, seg_cols, ai, mi] = rc_final
                precision[:, :, seg_cols, ai, mi] = q
                scores[:, :, seg_cols, ai, mi] = s
        self.eval = {
            "params": p,
            "counts": [T, R, K, A, M],
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "precision": precision,
            "recall": recall,
            "scores": scores,
        }

    # -------------------------------------------------------------- summarize
    def _summarize_one(self, ap=1, iouThr=None, areaRng="all", maxDets=100):
        p = self.params
        iStr = " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}"
        titleStr = "Average Precision" if ap == 1 else "Average Recall"
        typeStr = "(AP)" if ap == 1 else "(AR)"
        iouStr = f"{p.iouThrs[0]:0.2f}:{p.iouThrs[-1]:0.2f}" if iouThr is None else f"{iouThr:0.2f}"
        aind = [i for i, lbl in enumerate(p.areaRngLbl) if lbl == areaRng]
        mind = [i for i, m in enumerate(p.maxDets) if m == maxDets]
        if ap == 1:
            s = self.eval["precision"]
            if iouThr is not None:
                s = s[np.where(iouThr == np.asarray(p.iouThrs))[0]]
            s = s[:, :, :, aind, :][:, :, :, :, mind]
        else:
            s = self.eval["recall"]
            if iouThr is not None:
                s = s[np.where(iouThr == np.asarray(p.iouThrs))[0]]
            s = s[:, :, aind, :][:, :, :, mind]
        valid = s[s > -1]
        mean_s = -1 if valid.size == 0 else np.mean(valid)
        line = iStr.format(titleStr, typeStr, iouStr, areaRng, int(maxDets), float(mean_s))
        return float(mean_s), line

    def summary_lines(self):
        """The 12 summary numbers and their text lines, in pycocotools' layout (see the class notes)."""
        if not self.eval:
            raise RuntimeError("COCOeval.summarize: call accumulate() first")
        md = list(self.params.maxDets)
        big = md[-1]
        ar = [md[min(i, len(md) - 1)] for i in range(3)]
        specs = [
            (1, None, "all", big),
            (1, 0.5, "all", big),
            (1, 0.75, "all", big),
            (1, None, "small", big),
            (1, None, "medium", big),
            (1, None, "large", big),
            (0, None, "all", ar[0]),
            (0, None, "all", ar[1]),
            (0, None, "all", ar[2]),
            (0, None, "small", big),
            (0, None, "medium", big),
            (0, None, "large", big),
        ]
        out = [self._summarize_one(*spec) for spec in specs]
        return np.array([v for v, _ in out]), [line for _, line in out]

    def summarize(self):
        """Compute ``self.stats`` (12 numbers: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs,
        ARm, ARl) and print them in pycocotools' layout."""
        stats, lines = self.summary_lines()
        for line in lines:
            print(line)
        self.stats = stats

    def __str__(self):
        return "\n".join(self.summary_lines()[1]) if self.eval else "COCOeval (not accumulated)"

    # -------------------------------------------------------- per-category AP
    def per_category_table(self, maxDets=None):
        """Per-category AP/AR table.

        Returns ``(rows, text)``: ``rows`` is a list of dicts with keys ``category_id``, ``name``,
        ``AP`` (IoU .50:.95), ``AP50``, ``AP75``, ``APs``, ``APm``, ``APl`` and ``AR`` (IoU .50:.95),
        each the mean of the valid (> -1) entries of ``eval['precision'][..., k, a, m]`` (or recall)
        for that category, ``nan`` where the category has no ground truth in that setting;
        ``text`` is the same table formatted for printing.  ``maxDets`` defaults to ``maxDets[-1]``.
        With ``useCats=0`` there is one row, ``category_id=-1``.
        """
        if not self.eval:
            raise RuntimeError("COCOeval.per_category_table: call accumulate() first")
        p = self.params
        m = p.maxDets[-1] if maxDets is None else maxDets
        if m not in p.maxDets:
            raise ValueError(f"COCOeval.per_category_table: maxDets={m!r} is not one of params.maxDets {p.maxDets}")
        mi = list(p.maxDets).index(m)
        prec, rec = self.eval["precision"], self.eval["recall"]
        thrs = np.asarray(p.iouThrs)

        def mean_valid(x):
            v = x[x > -1]
            return float(np.mean(v)) if v.size else float("nan")

        def area_idx(lbl):
            return p.areaRngLbl.index(lbl) if lbl in p.areaRngLbl else None

        cat_ids = list(p.catIds) if p.useCats else [-1]
        rows = []
        for k, cid in enumerate(cat_ids):
            cat = self.cocoGt.cats.get(cid, {}) if (self.cocoGt is not None and cid != -1) else {}
            row = {"category_id": int(cid), "name": str(cat.get("name", "all" if cid == -1 else cid))}
            a_all = area_idx("all")
            for key, t, lbl in (
                ("AP", None, "all"),
                ("AP50", 0.5, "all"),
                ("AP75", 0.75, "all"),
                ("APs", None, "small"),
                ("APm", None, "medium"),
                ("APl", None, "large"),
            ):
                a = area_idx(lbl)
                if a is None:
                    row[key] = float("nan")
                    continue
                s = prec[:, :, k, a, mi]
                if t is not None:
                    s = s[np.where(thrs == t)[0]]
                row[key] = mean_valid(s)
            row["AR"] = mean_valid(rec[:, k, a_all, mi]) if a_all is not None else float("nan")
            rows.append(row)
        keys = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR"]
        width = max([len("category")] + [len(r["name"]) for r in rows])
        head = f"{'category':<{width}}  {'id':>6}  " + "  ".join(f"{k:>6}" for k in keys)
        lines = [head, "-" * len(head)]
        for r in rows:
            vals = "  ".join(f"{'-':>6}" if np.isnan(r[k]) else f"{r[k]:6.3f}" for k in keys)
            lines.append(f"{r['name']:<{width}}  {r['category_id']:>6}  {vals}")
        return rows, "\n".join(lines)

    # ---------------------------------------------------------------- evalImgs
    @property
    def evalImgs(self):
        """Per (category, area range, image) results in pycocotools' layout (built on first access).

        A list of length K*A*I ordered category-major, then area range, then image; ``None`` where the
        image has neither ground truth nor detections of the category.  Each dict holds ``image_id``,
        ``category_id``, ``aRng``, ``maxDet``, ``dtIds``, ``gtIds`` (non-ignored first), ``dtMatches``
        (T x D matched gt ids, 0 if none), ``gtMatches`` (T x G), ``dtScores``, ``gtIgnore`` and
        ``dtIgnore`` (T x D).  This is a compatibility view and walks every pair in Python.
        """
        if self._ev is None:
            return []
        if self._evalImgs is None:
            self._evalImgs = self._build_eval_imgs()
        return self._evalImgs

    def _build_eval_imgs(self):
        ev, p = self._ev, self._paramsEval
        T, A, I, Ke = ev.T, ev.A, ev.I, ev.Ke
        g_lo = np.searchsorted(ev.g_pair, np.arange(I * Ke), side="left")
        g_hi = np.searchsorted(ev.g_pair, np.arange(I * Ke), side="right")
        d_lo = np.searchsorted(ev.d_pair, np.arange(I * Ke), side="left")
        d_hi = np.searchsorted(ev.d_pair, np.arange(I * Ke), side="right")
        present = np.zeros(I * Ke, dtype=bool)
        present[ev.g_pair] = True
        present[ev.d_pair] = True
        cat_ids = p.catIds if p.useCats else [-1]
        out = []
        for k in range(Ke):
            for a in range(A):
                for i in range(I):
                    pr = i * Ke + k
                    if not present[pr]:
                        out.append(None)
                        continue
                    gs = np.arange(g_lo[pr], g_hi[pr])
                    ds = np.arange(d_lo[pr], d_hi[pr])
                    gs = gs[np.argsort(ev.g_ign[gs, a], kind="stable")]
                    lanes = slice(a * T, (a + 1) * T)
                    dtm = _ids_or_zero(ev.d_gt[a][:, ds], ev.g_ids)  # (T, D) matched gt ids
                    gtm = _ids_or_zero(ev.g_by[gs, lanes].T, ev.d_ids)  # (T, G) matched dt ids
                    out.append(
                        {
                            "image_id": int(ev.img_ids[i]),
                            "category_id": int(cat_ids[k]),
                            "aRng": p.areaRng[a],
                            "maxDet": p.maxDets[-1],
                            "dtIds": ev.d_ids[ds].tolist(),
                            "gtIds": ev.g_ids[gs].tolist(),
                            "dtMatches": dtm,
                            "gtMatches": gtm,
                            "dtScores": ev.d_score[ds].tolist(),
                            "gtIgnore": ev.g_ign[gs, a].astype(int),
                            "dtIgnore": ev.d_ignored[a][:, ds],
                        }
                    )
        return out
