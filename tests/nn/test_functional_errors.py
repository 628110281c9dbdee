"""Bad input raises a clear ValueError/TypeError/IndexError that names the layer or function, what it
got and what it expects."""

import numpy as np
import pytest

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn


def test_linear_shape_mismatch_names_layer_got_and_expected():
    m = nn.Linear(4, 3)
    with pytest.raises(ValueError, match=r"Linear\(in_features=4, out_features=3.*\(\*, 4\).*\(2, 5\)"):
        m(dn.zeros(2, 5))
    with pytest.raises(ValueError, match=r"linear: expected input of shape \(\*, 4\).*got shape \(2, 3\)"):
        F.linear(dn.zeros(2, 3), dn.zeros(3, 4))
    with pytest.raises(ValueError, match=r"linear: expected a bias of shape \(3,\), got \(4,\)"):
        F.linear(dn.zeros(2, 4), dn.zeros(3, 4), dn.zeros(4))


def test_integer_input_where_floats_are_needed():
    ints = dn.Tensor(np.arange(24).reshape(1, 2, 3, 4))
    cases = [
        (lambda: nn.Linear(4, 2)(ints), r"Linear\(in_features=4.*floating-point.*int64"),
        (lambda: nn.Conv2d(2, 2, 1)(ints), r"Conv2d\(2, 2.*floating-point.*int64"),
        (lambda: nn.BatchNorm2d(2)(ints), r"BatchNorm2d\(2\).*floating-point.*int64"),
        (lambda: F.conv2d(ints, dn.zeros(2, 2, 1, 1)), r"conv2d: expected a floating-point input, got dtype int64"),
        (lambda: F.avg_pool2d(ints, 2), r"avg_pool2d: expected a floating-point.*int64"),
        (lambda: F.softmax(ints, dim=1), r"softmax: expected a floating-point.*int64"),
        (
            lambda: F.cross_entropy(dn.Tensor(np.arange(6).reshape(2, 3)), np.array([0, 1])),
            r"cross_entropy: expected a floating-point.*int64",
        ),
        (lambda: F.mse_loss(ints, ints), r"mse_loss: expected a floating-point"),
    ]
    for fn, pattern in cases:
        with pytest.raises(TypeError, match=pattern):
            fn()


