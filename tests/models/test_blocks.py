"""Reusable blocks and the models torchvision lacks, against torch twins: classic LeNet-5 (a torch network
with a masked C3 kernel), MobileNet v1 (a torch network from the paper's table), nearest upsampling
(F.interpolate), FeaturePyramidNetwork and its extra blocks, SqueezeExcitation and Conv2dNormActivation
(torchvision.ops)."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as tF
from torchvision.ops import feature_pyramid_network as tv_fpn
from torchvision.ops import misc as tv_misc

import deepnotes as dn
from deepnotes import models, nn
from deepnotes.models._utils import upsample_nearest


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# ------------------------------------------------------------------------------------ classic LeNet-5
class TorchClassicLeNet(torch.nn.Module):
    """The oracle: the same network written with torch ops, C3 as a dense conv times a fixed 0/1 mask."""

    def __init__(self, ours):
        super().__init__()
        self.ours_kind = ours.output_kind
        p = {k: _t(v.data.astype(np.float64)) for k, v in ours.state_dict().items()}
        self.c1_w, self.c1_b = torch.nn.Parameter(p["c1.weight"]), torch.nn.Parameter(p["c1.bias"])
        self.s2_w, self.s2_b = torch.nn.Parameter(p["s2.weight"]), torch.nn.Parameter(p["s2.bias"])
        table = models.LENET5_C3_TABLE
        dense = np.zeros((16, 6, 5, 5))
        dense[table.T] = p["c3.weight"].numpy()  # connected kernels, output map by output map
        self.mask = _t(table.T[:, :, None, None].astype(np.float64))
        self.c3_w, self.c3_b = torch.nn.Parameter(_t(dense)), torch.nn.Parameter(p["c3.bias"])
        self.s4_w, self.s4_b = torch.nn.Parameter(p["s4.weight"]), torch.nn.Parameter(p["s4.bias"])
        self.c5_w, self.c5_b = torch.nn.Parameter(p["c5.weight"]), torch.nn.Parameter(p["c5.bias"])
        self.f6_w, self.f6_b = torch.nn.Parameter(p["f6.weight"]), torch.nn.Parameter(p["f6.bias"])
        self.out_w = torch.nn.Parameter(p["output.weight"])
        self.out_b = torch.nn.Parameter(p["output.bias"]) if "output.bias" in p else None

    @staticmethod
    def act(x):
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))

    @staticmethod
    def sub(x, w, b):
        return tF.avg_pool2d(x, 2) * 4 * w[None, :, None, None] + b[None, :, None, None]

    def forward(self, x):
        a = self.act
        x = a(self.sub(a(tF.conv2d(x, self.c1_w, self.c1_b)), self.s2_w, self.s2_b))
        x = a(self.sub(a(tF.conv2d(x, self.c3_w * self.mask, self.c3_b)), self.s4_w, self.s4_b))
        x = a(tF.conv2d(x, self.c5_w, self.c5_b)).flatten(1)
        x = a(tF.linear(x, self.f6_w, self.f6_b))
        if self.ours_kind == "rbf":
            return -((x[:, None, :] - self.out_w[None]) ** 2).sum(-1)
        return tF.linear(x, self.out_w, self.out_b)


@pytest.mark.parametrize("output", ["rbf", "linear"])
def test_classic_lenet5_matches_torch_twin_with_gradients(zoo, output):
    dn.manual_seed(0)
    ours = models.lenet5(output=output).double()
    assert isinstance(ours, models.LeNet5Classic)
    # make the subsampling coefficients non-trivial
    ours.s2.weight.data[...] = np.linspace(0.5, 1.5, 6)
    ours.s4.bias.data[...] = np.linspace(-0.2, 0.2, 16)
    ref = TorchClassicLeNet(ours)
    x = zoo.image((3, 1, 32, 32), np.float64)
    y, yr = ours(dn.tensor(x)), ref(_t(x))
    zoo.assert_close(y, yr, 1e-10, 1e-12)
    w = np.random.default_rng(1).standard_normal(yr.shape)
    (y * dn.tensor(w)).sum().backward()
    (yr * _t(w)).sum().backward()
    grads = {
        "c1.weight": ref.c1_w,
        "s2.weight": ref.s2_w,
        "s2.bias": ref.s2_b,
        "c3.bias": ref.c3_b,
        "s4.weight": ref.s4_w,
        "s4.bias": ref.s4_b,
        "c5.weight": ref.c5_w,
        "f6.weight": ref.f6_w,
        "output.weight": ref.out_w,
    }
    params = dict(ours.named_parameters())
    for k, tp in grads.items():
        zoo.assert_close(params[k].grad, tp.grad, 1e-9, 1e-12, what=k)
    # C3: the gradient of each connected kernel; the masked-out ones get none in the twin
    dense = ref.c3_w.grad.numpy()
    zoo.assert_close(params["c3.weight"].grad, dense[models.LENET5_C3_TABLE.T], 1e-9, 1e-12, what="c3")
    assert np.all(dense[~models.LENET5_C3_TABLE.T] == 0)
    # the prediction is the class whose RBF centre is nearest
    assert y.shape == (3, 10)


def test_classic_lenet5_sigmoid_variant(zoo):
    m = models.lenet5(activation="sigmoid", output="linear", num_classes=4)
    out = m(dn.tensor(zoo.image((2, 1, 32, 32))))
    assert out.shape == (2, 4)
    assert isinstance(m.act, nn.Sigmoid)


# ------------------------------------------------------------------------------------ MobileNet v1
def torch_mobilenet_v1(width_mult=1.0, num_classes=1000):
    """Howard et al. 2017, Table 1, written directly with torch layers."""

    def cbr(cin, cout, k, s, groups=1):
        return [
            torch.nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False),
            torch.nn.BatchNorm2d(cout),
            torch.nn.ReLU(),
        ]

    w = lambda c: int(c * width_mult)  # noqa: E731
    layers = cbr(3, w(32), 3, 2)
    cin = w(32)
    for cout, s in (
        [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    ):
        layers += cbr(cin, cin, 3, s, groups=cin) + cbr(cin, w(cout), 1, 1)
        cin = w(cout)
    return torch.nn.Sequential(
        *layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(cin, num_classes)
    )


@pytest.mark.parametrize("alpha", [1.0, 0.5])
@pytest.mark.slow
def test_mobilenet_v1_matches_paper_twin(zoo, alpha):
    torch.manual_seed(0)
    ref = torch_mobilenet_v1(alpha, num_classes=10)
    ours = models.mobilenet_v1(width_mult=alpha, num_classes=10)
    assert sum(p.data.size for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
    with torch.no_grad():  # non-trivial running statistics for the eval comparison
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    renamed = _Renamed(ref, ours)
    zoo.compare_eval(ours, renamed, (2, 3, 48, 48))
    zoo.compare_train(ours, renamed, (2, 3, 32, 32), grads=alpha == 0.5)


class _Renamed(torch.nn.Module):
    """Wrap the twin so that its state_dict and named_parameters carry deepnotes' names."""

    def __init__(self, ref, ours):
        super().__init__()
        self.ref = ref
        self._names = list(ours.state_dict().keys())

    def forward(self, x):
        return self.ref(x)

    def state_dict(self, *a, **k):
        return OrderedDict(zip(self._names, self.ref.state_dict().values()))

    def named_parameters(self, *a, **k):
        pnames = [n for n in self._names if not n.endswith(("running_mean", "running_var", "num_batches_tracked"))]
        return list(zip(pnames, self.ref.parameters()))


