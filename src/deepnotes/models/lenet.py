"""LeNet-5 (LeCun et al., 1998), the network of seed 002: conv-pool-conv-pool-fc-fc-fc on 32x32 inputs.

``lenet5()`` builds ``LeNet5Classic``, the 1998 network as seed 002 describes it and the default model
of ``deepnotes train``: trainable subsampling layers, the partial S2 -> C3 connection table (C1 156
parameters, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164, RBF output 840; 60,840 in all), squashing after
every layer and Euclidean RBF output units.

``lenet5_modern()`` builds ``LeNet5``, the modern reading: ReLU activations, max pooling and a full C3
layer (61,706 parameters).  Layer sizes: C1 6@28x28, S2 6@14x14, C3 16@10x10, S4 16@5x5, C5 120, F6 84,
output 10.
"""

import numpy as np

from .. import nn
from .. import random as _random
from ..nn import functional as F
from ..nn.parameter import Parameter
from ..tensor import Tensor, cat, get_default_dtype
from ._utils import _LocatedModel, _no_weights


class LeNet5(nn.Module):
    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5),  # C1: 32x32 -> 28x28
            nn.ReLU(),
            nn.MaxPool2d(2),  # S2: 28x28 -> 14x14
            nn.Conv2d(6, 16, kernel_size=5),  # C3: 14x14 -> 10x10
            nn.ReLU(),
            nn.MaxPool2d(2),  # S4: 10x10 -> 5x5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),  # C5
            nn.ReLU(),
            nn.Linear(120, 84),  # F6
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        if x.ndim != 4 or x.shape[-2:] != (32, 32):
            raise ValueError(f"LeNet5: expected input of shape (N, C, 32, 32), got {x.shape}")
        return self.classifier(self.features(x))


# ---------------------------------------------------------------------------------------------------
# The classic LeNet-5 of LeCun, Bottou, Bengio and Haffner (1998), as seed 002 describes it layer by
# layer: trainable subsampling, the partial S2 -> C3 connection table, a squashing function after every
# layer and a Euclidean RBF output.
# ---------------------------------------------------------------------------------------------------

#: LeCun et al. (1998), Table I: which S2 maps (rows) each C3 map (columns) reads.  Maps 0-5 read 3
#: contiguous maps, 6-11 read 4 contiguous maps, 12-14 read 4 non-contiguous maps, 15 reads all 6.
LENET5_C3_TABLE = np.array(
    [
        [1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1],
        [1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1],
        [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1],
        [0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1],
        [0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1],
        [0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1],
    ],
    dtype=bool,
)


class ConnectionTableConv2d(nn.Module):
    """A convolution in which output map o reads only the input maps c with ``table[c, o]`` true.

    Only the connected kernels are parameters: ``weight`` (number of connections, kh, kw), stored
    output map by output map (and by input map within one output map), and ``bias`` (out_channels,).
    The forward scatters them into a dense (out, in, kh, kw) kernel with zeros elsewhere and runs one
    convolution, so gradients reach exactly the connected kernels.  LeNet-5's C3 (6 -> 16 maps, 5x5,
    60 connections) has 60 * 25 + 16 = 1,516 parameters.
    """

    def __init__(self, in_channels, out_channels, kernel_size, connection_table, bias=True):
        super().__init__()
        table = np.asarray(connection_table, dtype=bool)
        if table.shape != (in_channels, out_channels):
            raise ValueError(
                f"ConnectionTableConv2d: connection_table must have shape (in_channels, "
                f"out_channels) = ({in_channels}, {out_channels}), got {table.shape}"
            )
        if not table.any(axis=0).all():
            raise ValueError("ConnectionTableConv2d: every output map needs at least one input map")
        kh, kw = F._pair(kernel_size, "ConnectionTableConv2d kernel_size")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (kh, kw)
        self.connection_table = table
        n = int(table.sum())
        # index into [connected kernels..., zero kernel] for every (out, in) pair of the dense kernel
        order = np.full((out_channels, in_channels), n, dtype=np.int64)
        order[table.T] = np.arange(n)
        self._dense_index = order
        dtype = get_default_dtype()
        fan_in = table.sum(axis=0)  # inputs per output map
        bound = np.repeat(1.0 / np.sqrt(fan_in * kh * kw), fan_in)  # torch's default U(-1/sqrt(fan_in), ..)
        g = _random.default_generator()
        self.weight = Parameter((g.uniform(-1, 1, size=(n, kh, kw)) * bound[:, None, None]).astype(dtype))
        if bias:
            b = g.uniform(-1, 1, size=out_channels) / np.sqrt(fan_in * kh * kw)
            self.bias = Parameter(b.astype(dtype))
        else:
            self.register_parameter("bias", None)

    def dense_weight(self):
        """The (out, in, kh, kw) kernel with zeros for the missing connections (differentiable)."""
        zero = Tensor(np.zeros((1,) + self.kernel_size, dtype=self.weight.data.dtype))
        return cat([self.weight, zero], 0)[self._dense_index]

    def forward(self, x):
        return F.conv2d(x, self.dense_weight(), self.bias)

    def extra_repr(self):
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"connections={int(self.connection_table.sum())}"
        )


