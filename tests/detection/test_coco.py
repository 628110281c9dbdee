"""deepnotes.detection.coco against pycocotools and faster-coco-eval on generated data sets.

Every comparison runs the three evaluators on the same ground truth and results and checks the 12
summary numbers and the full ``precision`` (T x R x K x A x M), ``recall`` (T x K x A x M) and
``scores`` arrays to 1e-12, plus pycocotools' per-image ``evalImgs`` records.
"""

import argparse
import contextlib
import copy
import importlib
import io
import json
import warnings

import numpy as np
import pytest

from deepnotes.detection.coco import COCO, COCOeval, box_iou_crowd

pc_coco = importlib.import_module("pycocotools.coco")
pc_eval = importlib.import_module("pycocotools.cocoeval")
pc_mask = importlib.import_module("pycocotools.mask")
fce = importlib.import_module("faster_coco_eval")

TOL = 1e-12


# ----------------------------------------------------------------------------------------- data
def make_set(
    seed, n_img=40, n_cat=6, gt_per_img=6, rand_dets=25, crowd_p=0.08, decimals=2, empty_img_p=0.15, heavy_pairs=0
):
    """Seeded COCO ground truth + results covering the evaluator's corner cases.

    * crowd regions (``iscrowd=1``), ``area`` fields exactly 32**2 and 96**2, boxes of every size;
    * images without ground truth; the last category never detected, one category without ground
      truth but with detections; category ids with gaps;
    * several detections per object, exact duplicates, scores rounded to ``decimals`` (many ties),
      detection boxes with ``w * h`` exactly 32**2 and 96**2;
    * ``heavy_pairs`` (image, category) pairs with 130 detections each (beyond maxDets=100).
    """
    rng = np.random.default_rng(seed)
    images = [{"id": int(i) * 3 + 7, "width": 640, "height": 480} for i in range(n_img)]
    cat_ids = np.array([int(c) * 2 + 1 for c in range(n_cat)])
    cats = [{"id": int(c), "name": f"cat{c}", "supercategory": "even" if c % 4 == 1 else "odd"} for c in cat_ids]
    gt_cats = cat_ids[:-1]  # the last category has no ground truth
    det_cats = np.r_[cat_ids[:-2], cat_ids[-1:]]  # the second-to-last is never detected
    anns, dets = [], []
    for img in images:
        ng = 0 if rng.random() < empty_img_p else int(rng.poisson(gt_per_img))
        for _ in range(ng):
            side = float(np.exp(rng.uniform(np.log(3), np.log(320))))
            r = float(np.exp(rng.uniform(-0.7, 0.7)))
            w, h = round(min(side * r, 600), 1), round(min(side / r, 450), 1)
            x, y = round(float(rng.uniform(0, 640 - w)), 1), round(float(rng.uniform(0, 480 - h)), 1)
            area = w * h * float(rng.uniform(0.5, 1.0))
            u = rng.random()
            if u < 0.08:
                area = 32.0**2
            elif u < 0.16:
                area = 96.0**2
            c = int(rng.choice(gt_cats))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img["id"],
                    "category_id": c,
                    "bbox": [x, y, w, h],
                    "area": area,
                    "iscrowd": int(rng.random() < crowd_p),
                }
            )
            for _ in range(int(rng.integers(0, 4))):
                j = rng.normal(0, 0.12, size=4)
                cc = c if rng.random() < 0.8 else int(rng.choice(det_cats))
                if cc == cat_ids[-2]:
                    cc = int(cat_ids[0])
                dets.append(
                    {
                        "image_id": img["id"],
                        "category_id": cc,
                        "bbox": [x + j[0] * w, y + j[1] * h, w * float(np.exp(j[2])), h * float(np.exp(j[3]))],
                        "score": round(float(rng.uniform(0.2, 1.0)), decimals),
                    }
                )
        for _ in range(int(rng.integers(0, rand_dets))):
            s = float(np.exp(rng.uniform(np.log(3), np.log(300))))
            bb = [float(rng.uniform(0, 600)), float(rng.uniform(0, 450)), s, s * float(np.exp(rng.uniform(-0.5, 0.5)))]
            u = rng.random()
            if u < 0.05:
                bb[2], bb[3] = 32.0, 32.0
            elif u < 0.1:
                bb[2], bb[3] = 48.0, 192.0  # area exactly 96**2
            dets.append(
                {
                    "image_id": img["id"],
                    "category_id": int(rng.choice(det_cats)),
                    "bbox": bb,
                    "score": round(float(rng.uniform(0.0, 0.9)), decimals),
                }
            )
    for _ in range(heavy_pairs):
        img = images[int(rng.integers(n_img))]
        c = int(rng.choice(gt_cats[:2]))
        base = [a for a in anns if a["image_id"] == img["id"]] or [{"bbox": [10.0, 10.0, 50.0, 40.0]}]
        for k in range(130):
            bx = base[k % len(base)]["bbox"]
            j = rng.normal(0, 0.2, size=4)
            dets.append(
                {
                    "image_id": img["id"],
                    "category_id": c,
                    "bbox": [
                        bx[0] + j[0] * bx[2],
                        bx[1] + j[1] * bx[3],
                        bx[2] * float(np.exp(j[2])),
                        bx[3] * float(np.exp(j[3])),
                    ],
                    "score": round(float(rng.uniform(0, 1)), 1),
                }
            )
    for _ in range(len(dets) // 15):  # exact duplicates
        d = dets[int(rng.integers(len(dets)))]
        dets.append(dict(d, bbox=list(d["bbox"])))
    order = rng.permutation(len(dets))
    dets = [dets[i] for i in order]
    return {"images": images, "annotations": anns, "categories": cats}, dets


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


def run_pycocotools(gt, dets, setup=None, summarize=True):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        g = pc_coco.COCO()
        g.dataset = copy.deepcopy(gt)
        g.createIndex()
        d = g.loadRes(copy.deepcopy(dets))
        E = pc_eval.COCOeval(g, d, "bbox")
        if setup:
            setup(E.params)
        E.evaluate()
        E.accumulate()
    if summarize:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            E.summarize()
        E.printed = out.getvalue()
    return E


def run_faster(gt, dets, setup=None):
    with _quiet():
        g = fce.COCO(copy.deepcopy(gt))
        d = g.loadRes(copy.deepcopy(dets))
        E = fce.COCOeval_faster(g, d, "bbox")
        if setup:
            setup(E.params)
        E.evaluate()
        E.accumulate()
        E.summarize()
    return E


def run_deepnotes(gt, dets, setup=None):
    g = COCO(copy.deepcopy(gt))
    d = g.loadRes(copy.deepcopy(dets))
    E = COCOeval(g, d, "bbox")
    if setup:
        setup(E.params)
    E.evaluate()
    E.accumulate()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        E.summarize()
    E.printed = out.getvalue()
    return E


def assert_same_eval(ours, ref, stats=True):
    for key in ("precision", "recall", "scores"):
        a, b = ours.eval[key], np.asarray(ref.eval[key])
        assert a.shape == b.shape, (key, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL, err_msg=key)
    if stats:
        np.testing.assert_allclose(np.asarray(ours.stats)[:12], np.asarray(ref.stats)[:12], rtol=0, atol=TOL)


def subset(p):
    p.imgIds = sorted(p.imgIds)[::2]
    p.catIds = sorted(p.catIds)[1:5]


SETUPS = {
    "default": None,
    "useCats0": lambda p: setattr(p, "useCats", 0),
    "subset": subset,
    "useCats0+subset": lambda p: (subset(p), setattr(p, "useCats", 0)),
    "iouThrs": lambda p: setattr(p, "iouThrs", np.array([0.3, 0.5, 0.75, 1.0])),
}


# ------------------------------------------------------------------------------ equality: arrays
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode", list(SETUPS))
def test_matches_pycocotools_and_faster_coco_eval(seed, mode):
    gt, dets = make_set(seed, heavy_pairs=2 if seed == 1 else 0)
    setup = SETUPS[mode]
    ours = run_deepnotes(gt, dets, setup)
    ref = run_pycocotools(gt, dets, setup)
    assert_same_eval(ours, ref)
    if mode != "iouThrs":  # faster-coco-eval's summary needs 0.5 and 0.75 among iouThrs
        assert_same_eval(ours, run_faster(gt, dets, setup))
    else:
        assert_same_eval(ours, run_faster(gt, dets, setup), stats=False)


def test_more_than_100_detections_per_image_and_pair():
    gt, dets = make_set(5, n_img=6, rand_dets=160, heavy_pairs=4, decimals=1)
    counts = np.bincount([d["image_id"] for d in dets])
    assert counts.max() > 100
    ours = run_deepnotes(gt, dets)
    assert_same_eval(ours, run_pycocotools(gt, dets))
    assert_same_eval(ours, run_faster(gt, dets))


def test_summary_lines_identical_to_pycocotools():
    gt, dets = make_set(3)
    ours, ref = run_deepnotes(gt, dets), run_pycocotools(gt, dets)
    assert ours.printed == ref.printed
    assert ours.printed.count("\n") == 12


@pytest.mark.parametrize("seed", [0, 4])
def test_eval_imgs_identical_to_pycocotools(seed):
    gt, dets = make_set(seed, n_img=15)
    ours = run_deepnotes(gt, dets)
    ref = run_pycocotools(gt, dets, summarize=False)
    assert assert_same_eval_imgs(ours, ref) > 50


def assert_same_eval_imgs(ours, ref):
    """pycocotools' evalImgs, entry by entry (None where it has None); returns the number of dicts."""
    assert len(ours.evalImgs) == len(ref.evalImgs)
    n_checked = 0
    for a, b in zip(ours.evalImgs, ref.evalImgs):
        assert (a is None) == (b is None)
        if a is None:
            continue
        n_checked += 1
        assert a["image_id"] == b["image_id"] and a["category_id"] == b["category_id"]
        assert list(a["aRng"]) == list(b["aRng"]) and a["maxDet"] == b["maxDet"]
        assert a["dtIds"] == b["dtIds"] and a["gtIds"] == b["gtIds"]
        np.testing.assert_array_equal(a["dtScores"], b["dtScores"])
        for key in ("dtMatches", "gtMatches", "gtIgnore", "dtIgnore"):
            assert np.shape(a[key]) == np.shape(b[key]), (key, np.shape(a[key]), np.shape(b[key]))
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    return n_checked


def _small_pair():
    """Three images, two categories: image 1 has a gt of category 1, image 2 one of category 2,
    image 3 none."""
    gt = {
        "images": [{"id": 1}, {"id": 2}, {"id": 3}],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [0, 0, 50, 50], "area": 2500, "iscrowd": 0},
        ],
    }
    d_hit = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 9], "score": 0.9}
    d_on_empty = {"image_id": 3, "category_id": 2, "bbox": [0, 0, 10, 10], "score": 0.5}
    d_wrong_cat = {"image_id": 2, "category_id": 1, "bbox": [0, 0, 50, 50], "score": 0.7}
    return gt, d_hit, d_on_empty, d_wrong_cat


