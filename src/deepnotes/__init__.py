"""deepnotes: deep-learning interview notes turned into verified, runnable software.

The top level mirrors ``torch``: tensors, creation functions, grad mode and seeding, with ``nn``,
``optim``, ``data`` and ``amp`` as attributes.  ``deepnotes.models`` (architectures),
``deepnotes.detection`` (boxes, NMS, RoI ops, COCO/VOC evaluation), ``deepnotes.analysis`` (parameters,
MACs, receptive fields, latency), ``deepnotes.train`` (the Trainer), ``deepnotes.io`` (safe weight
files) and ``deepnotes.onnx`` (export) are imported on demand, like ``torchvision``.
"""
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .random import (bernoulli, manual_seed, normal, rand, rand_like, randint, randint_like, randn,
                     randn_like, randperm)
from .tensor import (Tensor, arange, as_tensor, bool_, cat, clamp, clip, concat, concatenate, empty,
                     empty_like, eye, float16, float32, float64, from_numpy, full, full_like,
                     get_default_dtype, int8, int16, int32, int64, is_tensor, linspace, matmul, maximum,
                     minimum, ones, ones_like, set_default_dtype, stack, tensor, uint8, where, zeros,
                     zeros_like)
from .tensor import (abs, add, all, amax, amin, any, argmax, argmin, atan, bmm, ceil, chunk,  # noqa: A004
                     clone, cos, detach, div, exp, expand, flatten, flip, floor, gather, isfinite, isinf,
                     isnan, log, log_softmax, masked_fill, max, mean, min, mm, mul, neg, norm, numel,
                     permute, pow, prod, reciprocal, relu, reshape, round, rsqrt, sigmoid, sign, sin,
                     softmax, split, sqrt, square, squeeze, std, sub, sum, tanh, transpose, unbind,
                     unsqueeze, var)
from .threads import get_num_threads, set_num_threads

# sub-packages reachable as attributes, as torch.nn / torch.optim are after ``import torch``
from . import amp, autograd, data, nn, optim  # noqa: E402

__version__ = "0.1.0"
