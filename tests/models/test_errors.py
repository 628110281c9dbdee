"""Bad inputs: a map that vanishes inside a network is reported with the layer's path (torchvision fails on
the same inputs), the replay that finds the layer leaves no trace, and good small inputs still work."""

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes import models


def _torch_fails(ref, x):
    with pytest.raises((RuntimeError, ValueError)):
        with torch.no_grad():
            ref(torch.from_numpy(x))


@pytest.mark.slow
def test_vgg_input_too_small_names_the_pool(zoo):
    x = zoo.image((2, 3, 16, 16))
    ours = zoo.fast_build("vgg11").eval()
    with pytest.raises(
        ValueError,
        match=r"VGG: forward failed at layer 'features\.20' \(MaxPool2d\) which receives "
        r"shape \(2, 512, 1, 1\).*too small.*input of shape \(2, 3, 16, 16\)",
    ) as info:
        ours(dn.tensor(x))
    assert info.value.layer == "features.20"
    _torch_fails(zoo.tv_build("vgg11", meta=True).to_empty(device="cpu").eval(), x)


@pytest.mark.slow
def test_alexnet_input_too_small(zoo):
    x = zoo.image((1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"AlexNet: forward failed at layer 'features\.12' \(MaxPool2d\)"):
        zoo.fast_build("alexnet").eval()(dn.tensor(x))
    _torch_fails(zoo.tv_build("alexnet", meta=True).to_empty(device="cpu").eval(), x)


def test_inception_v3_input_too_small_names_the_branch(zoo):
    x = zoo.image((1, 3, 64, 64))
    with pytest.raises(
        ValueError,
        match=r"Inception3: forward failed at layer 'Mixed_7a\.branch3x3_2\.conv' "
        r"\(Conv2d\) which receives shape \(1, 192, 2, 2\)",
    ):
        zoo.fast_build("inception_v3").eval()(dn.tensor(x))
    _torch_fails(zoo.tv_build("inception_v3", meta=True).to_empty(device="cpu").eval(), x)


def test_resnet18_8x8_works_in_eval_and_matches_torchvision(zoo):
    """ResNet's padded convolutions never vanish: 8x8 reaches layer4 as 1x1, like torchvision."""
    ref = zoo.tv_build("resnet18", num_classes=10)
    zoo.compare_eval(zoo.fast_build("resnet18", num_classes=10), ref, (2, 3, 8, 8))


def test_resnet18_8x8_single_image_training_names_the_batch_norm(zoo):
    """Batch 1 at 8x8: layer2's first 3x3/2 conv leaves one value per channel, which batch norm cannot
    normalise in training; torchvision raises too."""
    x = zoo.image((1, 3, 8, 8))
    ours = zoo.fast_build("resnet18").train()
    with pytest.raises(
        ValueError,
        match=r"ResNet: forward failed at layer 'layer2\.0\.bn1' \(BatchNorm2d\) which "
        r"receives shape \(1, 128, 1, 1\).*more than 1 value per channel",
    ):
        ours(dn.tensor(x))
    ref = zoo.tv_build("resnet18", meta=True).to_empty(device="cpu").train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ref(torch.from_numpy(x))


def test_wrong_channel_count_names_the_first_conv(zoo):
    with pytest.raises(
        ValueError,
        match=r"ResNet: forward failed at layer 'conv1' \(Conv2d\) which receives shape "
        r"\(2, 1, 32, 32\).*3 channels",
    ):
        zoo.fast_build("resnet18").eval()(dn.zeros(2, 1, 32, 32))


@pytest.mark.slow
def test_failed_forward_leaves_running_stats_as_torchvision_does(zoo):
    """In training mode the layers before the failure update their statistics once (as in torch); the
    replay that locates the failing layer is undone."""
    ref = zoo.tv_build("densenet121", num_classes=10).double().train()
    ours = zoo.load_from(zoo.fast_build("densenet121", num_classes=10), ref, np.float64).train()
    # batch 8: at 1x1 spatial size block 3 normalises over N values per channel; with N = 2 training
    # batch norm is ill-conditioned (x_hat = +-1 or ~ (x - mean) / sqrt(eps)) and float64 rounding
    # differences between two correct implementations grow to ~1e-3 relative over its 24 layers
    x = zoo.image((8, 3, 16, 16), np.float64)
    with pytest.raises(
        ValueError,
        match=r"DenseNet: forward failed at layer 'features\.transition3\.pool' "
        r"\(AvgPool2d\) which receives shape \(8, 512, 1, 1\)",
    ):
        ours(dn.tensor(x))
    with pytest.raises(RuntimeError):
        ref(torch.from_numpy(x))
    ours_stats, ref_stats = zoo.bn_stats(ours), zoo.bn_stats(ref)
    assert ours_stats["features.norm0.num_batches_tracked"] == 1
    assert ours_stats["features.norm5.num_batches_tracked"] == 0
    for k in ref_stats:
        zoo.assert_close(ours_stats[k], ref_stats[k], 1e-5, 1e-7, what=k)  # a replayed update would be ~10 % off


def test_errors_outside_sub_layers_are_not_rewritten():
    with pytest.raises(
        ValueError, match=r"^LeNet5Classic: expected input of shape \(N, C, 32, 32\), got \(2, 1, 28, 28\)"
    ):
        models.lenet5()(dn.zeros(2, 1, 28, 28))


def test_fpn_bad_inputs():
    fpn = models.FeaturePyramidNetwork([4, 8], 6)
    with pytest.raises(TypeError, match="OrderedDict"):
        fpn([dn.zeros(1, 4, 8, 8), dn.zeros(1, 8, 4, 4)])
    with pytest.raises(ValueError, match="expected 2 feature maps, got 1"):
        fpn({"a": dn.zeros(1, 4, 8, 8)})
    with pytest.raises(ValueError, match="in_channels=0"):
        models.FeaturePyramidNetwork([0, 8], 6)
    with pytest.raises(TypeError, match="ExtraFPNBlock"):
        models.FeaturePyramidNetwork([4, 8], 6, extra_blocks=models.Conv2dNormActivation(6, 6))


def test_connection_table_validation():
    with pytest.raises(ValueError, match=r"connection_table must have shape \(in_channels, out_channels\) = \(6, 16\)"):
        models.ConnectionTableConv2d(6, 16, 5, np.ones((16, 6), bool))
    table = np.ones((2, 3), bool)
    table[:, 1] = False
    with pytest.raises(ValueError, match="every output map needs at least one input map"):
        models.ConnectionTableConv2d(2, 3, 3, table)


def test_failed_forward_leaves_the_random_generator_as_a_plain_call(zoo):
    """Dropout inside the dense layers draws random numbers before the failure; the locating replay must
    not draw any more than the failed call itself."""
    from deepnotes import nn

    model = zoo.fast_build("densenet121", num_classes=10, drop_rate=0.5).train()
    x = dn.tensor(zoo.image((2, 3, 16, 16)))
    dn.manual_seed(7)
    with pytest.raises(ValueError, match="avg_pool2d"):
        nn.Module.__call__(model, x)  # the raw failure, no locating
    plain = dn.random.default_generator().bit_generator.state
    dn.manual_seed(7)
    with pytest.raises(ValueError, match=r"features\.transition3\.pool"):
        model(x)
    assert dn.random.default_generator().bit_generator.state == plain
