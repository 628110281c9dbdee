"""Backbones with a feature pyramid, shaped like ``torchvision.models.detection.backbone_utils``.

``BackboneWithFPN`` = ``body`` (an :class:`IntermediateLayerGetter` that runs a classification network
up to its last requested stage and returns the requested stages' maps) + ``fpn``; its state_dict keys
are torchvision's (``body.layer2.0.conv1.weight``, ``fpn.inner_blocks.0.0.weight`` ...).

``small_resnet`` is the CPU-sized backbone of the small detectors: a ResNet of BasicBlocks with narrow
stages, the same child names as :class:`~deepnotes.models.ResNet` so the same extractor serves both.
"""

from __future__ import annotations

from collections import OrderedDict

from ... import nn
from ..fpn import FeaturePyramidNetwork, LastLevelMaxPool
from ..resnet import BasicBlock

__all__ = ["IntermediateLayerGetter", "BackboneWithFPN", "resnet_fpn_extractor", "SmallResNet", "small_resnet"]


class IntermediateLayerGetter(nn.ModuleDict):
    """The children of ``model`` up to the last one named in ``return_layers``; ``forward`` runs them in
    order and returns ``OrderedDict(new_name -> output)`` for the children named in ``return_layers``."""

    def __init__(self, model, return_layers):
        names = [name for name, _ in model.named_children()]
        if not set(return_layers).issubset(names):
            raise ValueError(
                f"IntermediateLayerGetter: return_layers {sorted(return_layers)} are not all children of the "
                f"model (children: {names})"
            )
        wanted = {str(k): str(v) for k, v in return_layers.items()}
        remaining = dict(wanted)
        layers = OrderedDict()
        for name, module in model.named_children():
            layers[name] = module
            remaining.pop(name, None)
            if not remaining:
                break
        super().__init__(layers)
        self.return_layers = wanted

    def forward(self, x):
        out = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out


class BackboneWithFPN(nn.Module):
    """``fpn(body(x))``: the requested stages of a network, merged by a feature pyramid of
    ``out_channels`` channels (``LastLevelMaxPool`` unless ``extra_blocks`` is given)."""

    def __init__(self, backbone, return_layers, in_channels_list, out_channels, extra_blocks=None, norm_layer=None):
        super().__init__()
        if extra_blocks is None:
            extra_blocks = LastLevelMaxPool()
        self.body = IntermediateLayerGetter(backbone, return_layers=return_layers)
        self.fpn = FeaturePyramidNetwork(
            in_channels_list, out_channels, extra_blocks=extra_blocks, norm_layer=norm_layer
        )
        self.out_channels = out_channels

    def forward(self, x):
        return self.fpn(self.body(x))


def resnet_fpn_extractor(backbone, trainable_layers=5, returned_layers=None, extra_blocks=None, out_channels=256):
    """A ResNet-like ``backbone`` (children conv1, bn1, relu, maxpool, layer1..4) with an FPN over
    ``returned_layers`` (default 1..4); parameters outside the last ``trainable_layers`` of
    ``layer4, layer3, layer2, layer1, conv1`` (+ ``bn1`` at 5) stop requiring gradients, as torchvision's
    ``_resnet_fpn_extractor``.  The stage widths are read from the backbone."""
    if not 0 <= trainable_layers <= 5:
        raise ValueError(f"resnet_fpn_extractor: trainable_layers should be in [0, 5], got {trainable_layers}")
    train = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable_layers]
    if trainable_layers == 5:
        train.append("bn1")
    for name, p in backbone.named_parameters():
        if not any(name.startswith(layer) for layer in train):
            p.requires_grad_(False)
    if returned_layers is None:
        returned_layers = [1, 2, 3, 4]
    if min(returned_layers) <= 0 or max(returned_layers) >= 5:
        raise ValueError(f"resnet_fpn_extractor: returned_layers should be in [1, 4], got {returned_layers}")
    return_layers = {f"layer{k}": str(v) for v, k in enumerate(returned_layers)}
    in_channels_list = [_stage_width(getattr(backbone, f"layer{k}")) for k in returned_layers]
    return BackboneWithFPN(backbone, return_layers, in_channels_list, out_channels, extra_blocks=extra_blocks)


def _stage_width(stage):
    last = list(stage.children())[-1]
    for name in ("bn3", "bn2"):
        if hasattr(last, name):
            return int(getattr(last, name).num_features)
    raise ValueError(f"resnet_fpn_extractor: cannot read the output width of stage {type(last).__name__}")


class SmallResNet(nn.Module):
    """A narrow ResNet for CPU-sized detection: 3x3/2 stem conv (``widths[0]`` channels), then four
    stages of ``blocks[i]`` BasicBlocks of ``widths[i]`` channels, strides 2, 2, 2, 2 (output strides 4,
    8, 16, 32, as a ResNet after its max pool)."""

    def __init__(self, widths=(16, 32, 64, 128), blocks=(1, 1, 1, 1)):
        super().__init__()
        if len(widths) != 4 or len(blocks) != 4:
            raise ValueError(f"SmallResNet: widths and blocks need 4 entries each, got {widths!r}, {blocks!r}")
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        inplanes = widths[0]
        for k, (w, n) in enumerate(zip(widths, blocks)):
            downsample = nn.Sequential(nn.Conv2d(inplanes, w, 1, stride=2, bias=False), nn.BatchNorm2d(w))
            layers = [BasicBlock(inplanes, w, stride=2, downsample=downsample)]
            layers += [BasicBlock(w, w) for _ in range(n - 1)]
            setattr(self, f"layer{k + 1}", nn.Sequential(*layers))
            inplanes = w
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def small_resnet(widths=(16, 32, 64, 128), blocks=(1, 1, 1, 1)):
    """:class:`SmallResNet` (about 0.7 M parameters at the default widths)."""
    return SmallResNet(widths, blocks)
