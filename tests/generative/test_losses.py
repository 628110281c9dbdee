"""deepnotes.generative.losses against the same formulas written in torch: values and gradients, float64."""

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes import nn
from deepnotes.generative import losses as L

tF = torch.nn.functional


def _scores(seed, n=7, scale=3.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n) * scale


def _compare(ours, theirs, *arrays, atol=1e-12):
    """ours(*dn tensors) and theirs(*torch tensors) agree in value and in the gradient w.r.t. every input."""
    dts = [dn.tensor(a, dtype=dn.float64, requires_grad=True) for a in arrays]
    tts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = ours(*dts), theirs(*tts)
    assert out.dtype == dn.float64 and out.shape == ()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-12, atol=atol)
    out.backward()
    ref.backward()
    for d, t in zip(dts, tts):
        np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=atol)


# the torch oracles: the textbook definitions, written independently of our softplus forms
def bce_d(r, f):
    return tF.binary_cross_entropy_with_logits(r, torch.ones_like(r)) + tF.binary_cross_entropy_with_logits(
        f, torch.zeros_like(f)
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_gan_discriminator_loss(seed):
    _compare(L.gan_discriminator_loss, bce_d, _scores(seed), _scores(seed + 10))


def test_gan_discriminator_loss_extreme_scores_stay_finite():
    r, f = np.array([-80.0, 50.0, 0.0]), np.array([90.0, -60.0, 1.0])
    _compare(L.gan_discriminator_loss, bce_d, r, f, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_minimax_generator_loss(seed):
    # E[log(1 - D(G(z)))] with D = sigmoid
    _compare(L.minimax_generator_loss, lambda f: torch.log1p(-torch.sigmoid(f)).mean(), _scores(seed, scale=2.0))


@pytest.mark.parametrize("seed", [0, 1])
def test_nonsaturating_generator_loss(seed):
    _compare(L.nonsaturating_generator_loss, lambda f: -torch.log(torch.sigmoid(f)).mean(), _scores(seed, scale=2.0))


def test_saturation_of_the_minimax_loss():
    # the notes' point: where D rejects the fakes (score << 0) the minimax gradient vanishes, the other does not
    f = dn.tensor(np.full(4, -8.0), requires_grad=True)
    L.minimax_generator_loss(f).backward()
    g_mm = np.abs(f.grad.numpy()).sum()
    f2 = dn.tensor(np.full(4, -8.0), requires_grad=True)
    L.nonsaturating_generator_loss(f2).backward()
    g_ns = np.abs(f2.grad.numpy()).sum()
    assert g_mm < 1e-3 and g_ns > 0.99


@pytest.mark.parametrize("abc", [(0.0, 1.0, 1.0), (-1.0, 1.0, 0.0)])
def test_lsgan_losses(abc):
    a, b, c = abc
    r, f = _scores(2), _scores(3)
    _compare(
        lambda x, y: L.lsgan_discriminator_loss(x, y, a=a, b=b),
        lambda x, y: 0.5 * tF.mse_loss(x, torch.full_like(x, b)) + 0.5 * tF.mse_loss(y, torch.full_like(y, a)),
        r,
        f,
    )
    _compare(lambda y: L.lsgan_generator_loss(y, c=c), lambda y: 0.5 * tF.mse_loss(y, torch.full_like(y, c)), f)


def test_hinge_losses():
    r, f = _scores(4, 9, 1.5), _scores(5, 9, 1.5)
    _compare(L.hinge_discriminator_loss, lambda x, y: torch.relu(1 - x).mean() + torch.relu(1 + y).mean(), r, f)
    _compare(L.hinge_generator_loss, lambda y: -y.mean(), f)


def test_wasserstein_losses_with_different_batch_sizes():
    r, f = _scores(6, 5), _scores(7, 8)
    _compare(L.wasserstein_critic_loss, lambda x, y: y.mean() - x.mean(), r, f)
    _compare(L.wasserstein_generator_loss, lambda y: -y.mean(), f)


def test_losses_accept_n_by_1_scores():
    r, f = _scores(8).reshape(-1, 1), _scores(9).reshape(-1, 1)
    _compare(L.gan_discriminator_loss, bce_d, r, f)


def test_loss_table_names_the_command_line_losses():
    assert set(L.GAN_LOSSES) == {"gan", "nsgan", "lsgan", "hinge", "wgan", "wgan-gp"}
    assert L.GAN_LOSSES["gan"][1] is L.minimax_generator_loss
    assert L.GAN_LOSSES["nsgan"][1] is L.nonsaturating_generator_loss


def test_bad_inputs_name_the_function():
    with pytest.raises(TypeError, match="gan_discriminator_loss: real must be a Tensor"):
        L.gan_discriminator_loss(np.zeros(3), dn.zeros(3))
    with pytest.raises(ValueError, match="hinge_generator_loss: fake is empty"):
        L.hinge_generator_loss(dn.zeros(0))
    with pytest.raises(ValueError, match="cycle_consistency_loss: the two images must have the same shape"):
        L.cycle_consistency_loss(dn.zeros(2, 3), dn.zeros(3, 2))
    with pytest.raises(ValueError, match="both identity_x"):
        L.cyclegan_generator_loss(
            dn.zeros(2), dn.zeros(2), dn.zeros(2), dn.zeros(2), dn.zeros(2), dn.zeros(2), identity_x=dn.zeros(2)
        )


def test_clip_weights_():
    dn.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 5), nn.Linear(5, 1))
    for p in m.parameters():
        p.data[...] = np.linspace(-1, 1, p.numel()).reshape(p.shape)
    before = [p.data.copy() for p in m.parameters()]
    assert L.clip_weights_(m, 0.05) is None
    for p, b in zip(m.parameters(), before):
        np.testing.assert_array_equal(p.data, np.clip(b, -0.05, 0.05))
    t = dn.tensor(np.array([-3.0, 0.5, 2.0]))
    L.clip_weights_([t], 1.0)
    np.testing.assert_array_equal(t.numpy(), [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="clip_weights_: clip_value must be a positive"):
        L.clip_weights_(m, 0.0)
    with pytest.raises(TypeError, match="clip_weights_: expected a Module"):
        L.clip_weights_(3, 0.1)


def test_cyclegan_losses():
    rng = np.random.default_rng(11)
    shape = (3, 1, 4, 4)
    arrays = [rng.standard_normal(3), rng.standard_normal(3)] + [rng.standard_normal(shape) for _ in range(6)]

    def ours(dy, dx, x, xr, y, yr, xi, yi):
        return L.cyclegan_generator_loss(dy, dx, x, xr, y, yr, xi, yi, lambda_cycle=7.0, lambda_identity=0.3)

    def theirs(dy, dx, x, xr, y, yr, xi, yi):
        adv = 0.5 * ((dy - 1) ** 2).mean() + 0.5 * ((dx - 1) ** 2).mean()
        cyc = tF.l1_loss(xr, x) + tF.l1_loss(yr, y)
        idt = tF.l1_loss(xi, x) + tF.l1_loss(yi, y)
        return adv + 7.0 * cyc + 7.0 * 0.3 * idt

    _compare(ours, theirs, *arrays)
    _compare(L.cycle_consistency_loss, tF.l1_loss, arrays[3], arrays[2])
    _compare(L.identity_loss, tF.l1_loss, arrays[6], arrays[2])
    # without the identity terms
    _compare(
        lambda *a: L.cyclegan_generator_loss(*a),
        lambda dy, dx, x, xr, y, yr: (
            0.5 * ((dy - 1) ** 2).mean() + 0.5 * ((dx - 1) ** 2).mean() + 10.0 * (tF.l1_loss(xr, x) + tF.l1_loss(yr, y))
        ),
        *arrays[:6],
    )


# ------------------------------------------------------------------------------ WGAN-GP gradient penalty
def _critic_pair(seed):
    """A small conv critic (conv, leaky ReLU, linear) in deepnotes and the same one in torch, float64."""
    dn.manual_seed(seed)
    ours = nn.Sequential(
        nn.Conv2d(1, 3, 3, 2, 1, dtype=dn.float64),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(3 * 4 * 4, 1, dtype=dn.float64),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3, 2, 1),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 4 * 4, 1),
    ).double()
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(torch.from_numpy(p.data.copy()))
    return ours, theirs


