"""GoogLeNet / Inception v1 (Szegedy et al., 2014), shaped like torchvision's ``googlenet``.

An Inception module runs four branches on the same input and concatenates them on the channel axis:
1x1; 1x1 reduce -> 3x3; 1x1 reduce -> "5x5" (a 3x3 in torchvision's port, kept for checkpoint
compatibility); 3x3 max pool -> 1x1 projection.  The 1x1 reductions keep the cost down (seed 004).
Two auxiliary classifiers (after inception4a and 4d) add gradient signal during training only.

Every convolution is ``BasicConv2d``: conv (no bias) -> batch norm (eps 1e-3) -> ReLU.  Without the
auxiliary heads the network has 6,624,904 parameters.  Input (N, 3, H, W), H, W >= 15.
"""

from collections import namedtuple

from .. import nn
from ..nn.init import trunc_normal_
from ..tensor import cat
from ._utils import _LocatedModel, _no_weights

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


def _transform_input(x):
    """Map ImageNet-normalised inputs to the [-1, 1] scaling the original weights expect (per channel
    x * std / 0.5 + (mean - 0.5) / 0.5)."""
    chans = []
    for c, (std, mean) in enumerate(((0.229, 0.485), (0.224, 0.456), (0.225, 0.406))):
        chans.append(x[:, c : c + 1] * (std / 0.5) + (mean - 0.5) / 0.5)
    return cat(chans, 1)


class BasicConv2d(nn.Module):
    """relu(bn(conv(x))), a convolution without bias followed by batch norm with eps = 0.001."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return self.bn(self.conv(x)).relu()


class Inception(nn.Module):
    """Four parallel branches concatenated: ch1x1 + ch3x3 + ch5x5 + pool_proj output channels."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, conv_block=None):
        super().__init__()
        conv_block = conv_block or BasicConv2d
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            conv_block(in_channels, ch3x3red, kernel_size=1), conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1)
        )
        self.branch3 = nn.Sequential(
            conv_block(in_channels, ch5x5red, kernel_size=1), conv_block(ch5x5red, ch5x5, kernel_size=3, padding=1)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary head: 4x4 adaptive average pool, 1x1 conv to 128, FC 2048->1024, ReLU, dropout, FC."""

    def __init__(self, in_channels, num_classes, conv_block=None, dropout=0.7):
        super().__init__()
        conv_block = conv_block or BasicConv2d
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(x, (4, 4))
        x = self.conv(x).flatten(1)
        x = self.dropout(self.fc1(x).relu())
        return self.fc2(x)


class GoogLeNet(_LocatedModel):
    """GoogLeNet.  In training mode with ``aux_logits`` the forward returns
    ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``, otherwise the logits (N, num_classes).

    ``init_weights`` (None means True, as torchvision): convolutions and linear layers get a truncated
    normal N(0, 0.01^2) on [-2, 2], batch norm 1/0.
    """

    def __init__(
        self,
        num_classes=1000,
        aux_logits=True,
        transform_input=False,
        init_weights=None,
        blocks=None,
        dropout=0.2,
        dropout_aux=0.7,
    ):
        super().__init__()
        if blocks is None:
            blocks = [BasicConv2d, Inception, InceptionAux]
        if init_weights is None:
            init_weights = True
        if len(blocks) != 3:
            raise ValueError(f"GoogLeNet: blocks should hold 3 classes (conv, inception, aux), got {len(blocks)}")
        conv_block, inception_block, inception_aux_block = blocks
        self.aux_logits = aux_logits
        self.transform_input = transform_input

        self.conv1 = conv_block(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = conv_block(64, 64, kernel_size=1)
        self.conv3 = conv_block(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception3a = inception_block(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = inception_block(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = inception_block(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = inception_block(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = inception_block(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = inception_block(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = inception_block(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

        self.inception5a = inception_block(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = inception_block(832, 384, 192, 384, 48, 128, 128)

        if aux_logits:
            self.aux1 = inception_aux_block(512, num_classes, dropout=dropout_aux)
            self.aux2 = inception_aux_block(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        if self.transform_input:
            x = _transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.dropout(self.avgpool(x).flatten(1))
        x = self.fc(x)
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(*, weights=None, progress=True, **kwargs):
    """GoogLeNet (Inception v1); ``aux_logits=True`` by default as torchvision's class."""
    _no_weights(weights, "googlenet")
    return GoogLeNet(**kwargs)


__all__ = ["GoogLeNet", "GoogLeNetOutputs", "googlenet"]
