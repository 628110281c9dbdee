"""Stateless neural-network operations on Tensors (the ``torch.nn.functional`` of deepnotes).

Modules in ``deepnotes.nn`` hold parameters and call these functions; the math lives here.
"""
import math

import numpy as np

from ..ops.conv import Conv2dFn
from ..ops.elementwise import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ..ops.linear import LinearFn
from ..ops.norm import BatchNormFn
from ..ops.pool import AvgPool2dFn, MaxPool2dFn
from ..random import default_generator
from ..tensor import Tensor, as_tensor

_REDUCTIONS = ("none", "mean", "sum")


def _pair(v, name="argument"):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name}: expected an int or a pair, got {v!r}")
        return tuple(int(i) for i in v)
    return (int(v), int(v))


def _check_float(x, name):
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.data.dtype}")
    return x


def _reduce(loss, reduction, name):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


# ------------------------------------------------------------------------------------- linear / conv
def linear(input, weight, bias=None):
    """y = x W^T + b for x of shape (*, in_features) and W of shape (out_features, in_features)."""
    x = _check_float(input, "linear")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has shape {x.shape}, expected last dimension "
                         f"{weight.shape[1]} (weight shape {weight.shape})")
    if bias is None:
        return LinearFn.apply(x, weight)
    return LinearFn.apply(x, weight, bias)


def _conv_pads(padding, kernel, dilation, stride, name):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{name}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    p = _pair(padding, name)
    if min(p) < 0:
        raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
    return ((p[0], p[0]), (p[1], p[1]))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (what deep-learning libraries call convolution), via im2col + GEMM.

    input (N, C, H, W), weight (O, C/groups, kh, kw) -> (N, O, Ho, Wo) with
    Ho = floor((H + 2p - d(kh - 1) - 1) / s) + 1.
    """
    x = _check_float(input, "conv2d")
    if x.ndim == 3:
        return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    if x.ndim != 4:
        raise ValueError(f"conv2d: expected a 3-D or 4-D input (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-D weight (O, C/groups, kh, kw), got shape {weight.shape}")
    if groups < 1 or x.shape[1] % groups or weight.shape[0] % groups:
        raise ValueError(f"conv2d: groups={groups} must divide input channels {x.shape[1]} and output "
                         f"channels {weight.shape[0]}")
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"conv2d: expected input with {weight.shape[1] * groups} channels "
                         f"(weight {weight.shape}, groups={groups}), got input of shape {x.shape}")
    stride, dilation = _pair(stride, "conv2d stride"), _pair(dilation, "conv2d dilation")
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"conv2d: stride and dilation must be >= 1, got {stride} and {dilation}")
    pads = _conv_pads(padding, weight.shape[2:], dilation, stride, "conv2d")
    args = (x, weight) if bias is None else (x, weight, bias)
    return Conv2dFn.apply(*args, stride=stride, pads=pads, dilation=dilation, groups=groups)


# ------------------------------------------------------------------------------------- pooling
def _pool_args(input, kernel_size, stride, padding, name):
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 3-D or 4-D input (N, C, H, W), got shape {x.shape}")
    k = _pair(kernel_size, name)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else _pair(stride, name)
    p = _pair(padding, name)
    if min(k) < 1 or min(s) < 1:
        raise ValueError(f"{name}: kernel_size and stride must be >= 1, got {k} and {s}")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{name}: padding {p} must be at most half the kernel size {k}")
    return x, k, s, p


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over each window; the gradient goes to the arg-max only (the first one on ties)."""
    x, k, s, p = _pool_args(input, kernel_size, stride, padding, "max_pool2d")
    if x.ndim == 3:
        out = max_pool2d(x.unsqueeze(0), k, s, p, dilation, ceil_mode, return_indices)
        return (out[0].squeeze(0), out[1].squeeze(0)) if return_indices else out.squeeze(0)
    out = MaxPool2dFn.apply(x, kernel=k, stride=s, padding=p, dilation=_pair(dilation), ceil_mode=ceil_mode)
    if return_indices:
        return out, Tensor(out._ctx.indices() if out._ctx is not None else _max_indices(x, k, s, p, dilation,
                                                                                        ceil_mode))
    return out


