"""MobileNet v2 (Sandler et al., 2018), shaped like torchvision's ``mobilenet_v2``.

The inverted residual with linear bottleneck: a thin input is expanded by a factor t with a 1x1 conv
(ReLU6), filtered by a 3x3 depthwise conv (ReLU6), and projected back to a thin output by a 1x1 conv
with NO activation (a ReLU in the low-dimensional space would destroy information).  The shortcut joins
the thin ends when the stride is 1 and the widths match.  3,504,872 parameters at 1000 classes.
Input (N, 3, H, W) -> (N, num_classes).
"""

from .. import nn
from ._utils import _LocatedModel, _make_divisible, _no_weights, init_conv_bn_linear
from .misc import Conv2dNormActivation


class InvertedResidual(nn.Module):
    """``conv``: [1x1 expand to round(inp * expand_ratio), BN, ReLU6] (skipped when the ratio is 1),
    3x3 depthwise (stride), BN, ReLU6, 1x1 project to ``oup``, BN.  y = x + conv(x) when
    stride == 1 and inp == oup, else conv(x)."""

    def __init__(self, inp, oup, stride, expand_ratio, norm_layer=None):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride should be 1 or 2, got {stride}")
        norm_layer = norm_layer or nn.BatchNorm2d
        relu6 = nn.ReLU6
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(
                Conv2dNormActivation(inp, hidden_dim, kernel_size=1, norm_layer=norm_layer, activation_layer=relu6)
            )
        layers += [
            Conv2dNormActivation(
                hidden_dim, hidden_dim, stride=stride, groups=hidden_dim, norm_layer=norm_layer, activation_layer=relu6
            ),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            norm_layer(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(_LocatedModel):
    """MobileNet v2.  ``inverted_residual_setting``: rows (t, c, n, s) = expansion, output channels,
    repeats, stride of the first repeat; ``width_mult`` scales the channels (rounded to multiples of
    ``round_nearest``).  Initialisation as torchvision: convs kaiming_normal_(fan_out), bias 0; BN 1/0;
    linear N(0, 0.01^2), bias 0."""

    def __init__(
        self,
        num_classes=1000,
        width_mult=1.0,
        inverted_residual_setting=None,
        round_nearest=8,
        block=None,
        norm_layer=None,
        dropout=0.2,
    ):
        super().__init__()
        block = block or InvertedResidual
        norm_layer = norm_layer or nn.BatchNorm2d
        input_channel, last_channel = 32, 1280
        if inverted_residual_setting is None:
            inverted_residual_setting = [
                [1, 16, 1, 1],
                [6, 24, 2, 2],
                [6, 32, 3, 2],
                [6, 64, 4, 2],
                [6, 96, 3, 1],
                [6, 160, 3, 2],
                [6, 320, 1, 1],
            ]
        if len(inverted_residual_setting) == 0 or len(inverted_residual_setting[0]) != 4:
            raise ValueError(
                f"MobileNetV2: inverted_residual_setting should be a non-empty list of 4-element "
                f"lists (t, c, n, s), got {inverted_residual_setting!r}"
            )
        input_channel = _make_divisible(input_channel * width_mult, round_nearest)
        self.last_channel = _make_divisible(last_channel * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, input_channel, stride=2, norm_layer=norm_layer, activation_layer=nn.ReLU6)]
        for t, c, n, s in inverted_residual_setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(
                    block(input_channel, output_channel, s if i == 0 else 1, expand_ratio=t, norm_layer=norm_layer)
                )
                input_channel = output_channel
        features.append(
            Conv2dNormActivation(
                input_channel, self.last_channel, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.ReLU6
            )
        )
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        init_conv_bn_linear(self, conv="kaiming_fan_out", linear="normal_0.01")

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1)).flatten(1)
        return self.classifier(x)


def mobilenet_v2(*, weights=None, progress=True, **kwargs):
    """MobileNet v2 (``width_mult``, ``round_nearest``, ``dropout`` as torchvision)."""
    _no_weights(weights, "mobilenet_v2")
    return MobileNetV2(**kwargs)


__all__ = ["MobileNetV2", "InvertedResidual", "mobilenet_v2"]
