"""Datasets: the bundled digits, and readers for MNIST / Fashion-MNIST IDX files and CIFAR-10 batches."""

from .cifar import CIFAR10, read_cifar10_batch
from .digits import Digits, DigitsArrays, load_digits_arrays, resize_bilinear
from .mnist import MNIST, FashionMNIST, read_idx

__all__ = [
    "Digits",
    "DigitsArrays",
    "load_digits_arrays",
    "resize_bilinear",
    "MNIST",
    "FashionMNIST",
    "CIFAR10",
    "read_idx",
    "read_cifar10_batch",
]
