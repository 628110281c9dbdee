"""Adam (with AMSGrad) and AdamW (decoupled weight decay)."""

import numpy as np

from .optimizer import Optimizer, lerp_

__all__ = ["Adam", "AdamW"]


def _adam_kernel(
    p,
    g,
    m,
    v,
    vmax,
    t1,
    t2,
    *,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    decoupled,
    maximize,
    step_size,
    bias_correction2_sqrt,
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
    if vmax is not None:
        np.maximum(vmax, v, out=vmax)
        np.sqrt(vmax, out=t2)
    else:
        np.sqrt(v, out=t2)
    t2 /= bias_correction2_sqrt
    t2 += eps
    np.multiply(m, -step_size, out=t1)
    t1 /= t2
    p += t1


class Adam(Optimizer):
    r"""Adam, torch's ``Adam`` (single-tensor algorithm).

    Per step :math:`t`, with gradient :math:`g_t` (negated when ``maximize``):

    .. math::
        g_t &\leftarrow g_t + \lambda\theta_{t-1} \quad\text{(or } \theta_{t-1} \leftarrow
              (1-\gamma\lambda)\theta_{t-1} \text{ if decoupled)}\\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t,\qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2\\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \text{ if amsgrad else } v_t\\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
              \frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Args:
        params: parameters or param groups.
        lr (float): learning rate :math:`\gamma` (default 1e-3).
        betas (tuple): :math:`(\beta_1, \beta_2)`, each in [0, 1) (default (0.9, 0.999)).
        eps (float): :math:`\epsilon` added to the denominator (default 1e-8).
        weight_decay (float): :math:`\lambda` (default 0), L2 (coupled) unless
            ``decoupled_weight_decay``.
        amsgrad (bool): use the running maximum of :math:`v_t` (AMSGrad).
        maximize (bool): maximize the objective.
        decoupled_weight_decay (bool): AdamW-style weight decay.

    State per parameter: ``step`` (float), ``exp_avg``, ``exp_avg_sq`` and, with amsgrad,
    ``max_exp_avg_sq`` (arrays of the parameter's shape).
    """

    _param_shaped_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        *,
        maximize=False,
        decoupled_weight_decay=False,
    ):
        self._check(lr, "learning rate", lambda v: v >= 0, "lr >= 0")
        self._check(eps, "epsilon value", lambda v: v >= 0, "eps >= 0")
        self._check_betas(betas)
        self._check(weight_decay, "weight_decay value", lambda v: v >= 0, "weight_decay >= 0")
        defaults = dict(
            lr=lr,
            betas=tuple(float(b) for b in betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        self._check_non_negative(group, "eps", "weight_decay")
        self._check_betas(group["betas"])

    def step(self, closure=None):
        """Perform one Adam step; returns the closure's loss if a closure is given."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            amsgrad = bool(group["amsgrad"])
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
                    state["exp_avg"] = np.zeros(p.data.shape, dtype=p.data.dtype)
                    state["exp_avg_sq"] = np.zeros(p.data.shape, dtype=p.data.dtype)
                    if amsgrad:
                        state["max_exp_avg_sq"] = np.zeros(p.data.shape, dtype=p.data.dtype)
                if amsgrad and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = np.zeros(p.data.shape, dtype=p.data.dtype)
                state["step"] = step = state["step"] + 1
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                vmax = state["max_exp_avg_sq"] if amsgrad else None
                self._foreach_block(
                    _adam_kernel,
                    [p.data, g, state["exp_avg"], state["exp_avg_sq"], vmax],
                    2,
                    step_size=lr / bias_correction1,
                    bias_correction2_sqrt=bias_correction2**0.5,
                    **kw,
                )
        return loss


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter), torch's ``AdamW``.

    Same as :class:`Adam` with ``decoupled_weight_decay=True``: before the Adam update the
    parameters shrink as :math:`\theta \leftarrow (1 - \gamma\lambda)\theta`; the gradient is not
    modified.  Default ``weight_decay`` is 1e-2.
    """

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *, maximize=False
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
