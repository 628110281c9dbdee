"""FCOS (Tian et al., 2019), RetinaNet's anchor-free twin: one point per location (an "anchor" of the
level's stride, only its centre matters), the box as distances to its four sides, a centre-ness branch.
Shaped like ``torchvision.models.detection.fcos`` (module tree, state_dict keys, loss, postprocessing).

Matching (``FCOS.compute_loss``): a point is positive for a ground truth when it lies inside the box,
within ``center_sampling_radius`` strides of its centre, and the largest of its four distances to the
sides lies in the level's range ``(4 stride, 8 stride)`` (no lower bound on the first level, no upper
bound on the last); among several candidates the smallest box wins.  Losses, each divided by the number
of positives over the whole batch (at least 1): sigmoid focal loss over all points and classes, GIoU
loss of the decoded positive boxes, and BCE of the centre-ness logit against
``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))``.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from ... import nn
from ...detection import AnchorGenerator, generalized_box_iou_loss, sigmoid_focal_loss
from ...nn import functional as F
from ...tensor import Tensor, cat
from ..fpn import LastLevelP6P7
from ._base import OneStageDetector, _sigmoid
from ._utils import BoxLinearCoder
from .backbone_utils import resnet_fpn_extractor, small_resnet
from .retinanet import _flatten_level, _fpn_resnet50, _no_weights
from .transform import GeneralizedRCNNTransform

__all__ = ["FCOS", "FCOSHead", "FCOSClassificationHead", "FCOSRegressionHead", "fcos_resnet50_fpn", "fcos_small"]


def _conv_tower(in_channels, num_convs, norm_layer):
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, in_channels, 3, 1, 1), norm_layer(in_channels), nn.ReLU()]
    tower = nn.Sequential(*layers)
    for layer in tower.children():
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.constant_(layer.bias, 0)
    return tower


class FCOSClassificationHead(nn.Module):
    """``num_convs`` x (3x3 conv, GroupNorm(32), ReLU), then 3x3 conv to ``num_anchors * num_classes``
    logits, the bias set for a prior probability of 0.01."""

    def __init__(self, in_channels, num_anchors, num_classes, num_convs=4, prior_probability=0.01, norm_layer=None):
        super().__init__()
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        if norm_layer is None:
            norm_layer = partial(nn.GroupNorm, 32)
        self.conv = _conv_tower(in_channels, num_convs, norm_layer)
        self.cls_logits = nn.Conv2d(in_channels, num_anchors * num_classes, kernel_size=3, stride=1, padding=1)
        nn.init.normal_(self.cls_logits.weight, std=0.01)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior_probability) / prior_probability))

    def forward(self, x):
        return cat([_flatten_level(self.cls_logits(self.conv(f)), self.num_classes) for f in x], dim=1)


class FCOSRegressionHead(nn.Module):
    """A shared tower, then ``bbox_reg`` (4 distances per point, through a ReLU) and ``bbox_ctrness``
    (one centre-ness logit per point)."""

    def __init__(self, in_channels, num_anchors, num_convs=4, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = partial(nn.GroupNorm, 32)
        self.conv = _conv_tower(in_channels, num_convs, norm_layer)
        self.bbox_reg = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=3, stride=1, padding=1)
        self.bbox_ctrness = nn.Conv2d(in_channels, num_anchors * 1, kernel_size=3, stride=1, padding=1)
        for layer in (self.bbox_reg, self.bbox_ctrness):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        regs, ctrs = [], []
        for f in x:
            t = self.conv(f)
            regs.append(_flatten_level(F.relu(self.bbox_reg(t)), 4))
            ctrs.append(_flatten_level(self.bbox_ctrness(t), 1))
        return cat(regs, dim=1), cat(ctrs, dim=1)


class FCOSHead(nn.Module):
    """Classification + regression/centre-ness heads; ``forward -> {'cls_logits', 'bbox_regression',
    'bbox_ctrness'}`` of shapes (N, HW, K), (N, HW, 4), (N, HW, 1)."""

    def __init__(self, in_channels, num_anchors, num_classes, num_convs=4, norm_layer=None):
        super().__init__()
        self.box_coder = BoxLinearCoder(normalize_by_size=True)
        self.classification_head = FCOSClassificationHead(
            in_channels, num_anchors, num_classes, num_convs, norm_layer=norm_layer
        )
        self.regression_head = FCOSRegressionHead(in_channels, num_anchors, num_convs, norm_layer=norm_layer)

    def compute_loss(self, targets, head_outputs, anchors, matched_idxs):
        cls_logits = head_outputs["cls_logits"]
        bbox_regression = head_outputs["bbox_regression"]
        bbox_ctrness = head_outputs["bbox_ctrness"]
        dt = cls_logits.data.dtype
        gt_classes, gt_boxes = [], []
        for t, m in zip(targets, matched_idxs):
            m = np.asarray(m)
            labels = np.asarray(t["labels"])
            boxes = np.asarray(t["boxes"])
            if len(labels) == 0:
                c = np.zeros(len(m), dtype=np.int64)
                b = np.zeros((len(m), 4), dtype=dt)
            else:
                c = labels[np.clip(m, 0, None)].copy()
                b = boxes[np.clip(m, 0, None)].astype(dt)
            c[m < 0] = -1
            gt_classes.append(c)
            gt_boxes.append(b)
        gt_classes = np.stack(gt_classes)
        gt_boxes = np.stack(gt_boxes)
        anchors = np.stack([np.asarray(a, dtype=dt) for a in anchors])
        fg = gt_classes >= 0
        num_fg = int(fg.sum())
        onehot = np.zeros(cls_logits.shape, dtype=dt)
        onehot[fg, gt_classes[fg]] = 1.0
        loss_cls = sigmoid_focal_loss(cls_logits, Tensor(onehot), reduction="sum")
        pred_boxes = self.box_coder.decode(bbox_regression, anchors)
        loss_reg = generalized_box_iou_loss(pred_boxes[fg], Tensor(gt_boxes[fg]), reduction="sum")
        codes = self.box_coder.encode(anchors, gt_boxes)
        with np.errstate(divide="ignore", invalid="ignore"):
            lr, tb = codes[..., [0, 2]], codes[..., [1, 3]]
            ctr = np.sqrt((lr.min(-1) / lr.max(-1)) * (tb.min(-1) / tb.max(-1)))
        pred_ctr = bbox_ctrness[..., 0]
        loss_ctr = F.binary_cross_entropy_with_logits(pred_ctr[fg], Tensor(ctr[fg].astype(dt)), reduction="sum")
        n = max(1, num_fg)
        return {"classification": loss_cls / n, "bbox_regression": loss_reg / n, "bbox_ctrness": loss_ctr / n}

    def forward(self, x):
        cls_logits = self.classification_head(x)
        bbox_regression, bbox_ctrness = self.regression_head(x)
        return {"cls_logits": cls_logits, "bbox_regression": bbox_regression, "bbox_ctrness": bbox_ctrness}


class FCOS(OneStageDetector):
    """FCOS over ``backbone``; arguments and defaults as torchvision's ``FCOS`` (one anchor per location,
    of the level's stride)."""

    def __init__(
        self,
        backbone,
        num_classes,
        min_size=800,
        max_size=1333,
        image_mean=None,
        image_std=None,
        anchor_generator=None,
        head=None,
        center_sampling_radius=1.5,
        score_thresh=0.2,
        nms_thresh=0.6,
        detections_per_img=100,
        topk_candidates=1000,
        **kwargs,
    ):
        super().__init__()
        if not hasattr(backbone, "out_channels"):
            raise ValueError("FCOS: the backbone should have an out_channels attribute (channels of every level)")
        self.backbone = backbone
        if anchor_generator is None:
            anchor_generator = AnchorGenerator(((8,), (16,), (32,), (64,), (128,)), ((1.0,),) * 5)
        if not isinstance(anchor_generator, AnchorGenerator):
            raise TypeError(f"FCOS: anchor_generator should be an AnchorGenerator, got {type(anchor_generator)}")
        if anchor_generator.num_anchors_per_location()[0] != 1:
            raise ValueError(
                f"FCOS: one anchor per location is expected, got {anchor_generator.num_anchors_per_location()[0]}"
            )
        self.anchor_generator = anchor_generator
        if head is None:
            head = FCOSHead(backbone.out_channels, 1, num_classes)
        self.head = head
        self.box_coder = BoxLinearCoder(normalize_by_size=True)
        if image_mean is None:
            image_mean = [0.485, 0.456, 0.406]
        if image_std is None:
            image_std = [0.229, 0.224, 0.225]
        self.transform = GeneralizedRCNNTransform(min_size, max_size, image_mean, image_std, **kwargs)
        self.center_sampling_radius = center_sampling_radius
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates

    def match(self, targets, anchors, num_anchors_per_level):
        """Per image the matched ground-truth index of every point (-1: background)."""
        matched = []
        for a, t in zip(anchors, targets):
            boxes = np.asarray(t["boxes"])
            a = np.asarray(a)
            if boxes.size == 0:
                matched.append(np.full(len(a), -1, dtype=np.int64))
                continue
            gt_centres = (boxes[:, :2] + boxes[:, 2:]) / 2
            centres = (a[:, :2] + a[:, 2:]) / 2
            sizes = a[:, 2] - a[:, 0]
            near = np.abs(centres[:, None, :] - gt_centres[None, :, :]).max(axis=2) < (
                self.center_sampling_radius * sizes[:, None]
            )
            x, y = centres[:, 0:1], centres[:, 1:2]
            dist = np.stack(
                [x - boxes[None, :, 0], y - boxes[None, :, 1], boxes[None, :, 2] - x, boxes[None, :, 3] - y], 2
            )
            near &= dist.min(axis=2) > 0
            lower = sizes * 4
            lower[: num_anchors_per_level[0]] = 0
            upper = sizes * 8
            upper[-num_anchors_per_level[-1] :] = np.inf
            reach = dist.max(axis=2)
            near &= (reach > lower[:, None]) & (reach < upper[:, None])
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            # candidates are scored 1e8 - area in the boxes' precision: the largest (smallest box) wins
            score = near.astype(areas.dtype) * (areas.dtype.type(1e8) - areas)[None, :]
            idx = score.argmax(axis=1).astype(np.int64)
            idx[score.max(axis=1) < 1e-5] = -1
            matched.append(idx)
        return matched

    def compute_loss(self, targets, head_outputs, anchors, num_anchors_per_level):
        matched = self.match(targets, anchors, num_anchors_per_level)
        return self.head.compute_loss(targets, head_outputs, anchors, matched)

    def _loss(self, targets, head_outputs, anchors, features):
        per_level = [int(f.shape[-2] * f.shape[-1]) for f in features]
        return self.compute_loss(targets, head_outputs, anchors, per_level)

    def postprocess_detections(self, head_outputs, anchors, image_shapes):
        """Scores ``sqrt(sigmoid(cls) sigmoid(ctrness))`` above ``score_thresh``, top-k per level, boxes
        decoded and clipped, class-aware NMS, ``detections_per_img`` best."""
        detections = []
        for index, shape in enumerate(image_shapes):
            boxes, scores, labels = [], [], []
            for reg, logits, ctr, anc in zip(
                head_outputs["bbox_regression"],
                head_outputs["cls_logits"],
                head_outputs["bbox_ctrness"],
                anchors[index],
            ):
                reg, logits, ctr = reg[index], logits[index], ctr[index]
                prob = np.sqrt(_sigmoid(logits) * _sigmoid(ctr))
                s, anchor_idx, lab = self._select(prob, logits.shape[-1])
                b = self.box_coder.decode(reg[anchor_idx], anc[anchor_idx])
                boxes.append(self._clip(b, shape))
                scores.append(s)
                labels.append(lab)
            detections.append(self._finish_image(boxes, scores, labels))
        return detections


