"""Loss functions: regression (MSE, L1, smooth L1, Huber), classification (NLL, cross entropy, binary
cross entropy, KL divergence) and the class-imbalance losses (balanced CE, focal losses), plus label
smoothing as a target transform."""

import warnings

import numpy as np

from ...ops import activation as _act
from ...ops.elementwise import LogSoftmax
from ...ops.loss import BCEWithLogitsFn as _BCEWithLogits
from ...ops.loss import _BinaryCrossEntropy, _PickNLL, _XLogX
from ...tensor import Tensor, get_default_dtype
from ._array_losses import sigmoid_focal_loss as _array_sigmoid_focal_loss
from ._array_losses import smooth_l1_loss as _array_smooth_l1_loss
from ._utils import _array, _check_float, _check_reduction, _int, _legacy_reduction, _reduce, _tensor


# ------------------------------------------------------------------------------------- losses
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error l_i = w_i (x_i - y_i)^2; with ``weight`` the mean is sum(l) / sum(w).

    ``target`` broadcasts against ``input`` (with a warning when the shapes differ, as torch).
    """
    return _mse_loss(input, target, _legacy_reduction(size_average, reduce, reduction), weight, "mse_loss")


def _mse_loss(input, target, reduction, weight, name):
    x, y = _pointwise_operands(input, target, reduction, name)
    d = x - y
    return _weighted_reduce(d * d, weight, x.shape, reduction, name)


def _class_targets(t, C, ignore_index, name):
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: class-index targets must be integers, got dtype {t.dtype} (use class "
            f"probabilities of the input's shape for soft targets)"
        )
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= C))
    if bad.any():
        first = int(t[bad].reshape(-1)[0])
        raise IndexError(
            f"{name}: target label {first} is out of range for {C} classes (expected "
            f"0 <= label < {C}, or ignore_index={ignore_index})"
        )
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
        raise ValueError(
            f"{name}: input of shape {logp.shape} needs a target of shape {expected} "
            f"(input (N, C, d1, ...) and target (N, d1, ...), or input (C,) and a scalar "
            f"target), got target shape {t.shape}"
        )
    C = logp.shape[0] if one_d else logp.shape[1]
    valid = _class_targets(t, C, ignore_index, name)
    dtype = logp.data.dtype
    lp = logp.reshape(1, C) if one_d else logp
    if lp.ndim > 2:  # (N, C, d1, ...) -> (N, C, M): the class axis stays axis 1, no transpose needed
        lp = lp.reshape(lp.shape[0], C, int(np.prod(lp.shape[2:])))  # explicit: -1 is ambiguous when N = 0
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


def cross_entropy(
    input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean", label_smoothing=0.0
):
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
            raise ValueError(f"{name}: probability targets must have the input's shape {x.shape}, got {t.shape}")
        # a target tensor stays in the graph: its gradient -w_c logp_c flows back, as in torch
        q = target if isinstance(target, Tensor) else Tensor(t)
        if q.data.dtype != x.data.dtype:
            q = q.to(x.data.dtype)
        if label_smoothing:
            q = q * (1 - label_smoothing) + label_smoothing / C
        if w is not None:
            q = q * Tensor(w.reshape(wshape))
        loss = -(logp * q).sum(dim=cdim)
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


def _pointwise_operands(input, target, reduction, name, stacklevel=4):
    """``input`` and ``target`` as tensors for an elementwise loss; like torch, differing shapes
    broadcast with a warning (``stacklevel`` points it at the user's call)."""
    x = _check_float(input, name)
    y = _tensor(target, name)
    _check_reduction(reduction, name)
    if y.shape != x.shape:
        try:
            np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise ValueError(f"{name}: target shape {y.shape} does not broadcast to input shape {x.shape}") from None
        warnings.warn(
            f"{name}: using a target size {y.shape} that is different to the input size "
            f"{x.shape}; the values broadcast, which is likely not intended",
            stacklevel=stacklevel,
        )
    return x, y


def _weighted_reduce(loss, weight, shape, reduction, name, mean_over_weight=True):
    """Multiply by an optional ``weight`` of the input's ``shape`` and reduce; the weighted 'mean' is
    sum(w l) / sum(w) (``mean_over_weight``) or the plain mean of w l (torch's huber_loss)."""
    if weight is None:
        return _reduce(loss, reduction, name)
    w = _tensor(weight, name)
    if w.shape != shape:
        raise ValueError(f"{name}: weight must have the input's shape {shape}, got {w.shape}")
    loss = loss * w
    if reduction == "mean" and mean_over_weight:
        return loss.sum() / w.sum()
    return _reduce(loss, reduction, name)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error l_i = w_i |x_i - y_i|; with ``weight`` the mean is sum(l) / sum(w).

    The gradient at x_i = y_i is 0 (torch's sign(0)).  ``target`` broadcasts (with a warning).
    """
    name = "l1_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    x, y = _pointwise_operands(input, target, reduction, name, stacklevel=3)
    return _weighted_reduce((x - y).abs(), weight, x.shape, reduction, name)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Smooth L1 of d = x - y: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (L1 when beta = 0).

    Quadratic near zero (gradient d / beta, no kink), linear outside (gradient sign(d), robust to
    outliers); Fast R-CNN's box regression loss.
    """
    name = "smooth_l1_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    x, y = _pointwise_operands(input, target, reduction, name, stacklevel=3)
    return _array_smooth_l1_loss(x, y, beta=beta, reduction=reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Huber loss of d = x - y: 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta).

    Equals delta * smooth_l1_loss(beta=delta): the same shape, but the linear part has slope delta
    instead of 1.  With ``weight`` (input's shape) the 'mean' is the plain mean of w l (torch).
    """
    name = "huber_loss"
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.integer, np.floating)) or not delta > 0:
        raise ValueError(f"{name}: delta must be a positive number, got {delta!r}")
    x, y = _pointwise_operands(input, target, reduction, name, stacklevel=3)
    loss = _array_smooth_l1_loss(x, y, beta=delta, reduction="none") * delta
    return _weighted_reduce(loss, weight, x.shape, reduction, name, mean_over_weight=False)


def _same_shape_target(x, target, name, message):
    t = _tensor(target, name)
    if t.shape != x.shape:
        raise ValueError(f"{name}: {message} target shape {t.shape}, input shape {x.shape}")
    return t if t.data.dtype == x.data.dtype else t.to(x.data.dtype)


def _broadcast_weight(weight, shape, name, label):
    if weight is None:
        return None
    w = _tensor(weight, name)
    try:
        if np.broadcast_shapes(w.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{name}: {label} of shape {w.shape} does not broadcast to the input shape {shape}") from None
    return w


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross entropy on probabilities: l = -w (t log x + (1 - t) log(1 - x)).

    input and target of the same shape, input in [0, 1] (use the logits version when you have
    logits: it is exact where this one clamps log at -100); ``weight`` broadcasts to the input.
    """
    name = "binary_cross_entropy"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name)
    x = _check_float(input, name)
    t = _same_shape_target(x, target, name, "expected a target of the input's shape (as torch), got")
    xa = x.data
    if xa.size and not ((xa >= 0) & (xa <= 1)).all():
        raise ValueError(
            f"{name}: all elements of input must be probabilities in [0, 1], got values in "
            f"[{np.nanmin(xa)}, {np.nanmax(xa)}] (use binary_cross_entropy_with_logits for logits)"
        )
    ta = t.data
    if ta.size and not ((ta >= 0) & (ta <= 1)).all():
        raise ValueError(
            f"{name}: all elements of target must be in [0, 1], got values in [{np.min(ta)}, {np.max(ta)}]"
        )
    loss = _BinaryCrossEntropy.apply(x, t)
    w = _broadcast_weight(weight, x.shape, name, "weight")
    return _reduce(loss if w is None else loss * w, reduction, name)


def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """Binary cross entropy on logits, exact for any magnitude:
    l = w [(1 - t) x + (1 + (p - 1) t) log(1 + e^-x)], computed as max(x, 0) - x t + log(1 + e^-|x|)
    plus (p - 1) t softplus(-x) when ``pos_weight`` p is given.

    ``weight`` broadcasts to the input; ``pos_weight`` (one value per class, broadcast along the last
    axis) scales the positive term: p > 1 favours recall, p = #neg / #pos balances classes.
    """
    name = "binary_cross_entropy_with_logits"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name)
    x = _check_float(input, name)
    t = _same_shape_target(x, target, name, "target size must be the same as input size, got")
    bce = _BCEWithLogits
    loss = bce.apply(x, t)
    pw = _broadcast_weight(pos_weight, x.shape, name, "pos_weight")
    if pw is not None:
        softplus_neg = _act.SoftplusFn.apply(-x, beta=1.0, threshold=np.inf)  # log(1 + e^-x), exact
        loss = loss + (pw - 1) * t * softplus_neg
    w = _broadcast_weight(weight, x.shape, name, "weight")
    return _reduce(loss if w is None else loss * w, reduction, name)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence KL(target || q) with ``input`` = log q (log-probabilities):
    l = t (log t - x) (0 where t = 0), or with ``log_target`` (target given as log t) l = e^t (t - x).

    reduction: 'batchmean' (sum / batch size: the true KL per sample), 'sum', 'none', or 'mean'
    (sum / number of elements, with torch's warning that it is not the KL divergence).
    """
    name = "kl_div"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("none", "batchmean", "sum", "mean"):
        raise ValueError(f"{name}: reduction must be one of ('none', 'batchmean', 'sum', 'mean'), got {reduction!r}")
    x = _check_float(input, name)
    t = _tensor(target, name)
    try:
        np.broadcast_shapes(x.shape, t.shape)
    except ValueError:
        raise ValueError(f"{name}: target shape {t.shape} does not broadcast to input shape {x.shape}") from None
    if t.data.dtype.kind != "f":
        t = t.to(x.data.dtype)
    if reduction == "mean":
        warnings.warn(
            f"{name}: reduction='mean' divides the total loss by both the batch size and the "
            "support size; 'batchmean' divides only by the batch size and matches the KL "
            "divergence",
            stacklevel=2,
        )
    loss = t.exp() * (t - x) if log_target else _XLogX.apply(t) - t * x
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    return _reduce(loss, reduction, name)


def balanced_cross_entropy(input, target, alpha=None, reduction="mean"):
    """Class-balanced binary cross entropy on logits (HED; the alpha-balanced CE of the focal-loss
    paper): l = -alpha t log p - (1 - alpha)(1 - t) log(1 - p), p = sigmoid(x).

    ``alpha`` weights the positives; None sets it from the target as the fraction of negatives,
    alpha / (1 - alpha) = #neg / #pos (alpha = 1 - mean(t)), so both classes contribute equally.
    Equals sigmoid_focal_loss with gamma = 0.
    """
    name = "balanced_cross_entropy"
    x = _check_float(input, name)
    t = _tensor(target, name)
    if alpha is None:
        alpha = 1.0 - float(t.data.mean()) if t.data.size else 0.5
    elif isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)) or not 0 <= alpha <= 1:
        raise ValueError(f"{name}: alpha must be a number in [0, 1] or None, got {alpha!r}")
    return _array_sigmoid_focal_loss(x, t, alpha=alpha, gamma=0, reduction=reduction)


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """RetinaNet's focal loss on logits, torchvision's formula and defaults:
    l = alpha_t (1 - p_t)^gamma BCE(x, t), p_t = p t + (1 - p)(1 - t), alpha_t = alpha t + (1 - alpha)(1 - t)
    (alpha = -1: no weighting).  (1 - p_t)^gamma down-weights easy, well-classified examples.
    """
    name = "sigmoid_focal_loss"
    return _array_sigmoid_focal_loss(
        _check_float(inputs, name), _tensor(targets, name), alpha=alpha, gamma=gamma, reduction=reduction
    )


def softmax_focal_loss(input, target, gamma=2.0, alpha=None, reduction="mean", ignore_index=-100):
    """Multi-class focal loss on logits: l = -alpha[t] (1 - p_t)^gamma log p_t, p = softmax(x, dim=1).

    input (N, C), (N, C, d1, ...) or (C,); target class indices (N, d1, ...) or ().  ``alpha``: None,
    a number (all classes) or C per-class weights.  gamma = 0 and alpha = None give cross entropy.
    'mean' averages over the non-ignored samples.
    """
    name = "softmax_focal_loss"
    x = _check_float(input, name)
    _check_reduction(reduction, name)
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)) or gamma < 0:
        raise ValueError(f"{name}: gamma must be a non-negative number, got {gamma!r}")
    if x.ndim == 0:
        raise ValueError(f"{name}: expected input of shape (N, C, ...) or (C,), got a scalar")
    cdim = 0 if x.ndim == 1 else 1
    C = x.shape[cdim]
    t = _array(target)
    if alpha is not None and np.ndim(_array(alpha)) == 0:
        alpha = np.full(C, float(_array(alpha)))
    w = _class_weight(alpha, C, x.data.dtype, name)
    logp = LogSoftmax.apply(x, dim=cdim)
    nll, sw = _nll(logp, t, None, ignore_index, "none", name)  # -log p_t, 0 where ignored
    valid = sw
    if w is not None:
        sw = sw * w[np.where(valid > 0, t.reshape(sw.shape), 0)]
    # on ignored samples p_t is 1 and (1 - p_t)^gamma may have an infinite slope: use any finite value
    # there (the sample weight 0 removes it)
    neg_logpt = nll + Tensor(np.where(valid > 0, 0, 1).astype(x.data.dtype).reshape(nll.shape))
    modulating = (1 - (-neg_logpt).exp()) ** gamma if gamma != 0 else 1
    loss = modulating * nll * Tensor(sw.reshape(nll.shape))
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return loss.sum() / Tensor(np.asarray(valid.sum(), dtype=x.data.dtype))
    return _reduce(loss, reduction, name)


def smooth_labels(target, num_classes, eps=0.1, dim=1, dtype=None):
    """Label smoothing as a target transform: q = (1 - eps) onehot(t) + eps / C.

    Integer class indices (N, d1, ...) become probabilities with the class axis inserted at ``dim``
    (default 1, the layout cross_entropy expects: (N,) -> (N, C), (N, d1) -> (N, C, d1); a scalar
    target gives (C,)); floating targets are taken as distributions along ``dim`` and smoothed.
    cross_entropy(x, smooth_labels(t, C, eps)) equals cross_entropy(x, t, label_smoothing=eps).
    """
    name = "smooth_labels"
    t = _array(target)
    C = _int(num_classes, f"{name} num_classes")
    if C < 1:
        raise ValueError(f"{name}: num_classes must be positive, got {C}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) or not 0 <= eps <= 1:
        raise ValueError(f"{name}: eps must be a number in [0, 1], got {eps!r}")
    dt = np.dtype(get_default_dtype() if dtype is None else dtype)
    if t.dtype.kind in "iu":
        if t.size and (t.min() < 0 or t.max() >= C):
            raise IndexError(f"{name}: class values must be in [0, {C}), got range [{t.min()}, {t.max()}]")
        q = np.eye(C, dtype=dt)[t]
        d = min(_int(dim, f"{name} dim"), t.ndim)
        q = np.moveaxis(q, -1, d)
    elif t.dtype.kind == "f":
        d = _int(dim, f"{name} dim") if t.ndim > 1 else 0
        if t.ndim == 0 or t.shape[d] != C:
            raise ValueError(f"{name}: probability targets need {C} classes along dim {d}, got shape {t.shape}")
        q = t.astype(dt)
    else:
        raise TypeError(f"{name}: expected integer class indices or floating probabilities, got dtype {t.dtype}")
    return Tensor(np.ascontiguousarray(q * dt.type(1 - eps) + dt.type(eps / C)))
