"""Batch normalisation the way the notes (and Ioffe & Szegedy, 2015) write it: channel by channel.

Notes: S001-31 (BN and its core formula), S001-32 (which axes the mean and variance run over; training
versus inference), S001-35 (implement BN), S002-25 (why gamma and beta).

Fast counterpart: :class:`deepnotes.ops.norm.BatchNormFn` (channel sums as BLAS matrix-vector products,
then one multiply-add per channel forward, y = x a_c + b_c, and one fused expression backward,
dx = c1 dy + c2 x + c3, so no normalised copy of x is kept).

Here each channel's values are gathered into one vector and the textbook chain is followed step by
step: mean, variance, x_hat, y forward; dx_hat, dvar, dmu, dx backward.
"""

import numpy as np


def _channel_values(a, c):
    """All values of channel c of a (N, C, *) array, as one vector (over the batch and positions)."""
    return a[:, c].reshape(-1)


def batch_norm_forward(
    x, weight=None, bias=None, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5
):
    """Batch norm of x (N, C, *) per channel c, over its m = N * (spatial size) values.

    Training (S001-31):
        mu_c    = (1/m) sum x
        var_c   = (1/m) sum (x - mu_c)^2                    (biased: the batch's own spread)
        x_hat   = (x - mu_c) / sqrt(var_c + eps)
        y       = gamma_c * x_hat + beta_c
    and the running estimates move towards the batch statistics (S001-32), the variance in its
    unbiased form: r_mu <- (1 - momentum) r_mu + momentum mu_c,
    r_var <- (1 - momentum) r_var + momentum var_c * m / (m - 1).
    Evaluation: mu_c, var_c are the running estimates; nothing is updated.

    ``weight`` (gamma) and ``bias`` (beta) default to 1 and 0.  Returns (y, new_running_mean,
    new_running_var, cache); the running arrays are new arrays (the inputs are left alone; None stays
    None) and ``cache`` is what :func:`batch_norm_backward` needs.
    Fast kernel: :class:`deepnotes.ops.norm.BatchNormFn` (which updates the running arrays in place).
    """
    x = np.asarray(x)
    C = x.shape[1]
    gamma = np.ones(C, dtype=x.dtype) if weight is None else np.asarray(weight)
    beta = np.zeros(C, dtype=x.dtype) if bias is None else np.asarray(bias)
    y = np.empty_like(x)
    new_mean = None if running_mean is None else np.array(running_mean)
    new_var = None if running_var is None else np.array(running_var)
    mus, variances = np.zeros(C), np.zeros(C)
    for c in range(C):
        v = _channel_values(x, c)
        m = v.size
        if training:
            mu = sum(v) / m
            var = sum((v - mu) ** 2) / m
            if new_mean is not None:
                new_mean[c] = (1 - momentum) * new_mean[c] + momentum * mu
            if new_var is not None:
                new_var[c] = (1 - momentum) * new_var[c] + momentum * var * m / (m - 1)
        else:
            mu, var = running_mean[c], running_var[c]
        x_hat = (x[:, c] - mu) / np.sqrt(var + eps)
        y[:, c] = gamma[c] * x_hat + beta[c]
        mus[c], variances[c] = mu, var
    cache = dict(x=x, gamma=gamma, mean=mus, var=variances, eps=eps, training=training)
    return y, new_mean, new_var, cache


def batch_norm_backward(grad_out, cache):
    """Gradients (dx, dgamma, dbeta) of :func:`batch_norm_forward`, channel by channel.

    With dx_hat = dy * gamma_c and the m values of channel c (S001-31, back-propagated as in the paper):
        dbeta_c  = sum dy
        dgamma_c = sum dy * x_hat
        dvar     = sum dx_hat * (x - mu) * (-1/2) (var + eps)^(-3/2)
        dmu      = sum dx_hat * (-1 / sqrt(var + eps)) + dvar * (1/m) sum -2 (x - mu)
        dx       = dx_hat / sqrt(var + eps) + dvar * 2 (x - mu) / m + dmu / m
    In evaluation mode mu and var are constants, so dx = dx_hat / sqrt(var + eps).
    Notes: S001-31, S001-35, S001-112.  Fast kernel: :meth:`deepnotes.ops.norm.BatchNormFn.backward`.
    """
    dy = np.asarray(grad_out)
    x, gamma, eps = cache["x"], cache["gamma"], cache["eps"]
    C = x.shape[1]
    dx = np.empty_like(dy)
    dgamma, dbeta = np.zeros(C, dtype=dy.dtype), np.zeros(C, dtype=dy.dtype)
    for c in range(C):
        mu, var = cache["mean"][c], cache["var"][c]
        xc, g = _channel_values(x, c), _channel_values(dy, c)
        m = xc.size
        std = np.sqrt(var + eps)
        x_hat = (xc - mu) / std
        dbeta[c] = sum(g)
        dgamma[c] = sum(g * x_hat)
        dx_hat = g * gamma[c]
        if cache["training"]:
            dvar = sum(dx_hat * (xc - mu)) * -0.5 * (var + eps) ** -1.5
            dmu = sum(-dx_hat / std) + dvar * sum(-2 * (xc - mu)) / m
            dxc = dx_hat / std + dvar * 2 * (xc - mu) / m + dmu / m
        else:
            dxc = dx_hat / std
        dx[:, c] = dxc.reshape(dy[:, c].shape)
    return dx, dgamma, dbeta
