"""NAdam: Adam with Nesterov momentum and a momentum-decay schedule (Dozat 2016)."""

import numpy as np

from .optimizer import Optimizer, lerp_

__all__ = ["NAdam"]


def _nadam_kernel(
    p,
    g,
    m,
    v,
    t1,
    t2,
    t3,
    *,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    decoupled,
    maximize,
    bias_correction2,
    coef_grad,
    coef_avg,
):
    if maximize:
        np.negative(g, out=t1)
        g = t1
    if weight_decay != 0:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            np.multiply(p, weight_decay, out=t2)
            np.add(g, t2, out=t1)
            g = t1
    lerp_(m, g, 1 - beta1, t2)
    v *= beta2
    np.multiply(g, 1 - beta2, out=t2)
    t2 *= g
    v += t2
    np.divide(v, bias_correction2, out=t2)
    np.sqrt(t2, out=t2)
    t2 += eps
    np.multiply(g, coef_grad, out=t3)
    t3 /= t2
    p += t3
    np.multiply(m, coef_avg, out=t3)
    t3 /= t2
    p += t3


class NAdam(Optimizer):
    r"""NAdam, torch's ``NAdam``.

    With :math:`\mu_t = \beta_1 (1 - \frac12 0.96^{t\psi})` (``momentum_decay`` :math:`\psi`):

    .. math::
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t,\qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2\\
        \theta_t &= \theta_{t-1}
          - \gamma\frac{1-\mu_t}{1-\prod_{i\le t}\mu_i}\frac{g_t}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}
          - \gamma\frac{\mu_{t+1}}{1-\prod_{i\le t+1}\mu_i}\frac{m_t}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}

    Args:
        params: parameters or param groups.
        lr (float): learning rate :math:`\gamma` (default 2e-3).
        betas (tuple): :math:`(\beta_1, \beta_2)` in [0, 1) (default (0.9, 0.999)).
        eps (float): :math:`\epsilon` (default 1e-8).
        weight_decay (float): :math:`\lambda` (default 0), L2 unless ``decoupled_weight_decay``.
        momentum_decay (float): :math:`\psi` (default 4e-3).
        decoupled_weight_decay (bool): AdamW-style decay (NAdamW).
        maximize (bool): maximize the objective.

    State per parameter: ``step``, ``mu_product`` (floats), ``exp_avg``, ``exp_avg_sq``.
    """

    _param_shaped_state = ("exp_avg", "exp_avg_sq")
    _scalar_state = ("step", "mu_product")

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
        *,
        maximize=False,
    ):
        self._check(lr, "learning rate", lambda v: v >= 0, "lr >= 0")
        self._check(eps, "epsilon value", lambda v: v >= 0, "eps >= 0")
        self._check_betas(betas)
        self._check(weight_decay, "weight_decay value", lambda v: v >= 0, "weight_decay >= 0")
        self._check(momentum_decay, "momentum_decay value", lambda v: v >= 0, "momentum_decay >= 0")
        defaults = dict(
            lr=lr,
            betas=tuple(float(b) for b in betas),
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        self._check_non_negative(group, "eps", "weight_decay", "momentum_decay")
        self._check_betas(group["betas"])

    def step(self, closure=None):
        """Perform one NAdam step; returns the closure's loss if a closure is given."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            momentum_decay = float(group["momentum_decay"])
            kw = dict(
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                eps=float(group["eps"]),
                weight_decay=float(group["weight_decay"]),
                decoupled=bool(group["decoupled_weight_decay"]),
                maximize=bool(group["maximize"]),
            )
            for p in group["params"]:
                g = self._grad(p)
                if g is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0.0
                    state["mu_product"] = 1.0
                    state["exp_avg"] = np.zeros(p.data.shape, dtype=p.data.dtype)
                    state["exp_avg_sq"] = np.zeros(p.data.shape, dtype=p.data.dtype)
                state["step"] = step = state["step"] + 1
                bias_correction2 = 1 - beta2**step
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                state["mu_product"] = mu_product = state["mu_product"] * mu
                mu_product_next = mu_product * mu_next
                self._foreach_block(
                    _nadam_kernel,
                    [p.data, g, state["exp_avg"], state["exp_avg_sq"]],
                    3,
                    bias_correction2=bias_correction2,
                    coef_grad=-lr * (1.0 - mu) / (1.0 - mu_product),
                    coef_avg=(-lr * mu_next) / (1.0 - mu_product_next),
                    **kw,
                )
        return loss
