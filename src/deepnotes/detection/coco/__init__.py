"""COCO data set API and box evaluator, drop-in replacements for ``pycocotools.coco.COCO`` and
``pycocotools.cocoeval.COCOeval`` (``iouType='bbox'``) with identical numbers and vectorised speed."""

from .dataset import COCO, AnnotationTable
from .evaluator import COCOeval, Params, box_iou_crowd

__all__ = ["COCO", "COCOeval", "Params", "AnnotationTable", "box_iou_crowd"]