@pytest.mark.parametrize("use_cats", [1, 0])
@pytest.mark.parametrize(
    "case", ["no_gt_at_all", "dets_only_where_no_gt", "gts_without_dets", "selected_images_without_dets", "mixed"]
)
def test_eval_imgs_with_images_lacking_detections_or_ground_truth(case, use_cats):
    gt, d_hit, d_on_empty, d_wrong_cat = _small_pair()
    dets = [d_hit, d_on_empty, d_wrong_cat]
    img_ids = None
    if case == "no_gt_at_all":
        gt["annotations"] = []
    elif case == "dets_only_where_no_gt":
        dets = [d_on_empty]
    elif case == "gts_without_dets":
        dets = [d_on_empty]
        img_ids = [1, 2]
    elif case == "selected_images_without_dets":
        dets = [d_hit]
        img_ids = [2, 3]

    def setup(p):
        p.useCats = use_cats
        if img_ids is not None:
            p.imgIds = img_ids

    ours = run_deepnotes(gt, dets, setup)
    ref = run_pycocotools(gt, dets, setup)
    assert_same_eval(ours, ref)
    assert assert_same_eval_imgs(ours, ref) > 0


def test_crowd_iou_matches_mask_api():
    rng = np.random.default_rng(0)
    d = np.c_[rng.uniform(0, 50, (40, 2)), rng.uniform(0, 40, (40, 2))]
    g = np.c_[rng.uniform(0, 50, (7, 2)), rng.uniform(0, 40, (7, 2))]
    g[0, 2] = 0.0  # a zero-width ground truth
    crowd = np.array([0, 1, 0, 1, 0, 0, 1], dtype=np.uint8)
    ref = pc_mask.iou(d.tolist(), g.tolist(), crowd.tolist())
    di, gi = np.meshgrid(np.arange(40), np.arange(7), indexing="ij")
    ours = box_iou_crowd(d[di.ravel()], g[gi.ravel()], crowd.astype(bool)[gi.ravel()]).reshape(40, 7)
    np.testing.assert_array_equal(ours, ref)


