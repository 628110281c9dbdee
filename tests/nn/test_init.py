"""nn.init against torch's formulas: sample variances and bounds of every initialiser (compared with
torch's own samples of the same shape), fan computation, calculate_gain for every nonlinearity."""

import math

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes import nn
from deepnotes.nn import init

SHAPES = [(300, 700), (128, 32, 5, 3)]  # fan_in != fan_out so a swapped fan mode is visible


def _pair(shape):
    return nn.Parameter(np.zeros(shape, dtype=np.float64)), torch.zeros(shape, dtype=torch.float64)


def _same_distribution(a, t, uniform):
    a, t = a.data.ravel(), t.numpy().ravel()
    assert abs(a.var() / t.var() - 1) < 0.04
    assert abs(a.mean() - t.mean()) < 6 * t.std() / math.sqrt(t.size)
    if uniform:  # same support: the extreme samples agree closely with torch's
        assert abs(np.abs(a).max() / np.abs(t).max() - 1) < 1e-3


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, init.calculate_gain("relu")])
def test_xavier_matches_torch(shape, gain):
    dn.manual_seed(0)
    torch.manual_seed(0)
    for ours, theirs, uniform in (
        (init.xavier_uniform_, torch.nn.init.xavier_uniform_, True),
        (init.xavier_normal_, torch.nn.init.xavier_normal_, False),
    ):
        a, t = _pair(shape)
        assert ours(a, gain=gain) is a
        theirs(t, gain=gain)
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(t)
        expected_var = gain**2 * 2.0 / (fan_in + fan_out)
        assert abs(a.data.var() / expected_var - 1) < 0.04
        _same_distribution(a, t, uniform)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "a_slope,mode,nonlinearity",
    [
        (0, "fan_in", "relu"),
        (0, "fan_out", "relu"),
        (math.sqrt(5), "fan_in", "leaky_relu"),
        (0.2, "fan_out", "leaky_relu"),
        (0, "fan_in", "linear"),
        (0, "fan_in", "tanh"),
    ],
)
def test_kaiming_matches_torch(shape, a_slope, mode, nonlinearity):
    dn.manual_seed(1)
    torch.manual_seed(1)
    for ours, theirs, uniform in (
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, True),
        (init.kaiming_normal_, torch.nn.init.kaiming_normal_, False),
    ):
        a, t = _pair(shape)
        assert ours(a, a=a_slope, mode=mode, nonlinearity=nonlinearity) is a
        theirs(t, a=a_slope, mode=mode, nonlinearity=nonlinearity)
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(t)
        fan = fan_in if mode == "fan_in" else fan_out
        expected_var = torch.nn.init.calculate_gain(nonlinearity, a_slope) ** 2 / fan
        assert abs(a.data.var() / expected_var - 1) < 0.04
        _same_distribution(a, t, uniform)


def test_simple_fills_match_torch():
    dn.manual_seed(2)
    torch.manual_seed(2)
    shape = (200, 300)
    for fn, tfn, kwargs, uniform in (
        (init.uniform_, torch.nn.init.uniform_, dict(a=-2.0, b=3.0), True),
        (init.normal_, torch.nn.init.normal_, dict(mean=1.5, std=0.3), False),
    ):
        a, t = _pair(shape)
        assert fn(a, **kwargs) is a
        tfn(t, **kwargs)
        _same_distribution(a, t, uniform)
    a, t = _pair((3, 4))
    for fn, tfn in ((init.zeros_, torch.nn.init.zeros_), (init.ones_, torch.nn.init.ones_)):
        np.testing.assert_array_equal(fn(a).data, tfn(t).numpy())
    np.testing.assert_array_equal(init.constant_(a, 0.25).data, torch.nn.init.constant_(t, 0.25).numpy())


def test_init_keeps_dtype_records_no_graph_and_is_seeded():
    p = nn.Parameter(np.zeros((4, 5), dtype=np.float32))
    init.kaiming_normal_(p)
    assert p.data.dtype == np.float32 and p.is_leaf and p.grad is None
    dn.manual_seed(5)
    a = init.xavier_uniform_(nn.Parameter(np.zeros((3, 4)))).data.copy()
    dn.manual_seed(5)
    b = init.xavier_uniform_(nn.Parameter(np.zeros((3, 4)))).data.copy()
    np.testing.assert_array_equal(a, b)
    g = np.random.default_rng(9)
    c = init.normal_(nn.Parameter(np.zeros(5)), generator=g).data
    np.testing.assert_array_equal(c, np.random.default_rng(9).normal(0.0, 1.0, 5))


@pytest.mark.parametrize("shape", [(5, 3), (7, 2, 3), (8, 4, 3, 2), (2, 3, 1, 1, 4)])
def test_fan_in_and_fan_out_match_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(nn.Parameter(np.zeros(shape)))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(nn.Parameter(np.zeros(5)))


NONLINEARITIES = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_calculate_gain_matches_torch(nonlinearity):
    params = [None, 0.0, 0.2, 1, 3.5] if nonlinearity == "leaky_relu" else [None]
    for p in params:
        assert init.calculate_gain(nonlinearity, p) == torch.nn.init.calculate_gain(nonlinearity, p)


def test_calculate_gain_rejects_what_torch_rejects():
    for args in (("swish",), ("leaky_relu", "0.1"), ("leaky_relu", True)):
        with pytest.raises(ValueError):
            torch.nn.init.calculate_gain(*args)
        with pytest.raises(ValueError, match="calculate_gain"):
            init.calculate_gain(*args)


def test_kaiming_mode_is_validated():
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_uniform_(nn.Parameter(np.zeros((2, 2))), mode="fan_avg")
