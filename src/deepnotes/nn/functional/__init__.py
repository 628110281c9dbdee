"""Stateless neural-network operations on Tensors (the ``torch.nn.functional`` of deepnotes).

Modules in ``deepnotes.nn`` hold parameters and call these functions; the math lives here.  Names,
argument orders and defaults follow ``torch.nn.functional``; every function validates its inputs and
raises a ``ValueError``/``TypeError`` that names the function, what it got and what it expects.

One file per concept (see docs/architecture.md):

===================  ===================================================================
``activations``      relu, sigmoid, tanh, softmax, log_softmax, the ELU/GELU/hard families, hardshrink
``attention``        scaled dot-product, multi-head and additive attention
``convolution``      conv1d, conv2d, convolve2d, conv_transpose1d/2d
``dense``            linear
``dropouts``         dropout, dropout1d, dropout2d
``embeddings``       embedding, one_hot
``interpolation``    interpolate, upsample*
``losses``           regression, classification and class-imbalance losses
``normalization``    batch_norm, layer_norm, group_norm, instance_norm
``pooling``          max/avg/adaptive pooling, spatial pyramid pooling
``shape``            flatten, pad
===================  ===================================================================

The differentiable primitives these functions call (``Function`` subclasses with forward and
backward) live in ``deepnotes.ops``.
"""

# private helpers the layers in deepnotes.nn.modules call (they validate with the layer's own name)
from ._utils import _legacy_reduction, _ntuple, _pair  # noqa: F401
from .activations import (
    celu,
    elu,
    gelu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    maxout,
    prelu,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    swish,
    tanh,
)
from .attention import additive_attention, multi_head_attention_forward, scaled_dot_product_attention  # noqa: F401
from .convolution import (  # noqa: F401
    _conv,
    _conv_pads,
    _conv_transpose,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    convolve2d,
)
from .dense import (
    _linear,  # noqa: F401
    linear,
)
from .dropouts import dropout, dropout1d, dropout2d
from .embeddings import embedding, one_hot
from .interpolation import interpolate, upsample, upsample_bilinear, upsample_nearest
from .losses import (  # noqa: F401
    _cross_entropy,
    _mse_loss,
    _nll_loss,
    balanced_cross_entropy,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
    smooth_labels,
    softmax_focal_loss,
)
from .normalization import (
    _batch_norm,  # noqa: F401
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
)
from .pooling import (
    _spp_levels,  # noqa: F401
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    max_pool2d,
    spatial_pyramid_pool,
)
from .shape import flatten, pad

__all__ = [
    # dense and convolution
    "linear",
    "conv1d",
    "conv2d",
    "convolve2d",
    "conv_transpose1d",
    "conv_transpose2d",
    # pooling
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "spatial_pyramid_pool",
    # activations
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "leaky_relu",
    "prelu",
    "elu",
    "selu",
    "celu",
    "silu",
    "swish",
    "hardtanh",
    "relu6",
    "hardsigmoid",
    "hardswish",
    "gelu",
    "softplus",
    "maxout",
    "hardshrink",
    # normalization
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
    # dropout
    "dropout",
    "dropout1d",
    "dropout2d",
    # losses
    "mse_loss",
    "nll_loss",
    "cross_entropy",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "balanced_cross_entropy",
    "sigmoid_focal_loss",
    "softmax_focal_loss",
    "smooth_labels",
    # embedding, resampling, shape
    "embedding",
    "one_hot",
    "interpolate",
    "upsample",
    "upsample_nearest",
    "upsample_bilinear",
    "flatten",
    "pad",
]
