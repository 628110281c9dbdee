"""Stateless neural-network operations on Tensors (the ``torch.nn.functional`` of deepnotes).

Modules in ``deepnotes.nn`` hold parameters and call these functions; the math lives here.  Names,
argument orders and defaults follow ``torch.nn.functional``; every function validates its inputs and
raises a ``ValueError``/``TypeError`` that names the function, what it got and what it expects.
"""
import warnings

import numpy as np

from ..amp import _autocast
from ..autograd.function import Function
from ..ops.conv import Conv2dFn
from ..ops.elementwise import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ..ops.linear import LinearFn
from ..ops.norm import BatchNormFn
from ..ops.pool import AvgPool2dFn, MaxPool2dFn, pool_output_size
from ..random import default_generator
from ..tensor import Tensor, as_tensor, get_default_dtype

_REDUCTIONS = ("none", "mean", "sum")


# ------------------------------------------------------------------------------------- helpers
def _pair(v, name="argument"):
    """An int or a pair of ints as a pair of ints (torch's ``_pair``)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name}: expected an int or a pair of ints, got {v!r}")
        return tuple(_int(i, name) for i in v)
    return (_int(v, name), _int(v, name))


def _int(v, name):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {v!r} of type {type(v).__name__}")
    return int(v)


def _tensor(x, name):
    if isinstance(x, Tensor):
        return x
    try:
        return as_tensor(x)
    except TypeError:
        raise TypeError(f"{name}: expected a Tensor or an array, got {type(x).__name__}") from None


def _check_float(x, name):
    """``x`` as a Tensor; a TypeError naming ``name`` when it does not hold floating-point values."""
    x = _tensor(x, name)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point input, got dtype {x.data.dtype} "
                        f"(convert it with .float() or .double())")
    return x


def _float_or_cast(x, name):
    """Integer and boolean inputs become the default float dtype (torch's sigmoid/tanh on ints)."""
    x = _tensor(x, name)
    if x.data.dtype.kind in "biu":
        return x.to(get_default_dtype())
    return _check_float(x, name)


def _array(v):
    return v.data if isinstance(v, Tensor) else np.asarray(v)


def _legacy_reduction(size_average, reduce, reduction):
    """Map torch's deprecated ``size_average``/``reduce`` flags onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction, name):
    _check_reduction(reduction, name)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# ------------------------------------------------------------------------------------- linear / conv
def linear(input, weight, bias=None):
    """y = x W^T + b.

    Shapes: input (*, in_features), weight (out_features, in_features), bias (out_features,)
    -> (*, out_features).  One fused primitive: backward is two matrix products and a sum.
    """
    return _linear(input, weight, bias, "linear")


def _linear(input, weight, bias, name):
    x = _check_float(input, name)
    weight = _tensor(weight, name)
    if weight.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D weight (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"{name}: expected input of shape (*, {weight.shape[1]}) (in_features="
                         f"{weight.shape[1]}), got shape {x.shape}")
    if bias is None:
        return LinearFn.apply(*_autocast(x, weight))
    bias = _tensor(bias, name)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"{name}: expected a bias of shape ({weight.shape[0]},), got {bias.shape}")
    return LinearFn.apply(*_autocast(x, weight, bias))


def _conv_pads(padding, kernel, dilation, stride, name):
    """((top, bottom), (left, right)) zero padding; 'same' puts the odd extra pixel bottom/right."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                                 f"(got stride={stride}); expected stride 1")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{name}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    p = _pair(padding, f"{name} padding")
    if min(p) < 0:
        raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
    return ((p[0], p[0]), (p[1], p[1]))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (what deep-learning libraries call convolution), via im2col + GEMM.

    input (N, C, H, W) or (C, H, W), weight (O, C/groups, kh, kw), bias (O,) -> (N, O, Ho, Wo) with
    Ho = floor((H + 2p - d(kh - 1) - 1) / s) + 1;
    y[n, o, h, w] = b[o] + sum_{c, i, j} W[o, c, i, j] x[n, g(o) C/groups + c, s h + d i - p, s w + d j - p].
    ``padding`` is an int, a pair, 'valid' (no padding) or 'same' (output size = input size, stride 1).
    """
    return _conv2d(input, weight, bias, stride, padding, dilation, groups, "conv2d")


def _conv2d(input, weight, bias, stride, padding, dilation, groups, name):
    x = _check_float(input, name)
    weight = _tensor(weight, name)
    if weight.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D weight (out_channels, in_channels/groups, kh, kw), got "
                         f"shape {weight.shape}")
    if x.ndim == 3:
        return _conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups, name).squeeze(0)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    groups = _int(groups, f"{name} groups")
    O = weight.shape[0]
    if groups < 1 or O % groups:
        raise ValueError(f"{name}: groups={groups} must be positive and divide the {O} output channels")
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"{name}: expected input with {weight.shape[1] * groups} channels (weight "
                         f"{weight.shape}, groups={groups}), got input of shape {x.shape}")
    stride, dilation = _pair(stride, f"{name} stride"), _pair(dilation, f"{name} dilation")
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{name}: stride and dilation must be >= 1, got stride={stride}, dilation={dilation}")
    kh, kw = weight.shape[2:]
    pads = _conv_pads(padding, (kh, kw), dilation, stride, name)
    H, W = x.shape[2:]
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if H + sum(pads[0]) < eh or W + sum(pads[1]) < ew:
        raise ValueError(f"{name}: input of spatial size {H}x{W} (padded {H + sum(pads[0])}x{W + sum(pads[1])}) "
                         f"is smaller than the dilated kernel {eh}x{ew}")
    if bias is None:
        return Conv2dFn.apply(*_autocast(x, weight), stride=stride, pads=pads, dilation=dilation, groups=groups)
    bias = _tensor(bias, name)
    if bias.shape != (O,):
        raise ValueError(f"{name}: expected a bias of shape ({O},), got {bias.shape}")
    return Conv2dFn.apply(*_autocast(x, weight, bias), stride=stride, pads=pads, dilation=dilation, groups=groups)


# ------------------------------------------------------------------------------------- pooling
def _pool_args(input, kernel_size, stride, padding, dilation, name):
    x = _tensor(input, name)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    k = _pair(kernel_size, f"{name} kernel_size")
    no_stride = stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0)
    s = k if no_stride else _pair(stride, f"{name} stride")
    p = _pair(padding, f"{name} padding")
    d = _pair(dilation, f"{name} dilation")
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{name}: kernel_size, stride and dilation must be >= 1, got {k}, {s} and {d}")
    if min(p) < 0 or p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{name}: padding must be between 0 and half the kernel size {k}, got {p}")
    return x, k, s, p, d


def _pool_size_check(x, k, s, p, d, ceil_mode, name):
    H, W = x.shape[-2:]
    Ho = pool_output_size(H, k[0], s[0], p[0], d[0], ceil_mode)
    Wo = pool_output_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"{name}: input of spatial size {H}x{W} is too small for kernel {k} with padding "
                         f"{p} and dilation {d} (output would be {Ho}x{Wo})")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over each (dilated) window; the gradient goes to the arg-max only (the first one on ties;
    a NaN in the window wins and propagates, as in torch).

    input (N, C, H, W) or (C, H, W) -> (N, C, Ho, Wo); stride defaults to kernel_size; padding pads
    with -inf.  With ``return_indices`` also returns the arg-max as a flat index into each H*W plane.
    """
    x, k, s, p, d = _pool_args(input, kernel_size, stride, padding, dilation, "max_pool2d")
    if x.data.dtype.kind not in "fiu":
        raise TypeError(f"max_pool2d: expected a numeric input, got dtype {x.data.dtype}")
    if x.ndim == 3:
        out = max_pool2d(x.unsqueeze(0), k, s, p, d, ceil_mode, return_indices)
        return (out[0].squeeze(0), out[1].squeeze(0)) if return_indices else out.squeeze(0)
    _pool_size_check(x, k, s, p, d, ceil_mode, "max_pool2d")
    kwargs = dict(kernel=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
    if not return_indices:
        return MaxPool2dFn.apply(x, **kwargs)
    out = MaxPool2dFn.apply(x, **kwargs)
    if out._ctx is not None:
        return out, Tensor(out._ctx.indices())
    fn = MaxPool2dFn()
    fn.forward(x.data, **kwargs)
    return out, Tensor(fn.indices())


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over each window; the gradient is split evenly over the window.

    The divisor is the window area clipped to the padded input (``count_include_pad=True``) or to the
    real input (``False``), or ``divisor_override``.  input (N, C, H, W) or (C, H, W).
    """
    x, k, s, p, d = _pool_args(input, kernel_size, stride, padding, 1, "avg_pool2d")
    x = _check_float(x, "avg_pool2d")
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override <= 0):
        raise ValueError(f"avg_pool2d: divisor_override must be a positive int, got {divisor_override!r}")
    if x.ndim == 3:
        return avg_pool2d(x.unsqueeze(0), k, s, p, ceil_mode, count_include_pad, divisor_override).squeeze(0)
    _pool_size_check(x, k, s, p, d, ceil_mode, "avg_pool2d")
    return AvgPool2dFn.apply(x, kernel=k, stride=s, padding=p, ceil_mode=ceil_mode,
                             count_include_pad=count_include_pad, divisor_override=divisor_override)


def _adaptive_matrix(size, out, dtype):
    """(out, size) averaging matrix: bin i covers [floor(i*size/out), ceil((i+1)*size/out))."""
    i = np.arange(out)
    start = (i * size) // out
    end = -(-((i + 1) * size) // out)
    cols = np.arange(size)
    inside = (cols[None, :] >= start[:, None]) & (cols[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size (torch's bins: [floor(i H/oh), ceil((i+1) H/oh))).

    input (N, C, H, W) or (C, H, W) -> (..., oh, ow); ``None`` in ``output_size`` keeps that size.
    Computed as P_h x P_w^T with per-bin averaging matrices (a reshape-mean when bins tile exactly).
    """
    x = _check_float(input, "adaptive_avg_pool2d")
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                         f"shape {x.shape}")
    H, W = x.shape[-2:]
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got {output_size!r}")
        oh, ow = output_size
    else:
        oh = ow = output_size
    oh = H if oh is None else _int(oh, "adaptive_avg_pool2d output_size")
    ow = W if ow is None else _int(ow, "adaptive_avg_pool2d output_size")
    if oh < 1 or ow < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {(oh, ow)}")
    if H == 0 or W == 0:
        raise ValueError(f"adaptive_avg_pool2d: input has an empty spatial size {H}x{W}")
    if oh == 1 and ow == 1:
        return x.mean(dim=(-2, -1), keepdim=True)
    if H % oh == 0 and W % ow == 0:
        lead = x.shape[:-2]
        return x.reshape(lead + (oh, H // oh, ow, W // ow)).mean(dim=(-3, -1))
    ph = Tensor(_adaptive_matrix(H, oh, x.data.dtype))
    pw = Tensor(np.ascontiguousarray(_adaptive_matrix(W, ow, x.data.dtype).T))
    return ph @ x @ pw


# ------------------------------------------------------------------------------------- activations
def relu(input, inplace=False):
    """max(x, 0); the gradient is 1 where x > 0 and 0 elsewhere (0 at x = 0, as torch)."""
    return ReLU.apply(_tensor(input, "relu"))


def sigmoid(input):
    """1 / (1 + e^-x), evaluated without overflow for any x."""
    return Sigmoid.apply(_float_or_cast(input, "sigmoid"))


def tanh(input):
    return Tanh.apply(_float_or_cast(input, "tanh"))


def _softmax_dim(x, dim, name):
    if dim is None:  # torch's legacy implicit choice
        dim = 0 if x.ndim in (0, 1, 3) else 1
    dim = _int(dim, f"{name} dim")
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor with {x.ndim} dimensions")
    return dim % max(x.ndim, 1)


def _softmax_input(input, dtype, name):
    x = _tensor(input, name)
    if dtype is not None:
        x = x.to(dtype)
    return _check_float(x, name)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x), finite for any finite logits."""
    x = _softmax_input(input, dtype, "softmax")
    if x.ndim == 0:
        return Softmax.apply(x.reshape(1), dim=0).reshape(())
    return Softmax.apply(x, dim=_softmax_dim(x, dim, "softmax"))


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log softmax(x)_i = (x_i - max x) - log sum_j exp(x_j - max x), exact for logits of any size."""
    x = _softmax_input(input, dtype, "log_softmax")
    if x.ndim == 0:
        return LogSoftmax.apply(x.reshape(1), dim=0).reshape(())
    return LogSoftmax.apply(x, dim=_softmax_dim(x, dim, "log_softmax"))


# ------------------------------------------------------------------------------------- normalisation
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Batch normalisation over (N, *spatial) per channel with torch's semantics.

    Training: y = (x - mu_B) / sqrt(var_B + eps) * weight + bias with the biased batch variance, and
    the running estimates (updated in place when given) follow
    r <- (1 - momentum) r + momentum * stat, the variance using the unbiased var_B * n / (n - 1).
    Evaluation: the running estimates replace the batch statistics.  input (N, C, *).
    """
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, "batch_norm")


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, name):
    x = _check_float(input, name)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected an input of at least 2 dimensions (N, C, *), got shape {x.shape}")
    C = x.shape[1]
    rm = None if running_mean is None else _array(running_mean)
    rv = None if running_var is None else _array(running_var)
    if not training and (rm is None or rv is None):
        raise ValueError(f"{name}: running_mean and running_var are required in evaluation mode")
    for label, arr in (("running_mean", rm), ("running_var", rv)):
        if arr is not None and arr.shape != (C,):
            raise ValueError(f"{name}: expected {label} of shape ({C},) for input of shape {x.shape}, got "
                             f"{arr.shape}")
    if training and (rm is not None or rv is not None) and momentum is None:
        raise ValueError(f"{name}: momentum must be a number when running statistics are updated, got None")
    if training and x.data.size // max(C, 1) <= 1:
        raise ValueError(f"{name}: expected more than 1 value per channel when training, got input of "
                         f"shape {x.shape}")
    args = [x]
    for label, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            p = _tensor(p, name)
            if p.shape != (C,):
                raise ValueError(f"{name}: expected {label} of shape ({C},), got {p.shape}")
            args.append(p)
    return BatchNormFn.apply(*args, has_weight=weight is not None, has_bias=bias is not None,
                             running_mean=rm, running_var=rv, training=bool(training),
                             momentum=momentum, eps=eps)


# ------------------------------------------------------------------------------------- dropout
def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p), so the
    expectation is unchanged and evaluation needs no rescaling.  Identity when not training."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be a number in [0, 1], got {p!r}")
    x = _check_float(input, "dropout")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = default_generator().random(x.shape) >= p
    mask = keep.astype(x.data.dtype) * x.data.dtype.type(1.0 / (1.0 - p))
    return x * Tensor(mask)


# ------------------------------------------------------------------------------------- losses
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error l_i = w_i (x_i - y_i)^2; with ``weight`` the mean is sum(l) / sum(w).

    ``target`` broadcasts against ``input`` (with a warning when the shapes differ, as torch).
    """
    return _mse_loss(input, target, _legacy_reduction(size_average, reduce, reduction), weight, "mse_loss")


def _mse_loss(input, target, reduction, weight, name):
    x = _check_float(input, name)
    y = _tensor(target, name)
    _check_reduction(reduction, name)
    if y.shape != x.shape:
        try:
            np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise ValueError(f"{name}: target shape {y.shape} does not broadcast to input shape {x.shape}") \
                from None
        warnings.warn(f"{name}: using a target size {y.shape} that is different to the input size "
                      f"{x.shape}; the values broadcast, which is likely not intended", stacklevel=3)
    d = x - y
    sq = d * d
    if weight is None:
        return _reduce(sq, reduction, name)
    w = _tensor(weight, name)
    if w.shape != x.shape:
        raise ValueError(f"{name}: weight must have the input's shape {x.shape}, got {w.shape}")
    sq = sq * w
    if reduction == "mean":
        return sq.sum() / w.sum()
    return _reduce(sq, reduction, name)


class _PickNLL(Function):
    """l = -w * logp[target] along the class axis 1 (the fused gather of nll_loss).

    ``target`` holds valid class indices (ignored entries already replaced by any class and given
    weight 0); the gradient is -w g at the picked class and 0 elsewhere.
    """

    def forward(self, logp, *, target, weight):
        idx = target[:, None]
        self.idx, self.w, self.shape = idx, weight, logp.shape
        return -weight * np.take_along_axis(logp, idx, axis=1)[:, 0]

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        np.put_along_axis(out, self.idx, (-self.w * g)[:, None], axis=1)
        return out


def _class_targets(t, C, ignore_index, name):
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-index targets must be integers, got dtype {t.dtype} (use class "
                        f"probabilities of the input's shape for soft targets)")
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= C))
    if bad.any():
        first = int(t[bad].reshape(-1)[0])
        raise IndexError(f"{name}: target label {first} is out of range for {C} classes (expected "
                         f"0 <= label < {C}, or ignore_index={ignore_index})")
    return valid


