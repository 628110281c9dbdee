"""Output sizes against torch layers, and receptive fields against an empirical oracle: in a torch twin
with positive weights and inputs (max pooling swapped for average pooling of the same geometry, so
every input in a window gets gradient), the input pixels with a non-zero gradient of one output unit
are exactly that unit's receptive field; its bounding box gives the size and the centre."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepnotes import nn
from deepnotes.analysis import (
    ReceptiveFieldRow,
    conv_output_size,
    pool_output_size,
    profile,
    receptive_field,
    receptive_field_chain,
)
from deepnotes.models import LeNet5


def _load_twins():
    """The torch/deepnotes twin builders of test_complexity.py (tests here are not a package)."""
    import importlib.util
    import pathlib
    import sys

    name = "_deepnotes_analysis_twins"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, pathlib.Path(__file__).with_name("test_complexity.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_twins = _load_twins()
build, lenet_torch, resnet18, vgg_spec = _twins.build, _twins.lenet_torch, _twins.resnet18, _twins.vgg_spec

torch.set_num_threads(1)


# ------------------------------------------------------------------------------------- output sizes
@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 30), k=st.integers(1, 6), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3))
def test_conv_output_size_matches_torch(size, k, s, p, d):
    expected = conv_output_size(size, k, s, p, d)
    conv = torch.nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
    if size + 2 * p < d * (k - 1) + 1:
        assert expected <= 0
        return
    with torch.no_grad():
        assert conv(torch.zeros(1, 1, size, size)).shape[-1] == expected


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(1, 30),
    k=st.integers(1, 6),
    s=st.integers(1, 4),
    p=st.integers(0, 3),
    d=st.integers(1, 2),
    ceil_mode=st.booleans(),
)
def test_pool_output_size_matches_torch(size, k, s, p, d, ceil_mode):
    if p > k // 2:
        return
    expected = pool_output_size(size, k, s, p, d, ceil_mode)
    pool = torch.nn.MaxPool2d(k, s, p, d, ceil_mode=ceil_mode)
    try:
        got = pool(torch.zeros(1, 1, size, size)).shape[-1]
    except RuntimeError:
        assert expected <= 0
        return
    assert got == expected


# ------------------------------------------------------------------------------------- the recursion
def test_chain_two_3x3_equal_one_5x5_and_notes_top_down_formula():
    """Seed 001: RF_{N-1} = (RF_N - 1) * s + k applied from the top layer down to the input gives the
    same sizes as the forward recursion."""
    assert [r for r, _, _ in receptive_field_chain([(3, 1), (3, 1)])] == [3, 5]
    assert receptive_field_chain([(5, 1)])[0][0] == 5
    layers = [(7, 2, 3), (3, 2, 1), (3, 1, 1), (3, 2, 1), (2, 2), (3, 1, 2, 2)]
    chain = receptive_field_chain(layers)
    for top in range(len(layers)):
        rf = 1
        for k, s, *rest in reversed(layers[: top + 1]):
            d = rest[1] if len(rest) > 1 else 1
            rf = (rf - 1) * s + (k - 1) * d + 1
        assert chain[top][0] == rf
    assert [j for _, j, _ in chain] == [2, 4, 4, 8, 16, 16]
    with pytest.raises(ValueError, match="receptive_field_chain: layer 0"):
        receptive_field_chain([(0, 1)])
    with pytest.raises(ValueError, match="layer 1"):
        receptive_field_chain([(3, 1), (3,)])


# ------------------------------------------------------------------------------------- empirical oracle
def positive_(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.uniform_(0.5, 1.0)
                m.weight /= m.weight[0].numel()
                if m.bias is not None:
                    m.bias.fill_(0.1)
    return model.double().eval()


def torch_rf(model, input_shape, names):
    """{name: (size_h, size_w, centre_h, centre_w, unit)} for the centre unit of each named output."""
    outs = {}
    hooks = [
        m.register_forward_hook(lambda mod, i, o, n=n: outs.__setitem__(n, o))
        for n, m in model.named_modules()
        if n in names
    ]
    x = torch.ones(input_shape, dtype=torch.float64, requires_grad=True)
    model(x)
    for h in hooks:
        h.remove()
    res = {}
    for n in names:
        y = outs[n]
        unit = tuple(s // 2 for s in y.shape[2:]) if y.ndim == 4 else ()
        x.grad = None
        y[(0, 0) + unit].backward(retain_graph=True)
        g = x.grad[0].abs().sum(0) > 0
        rows, cols = np.where(g.any(1).numpy())[0], np.where(g.any(0).numpy())[0]
        res[n] = (
            rows[-1] - rows[0] + 1,
            cols[-1] - cols[0] + 1,
            (rows[0] + rows[-1]) / 2,
            (cols[0] + cols[-1]) / 2,
            unit,
            rows[0],
            rows[-1],
            cols[0],
            cols[-1],
        )
    return res


def check_rf(dn_model, t_model, input_size, names, interior=True):
    leaves = receptive_field(dn_model, input_size)
    rows = {r.name: r for r in reversed(leaves)}  # first call of each leaf
    for r in reversed(profile(dn_model, input_size).calls):  # containers: their output's field
        if r.name not in rows:
            rows[r.name] = ReceptiveFieldRow(r.name, r.type, r.output_shape, r.receptive_field, r.jump, r.start)
    oracle = torch_rf(positive_(t_model), (1,) + tuple(input_size), names)
    H, W = input_size[1:]
    for n in names:
        sh, sw, ch, cw, unit, r0, r1, c0, c1 = oracle[n]
        if interior:  # the field must lie inside the image for the oracle to see all of it
            assert r0 > 0 and c0 > 0 and r1 < H - 1 and c1 < W - 1, (n, oracle[n])
        row = rows[n]
        assert row.size == (sh, sw), n
        if row.jump is not None:
            assert row.start[0] + unit[0] * row.jump[0] == pytest.approx(ch), n
            assert row.start[1] + unit[1] * row.jump[1] == pytest.approx(cw), n
    return rows


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_chain_with_stride_padding_dilation_and_pooling():
    spec = [
        ("conv", 1, 2, 3, 1, 1, 1, 1, True),
        ("relu",),
        ("conv", 2, 2, 5, 2, 1, 1, 1, True),
        ("maxpool", 3, 2, 1),
        ("conv", 2, 3, 3, 1, 2, 2, 1, True),
        ("avgpool", 2, 2),
        ("conv", 3, 2, (3, 1), 1, (0, 1), (1, 2), 1, False),
        ("conv", 2, 2, 4, 1, "same", 1, 1, True),
        ("conv", 2, 2, 3, 1, "valid", 2, 1, True),
    ]
    t_spec = [("avgpool", *a) if k == "maxpool" else (k, *a) for k, *a in spec]
    names = [str(i) for i in range(len(spec))]
    rows = check_rf(build(nn, spec), build(torch.nn, t_spec), (1, 160, 150), names)
    assert rows["6"].size[0] != rows["6"].size[1]  # per-axis fields
    chain = receptive_field_chain([(3, 1, 1), (5, 2, 1), (3, 2, 1), (3, 1, 2, 2), (2, 2), (3, 1, 0)])
    assert rows["6"].size[0] == chain[-1][0] and rows["6"].start[0] == chain[-1][2]
    assert rows["7"].size[0] == rows["6"].size[0] + 3 * rows["6"].jump[0]  # 'same' with an even kernel


def test_vgg16_receptive_fields_212_and_196():
    """VGG-16's published receptive fields: 196 at conv5_3, 212 after pool5 (jump 32); channel widths
    do not change geometry, so a narrow twin is used."""
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    spec = vgg_spec([c if c == "M" else 2 for c in cfg])[:-3]
    t_spec = [("avgpool", *a) if k == "maxpool" else (k, *a) for k, *a in spec]
    conv5_3, pool5 = str(len(spec) - 2), str(len(spec) - 1)
    rows = check_rf(build(nn, spec), build(torch.nn, t_spec), (3, 224, 224), ["2", "9", conv5_3])
    assert rows[conv5_3].size == (196, 196)
    assert rows[pool5].size == (212, 212) and rows[pool5].jump == (32, 32)


def test_resnet18_branches_merge_by_union():
    """Residual blocks: the addition happens outside any module, so the block's output field is the
    union (the largest) of its branches; ResNet-18's last block sees 435 pixels."""
    ours = resnet18(nn, width=2)
    twin = resnet18(torch.nn, width=2, pool=torch.nn.AvgPool2d)
    names = ["maxpool", "layer1.1.conv2", "layer2", "layer3.0.downsample.0", "layer4.0", "layer4"]
    rows = check_rf(ours, twin, (3, 448, 448), names)
    assert rows["layer4"].size == (435, 435) and rows["layer4"].jump == (32, 32)
    assert rows["layer3.0.downsample.0"].size == rows["layer2"].size == (99, 99)  # a 1x1 conv adds nothing
    fc = [r for r in receptive_field(ours, (3, 448, 448)) if r.name == "fc"][0]
    assert fc.jump is None and fc.size == (435 + 13 * 32, 435 + 13 * 32)  # the whole 14x14 map


