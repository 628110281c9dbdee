"""VGG (Simonyan & Zisserman, 2014): stacks of 3x3 convolutions (two 3x3 see what one 5x5 sees, with
fewer parameters and one more non-linearity) separated by 2x2 max pools, then three FC layers.

Configurations A (VGG-11), B (13), D (16), E (19), each optionally with batch norm after every conv.
``features`` holds conv(-bn)-relu and pools, ``avgpool`` is a 7x7 adaptive pool, ``classifier`` is
FC(25088, 4096)-ReLU-dropout-FC(4096, 4096)-ReLU-dropout-FC(4096, num_classes).
VGG-16: 138,357,544 parameters; VGG-16-BN: 138,365,992.  Input (N, 3, H, W), H, W >= 32.
"""

from .. import nn
from ._utils import _LocatedModel, _no_weights, init_conv_bn_linear

cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm=False):
    """The ``features`` Sequential for a configuration list (ints: 3x3 conv widths, 'M': max pool)."""
    layers = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            in_channels = v
    return nn.Sequential(*layers)


class VGG(_LocatedModel):
    """VGG on a ``features`` Sequential.  ``init_weights``: convs kaiming_normal_(fan_out, relu), bias 0;
    batch norm 1/0; linear N(0, 0.01^2), bias 0 (torchvision's)."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            init_conv_bn_linear(self)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(name, cfg, batch_norm, weights, kwargs):
    _no_weights(weights, name)
    return VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)


def vgg11(*, weights=None, progress=True, **kwargs):
    """VGG-11 (configuration A), 132,863,336 parameters."""
    return _vgg("vgg11", "A", False, weights, kwargs)


def vgg11_bn(*, weights=None, progress=True, **kwargs):
    """VGG-11 with batch normalisation, 132,868,840 parameters."""
    return _vgg("vgg11_bn", "A", True, weights, kwargs)


def vgg13(*, weights=None, progress=True, **kwargs):
    """VGG-13 (configuration B), 133,047,848 parameters."""
    return _vgg("vgg13", "B", False, weights, kwargs)


def vgg13_bn(*, weights=None, progress=True, **kwargs):
    """VGG-13 with batch normalisation, 133,053,736 parameters."""
    return _vgg("vgg13_bn", "B", True, weights, kwargs)


def vgg16(*, weights=None, progress=True, **kwargs):
    """VGG-16 (configuration D), 138,357,544 parameters."""
    return _vgg("vgg16", "D", False, weights, kwargs)


def vgg16_bn(*, weights=None, progress=True, **kwargs):
    """VGG-16 with batch normalisation, 138,365,992 parameters."""
    return _vgg("vgg16_bn", "D", True, weights, kwargs)


def vgg19(*, weights=None, progress=True, **kwargs):
    """VGG-19 (configuration E), 143,667,240 parameters."""
    return _vgg("vgg19", "E", False, weights, kwargs)


def vgg19_bn(*, weights=None, progress=True, **kwargs):
    """VGG-19 with batch normalisation, 143,678,248 parameters."""
    return _vgg("vgg19_bn", "E", True, weights, kwargs)


__all__ = ["VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