# ------------------------------------------------------------------------------------ nearest upsampling
@pytest.mark.parametrize(
    "size_in,size_out",
    [
        ((4, 5), (8, 10)),
        ((3, 3), (7, 7)),
        ((5, 7), (15, 10)),
        ((14, 6), (20, 6)),
        ((8, 9), (3, 4)),
        ((1, 2), (5, 6)),
        ((6, 4), (6, 4)),
        ((7, 10), (13, 19)),
    ],
)
def test_upsample_nearest_to_size_matches_interpolate(zoo, size_in, size_out):
    x = zoo.image((2, 3) + size_in, np.float64)
    xt = _t(x).requires_grad_()
    expected = tF.interpolate(xt, size=size_out, mode="nearest")
    xd = dn.tensor(x, requires_grad=True)
    got = upsample_nearest(xd, size=size_out)
    zoo.assert_close(got, expected, 0, 0)
    g = np.random.default_rng(3).standard_normal(expected.shape)
    expected.backward(_t(g))
    (got * dn.tensor(g)).sum().backward()
    zoo.assert_close(xd.grad, xt.grad, 1e-12, 1e-12, what="grad")


@pytest.mark.parametrize("factor", [2, 3])
def test_upsample_nearest_by_factor_matches_interpolate(zoo, factor):
    x = zoo.image((2, 3, 4, 5), np.float64)
    expected = tF.interpolate(_t(x), scale_factor=factor, mode="nearest")
    zoo.assert_close(upsample_nearest(dn.tensor(x), scale_factor=factor), expected, 0, 0)


def test_upsample_nearest_bad_arguments():
    x = dn.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        upsample_nearest(x)
    with pytest.raises(ValueError, match="positive integer"):
        upsample_nearest(x, scale_factor=1.5)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        upsample_nearest(dn.zeros(2, 2), size=4)