def _class_weight(weight, C, dtype, name):
    if weight is None:
        return None
    w = np.asarray(_array(weight), dtype=dtype)
    if w.shape != (C,):
        raise ValueError(f"{name}: weight must hold one value per class, shape ({C},), got {w.shape}")
    return w


def _nll(logp, t, w, ignore_index, reduction, name):
    """nll on log-probabilities ``logp`` (N, C, *) or (C,), targets (N, *) or (); returns the loss and
    the per-sample weights (0 for ignored samples) used for the mean."""
    _check_reduction(reduction, name)
    one_d = logp.ndim == 1
    expected = () if one_d else logp.shape[:1] + logp.shape[2:]
    if logp.ndim == 0 or t.shape != expected:
        raise ValueError(f"{name}: input of shape {logp.shape} needs a target of shape {expected} "
                         f"(input (N, C, d1, ...) and target (N, d1, ...), or input (C,) and a scalar "
                         f"target), got target shape {t.shape}")
    C = logp.shape[0] if one_d else logp.shape[1]
    valid = _class_targets(t, C, ignore_index, name)
    dtype = logp.data.dtype
    lp = logp.reshape(1, C) if one_d else logp
    if lp.ndim > 2:  # (N, C, d1, ...) -> (N, C, M): the class axis stays axis 1, no transpose needed
        lp = lp.reshape(lp.shape[0], C, -1)
    tf = np.where(valid, t, 0).reshape(lp.shape[:1] + lp.shape[2:])
    sw = valid.reshape(tf.shape).astype(dtype)
    if w is not None:
        sw = sw * w[tf]
    loss = _PickNLL.apply(lp, target=tf, weight=sw)
    if reduction == "none":
        return loss.reshape(t.shape), sw
    if reduction == "sum":
        return loss.sum(), sw
    with np.errstate(invalid="ignore", divide="ignore"):
        return loss.sum() / Tensor(np.asarray(sw.sum(), dtype=dtype)), sw


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of the target class, l_i = -w[t_i] logp_i[t_i].

    input (N, C) or (N, C, d1, ...) of log-probabilities, target (N) or (N, d1, ...) of class indices
    (``ignore_index`` entries contribute nothing).  The mean is sum_i l_i / sum_i w[t_i] over the
    non-ignored samples (torch's weighted mean).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _nll_loss(input, target, weight, ignore_index, reduction, "nll_loss")


def _nll_loss(input, target, weight, ignore_index, reduction, name):
    x = _check_float(input, name)
    t = _array(target)
    C = x.shape[0] if x.ndim == 1 else (x.shape[1] if x.ndim > 1 else 0)
    return _nll(x, t, _class_weight(weight, C, x.data.dtype, name), ignore_index, reduction, name)[0]


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy on logits: nll_loss(log_softmax(x, dim=1)), with torch's options.

    input (N, C), (N, C, d1, ...) or (C,).  ``target`` holds class indices (N, d1, ...) or class
    probabilities of the input's shape.  With smoothing eps the target distribution becomes
    (1 - eps) onehot + eps / C, i.e. loss = (1 - eps) nll + eps / C sum_c (-w_c logp_c), normalised like
    nll.  Probability targets: l = -sum_c w_c q_c logp_c, and 'mean' divides by the number of samples.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, "cross_entropy")


