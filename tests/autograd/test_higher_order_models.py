"""Higher-order gradients of whole models and of scalar functions, against torch in float64: the WGAN-GP
gradient penalty of an MLP and of small convolutional critics (value, and gradient with respect to
every weight), a gradient-norm regulariser trained for a few steps, and third derivatives."""

import numpy as np
import pytest
import torch

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import nn
from deepnotes.autograd import grad

import _oracle as oracle

RTOL, ATOL = 1e-8, 1e-10


def _twin(build):
    """The same architecture in both libraries, with torch's initial weights copied over."""
    torch.manual_seed(0)
    theirs = build(torch.nn).double()
    ours = build(nn).double()
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def mlp(m):
    return m.Sequential(m.Linear(6, 16), m.Tanh(), m.Linear(16, 16), m.Softplus(), m.Linear(16, 1))


def conv_critic(m):
    return m.Sequential(
        m.Conv2d(1, 4, 4, 2, 1),
        m.LeakyReLU(0.2),
        m.Conv2d(4, 8, 4, 2, 1),
        m.LeakyReLU(0.2),
        m.Flatten(),
        m.Linear(8 * 2 * 2, 1),
    )


def conv_critic_layernorm(m):
    """WGAN-GP's recommended critic: layer norm instead of batch norm, plus avg pooling and SiLU."""
    return m.Sequential(
        m.Conv2d(2, 4, 3, 1, 1),
        m.LayerNorm([4, 8, 8]),
        m.LeakyReLU(0.2),
        m.AvgPool2d(2),
        m.Conv2d(4, 6, 3, 2, 1, bias=False),
        m.SiLU(),
        m.Flatten(),
        m.Linear(6 * 2 * 2, 1),
    )


def gradient_penalty(lib, critic, real, fake, eps):
    """((||grad_x D(x_hat)||_2 - 1)^2).mean() on interpolates x_hat = eps real + (1 - eps) fake."""
    x_hat = eps * real + (1 - eps) * fake
    x_hat.requires_grad_(True)
    out = critic(x_hat)
    if lib is torch:
        (g,) = torch.autograd.grad(out, x_hat, torch.ones_like(out), create_graph=True)
    else:
        (g,) = grad(out, x_hat, dn.ones_like(out), create_graph=True)
    norms = g.reshape(g.shape[0], -1).norm(2, dim=1)
    return ((norms - 1) ** 2).mean()


@pytest.mark.parametrize(
    "build, shape",
    [(mlp, (5, 6)), (conv_critic, (5, 1, 8, 8)), (conv_critic_layernorm, (3, 2, 8, 8))],
    ids=["mlp", "conv_leaky_relu", "conv_layernorm_avgpool"],
)
def test_wgan_gp_penalty_and_its_weight_gradients_equal_torch(build, shape):
    rng = np.random.default_rng(11)
    real, fake = rng.standard_normal(shape), rng.standard_normal(shape)
    eps = rng.random((shape[0],) + (1,) * (len(shape) - 1))
    ours, theirs = _twin(build)
    pd = gradient_penalty(dn, ours, dn.tensor(real), dn.tensor(fake), dn.tensor(eps))
    pt = gradient_penalty(torch, theirs, torch.tensor(real), torch.tensor(fake), torch.tensor(eps))
    oracle.assert_close(pd, pt.detach(), RTOL, ATOL, what="penalty")
    # the critic's loss as WGAN-GP trains it: D(fake) - D(real) + lambda * penalty
    loss_d = ours(dn.tensor(fake)).mean() - ours(dn.tensor(real)).mean() + 10 * pd
    loss_t = theirs(torch.tensor(fake)).mean() - theirs(torch.tensor(real)).mean() + 10 * pt
    loss_d.backward()
    loss_t.backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        oracle.assert_close(p.grad, q.grad, RTOL, ATOL, what=f"gradient of {name}")
    # and the penalty alone: parameters it does not reach stay without a gradient in both
    ours.zero_grad(set_to_none=True)
    theirs.zero_grad(set_to_none=True)
    gradient_penalty(dn, ours, dn.tensor(real), dn.tensor(fake), dn.tensor(eps)).backward()
    gradient_penalty(torch, theirs, torch.tensor(real), torch.tensor(fake), torch.tensor(eps)).backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert (p.grad is None) == (q.grad is None), name
        if q.grad is not None:
            oracle.assert_close(p.grad, q.grad, RTOL, ATOL, what=f"penalty gradient of {name}")


