"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay."""

import numpy as np

from .optimizer import Optimizer

__all__ = ["SGD"]


def _sgd_kernel(p, g, buf, t1, t2, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    if maximize:
        np.negative(g, out=t1)
        g = t1
    if weight_decay != 0:
        np.multiply(p, weight_decay, out=t2)
        np.add(g, t2, out=t1)
        g = t1
    if buf is not None:
        if first:
            np.copyto(buf, g)
        else:
            buf *= momentum
            if dampening == 0:
                buf += g
            else:
                np.multiply(g, 1 - dampening, out=t2)
                buf += t2
        if nesterov:
            np.multiply(buf, momentum, out=t2)
            np.add(g, t2, out=t1)
            g = t1
        else:
            g = buf
    np.multiply(g, -lr, out=t2)
    p += t2


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), torch's ``SGD``.

    Per step, with gradient :math:`g_t` (negated when ``maximize``):

    .. math::
        g_t &\leftarrow g_t + \lambda \theta_{t-1} \quad (\text{weight\_decay } \lambda)\\
        b_t &= \mu b_{t-1} + (1-\tau) g_t \quad (b_1 = g_1)\\
        g_t &\leftarrow g_t + \mu b_t \text{ if nesterov else } b_t\\
        \theta_t &= \theta_{t-1} - \gamma g_t

    Args:
        params: parameters or param groups.
        lr (float): learning rate :math:`\gamma` (default 1e-3).
        momentum (float): momentum factor :math:`\mu` (default 0).
        dampening (float): dampening :math:`\tau` for momentum (default 0).
        weight_decay (float): L2 penalty :math:`\lambda` (default 0).
        nesterov (bool): Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize (bool): maximize the objective instead of minimizing it.

    State per parameter: ``momentum_buffer`` (an array of the parameter's shape, when momentum != 0).
    """

    _param_shaped_state = ("momentum_buffer",)
    _scalar_state = ()

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False):
        self._check(lr, "learning rate", lambda v: v >= 0, "lr >= 0")
        self._check(momentum, "momentum value", lambda v: v >= 0, "momentum >= 0")
        self._check(dampening, "dampening value", lambda v: True, "a real number")
        self._check(weight_decay, "weight_decay value", lambda v: v >= 0, "weight_decay >= 0")
        self._check_nesterov(nesterov, momentum, dampening)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        self._check(group["momentum"], "momentum value", lambda v: v >= 0, "momentum >= 0")
        self._check(group["weight_decay"], "weight_decay value", lambda v: v >= 0, "weight_decay >= 0")
        self._check(group["dampening"], "dampening value", lambda v: True, "a real number")
        self._check_nesterov(group["nesterov"], group["momentum"], group["dampening"])

    def _check_nesterov(self, nesterov, momentum, dampening):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires a momentum and zero dampening, got "
                f"momentum={momentum}, dampening={dampening}"
            )

    def step(self, closure=None):
        """Perform one SGD step; returns the closure's loss if a closure is given."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            momentum = float(group["momentum"])
            kw = dict(
                lr=lr,
                momentum=momentum,
                dampening=float(group["dampening"]),
                weight_decay=float(group["weight_decay"]),
                nesterov=bool(group["nesterov"]),
                maximize=bool(group["maximize"]),
            )
            for p in group["params"]:
                g = self._grad(p)
                if g is None:
                    continue
                buf, first = None, False
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = np.empty(p.data.shape, dtype=p.data.dtype)
                        state["momentum_buffer"] = buf
                        first = True
                self._foreach_block(_sgd_kernel, [p.data, g, buf], 2, first=first, **kw)
        return loss
