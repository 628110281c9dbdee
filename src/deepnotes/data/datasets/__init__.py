"""Datasets: the bundled digits, readers for MNIST / Fashion-MNIST IDX files and CIFAR-10 batches, and the
generated Shapes detection set."""

from .cifar import CIFAR10, read_cifar10_batch
from .digits import Digits, DigitsArrays, load_digits_arrays, resize_bilinear
from .mnist import MNIST, FashionMNIST, read_idx
from .shapes import Shapes, detection_collate

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
    "Shapes",
    "detection_collate",
]
