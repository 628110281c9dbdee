"""Parameters, MACs and FLOPs: the worked numbers of seeds 000/002/003, seed 001's formulas, and
torch twins (parameter counts, output shapes, and FlopCounterMode, which counts 2 * MACs for
convolutions and matrix products)."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

import deepnotes as dn
from deepnotes import nn
from deepnotes.analysis import (
    LayerCost,
    cost_rule_for,
    count_parameters,
    parameter_table,
    parse_input_size,
    profile,
    register_cost_rule,
)
from deepnotes.models import LeNet5

torch.set_num_threads(1)


# ------------------------------------------------------------------------------------- helpers
def build(lib, spec):
    """The same Sequential in deepnotes.nn or torch.nn from a layer spec list (names '0', '1', ...)."""
    layers = []
    for kind, *a in spec:
        if kind == "conv":
            cin, cout, k, s, p, d, g, bias = a
            layers.append(lib.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, groups=g, bias=bias))
        elif kind == "bn":
            layers.append(lib.BatchNorm2d(a[0]))
        elif kind == "relu":
            layers.append(lib.ReLU())
        elif kind == "maxpool":
            layers.append(lib.MaxPool2d(*a))
        elif kind == "avgpool":
            layers.append(lib.AvgPool2d(*a))
        elif kind == "gap":
            layers.append(lib.AdaptiveAvgPool2d(a[0]))
        elif kind == "flatten":
            layers.append(lib.Flatten())
        elif kind == "linear":
            layers.append(lib.Linear(*a))
        elif kind == "dropout":
            layers.append(lib.Dropout(0.5))
        else:  # pragma: no cover
            raise AssertionError(kind)
    return lib.Sequential(*layers)


def torch_flops_by_module(model, x):
    """FlopCounterMode's per-module FLOPs, keyed by the module's dotted name ('' for the model)."""
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad():
        model(x)
    root = type(model).__name__
    out = {}
    for key, ops in fc.get_flop_counts().items():
        if key == "Global":
            continue
        name = key[len(root) + 1 :] if key.startswith(root + ".") else ("" if key == root else None)
        if name is not None:
            out[name] = int(sum(ops.values()))
    return fc.get_total_flops(), out


def torch_output_shapes(model, x):
    shapes = {}

    def hook(name):
        def record(mod, inputs, output):
            shapes.setdefault(name, tuple(output.shape))

        return record

    hooks = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n and not list(m.children())]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return shapes


def check_against_torch(dn_model, t_model, input_size, batch_size=1):
    """Parameters per layer, output shapes per layer, and MACs per layer (= FlopCounterMode / 2)."""
    prof = profile(dn_model, input_size, batch_size=batch_size)
    x = torch.randn((batch_size,) + tuple(input_size))
    assert prof.params == sum(p.numel() for p in t_model.parameters())
    t_params = {n: sum(p.numel() for p in m.parameters()) for n, m in t_model.named_modules()}
    t_shapes = torch_output_shapes(t_model, x)
    total, per_module = torch_flops_by_module(t_model, x)
    assert 2 * prof.macs == total
    for row in prof.rows:
        assert row.params == t_params[row.name], row.name
        assert row.output_shape == t_shapes[row.name], row.name
        assert 2 * row.macs == per_module.get(row.name, 0), row.name
    return prof


# ------------------------------------------------------------------------------------- seed 000
def test_seed000_grouped_vs_depthwise_separable_parameters():
    """3 input channels, 256 outputs: 3x3 Conv+BN+ReLU has 3*3*3*256 = 6912 convolution weights; the
    3x3 depthwise + 1x1 pointwise pair has 3*3*3 + 3*1*1*256 = 795 (the notes ignore BN and biases)."""
    plain = [("conv", 3, 256, 3, 1, 1, 1, 1, False), ("bn", 256), ("relu",)]
    separable = [
        ("conv", 3, 3, 3, 1, 1, 1, 3, False),
        ("bn", 3),
        ("relu",),
        ("conv", 3, 256, 1, 1, 0, 1, 1, False),
        ("bn", 256),
        ("relu",),
    ]
    p1 = check_against_torch(build(nn, plain), build(torch.nn, plain), (3, 32, 32))
    p2 = check_against_torch(build(nn, separable), build(torch.nn, separable), (3, 32, 32))
    conv1 = sum(r.params for r in p1.rows if r.type == "Conv2d")
    conv2 = sum(r.params for r in p2.rows if r.type == "Conv2d")
    assert (conv1, conv2) == (6912, 795)
    assert [r.params for r in p2.rows if r.type == "Conv2d"] == [27, 768]
    # with batch norm's 2*C (seed 001) the totals are 6912 + 512 and 795 + 6 + 512
    assert (p1.params, p2.params) == (6912 + 512, 795 + 6 + 512)


# ------------------------------------------------------------------------------------- seed 003
def test_seed003_vgg_layer_vs_depthwise_separable_mult_adds():
    """112x112x64 input, 3x3x128 kernels: 3*3*128*64*112*112 = 924,844,032 multiply-adds for the
    standard convolution and 3*3*64*112*112 + 128*64*112*112 = 109,985,792 for MobileNet v1's
    depthwise separable one; the ratio 0.1189 lies between 1/9 and 1/8."""
    std = [("conv", 64, 128, 3, 1, 1, 1, 1, True)]
    sep = [("conv", 64, 64, 3, 1, 1, 1, 64, True), ("conv", 64, 128, 1, 1, 0, 1, 1, True)]
    a = check_against_torch(build(nn, std), build(torch.nn, std), (64, 112, 112))
    b = check_against_torch(build(nn, sep), build(torch.nn, sep), (64, 112, 112))
    assert a.macs == 3 * 3 * 128 * 64 * 112 * 112 == 924_844_032
    assert b.macs == 3 * 3 * 64 * 112 * 112 + 128 * 64 * 112 * 112 == 109_985_792
    assert [r.macs for r in b.rows] == [7_225_344, 102_760_448]
    assert round(b.macs / a.macs, 4) == 0.1189 and 1 / 9 < b.macs / a.macs < 1 / 8


# ------------------------------------------------------------------------------------- seed 002
def test_seed002_dense_vs_depthwise_vs_thin_convolution():
    """64x64x256 -> 64x64x256 with 3x3 kernels: 590K parameters and 2.42G multiply-adds; the
    depthwise version 2.3K and 9.44M; a dense 16-channel one 2.3K and 9.44M as well."""
    cases = {
        "dense": [("conv", 256, 256, 3, 1, 1, 1, 1, False)],
        "depthwise": [("conv", 256, 256, 3, 1, 1, 1, 256, False)],
        "thin": [("conv", 16, 16, 3, 1, 1, 1, 1, False)],
    }
    got = {}
    for key, spec in cases.items():
        cin = spec[0][1]
        got[key] = check_against_torch(build(nn, spec), build(torch.nn, spec), (cin, 64, 64))
    assert (got["dense"].params, got["dense"].macs) == (3 * 3 * 256 * 256, 64 * 64 * 256 * 3 * 3 * 256)
    assert (got["depthwise"].params, got["depthwise"].macs) == (3 * 3 * 256, 64 * 64 * 256 * 3 * 3)
    assert (got["thin"].params, got["thin"].macs) == (3 * 3 * 16 * 16, 64 * 64 * 16 * 3 * 3 * 16)
    assert f"{got['dense'].params / 1e3:.0f}K" == "590K"
    assert f"{got['dense'].macs / 1e9:.2f}G" == "2.42G"
    for key in ("depthwise", "thin"):
        assert f"{got[key].params / 1e3:.1f}K" == "2.3K"
        assert f"{got[key].macs / 1e6:.2f}M" == "9.44M"
    assert got["dense"].macs // got["depthwise"].macs == 256


# ------------------------------------------------------------------------------------- seed 001
@pytest.mark.parametrize("bias", [True, False])
def test_seed001_conv_and_fc_formulas(bias):
    """Conv: params C_i K^2 C_o (+C_o), MACs C_i K^2 H W C_o, FLOPs (2 C_i K^2 - 1) H W C_o without
    bias and 2 C_i K^2 H W C_o with it; FC: params I O (+O), FLOPs (2I - 1) O; BN: 2 C params."""
    Ci, Co, K, I, O = 5, 7, 3, 7 * 6 * 6, 9
    spec = [("conv", Ci, Co, K, 1, 0, 1, 1, bias), ("bn", Co), ("flatten",), ("linear", I, O, bias)]
    prof = check_against_torch(build(nn, spec), build(torch.nn, spec), (Ci, 8, 8))
    conv, bn, _, fc = prof.rows
    H = W = 6
    assert conv.params == Ci * K * K * Co + (Co if bias else 0)
    assert bn.params == 2 * Co
    assert fc.params == I * O + (O if bias else 0)
    assert conv.macs == Ci * K * K * H * W * Co
    assert conv.flops_no_bias == (2 * Ci * K * K - 1) * H * W * Co
    assert conv.flops == (2 * Ci * K * K * H * W * Co if bias else (2 * Ci * K * K - 1) * H * W * Co)
    assert fc.macs == I * O
    assert fc.flops_no_bias == (2 * I - 1) * O
    assert fc.flops == (2 * I * O if bias else (2 * I - 1) * O)
    assert prof.flops_no_bias == conv.flops_no_bias + fc.flops_no_bias + bn.flops


def test_flops_with_bias_equal_flop_counter_mode():
    """For layers with a bias, 'flops' is seed 001's with-bias count, which is what FlopCounterMode
    reports; a batch multiplies everything."""
    spec = [("conv", 3, 8, 3, 2, 1, 1, 1, True), ("relu",), ("flatten",), ("linear", 8 * 4 * 4, 10, True)]
    prof = profile(build(nn, spec), (3, 8, 8), batch_size=3)
    total, per = torch_flops_by_module(build(torch.nn, spec), torch.randn(3, 3, 8, 8))
    assert prof["0"].flops == per["0"] and prof["3"].flops == per["3"]
    assert prof["0"].flops - prof["0"].flops_no_bias == 3 * 8 * 4 * 4  # one addition per output
    assert prof.input_shape == (3, 3, 8, 8)


@settings(max_examples=30, deadline=None)
@given(
    cin_g=st.integers(1, 3),
    cout_g=st.integers(1, 3),
    groups=st.integers(1, 3),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
    h=st.integers(6, 11),
    w=st.integers(6, 11),
    bias=st.booleans(),
    batch=st.integers(1, 2),
)
def test_conv_rule_matches_torch(cin_g, cout_g, groups, k, s, p, d, h, w, bias, batch):
    cin, cout = cin_g * groups, cout_g * groups
    if (h + 2 * p - d * (k - 1) - 1) < 0 or (w + 2 * p - d * (k - 1) - 1) < 0:
        return
    spec = [("conv", cin, cout, k, s, p, d, groups, bias)]
    prof = check_against_torch(build(nn, spec), build(torch.nn, spec), (cin, h, w), batch_size=batch)
    n_out = int(np.prod(prof.rows[0].output_shape))
    assert prof.flops == 2 * prof.macs - (0 if bias else n_out)


def test_linear_on_sequences_counts_every_position():
    class Seq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(6, 4)

        def forward(self, x):
            return self.fc(x)

    m = nn.Sequential(OrderedDict(fc=nn.Linear(6, 4)))
    prof = profile(m, (5, 6), batch_size=2)
    total, _ = torch_flops_by_module(Seq(), torch.randn(2, 5, 6))
    assert 2 * prof.macs == total == 2 * 2 * 5 * 6 * 4
    assert prof.rows[0].output_shape == (2, 5, 4)


# ------------------------------------------------------------------------------------- other layer rules
def test_pooling_norm_activation_conventions():
    """Conventions (documented in complexity.py), checked against a count by hand from torch's output
    shapes: max pool k*k-1 comparisons per output, average pool k*k, adaptive pool each bin's area,
    batch norm 2 per element, ReLU 1 per element, flatten and dropout 0; none are MACs."""
    spec = [
        ("conv", 2, 4, 3, 1, 1, 1, 1, True),
        ("bn", 4),
        ("relu",),
        ("maxpool", 3, 2, 1),
        ("avgpool", 2, 2),
        ("gap", (3, 2)),
        ("dropout",),
        ("flatten",),
    ]
    prof = check_against_torch(build(nn, spec), build(torch.nn, spec), (2, 13, 11), batch_size=2)
    t_shapes = torch_output_shapes(build(torch.nn, spec), torch.randn(2, 2, 13, 11))
    numel = {k: int(np.prod(v)) for k, v in t_shapes.items()}
    in_h, in_w = t_shapes["4"][2:]

    def bins(n, o):
        return sum(-(-((i + 1) * n) // o) - (i * n) // o for i in range(o))

    expected = {
        "1": 2 * numel["1"],
        "2": numel["2"],
        "3": 8 * numel["3"],
        "4": 4 * numel["4"],
        "5": 2 * 4 * bins(in_h, 3) * bins(in_w, 2),
        "6": 0,
        "7": 0,
    }
    for name, flops in expected.items():
        assert prof[name].flops == flops, name
        assert prof[name].macs == 0
    assert prof.uncounted_types == []


def test_unknown_leaf_counts_zero_and_is_reported():
    class Scale(nn.Module):
        def forward(self, x):
            return x * 2.0

    m = nn.Sequential(nn.Conv2d(1, 2, 3), Scale())
    prof = profile(m, (1, 5, 5))
    assert prof["1"].macs == prof["1"].flops == 0 and not prof["1"].counted
    assert prof.uncounted_types == ["Scale"]
    assert "Scale" in prof.table()


def test_registry_rule_by_name_for_a_future_layer():
    """A rule registered by class name ('ConvTranspose2d' ships with the package) counts a layer that
    deepnotes does not have yet: MACs = inputs * C_o/g * k*k, as FlopCounterMode counts it."""
    t_layer = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2)
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        y_shape = tuple(t_layer(x).shape)

    class ConvTranspose2d(nn.Module):  # stand-in with torch's attributes and output shape
        def __init__(self):
            super().__init__()
            self.in_channels, self.out_channels, self.kernel_size, self.groups = 4, 6, (3, 3), 2
            self.weight = nn.Parameter(np.zeros((4, 3, 3, 3), dtype=np.float32))
            self.bias = nn.Parameter(np.zeros(6, dtype=np.float32))

        def forward(self, x):
            return dn.zeros(*y_shape)

    assert cost_rule_for(ConvTranspose2d()) is not None
    prof = profile(nn.Sequential(ConvTranspose2d()), (4, 5, 5), batch_size=2)
    total, _ = torch_flops_by_module(t_layer, x)
    assert 2 * prof.macs == total
    assert prof.params == sum(p.numel() for p in t_layer.parameters())


def test_register_cost_rule_for_a_class_and_container_becomes_a_unit():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)

        def forward(self, x):
            return self.b(self.a(x))

    @register_cost_rule(Block)
    def _block(m, inputs, output):
        return LayerCost(123, 456, 0)

    try:
        prof = profile(nn.Sequential(Block(), nn.ReLU()), (4,))
        assert [r.name for r in prof.rows] == ["0", "1"]
        assert prof.rows[0].macs == 123 and prof.rows[0].params == 2 * (16 + 4)
    finally:
        from deepnotes.analysis import complexity

        complexity._COST_RULES.pop(Block)


# ------------------------------------------------------------------------------------- whole models
def lenet_torch():
    return torch.nn.Sequential(
        OrderedDict(
            features=build(
                torch.nn,
                [
                    ("conv", 1, 6, 5, 1, 0, 1, 1, True),
                    ("relu",),
                    ("maxpool", 2),
                    ("conv", 6, 16, 5, 1, 0, 1, 1, True),
                    ("relu",),
                    ("maxpool", 2),
                ],
            ),
            classifier=build(
                torch.nn,
                [("flatten",), ("linear", 400, 120), ("relu",), ("linear", 120, 84), ("relu",), ("linear", 84, 10)],
            ),
        )
    )


def test_lenet5_against_torch_twin():
    prof = check_against_torch(LeNet5(), lenet_torch(), (1, 32, 32), batch_size=2)
    assert prof.params == 61_706 == count_parameters(LeNet5())
    assert prof["features.3"].params == 2416 and prof["classifier.3"].params == 10164
    # containers total their sub-trees
    assert prof["features"].macs == prof["features.0"].macs + prof["features.3"].macs
    assert prof[""].macs == prof.macs and prof[""].params == prof.params


def test_classic_lenet5_connections_as_in_seed002():
    """Seed 002 counts LeNet-5's "connections" per layer (inputs read plus the bias, per output unit):
    C1 6*(5*5+1)*28*28, S2 6*5*14*14, C3 151,600, S4 16*(25*4+25), C5 120*(25*16+1), F6 84*(120+1).
    Our MACs plus the bias additions give exactly these, and the parameters match the notes."""
    from deepnotes.models import lenet5

    prof = profile(lenet5(), (1, 32, 32))
    connections = {
        "c1": 6 * (5 * 5 + 1) * 28 * 28,
        "s2": 6 * 5 * 14 * 14,
        "c3": 151_600,
        "s4": 16 * (25 * 4 + 25),
        "c5": 120 * (25 * 16 + 1),
        "f6": 84 * (120 + 1),
    }
    params = {"c1": 6 * (5 * 5 + 1), "s2": 2 * 6, "c3": 1_516, "s4": 32, "c5": 48_120, "f6": 10_164}
    for name, expected in connections.items():
        row = prof[name]
        assert row.macs + (row.flops - row.flops_no_bias) == expected, name
        assert row.params == params[name], name
    assert prof["output"].macs == 84 * 10 and prof["output"].params == 840
    assert not prof.uncounted_types
    # receptive fields: C1 5, S2 6, C3 14, S4 16, C5 sees the whole 32x32 input (seed 001's recursion)
    assert [prof[n].receptive_field for n in ("c1", "s2", "c3", "s4", "c5")] == [
        (5, 5),
        (6, 6),
        (14, 14),
        (16, 16),
        (32, 32),
    ]


def vgg_spec(cfg, cin=3, classes=10):
    spec = []
    for v in cfg:
        if v == "M":
            spec.append(("maxpool", 2, 2))
        else:
            spec += [("conv", cin, v, 3, 1, 1, 1, 1, True), ("relu",)]
            cin = v
    return spec + [("gap", 1), ("flatten",), ("linear", cin, classes)]


def test_vgg11_style_network_against_torch_twin():
    spec = vgg_spec([64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"])
    from torchvision.models.vgg import cfgs, make_layers

    prof = check_against_torch(build(nn, spec), build(torch.nn, spec), (3, 32, 32))
    tv_features = make_layers(cfgs["A"])  # torchvision's VGG-11 feature extractor
    conv_params = sum(r.params for r in prof.rows if r.type == "Conv2d")
    assert conv_params == sum(p.numel() for p in tv_features.parameters())
    total, _ = torch_flops_by_module(tv_features, torch.randn(1, 3, 32, 32))
    assert 2 * sum(r.macs for r in prof.rows if r.type == "Conv2d") == total
    assert len(prof.rows) == len(spec)


def resnet18(lib, width=64, pool=None, num_classes=1000):
    """torchvision's ResNet-18 layout (same attribute names), written for either library."""
    pool = pool or lib.MaxPool2d

    class BasicBlock(lib.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = lib.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = lib.BatchNorm2d(cout)
            self.relu = lib.ReLU()  # shared: called twice per block
            self.conv2 = lib.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = lib.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = lib.Sequential(lib.Conv2d(cin, cout, 1, stride, bias=False), lib.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(out + identity)

    class ResNet(lib.Module):
        def __init__(self):
            super().__init__()
            w = width
            self.conv1 = lib.Conv2d(3, w, 7, 2, 3, bias=False)
            self.bn1 = lib.BatchNorm2d(w)
            self.relu = lib.ReLU()
            self.maxpool = pool(3, 2, 1)
            self.layer1 = lib.Sequential(BasicBlock(w, w, 1), BasicBlock(w, w, 1))
            self.layer2 = lib.Sequential(BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 2 * w, 1))
            self.layer3 = lib.Sequential(BasicBlock(2 * w, 4 * w, 2), BasicBlock(4 * w, 4 * w, 1))
            self.layer4 = lib.Sequential(BasicBlock(4 * w, 8 * w, 2), BasicBlock(8 * w, 8 * w, 1))
            self.avgpool = lib.AdaptiveAvgPool2d((1, 1))
            self.fc = lib.Linear(8 * w, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            x = self.avgpool(x)
            return self.fc(x.flatten(1))

    return ResNet()


def test_resnet18_against_torchvision():
    """Parameter count, per-layer output shapes and per-layer MACs of a hand-built ResNet-18 equal
    torchvision's resnet18 (FlopCounterMode).  Its ReLU is shared: parameters once, calls every time."""
    from torchvision.models.resnet import resnet18 as tv_resnet18

    tv = tv_resnet18().eval()
    ours = resnet18(nn)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in tv.state_dict().items()
    }
    prof = check_against_torch(ours, tv, (3, 64, 64))
    assert prof.params == 11_689_512
    assert 2 * prof.macs == 297_115_648  # FlopCounterMode on torchvision at 64x64
    relu_calls = [r for r in prof.rows if r.name == "layer1.0.relu"]
    assert len(relu_calls) == 2 and all(r.params == 0 for r in relu_calls)


# ------------------------------------------------------------------------------------- side effects, sharing
def test_profile_runs_in_eval_mode_and_restores_modes():
    m = build(nn, [("conv", 2, 3, 3, 1, 1, 1, 1, True), ("bn", 3), ("dropout",)])
    m.train()
    m[2].eval()  # a mixed state must come back as it was
    before = {k: v.data.copy() for k, v in m.state_dict().items()}
    seen = []
    m[1].register_forward_pre_hook(lambda mod, inp: seen.append((mod.training, dn.is_grad_enabled())))
    profile(m, (2, 5, 5))
    assert seen == [(False, False)]
    assert [mod.training for mod in m.modules()] == [True, True, True, False]
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])
    assert all(len(mod._forward_hooks) == 0 for mod in m.modules())