def fcos_resnet50_fpn(
    *, weights=None, progress=True, num_classes=None, weights_backbone=None, trainable_backbone_layers=None, **kwargs
):
    """FCOS with a ResNet-50 + FPN (P3-P7) backbone: torchvision's ``fcos_resnet50_fpn`` with
    ``weights=None, weights_backbone=None``; 32,322,720 parameters at 91 classes."""
    _no_weights(weights, "fcos_resnet50_fpn")
    num_classes = 91 if num_classes is None else num_classes
    backbone = _fpn_resnet50(weights_backbone, trainable_backbone_layers, 256)
    return FCOS(backbone, num_classes, **kwargs)


def fcos_small(*, num_classes=6, widths=(16, 32, 64, 128), fpn_channels=64, num_convs=2, **kwargs):
    """A CPU-sized FCOS for 128 x 128 images, the twin of :func:`retinanet_small` (same backbone and
    FPN; GroupNorm(16) in the head towers)."""
    backbone = resnet_fpn_extractor(
        small_resnet(widths), 5, [2, 3, 4], LastLevelP6P7(fpn_channels, fpn_channels), out_channels=fpn_channels
    )
    head = FCOSHead(fpn_channels, 1, num_classes, num_convs=num_convs, norm_layer=partial(nn.GroupNorm, 16))
    defaults = dict(min_size=128, max_size=128, image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25])
    defaults.update(kwargs)
    return FCOS(backbone, num_classes, head=head, **defaults)
