"""Object detection toolkit (SPEC section 7): boxes, IoU family and losses, NMS variants, anchors and
box coding, RoI Pool/Align, YOLOv5 target assignment."""

from .anchors import AnchorGenerator, BoxCoder
from .assign import assign_yolov5
from .boxes import (
    box_area,
    box_convert,
    box_iou,
    clip_boxes_to_image,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
    remove_small_boxes,
)
from .losses import (
    binary_cross_entropy_with_logits,
    complete_box_iou_loss,
    distance_box_iou_loss,
    generalized_box_iou_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
)
from .nms import batched_nms, centernet_peaks, diou_nms, merge_nms, nms, soft_nms, weighted_box_voting
from .roi import RoIAlign, RoIPool, roi_align, roi_pool

__all__ = [
    "AnchorGenerator",
    "BoxCoder",
    "assign_yolov5",
    "box_area",
    "box_convert",
    "box_iou",
    "clip_boxes_to_image",
    "complete_box_iou",
    "distance_box_iou",
    "generalized_box_iou",
    "remove_small_boxes",
    "binary_cross_entropy_with_logits",
    "complete_box_iou_loss",
    "distance_box_iou_loss",
    "generalized_box_iou_loss",
    "sigmoid_focal_loss",
    "smooth_l1_loss",
    "batched_nms",
    "centernet_peaks",
    "diou_nms",
    "merge_nms",
    "nms",
    "soft_nms",
    "weighted_box_voting",
    "RoIAlign",
    "RoIPool",
    "roi_align",
    "roi_pool",
]

# evaluation side (metrics, VOC and COCO evaluators), written alongside; ``coco`` stays a submodule
from . import coco  # noqa: E402
from . import metrics as _metrics  # noqa: E402
from . import voc as _voc  # noqa: E402
from .metrics import *  # noqa: E402,F401,F403
from .voc import *  # noqa: E402,F401,F403

__all__ += list(_metrics.__all__) + list(_voc.__all__) + ["coco"]