def test_flatten_and_linear_see_the_whole_input():
    twin = lenet_torch()
    for i in (2, 5):
        twin.features[i] = torch.nn.AvgPool2d(2)
    rows = check_rf(LeNet5(), twin, (1, 32, 32), ["features.5", "classifier.1", "classifier.5"], interior=False)
    assert rows["features.5"].size == (16, 16) and rows["features.5"].jump == (4, 4)
    assert rows["classifier.1"].size == (32, 32) and rows["classifier.1"].jump is None


def test_adaptive_pooling_exact_bins_and_global():
    spec = [("conv", 1, 2, 3, 1, 0, 1, 1, True), ("gap", (3, 2)), ("gap", 1)]
    names = ["0", "1", "2"]
    rows = check_rf(build(nn, spec), build(torch.nn, spec), (1, 14, 10), names, interior=False)
    assert rows["1"].jump == (4, 4) and rows["2"].size == (14, 10)


def test_unknown_layers():
    class Same(nn.Module):  # keeps the spatial size: the field passes through
        def forward(self, x):
            return x * 2.0

    class Half(nn.Module):  # changes it with no rule: unknown from here on
        def forward(self, x):
            return x[:, :, ::2, ::2]

    m = nn.Sequential(OrderedDict(a=nn.Conv2d(1, 1, 3), b=Same(), c=Half(), d=nn.Conv2d(1, 1, 3)))
    rows = {r.name: r for r in receptive_field(m, (1, 12, 12))}
    assert rows["b"].size == rows["a"].size == (3, 3)
    assert rows["c"].size is None and rows["d"].size is None and rows["d"].jump is None
    prof = profile(m, (1, 12, 12))
    line = [ln for ln in prof.table().splitlines() if "d (Conv2d)" in ln][0]
    assert line.endswith("--")  # unknown field shown as --


def test_mlp_has_no_receptive_field():
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    assert [r.size for r in receptive_field(m, (4,))] == [None, None]