def test_custom_area_ranges_and_rec_thresholds():
    gt, dets = make_set(6)

    def setup(p):
        p.areaRng = [[0, 1e10], [0, 20**2], [20**2, 1e10], [32**2, 32**2]]
        p.areaRngLbl = ["all", "small", "medium", "large"]
        p.recThrs = np.linspace(0, 1, 11)

    ours = run_deepnotes(gt, dets, setup)
    assert_same_eval(ours, run_pycocotools(gt, dets, setup))


def test_custom_max_dets_three_caps_match_faster_coco_eval():
    """maxDets=[1, 3, 5]: pycocotools' stats[0] reads maxDets=100 and gives -1; ours and
    faster-coco-eval use the largest cap.  The arrays equal pycocotools' too."""
    gt, dets = make_set(7)
    setup = lambda p: setattr(p, "maxDets", [5, 1, 3])  # noqa: E731 - unsorted on purpose
    ours = run_deepnotes(gt, dets, setup)
    ref = run_pycocotools(gt, dets, setup)
    assert_same_eval(ours, ref, stats=False)
    np.testing.assert_allclose(ours.stats[1:], ref.stats[1:], rtol=0, atol=TOL)
    assert ref.stats[0] == -1
    assert_same_eval(ours, run_faster(gt, dets, setup))


