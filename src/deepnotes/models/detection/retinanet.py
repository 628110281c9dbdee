"""RetinaNet (Lin et al., 2017; seed 002): backbone + FPN P3-P7, 9 anchors per location, a focal-loss
classification head and an L1 box-regression head, NMS per class.  Shaped like
``torchvision.models.detection.retinanet``: the same module tree and state_dict keys, the same loss
(``RetinaNetHead.compute_loss``) and the same postprocessing, with the project's anchors, box coder,
losses and NMS.

    train:  model(images, targets) -> {'classification': focal loss, 'bbox_regression': L1 loss}
    eval:   model(images)          -> [{'boxes' (D, 4), 'scores' (D,), 'labels' (D,)}, ...]

Matching (``RetinaNet.compute_loss``): every anchor takes the ground truth of highest IoU; IoU >= 0.5 is
foreground, < 0.4 background, in between ignored, and each ground truth also keeps its best anchors
(low-quality matches).  The classification loss is the sigmoid focal loss (alpha 0.25, gamma 2) summed
over non-ignored anchors and classes and divided by the number of foreground anchors (at least 1), per
image, then averaged over images; the regression loss is the L1 distance between predicted and target
deltas of the foreground anchors, normalised the same way.
"""

from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...detection import (
    AnchorGenerator,
    BoxCoder,
    box_iou,
    complete_box_iou_loss,
    distance_box_iou_loss,
    generalized_box_iou_loss,
    sigmoid_focal_loss,
)
from ...nn import functional as F
from ...tensor import Tensor, cat
from .._utils import _no_weights
from ..fpn import LastLevelP6P7
from ..misc import Conv2dNormActivation
from ..resnet import resnet50
from ._base import OneStageDetector, _sigmoid
from ._utils import Matcher
from .backbone_utils import resnet_fpn_extractor, small_resnet
from .transform import GeneralizedRCNNTransform

__all__ = [
    "RetinaNet",
    "RetinaNetHead",
    "RetinaNetClassificationHead",
    "RetinaNetRegressionHead",
    "retinanet_resnet50_fpn",
    "retinanet_small",
]


def _flatten_level(out, k):
    """(N, A * k, H, W) -> (N, H * W * A, k): location-major, anchor, then the k values."""
    n, _, h, w = out.shape
    return out.view(n, -1, k, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, k)


def default_anchorgen(base_sizes=(32, 64, 128, 256, 512)):
    """Three scales ``s, int(s 2^(1/3)), int(s 2^(2/3))`` x ratios 0.5, 1, 2 per level (9 anchors)."""
    sizes = tuple((s, int(s * 2 ** (1.0 / 3)), int(s * 2 ** (2.0 / 3))) for s in base_sizes)
    return AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))


class RetinaNetClassificationHead(nn.Module):
    """4 x (3x3 conv, ReLU) then a 3x3 conv to ``num_anchors * num_classes`` logits per location; weights
    N(0, 0.01^2), the last bias ``-log((1 - p) / p)`` so every class starts at probability ``p``."""

    def __init__(self, in_channels, num_anchors, num_classes, prior_probability=0.01, norm_layer=None, num_convs=4):
        super().__init__()
        self.conv = nn.Sequential(
            *[Conv2dNormActivation(in_channels, in_channels, norm_layer=norm_layer) for _ in range(num_convs)]
        )
        for layer in self.conv.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, std=0.01)
                if layer.bias is not None:
                    nn.init.constant_(layer.bias, 0)
        self.cls_logits = nn.Conv2d(in_channels, num_anchors * num_classes, kernel_size=3, stride=1, padding=1)
        nn.init.normal_(self.cls_logits.weight, std=0.01)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior_probability) / prior_probability))
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.BETWEEN_THRESHOLDS = Matcher.BETWEEN_THRESHOLDS

    def compute_loss(self, targets, head_outputs, matched_idxs):
        cls_logits = head_outputs["cls_logits"]
        losses = []
        for i, (t, m) in enumerate(zip(targets, matched_idxs)):
            logits = cls_logits[i]
            m = np.asarray(m)
            fg = m >= 0
            num_fg = int(fg.sum())
            gt = np.zeros(logits.shape, dtype=logits.data.dtype)
            gt[fg, np.asarray(t["labels"])[m[fg]]] = 1.0
            valid = m != self.BETWEEN_THRESHOLDS
            loss = sigmoid_focal_loss(logits[valid], Tensor(gt[valid]), reduction="sum")
            losses.append(loss / max(1, num_fg))
        return _sum(losses) / len(targets)

    def forward(self, x):
        return cat([_flatten_level(self.cls_logits(self.conv(f)), self.num_classes) for f in x], dim=1)


