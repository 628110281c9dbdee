"""Activation layers: ReLU, Sigmoid, Tanh, Softmax, LogSoftmax."""
from .. import functional as F
from .module import Module


class ReLU(Module):
    """ReLU(x) = max(0, x); gradient 1 for x > 0, else 0."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """sigma(x) = 1 / (1 + e^-x), gradient sigma (1 - sigma) (at most 1/4: the vanishing-gradient cause)."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x) = (e^x - e^-x) / (e^x + e^-x), gradient 1 - tanh^2."""

    def forward(self, input):
        return F.tanh(input)


class Softmax(Module):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x) along ``dim`` (overflow-safe)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log softmax along ``dim``: (x_i - max x) - log sum_j exp(x_j - max x)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
