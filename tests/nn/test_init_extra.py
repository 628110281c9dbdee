"""nn.init against torch: xavier/kaiming bounds and standard deviations for every mode and nonlinearity
(our exact parameters vs torch's empirical ones on a million draws), calculate_gain, orthogonal_ on the
same Gaussian draws as torch, and trunc_normal_'s distribution (Kolmogorov-Smirnov against scipy's
truncnorm and torch's sampler)."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

import deepnotes as dn
from deepnotes.nn import init


class _Recorder:
    """A generator stand-in that records the distribution parameters an initialiser asks for."""

    def __init__(self):
        self.calls = []

    def uniform(self, low, high, size):
        self.calls.append(("uniform", low, high))
        return np.zeros(size)

    def normal(self, loc, scale, size):
        self.calls.append(("normal", loc, scale))
        return np.zeros(size)


class _TorchDraws:
    """A generator stand-in that returns the standard normal draws torch makes after manual_seed."""

    def __init__(self, seed):
        self.seed = seed

    def normal(self, loc, scale, size):
        torch.manual_seed(self.seed)
        return torch.empty(size, dtype=torch.float64).normal_(loc, scale).numpy()


SHAPES = [(1000, 1000), (100, 40, 250), (50, 20, 25, 40)]
NONLINEARITIES = [
    ("linear", None),
    ("conv2d", None),
    ("conv_transpose1d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("leaky_relu", math.sqrt(5)),
    ("selu", None),
]


@pytest.mark.parametrize("nonlinearity,param", NONLINEARITIES)
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


def test_calculate_gain_rejects_like_torch():
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="calculate_gain: negative_slope True is not a valid number"):
        init.calculate_gain("leaky_relu", True)


def _torch_param(fn, shape, kind, **kwargs):
    t = torch.empty(shape, dtype=torch.float64)
    fn(t, **kwargs)
    return t.abs().max().item() if kind == "uniform" else t.std().item()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize(
    "nonlinearity,a",
    [
        ("relu", 0),
        ("leaky_relu", 0),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("tanh", 0),
        ("linear", 0),
        ("selu", 0),
    ],
)
def test_kaiming_bounds_match_torch(shape, mode, nonlinearity, a):
    torch.manual_seed(0)
    for ours, theirs, kind in [
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, "uniform"),
        (init.kaiming_normal_, torch.nn.init.kaiming_normal_, "normal"),
    ]:
        rec = _Recorder()
        ours(dn.zeros(*shape, dtype=np.float64), a=a, mode=mode, nonlinearity=nonlinearity, generator=rec)
        ((name, p0, p1),) = rec.calls
        expected = _torch_param(theirs, shape, kind, a=a, mode=mode, nonlinearity=nonlinearity)
        if kind == "uniform":
            assert p0 == -p1
            np.testing.assert_allclose(p1, expected, rtol=1e-4)  # a million draws reach the bound
        else:
            assert p0 == 0.0
            np.testing.assert_allclose(p1, expected, rtol=5e-3)  # sample std: relative error ~7e-4


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 0.5, math.sqrt(2)])
def test_xavier_bounds_match_torch(shape, gain):
    torch.manual_seed(1)
    for ours, theirs, kind in [
        (init.xavier_uniform_, torch.nn.init.xavier_uniform_, "uniform"),
        (init.xavier_normal_, torch.nn.init.xavier_normal_, "normal"),
    ]:
        rec = _Recorder()
        ours(dn.zeros(*shape, dtype=np.float64), gain=gain, generator=rec)
        ((_, p0, p1),) = rec.calls
        expected = _torch_param(theirs, shape, kind, gain=gain)
        np.testing.assert_allclose(p1, expected, rtol=1e-4 if kind == "uniform" else 5e-3)


def test_default_layer_initialisation_matches_torch_bounds():
    """Linear/Conv2d use kaiming_uniform_(a=sqrt(5)): bound 1/sqrt(fan_in), the same as torch's."""
    torch.manual_seed(2)
    rec = _Recorder()
    init.kaiming_uniform_(dn.zeros(64, 3, 5, 5), a=math.sqrt(5), generator=rec)
    t = torch.empty(64000, 75)
    torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5))
    np.testing.assert_allclose(rec.calls[0][2], 1 / math.sqrt(75), rtol=1e-12)
    np.testing.assert_allclose(t.abs().max().item(), 1 / math.sqrt(75), rtol=1e-4)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (6, 2, 3), (2, 3, 2, 2), (1, 7), (7, 1)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_matches_torch_on_the_same_draws(shape, gain):
    ours = init.orthogonal_(dn.zeros(*shape, dtype=np.float64), gain=gain, generator=_TorchDraws(7))
    torch.manual_seed(7)
    theirs = torch.nn.init.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=gain)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-12)
    w = ours.data.reshape(shape[0], -1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, gain**2 * np.eye(gram.shape[0]), atol=1e-12)