def test_shared_layer_counts_parameters_once_and_calls_every_time():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    class TwiceT(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    prof = profile(Twice(), (4,), batch_size=3)
    total, _ = torch_flops_by_module(TwiceT(), torch.randn(3, 4))
    assert [r.params for r in prof.rows] == [20, 0]
    assert prof.params == 20 and 2 * prof.macs == total


def test_count_parameters_and_table():
    m = LeNet5()
    t = lenet_torch()
    assert count_parameters(m) == sum(p.numel() for p in t.parameters())
    m.features[0].weight.requires_grad_(False)
    assert count_parameters(m, trainable_only=True) == 61_706 - 150
    table = parameter_table(m)
    tt = {n: sum(p.numel() for p in mod.parameters(recurse=False)) for n, mod in t.named_modules()}
    assert {r.name: r.params for r in table} == {n: v for n, v in tt.items() if v}
    assert table.total == 61_706 and table.trainable == 61_706 - 150
    assert table[0].shapes == {"weight": (6, 1, 5, 5), "bias": (6,)}
    assert "61,706" in str(table)
    prof = profile(m, (1, 32, 32))
    assert prof.non_trainable_params == 150


# ------------------------------------------------------------------------------------- bad input
def test_input_too_small_names_the_layer():
    m = nn.Sequential(
        OrderedDict(
            features=build(
                nn,
                [
                    ("conv", 3, 8, 3, 1, 0, 1, 1, True),
                    ("relu",),
                    ("maxpool", 2),
                    ("conv", 8, 8, 3, 1, 0, 1, 1, True),
                    ("maxpool", 2),
                ],
            )
        )
    )
    with pytest.raises(ValueError, match=r"features\.4 \(MaxPool2d\).*\(1, 8, 1, 1\)"):
        profile(m, (3, 9, 9))
    with pytest.raises(ValueError, match=r"features\.3 \(Conv2d\)"):
        profile(m, (3, 6, 6))
    with torch.no_grad():  # torch agrees the map vanishes there
        with pytest.raises(RuntimeError):
            build(
                torch.nn,
                [
                    ("conv", 3, 8, 3, 1, 0, 1, 1, True),
                    ("relu",),
                    ("maxpool", 2),
                    ("conv", 8, 8, 3, 1, 0, 1, 1, True),
                    ("maxpool", 2),
                ],
            )(torch.randn(1, 3, 9, 9))
    assert all(len(mod._forward_hooks) == 0 and len(mod._forward_pre_hooks) == 0 for mod in m.modules())
    with pytest.raises(ValueError, match=r"LeNet5 \(the model's own forward\)"):
        profile(LeNet5(), (1, 28, 28))
    with pytest.raises(ValueError, match=r"features\.0 \(Conv2d\).*3 channels"):
        profile(LeNet5(), (3, 32, 32))


def test_bad_arguments():
    with pytest.raises(TypeError, match="profile: expected a deepnotes.nn.Module"):
        profile(torch.nn.Linear(2, 2), (2,))
    with pytest.raises(ValueError, match="batch_size"):
        profile(LeNet5(), (1, 32, 32), batch_size=0)
    with pytest.raises(ValueError, match="input_size"):
        profile(LeNet5())
    with pytest.raises(TypeError, match="input size entries"):
        profile(LeNet5(), (1, 32.0, 32))
    for bad in ("3xx224", "3x", "abc", "", "-3x2", "3x2.5"):
        with pytest.raises(ValueError, match="3x224x224"):
            parse_input_size(bad)
    with pytest.raises(ValueError, match="positive"):
        parse_input_size("3x0x224")
    assert parse_input_size("3, 224, 224") == parse_input_size("(3x224x224)") == (3, 224, 224)
    assert parse_input_size(784) == (784,)
    with pytest.raises(TypeError, match="count_parameters"):
        count_parameters([1, 2])
