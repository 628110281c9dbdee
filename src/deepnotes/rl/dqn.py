"""Deep Q-learning (Mnih et al. 2015): an online Q-network trained towards a periodically synced target network.

For a transition ``(s, a, r, s', done)`` the online network's ``Q(s, a)`` is pulled towards the target

    y = r + gamma * (1 - done) * max_a' Q_target(s', a')

with the Huber loss (``smooth_l1_loss``: quadratic for errors below ``huber_beta``, linear above, so one
surprising transition cannot produce a huge gradient).  ``Q_target`` is a copy of the online network
refreshed every ``target_update_every`` environment steps, so the regression target does not move with
every update.  Double DQN (van Hasselt et al. 2016) picks ``a'`` with the online network and evaluates it
with the target network, ``y = r + gamma * (1 - done) * Q_target(s', argmax_a' Q(s', a'))``, which
reduces the overestimation that taking a max over noisy estimates causes.  Actions are epsilon-greedy
with epsilon decaying linearly.  ``done`` means *terminated* only: a time-limit truncation still
bootstraps from ``s'``.
"""

import math

import numpy as np

from .. import nn
from .. import optim as _optim
from ..autograd import no_grad
from ..nn import functional as F
from ..tensor import from_numpy
from .replay import ReplayBuffer, Transitions

__all__ = ["DQNAgent", "LinearSchedule", "q_network"]


class LinearSchedule:
    """``start`` at step 0 moving linearly to ``end`` at step ``duration``, then constant."""

    def __init__(self, start, end, duration):
        fn = "LinearSchedule"
        for name, value in (("start", start), ("end", end)):
            if not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise ValueError(f"{fn}: {name} must be a finite number, got {value!r}")
        if isinstance(duration, bool) or not isinstance(duration, (int, np.integer)) or duration < 0:
            raise ValueError(f"{fn}: duration must be a non-negative integer, got {duration!r}")
        self.start, self.end, self.duration = float(start), float(end), int(duration)

    def __call__(self, step):
        if step < 0:
            raise ValueError(f"LinearSchedule: step must be >= 0, got {step}")
        if self.duration == 0 or step >= self.duration:
            return self.end
        return self.start + (self.end - self.start) * (step / self.duration)

    def __repr__(self):
        return f"LinearSchedule(start={self.start}, end={self.end}, duration={self.duration})"


def q_network(obs_dim, n_actions, hidden=(128, 128), rng=None, dtype=np.float32):
    """An MLP ``obs_dim -> hidden... -> n_actions`` with ReLUs, as ``nn.Sequential``.

    Weights and biases are drawn from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (the distribution of
    ``nn.Linear``'s default initialisation) with ``rng`` (a ``numpy.random.Generator``; a fresh one if
    None), so a seeded agent does not touch the global generator.
    """
    fn = "q_network"
    for name, value in (("obs_dim", obs_dim), ("n_actions", n_actions)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{fn}: {name} must be a positive integer, got {value!r}")
    hidden = tuple(hidden)
    if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
        raise ValueError(f"{fn}: hidden must be a sequence of positive integers, got {hidden!r}")
    rng = np.random.default_rng() if rng is None else rng
    sizes = (int(obs_dim), *map(int, hidden), int(n_actions))
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = nn.Linear(fan_in, fan_out, dtype=dtype)
        bound = 1.0 / math.sqrt(fan_in)
        with no_grad():
            linear.weight.copy_(from_numpy(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype)))
            linear.bias.copy_(from_numpy(rng.uniform(-bound, bound, fan_out).astype(dtype)))
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _is_int(value, minimum):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum


_OPTIMIZERS = {"adam": _optim.Adam, "sgd": _optim.SGD}


