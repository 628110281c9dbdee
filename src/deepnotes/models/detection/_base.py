"""What RetinaNet and FCOS share: input checks, the forward skeleton and the per-level postprocessing."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ... import nn
from ...autograd import no_grad
from ...detection import batched_nms, clip_boxes_to_image
from ...tensor import Tensor
from .transform import as_tensor_images


def _array(x):
    if isinstance(x, Tensor):
        return x.data
    return np.asarray(x)


def check_targets(targets, image_sizes, num_classes, fn):
    """Targets as dicts of NumPy ``boxes`` (M, 4) float and ``labels`` (M,) int64, checked against the
    images' sizes and the number of classes; bad input raises naming the image and what is wrong."""
    if not isinstance(targets, (list, tuple)):
        raise TypeError(f"{fn}: targets should be a list of dicts (one per image), got {type(targets).__name__}")
    if len(targets) != len(image_sizes):
        raise ValueError(f"{fn}: got {len(targets)} targets for {len(image_sizes)} images; give one dict per image")
    out = []
    for k, (t, (h, w)) in enumerate(zip(targets, image_sizes)):
        if not hasattr(t, "keys") or "boxes" not in t or "labels" not in t:
            raise ValueError(f"{fn}: target {k} should be a dict with 'boxes' and 'labels', got {t!r:.80}")
        boxes = _array(t["boxes"])
        if boxes.ndim == 1 and boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"{fn}: target {k} boxes should have shape (M, 4), got {boxes.shape}")
        if boxes.dtype.kind not in "iuf":
            raise TypeError(f"{fn}: target {k} boxes should be numeric, got dtype {boxes.dtype}")
        boxes = boxes.astype(boxes.dtype if boxes.dtype.kind == "f" else np.float32)
        labels = _array(t["labels"]).reshape(-1)
        if labels.shape[0] != boxes.shape[0]:
            raise ValueError(f"{fn}: target {k} has {boxes.shape[0]} boxes but {labels.shape[0]} labels")
        if labels.size and labels.dtype.kind not in "iu":
            raise TypeError(f"{fn}: target {k} labels should be integers, got dtype {labels.dtype}")
        labels = labels.astype(np.int64)
        if not np.isfinite(boxes).all():
            raise ValueError(f"{fn}: target {k} has non-finite boxes")
        bad = np.flatnonzero((boxes[:, 2:] <= boxes[:, :2]).any(axis=1))
        if bad.size:
            raise ValueError(
                f"{fn}: all boxes should have positive height and width; target {k} has box "
                f"{boxes[bad[0]].tolist()} (x1, y1, x2, y2)"
            )
        outside = np.flatnonzero((boxes[:, :2] < 0).any(axis=1) | (boxes[:, 2] > w) | (boxes[:, 3] > h))
        if outside.size:
            raise ValueError(
                f"{fn}: target {k} box {boxes[outside[0]].tolist()} lies outside its image of size "
                f"(height={h}, width={w}); boxes should satisfy 0 <= x1 < x2 <= width, 0 <= y1 < y2 <= height"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            bad_label = labels[(labels < 0) | (labels >= num_classes)][0]
            raise ValueError(
                f"{fn}: target {k} has label {int(bad_label)}, outside [0, {num_classes}) for num_classes={num_classes}"
            )
        out.append(dict(t, boxes=boxes, labels=labels))
    return out


def _sigmoid(x):
    """Logistic function of an array; very negative logits give 0 without an overflow warning."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _topk_desc(scores, k):
    """Indices of the ``k`` largest scores, largest first (ties: lower index first)."""
    order = np.argsort(-scores, kind="stable")
    return order[:k]


class OneStageDetector(nn.Module):
    """Forward skeleton shared by :class:`RetinaNet` and :class:`FCOS` (subclasses define the head, the
    loss and the per-level boxes and scores)."""

    def _features(self, images, targets):
        fn = type(self).__name__
        if self.training and targets is None:
            raise ValueError(f"{fn}: targets should be given in training mode (call model.eval() for inference)")
        images = as_tensor_images(images, fn)
        original_sizes = [(int(i.shape[-2]), int(i.shape[-1])) for i in images]
        if targets is not None:
            targets = check_targets(targets, original_sizes, self._num_classes(), fn)
        image_list, targets = self.transform(images, targets)
        features = self.backbone(image_list.tensors)
        if isinstance(features, Tensor):
            features = OrderedDict([("0", features)])
        features = list(features.values())
        head_outputs = self.head(features)
        grid = [tuple(f.shape[-2:]) for f in features]
        batch_size = tuple(image_list.tensors.shape[-2:])
        anchors_one = self.anchor_generator(grid, batch_size).astype(image_list.tensors.data.dtype)
        anchors = [anchors_one for _ in images]
        return image_list, targets, features, head_outputs, anchors, original_sizes

    def _num_classes(self):
        return int(self.head.classification_head.num_classes)

    def _split_outputs(self, features, head_outputs, anchors):
        per_level = [int(f.shape[-2] * f.shape[-1]) for f in features]
        total = sum(per_level)
        a = int(head_outputs["cls_logits"].shape[1]) // total
        sizes = [n * a for n in per_level]
        bounds = np.cumsum([0] + sizes)
        split = {
            k: [_array(v)[:, bounds[i] : bounds[i + 1]] for i in range(len(sizes))] for k, v in head_outputs.items()
        }
        split_anchors = [[a_[bounds[i] : bounds[i + 1]] for i in range(len(sizes))] for a_ in anchors]
        return split, split_anchors

    def _finish_image(self, boxes, scores, labels):
        boxes = np.concatenate(boxes, axis=0)
        scores = np.concatenate(scores, axis=0)
        labels = np.concatenate(labels, axis=0)
        keep = batched_nms(boxes, scores, labels, self.nms_thresh)[: self.detections_per_img]
        return {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}

    def _select(self, scores_per_level, num_classes):
        """Score threshold then top-k over the flattened (anchor, class) scores of one level."""
        flat = scores_per_level.reshape(-1)
        cand = np.flatnonzero(flat > self.score_thresh)
        order = _topk_desc(flat[cand], min(self.topk_candidates, cand.size))
        idx = cand[order]
        return flat[idx], idx // num_classes, idx % num_classes

    def forward(self, images, targets=None):
        image_list, targets, features, head_outputs, anchors, original_sizes = self._features(images, targets)
        if self.training:
            return self._loss(targets, head_outputs, anchors, features)
        with no_grad():
            split, split_anchors = self._split_outputs(features, head_outputs, anchors)
            detections = self.postprocess_detections(split, split_anchors, image_list.image_sizes)
        return self.transform.postprocess(detections, image_list.image_sizes, original_sizes)

    def _clip(self, boxes, image_shape):
        return clip_boxes_to_image(boxes, image_shape)