@pytest.mark.parametrize("caps", [[10], [2, 50]])
def test_fewer_than_three_max_dets(caps):
    """pycocotools' summarize raises IndexError; faster-coco-eval is the oracle (its AR lines list each
    cap once, ours repeat the last cap to keep 12 numbers)."""
    gt, dets = make_set(8)
    setup = lambda p: setattr(p, "maxDets", list(caps))  # noqa: E731
    ours = run_deepnotes(gt, dets, setup)
    ref = run_faster(gt, dets, setup)
    assert_same_eval(ours, ref, stats=False)
    assert_same_eval(ours, run_pycocotools(gt, dets, setup, summarize=False), stats=False)
    M = len(caps)
    r = np.asarray(ref.stats)
    np.testing.assert_allclose(ours.stats[:6], r[:6], rtol=0, atol=TOL)
    ar = [r[6 + min(i, M - 1)] for i in range(3)]
    np.testing.assert_allclose(ours.stats[6:9], ar, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.stats[9:12], r[6 + M : 9 + M], rtol=0, atol=TOL)


def test_empty_results_evaluate_like_faster_coco_eval():
    """pycocotools' loadRes raises IndexError on []; faster-coco-eval is the oracle.  A result whose
    category is not evaluated is equivalent for pycocotools."""
    gt, _ = make_set(9)
    with pytest.warns(UserWarning, match=r"COCO.loadRes: the result list is empty; every AP and AR will be 0"):
        ours = run_deepnotes(gt, [])
    assert_same_eval(ours, run_faster(gt, []))
    stray = [{"image_id": gt["images"][0]["id"], "category_id": 999, "bbox": [1.0, 1.0, 5.0, 5.0], "score": 0.5}]
    with pytest.warns(UserWarning, match=r"1 of 1 results have category ids absent from the ground truth \(999\)"):
        run_deepnotes(gt, stray)
    assert_same_eval(ours, run_pycocotools(gt, stray))
    with pytest.warns(UserWarning, match="result list is empty"):
        COCO(copy.deepcopy(gt)).loadRes(np.zeros((0, 7)))


