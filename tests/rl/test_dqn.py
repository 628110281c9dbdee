"""deepnotes.rl DQN: one update against the same computation in torch on the same weights, schedule, acting."""

import numpy as np
import pytest
import torch

from deepnotes.rl import CartPole, DQNAgent, LinearSchedule, Transitions, q_network


def _torch_copy(net):
    """A torch MLP with the weights of a deepnotes q_network (Linear/ReLU alternating)."""
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in net.state_dict().items()}
    n_linear = len(state) // 2
    layers = []
    for i in range(n_linear):
        w = state[f"{2 * i}.weight"]
        layers.append(torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64))
        if i < n_linear - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    model.load_state_dict(state)
    return model


def _batch(rng, n=32, obs_dim=4, n_actions=3):
    return Transitions(
        obs=rng.normal(0, 2, (n, obs_dim)),
        actions=rng.integers(0, n_actions, n),
        rewards=rng.normal(0, 2, n),  # wide rewards: TD errors on both sides of the Huber kink
        next_obs=rng.normal(0, 2, (n, obs_dim)),
        dones=rng.random(n) < 0.3,
    )


@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("target_update_every", [7, None])
@pytest.mark.parametrize(("optimizer", "max_grad_norm"), [("sgd", None), ("sgd", 0.05), ("adam", 0.1)])
def test_one_update_equals_torch(double, target_update_every, optimizer, max_grad_norm):
    rng = np.random.default_rng(42)
    agent = DQNAgent(
        4, 3, hidden=(16, 8), gamma=0.9, lr=0.05, optimizer=optimizer, max_grad_norm=max_grad_norm,
        double=double, target_update_every=target_update_every, huber_beta=1.0, seed=3, dtype=np.float64,
    )  # fmt: skip
    if agent.target_net is not None:  # a target network that differs from the online one, as between syncs
        agent.target_net.load_state_dict(q_network(4, 3, (16, 8), rng=rng, dtype=np.float64).state_dict())
    online, target = _torch_copy(agent.q_net), _torch_copy(agent.target_net or agent.q_net)
    batch = _batch(rng)

    # the reference: the DQN / Double-DQN target and the Huber loss written out in torch
    obs, next_obs = torch.from_numpy(batch.obs), torch.from_numpy(batch.next_obs)
    actions = torch.from_numpy(batch.actions)
    rewards, dones = torch.from_numpy(batch.rewards), torch.from_numpy(batch.dones).double()
    with torch.no_grad():
        if double:
            best = online(next_obs).argmax(dim=1, keepdim=True)
            next_value = target(next_obs).gather(1, best).squeeze(1)
        else:
            next_value = target(next_obs).max(dim=1).values
        y = rewards + 0.9 * (1 - dones) * next_value
    q = online(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
    abs_error = (q - y).abs().detach().numpy()
    assert (abs_error < 1).any() and (abs_error > 1).any()  # both branches of the Huber loss are exercised
    loss = torch.nn.functional.smooth_l1_loss(q, y, beta=1.0)
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(online.parameters(), lr=0.05)
    opt.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        norm = torch.nn.utils.clip_grad_norm_(online.parameters(), max_grad_norm)
        assert norm > max_grad_norm  # the clipping is active
    opt.step()

    np.testing.assert_allclose(agent.td_targets(batch), y.numpy(), rtol=1e-13, atol=1e-13)
    online_before = {k: v.numpy().copy() for k, v in agent.q_net.state_dict().items()}
    target_before = {k: v.numpy().copy() for k, v in (agent.target_net or agent.q_net).state_dict().items()}
    ours = agent.update(batch)
    assert agent.updates == 1
    np.testing.assert_allclose(ours, loss.item(), rtol=1e-13)
    after = agent.q_net.state_dict()
    for name, param in online.state_dict().items():
        np.testing.assert_allclose(after[name].numpy(), param.numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
        assert not np.array_equal(after[name].numpy(), online_before[name]), name  # the step moved every tensor
    if agent.target_net is not None:  # an update leaves the target network alone
        for name, value in agent.target_net.state_dict().items():
            np.testing.assert_array_equal(value.numpy(), target_before[name])


def test_q_network_shape_and_initialisation():
    net = q_network(4, 2, (64, 32), rng=np.random.default_rng(0))
    names = [type(m).__name__ for m in net]
    assert names == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    w = net[0].weight.detach().numpy()
    assert w.shape == (64, 4) and w.dtype == np.float32
    assert np.abs(w).max() <= 0.5 and np.abs(w).max() > 0.45  # U(-1/sqrt(4), 1/sqrt(4))
    assert np.abs(net[2].weight.detach().numpy()).max() <= 1 / 8
    same = q_network(4, 2, (64, 32), rng=np.random.default_rng(0))
    np.testing.assert_array_equal(same[4].bias.detach().numpy(), net[4].bias.detach().numpy())


def test_linear_schedule():
    s = LinearSchedule(1.0, 0.1, 100)
    assert s(0) == 1.0 and s(100) == 0.1 and s(10_000) == 0.1
    np.testing.assert_allclose(s(25), 1.0 - 0.9 * 0.25, rtol=1e-15)
    assert LinearSchedule(0.5, 0.2, 0)(0) == 0.2
    with pytest.raises(ValueError, match="LinearSchedule: duration must be a non-negative integer"):
        LinearSchedule(1.0, 0.1, -5)
    with pytest.raises(ValueError, match="LinearSchedule: start must be a finite number"):
        LinearSchedule(float("nan"), 0.1, 5)


def test_epsilon_greedy_acting():
    agent = DQNAgent(4, 3, seed=0, epsilon=LinearSchedule(1.0, 0.0, 1000))
    obs = np.array([0.1, -0.2, 0.3, 0.0], dtype=np.float32)
    best = int(np.argmax(agent.q_values(obs)))
    assert agent.act(obs, greedy=True) == best
    # epsilon = 1 at step 0: uniform over the 3 actions
    counts = np.bincount([agent.act(obs) for _ in range(3000)], minlength=3)
    assert counts.min() > 900
    agent.steps = 500  # epsilon 0.5: best with probability 0.5 + 0.5/3
    picks = np.array([agent.act(obs) for _ in range(3000)])
    assert abs((picks == best).mean() - (0.5 + 0.5 / 3)) < 0.04
    agent.steps = 1000  # epsilon 0: always greedy
    assert all(agent.act(obs) == best for _ in range(200))


def test_observe_learns_after_learning_starts_and_syncs_the_target():
    env = CartPole()
    agent = DQNAgent(
        4, 2, hidden=(16,), batch_size=8, learning_starts=20, train_every=2, target_update_every=10, seed=1
    )
    obs, _ = env.reset(seed=0)
    losses = []
    for step in range(1, 61):
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        losses.append(agent.observe(obs, action, reward, next_obs, terminated))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
        online = agent.q_net.state_dict()
        synced = all(np.array_equal(v.numpy(), online[k].numpy()) for k, v in agent.target_net.state_dict().items())
        if step % 10 == 0:
            assert synced, step
        elif step > 20 and step % 2 == 0:
            assert not synced, step  # an update has moved the online network since the last sync
    assert all(loss is None for loss in losses[:19])
    assert [i + 1 for i, loss in enumerate(losses) if loss is not None] == list(range(20, 61, 2))
    assert agent.updates == 21 and agent.steps == 60 and len(agent.buffer) == 60


def test_without_a_target_network():
    agent = DQNAgent(4, 2, target_update_every=None, seed=0)
    assert agent.target_net is None
    with pytest.raises(RuntimeError, match="DQNAgent.sync_target: this agent has no target network"):
        agent.sync_target()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gamma": 1.5}, r"gamma must be in \[0, 1\]"),
        ({"lr": 0}, "lr must be a positive number"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"learning_starts": -1}, "learning_starts must be a non-negative integer"),
        ({"target_update_every": 0}, "target_update_every must be a positive integer or None"),
        ({"huber_beta": -1.0}, "huber_beta must be a non-negative number"),
        ({"max_grad_norm": 0}, "max_grad_norm must be a positive number or None"),
        ({"epsilon": 0.1}, r"epsilon must be a schedule \(step -> probability\)"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match="DQNAgent: " + match):
        DQNAgent(4, 2, **kwargs)


def test_bad_batches_and_observations():
    agent = DQNAgent(4, 2, seed=0)
    rng = np.random.default_rng(0)
    good = _batch(rng, n=5, n_actions=2)
    with pytest.raises(ValueError, match=r"DQNAgent.loss: batch.obs must have shape \(B, 4\), got \(5, 3\)"):
        agent.loss(good._replace(obs=good.obs[:, :3]))
    with pytest.raises(ValueError, match=r"DQNAgent.loss: batch.actions must lie in \[0, 2\)"):
        agent.loss(good._replace(actions=good.actions + 2))
    with pytest.raises(ValueError, match=r"DQNAgent.loss: batch.actions must be 5 integers"):
        agent.loss(good._replace(actions=good.actions[:4]))
    with pytest.raises(ValueError, match=r"DQNAgent.td_targets: batch.rewards must have shape \(5,\), got \(4,\)"):
        agent.loss(good._replace(rewards=good.rewards[:4]))
    with pytest.raises(ValueError, match=r"DQNAgent.td_targets: batch.dones must have shape \(5,\), got \(5, 1\)"):
        agent.loss(good._replace(dones=good.dones[:, None]))
    with pytest.raises(ValueError, match=r"DQNAgent.td_targets: batch.next_obs must have shape \(B, 4\)"):
        agent.td_targets(good._replace(next_obs=good.next_obs[:, :2]))
    with pytest.raises(ValueError, match=r"DQNAgent.q_values: obs must have shape \(4,\) or \(B, 4\), got \(3,\)"):
        agent.act(np.zeros(3), greedy=True)


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(5)
    a = DQNAgent(4, 2, hidden=(8,), optimizer="adam", target_update_every=3, seed=0, dtype=np.float64)
    for _ in range(3):  # give Adam some moment estimates and the target a different value
        a.update(_batch(rng, n_actions=2))
    a.steps = 17
    b = DQNAgent(4, 2, hidden=(8,), optimizer="adam", target_update_every=3, seed=99, dtype=np.float64)
    b.load_state_dict(a.state_dict())
    assert (b.steps, b.updates) == (17, 3)
    batch = _batch(rng, n_actions=2)
    np.testing.assert_array_equal(b.td_targets(batch), a.td_targets(batch))
    assert b.update(batch) == a.update(batch)
    for name, value in a.q_net.state_dict().items():
        np.testing.assert_array_equal(b.q_net.state_dict()[name].numpy(), value.numpy())
    without = DQNAgent(4, 2, hidden=(8,), target_update_every=None, seed=0, dtype=np.float64)
    with pytest.raises(ValueError, match="DQNAgent.load_state_dict: the saved agent has a target network"):
        without.load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="DQNAgent.load_state_dict: expected a dict with keys"):
        without.load_state_dict({"q_net": {}})
