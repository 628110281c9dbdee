"""Training and COCO evaluation of the one-stage detectors (issue 15): the loop of torchvision's detection
references (``train_one_epoch`` + ``evaluate``) for :mod:`deepnotes.models.detection` on a detection
data set such as :class:`~deepnotes.data.datasets.Shapes`.

    model = retinanet_small(num_classes=Shapes.num_classes)
    result = train_detector(model, Shapes(2000, seed=0), Shapes(200, seed=1), steps=1500)
    result["stats"]            # the 12 COCO numbers (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ...)

Optimisation: SGD with momentum (or AdamW), a linear warm-up from ``warmup_factor * lr`` over the first
``warmup`` steps (as the references do), then a cosine decay to 0, gradient norm clipped at ``clip``.
Batches are drawn by a seeded permutation of the data set per pass, so a run is repeatable.
"""

from __future__ import annotations

import contextlib
import io
import math
import time

import numpy as np

from .. import optim
from ..autograd import no_grad
from ..detection.coco import COCO, COCOeval
from ..nn.utils import clip_grad_norm_

__all__ = ["train_detector", "evaluate_detector", "STAT_NAMES"]

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def _batches(n, batch_size, rng):
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def _lr_at(step, steps, lr, warmup, warmup_factor):
    if step < warmup:
        alpha = step / max(1, warmup)
        return lr * (warmup_factor * (1 - alpha) + alpha)
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def evaluate_detector(model, dataset, batch_size=8, max_images=None):
    """COCO box evaluation of ``model`` on ``dataset`` (which must offer ``coco_dict(indices)``, as
    :class:`~deepnotes.data.datasets.Shapes` does) with the project's evaluator.

    Returns ``{'stats': {name: value} (the 12 COCO numbers), 'per_class': {category name: AP},
    'evaluator': the COCOeval object, 'seconds': time spent}``; the model is left in eval mode.
    """
    if not hasattr(dataset, "coco_dict"):
        raise TypeError(
            f"evaluate_detector: the data set should provide coco_dict() (the COCO ground truth), got "
            f"{type(dataset).__name__}"
        )
    start = time.perf_counter()
    n = len(dataset) if max_images is None else min(int(max_images), len(dataset))
    indices = list(range(n))
    gt = COCO(dataset.coco_dict(indices))
    model.eval()
    results = []
    with no_grad():
        for s in range(0, n, batch_size):
            batch = [dataset[i] for i in indices[s : s + batch_size]]
            outputs = model([b[0] for b in batch])
            for (_, target), out in zip(batch, outputs):
                boxes = np.asarray(out["boxes"], dtype=np.float64)
                for box, score, label in zip(boxes, np.asarray(out["scores"]), np.asarray(out["labels"])):
                    x1, y1, x2, y2 = (float(v) for v in box)
                    results.append(
                        {
                            "image_id": int(target["image_id"]),
                            "category_id": int(label),
                            "bbox": [x1, y1, x2 - x1, y2 - y1],
                            "score": float(score),
                        }
                    )
    with contextlib.redirect_stdout(io.StringIO()):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an untrained model may detect nothing: zeros, not an error
            dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = {name: float(v) for name, v in zip(STAT_NAMES, ev.stats)}
    per_class = {}
    precision = ev.eval["precision"]  # T x R x K x A x M
    for k, cat_id in enumerate(ev.params.catIds):
        p = precision[:, :, k, 0, -1]
        p = p[p > -1]
        per_class[gt.cats[cat_id]["name"]] = float(p.mean()) if p.size else float("nan")
    return {"stats": stats, "per_class": per_class, "evaluator": ev, "seconds": time.perf_counter() - start}


def train_detector(
    model,
    train_set,
    val_set=None,
    steps=300,
    batch_size=8,
    optimizer="sgd",
    lr=0.01,
    momentum=0.9,
    weight_decay=1e-4,
    warmup=50,
    warmup_factor=0.001,
    clip=10.0,
    seed=0,
    log_every=0,
    eval_batch_size=8,
):
    """Train ``model`` (a detector: ``model(images, targets) -> loss dict`` in train mode) for ``steps``
    optimiser steps on ``train_set`` samples ``(image, target)``, then evaluate it on ``val_set`` with
    :func:`evaluate_detector` (when given).

    Returns ``{'history': [{'step', 'lr', 'loss', <each loss term>}, ...], 'seconds_per_step',
    'stats', 'per_class'}`` (the last two only with ``val_set``).  A non-finite loss raises
    ``FloatingPointError`` naming the step and the loss terms.
    """
    if optimizer not in ("sgd", "adamw"):
        raise ValueError(f"train_detector: optimizer must be 'sgd' or 'adamw', got {optimizer!r}")
    if len(train_set) < batch_size:
        raise ValueError(
            f"train_detector: the training set has {len(train_set)} samples, fewer than batch_size={batch_size}"
        )
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "sgd":
        opt = optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        opt = optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    batches = _batches(len(train_set), batch_size, rng)
    history = []
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        rate = _lr_at(step, steps, lr, warmup, warmup_factor)
        for group in opt.param_groups:
            group["lr"] = rate
        idx = next(batches)
        samples = [train_set[int(i)] for i in idx]
        losses = model([s[0] for s in samples], [s[1] for s in samples])
        total = sum(losses.values())
        value = float(total.item())
        if not math.isfinite(value):
            terms = {k: float(v.item()) for k, v in losses.items()}
            raise FloatingPointError(f"train_detector: the loss is not finite at step {step}: {terms}")
        opt.zero_grad()
        total.backward()
        if clip:
            clip_grad_norm_(params, clip)
        opt.step()
        record = {"step": step, "lr": rate, "loss": value}
        record.update({k: float(v.item()) for k, v in losses.items()})
        history.append(record)
        if log_every and (step + 1) % log_every == 0:
            recent = np.mean([h["loss"] for h in history[-log_every:]])
            print(f"step {step + 1}/{steps}  lr {rate:.4g}  loss {recent:.4f}", flush=True)
    seconds = time.perf_counter() - start
    result = {"history": history, "seconds_per_step": seconds / max(1, steps)}
    if val_set is not None:
        ev = evaluate_detector(model, val_set, batch_size=eval_batch_size)
        result["stats"] = ev["stats"]
        result["per_class"] = ev["per_class"]
    return result
