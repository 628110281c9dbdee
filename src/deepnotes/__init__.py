"""deepnotes: deep-learning interview notes turned into verified, runnable software.

The top level mirrors ``torch``: tensors, creation functions, grad mode and seeding.
"""
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .random import manual_seed, rand, randint, randn, randperm
from .tensor import (Tensor, arange, as_tensor, bool_, cat, clamp, empty, eye, float16, float32,
                     float64, from_numpy, full, full_like, get_default_dtype, int8, int16, int32,
                     int64, is_tensor, linspace, matmul, maximum, minimum, ones, ones_like,
                     set_default_dtype, stack, tensor, uint8, where, zeros, zeros_like)
from .tensor import (abs, amax, amin, argmax, argmin, atan, cos, exp, flatten, gather, log,  # noqa: A004
                     log_softmax, max, mean, min, permute, relu, reshape, sigmoid, sign, sin,
                     softmax, sqrt, square, squeeze, std, sum, tanh, transpose, unsqueeze, var)

__version__ = "0.1.0"
