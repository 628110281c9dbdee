"""Structure of every zoo model against torchvision's own definition: state_dict keys in order, shapes and
dtypes, parameter counts (also against torchvision's published figures), and the registry."""

import numpy as np
import pytest

import deepnotes as dn
from _tiers import by_cost
from deepnotes import models

# torchvision's published "num_params" (its weights' metadata and documentation)
PUBLISHED = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "inception_v3": 27_161_264,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "resnext101_32x8d": 88_791_336,
    "resnext101_64x4d": 83_455_272,
    "wide_resnet50_2": 68_883_240,
    "wide_resnet101_2": 126_886_696,
    "densenet121": 7_978_856,
    "densenet161": 28_681_000,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_large": 5_483_032,
    "mobilenet_v3_small": 2_542_856,
}
# the published GoogLeNet figure is for the network without its auxiliary classifiers
PUBLISHED_KW = {"googlenet": ({"aux_logits": False}, 6_624_904)}

TORCHVISION_MODELS = sorted(PUBLISHED) + ["googlenet"]


def _count(model):
    return sum(int(np.prod(p.shape)) for p in model.parameters())


def _dtype(v):
    return str(np.dtype(v.data.dtype)) if isinstance(v, dn.Tensor) else str(v.dtype).replace("torch.", "")


def _layout(state_dict):
    return [(k, tuple(v.shape), _dtype(v)) for k, v in state_dict.items()]


@pytest.mark.parametrize("name", by_cost(TORCHVISION_MODELS))
def test_state_dict_layout_matches_torchvision(zoo, name):
    kwargs = {"aux_logits": True} if name in ("googlenet", "inception_v3") else {}
    ref = zoo.tv_build(name, meta=True, **kwargs)
    ours = zoo.fast_build(name, **kwargs)
    assert _layout(ours.state_dict()) == _layout(ref.state_dict())
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in ref.named_parameters()]
    assert _count(ours) == sum(p.numel() for p in ref.parameters())


@pytest.mark.parametrize("name", by_cost(sorted(PUBLISHED) + sorted(PUBLISHED_KW)))
def test_parameter_count_equals_published(zoo, name):
    kwargs, expected = PUBLISHED_KW.get(name, ({}, PUBLISHED.get(name)))
    assert _count(zoo.fast_build(name, **kwargs)) == expected


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("resnet18", {"num_classes": 10}),
        ("resnext50_32x4d", {"num_classes": 7, "zero_init_residual": True}),
        ("resnet50", {"replace_stride_with_dilation": [False, True, True]}),
        ("densenet121", {"num_classes": 5, "drop_rate": 0.1}),
        ("vgg11_bn", {"num_classes": 3}),
        ("googlenet", {"num_classes": 4, "aux_logits": False}),
        ("inception_v3", {"num_classes": 4}),
        ("mobilenet_v2", {"width_mult": 0.5, "num_classes": 6}),
        ("mobilenet_v2", {"width_mult": 1.4}),
        ("mobilenet_v3_large", {"width_mult": 0.75, "reduced_tail": True, "dilated": True}),
        ("mobilenet_v3_small", {"num_classes": 9, "width_mult": 1.25}),
        ("alexnet", {"num_classes": 2}),
    ],
)
def test_constructor_arguments_match_torchvision(zoo, name, kwargs):
    ref = zoo.tv_build(name, meta=True, **kwargs)
    ours = zoo.fast_build(name, **kwargs)
    assert _layout(ours.state_dict()) == _layout(ref.state_dict())


def test_torchvision_state_dict_loads_unchanged(zoo):
    ref = zoo.tv_build("resnet18", num_classes=10)
    ours = zoo.fast_build("resnet18", num_classes=10)
    result = ours.load_state_dict(ref.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[k].data, v.numpy())


# ------------------------------------------------------------------------------------ LeNet-5 and MobileNet v1
def test_classic_lenet5_parameters_per_layer_match_the_notes():
    m = models.get_model("lenet5")
    assert isinstance(m, models.LeNet5Classic)
    per_layer = {name: _count(child) for name, child in m.named_children()}
    # seed 002: C1 6*(5*5+1), S2 2*6, C3 1516, S4 32, C5 120*(25*16+1), F6 84*(120+1); RBF 84 per class
    assert per_layer == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164, "act": 0, "output": 840}
    # C3's connections per output map: 6 maps read 3, 9 read 4, one reads all 6 (LeCun 1998, Table I)
    fan_in = models.LENET5_C3_TABLE.sum(axis=0)
    assert sorted(fan_in.tolist()) == [3] * 6 + [4] * 9 + [6]
    assert m.c3.weight.shape == (60, 5, 5)
    assert _count(models.lenet5(output="linear")) == 156 + 12 + 1516 + 32 + 48120 + 10164 + 850


