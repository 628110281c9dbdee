"""One-stage detectors shaped like ``torchvision.models.detection``: RetinaNet and FCOS (issue 15).

``retinanet_resnet50_fpn`` / ``fcos_resnet50_fpn`` have torchvision's module trees, parameter counts and
state_dict keys; ``retinanet_small`` / ``fcos_small`` are CPU-sized versions for the generated
:class:`~deepnotes.data.datasets.Shapes` images.  Anchors, box coding, losses and NMS come from
:mod:`deepnotes.detection`.
"""

from ._utils import BoxLinearCoder, Matcher
from .backbone_utils import BackboneWithFPN, IntermediateLayerGetter, SmallResNet, resnet_fpn_extractor, small_resnet
from .fcos import FCOS, FCOSClassificationHead, FCOSHead, FCOSRegressionHead, fcos_resnet50_fpn, fcos_small
from .retinanet import (
    RetinaNet,
    RetinaNetClassificationHead,
    RetinaNetHead,
    RetinaNetRegressionHead,
    retinanet_resnet50_fpn,
    retinanet_small,
)
from .transform import GeneralizedRCNNTransform, ImageList

__all__ = [
    "RetinaNet",
    "RetinaNetHead",
    "RetinaNetClassificationHead",
    "RetinaNetRegressionHead",
    "retinanet_resnet50_fpn",
    "retinanet_small",
    "FCOS",
    "FCOSHead",
    "FCOSClassificationHead",
    "FCOSRegressionHead",
    "fcos_resnet50_fpn",
    "fcos_small",
    "Matcher",
    "BoxLinearCoder",
    "GeneralizedRCNNTransform",
    "ImageList",
    "BackboneWithFPN",
    "IntermediateLayerGetter",
    "resnet_fpn_extractor",
    "SmallResNet",
    "small_resnet",
]
