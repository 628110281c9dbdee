"""MobileNet v2 and v3 against torchvision (weights copied): evaluation in float32, training in float64 with
batch-norm statistics and gradients; their blocks (inverted residuals, SE) on their own."""

import numpy as np
import pytest

from deepnotes import models, nn


@pytest.fixture(scope="module")
def tv_v2(zoo):
    return zoo.tv_build("mobilenet_v2", num_classes=10, dropout=0.0)


@pytest.fixture(scope="module")
def tv_v3_large(zoo):
    return zoo.tv_build("mobilenet_v3_large", num_classes=10, dropout=0.0)


@pytest.fixture(scope="module")
def tv_v3_small(zoo):
    return zoo.tv_build("mobilenet_v3_small", num_classes=10, dropout=0.0)


def test_mobilenet_v2_eval(zoo, tv_v2):
    zoo.compare_eval(zoo.fast_build("mobilenet_v2", num_classes=10, dropout=0.0), tv_v2, (2, 3, 32, 32))


@pytest.mark.slow
def test_mobilenet_v2_train_with_gradients(zoo, tv_v2):
    zoo.compare_train(zoo.fast_build("mobilenet_v2", num_classes=10, dropout=0.0), tv_v2, (2, 3, 32, 32), grads=True)


def test_mobilenet_v2_width_multiplier_eval(zoo):
    kw = dict(num_classes=10, width_mult=0.35)
    zoo.compare_eval(zoo.fast_build("mobilenet_v2", **kw), zoo.tv_build("mobilenet_v2", **kw), (2, 3, 32, 32))


@pytest.mark.slow
def test_mobilenet_v3_large_eval_and_train(zoo, tv_v3_large):
    zoo.compare_eval(zoo.fast_build("mobilenet_v3_large", num_classes=10, dropout=0.0), tv_v3_large, (2, 3, 32, 32))
    zoo.compare_train(zoo.fast_build("mobilenet_v3_large", num_classes=10, dropout=0.0), tv_v3_large, (2, 3, 32, 32))


def test_mobilenet_v3_small_eval_and_train_with_gradients(zoo, tv_v3_small):
    zoo.compare_eval(zoo.fast_build("mobilenet_v3_small", num_classes=10, dropout=0.0), tv_v3_small, (2, 3, 32, 32))
    zoo.compare_train(
        zoo.fast_build("mobilenet_v3_small", num_classes=10, dropout=0.0), tv_v3_small, (2, 3, 32, 32), grads=True
    )


def test_mobilenet_v3_small_reduced_tail_dilated_eval(zoo):
    kw = dict(num_classes=10, reduced_tail=True, dilated=True, width_mult=0.75)
    zoo.compare_eval(
        zoo.fast_build("mobilenet_v3_small", **kw), zoo.tv_build("mobilenet_v3_small", **kw), (2, 3, 32, 32)
    )


@pytest.mark.slow
def test_inverted_residual_blocks_alone(zoo):
    import torch
    from torchvision.models import mobilenetv2 as tv2
    from torchvision.models import mobilenetv3 as tv3

    for stride, inp, oup, t in ((1, 16, 16, 6), (2, 16, 24, 6), (1, 16, 8, 1)):
        torch.manual_seed(0)
        zoo.compare_train(
            models.InvertedResidual(inp, oup, stride, t),
            tv2.InvertedResidual(inp, oup, stride, t),
            (2, inp, 7, 8),
            grads=True,
        )
    for args in (
        (16, 5, 72, 16, True, "HS", 1, 1, 1.0),
        (16, 3, 64, 24, False, "RE", 2, 1, 1.0),
        (24, 5, 96, 40, True, "HS", 2, 2, 1.0),
    ):
        ours = models.InvertedResidualV3(models.InvertedResidualConfig(*args), nn.BatchNorm2d)
        ref = tv3.InvertedResidual(tv3.InvertedResidualConfig(*args), torch.nn.BatchNorm2d)
        assert ours.use_res_connect == ref.use_res_connect
        zoo.compare_train(ours, ref, (2, args[0], 9, 9), grads=True)


def test_hard_sigmoid_squeeze_excitation(zoo):
    import torch
    from torchvision.ops import misc as tv_misc

    ref = tv_misc.SqueezeExcitation(24, 8, scale_activation=torch.nn.Hardsigmoid)
    ours = models.SqueezeExcitation(24, 8, scale_activation=nn.Hardsigmoid)
    zoo.compare_train(ours, ref, (2, 24, 5, 5), grads=True)
    assert np.isfinite(ours.fc1.weight.data).all()
