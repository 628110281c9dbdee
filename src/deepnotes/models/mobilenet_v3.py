"""MobileNet v3 (Howard et al., 2019), shaped like torchvision's ``mobilenet_v3_large/small``.

The v2 inverted residual plus (seed 004) a squeeze-and-excitation gate inside the block (hard-sigmoid
scale, squeeze width make_divisible(expanded / 4, 8)) and the hard-swish activation
h-swish(x) = x * ReLU6(x + 3) / 6 in the deeper half, found by architecture search.  Batch norm uses
eps 0.001 and momentum 0.01.  Large: 5,483,032 parameters; small: 2,542,856 (1000 classes).
Input (N, 3, H, W) -> (N, num_classes).
"""

from functools import partial

from .. import nn
from ._utils import _LocatedModel, _make_divisible, _no_weights, init_conv_bn_linear
from .misc import Conv2dNormActivation, SqueezeExcitation


class InvertedResidualConfig:
    """One bneck row: input/expanded/output channels (scaled by ``width_mult`` and rounded to 8),
    kernel, SE on/off, activation 'RE' (ReLU) or 'HS' (hard-swish), stride and dilation."""

    def __init__(
        self, input_channels, kernel, expanded_channels, out_channels, use_se, activation, stride, dilation, width_mult
    ):
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.kernel = kernel
        self.expanded_channels = self.adjust_channels(expanded_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.use_se = use_se
        self.use_hs = activation == "HS"
        self.stride = stride
        self.dilation = dilation

    @staticmethod
    def adjust_channels(channels, width_mult):
        return _make_divisible(channels * width_mult, 8)


class InvertedResidualV3(nn.Module):
    """MobileNet v3 block (torchvision's ``mobilenetv3.InvertedResidual``): ``block`` = [1x1 expand,
    BN, act] (when expanded != input), kxk depthwise, BN, act, [SE], 1x1 project, BN; residual add when
    stride 1 and input == output channels."""

    def __init__(self, cnf, norm_layer, se_layer=None):
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError(f"InvertedResidualV3: illegal stride value {cnf.stride}")
        if se_layer is None:
            se_layer = partial(SqueezeExcitation, scale_activation=nn.Hardsigmoid)
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        activation_layer = nn.Hardswish if cnf.use_hs else nn.ReLU
        layers = []
        if cnf.expanded_channels != cnf.input_channels:
            layers.append(
                Conv2dNormActivation(
                    cnf.input_channels,
                    cnf.expanded_channels,
                    kernel_size=1,
                    norm_layer=norm_layer,
                    activation_layer=activation_layer,
                )
            )
        stride = 1 if cnf.dilation > 1 else cnf.stride
        layers.append(
            Conv2dNormActivation(
                cnf.expanded_channels,
                cnf.expanded_channels,
                kernel_size=cnf.kernel,
                stride=stride,
                dilation=cnf.dilation,
                groups=cnf.expanded_channels,
                norm_layer=norm_layer,
                activation_layer=activation_layer,
            )
        )
        if cnf.use_se:
            layers.append(se_layer(cnf.expanded_channels, _make_divisible(cnf.expanded_channels // 4, 8)))
        layers.append(
            Conv2dNormActivation(
                cnf.expanded_channels, cnf.out_channels, kernel_size=1, norm_layer=norm_layer, activation_layer=None
            )
        )
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out_channels
        self._is_cn = cnf.stride > 1

    def forward(self, x):
        result = self.block(x)
        if self.use_res_connect:
            result = result + x
        return result


class MobileNetV3(_LocatedModel):
    """MobileNet v3 on a list of ``InvertedResidualConfig``: 3x3/2 stem (h-swish), the blocks, a 1x1
    conv to 6x the last width (h-swish), global pool, FC(last_channel)-h-swish-dropout-FC.
    Initialisation as torchvision: convs kaiming_normal_(fan_out), BN 1/0, linear N(0, 0.01^2)."""

    def __init__(
        self,
        inverted_residual_setting,
        last_channel,
        num_classes=1000,
        block=None,
        norm_layer=None,
        dropout=0.2,
        **kwargs,
    ):
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("MobileNetV3: inverted_residual_setting should not be empty")
        if not all(isinstance(s, InvertedResidualConfig) for s in inverted_residual_setting):
            raise TypeError("MobileNetV3: inverted_residual_setting should be a list of InvertedResidualConfig")
        block = block or InvertedResidualV3
        norm_layer = norm_layer or partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        first = inverted_residual_setting[0].input_channels
        layers = [
            Conv2dNormActivation(
                3, first, kernel_size=3, stride=2, norm_layer=norm_layer, activation_layer=nn.Hardswish
            )
        ]
        for cnf in inverted_residual_setting:
            layers.append(block(cnf, norm_layer))
        last_in = inverted_residual_setting[-1].out_channels
        last_out = 6 * last_in
        layers.append(
            Conv2dNormActivation(last_in, last_out, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.Hardswish)
        )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_out, last_channel),
            nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True),
            nn.Linear(last_channel, num_classes),
        )
        init_conv_bn_linear(self, conv="kaiming_fan_out", linear="normal_0.01")

    def forward(self, x):
        x = self.avgpool(self.features(x)).flatten(1)
        return self.classifier(x)


def _mobilenet_v3_conf(arch, width_mult=1.0, reduced_tail=False, dilated=False):
    """The bneck tables of the paper (Tables 1 and 2) as torchvision lists them."""
    rd = 2 if reduced_tail else 1
    dil = 2 if dilated else 1
    conf = partial(InvertedResidualConfig, width_mult=width_mult)
    if arch == "mobilenet_v3_large":
        setting = [
            conf(16, 3, 16, 16, False, "RE", 1, 1),
            conf(16, 3, 64, 24, False, "RE", 2, 1),
            conf(24, 3, 72, 24, False, "RE", 1, 1),
            conf(24, 5, 72, 40, True, "RE", 2, 1),
            conf(40, 5, 120, 40, True, "RE", 1, 1),
            conf(40, 5, 120, 40, True, "RE", 1, 1),
            conf(40, 3, 240, 80, False, "HS", 2, 1),
            conf(80, 3, 200, 80, False, "HS", 1, 1),
            conf(80, 3, 184, 80, False, "HS", 1, 1),
            conf(80, 3, 184, 80, False, "HS", 1, 1),
            conf(80, 3, 480, 112, True, "HS", 1, 1),
            conf(112, 3, 672, 112, True, "HS", 1, 1),
            conf(112, 5, 672, 160 // rd, True, "HS", 2, dil),
            conf(160 // rd, 5, 960 // rd, 160 // rd, True, "HS", 1, dil),
            conf(160 // rd, 5, 960 // rd, 160 // rd, True, "HS", 1, dil),
        ]
        last_channel = InvertedResidualConfig.adjust_channels(1280 // rd, width_mult)
    elif arch == "mobilenet_v3_small":
        setting = [
            conf(16, 3, 16, 16, True, "RE", 2, 1),
            conf(16, 3, 72, 24, False, "RE", 2, 1),
            conf(24, 3, 88, 24, False, "RE", 1, 1),
            conf(24, 5, 96, 40, True, "HS", 2, 1),
            conf(40, 5, 240, 40, True, "HS", 1, 1),
            conf(40, 5, 240, 40, True, "HS", 1, 1),
            conf(40, 5, 120, 48, True, "HS", 1, 1),
            conf(48, 5, 144, 48, True, "HS", 1, 1),
            conf(48, 5, 288, 96 // rd, True, "HS", 2, dil),
            conf(96 // rd, 5, 576 // rd, 96 // rd, True, "HS", 1, dil),
            conf(96 // rd, 5, 576 // rd, 96 // rd, True, "HS", 1, dil),
        ]
        last_channel = InvertedResidualConfig.adjust_channels(1024 // rd, width_mult)
    else:
        raise ValueError(f"_mobilenet_v3_conf: unsupported model type {arch!r}")
    return setting, last_channel


def _mobilenet_v3(arch, weights, kwargs):
    _no_weights(weights, arch)
    conf_keys = ("width_mult", "reduced_tail", "dilated")
    setting, last_channel = _mobilenet_v3_conf(arch, **{k: kwargs.pop(k) for k in conf_keys if k in kwargs})
    return MobileNetV3(setting, last_channel, **kwargs)


def mobilenet_v3_large(*, weights=None, progress=True, **kwargs):
    """MobileNet v3 large (``width_mult``, ``reduced_tail``, ``dilated``, ``dropout`` as torchvision)."""
    return _mobilenet_v3("mobilenet_v3_large", weights, kwargs)


def mobilenet_v3_small(*, weights=None, progress=True, **kwargs):
    """MobileNet v3 small (``width_mult``, ``reduced_tail``, ``dilated``, ``dropout`` as torchvision)."""
    return _mobilenet_v3("mobilenet_v3_small", weights, kwargs)


__all__ = ["MobileNetV3", "InvertedResidualV3", "InvertedResidualConfig", "mobilenet_v3_large", "mobilenet_v3_small"]