# ------------------------------------------------------------------------------------ FPN
def _fpn_inputs(zoo, sizes, channels, dtype=np.float64):
    return OrderedDict(
        (f"feat{i}", zoo.image((2, c, s, s + 1), dtype, seed=i)) for i, (s, c) in enumerate(zip(sizes, channels))
    )


@pytest.mark.parametrize(
    "extra,norm,sizes,channels",
    [
        (None, None, (16, 8, 4), (8, 16, 12)),
        ("maxpool", None, (15, 8, 4), (8, 16, 12)),
        ("p6p7", None, (13, 7, 4), (8, 16, 12)),
        ("p6p7", None, (16, 8, 4), (8, 16, 20)),
        (None, "bn", (12, 6, 3), (8, 16, 12)),
    ],
)
def test_fpn_matches_torchvision_with_gradients(zoo, extra, norm, sizes, channels):
    """P6/P7 from P5 when C5 has out_channels channels (12), from C5 otherwise (20)."""
    out = 12
    torch.manual_seed(0)
    tv_extra = {None: None, "maxpool": tv_fpn.LastLevelMaxPool(), "p6p7": tv_fpn.LastLevelP6P7(channels[-1], out)}[
        extra
    ]
    our_extra = {None: None, "maxpool": models.LastLevelMaxPool(), "p6p7": models.LastLevelP6P7(channels[-1], out)}[
        extra
    ]
    ref = tv_fpn.FeaturePyramidNetwork(
        list(channels), out, extra_blocks=tv_extra, norm_layer=torch.nn.BatchNorm2d if norm else None
    ).double()
    ours = models.FeaturePyramidNetwork(
        list(channels), out, extra_blocks=our_extra, norm_layer=nn.BatchNorm2d if norm else None
    )
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in ref.state_dict().items()
    ]
    ours.load_state_dict(ref.state_dict())
    ours.double()
    feats = _fpn_inputs(zoo, sizes, channels)
    tin = OrderedDict((k, _t(v).requires_grad_()) for k, v in feats.items())
    din = OrderedDict((k, dn.tensor(v, requires_grad=True)) for k, v in feats.items())
    expected, got = ref(tin), ours(din)
    assert list(got.keys()) == list(expected.keys())
    rng = np.random.default_rng(5)
    loss_t, loss_d = 0, None
    for k in expected:
        zoo.assert_close(got[k], expected[k], 1e-10, 1e-12, what=k)
        w = rng.standard_normal(expected[k].shape)
        loss_t = loss_t + (expected[k] * _t(w)).sum()
        term = (got[k] * dn.tensor(w)).sum()
        loss_d = term if loss_d is None else loss_d + term
    loss_t.backward()
    loss_d.backward()
    for k in feats:
        zoo.assert_close(din[k].grad, tin[k].grad, 1e-9, 1e-12, what=f"grad {k}")
    tparams = dict(ref.named_parameters())
    for k, p in ours.named_parameters():
        zoo.assert_close(p.grad, tparams[k].grad, 1e-9, 1e-12, what=f"grad {k}")


def test_fpn_init_follows_torchvision():
    """kaiming_uniform_(a=1): U(-b, b) with b = sqrt(3 / fan_in), zero bias."""
    dn.manual_seed(0)
    fpn = models.FeaturePyramidNetwork([64, 128], 256)
    w = fpn.layer_blocks[0][0].weight.data
    bound = np.sqrt(3.0 / (256 * 9))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.all(fpn.layer_blocks[0][0].bias.data == 0)


# ------------------------------------------------------------------------------------ SE and conv blocks
def test_squeeze_excitation_matches_torchvision(zoo):
    torch.manual_seed(0)
    ref = tv_misc.SqueezeExcitation(16, 4).double()
    ours = models.SqueezeExcitation(16, 4)
    ours.load_state_dict(ref.state_dict())
    ours.double()
    zoo.compare_train(ours, ref, (2, 16, 5, 6), grads=True)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=3, stride=2),
        dict(kernel_size=1, norm_layer=None, activation_layer=None),
        dict(kernel_size=5, groups=8, dilation=2),
        dict(kernel_size=(1, 7)),
        dict(kernel_size=3, bias=True),
    ],
)
def test_conv2d_norm_activation_matches_torchvision(zoo, kwargs):
    torch.manual_seed(0)
    ref = tv_misc.Conv2dNormActivation(8, 16, **kwargs)
    ours = models.Conv2dNormActivation(8, 16, **kwargs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in ref.state_dict().items()
    ]
    assert len(ours) == len(ref) and ours.out_channels == 16
    zoo.compare_train(ours, ref, (2, 8, 11, 12), grads=True)
