"""Augmentation claims of the notes (seed 001, issue 14): what MixUp does to held-out accuracy, and what
Mosaic does to the number of small objects a detector sees per batch."""

from __future__ import annotations

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
import deepnotes.nn.functional as F
from deepnotes.data.transforms.batch import MixUp
from deepnotes.data.transforms.detection import Mosaic
from deepnotes.data.tv_tensors import BoundingBoxes

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import digits, logits_of, mean_std, seeded, single_threaded, t_statistic

# ------------------------------------------------------------------ MixUp (S001-58)
_MIXUP_CLAIM = (
    "Mixup increases the number of samples and enriches the objects' backgrounds, which improves the "
    "model's generalisation (the notes); the catalogue adds that it works as a regulariser that shrinks "
    "the gap between training and held-out accuracy."
)


def _nll(logits, y):
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def _mixup_run(seed, use_mixup, n_train, epochs, batch_size, alpha):
    """Train the 64-128-10 MLP on ``n_train`` digits (a subset drawn from ``seed``), Adam lr 3e-3, with or
    without MixUp on every batch; returns (train accuracy, test accuracy, test loss)."""
    xtr, ytr, xte, yte = digits(flat=False)
    rng = seeded(seed)
    sub = np.random.default_rng([seed, 58]).permutation(len(xtr))[:n_train]
    x, y = xtr[sub], ytr[sub]
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = dn.optim.Adam(model.parameters(), lr=3e-3)
    mix = MixUp(alpha=alpha, num_classes=10, generator=np.random.default_rng([seed, 59]))
    model.train()
    for _ in range(epochs):
        order = rng.permutation(n_train)
        for i in range(0, n_train, batch_size):
            idx = order[i : i + batch_size]
            xb, tb = mix(x[idx], y[idx]) if use_mixup else (x[idx], y[idx])
            loss = F.cross_entropy(model(dn.tensor(xb)), dn.tensor(tb))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    train_acc = float((logits_of(model, x).argmax(1) == y).mean())
    logits = logits_of(model, xte)
    return train_acc, float((logits.argmax(1) == yte).mean()), _nll(logits, yte)


@experiment("mixup_generalisation", ids=["S001-58"], claim=_MIXUP_CLAIM)
@single_threaded
def mixup_generalisation(seed=0, quick=False):
    """Notes S001-58: mixup "increases the number of samples, enriches the background of the objects and
    improves the model's generalisation".

    Measured: a 64-128-10 MLP trained on 300 of the bundled 8x8 digits (a small set, where a regulariser has
    something to do), Adam lr 3e-3, 30 epochs in batches of 60 (quick) or 60 epochs in batches of 32, with and without
    ``deepnotes.data.transforms.batch.MixUp`` (alpha 0.2, the low end of the notes' 0.2-0.4) on every batch,
    over several seeds (each seed draws its own 300 digits, initial weights and order); scored on the 360
    held-out test digits.
    Checks, on the paired per-seed differences (more than 2 standard errors from 0): held-out accuracy is
    higher with mixup (the notes' "better generalisation"); the gap between training and held-out accuracy
    is smaller with mixup (the regulariser the catalogue describes).
    """
    seeds = [seed + i for i in range(3 if quick else 8)]
    n_train, alpha = 300, 0.2
    epochs, batch_size = (30, 60) if quick else (60, 32)
    runs = {
        k: [_mixup_run(s, k == "mixup", n_train, epochs, batch_size, alpha) for s in seeds] for k in ("none", "mixup")
    }
    acc_d = [m[1] - n[1] for m, n in zip(runs["mixup"], runs["none"])]
    gap = {k: [r[0] - r[1] for r in v] for k, v in runs.items()}
    gap_d = [a - b for a, b in zip(gap["none"], gap["mixup"])]
    checks = [
        Check(
            f"held-out accuracy, mixup - none, in standard errors (mean {np.mean(acc_d):+.4f})",
            t_statistic(acc_d),
            ">",
            2.0,
        ),
        Check(
            f"train - held-out accuracy gap, none - mixup, in standard errors (mean {np.mean(gap_d):+.4f})",
            t_statistic(gap_d),
            ">",
            2.0,
        ),
    ]
    rows = [
        [
            s,
            runs["none"][i][0],
            runs["mixup"][i][0],
            runs["none"][i][1],
            runs["mixup"][i][1],
            runs["none"][i][2],
            runs["mixup"][i][2],
        ]
        for i, s in enumerate(seeds)
    ]
    means = [[k] + [mean_std([r[j] for r in runs[k]])[0] for j in range(3)] for k in ("none", "mixup")]
    return Result(
        experiment="mixup_generalisation",
        claim=_MIXUP_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"64-128-10 MLP on {n_train} digits, {epochs} epochs, batch {batch_size}, MixUp alpha {alpha}: "
                "per seed",
                [
                    "seed",
                    "train accuracy, none",
                    "train accuracy, mixup",
                    "held-out accuracy, none",
                    "held-out accuracy, mixup",
                    "held-out loss, none",
                    "held-out loss, mixup",
                ],
                rows,
            ),
            Table(
                f"Means over {len(seeds)} seeds",
                ["training", "train accuracy", "held-out accuracy", "held-out loss"],
                means,
            ),
        ],
        figures=[
            Figure(
                "mixup_accuracy",
                "Held-out accuracy per seed",
                "seed",
                "accuracy",
                {k: (seeds, [r[1] for r in runs[k]]) for k in ("none", "mixup")},
                kind="bar",
            )
        ],
        seeds=seeds,
        quick=quick,
        notes="Mixup does not add samples in the sense of new data: it trains on convex combinations of "
        "pairs of the same samples with soft targets. 8x8 digits have no background to enrich, so only the "
        "generalisation part of the claim is measured.",
    )


