"""Adamax: Adam with the infinity norm of past gradients in the denominator."""

import numpy as np

from .optimizer import Optimizer, lerp_

__all__ = ["Adamax"]


def _adamax_kernel(p, g, m, u, t1, t2, *, beta1, beta2, eps, weight_decay, clr, maximize):
    if maximize:
        np.negative(g, out=t1)
        g = t1
    if weight_decay != 0:
        np.multiply(p, weight_decay, out=t2)
        np.add(g, t2, out=t1)
        g = t1
    lerp_(m, g, 1 - beta1, t2)
    u *= beta2
    np.abs(g, out=t2)
    t2 += eps
    np.maximum(u, t2, out=u)
    np.multiply(m, -clr, out=t2)
    t2 /= u
    p += t2


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba 2015, section 7), torch's ``Adamax``.

    .. math::
        g_t &\leftarrow g_t + \lambda\theta_{t-1},\qquad m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t\\
        u_t &= \max(\beta_2 u_{t-1}, |g_t| + \epsilon),\qquad
        \theta_t = \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\frac{m_t}{u_t}

    Args:
        params: parameters or param groups.
        lr (float): learning rate :math:`\gamma` (default 2e-3).
        betas (tuple): :math:`(\beta_1, \beta_2)` in [0, 1) (default (0.9, 0.999)).
        eps (float): :math:`\epsilon` (default 1e-8).
        weight_decay (float): L2 penalty :math:`\lambda` (default 0).
        maximize (bool): maximize the objective.

    State per parameter: ``step``, ``exp_avg`` (:math:`m`), ``exp_inf`` (:math:`u`).
    """

    _param_shaped_state = ("exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False):
        self._check(lr, "learning rate", lambda v: v >= 0, "lr >= 0")
        self._check(eps, "epsilon value", lambda v: v >= 0, "eps >= 0")
        self._check_betas(betas)
        self._check(weight_decay, "weight_decay value", lambda v: v >= 0, "weight_decay >= 0")
        defaults = dict(
            lr=lr, betas=tuple(float(b) for b in betas), eps=eps, weight_decay=weight_decay, maximize=maximize
        )
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        self._check_non_negative(group, "eps", "weight_decay")
        self._check_betas(group["betas"])

    def step(self, closure=None):
        """Perform one Adamax step; returns the closure's loss if a closure is given."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            kw = dict(
                beta1=beta1,
                beta2=beta2,
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
                    state["exp_avg"] = np.zeros(p.data.shape, dtype=p.data.dtype)
                    state["exp_inf"] = np.zeros(p.data.shape, dtype=p.data.dtype)
                state["step"] = step = state["step"] + 1
                clr = lr / (1 - beta1**step)
                self._foreach_block(_adamax_kernel, [p.data, g, state["exp_avg"], state["exp_inf"]], 2, clr=clr, **kw)
        return loss
