"""MobileNet v1 (Howard et al., 2017): depthwise separable convolutions and a width multiplier.

A standard 3x3 convolution (C_in -> C_out) is factorised into a depthwise 3x3 (one filter per input
channel, ``groups = C_in``) and a pointwise 1x1 (C_in -> C_out), each followed by batch norm and ReLU.
The cost ratio to the full convolution is 1/C_out + 1/9 (seeds 000/004).  The width multiplier alpha
thins every layer: channels = int(alpha * channels of the paper's Table 1).

Layer table (paper, Table 1; the second-to-last depthwise conv has stride 1, the table's "s2" there is a
known typo since the map stays 7x7):

    features.0   conv 3x3/2, 32            features.6   dw/2 + pw 512
    features.1   dw/1 + pw 64              features.7-11 5 x (dw/1 + pw 512)
    features.2   dw/2 + pw 128             features.12  dw/2 + pw 1024
    features.3   dw/1 + pw 128             features.13  dw/1 + pw 1024
    features.4   dw/2 + pw 256             avgpool (global), classifier (dropout, FC)
    features.5   dw/1 + pw 256

Parameters at 1000 classes: 4.2M (alpha 1), 2.6M (0.75), 1.3M (0.5), 0.5M (0.25), as in Table 6.
Input (N, 3, H, W) -> (N, num_classes).
"""

from .. import nn
from ._utils import _LocatedModel, _no_weights, init_conv_bn_linear
from .misc import Conv2dNormActivation

# (output channels, stride) of the 13 depthwise separable blocks
_BLOCKS = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
]


class DepthwiseSeparableConv(nn.Module):
    """``depthwise``: 3x3 conv with groups = in_channels (stride here), BN, ReLU;
    ``pointwise``: 1x1 conv in_channels -> out_channels, BN, ReLU."""

    def __init__(self, in_channels, out_channels, stride=1, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        self.depthwise = Conv2dNormActivation(
            in_channels, in_channels, kernel_size=3, stride=stride, groups=in_channels, norm_layer=norm_layer
        )
        self.pointwise = Conv2dNormActivation(in_channels, out_channels, kernel_size=1, norm_layer=norm_layer)
        self.out_channels = out_channels

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class MobileNetV1(_LocatedModel):
    """MobileNet v1 with width multiplier ``width_mult`` (alpha).  ``dropout`` before the classifier
    (0 by default: the paper uses little regularisation for small models).  Initialisation as the
    other MobileNets of torchvision: convs kaiming_normal_(fan_out), BN 1/0, linear N(0, 0.01^2)."""

    def __init__(self, num_classes=1000, width_mult=1.0, dropout=0.0, norm_layer=None):
        super().__init__()
        if not width_mult > 0:
            raise ValueError(f"MobileNetV1: width_mult must be positive, got {width_mult!r}")

        def width(c):
            return max(1, int(c * width_mult))

        in_ch = width(32)
        layers = [Conv2dNormActivation(3, in_ch, kernel_size=3, stride=2, norm_layer=norm_layer or nn.BatchNorm2d)]
        for out, stride in _BLOCKS:
            layers.append(DepthwiseSeparableConv(in_ch, width(out), stride, norm_layer))
            in_ch = width(out)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(in_ch, num_classes))
        self.last_channel = in_ch
        init_conv_bn_linear(self, conv="kaiming_fan_out", linear="normal_0.01")

    def forward(self, x):
        x = self.avgpool(self.features(x)).flatten(1)
        return self.classifier(x)


def mobilenet_v1(*, weights=None, progress=True, **kwargs):
    """MobileNet v1 (``width_mult`` = the paper's alpha; the resolution multiplier is the input size)."""
    _no_weights(weights, "mobilenet_v1")
    return MobileNetV1(**kwargs)


__all__ = ["MobileNetV1", "DepthwiseSeparableConv", "mobilenet_v1"]
