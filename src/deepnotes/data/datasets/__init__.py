"""Datasets: the bundled digits, and readers for MNIST / Fashion-MNIST IDX files and CIFAR-10 batches."""
from .digits import Digits, DigitsArrays, load_digits_arrays, resize_bilinear

__all__ = ["Digits", "DigitsArrays", "load_digits_arrays", "resize_bilinear"]
