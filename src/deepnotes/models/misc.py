"""Reusable blocks of the model zoo, shaped like ``torchvision.ops.misc``.

``Conv2dNormActivation`` is the conv -> norm -> activation unit of MobileNet v2/v3 and the FPN (a
``Sequential`` whose children are ``0`` conv, ``1`` norm, ``2`` activation, so its state_dict keys are
torchvision's).  ``SqueezeExcitation`` is the SE block of Hu et al. (seed 004, MobileNet v3).
"""

from .. import nn


def _make_activation(layer, inplace):
    """``layer(inplace=inplace)`` when the layer takes that argument (as torch's activations do)."""
    if inplace is None:
        return layer()
    try:
        return layer(inplace=inplace)
    except TypeError:
        return layer()


class Conv2dNormActivation(nn.Sequential):
    """Conv2d, then an optional normalisation layer, then an optional activation.

    ``padding=None`` keeps the spatial size at stride 1: padding = (kernel_size - 1) // 2 * dilation.
    The convolution has a bias only when there is no norm layer (unless ``bias`` says otherwise).
    Shapes: (N, in_channels, H, W) -> (N, out_channels, Ho, Wo) with Conv2d's output-size formula.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        stride=1,
        padding=None,
        groups=1,
        norm_layer=nn.BatchNorm2d,
        activation_layer=nn.ReLU,
        dilation=1,
        inplace=True,
        bias=None,
        conv_layer=nn.Conv2d,
    ):
        if padding is None:
            if isinstance(kernel_size, int) and isinstance(dilation, int):
                padding = (kernel_size - 1) // 2 * dilation
            else:
                ks = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
                dl = dilation if isinstance(dilation, (tuple, list)) else (dilation, dilation)
                padding = tuple((k - 1) // 2 * d for k, d in zip(ks, dl))
        if bias is None:
            bias = norm_layer is None
        layers = [
            conv_layer(
                in_channels, out_channels, kernel_size, stride, padding, dilation=dilation, groups=groups, bias=bias
            )
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(_make_activation(activation_layer, inplace))
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation: rescale each channel by a gate computed from the global average.

    s = scale_activation(fc2(activation(fc1(mean_{H,W}(x))))),  y = x * s,
    with fc1: C -> squeeze_channels and fc2: squeeze_channels -> C as 1x1 convolutions (with bias).
    Defaults: ReLU and Sigmoid (MobileNet v3 uses a hard sigmoid gate).  (N, C, H, W) -> same shape.
    """

    def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, input):
        scale = self.avgpool(input)
        scale = self.fc1(scale)
        scale = self.activation(scale)
        scale = self.fc2(scale)
        return self.scale_activation(scale)

    def forward(self, input):
        return input * self._scale(input)


__all__ = ["Conv2dNormActivation", "SqueezeExcitation"]
