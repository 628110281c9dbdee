"""Data pipeline: datasets, samplers, the DataLoader, and bundled / local-format datasets.

Mirrors ``torch.utils.data`` (and the dataset classes of ``torchvision.datasets``).
"""

from . import transforms, tv_tensors
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .datasets import CIFAR10, MNIST, Digits, FashionMNIST, Shapes, detection_collate, load_digits_arrays
from .distributed import DistributedSampler
from .loader import DataLoader, WorkerInfo, default_collate, default_convert, get_worker_info
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler

__all__ = [
    "datasets",
    "tv_tensors",
    "transforms",
    "Dataset",
    "TensorDataset",
    "Subset",
    "ConcatDataset",
    "random_split",
    "DataLoader",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "WorkerInfo",
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
    "DistributedSampler",
    "Digits",
    "load_digits_arrays",
    "MNIST",
    "FashionMNIST",
    "CIFAR10",
    "Shapes",
    "detection_collate",
]
