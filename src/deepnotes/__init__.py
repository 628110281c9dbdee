"""deepnotes: deep-learning interview notes turned into verified, runnable software.

The top level mirrors ``torch``: tensors, creation functions, grad mode and seeding, with ``nn``,
``optim``, ``data`` and ``amp`` as attributes.  ``deepnotes.models`` (architectures),
``deepnotes.detection`` (boxes, NMS, RoI ops, COCO/VOC evaluation), ``deepnotes.analysis`` (parameters,
MACs, receptive fields, latency), ``deepnotes.train`` (the Trainer), ``deepnotes.io`` (safe weight
files), ``deepnotes.onnx`` (export), ``deepnotes.compress`` (pruning, int8 quantisation) and
``deepnotes.vision`` (classic image processing) load on first use: ``deepnotes.models.resnet18()``
works right after ``import deepnotes``, and ``import deepnotes`` stays cheap.
"""

import importlib as _importlib

# sub-packages reachable as attributes, as torch.nn / torch.optim are after ``import torch``
from . import amp, autograd, cuda, data, nn, optim  # noqa: E402
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .devices import device
from .random import bernoulli, manual_seed, normal, rand, rand_like, randint, randint_like, randn, randn_like, randperm
from .tensor import (  # noqa: A004
    Tensor,
    abs,
    add,
    all,
    amax,
    amin,
    any,
    arange,
    argmax,
    argmin,
    as_tensor,
    atan,
    bmm,
    bool_,
    cat,
    ceil,
    chunk,
    clamp,
    clip,
    clone,
    concat,
    concatenate,
    cos,
    detach,
    div,
    einsum,
    empty,
    empty_like,
    exp,
    expand,
    eye,
    flatten,
    flip,
    float16,
    float32,
    float64,
    floor,
    from_numpy,
    full,
    full_like,
    gather,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    is_tensor,
    isfinite,
    isinf,
    isnan,
    linspace,
    log,
    log_softmax,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    mul,
    neg,
    norm,
    numel,
    ones,
    ones_like,
    permute,
    pow,
    prod,
    reciprocal,
    relu,
    reshape,
    round,
    rsqrt,
    set_default_dtype,
    sigmoid,
    sign,
    sin,
    softmax,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    tensor,
    topk,
    transpose,
    uint8,
    unbind,
    unsqueeze,
    var,
    where,
    zeros,
    zeros_like,
)
from .threads import get_num_threads, set_num_threads

# torch's dtype aliases (they shadow the builtins only inside this module's namespace)
float, double, half = float32, float64, float16  # noqa: A001
long, int, short = int64, int32, int16  # noqa: A001
bool = bool_  # noqa: A001

__version__ = "0.1.0"

# Loaded on first attribute access (module __getattr__, PEP 562), so ``import deepnotes`` does not pay
# for them.  A name maps to (sub-module, attribute in it or None for the module itself); adding one
# lazy name is one line here.
_LAZY = {
    "models": ("models", None),
    "analysis": ("analysis", None),
    "detection": ("detection", None),
    "io": ("io", None),
    "train": ("train", None),
    "onnx": ("onnx", None),
    "compress": ("compress", None),
    "rl": ("rl", None),
    "notes": ("notes", None),
    "reference": ("reference", None),
    "vision": ("vision", None),
    "save": ("io", "save"),
    "load": ("io", "load"),
}


def __getattr__(name):
    spec = _LAZY.get(name)
    if spec is None:
        raise AttributeError(
            f"module 'deepnotes' has no attribute {name!r}; the lazily loaded names are {', '.join(sorted(_LAZY))}"
        )
    module_name, attr = spec
    try:
        module = _importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{module_name}":
            raise
        raise AttributeError(
            f"module 'deepnotes' has no attribute {name!r}: deepnotes.{module_name} is not part of this installation"
        ) from None
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
