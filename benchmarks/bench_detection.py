"""Detection benchmarks: deepnotes vs the reference libraries, same data, one process.

Cases:
    coco-eval  COCOeval.evaluate() + accumulate() on a generated COCO-sized set (5,000 images, ~7 ground
               truths and 100 detections per image, 80 categories) for deepnotes, pycocotools and
               faster-coco-eval; prints the ratios and the 12 summary numbers of each.
    nms        non-maximum suppression of 10,000 boxes: deepnotes.detection.nms.nms vs cv2.dnn.NMSBoxes.
    train-step one training step (forward, losses, backward, SGD) of the default small detector
               (retinanet_small, batch 8 of 128x128 Shapes images) vs the same architecture and weights
               in torch (torchvision's RetinaNet over a torch twin of the small ResNet), one thread each;
               ratio = deepnotes / torch (lower = deepnotes faster).

Run: PYTHONPATH=src python benchmarks/bench_detection.py [--images 5000] [--repeat 3]
Ratios are reference_time / deepnotes_time for coco-eval (higher = deepnotes faster) and
deepnotes_time / cv2_time for nms (lower = deepnotes faster): medians of interleaved rounds after a
warm-up (pycocotools: one round by default, it takes minutes).  loadRes/index building is not timed.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import statistics
import time

import numpy as np


def make_coco_set(seed=0, n_images=5000, n_categories=80, gt_per_image=7, dt_per_image=100):
    """A seeded COCO-like ground truth (dict) and result list (list of dicts).

    Ground-truth boxes have log-uniform sizes (all three area ranges), 1% crowd regions, category
    frequencies that fall off like real data; each image gets ``dt_per_image`` detections: jittered
    copies of its ground truth (mostly the right class) plus random boxes, scores with 3 decimals
    (many ties).
    """
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_categories + 1) ** 0.8
    weights /= weights.sum()
    cat_ids = np.arange(1, n_categories + 1) + (np.arange(n_categories) // 10)  # gaps like COCO's ids
    images = [{"id": int(i), "width": 640, "height": 480, "file_name": f"{i:06d}.jpg"} for i in range(1, n_images + 1)]
    categories = [{"id": int(c), "name": f"class_{c}", "supercategory": "thing"} for c in cat_ids]
    n_gt = rng.poisson(gt_per_image, size=n_images)
    g_img = np.repeat(np.arange(1, n_images + 1), n_gt)
    G = g_img.size
    side = np.exp(rng.uniform(np.log(6), np.log(350), size=G))
    ratio = np.exp(rng.uniform(-0.8, 0.8, size=G))
    gw, gh = np.minimum(side * ratio, 630), np.minimum(side / ratio, 470)
    gx, gy = rng.uniform(0, 640 - gw), rng.uniform(0, 480 - gh)
    g_cat = cat_ids[rng.choice(n_categories, size=G, p=weights)]
    g_area = gw * gh * rng.uniform(0.45, 0.95, size=G)
    g_crowd = rng.random(G) < 0.01
    annotations = [
        {
            "id": i + 1,
            "image_id": int(im),
            "category_id": int(c),
            "bbox": [x, y, w, h],
            "area": float(a),
            "iscrowd": int(cr),
        }
        for i, (im, c, x, y, w, h, a, cr) in enumerate(
            zip(
                g_img.tolist(),
                g_cat.tolist(),
                gx.tolist(),
                gy.tolist(),
                gw.tolist(),
                gh.tolist(),
                g_area.tolist(),
                g_crowd.tolist(),
            )
        )
    ]
    # detections: up to 5 jittered copies per gt, the rest random, exactly dt_per_image per image
    copies = rng.integers(1, 6, size=G)
    src = np.repeat(np.arange(G), copies)
    jit = rng.normal(0, 0.12, size=(src.size, 4))
    tx = gx[src] + jit[:, 0] * gw[src]
    ty = gy[src] + jit[:, 1] * gh[src]
    tw = gw[src] * np.exp(jit[:, 2])
    th = gh[src] * np.exp(jit[:, 3])
    t_cat = np.where(rng.random(src.size) < 0.85, g_cat[src], cat_ids[rng.integers(0, n_categories, src.size)])
    t_score = rng.uniform(0.2, 1.0, size=src.size)
    t_img = g_img[src]
    per_img = np.bincount(t_img, minlength=n_images + 1)[1:]
    n_rand = np.maximum(dt_per_image - per_img, 0)
    r_img = np.repeat(np.arange(1, n_images + 1), n_rand)
    R = r_img.size
    rs = np.exp(rng.uniform(np.log(6), np.log(350), size=R))
    rr = np.exp(rng.uniform(-0.8, 0.8, size=R))
    rw, rh = np.minimum(rs * rr, 630), np.minimum(rs / rr, 470)
    rx, ry = rng.uniform(0, 640 - rw), rng.uniform(0, 480 - rh)
    r_cat = cat_ids[rng.choice(n_categories, size=R, p=weights)]
    r_score = rng.uniform(0.0, 0.7, size=R)
    img = np.concatenate([t_img, r_img])
    box = np.stack([np.concatenate(v) for v in ((tx, rx), (ty, ry), (tw, rw), (th, rh))], axis=1)
    cat = np.concatenate([t_cat, r_cat])
    score = np.round(np.concatenate([t_score, r_score]), 3)
    order = np.lexsort((rng.random(img.size), img))
    # keep the first dt_per_image detections of every image
    img, box, cat, score = img[order], box[order], cat[order], score[order]
    first = np.searchsorted(img, img)
    keep = (np.arange(img.size) - first) < dt_per_image
    results = [
        {"image_id": int(i), "category_id": int(c), "bbox": b, "score": s}
        for i, c, b, s in zip(img[keep].tolist(), cat[keep].tolist(), box[keep].tolist(), score[keep].tolist())
    ]
    gt = {"info": {"description": "generated"}, "images": images, "annotations": annotations, "categories": categories}
    return gt, results


def _median_time(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_coco(n_images, repeat, pyco_repeat=1):
    from deepnotes.detection.coco import COCO as DnCOCO
    from deepnotes.detection.coco import COCOeval as DnEval

    gt, results = make_coco_set(n_images=n_images)
    print(
        f"coco-eval data: {len(gt['images'])} images, {len(gt['annotations'])} ground truths, "
        f"{len(results)} detections, {len(gt['categories'])} categories"
    )
    libs = {"deepnotes": (DnCOCO, DnEval)}
    try:
        from pycocotools.coco import COCO as PcCOCO
        from pycocotools.cocoeval import COCOeval as PcEval

        libs["pycocotools"] = (PcCOCO, PcEval)
    except ImportError:
        print("pycocotools not installed: skipped")
    try:
        from faster_coco_eval import COCO as FcCOCO
        from faster_coco_eval import COCOeval_faster as FcEval

        libs["faster-coco-eval"] = (FcCOCO, FcEval)
    except ImportError:
        print("faster-coco-eval not installed: skipped")

    def prepare(coco_cls, data, res):
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = coco_cls()
            coco_gt.dataset = copy.deepcopy(data)
            coco_gt.createIndex()
            coco_dt = coco_gt.loadRes(copy.deepcopy(res))
        return coco_gt, coco_dt

    def evaluate(eval_cls, coco_gt, coco_dt):
        with contextlib.redirect_stdout(io.StringIO()):
            E = eval_cls(coco_gt, coco_dt, "bbox")
            E.evaluate()
            E.accumulate()
        return E

    # warm-up on a small slice, then interleaved timed rounds so that machine load hits every library
    # alike; pycocotools takes minutes per round, so it runs `pyco_repeat` rounds only
    small_imgs = {im["id"] for im in gt["images"][:200]}
    small_gt = dict(
        gt, images=gt["images"][:200], annotations=[a for a in gt["annotations"] if a["image_id"] in small_imgs]
    )
    small_res = [r for r in results if r["image_id"] in small_imgs]
    inputs = {}
    for name, (coco_cls, eval_cls) in libs.items():
        evaluate(eval_cls, *prepare(coco_cls, small_gt, small_res))
        inputs[name] = prepare(coco_cls, gt, results)
    samples = {name: [] for name in libs}
    last = {}
    for r in range(repeat):
        for name, (_, eval_cls) in libs.items():
            if name == "pycocotools" and r >= pyco_repeat:
                continue
            t0 = time.perf_counter()
            last[name] = evaluate(eval_cls, *inputs[name])
            samples[name].append(time.perf_counter() - t0)
    times = {name: statistics.median(v) for name, v in samples.items()}
    stats = {}
    for name, E in last.items():
        with contextlib.redirect_stdout(io.StringIO()):
            E.summarize()
        stats[name] = np.asarray(E.stats[:12], dtype=np.float64)
    base = times["deepnotes"]
    for name, t in times.items():
        if name == "deepnotes":
            continue
        print(
            f"coco-eval evaluate+accumulate  {name}/deepnotes = {t / base:6.2f}x  "
            f"(deepnotes {base:.2f}s, {name} {t:.2f}s)"
        )
    for name, s in stats.items():
        print(f"  stats {name:<17} " + " ".join(f"{v:.4f}" for v in s))
    ref = stats["deepnotes"]
    for name, s in stats.items():
        if name != "deepnotes":
            print(f"  max |stats deepnotes - {name}| = {np.abs(ref - s).max():.3g}")


def bench_nms(repeat):
    try:
        from deepnotes.detection.nms import nms
    except ImportError as err:
        print(f"nms: skipped, deepnotes.detection.nms.nms is not available yet ({err})")
        return
    try:
        import cv2
    except ImportError:
        print("nms: skipped, OpenCV (cv2) is not installed")
        return
    rng = np.random.default_rng(0)
    n = 10_000
    xy = rng.uniform(0, 1000, size=(n, 2))
    wh = rng.uniform(10, 120, size=(n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    scores = rng.random(n)
    thr = 0.5
    xywh = np.concatenate([xy, wh], axis=1).tolist()
    score_list = scores.tolist()

    def run_dn():
        return nms(boxes, scores, thr)

    def run_cv():
        return cv2.dnn.NMSBoxes(xywh, score_list, 0.0, thr)

    t_dn = _median_time(run_dn, repeat)
    t_cv = _median_time(run_cv, repeat)
    keep_dn = np.asarray(run_dn()).ravel()
    keep_cv = np.asarray(run_cv()).ravel()
    same = np.array_equal(np.sort(keep_dn), np.sort(keep_cv))
    print(
        f"nms 10,000 boxes  deepnotes/cv2 = {t_dn / t_cv:6.2f}x  (deepnotes {t_dn * 1e3:.1f} ms, "
        f"cv2 {t_cv * 1e3:.1f} ms; kept {len(keep_dn)} vs {len(keep_cv)}, same set: {same})"
    )


def _bare_torchvision():
    """torchvision's pure-Python detection files without its C++ operators (see tests/conftest.py)."""
    import importlib.util
    import sys
    import types

    if "torchvision" not in sys.modules:
        spec = importlib.util.find_spec("torchvision")
        module = types.ModuleType("torchvision")
        module.__path__ = list(spec.submodule_search_locations)
        sys.modules["torchvision"] = module
    sys.modules["torchvision"]._is_tracing = lambda: False