def _cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, name):
    x = _check_float(input, name)
    _check_reduction(reduction, name)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if x.ndim == 0:
        raise ValueError(f"{name}: expected input of shape (N, C, ...) or (C,), got a scalar")
    cdim = 0 if x.ndim == 1 else 1
    C = x.shape[cdim]
    logp = LogSoftmax.apply(x, dim=cdim)
    t = _array(target)
    w = _class_weight(weight, C, x.data.dtype, name)
    wshape = [1] * x.ndim
    wshape[cdim] = C
    if t.dtype.kind == "f":  # class probabilities
        if t.shape != x.shape:
            raise ValueError(f"{name}: probability targets must have the input's shape {x.shape}, got "
                             f"{t.shape}")
        q = t.astype(x.data.dtype)
        if label_smoothing:
            q = q * (1 - label_smoothing) + label_smoothing / C
        if w is not None:
            q = q * w.reshape(wshape)
        loss = -(logp * Tensor(q)).sum(dim=cdim)
        if reduction == "mean":  # torch divides by the number of samples, numel / C
            with np.errstate(invalid="ignore", divide="ignore"):
                return loss.sum() / Tensor(np.asarray(x.data.size // max(C, 1), dtype=x.data.dtype))
        return _reduce(loss, reduction, name)
    nll, sw = _nll(logp, t, w, ignore_index, reduction, name)
    if label_smoothing == 0.0:
        return nll
    valid = (t != ignore_index).astype(x.data.dtype)
    per = logp * Tensor(w.reshape(wshape)) if w is not None else logp
    smooth = -per.sum(dim=cdim) * Tensor(valid)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            smooth = smooth.sum() / Tensor(np.asarray(sw.sum(), dtype=x.data.dtype))
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / C)


# ------------------------------------------------------------------------------------- misc
def flatten(input, start_dim=1, end_dim=-1):
    """Merge dimensions start_dim..end_dim (``nn.Flatten``'s defaults keep the batch axis)."""
    return _tensor(input, "flatten").flatten(start_dim, end_dim)


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: ``pad`` lists (before, after) pairs starting from the LAST dimension.

    Modes: 'constant' (fill ``value``, default 0; negative amounts crop), 'reflect', 'replicate',
    'circular'.
    """
    from ..tensor import pad as _pad
    return _pad(input, pad, mode=mode, value=0.0 if value is None else value)


def one_hot(tensor, num_classes=-1):
    """(*) integer classes -> (*, num_classes) int64 one-hot (num_classes=-1: max + 1)."""
    t = _array(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got dtype {t.dtype}")
    n = (int(t.max()) + 1 if t.size else 0) if num_classes < 0 else num_classes
    if t.size and (t.min() < 0 or t.max() >= n):
        raise IndexError(f"one_hot: class values must be in [0, {n}), got range [{t.min()}, {t.max()}]")
    return Tensor(np.eye(n, dtype=np.int64)[t])


__all__ = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "relu", "sigmoid", "tanh",
           "softmax", "log_softmax", "batch_norm", "dropout", "mse_loss", "nll_loss", "cross_entropy",
           "flatten", "pad", "one_hot"]