def _max_indices(x, k, s, p, dilation, ceil_mode):
    fn = MaxPool2dFn()
    fn.forward(x.data, kernel=k, stride=s, padding=p, dilation=_pair(dilation), ceil_mode=ceil_mode)
    return fn.indices()


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over each window; the gradient is split evenly over the window."""
    x, k, s, p = _pool_args(input, kernel_size, stride, padding, "avg_pool2d")
    x = _check_float(x, "avg_pool2d")
    if x.ndim == 3:
        return avg_pool2d(x.unsqueeze(0), k, s, p, ceil_mode, count_include_pad, divisor_override).squeeze(0)
    return AvgPool2dFn.apply(x, kernel=k, stride=s, padding=p, ceil_mode=ceil_mode,
                             count_include_pad=count_include_pad, divisor_override=divisor_override)


def _adaptive_matrix(size, out, dtype):
    """(out, size) averaging matrix: bin i covers [floor(i*size/out), ceil((i+1)*size/out))."""
    m = np.zeros((out, size), dtype=dtype)
    for i in range(out):
        a = (i * size) // out
        b = -(-((i + 1) * size) // out)
        m[i, a:b] = 1.0 / (b - a)
    return m


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size: out = P_h x P_w^T with per-bin averaging matrices."""
    x = _check_float(input, "adaptive_avg_pool2d")
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected a 3-D or 4-D input, got shape {x.shape}")
    H, W = x.shape[-2:]
    oh, ow = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    oh = H if oh is None else int(oh)
    ow = W if ow is None else int(ow)
    if oh == 1 and ow == 1:
        return x.mean(dim=(-2, -1), keepdim=True)
    if H % oh == 0 and W % ow == 0:
        lead = x.shape[:-2]
        return x.reshape(lead + (oh, H // oh, ow, W // ow)).mean(dim=(-3, -1))
    ph = Tensor(_adaptive_matrix(H, oh, x.data.dtype))
    pw = Tensor(_adaptive_matrix(W, ow, x.data.dtype).T.copy())
    return ph @ x @ pw


# ------------------------------------------------------------------------------------- activations
def relu(input, inplace=False):
    return ReLU.apply(_check_float(input, "relu"))


def sigmoid(input):
    return Sigmoid.apply(_check_float(input, "sigmoid"))


def tanh(input):
    return Tanh.apply(_check_float(input, "tanh"))


def _dim(x, dim, name):
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"{name}: dim {dim} out of range for a tensor with {x.ndim} dimensions")
    return dim


def softmax(input, dim=None):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x), finite for any finite logits."""
    x = _check_float(input, "softmax")
    return Softmax.apply(x, dim=_dim(x, dim, "softmax"))


def log_softmax(input, dim=None):
    x = _check_float(input, "log_softmax")
    return LogSoftmax.apply(x, dim=_dim(x, dim, "log_softmax"))


# ------------------------------------------------------------------------------------- normalisation
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5, num_batches_tracked=None):
    """Normalise over (N, *spatial) per channel; torch's train/eval semantics.

    ``running_mean``/``running_var`` (Tensors or arrays, or None) are updated in place when training.
    """
    x = _check_float(input, "batch_norm")
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of at least 2 dimensions (N, C, ...), got {x.shape}")
    rm = None if running_mean is None else (running_mean.data if isinstance(running_mean, Tensor)
                                            else running_mean)
    rv = None if running_var is None else (running_var.data if isinstance(running_var, Tensor)
                                           else running_var)
    if not training and rm is None:
        raise ValueError("batch_norm: running_mean and running_var are required in evaluation mode")
    nbt = None if num_batches_tracked is None else (
        num_batches_tracked.data if isinstance(num_batches_tracked, Tensor) else num_batches_tracked)
    axes = (0,) + tuple(range(2, x.ndim))
    args = (x,) if weight is None else (x, weight, bias)
    return BatchNormFn.apply(*args, running_mean=rm, running_var=rv, training=training, momentum=momentum,
                             eps=eps, axes=axes, num_batches_tracked=nbt)


# ------------------------------------------------------------------------------------- dropout
def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    x = _check_float(input, "dropout")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = default_generator().random(x.shape) >= p
    mask = keep.astype(x.data.dtype) / x.data.dtype.type(1.0 - p)
    return x * Tensor(mask)


# ------------------------------------------------------------------------------------- losses
def mse_loss(input, target, reduction="mean"):
    """Mean squared error (x - y)^2."""
    x = _check_float(input, "mse_loss")
    y = as_tensor(target)
    if x.shape != y.shape:
        raise ValueError(f"mse_loss: input shape {x.shape} and target shape {y.shape} differ")
    d = x - y
    return _reduce(d * d, reduction, "mse_loss")


def _class_last(x):
    """(N, C, d1, ...) -> (N*d1*..., C); (N, C) unchanged; (C,) -> (1, C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    perm = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.permute(*perm).reshape(-1, x.shape[1])


def _check_targets(t, C, ignore_index, name):
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-index targets must be integers, got dtype {t.dtype}")
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= C))
    if bad.any():
        first = int(t[bad][0])
        raise IndexError(f"{name}: target label {first} is out of range for {C} classes "
                         f"(expected 0 <= label < {C}, or ignore_index={ignore_index})")
    return valid


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of the target class from log-probabilities.

    input (N, C) or (N, C, d1, ...), target (N) or (N, d1, ...) of class indices.  With class weights
    w, the mean is sum_i w[t_i] * (-logp_i[t_i]) / sum_i w[t_i] over non-ignored samples.
    """
    x = _check_float(input, "nll_loss")
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if x.ndim < 1 or x.shape[:1] + x.shape[2:] != t.shape and not (x.ndim == 1 and t.ndim == 0):
        raise ValueError(f"nll_loss: input shape {x.shape} does not match target shape {t.shape} "
                         f"(expected input (N, C, ...) and target (N, ...))")
    C = x.shape[-1] if x.ndim == 1 else x.shape[1]
    valid = _check_targets(t, C, ignore_index, "nll_loss")
    logp = _class_last(x)
    tf = np.where(valid, t, 0).reshape(-1)
    vf = valid.reshape(-1)
    picked = logp[np.arange(tf.size), tf]
    w = vf.astype(x.data.dtype)
    if weight is not None:
        wt = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=x.data.dtype)
        if wt.shape != (C,):
            raise ValueError(f"nll_loss: weight must have shape ({C},), got {wt.shape}")
        w = w * wt[tf]
    loss = -picked * Tensor(w)
    if reduction == "mean":
        return loss.sum() / Tensor(np.asarray(w.sum(), dtype=x.data.dtype))
    if reduction == "none":
        return loss.reshape(t.shape)
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross entropy on logits: nll_loss(log_softmax(x)) with optional label smoothing.

    With smoothing eps the target distribution is (1 - eps) one-hot + eps / C, so the loss is
    (1 - eps) * nll + eps / C * sum_c (-w_c logp_c), normalised like nll (torch's definition).
    ``target`` may also hold class probabilities of the same shape as ``input``.
    """
    x = _check_float(input, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    cdim = 0 if x.ndim == 1 else 1
    C = x.shape[cdim]
    logp = log_softmax(x, dim=cdim)
    t_arr = np.asarray(target.data if isinstance(target, Tensor) else target)
    wt = None
    if weight is not None:
        wt = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=x.data.dtype)
        if wt.shape != (C,):
            raise ValueError(f"cross_entropy: weight must have shape ({C},), got {wt.shape}")
    wshape = [1] * x.ndim
    wshape[cdim] = C
    if t_arr.dtype.kind == "f":  # class probabilities
        if t_arr.shape != x.shape:
            raise ValueError(f"cross_entropy: probability targets must have the input's shape {x.shape}, "
                             f"got {t_arr.shape}")
        probs = t_arr * (1 - label_smoothing) + label_smoothing / C
        contrib = logp * Tensor(probs.astype(x.data.dtype))
        if wt is not None:
            contrib = contrib * Tensor(wt.reshape(wshape))
        loss = -contrib.sum(dim=cdim)
        if reduction == "mean":
            n = x.shape[0] if x.ndim > 1 else 1
            return loss.sum() / (loss.numel() if x.ndim > 2 else n)
        return _reduce(loss, reduction, "cross_entropy")
    try:
        nll = nll_loss(logp, t_arr, wt, ignore_index, reduction)
    except (IndexError, ValueError, TypeError) as e:
        raise type(e)(str(e).replace("nll_loss", "cross_entropy")) from None
    if label_smoothing == 0.0:
        return nll
    valid = t_arr != ignore_index
    per = logp * Tensor(wt.reshape(wshape)) if wt is not None else logp
    smooth = -per.sum(dim=cdim) * Tensor(valid.astype(x.data.dtype))
    if reduction == "mean":
        if wt is not None:
            denom = wt[t_arr[valid]].sum()
        else:
            denom = valid.sum()
        smooth = smooth.sum() / Tensor(np.asarray(denom, dtype=x.data.dtype))
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / C)


# ------------------------------------------------------------------------------------- misc
def flatten(input, start_dim=1, end_dim=-1):
    return as_tensor(input).flatten(start_dim, end_dim)


def pad(input, pad, mode="constant", value=0.0):
    """torch.nn.functional.pad: ``pad`` lists (left, right) pairs starting from the last dimension."""
    from ..tensor import pad as _pad
    return _pad(input, pad, mode=mode, value=value)


def one_hot(tensor, num_classes=-1):
    t = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got dtype {t.dtype}")
    n = int(t.max()) + 1 if num_classes < 0 else num_classes
    if t.size and (t.min() < 0 or t.max() >= n):
        raise IndexError(f"one_hot: class values must be in [0, {n}), got range [{t.min()}, {t.max()}]")
    return Tensor(np.eye(n, dtype=np.int64)[t])


__all__ = [name for name in dir() if not name.startswith("_") and name not in ("math", "np", "Tensor",
                                                                               "as_tensor")]