def _torch_small_retinanet(dn_model, num_classes):
    """torchvision's RetinaNet with the module tree of deepnotes' retinanet_small (same state_dict keys)."""
    import importlib

    from torch import nn

    tv_ret = importlib.import_module("torchvision.models.detection.retinanet")
    tv_anchor = importlib.import_module("torchvision.models.detection.anchor_utils")
    tv_backbone = importlib.import_module("torchvision.models.detection.backbone_utils")
    tv_resnet = importlib.import_module("torchvision.models.resnet")
    tv_fpn = importlib.import_module("torchvision.ops.feature_pyramid_network")

    class SmallResNet(nn.Module):
        def __init__(self, widths):
            super().__init__()
            self.conv1 = nn.Conv2d(3, widths[0], 3, 2, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.relu = nn.ReLU(inplace=True)
            inplanes = widths[0]
            for k, w in enumerate(widths):
                down = nn.Sequential(nn.Conv2d(inplanes, w, 1, stride=2, bias=False), nn.BatchNorm2d(w))
                setattr(self, f"layer{k + 1}", nn.Sequential(tv_resnet.BasicBlock(inplanes, w, 2, down)))
                inplanes = w

    widths = (16, 32, 64, 128)
    layers = {"layer2": "0", "layer3": "1", "layer4": "2"}
    body = tv_backbone.BackboneWithFPN(SmallResNet(widths), layers, list(widths[1:]), 64, tv_fpn.LastLevelP6P7(64, 64))
    sizes = tuple((s, int(s * 2 ** (1.0 / 3)), int(s * 2 ** (2.0 / 3))) for s in (8, 16, 32, 64, 128))
    anchors = tv_anchor.AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 5)
    head = tv_ret.RetinaNetHead(64, 9, num_classes)
    for sub in (head.classification_head, head.regression_head):
        sub.conv = nn.Sequential(*list(sub.conv)[:2])
    t = dn_model.transform
    model = tv_ret.RetinaNet(
        body,
        num_classes,
        min_size=t.min_size,
        max_size=t.max_size,
        image_mean=t.image_mean,
        image_std=t.image_std,
        anchor_generator=anchors,
        head=head,
    )
    import torch

    model.load_state_dict({k: torch.from_numpy(np.array(v.data)) for k, v in dn_model.state_dict().items()})
    return model


