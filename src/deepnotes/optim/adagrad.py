"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""

import numpy as np

from .optimizer import Optimizer

__all__ = ["Adagrad"]


def _adagrad_kernel(p, g, s, t1, t2, *, clr, weight_decay, eps, maximize):
    if maximize:
        np.negative(g, out=t1)
        g = t1
    if weight_decay != 0:
        np.multiply(p, weight_decay, out=t2)
        np.add(g, t2, out=t1)
        g = t1
    np.multiply(g, g, out=t2)
    s += t2
    np.sqrt(s, out=t2)
    t2 += eps
    np.multiply(g, -clr, out=t1)
    t1 /= t2
    p += t1


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al. 2011), torch's ``Adagrad``.

    Per step :math:`t`, with gradient :math:`g_t` (negated when ``maximize``):

    .. math::
        g_t &\leftarrow g_t + \lambda\theta_{t-1},\qquad
        \tilde\gamma = \frac{\gamma}{1 + (t-1)\eta}\\
        s_t &= s_{t-1} + g_t^2 \quad (s_0 = \text{initial\_accumulator\_value})\\
        \theta_t &= \theta_{t-1} - \tilde\gamma\, \frac{g_t}{\sqrt{s_t} + \epsilon}

    Args:
        params: parameters or param groups.
        lr (float): learning rate :math:`\gamma` (default 1e-2).
        lr_decay (float): :math:`\eta` (default 0).
        weight_decay (float): L2 penalty :math:`\lambda` (default 0).
        initial_accumulator_value (float): starting value of :math:`s` (default 0).
        eps (float): :math:`\epsilon` (default 1e-10).
        maximize (bool): maximize the objective.

    State per parameter (created at construction, as in torch): ``step`` and ``sum``.
    """

    _param_shaped_state = ("sum",)

    def __init__(
        self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *, maximize=False
    ):
        self._check(lr, "learning rate", lambda v: v >= 0, "lr >= 0")
        self._check(lr_decay, "lr_decay value", lambda v: v >= 0, "lr_decay >= 0")
        self._check(weight_decay, "weight_decay value", lambda v: v >= 0, "weight_decay >= 0")
        self._check(
            initial_accumulator_value,
            "initial_accumulator_value value",
            lambda v: v >= 0,
            "initial_accumulator_value >= 0",
        )
        self._check(eps, "epsilon value", lambda v: v >= 0, "eps >= 0")
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = 0.0
                state["sum"] = np.full(p.data.shape, group["initial_accumulator_value"], dtype=p.data.dtype)

    def _validate_group(self, group):
        super()._validate_group(group)
        self._check(group["lr_decay"], "lr_decay value", lambda v: v >= 0, "lr_decay >= 0")
        self._check(group["weight_decay"], "weight_decay value", lambda v: v >= 0, "weight_decay >= 0")
        self._check(
            group["initial_accumulator_value"],
            "initial_accumulator_value value",
            lambda v: v >= 0,
            "initial_accumulator_value >= 0",
        )
        self._check(group["eps"], "epsilon value", lambda v: v >= 0, "eps >= 0")

    def step(self, closure=None):
        """Perform one Adagrad step; returns the closure's loss if a closure is given."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            lr_decay = float(group["lr_decay"])
            kw = dict(
                weight_decay=float(group["weight_decay"]), eps=float(group["eps"]), maximize=bool(group["maximize"])
            )
            for p in group["params"]:
                g = self._grad(p)
                if g is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    # torch initialises late-added parameters from the optimizer-wide default
                    state["step"] = 0.0
                    state["sum"] = np.full(p.data.shape, self.defaults["initial_accumulator_value"], dtype=p.data.dtype)
                state["step"] = step = state["step"] + 1
                clr = lr / (1 + (step - 1) * lr_decay)
                self._foreach_block(_adagrad_kernel, [p.data, g, state["sum"]], 2, clr=clr, **kw)
        return loss