class Subsampling(nn.Module):
    """LeNet's trainable subsampling: each output unit is coefficient * (sum of a 2x2 window) + bias,
    one coefficient and one bias per map (2 * channels parameters); y = w_c * sum + b_c.
    (N, C, H, W) -> (N, C, H // k, W // k)."""

    def __init__(self, channels, kernel_size=2):
        super().__init__()
        self.channels, self.kernel_size = channels, kernel_size
        dtype = get_default_dtype()
        self.weight = Parameter(np.ones(channels, dtype=dtype))
        self.bias = Parameter(np.zeros(channels, dtype=dtype))

    def forward(self, x):
        k = self.kernel_size
        window_sum = F.avg_pool2d(x, k) * float(k * k)
        return window_sum * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)

    def extra_repr(self):
        return f"{self.channels}, kernel_size={self.kernel_size}"


class ScaledTanh(nn.Module):
    """LeCun's squashing function f(a) = A tanh(S a) with A = 1.7159, S = 2/3 (so f(1) ~ 1, f(-1) ~ -1)."""

    def __init__(self, amplitude=1.7159, slope=2.0 / 3.0):
        super().__init__()
        self.amplitude, self.slope = amplitude, slope

    def forward(self, x):
        return (x * self.slope).tanh() * self.amplitude

    def extra_repr(self):
        return f"amplitude={self.amplitude}, slope={self.slope:.4f}"


class EuclideanRBF(nn.Module):
    """LeNet-5's output layer: y_i = sum_j (x_j - w_ij)^2, the squared distance of the input to class
    i's centre (a "penalty": the smaller, the more likely).  weight (out_features, in_features),
    initialised to random +-1 codes (LeCun used hand-drawn 7x12 bitmaps of the characters)."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        codes = np.where(_random.default_generator().random((out_features, in_features)) < 0.5, -1.0, 1.0)
        self.weight = Parameter(codes.astype(get_default_dtype()))

    def forward(self, x):
        diff = x.unsqueeze(1) - self.weight.unsqueeze(0)
        return (diff * diff).sum(dim=-1)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


_ACTIVATIONS = {"scaled_tanh": ScaledTanh, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class LeNet5Classic(_LocatedModel):
    """The 1998 LeNet-5 on 32x32 inputs, layer names as in the paper.

    c1 conv 5x5, 6 maps (156 params) -> s2 subsampling (12) -> c3 partial conv, 16 maps (1,516) ->
    s4 subsampling (32) -> c5 conv 5x5, 120 maps (48,120) -> f6 linear 84 (10,164) -> output.
    A squashing function (``activation``: 'scaled_tanh' = 1.7159 tanh(2a/3) as the paper, 'tanh' or
    'sigmoid') follows c1, s2, c3, s4, c5 and f6.  ``output='rbf'``: Euclidean RBF units (840 params);
    the forward returns the negated penalties -y as logits, so argmax and cross-entropy apply.
    ``output='linear'``: an ordinary linear layer.  (N, in_channels, 32, 32) -> (N, num_classes).
    """

    def __init__(self, num_classes=10, in_channels=1, activation="scaled_tanh", output="rbf"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"LeNet5Classic: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if output not in ("rbf", "linear"):
            raise ValueError(f"LeNet5Classic: output must be 'rbf' or 'linear', got {output!r}")
        act = _ACTIVATIONS[activation]
        self.c1 = nn.Conv2d(in_channels, 6, kernel_size=5)
        self.s2 = Subsampling(6)
        self.c3 = ConnectionTableConv2d(6, 16, 5, LENET5_C3_TABLE)
        self.s4 = Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)
        self.f6 = nn.Linear(120, 84)
        self.act = act()
        self.output_kind = output
        self.output = EuclideanRBF(84, num_classes) if output == "rbf" else nn.Linear(84, num_classes)

    def forward(self, x):
        if x.ndim != 4 or tuple(x.shape[-2:]) != (32, 32):
            raise ValueError(f"LeNet5Classic: expected input of shape (N, C, 32, 32), got {tuple(x.shape)}")
        a = self.act
        x = a(self.s2(a(self.c1(x))))
        x = a(self.s4(a(self.c3(x))))
        x = a(self.c5(x)).flatten(1)
        x = a(self.f6(x))
        y = self.output(x)
        return -y if self.output_kind == "rbf" else y


def lenet5(*, weights=None, progress=True, **kwargs):
    """The classic 1998 LeNet-5 (``LeNet5Classic``) on 32x32 inputs, the default of ``deepnotes train``:
    C3 partial connection table, trainable subsampling, scaled-tanh squashing, Euclidean RBF output
    (60,840 parameters).  ``kwargs`` go to ``LeNet5Classic`` (num_classes, in_channels, activation, output)."""
    _no_weights(weights, "lenet5")
    return LeNet5Classic(**kwargs)


def lenet5_modern(*, weights=None, progress=True, **kwargs):
    """The modern LeNet-5 (``LeNet5``): ReLU, max pooling, full C3, linear output (61,706 parameters).
    ``kwargs`` go to ``LeNet5`` (num_classes, in_channels)."""
    _no_weights(weights, "lenet5_modern")
    return LeNet5(**kwargs)


__all__ = [
    "LeNet5",
    "LeNet5Classic",
    "LENET5_C3_TABLE",
    "ConnectionTableConv2d",
    "Subsampling",
    "ScaledTanh",
    "EuclideanRBF",
    "lenet5",
    "lenet5_modern",
]