def _torch_penalty(critic, real, fake, alpha):
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((g.reshape(len(g), -1).norm(2, dim=1) - 1) ** 2).mean()


@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_penalty_value_and_gradient_wrt_the_critic_equal_torch(seed):
    ours, theirs = _critic_pair(seed)
    rng = np.random.default_rng(seed)
    real, fake = rng.standard_normal((5, 1, 8, 8)), rng.standard_normal((5, 1, 8, 8))
    alpha = rng.random((5, 1, 1, 1))
    gp = L.gradient_penalty(ours, dn.tensor(real), dn.tensor(fake), alpha=alpha)
    ref = _torch_penalty(theirs, torch.tensor(real), torch.tensor(fake), torch.tensor(alpha))
    np.testing.assert_allclose(gp.item(), ref.item(), rtol=1e-10)
    gp.backward()
    ref.backward()
    reached = 0
    for p, q in zip(ours.parameters(), theirs.parameters()):
        # the output bias (and, through a piecewise-linear activation, the conv bias) does not change the
        # input gradient, so neither engine connects it to the penalty: no gradient, or zeros
        ours_g = np.zeros(p.shape) if p.grad is None else p.grad.numpy()
        theirs_g = np.zeros(tuple(q.shape)) if q.grad is None else q.grad.numpy()
        np.testing.assert_allclose(ours_g, theirs_g, rtol=1e-8, atol=1e-10)
        reached += p.grad is not None and bool(np.abs(ours_g).max() > 0)
    assert reached == 2  # both weight tensors


def test_gradient_penalty_draws_alpha_and_checks_shapes():
    ours, _ = _critic_pair(3)
    real = dn.tensor(np.random.default_rng(0).standard_normal((4, 1, 8, 8)))
    fake = dn.tensor(np.random.default_rng(1).standard_normal((4, 1, 8, 8)))
    dn.manual_seed(5)
    a = L.gradient_penalty(ours, real, fake).item()
    dn.manual_seed(5)
    b = L.gradient_penalty(ours, real, fake).item()
    assert a == b and np.isfinite(a) and a >= 0
    with pytest.raises(ValueError, match="gradient_penalty: real and fake must have the same shape"):
        L.gradient_penalty(ours, real, fake[:2])
    with pytest.raises(ValueError, match="gradient_penalty: alpha must hold one value per sample"):
        L.gradient_penalty(ours, real, fake, alpha=np.ones(3))


def test_gradient_penalty_of_a_linear_critic_is_known():
    # critic(x) = w . x: the input gradient is w everywhere, so the penalty is (|w| - 1)^2 exactly
    w = np.array([[0.3, -1.2, 2.0, 0.5]])
    lin = nn.Linear(4, 1, bias=False, dtype=dn.float64)
    lin.weight.data[...] = w
    rng = np.random.default_rng(0)
    gp = L.gradient_penalty(lin, dn.tensor(rng.standard_normal((6, 4))), dn.tensor(rng.standard_normal((6, 4))))
    assert gp.item() == pytest.approx((np.linalg.norm(w) - 1) ** 2, rel=1e-12)