def test_lenet5_is_the_classic_network_and_lenet5_modern_the_relu_variant():
    classic = models.get_model("lenet5", num_classes=10, in_channels=3)
    assert type(classic) is models.LeNet5Classic
    assert classic(dn.zeros(2, 3, 32, 32)).shape == (2, 10)
    modern = models.get_model("lenet5_modern", num_classes=10, in_channels=3)
    assert type(modern) is models.LeNet5
    assert modern(dn.zeros(2, 3, 32, 32)).shape == (2, 10)
    # the modern reading: full C3 (16 * (6 * 25 + 1)), max pooling (no parameters), linear C5/F6/output
    assert _count(models.lenet5_modern()) == 156 + 2416 + 48120 + 10164 + 850
    assert not hasattr(models, "lenet5_classic") and "lenet5_classic" not in models.list_models()


@pytest.mark.parametrize("alpha,millions", [(1.0, 4.2), (0.75, 2.6), (0.5, 1.3), (0.25, 0.5)])
def test_mobilenet_v1_parameters_match_the_paper(alpha, millions):
    """Howard et al. 2017, Table 6: million parameters per width multiplier (1000 classes)."""
    n = _count(models.mobilenet_v1(width_mult=alpha))
    assert round(n / 1e6, 1) == millions


# ------------------------------------------------------------------------------------ registry
def test_registry_lists_every_constructor():
    names = models.list_models()
    assert names == sorted(names)
    for name in TORCHVISION_MODELS + ["lenet5", "lenet5_modern", "mobilenet_v1"]:
        assert name in names
        assert getattr(models, name).__name__ == name


def test_unknown_model_name_suggests_nearest():
    with pytest.raises(ValueError, match=r"unknown model 'resnet19'.*did you mean .*resnet18"):
        models.get_model("resnet19")
    with pytest.raises(ValueError, match=r"did you mean .*mobilenet_v3_small"):
        models.get_model("mobilenet_v3_smal")
    with pytest.raises(TypeError, match="get_model"):
        models.get_model(18)


def test_pretrained_weights_are_refused():
    with pytest.raises(ValueError, match="resnet18: pretrained weights are not bundled"):
        models.resnet18(weights="IMAGENET1K_V1")


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="BasicBlock: only supports groups=1"):
        models.resnet18(groups=2)
    with pytest.raises(NotImplementedError, match="dilation"):
        models.resnet18(replace_stride_with_dilation=[False, False, True])
    with pytest.raises(ValueError, match="groups is fixed to 32"):
        models.resnext50_32x4d(groups=8)
    with pytest.raises(ValueError, match="LeNet5Classic: activation"):
        models.lenet5(activation="relu")
    with pytest.raises(ValueError, match="MobileNetV1: width_mult"):
        models.mobilenet_v1(width_mult=0)


# ------------------------------------------------------------------------------------ initialisation
def test_resnet_init_follows_torchvision():
    """kaiming_normal_(fan_out, relu): std sqrt(2 / (out * kh * kw)); BN 1/0; zero_init_residual."""
    dn.manual_seed(0)
    m = models.resnet18(zero_init_residual=True)
    w = m.layer3[0].conv2.weight.data  # 256 x 256 x 3 x 3
    assert abs(w.std() / np.sqrt(2.0 / (256 * 9)) - 1) < 0.02 and abs(w.mean()) < 1e-3
    assert np.all(m.layer3[0].bn1.weight.data == 1) and np.all(m.layer3[0].bn1.bias.data == 0)
    assert np.all(m.layer3[0].bn2.weight.data == 0)
    fc = m.fc.weight.data  # torch's default Linear init: U(-1/sqrt(512), 1/sqrt(512))
    assert np.abs(fc).max() <= 1 / np.sqrt(512) and fc.std() > 0.8 / np.sqrt(3 * 512)


def test_mobilenet_init_follows_torchvision():
    """convs kaiming_normal_(fan_out): std sqrt(2 / (out * kh * kw)), bias 0; linear N(0, 0.01^2), bias 0
    (the same helper initialises VGG and MobileNet v2/v3)."""
    dn.manual_seed(0)
    m = models.mobilenet_v1(num_classes=1000)
    lin = m.classifier[1]
    assert abs(lin.weight.data.std() / 0.01 - 1) < 0.01 and np.all(lin.bias.data == 0)
    conv = m.features[12].pointwise[0].weight.data  # 1024 x 512 x 1 x 1
    assert abs(conv.std() / np.sqrt(2.0 / 1024) - 1) < 0.02
    bn = m.features[12].pointwise[1]
    assert np.all(bn.weight.data == 1) and np.all(bn.bias.data == 0)


def test_googlenet_init_is_truncated_normal():
    dn.manual_seed(0)
    m = models.googlenet(aux_logits=False)
    w = m.inception4e.branch2[1].conv.weight.data
    assert abs(w.std() / 0.01 - 1) < 0.02 and np.abs(w).max() <= 2