def test_conv2d_wrong_channels_and_shapes():
    m = nn.Conv2d(3, 8, 3)
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(3, 8, kernel_size=\(3, 3\).*expected input with 3 channels, "
        r"got 4 channels.*\(2, 4, 8, 8\)",
    ):
        m(dn.zeros(2, 4, 8, 8))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*\(N, 3, H, W\).*got shape \(8, 8\)"):
        m(dn.zeros(8, 8))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*spatial size 2x2.*smaller than the dilated kernel 3x3"):
        m(dn.zeros(1, 3, 2, 2))
    with pytest.raises(
        ValueError,
        match=r"conv2d: expected input with 4 channels \(weight \(6, 2, 3, 3\), "
        r"groups=2\), got input of shape \(1, 3, 5, 5\)",
    ):
        F.conv2d(dn.zeros(1, 3, 5, 5), dn.zeros(6, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"conv2d: expected a bias of shape \(6,\)"):
        F.conv2d(dn.zeros(1, 2, 5, 5), dn.zeros(6, 2, 3, 3), dn.zeros(5))
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-D weight"):
        F.conv2d(dn.zeros(1, 2, 5, 5), dn.zeros(6, 2, 3))


def test_conv2d_constructor_errors():
    with pytest.raises(ValueError, match=r"Conv2d: groups=2 must .*in_channels=3"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: padding='same' is not supported for strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv2d: padding must be .*'full'"):
        nn.Conv2d(3, 4, 3, padding="full")
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode 'reflect' is not supported"):
        nn.Conv2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"conv2d: padding='same' is not supported for strided"):
        F.conv2d(dn.zeros(1, 1, 4, 4), dn.zeros(1, 1, 3, 3), stride=2, padding="same")


def test_cross_entropy_label_out_of_range():
    x = dn.zeros(3, 5)
    with pytest.raises(
        IndexError,
        match=r"cross_entropy: target label 7 is out of range for 5 classes "
        r"\(expected 0 <= label < 5",
    ):
        F.cross_entropy(x, np.array([0, 7, 1]))
    with pytest.raises(IndexError, match=r"CrossEntropyLoss: target label -1 is out of range for 5 classes"):
        nn.CrossEntropyLoss()(x, np.array([0, -1, 1]))
    with pytest.raises(IndexError, match=r"nll_loss: target label 5 is out of range"):
        F.nll_loss(x, np.array([5, 0, 0]))
    # an out-of-range label equal to ignore_index is fine
    assert np.isfinite(F.cross_entropy(x, np.array([0, 9, 1]), ignore_index=9).item())


def test_loss_shape_and_argument_errors():
    x = dn.zeros(3, 5)
    with pytest.raises(
        ValueError,
        match=r"cross_entropy: input of shape \(3, 5\) needs a target of shape \(3,\)"
        r".*got target shape \(4,\)",
    ):
        F.cross_entropy(x, np.zeros(4, dtype=np.int64))
    with pytest.raises(ValueError, match=r"cross_entropy: probability targets must have the input's shape"):
        F.cross_entropy(x, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"cross_entropy: weight must hold one value per class, shape \(5,\)"):
        F.cross_entropy(x, np.zeros(3, dtype=np.int64), weight=np.ones(4))
    with pytest.raises(ValueError, match=r"cross_entropy: reduction must be one of.*'avg'"):
        F.cross_entropy(x, np.zeros(3, dtype=np.int64), reduction="avg")
    with pytest.raises(ValueError, match=r"cross_entropy: label_smoothing must be in \[0, 1\], got 1.5"):
        F.cross_entropy(x, np.zeros(3, dtype=np.int64), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"MSELoss: reduction must be"):
        nn.MSELoss(reduction="max")
    with pytest.raises(ValueError, match=r"mse_loss: target shape \(4,\) does not broadcast to input shape"):
        F.mse_loss(x, dn.zeros(4))
    with pytest.raises(TypeError, match=r"nll_loss: class-index targets must be integers, got dtype float"):
        F.nll_loss(x, np.zeros(3))


def test_batchnorm_errors():
    with pytest.raises(
        ValueError,
        match=r"BatchNorm2d\(3\): expected 3 channels in dimension 1, got input of "
        r"shape \(2, 4, 5, 5\)",
    ):
        nn.BatchNorm2d(3)(dn.zeros(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected a 2-D or 3-D input, got shape"):
        nn.BatchNorm1d(3)(dn.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"batch_norm: running_mean and running_var are required"):
        F.batch_norm(dn.zeros(2, 3), None, None, training=False)
    with pytest.raises(ValueError, match=r"batch_norm: expected running_mean of shape \(3,\)"):
        F.batch_norm(dn.zeros(2, 3), np.zeros(4), np.ones(3), training=True)


def test_pooling_errors():
    with pytest.raises(ValueError, match=r"max_pool2d: padding must be between 0 and half the kernel size"):
        F.max_pool2d(dn.zeros(1, 1, 5, 5), 2, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool2d: expected a 3-D \(C, H, W\) or 4-D.*got shape \(5, 5\)"):
        F.avg_pool2d(dn.zeros(5, 5), 2)
    with pytest.raises(
        ValueError,
        match=r"max_pool2d: input of spatial size 2x2 is too small for kernel "
        r"\(3, 3\)",
    ):
        F.max_pool2d(dn.zeros(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: output_size must be positive"):
        F.adaptive_avg_pool2d(dn.zeros(1, 1, 4, 4), 0)
    with pytest.raises(ValueError, match=r"max_pool2d kernel_size: expected an int or a pair"):
        F.max_pool2d(dn.zeros(1, 1, 4, 4), (2, 2, 2))


def test_softmax_dim_out_of_range():
    with pytest.raises(IndexError, match=r"softmax: dim 2 is out of range for a tensor with 2 dimensions"):
        F.softmax(dn.zeros(2, 3), dim=2)


def test_module_misuse():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\)"):
        Forgot()
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'weights'"):
        _ = nn.Linear(1, 1).weights
    with pytest.raises(ValueError, match=r"Linear: in_features must be a non-negative int, got -1"):
        nn.Linear(-1, 2)
    with pytest.raises(ValueError, match=r"Linear: only device='cpu'"):
        nn.Linear(1, 2, device="cuda")
