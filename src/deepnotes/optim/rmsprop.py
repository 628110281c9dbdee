"""RMSprop (Hinton's lecture 6e), with optional momentum and the centered variant."""

import numpy as np

from .optimizer import Optimizer, lerp_

__all__ = ["RMSprop"]


def _rmsprop_kernel(p, g, sq, gavg, buf, t1, t2, t3, *, lr, alpha, eps, weight_decay, momentum, maximize):
    if maximize:
        np.negative(g, out=t1)
        g = t1
    if weight_decay != 0:
        np.multiply(p, weight_decay, out=t2)
        np.add(g, t2, out=t1)
        g = t1
    sq *= alpha
    np.multiply(g, 1 - alpha, out=t2)
    t2 *= g
    sq += t2
    if gavg is not None:
        lerp_(gavg, g, 1 - alpha, t2)
        np.multiply(gavg, gavg, out=t2)
        np.subtract(sq, t2, out=t2)
        np.sqrt(t2, out=t2)
    else:
        np.sqrt(sq, out=t2)
    t2 += eps
    if buf is not None:
        buf *= momentum
        np.divide(g, t2, out=t3)
        buf += t3
        np.multiply(buf, -lr, out=t3)
        p += t3
    else:
        np.multiply(g, -lr, out=t3)
        t3 /= t2
        p += t3


class RMSprop(Optimizer):
    r"""RMSprop, torch's ``RMSprop``.

    .. math::
        g_t &\leftarrow g_t + \lambda\theta_{t-1},\qquad v_t = \alpha v_{t-1} + (1-\alpha) g_t^2\\
        \bar g_t &= \alpha \bar g_{t-1} + (1-\alpha) g_t,\quad
        \tilde v_t = v_t - \bar g_t^2 \text{ if centered else } v_t\\
        b_t &= \mu b_{t-1} + \frac{g_t}{\sqrt{\tilde v_t} + \epsilon},\qquad
        \theta_t = \theta_{t-1} - \gamma b_t \quad(\mu > 0)\\
        \theta_t &= \theta_{t-1} - \gamma \frac{g_t}{\sqrt{\tilde v_t} + \epsilon} \quad(\mu = 0)

    Args:
        params: parameters or param groups.
        lr (float): learning rate :math:`\gamma` (default 1e-2).
        alpha (float): smoothing constant :math:`\alpha` (default 0.99).
        eps (float): :math:`\epsilon` (default 1e-8).
        weight_decay (float): L2 penalty :math:`\lambda` (default 0).
        momentum (float): :math:`\mu` (default 0).
        centered (bool): normalise by the estimated variance of the gradient.
        maximize (bool): maximize the objective.

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (centered).
    """

    _param_shaped_state = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(
        self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *, maximize=False
    ):
        self._check(lr, "learning rate", lambda v: v >= 0, "lr >= 0")
        self._check(eps, "epsilon value", lambda v: v >= 0, "eps >= 0")
        self._check(momentum, "momentum value", lambda v: v >= 0, "momentum >= 0")
        self._check(weight_decay, "weight_decay value", lambda v: v >= 0, "weight_decay >= 0")
        self._check(alpha, "alpha value", lambda v: v >= 0, "alpha >= 0")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        self._check(group["eps"], "epsilon value", lambda v: v >= 0, "eps >= 0")
        self._check(group["momentum"], "momentum value", lambda v: v >= 0, "momentum >= 0")
        self._check(group["weight_decay"], "weight_decay value", lambda v: v >= 0, "weight_decay >= 0")
        self._check(group["alpha"], "alpha value", lambda v: v >= 0, "alpha >= 0")

    def step(self, closure=None):
        """Perform one RMSprop step; returns the closure's loss if a closure is given."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            momentum = float(group["momentum"])
            centered = bool(group["centered"])
            kw = dict(
                lr=float(group["lr"]),
                alpha=float(group["alpha"]),
                eps=float(group["eps"]),
                weight_decay=float(group["weight_decay"]),
                momentum=momentum,
                maximize=bool(group["maximize"]),
            )
            for p in group["params"]:
                g = self._grad(p)
                if g is None:
                    continue
                state = self.state[p]
                shape, dtype = p.data.shape, p.data.dtype
                if len(state) == 0:
                    state["step"] = 0.0
                    state["square_avg"] = np.zeros(shape, dtype=dtype)
                if momentum > 0 and "momentum_buffer" not in state:
                    state["momentum_buffer"] = np.zeros(shape, dtype=dtype)
                if centered and "grad_avg" not in state:
                    state["grad_avg"] = np.zeros(shape, dtype=dtype)
                state["step"] += 1
                self._foreach_block(
                    _rmsprop_kernel,
                    [
                        p.data,
                        g,
                        state["square_avg"],
                        state["grad_avg"] if centered else None,
                        state["momentum_buffer"] if momentum > 0 else None,
                    ],
                    3,
                    **kw,
                )
        return loss