# ------------------------------------------------------------------ Mosaic (S001-60)
_MOSAIC_CLAIM = (
    "Mosaic stitches four randomly scaled images into one, which greatly enriches a detection data set; "
    "in particular the random scaling adds many small objects (the notes)."
)

_CANVAS = 320  # side of the training canvas; COCO's "small" (area < 32^2 at ~640 px) scales to 16^2 here
_SMALL_AREA = (32 * _CANVAS / 640) ** 2


def _generated_detection_set(rng, n_images):
    """``n_images`` (image, target) samples: sides 160-480 px, 1-8 rectangles each whose sides are
    log-uniform between 2% and 50% of the image's short side (roughly COCO's mix of small, medium and large
    objects once an image fills the canvas), drawn in random colours."""
    samples = []
    for _ in range(n_images):
        h, w = (int(v) for v in rng.integers(160, 481, size=2))
        img = np.zeros((3, h, w), np.uint8)
        boxes = []
        for _ in range(int(rng.integers(1, 9))):
            bw, bh = (float(min(h, w) * np.exp(rng.uniform(np.log(0.02), np.log(0.5)))) for _ in range(2))
            x1, y1 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            boxes.append([x1, y1, x1 + bw, y1 + bh])
            img[:, int(y1) : int(np.ceil(y1 + bh)), int(x1) : int(np.ceil(x1 + bw))] = rng.integers(1, 256, (3, 1, 1))
        target = {
            "boxes": BoundingBoxes(np.array(boxes), format="XYXY", canvas_size=(h, w)),
            "labels": np.zeros(len(boxes), np.int64),
        }
        samples.append((img, target))
    return samples


def _letterboxed_boxes(sample, scale_range, rng):
    """Boxes of one image fitted to the canvas (long side = canvas, as YOLOv5's letterbox), times a random
    factor from ``scale_range``, clipped to the canvas (only the box geometry is needed for the count)."""
    img, target = sample
    h, w = img.shape[1:]
    f = min(_CANVAS / h, _CANVAS / w) * rng.uniform(*scale_range)
    b = np.asarray(target["boxes"]) * f
    b = b.clip(0, _CANVAS)
    wide = ((b[:, 2] - b[:, 0]) > 2) & ((b[:, 3] - b[:, 1]) > 2)
    return b[wide]


def _counts(boxes):
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return int((area < _SMALL_AREA).sum()), int(len(area))


