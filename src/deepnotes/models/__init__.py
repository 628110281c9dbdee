"""Model architectures, constructors named as in torchvision.

Every constructor takes ``num_classes`` (and torchvision's other keyword arguments) and builds a model
whose parameter names and shapes are torchvision's, so a torchvision ``state_dict`` loads unchanged::

    >>> from deepnotes.models import get_model, list_models
    >>> m = get_model("resnet18", num_classes=10)
    >>> m.load_state_dict(torchvision_resnet18.state_dict())   # doctest: +SKIP

``weights`` must be None: no pretrained checkpoint is bundled (load one with ``load_state_dict``).
A ``ValueError`` raised inside a top-level model (an input too small, a channel mismatch) names the
layer where it happened.
"""

from .alexnet import AlexNet, alexnet
from .densenet import DenseNet, densenet121, densenet161, densenet169, densenet201
from .fpn import ExtraFPNBlock, FeaturePyramidNetwork, LastLevelMaxPool, LastLevelP6P7
from .googlenet import GoogLeNet, GoogLeNetOutputs, googlenet
from .inception import Inception3, InceptionOutputs, inception_v3
from .lenet import (
    LENET5_C3_TABLE,
    ConnectionTableConv2d,
    EuclideanRBF,
    LeNet5,
    LeNet5Classic,
    ScaledTanh,
    Subsampling,
    lenet5,
    lenet5_modern,
)
from .misc import Conv2dNormActivation, SqueezeExcitation
from .mobilenet_v1 import DepthwiseSeparableConv, MobileNetV1, mobilenet_v1
from .mobilenet_v2 import InvertedResidual, MobileNetV2, mobilenet_v2
from .mobilenet_v3 import (
    InvertedResidualConfig,
    InvertedResidualV3,
    MobileNetV3,
    mobilenet_v3_large,
    mobilenet_v3_small,
)
from .resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    resnext101_32x8d,
    resnext101_64x4d,
    wide_resnet50_2,
    wide_resnet101_2,
)
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

_CONSTRUCTORS = [
    lenet5,
    lenet5_modern,
    alexnet,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
    googlenet,
    inception_v3,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    resnext101_32x8d,
    resnext101_64x4d,
    wide_resnet50_2,
    wide_resnet101_2,
    densenet121,
    densenet161,
    densenet169,
    densenet201,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3_large,
    mobilenet_v3_small,
]
_REGISTRY = {f.__name__: f for f in _CONSTRUCTORS}


def list_models():
    """The names ``get_model`` knows, sorted."""
    return sorted(_REGISTRY)


def get_model(name, **kwargs):
    """Build a registered model by name with the constructor's keyword arguments
    (``get_model('resnet50', num_classes=10)``); an unknown name lists the nearest known ones."""
    if not isinstance(name, str):
        raise TypeError(f"get_model: expected a model name (str), got {type(name).__name__}")
    key = name.lower()
    if key not in _REGISTRY:
        import difflib

        near = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        from ..errors import UnknownNameError

        raise UnknownNameError(f"get_model: unknown model {name!r}{hint} (known: {', '.join(list_models())})")
    return _REGISTRY[key](**kwargs)


__all__ = [
    "detection",
    "get_model",
    "list_models",
    "LeNet5",
    "LeNet5Classic",
    "LENET5_C3_TABLE",
    "ConnectionTableConv2d",
    "Subsampling",
    "ScaledTanh",
    "EuclideanRBF",
    "AlexNet",
    "VGG",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "Inception3",
    "InceptionOutputs",
    "ResNet",
    "BasicBlock",
    "Bottleneck",
    "DenseNet",
    "MobileNetV1",
    "DepthwiseSeparableConv",
    "MobileNetV2",
    "InvertedResidual",
    "MobileNetV3",
    "InvertedResidualV3",
    "InvertedResidualConfig",
    "Conv2dNormActivation",
    "SqueezeExcitation",
    "FeaturePyramidNetwork",
    "ExtraFPNBlock",
    "LastLevelMaxPool",
    "LastLevelP6P7",
    "lenet5",
    "lenet5_modern",
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "googlenet",
    "inception_v3",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "wide_resnet50_2",
    "wide_resnet101_2",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
]


def __getattr__(name):
    # ``deepnotes.models.detection`` (RetinaNet, FCOS) loads on first use, with the detection toolkit it needs
    if name == "detection":
        import importlib

        return importlib.import_module(f"{__name__}.detection")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
