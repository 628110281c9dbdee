"""Weight penalties added to a loss: L1 (sum |w|, sparsity) and L2 (sum w^2 / 2, weight decay)."""

from ...tensor import Tensor


def _params(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    params = list(parameters)
    if not params:
        raise ValueError("penalty: expected at least one parameter")
    return params


def l1_penalty(parameters, weight=1.0):
    """weight * sum_i |w_i| over all parameters (differentiable)."""
    total = None
    for p in _params(parameters):
        term = p.abs().sum()
        total = term if total is None else total + term
    return total * weight


def l2_penalty(parameters, weight=1.0):
    """weight / 2 * sum_i w_i^2; its gradient weight * w is what SGD's weight_decay adds."""
    total = None
    for p in _params(parameters):
        term = (p * p).sum()
        total = term if total is None else total + term
    return total * (weight / 2)