def test_training_with_a_gradient_norm_regulariser_tracks_torch():
    """Three Adam steps on cross entropy + ||d loss / d x||^2 (double backward every step)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 6))
    y = rng.integers(0, 3, 8)

    def build(m):
        return m.Sequential(m.Linear(6, 12), m.GELU(), m.Linear(12, 3))

    ours, theirs = _twin(build)
    opt_d = dn.optim.Adam(ours.parameters(), lr=0.01)
    opt_t = torch.optim.Adam(theirs.parameters(), lr=0.01)
    for _ in range(3):
        xd = dn.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        ld = F.cross_entropy(ours(xd), dn.tensor(y))
        lt = torch.nn.functional.cross_entropy(theirs(xt), torch.tensor(y))
        (gd,) = grad(ld, xd, create_graph=True)
        (gt,) = torch.autograd.grad(lt, xt, create_graph=True)
        total_d = ld + (gd * gd).sum()
        total_t = lt + (gt * gt).sum()
        opt_d.zero_grad()
        opt_t.zero_grad()
        total_d.backward()
        total_t.backward()
        opt_d.step()
        opt_t.step()
        oracle.assert_close(total_d, total_t.detach(), RTOL, ATOL)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        oracle.assert_close(p, q.detach(), 1e-7, 1e-9, what=name)


SCALAR_FUNCTIONS = {
    "tanh": (lambda x: x.tanh(), torch.tanh),
    "sigmoid_times_x": (lambda x: x.sigmoid() * x, lambda x: torch.sigmoid(x) * x),
    "exp_sin": (lambda x: (x.sin() * 2).exp(), lambda x: (x.sin() * 2).exp()),
    "gelu": (F.gelu, torch.nn.functional.gelu),
    "softplus_log": (lambda x: F.softplus(x).log(), lambda x: torch.nn.functional.softplus(x).log()),
    "rational": (lambda x: (x * x + 1) ** -1.5 / (x.exp() + 2), lambda x: (x * x + 1) ** -1.5 / (x.exp() + 2)),
}


@pytest.mark.parametrize("name", sorted(SCALAR_FUNCTIONS))
def test_third_and_fourth_derivatives_equal_torch(name):
    fd, ft = SCALAR_FUNCTIONS[name]
    points = np.linspace(-2.0, 2.0, 7)
    xd, xt = dn.tensor(points, requires_grad=True), torch.tensor(points, requires_grad=True)
    gd, gt = fd(xd).sum(), ft(xt).sum()
    for order in range(1, 5):
        (gd,) = grad(gd, xd, create_graph=True)
        (gt,) = torch.autograd.grad(gt, xt, create_graph=True)
        oracle.assert_close(gd, gt.detach(), 1e-8, 1e-9, what=f"derivative of order {order}")
        gd, gt = gd.sum(), gt.sum()


def test_third_derivative_of_tanh_matches_its_closed_form():
    points = np.linspace(-2.0, 2.0, 9)
    x = dn.tensor(points, requires_grad=True)
    y = x.tanh().sum()
    for _ in range(3):
        (y,) = grad(y, x, create_graph=True)
        y = y.sum()
    third = grad(grad(grad(x.tanh().sum(), x, create_graph=True)[0].sum(), x, create_graph=True)[0].sum(), x)[0]
    t = np.tanh(points)
    oracle.assert_close(third, -2 * (1 - t**2) * (1 - 3 * t**2), 1e-12, 1e-12)


def test_hessian_of_a_small_network_loss_equals_torch():
    """Full Hessian of an MLP loss in its first layer's weights, row by row by double backward."""
    rng = np.random.default_rng(2)
    x, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    w1, w2 = rng.standard_normal((5, 3)), rng.standard_normal((2, 5))
    a1, b1 = dn.tensor(w1, requires_grad=True), torch.tensor(w1, requires_grad=True)
    a2, b2 = dn.tensor(w2), torch.tensor(w2)
    ld = F.mse_loss(F.linear(F.elu(F.linear(dn.tensor(x), a1)), a2), dn.tensor(target))
    lt = torch.nn.functional.mse_loss(
        torch.nn.functional.linear(torch.nn.functional.elu(torch.nn.functional.linear(torch.tensor(x), b1)), b2),
        torch.tensor(target),
    )
    (gd,) = grad(ld, a1, create_graph=True)
    (gt,) = torch.autograd.grad(lt, b1, create_graph=True)
    for k in range(gd.data.size):
        i, j = divmod(k, 3)
        row_d = grad(gd[i, j], a1, retain_graph=True)[0]
        row_t = torch.autograd.grad(gt[i, j], b1, retain_graph=True)[0]
        oracle.assert_close(row_d, row_t, RTOL, ATOL, what=f"Hessian row {k}")
