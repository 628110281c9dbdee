"""Feature Pyramid Network (Lin et al., 2017), shaped like ``torchvision.ops.FeaturePyramidNetwork``.

Given backbone maps C_2..C_5 (highest resolution first), the top-down pathway builds
    inner_k = inner_blocks[k](C_k)                       (1x1 lateral conv to out_channels)
    last    = inner_top;  last = inner_k + nearest_upsample(last, size of inner_k)   going down
    P_k     = layer_blocks[k](last)                      (3x3 conv that smooths the sum)
so every level has ``out_channels`` channels and mixes strong top-level semantics with fine detail
(seed 002: backbone + FPN in one-stage detectors).  ``extra_blocks`` append coarser levels:
``LastLevelMaxPool`` (a stride-2 subsampling of the top map, Faster R-CNN's "pool") or
``LastLevelP6P7`` (RetinaNet's P6 = conv3x3/2, P7 = conv3x3/2(relu(P6))).
"""

from collections import OrderedDict

from .. import nn
from ..nn import functional as F
from ._utils import upsample_nearest
from .misc import Conv2dNormActivation


class ExtraFPNBlock(nn.Module):
    """Base class of the blocks that add levels: ``forward(results, x, names) -> (results, names)``,
    with ``results`` the FPN outputs, ``x`` the input maps and ``names`` the output names."""

    def forward(self, results, x, names):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")


class LastLevelMaxPool(ExtraFPNBlock):
    """Adds level 'pool' = max_pool2d(P_top, kernel_size=1, stride=2), i.e. every second pixel."""

    def forward(self, x, y, names):
        names = list(names) + ["pool"]
        return list(x) + [F.max_pool2d(x[-1], kernel_size=1, stride=2, padding=0)], names


class LastLevelP6P7(ExtraFPNBlock):
    """Adds 'p6' = conv3x3/2(P5 or C5) and 'p7' = conv3x3/2(relu(p6)) (RetinaNet).  P5 is used when
    in_channels == out_channels, C5 otherwise.  Convs: kaiming_uniform_(a=1), bias 0."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.p6 = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.p7 = nn.Conv2d(out_channels, out_channels, 3, 2, 1)
        for module in (self.p6, self.p7):
            nn.init.kaiming_uniform_(module.weight, a=1)
            nn.init.constant_(module.bias, 0)
        self.use_P5 = in_channels == out_channels

    def forward(self, p, c, names):
        x = p[-1] if self.use_P5 else c[-1]
        p6 = self.p6(x)
        p7 = self.p7(p6.relu())
        return list(p) + [p6, p7], list(names) + ["p6", "p7"]


class FeaturePyramidNetwork(nn.Module):
    """FPN over maps with ``in_channels_list`` channels, every output with ``out_channels``.

    forward(x: OrderedDict name -> (N, C_k, H_k, W_k), ordered from the highest resolution) returns
    an OrderedDict name -> (N, out_channels, H_k, W_k) (plus the extra blocks' levels).
    ``inner_blocks.k`` are 1x1 convs, ``layer_blocks.k`` 3x3 convs (each a Conv2dNormActivation with
    ``norm_layer`` and no activation); convs are initialised kaiming_uniform_(a=1) with zero bias.
    """

    def __init__(self, in_channels_list, out_channels, extra_blocks=None, norm_layer=None):
        super().__init__()
        self.inner_blocks = nn.ModuleList()
        self.layer_blocks = nn.ModuleList()
        for in_channels in in_channels_list:
            if in_channels == 0:
                raise ValueError("FeaturePyramidNetwork: in_channels=0 is not supported")
            self.inner_blocks.append(
                Conv2dNormActivation(
                    in_channels, out_channels, kernel_size=1, padding=0, norm_layer=norm_layer, activation_layer=None
                )
            )
            self.layer_blocks.append(
                Conv2dNormActivation(
                    out_channels, out_channels, kernel_size=3, norm_layer=norm_layer, activation_layer=None
                )
            )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=1)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
        if extra_blocks is not None and not isinstance(extra_blocks, ExtraFPNBlock):
            raise TypeError(
                f"FeaturePyramidNetwork: extra_blocks should be an ExtraFPNBlock, got {type(extra_blocks).__name__}"
            )
        self.extra_blocks = extra_blocks

    def forward(self, x):
        if not hasattr(x, "keys"):
            raise TypeError(f"FeaturePyramidNetwork: expected an OrderedDict of feature maps, got {type(x).__name__}")
        names = list(x.keys())
        feats = list(x.values())
        if len(feats) != len(self.inner_blocks):
            raise ValueError(
                f"FeaturePyramidNetwork: expected {len(self.inner_blocks)} feature maps, got {len(feats)} ({names})"
            )
        last_inner = self.inner_blocks[-1](feats[-1])
        results = [self.layer_blocks[-1](last_inner)]
        for idx in range(len(feats) - 2, -1, -1):
            inner_lateral = self.inner_blocks[idx](feats[idx])
            top_down = upsample_nearest(last_inner, size=tuple(inner_lateral.shape[-2:]))
            last_inner = inner_lateral + top_down
            results.insert(0, self.layer_blocks[idx](last_inner))
        if self.extra_blocks is not None:
            results, names = self.extra_blocks(results, feats, names)
        return OrderedDict(zip(names, results))


__all__ = ["FeaturePyramidNetwork", "ExtraFPNBlock", "LastLevelMaxPool", "LastLevelP6P7"]