@pytest.mark.parametrize("use_cats", [1, 0])
def test_unknown_result_categories_warn_and_score_as_pycocotools(use_cats):
    gt, dets = make_set(11, n_img=12)
    stray = [dict(d, category_id=c) for d, c in zip(dets[:7], [100, 100, 101, 7000, 100, 101, 5])]
    mixed = dets + stray

    def setup(p):
        p.useCats = use_cats

    with pytest.warns(
        UserWarning,
        match=r"COCO.loadRes: 6 of \d+ results have category ids absent from the "
        r"ground truth \(100, 101, 7000\); they are never evaluated",
    ):
        ours = run_deepnotes(gt, mixed, setup)
    assert_same_eval(ours, run_pycocotools(gt, mixed, setup))


def test_usable_results_do_not_warn():
    gt, dets = make_set(12, n_img=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_deepnotes(gt, dets)


def test_deeply_nested_json_files_are_a_clear_value_error(tmp_path):
    gt = _gt()
    deep = tmp_path / "deep.json"
    for depth in (100_000, 500):
        deep.write_text("[" * depth + "]" * depth)
        with pytest.raises(
            ValueError,
            match=r"COCO.loadRes: '.*deep.json' is not a valid JSON file \(lists/objects "
            r"nested more than 100 levels deep\)",
        ):
            COCO(gt).loadRes(str(deep))
        gt_path = tmp_path / "gt.json"
        gt_path.write_text(json.dumps(gt)[:-1] + ', "info": {"x": ' + "[" * depth + "]" * depth + "}}")
        with pytest.raises(ValueError, match=r"COCO: '.*gt.json' is not a valid JSON file \(lists/objects nested"):
            COCO(str(gt_path))
    shallow = tmp_path / "ok.json"
    shallow.write_text(json.dumps(dict(gt, info={"x": json.loads("[" * 90 + "]" * 90)})))
    assert len(COCO(str(shallow)).getImgIds()) == len(gt["images"])


def test_numpy_and_json_file_results(tmp_path):
    gt, dets = make_set(10)
    arr = np.array([[d["image_id"], *d["bbox"], d["score"], d["category_id"]] for d in dets])
    ref = run_pycocotools(gt, arr)
    ours = run_deepnotes(gt, arr)
    assert_same_eval(ours, ref)
    arr32 = arr.astype(np.float32)
    assert_same_eval(run_deepnotes(gt, arr32), run_pycocotools(gt, arr32))
    path = tmp_path / "dt.json"
    path.write_text(json.dumps(dets))
    g = COCO(copy.deepcopy(gt))
    E = COCOeval(g, g.loadRes(str(path)), "bbox")
    E.evaluate()
    E.accumulate()
    assert_same_eval(E, run_pycocotools(gt, dets), stats=False)


def test_ground_truth_from_file_and_accumulate_subset(tmp_path):
    gt, dets = make_set(11)
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    g = COCO(str(path))
    E = COCOeval(g, g.loadRes(copy.deepcopy(dets)), "bbox")
    E.evaluate()
    p = copy.deepcopy(E.params)
    p.recThrs = np.linspace(0, 1, 21)
    E.accumulate(p)
    ref = run_pycocotools(gt, dets, summarize=False)
    p_ref = copy.deepcopy(ref.params)
    p_ref.recThrs = np.linspace(0, 1, 21)
    with _quiet():
        ref.accumulate(p_ref)
    assert_same_eval(E, ref, stats=False)


def test_zero_ids_still_count():
    """pycocotools tests matched ids against 0, so a ground truth with id 0 can never be a TP; ours
    counts it.  Renumbering the ids from 1 (pycocotools then works) must give the same result."""
    gt, dets = make_set(12)
    gt0 = copy.deepcopy(gt)
    for a in gt0["annotations"]:
        a["id"] -= 1
    ours = run_deepnotes(gt0, dets)
    assert_same_eval(ours, run_pycocotools(gt, dets))


def test_per_category_table_against_pycocotools_arrays():
    gt, dets = make_set(13)
    ours = run_deepnotes(gt, dets)
    ref = run_pycocotools(gt, dets)
    rows, text = ours.per_category_table()
    prec, rec = ref.eval["precision"], ref.eval["recall"]
    assert [r["category_id"] for r in rows] == sorted(c["id"] for c in gt["categories"])

    def mean_valid(x):
        v = x[x > -1]
        return float(np.mean(v)) if v.size else float("nan")

    for k, r in enumerate(rows):
        np.testing.assert_allclose(r["AP"], mean_valid(prec[:, :, k, 0, 2]), atol=TOL)
        np.testing.assert_allclose(r["AP50"], mean_valid(prec[0, :, k, 0, 2]), atol=TOL)
        np.testing.assert_allclose(r["AP75"], mean_valid(prec[5, :, k, 0, 2]), atol=TOL)
        for key, a in (("APs", 1), ("APm", 2), ("APl", 3)):
            np.testing.assert_allclose(r[key], mean_valid(prec[:, :, k, a, 2]), atol=TOL)
        np.testing.assert_allclose(r["AR"], mean_valid(rec[:, k, 0, 2]), atol=TOL)
        assert r["name"] in text
    # the category with no ground truth has no AP
    assert np.isnan(rows[-1]["AP"])
    # mean of the per-category APs over valid entries equals stats[0] when each category has all R*T
    valid = [r["AP"] for r in rows if not np.isnan(r["AP"])]
    np.testing.assert_allclose(np.mean(valid), ref.stats[0], atol=TOL)


# ------------------------------------------------------------------------------------ COCO API
def test_coco_getters_match_pycocotools():
    gt, _ = make_set(14)
    ours = COCO(copy.deepcopy(gt))
    with _quiet():
        ref = pc_coco.COCO()
        ref.dataset = copy.deepcopy(gt)
        ref.createIndex()
    img_ids = [im["id"] for im in gt["images"]]
    cat_ids = [c["id"] for c in gt["categories"]]
    assert ours.getImgIds() == ref.getImgIds()
    assert sorted(ours.getImgIds(catIds=cat_ids[:2])) == sorted(ref.getImgIds(catIds=cat_ids[:2]))
    assert sorted(ours.getImgIds(imgIds=img_ids[:9], catIds=[cat_ids[0]])) == sorted(
        ref.getImgIds(imgIds=img_ids[:9], catIds=[cat_ids[0]])
    )
    assert ours.getCatIds() == ref.getCatIds()
    assert ours.getCatIds(catNms=["cat3", "cat5"]) == ref.getCatIds(catNms=["cat3", "cat5"])
    assert ours.getCatIds(supNms="even") == ref.getCatIds(supNms="even")
    assert ours.getCatIds(catIds=cat_ids[1:3]) == ref.getCatIds(catIds=cat_ids[1:3])
    for kw in (
        {},
        {"imgIds": img_ids[:5]},
        {"catIds": cat_ids[2]},
        {"areaRng": [32**2, 96**2]},
        {"iscrowd": 1},
        {"iscrowd": 0, "imgIds": img_ids[3:12], "catIds": cat_ids[:3]},
    ):
        assert ours.getAnnIds(**kw) == ref.getAnnIds(**kw), kw
    ids = ref.getAnnIds(imgIds=img_ids[:4])
    assert ours.loadAnns(ids) == ref.loadAnns(ids)
    assert ours.loadAnns(ids[0]) == ref.loadAnns(ids[0])
    assert ours.loadImgs(img_ids[:3]) == ref.loadImgs(img_ids[:3])
    assert ours.loadCats(cat_ids[0]) == ref.loadCats(cat_ids[0])
    assert dict(ours.catToImgs) == dict(ref.catToImgs)


def test_load_res_fields_match_pycocotools():
    gt, dets = make_set(15)
    ours = COCO(copy.deepcopy(gt)).loadRes(copy.deepcopy(dets))
    with _quiet():
        g = pc_coco.COCO()
        g.dataset = copy.deepcopy(gt)
        g.createIndex()
        ref = g.loadRes(copy.deepcopy(dets))
    assert ours.getAnnIds() == ref.getAnnIds()
    for a, b in zip(ours.dataset["annotations"], ref.dataset["annotations"]):
        for key in ("id", "image_id", "category_id", "bbox", "score", "area", "iscrowd"):
            assert a[key] == b[key], key
    src = copy.deepcopy(dets)
    COCO(copy.deepcopy(gt)).loadRes(src)
    assert src == dets, "loadRes must not modify the caller's dicts"


# ------------------------------------------------------------------------------------ bad input
def _gt():
    return {
        "images": [{"id": 1}, {"id": 2}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [5, 5, 10, 10], "area": 100, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "a"}],
    }


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (lambda d: d["annotations"][1].pop("bbox"), r"annotation 1 is missing the required field 'bbox'"),
        (lambda d: d["annotations"][1].pop("image_id"), r"annotation 1 is missing the required field 'image_id'"),
        (lambda d: d["images"][0].pop("id"), r"image 0 is missing the required field 'id'"),
        (lambda d: d["annotations"][0].update(image_id="1"), r"annotation 0 field 'image_id' must be an integer"),
        (lambda d: d["annotations"][1].update(category_id=1.5), r"annotation 1 field 'category_id' must be an integer"),
        (lambda d: d["annotations"][1].update(bbox=[0, 0, 10]), r"annotation 1 field 'bbox' must be 4 numbers"),
        (lambda d: d["annotations"][0].update(bbox=["0", 0, 1, 1]), r"annotation 0 field 'bbox' must be 4 numbers"),
        (lambda d: d["annotations"][1].update(bbox=[0, 0, -3, 10]), r"annotation 1 field 'bbox' has negative width"),
        (lambda d: d["annotations"][0].update(bbox=[0, 0, 3, -1]), r"annotation 0 field 'bbox' has negative height"),
        (
            lambda d: d["annotations"][0].update(bbox=[0, float("nan"), 3, 1]),
            r"annotation 0 field 'bbox' must be finite",
        ),
        (lambda d: d["annotations"][1].update(area="big"), r"annotation 1 field 'area' must be a number"),
        (lambda d: d["annotations"][1].update(iscrowd=2), r"annotation 1 field 'iscrowd' must be 0 or 1"),
        (lambda d: d["annotations"][1].update(id=1), r"annotation 1 repeats the id 1"),
        (lambda d: d.update(annotations={"id": 1}), r"'annotations' must be a list"),
        (lambda d: d["annotations"].append(["not", "a", "dict"]), r"annotation 2 must be a JSON object"),
    ],
)
def test_bad_ground_truth(mutate, pattern):
    d = _gt()
    mutate(d)
    with pytest.raises(ValueError, match=pattern):
        COCO(d)


