"""Multiply-accumulates of the zoo at ImageNet resolution against torchvision's published figures.

torchvision's model cards list "GFLOPS" that count one multiply-add as one operation (i.e. MACs) for
convolutions and fully connected layers, at 224x224 (299x299 for Inception v3).  Issue 6 asks for 2%.
"""

import pytest

from _tiers import by_cost
from deepnotes import nn
from deepnotes.analysis import profile
from deepnotes.models import get_model

PUBLISHED_GMACS = {
    "resnet18": 1.81,
    "resnet34": 3.66,
    "resnet50": 4.09,
    "resnext50_32x4d": 4.23,
    "vgg16": 15.47,
    "vgg16_bn": 15.47,
    "mobilenet_v2": 0.30,
    "mobilenet_v3_large": 0.22,
    "inception_v3": 5.71,
    "alexnet": 0.71,
    "googlenet": 1.50,
    "densenet121": 2.83,
}


@pytest.fixture
def zero_init(monkeypatch):
    """Structure-only builds: the random initialisers write zeros (MACs do not depend on weights)."""

    def fill(tensor, *args, **kwargs):
        tensor.data[...] = 0
        return tensor

    monkeypatch.setattr(nn.init, "uniform_", fill)
    monkeypatch.setattr(nn.init, "normal_", fill)


@pytest.mark.parametrize("name", by_cost(sorted(PUBLISHED_GMACS)))
def test_macs_within_two_percent_of_published(name, zero_init):
    kwargs = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    side = 299 if name == "inception_v3" else 224
    macs = profile(get_model(name, **kwargs), (3, side, side)).macs
    published = PUBLISHED_GMACS[name] * 1e9
    assert abs(macs - published) / published <= 0.02, (name, macs)