class DQNAgent:
    """A DQN agent: online and target Q-networks, a replay buffer, epsilon-greedy exploration.

    Feed it every environment transition with :meth:`observe`; after ``learning_starts`` steps it makes
    ``gradient_steps`` gradient updates, each on its own uniformly sampled minibatch, every ``train_every``
    steps, and updates the target network every ``target_update_every`` steps (``None``: no target
    network, targets come from the online network itself): a copy of the online weights when ``tau`` is
    1, else the Polyak average ``target <- tau * online + (1 - tau) * target``.  ``double=True`` uses
    Double-DQN targets.
    ``max_grad_norm`` clips the gradient's global 2-norm (``None``: no clipping).  ``seed`` seeds the
    initial weights, the exploration and the minibatch sampling.
    """

    def __init__(
        self,
        obs_dim,
        n_actions,
        *,
        hidden=(128, 128),
        gamma=0.99,
        lr=1e-3,
        optimizer="adam",
        batch_size=64,
        buffer_capacity=50_000,
        learning_starts=1_000,
        train_every=1,
        gradient_steps=1,
        target_update_every=500,
        tau=1.0,
        double=False,
        huber_beta=1.0,
        max_grad_norm=10.0,
        epsilon=None,
        seed=None,
        dtype=np.float32,
    ):
        fn = "DQNAgent"
        if not (isinstance(gamma, (int, float, np.number)) and 0.0 <= gamma <= 1.0):
            raise ValueError(f"{fn}: gamma must be in [0, 1], got {gamma!r}")
        if not (isinstance(lr, (int, float, np.number)) and lr > 0 and math.isfinite(lr)):
            raise ValueError(f"{fn}: lr must be a positive number, got {lr!r}")
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"{fn}: optimizer must be one of {sorted(_OPTIMIZERS)}, got {optimizer!r}")
        counts = (("batch_size", batch_size), ("train_every", train_every), ("gradient_steps", gradient_steps))
        for name, value in counts:
            if not _is_int(value, 1):
                raise ValueError(f"{fn}: {name} must be a positive integer, got {value!r}")
        if not _is_int(learning_starts, 0):
            raise ValueError(f"{fn}: learning_starts must be a non-negative integer, got {learning_starts!r}")
        if target_update_every is not None and not _is_int(target_update_every, 1):
            raise ValueError(
                f"{fn}: target_update_every must be a positive integer or None (no target network), "
                f"got {target_update_every!r}"
            )
        if not (isinstance(tau, (int, float, np.number)) and 0.0 < tau <= 1.0):
            raise ValueError(f"{fn}: tau must be in (0, 1], got {tau!r}")
        if not (isinstance(huber_beta, (int, float, np.number)) and huber_beta >= 0):
            raise ValueError(f"{fn}: huber_beta must be a non-negative number, got {huber_beta!r}")
        if max_grad_norm is not None and not (isinstance(max_grad_norm, (int, float, np.number)) and max_grad_norm > 0):
            raise ValueError(f"{fn}: max_grad_norm must be a positive number or None, got {max_grad_norm!r}")
        self.obs_dim, self.n_actions = int(obs_dim), int(n_actions)
        self.gamma, self.batch_size, self.train_every = float(gamma), int(batch_size), int(train_every)
        self.gradient_steps, self.tau = int(gradient_steps), float(tau)
        self.learning_starts = int(learning_starts)
        self.target_update_every = None if target_update_every is None else int(target_update_every)
        self.double, self.huber_beta, self.max_grad_norm = bool(double), float(huber_beta), max_grad_norm
        self.epsilon = LinearSchedule(1.0, 0.05, 10_000) if epsilon is None else epsilon
        if not callable(self.epsilon):
            raise ValueError(f"{fn}: epsilon must be a schedule (step -> probability), got {epsilon!r}")
        self.dtype = np.dtype(dtype)
        self.rng = np.random.default_rng(seed)
        self.q_net = q_network(self.obs_dim, self.n_actions, hidden, rng=self.rng, dtype=self.dtype)
        self.target_net = None
        if self.target_update_every is not None:
            self.target_net = q_network(self.obs_dim, self.n_actions, hidden, rng=self.rng, dtype=self.dtype)
            self.target_net.requires_grad_(False)
            self.sync_target()
        self.optimizer = _OPTIMIZERS[optimizer](self.q_net.parameters(), lr=lr)
        self.buffer = ReplayBuffer(buffer_capacity, self.obs_dim, obs_dtype=self.dtype)
        self.steps = 0  # environment steps observed
        self.updates = 0  # gradient updates made

    def sync_target(self, tau=1.0):
        """Copy the online network's weights into the target network (``tau`` 1), or move the target's
        weights the fraction ``tau`` of the way towards them (Polyak averaging)."""
        if self.target_net is None:
            raise RuntimeError("DQNAgent.sync_target: this agent has no target network (target_update_every=None)")
        if not (isinstance(tau, (int, float, np.number)) and 0.0 < tau <= 1.0):
            raise ValueError(f"DQNAgent.sync_target: tau must be in (0, 1], got {tau!r}")
        if tau == 1.0:
            self.target_net.load_state_dict(self.q_net.state_dict())
            return
        with no_grad():
            for target, online in zip(self.target_net.parameters(), self.q_net.parameters(), strict=True):
                blended = tau * online.detach().numpy() + (1.0 - tau) * target.detach().numpy()
                target.copy_(from_numpy(blended.astype(self.dtype)))

    def q_values(self, obs):
        """The online network's Q-values of one observation ``(obs_dim,)`` or a batch ``(B, obs_dim)``."""
        obs = np.asarray(obs, dtype=self.dtype)
        if obs.shape[-1:] != (self.obs_dim,) or obs.ndim > 2:
            raise ValueError(
                f"DQNAgent.q_values: obs must have shape ({self.obs_dim},) or (B, {self.obs_dim}), got {obs.shape}"
            )
        with no_grad():
            return self.q_net(from_numpy(obs)).numpy()

    def act(self, obs, greedy=False):
        """The action for ``obs``: random with probability ``epsilon(steps)`` (never if ``greedy``), else argmax Q."""
        if not greedy and self.rng.random() < self.epsilon(self.steps):
            return int(self.rng.integers(self.n_actions))
        return int(np.argmax(self.q_values(obs)))

    def td_targets(self, batch):
        """The regression targets ``y`` of a :class:`Transitions` batch, as a NumPy array ``(B,)``."""
        if not isinstance(batch, Transitions):
            batch = Transitions(*batch)
        next_obs = np.asarray(batch.next_obs, dtype=self.dtype)
        if next_obs.ndim != 2 or next_obs.shape[1] != self.obs_dim:
            raise ValueError(
                f"DQNAgent.td_targets: batch.next_obs must have shape (B, {self.obs_dim}), got {next_obs.shape}"
            )
        for name in ("rewards", "dones"):
            shape = np.shape(getattr(batch, name))
            if shape != (next_obs.shape[0],):
                n = next_obs.shape[0]
                raise ValueError(f"DQNAgent.td_targets: batch.{name} must have shape ({n},), got {shape}")
        next_obs = from_numpy(next_obs)
        with no_grad():
            online_next = self.q_net(next_obs).numpy()
            target_next = online_next if self.target_net is None else self.target_net(next_obs).numpy()
        if self.double:
            best = np.argmax(online_next, axis=1)
            next_value = target_next[np.arange(len(best)), best]
        else:
            next_value = target_next.max(axis=1)
        not_done = 1.0 - np.asarray(batch.dones, dtype=self.dtype)
        rewards = np.asarray(batch.rewards, dtype=self.dtype)
        return (rewards + self.dtype.type(self.gamma) * not_done * next_value).astype(self.dtype)

    def loss(self, batch):
        """The mean Huber loss between ``Q(s, a)`` and the TD targets of ``batch`` (a Tensor with a graph)."""
        if not isinstance(batch, Transitions):
            batch = Transitions(*batch)
        obs = np.asarray(batch.obs, dtype=self.dtype)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"DQNAgent.loss: batch.obs must have shape (B, {self.obs_dim}), got {obs.shape}")
        actions = np.asarray(batch.actions)
        if actions.shape != (obs.shape[0],) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"DQNAgent.loss: batch.actions must be {obs.shape[0]} integers, got shape {actions.shape}")
        if actions.size and (actions.min() < 0 or actions.max() >= self.n_actions):
            raise ValueError(f"DQNAgent.loss: batch.actions must lie in [0, {self.n_actions}), got {actions}")
        targets = from_numpy(self.td_targets(batch))
        q = self.q_net(from_numpy(obs)).gather(1, from_numpy(actions.astype(np.int64)).unsqueeze(1)).squeeze(1)
        return F.smooth_l1_loss(q, targets, beta=self.huber_beta)

    def update(self, batch):
        """One gradient step on ``batch``; returns the loss before the step as a float."""
        self.optimizer.zero_grad()
        loss = self.loss(batch)
        loss.backward()
        if self.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.q_net.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        return float(loss.item())

    def state_dict(self):
        """What resuming or evaluating needs: both networks, the optimizer and the step counters.

        The replay buffer and the generator are not included (a resumed run refills its buffer).
        """
        return {
            "q_net": self.q_net.state_dict(),
            "target_net": None if self.target_net is None else self.target_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "updates": self.updates,
        }

    def load_state_dict(self, state):
        """Load a dict from :meth:`state_dict` of an agent with the same networks and settings."""
        fn = "DQNAgent.load_state_dict"
        keys = {"q_net", "target_net", "optimizer", "steps", "updates"}
        if not isinstance(state, dict) or set(state) != keys:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{fn}: expected a dict with keys {sorted(keys)}, got {got}")
        if (state["target_net"] is None) != (self.target_net is None):
            raise ValueError(
                f"{fn}: the saved agent {'has no' if state['target_net'] is None else 'has a'} target network "
                f"but this one {'has one' if self.target_net is not None else 'has none'} (target_update_every)"
            )
        self.q_net.load_state_dict(state["q_net"])
        if self.target_net is not None:
            self.target_net.load_state_dict(state["target_net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps, self.updates = int(state["steps"]), int(state["updates"])

    def observe(self, obs, action, reward, next_obs, terminated):
        """Record one environment step; learn and update the target when due.  Returns the last loss or None."""
        self.buffer.push(obs, action, reward, next_obs, terminated)
        self.steps += 1
        loss = None
        if (
            self.steps >= self.learning_starts
            and len(self.buffer) >= self.batch_size
            and self.steps % self.train_every == 0
        ):
            for _ in range(self.gradient_steps):
                loss = self.update(self.buffer.sample(self.batch_size, self.rng))
        if self.target_net is not None and self.steps % self.target_update_every == 0:
            self.sync_target(self.tau)
        return loss