def test_orthogonal_rejects_vectors_and_ignores_empty():
    with pytest.raises(ValueError, match="orthogonal_: only tensors with 2 or more dimensions"):
        init.orthogonal_(dn.zeros(4))
    assert init.orthogonal_(dn.zeros(0, 3)).shape == (0, 3)


@pytest.mark.parametrize(
    "mean,std,a,b",
    [
        (0.0, 1.0, -2.0, 2.0),
        (0.0, 0.02, -2.0, 2.0),
        (1.0, 2.0, 3.0, 4.0),
        (0.0, 1.0, 2.0, 3.5),
        (0.5, 1.0, -0.5, 0.2),
        (-1.0, 0.5, -3.0, 0.0),
    ],
)
def test_trunc_normal_distribution_matches_scipy_and_torch(mean, std, a, b):
    dn.manual_seed(3)
    torch.manual_seed(3)
    n = 40000
    ours = init.trunc_normal_(dn.zeros(n, dtype=np.float64), mean, std, a, b).data
    theirs = torch.nn.init.trunc_normal_(torch.empty(n, dtype=torch.float64), mean, std, a, b).numpy()
    assert ours.min() >= a and ours.max() <= b
    dist = scipy.stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert scipy.stats.kstest(ours, dist.cdf).pvalue > 1e-3
    assert scipy.stats.kstest(theirs, dist.cdf).pvalue > 1e-3  # the oracle's sampler agrees
    assert scipy.stats.ks_2samp(ours, theirs).pvalue > 1e-3
    np.testing.assert_allclose(ours.mean(), dist.mean(), atol=5 * dist.std() / math.sqrt(n))


def test_trunc_normal_float32_stays_inside_the_bounds_and_fills_any_shape():
    dn.manual_seed(4)
    w = init.trunc_normal_(dn.zeros(200, 3, 5), std=0.5, a=-0.1, b=0.1)
    assert w.data.dtype == np.float32
    assert w.data.min() >= np.float32(-0.1) and w.data.max() <= np.float32(0.1)
    assert len(np.unique(w.data)) > 2900


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(a=1.0, b=1.0), "trunc_normal_: expected a < b"), (dict(std=0.0), "trunc_normal_: std must be positive")],
)
def test_trunc_normal_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        init.trunc_normal_(dn.zeros(3), **kwargs)


def test_trunc_normal_warns_when_the_mean_is_far_outside():
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(dn.zeros(10), mean=10.0, std=1.0, a=-1.0, b=1.0)
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        torch.nn.init.trunc_normal_(torch.empty(10), mean=10.0, std=1.0, a=-1.0, b=1.0)


def test_in_place_draws_equal_the_generator():
    """uniform_/normal_ draw float64 tensors straight into their memory: exactly Generator.uniform/
    normal's values; float32 tensors get the same draws rounded to float32."""
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    t = dn.zeros(50, 70, dtype=np.float64)
    np.testing.assert_array_equal(init.uniform_(t, -0.3, 0.7, generator=g1).data, g2.uniform(-0.3, 0.7, (50, 70)))
    np.testing.assert_array_equal(init.normal_(t, 0.1, 2.0, generator=g1).data, g2.normal(0.1, 2.0, (50, 70)))
    u = init.uniform_(dn.zeros(40, 30), -0.3, 0.7, generator=g1).data
    assert u.dtype == np.float32
    np.testing.assert_array_equal(u, g2.uniform(-0.3, 0.7, (40, 30)).astype(np.float32))
    v = dn.zeros(4, 6, dtype=np.float64)
    before = v._version
    init.normal_(v[:, ::2], generator=g1)  # a strided view: the generator cannot write into it
    assert v._version > before and np.count_nonzero(v.data[:, ::2]) == 12 and not v.data[:, 1::2].any()
