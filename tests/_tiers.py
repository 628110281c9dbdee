"""The test tiers: which zoo models make a test slow (marked ``slow``; ``-m "not slow"`` is the fast tier).

A test that builds, runs or trains one of these architectures takes over about 5 s on the 2-core machine
(VGG's 130M+ parameters, AlexNet's 61M, the deep ResNets/ResNeXts/Wide ResNets, the large DenseNets,
Inception v3 at 299 px); the other models keep such tests in the fast tier.
"""

import pytest

HEAVY_MODELS = frozenset(
    {
        "alexnet",
        "vgg11",
        "vgg11_bn",
        "vgg13",
        "vgg13_bn",
        "vgg16",
        "vgg16_bn",
        "vgg19",
        "vgg19_bn",
        "resnet101",
        "resnet152",
        "resnext101_32x8d",
        "resnext101_64x4d",
        "wide_resnet50_2",
        "wide_resnet101_2",
        "densenet161",
        "densenet169",
        "densenet201",
        "inception_v3",
    }
)


def by_cost(names):
    """``names`` as parametrize values, the heavy models marked ``slow``."""
    return [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY_MODELS else n for n in names]