class RetinaNetRegressionHead(nn.Module):
    """4 x (3x3 conv, ReLU) then a 3x3 conv to ``num_anchors * 4`` box deltas per location; weights
    N(0, 0.01^2), biases 0.  ``_loss_type``: 'l1' (default), 'smooth_l1', 'giou', 'diou' or 'ciou'."""

    def __init__(self, in_channels, num_anchors, norm_layer=None, num_convs=4):
        super().__init__()
        self.conv = nn.Sequential(
            *[Conv2dNormActivation(in_channels, in_channels, norm_layer=norm_layer) for _ in range(num_convs)]
        )
        self.bbox_reg = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=3, stride=1, padding=1)
        nn.init.normal_(self.bbox_reg.weight, std=0.01)
        nn.init.zeros_(self.bbox_reg.bias)
        for layer in self.conv.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, std=0.01)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
        self.box_coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self._loss_type = "l1"

    def _box_loss(self, anchors, gt, pred):
        kind = self._loss_type
        if kind in ("l1", "smooth_l1"):
            target = Tensor(np.asarray(self.box_coder.encode_single(gt, anchors), dtype=pred.data.dtype))
            if kind == "l1":
                return F.l1_loss(pred, target, reduction="sum")
            return F.smooth_l1_loss(pred, target, reduction="sum", beta=1.0)
        boxes = self.box_coder.decode_single(pred, anchors)
        loss_fn = {"giou": generalized_box_iou_loss, "diou": distance_box_iou_loss, "ciou": complete_box_iou_loss}
        if kind not in loss_fn:
            raise ValueError(f"RetinaNetRegressionHead: unsupported _loss_type {kind!r}")
        return loss_fn[kind](boxes, Tensor(gt.astype(pred.data.dtype)), reduction="sum", eps=1e-7)

    def compute_loss(self, targets, head_outputs, anchors, matched_idxs):
        bbox_regression = head_outputs["bbox_regression"]
        losses = []
        for i, (t, a, m) in enumerate(zip(targets, anchors, matched_idxs)):
            m = np.asarray(m)
            fg = np.flatnonzero(m >= 0)
            gt = np.asarray(t["boxes"])[m[fg]]
            pred = bbox_regression[i][fg]
            losses.append(self._box_loss(np.asarray(a)[fg], gt, pred) / max(1, fg.size))
        return _sum(losses) / max(1, len(targets))

    def forward(self, x):
        return cat([_flatten_level(self.bbox_reg(self.conv(f)), 4) for f in x], dim=1)


def _sum(values):
    out = values[0]
    for v in values[1:]:
        out = out + v
    return out


class RetinaNetHead(nn.Module):
    """The classification and regression heads; ``forward(features) -> {'cls_logits' (N, HWA, K),
    'bbox_regression' (N, HWA, 4)}``, levels concatenated in order."""

    def __init__(self, in_channels, num_anchors, num_classes, norm_layer=None, num_convs=4):
        super().__init__()
        self.classification_head = RetinaNetClassificationHead(
            in_channels, num_anchors, num_classes, norm_layer=norm_layer, num_convs=num_convs
        )
        self.regression_head = RetinaNetRegressionHead(
            in_channels, num_anchors, norm_layer=norm_layer, num_convs=num_convs
        )

    def compute_loss(self, targets, head_outputs, anchors, matched_idxs):
        return {
            "classification": self.classification_head.compute_loss(targets, head_outputs, matched_idxs),
            "bbox_regression": self.regression_head.compute_loss(targets, head_outputs, anchors, matched_idxs),
        }

    def forward(self, x):
        return {"cls_logits": self.classification_head(x), "bbox_regression": self.regression_head(x)}


