"""Adadelta: learning-rate-free updates from running averages of squared gradients and steps."""

import numpy as np

from .optimizer import Optimizer

__all__ = ["Adadelta"]


def _adadelta_kernel(p, g, sq, acc, t1, t2, t3, *, lr, rho, eps, weight_decay, maximize):
    if maximize:
        np.negative(g, out=t1)
        g = t1
    if weight_decay != 0:
        np.multiply(p, weight_decay, out=t2)
        np.add(g, t2, out=t1)
        g = t1
    sq *= rho
    np.multiply(g, 1 - rho, out=t2)
    t2 *= g
    sq += t2
    np.add(sq, eps, out=t2)
    np.sqrt(t2, out=t2)  # std
    np.add(acc, eps, out=t3)
    np.sqrt(t3, out=t3)  # delta = sqrt(acc + eps) / std * g
    t3 /= t2
    t3 *= g
    acc *= rho
    np.multiply(t3, 1 - rho, out=t2)
    t2 *= t3
    acc += t2
    t3 *= -lr
    p += t3


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012), torch's ``Adadelta``.

    .. math::
        g_t &\leftarrow g_t + \lambda\theta_{t-1}\\
        v_t &= \rho v_{t-1} + (1-\rho) g_t^2\\
        \Delta_t &= \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t\\
        u_t &= \rho u_{t-1} + (1-\rho)\Delta_t^2,\qquad \theta_t = \theta_{t-1} - \gamma\Delta_t

    Args:
        params: parameters or param groups.
        lr (float): scale :math:`\gamma` of the update (default 1.0).
        rho (float): decay :math:`\rho \in [0, 1]` of the running averages (default 0.9).
        eps (float): :math:`\epsilon` (default 1e-6).
        weight_decay (float): L2 penalty :math:`\lambda` (default 0).
        maximize (bool): maximize the objective.

    State per parameter: ``step``, ``square_avg`` (:math:`v`), ``acc_delta`` (:math:`u`).
    """

    _param_shaped_state = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        self._check(lr, "learning rate", lambda v: v >= 0, "lr >= 0")
        self._check(rho, "rho value", lambda v: 0.0 <= v <= 1.0, "0 <= rho <= 1")
        self._check(eps, "epsilon value", lambda v: v >= 0, "eps >= 0")
        self._check(weight_decay, "weight_decay value", lambda v: v >= 0, "weight_decay >= 0")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        self._check(group["rho"], "rho value", lambda v: 0.0 <= v <= 1.0, "0 <= rho <= 1")
        self._check(group["eps"], "epsilon value", lambda v: v >= 0, "eps >= 0")
        self._check(group["weight_decay"], "weight_decay value", lambda v: v >= 0, "weight_decay >= 0")

    def step(self, closure=None):
        """Perform one Adadelta step; returns the closure's loss if a closure is given."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            kw = dict(
                lr=float(group["lr"]),
                rho=float(group["rho"]),
                eps=float(group["eps"]),
                weight_decay=float(group["weight_decay"]),
                maximize=bool(group["maximize"]),
            )
            for p in group["params"]:
                g = self._grad(p)
                if g is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0.0
                    state["square_avg"] = np.zeros(p.data.shape, dtype=p.data.dtype)
                    state["acc_delta"] = np.zeros(p.data.shape, dtype=p.data.dtype)
                state["step"] += 1
                self._foreach_block(_adadelta_kernel, [p.data, g, state["square_avg"], state["acc_delta"]], 3, **kw)
        return loss