def _res():
    return [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8},
    ]


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (lambda r: r[1].update(image_id=99), r"result 1 has image_id 99, which is not an image"),
        (lambda r: r[0].update(score=float("nan")), r"result 0 field 'score' must be a finite number"),
        (lambda r: r[1].pop("score"), r"result 1 is missing the required field 'score'"),
        (lambda r: r[1].pop("bbox"), r"result 1 is missing the required field 'bbox'"),
        (lambda r: r[0].update(bbox=[0, 0, -1, 2]), r"result 0 field 'bbox' has negative width"),
        (lambda r: r[1].update(category_id="x"), r"result 1 field 'category_id' must be an integer"),
        (lambda r: r.append(3), r"result 2 must be a JSON object"),
    ],
)
def test_bad_results(mutate, pattern):
    r = _res()
    mutate(r)
    with pytest.raises(ValueError, match=pattern):
        COCO(_gt()).loadRes(r)


def test_bad_files_and_arrays(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="is not a valid JSON file"):
        COCO(str(bad))
    lst = tmp_path / "list.json"
    lst.write_text("[1, 2]")
    with pytest.raises(ValueError, match="holds a JSON list"):
        COCO(str(lst))
    with pytest.raises(ValueError, match="is not a valid JSON file"):
        COCO(_gt()).loadRes(str(bad))
    obj = tmp_path / "obj.json"
    obj.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="results must be a list"):
        COCO(_gt()).loadRes(str(obj))
    with pytest.raises(ValueError, match=r"N x 7"):
        COCO(_gt()).loadRes(np.zeros((3, 6)))
    arr = np.array([[1, 0, 0, 5, 5, np.nan, 1]])
    with pytest.raises(ValueError, match="row 0 contains a NaN"):
        COCO(_gt()).loadRes(arr)
    with pytest.raises(TypeError, match="annotation_file must be None, a path or a dict"):
        COCO(42)
    with pytest.raises(ValueError, match="unknown id 5"):
        COCO(_gt()).loadAnns([5])