class RetinaNet(OneStageDetector):
    """RetinaNet over ``backbone`` (a module with ``out_channels`` returning a Tensor or an OrderedDict of
    feature maps); arguments and defaults as torchvision's ``RetinaNet``.  ``num_classes`` counts the
    background column (labels index the logits directly)."""

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
        proposal_matcher=None,
        score_thresh=0.05,
        nms_thresh=0.5,
        detections_per_img=300,
        fg_iou_thresh=0.5,
        bg_iou_thresh=0.4,
        topk_candidates=1000,
        **kwargs,
    ):
        super().__init__()
        if not hasattr(backbone, "out_channels"):
            raise ValueError("RetinaNet: the backbone should have an out_channels attribute (channels of every level)")
        self.backbone = backbone
        if anchor_generator is None:
            anchor_generator = default_anchorgen()
        if not isinstance(anchor_generator, AnchorGenerator):
            raise TypeError(f"RetinaNet: anchor_generator should be an AnchorGenerator, got {type(anchor_generator)}")
        self.anchor_generator = anchor_generator
        if head is None:
            head = RetinaNetHead(backbone.out_channels, anchor_generator.num_anchors_per_location()[0], num_classes)
        self.head = head
        if proposal_matcher is None:
            proposal_matcher = Matcher(fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=True)
        self.proposal_matcher = proposal_matcher
        self.box_coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        if image_mean is None:
            image_mean = [0.485, 0.456, 0.406]
        if image_std is None:
            image_std = [0.229, 0.224, 0.225]
        self.transform = GeneralizedRCNNTransform(min_size, max_size, image_mean, image_std, **kwargs)
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates

    def match(self, targets, anchors):
        """Per image the matched ground-truth index of every anchor (-1 background, -2 ignored)."""
        matched = []
        for a, t in zip(anchors, targets):
            boxes = np.asarray(t["boxes"])
            if boxes.size == 0:
                matched.append(np.full(len(a), -1, dtype=np.int64))
            else:
                matched.append(self.proposal_matcher(box_iou(boxes, a)))
        return matched

    def compute_loss(self, targets, head_outputs, anchors):
        return self.head.compute_loss(targets, head_outputs, anchors, self.match(targets, anchors))

    def _loss(self, targets, head_outputs, anchors, features):
        return self.compute_loss(targets, head_outputs, anchors)

    def postprocess_detections(self, head_outputs, anchors, image_shapes):
        """Per image and level: sigmoid scores above ``score_thresh``, the ``topk_candidates`` best,
        boxes decoded from their anchors and clipped; then class-aware NMS and ``detections_per_img``."""
        detections = []
        for index, shape in enumerate(image_shapes):
            boxes, scores, labels = [], [], []
            for reg, logits, anc in zip(head_outputs["bbox_regression"], head_outputs["cls_logits"], anchors[index]):
                reg, logits = reg[index], logits[index]
                prob = _sigmoid(logits)
                s, anchor_idx, lab = self._select(prob, logits.shape[-1])
                b = self.box_coder.decode_single(reg[anchor_idx], anc[anchor_idx])
                boxes.append(self._clip(b, shape))
                scores.append(s)
                labels.append(lab)
            detections.append(self._finish_image(boxes, scores, labels))
        return detections


def _fpn_resnet50(weights_backbone, trainable_backbone_layers, p6p7_in):
    _no_weights(weights_backbone, "weights_backbone")
    layers = 5 if trainable_backbone_layers is None else trainable_backbone_layers
    backbone = resnet50()
    return resnet_fpn_extractor(backbone, layers, [2, 3, 4], LastLevelP6P7(p6p7_in, 256))


def retinanet_resnet50_fpn(
    *, weights=None, progress=True, num_classes=None, weights_backbone=None, trainable_backbone_layers=None, **kwargs
):
    """RetinaNet with a ResNet-50 + FPN (P3-P5 from layer2-4, P6/P7 from P5) backbone: torchvision's
    ``retinanet_resnet50_fpn`` with ``weights=None, weights_backbone=None`` (batch norm, every layer
    trainable); 34,068,119 parameters at 91 classes, and its state_dict loads unchanged."""
    _no_weights(weights, "retinanet_resnet50_fpn")
    num_classes = 91 if num_classes is None else num_classes
    backbone = _fpn_resnet50(weights_backbone, trainable_backbone_layers, 256)
    return RetinaNet(backbone, num_classes, **kwargs)


def retinanet_small(*, num_classes=6, widths=(16, 32, 64, 128), fpn_channels=64, num_convs=2, **kwargs):
    """A CPU-sized RetinaNet for 128 x 128 images (the Shapes data set): :func:`small_resnet` + FPN P3-P5
    and P6/P7 of ``fpn_channels`` channels, heads of ``num_convs`` convs, anchors 8-203 px (base sizes 8,
    16, 32, 64, 128 on P3-P7), no resizing (``min_size = max_size = 128``), images normalised with mean
    0.5 and std 0.25."""
    backbone = resnet_fpn_extractor(
        small_resnet(widths), 5, [2, 3, 4], LastLevelP6P7(fpn_channels, fpn_channels), out_channels=fpn_channels
    )
    anchors = default_anchorgen((8, 16, 32, 64, 128))
    head = RetinaNetHead(fpn_channels, anchors.num_anchors_per_location()[0], num_classes, num_convs=num_convs)
    defaults = dict(
        min_size=128,
        max_size=128,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.25, 0.25, 0.25],
        detections_per_img=100,
        score_thresh=0.05,
    )
    defaults.update(kwargs)
    return RetinaNet(backbone, num_classes, anchor_generator=anchors, head=head, **defaults)