@experiment("mosaic_small_objects", ids=["S001-60"], claim=_MOSAIC_CLAIM)
@single_threaded
def mosaic_small_objects(seed=0, quick=False):
    """Notes S001-60: mosaic takes 4 images, scales them randomly and stitches them at random, which greatly
    enriches a detection data set; "in particular the random scaling adds many small objects".

    Measured: generated images (160-480 px sides) with 1-8 rectangles each, sides log-uniform between 2% and
    50% of the image, turned into training samples on a 320x320 canvas in batches of 16, four ways: one image
    letterboxed to the canvas (plain), the same with a random scale factor 0.5-1.5, and
    ``deepnotes.data.transforms.detection.Mosaic`` (each image fitted to a quadrant, YOLOv5's load_mosaic
    geometry) without and with the per-image random scale 0.5-1.5.  Counted per batch: objects left after
    clipping and dropping (boxes of at most 2 px or under 10% visible are dropped, as YOLOv5 does) and small
    objects, COCO's area < 32^2 scaled to the canvas (area < 16^2 = 256 px^2).
    Checks: mosaic (with random scale) holds at least twice the small objects per batch of plain training
    ("many small objects"); mosaic with random scale holds more small objects than mosaic without it (over
    the batches, more than 2 standard errors): the notes credit the random scaling.
    """
    rng = np.random.default_rng([seed, 60])
    dn.manual_seed(seed)
    n_batches, batch = (4, 16) if quick else (25, 16)
    pool = _generated_detection_set(rng, 64 if quick else 200)
    ways = {
        "plain": lambda r: _letterboxed_boxes(pool[int(r.integers(len(pool)))], (1.0, 1.0), r),
        "plain, random scale": lambda r: _letterboxed_boxes(pool[int(r.integers(len(pool)))], (0.5, 1.5), r),
    }
    for name, scales in (("mosaic", (1.0, 1.0)), ("mosaic, random scale", (0.5, 1.5))):
        mosaic = Mosaic(
            _CANVAS, scale_range=scales, interpolation="nearest", generator=np.random.default_rng([seed, 61])
        )

        def make(r, mosaic=mosaic):
            picks = [pool[int(i)] for i in r.integers(len(pool), size=4)]
            return np.asarray(mosaic(picks)[1]["boxes"])

        ways[name] = make
    per_batch = {}
    for name, draw in ways.items():
        r = np.random.default_rng([seed, 62])  # every way draws from the same stream of images
        small, total = [], []
        for _ in range(n_batches):
            counts = [_counts(draw(r)) for _ in range(batch)]
            small.append(sum(c[0] for c in counts))
            total.append(sum(c[1] for c in counts))
        per_batch[name] = (small, total)
    mean = {k: (float(np.mean(v[0])), float(np.mean(v[1]))) for k, v in per_batch.items()}
    ratio = mean["mosaic, random scale"][0] / max(mean["plain"][0], 1e-9)
    scale_d = [a - b for a, b in zip(per_batch["mosaic, random scale"][0], per_batch["mosaic"][0])]
    checks = [
        Check("small objects per batch, mosaic (random scale) / plain", ratio, ">=", 2.0),
        Check(
            "small objects per batch, mosaic with - without random scale, in standard errors "
            f"(mean {np.mean(scale_d):+.2f})",
            t_statistic(scale_d),
            ">",
            2.0,
        ),
    ]
    rows = [
        [k, mean[k][0], float(np.std(per_batch[k][0])), mean[k][1], mean[k][0] / max(mean[k][1], 1e-9)]
        for k in per_batch
    ]
    return Result(
        experiment="mosaic_small_objects",
        claim=_MOSAIC_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Objects per batch of {batch} on a {_CANVAS}x{_CANVAS} canvas, {n_batches} batches "
                f"(small: area < {_SMALL_AREA:.0f} px^2)",
                ["samples", "small objects per batch", "std over batches", "objects per batch", "small share"],
                rows,
            )
        ],
        figures=[
            Figure(
                "mosaic_small_objects",
                "Small objects per batch",
                "way",
                "small objects",
                {k: ([i], [mean[k][0]]) for i, k in enumerate(per_batch)},
                kind="bar",
            )
        ],
        seeds=[seed],
        quick=quick,
        notes="Here each mosaic image is fitted to a quadrant of the canvas (YOLOv5's load_mosaic on its "
        "2s x 2s canvas, seen whole), so objects also shrink by half in side. YOLOv5 then crops an s x s "
        "window with a global random scale; the notes' other claim, that mosaic lowers the batch size needed "
        "(batch-norm statistics over four images per sample), is not measured here.",
    )