def test_bad_params_and_call_order():
    g = COCO(_gt())
    d = g.loadRes(_res())
    with pytest.raises(ValueError, match="only iouType='bbox'"):
        COCOeval(g, d, "segm")
    E = COCOeval(g, d, "bbox")
    with pytest.raises(RuntimeError, match="call evaluate"):
        E.accumulate()
    E.params.maxDets = [0, 10]
    with pytest.raises(ValueError, match="maxDets must be a non-empty list of positive integers"):
        E.evaluate()
    E.params.maxDets = [1, 10, 100]
    E.params.iouThrs = [0.5, float("nan")]
    with pytest.raises(ValueError, match="iouThrs"):
        E.evaluate()
    E = COCOeval(g, d, "bbox")
    E.evaluate()
    with pytest.raises(RuntimeError, match="call accumulate"):
        E.summarize()


# ------------------------------------------------------------------------------------------ CLI
def test_cli_coco_eval(tmp_path, capsys):
    from deepnotes.detection.cli import STAT_NAMES, register

    gt, dets = make_set(16)
    gt_path, dt_path, out = tmp_path / "gt.json", tmp_path / "dt.json", tmp_path / "out" / "stats.json"
    gt_path.write_text(json.dumps(gt))
    dt_path.write_text(json.dumps(dets))
    parser = argparse.ArgumentParser(prog="deepnotes")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["coco-eval", str(gt_path), str(dt_path), "--per-class", "--json", str(out)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    ref = run_pycocotools(gt, dets)
    assert printed.startswith(ref.printed)
    assert "cat3" in printed
    data = json.loads(out.read_text())
    np.testing.assert_allclose([data["stats"][k] for k in STAT_NAMES], ref.stats, rtol=0, atol=TOL)
    assert len(data["per_class"]) == len(gt["categories"])

    bad = tmp_path / "bad.json"
    bad.write_text("[{]")
    args = parser.parse_args(["coco-eval", str(gt_path), str(bad)])
    assert args.func(args) == 2
    assert "not a valid JSON file" in capsys.readouterr().err

    bad.write_text("[" * 100_000 + "]" * 100_000)
    args = parser.parse_args(["coco-eval", str(gt_path), str(bad)])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a valid JSON file (lists/objects nested more than 100" in err

    bad.write_text("[]")
    args = parser.parse_args(["coco-eval", str(gt_path), str(bad)])
    assert args.func(args) == 0
    err = capsys.readouterr().err
    assert err == "deepnotes coco-eval: warning: COCO.loadRes: the result list is empty; every AP and AR will be 0\n"