def bench_train_step(repeat, threads=1):
    _bare_torchvision()
    import torch
    from threadpoolctl import threadpool_limits

    import deepnotes as dn
    from deepnotes.data import Shapes
    from deepnotes.models.detection import retinanet_small

    torch.set_num_threads(threads)
    dn.manual_seed(0)
    data = Shapes(num_images=8, seed=0)
    images, targets = zip(*[data[i] for i in range(8)])
    ours = retinanet_small(num_classes=Shapes.num_classes)
    theirs = _torch_small_retinanet(ours, Shapes.num_classes)
    ours.train()
    theirs.train()
    dn_opt = dn.optim.SGD(ours.parameters(), lr=1e-4, momentum=0.9)
    t_opt = torch.optim.SGD(theirs.parameters(), lr=1e-4, momentum=0.9)
    t_images = [torch.from_numpy(np.array(i)) for i in images]
    t_targets = [
        {"boxes": torch.from_numpy(np.array(t["boxes"])), "labels": torch.from_numpy(t["labels"])} for t in targets
    ]
    losses = {}

    def run_dn():
        loss = ours(list(images), list(targets))
        total = sum(loss.values())
        dn_opt.zero_grad()
        total.backward()
        dn_opt.step()
        losses["dn"] = {k: float(v.item()) for k, v in loss.items()}

    def run_torch():
        loss = theirs(t_images, t_targets)
        total = sum(loss.values())
        t_opt.zero_grad()
        total.backward()
        t_opt.step()
        losses["torch"] = {k: float(v.detach()) for k, v in loss.items()}

    from _timing import timed_pair

    with threadpool_limits(limits=threads):
        t_dn, t_torch = timed_pair(run_dn, run_torch, repeat, warmup=1)
    print(
        f"train-step retinanet_small batch 8 128x128  deepnotes/torch = {t_dn / t_torch:5.2f}x  "
        f"(deepnotes {t_dn * 1e3:.0f} ms, torch {t_torch * 1e3:.0f} ms, {threads} thread(s)); "
        f"last losses deepnotes {losses['dn']}, torch {losses['torch']}"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pyco-repeat", type=int, default=1, help="timed pycocotools rounds (minutes each)")
    ap.add_argument("--only", choices=["coco", "nms", "train-step"], default=None)
    ap.add_argument("--threads", type=int, default=1, help="threads of the train-step case (default 1)")
    args = ap.parse_args(argv)
    if args.only in (None, "coco"):
        bench_coco(args.images, args.repeat, args.pyco_repeat)
    if args.only in (None, "nms"):
        bench_nms(args.repeat)
    if args.only in (None, "train-step"):
        bench_train_step(args.repeat, args.threads)


if __name__ == "__main__":
    main()
