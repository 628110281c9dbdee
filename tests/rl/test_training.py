"""deepnotes.rl training: the batched evaluation equals the one-episode-at-a-time loop, Polyak target
updates equal torch's, several gradient steps per update, and the train_dqn loop's budget, evaluations,
best-agent callback and early stop."""

import numpy as np
import pytest
import torch

from deepnotes.rl import CartPole, DQNAgent, LinearSchedule, evaluate, evaluate_batched
from deepnotes.rl.training import train_dqn


def _wobbly(obs):
    return int(obs[2] + 0.3 * obs[3] + 0.03 > 0)


def test_batched_evaluation_equals_the_sequential_loop_for_a_policy():
    seq = evaluate(_wobbly, CartPole(), episodes=15, seed=3)
    batched = evaluate_batched(lambda b: [_wobbly(o) for o in b], CartPole(), episodes=15, seed=3)
    np.testing.assert_array_equal(batched, seq)
    assert (seq == 500).any() and (seq < 500).any()  # episodes of different lengths finish at different times


def test_batched_evaluation_equals_the_sequential_loop_for_an_agent():
    agent = DQNAgent(4, 2, hidden=(16,), seed=5, dtype=np.float64)
    np.testing.assert_array_equal(
        evaluate_batched(agent, CartPole(), episodes=8, seed=0), evaluate(agent, CartPole(), episodes=8, seed=0)
    )
    assert agent.steps == 0 and len(agent.buffer) == 0


def test_batched_evaluation_rejects_bad_input():
    with pytest.raises(ValueError, match="evaluate_batched: episodes must be a positive integer, got 0"):
        evaluate_batched(_wobbly, CartPole(), episodes=0)
    with pytest.raises(TypeError, match="evaluate_batched: policy must be"):
        evaluate_batched(3, CartPole(), episodes=2)
    with pytest.raises(ValueError, match=r"evaluate_batched: policy returned shape \(1,\) for 2 observations"):
        evaluate_batched(lambda b: [0], CartPole(), episodes=2, seed=0)


def test_polyak_target_update_equals_torch():
    agent = DQNAgent(4, 2, hidden=(8, 8), seed=0, dtype=np.float64, tau=0.3, target_update_every=1)
    rng = np.random.default_rng(1)
    for p in agent.q_net.parameters():  # make online and target differ
        p.data[...] = rng.normal(size=p.shape)
    online = [torch.from_numpy(p.detach().numpy().copy()) for p in agent.q_net.parameters()]
    target = [torch.from_numpy(p.detach().numpy().copy()) for p in agent.target_net.parameters()]
    torch._foreach_lerp_(target, online, 0.3)  # target + 0.3 * (online - target)
    agent.sync_target(0.3)
    for ours, theirs in zip(agent.target_net.parameters(), target, strict=True):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.numpy(), rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match=r"DQNAgent.sync_target: tau must be in \(0, 1\], got -0.5"):
        agent.sync_target(-0.5)
    agent.sync_target()  # tau 1: a copy
    for t, o in zip(agent.target_net.parameters(), agent.q_net.parameters(), strict=True):
        np.testing.assert_array_equal(t.detach().numpy(), o.detach().numpy())


def test_observe_uses_tau_and_makes_gradient_steps_updates():
    agent = DQNAgent(4, 2, hidden=(8,), seed=0, learning_starts=4, batch_size=4, train_every=2, gradient_steps=3)
    obs = np.zeros(4, np.float32)
    for i in range(6):
        agent.observe(obs, i % 2, 1.0, obs, False)
    assert agent.updates == 3 * 2  # updates at steps 4 and 6, three each


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tau": 0.0}, r"tau must be in \(0, 1\], got 0.0"),
        ({"tau": 1.5}, r"tau must be in \(0, 1\], got 1.5"),
        ({"gradient_steps": 0}, "gradient_steps must be a positive integer, got 0"),
    ],
)
def test_agent_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match="DQNAgent: " + message):
        DQNAgent(4, 2, **kwargs)


def _agent(seed=0):
    eps = LinearSchedule(1, 0.1, 300)
    return DQNAgent(4, 2, hidden=(16,), seed=seed, learning_starts=50, batch_size=16, epsilon=eps)


def test_train_dqn_runs_its_budget_and_evaluates_on_schedule():
    agent, best_calls, all_calls = _agent(), [], []
    history = train_dqn(
        agent,
        CartPole(),
        steps=500,
        eval_every=200,
        eval_episodes=3,
        eval_seed=7,
        solved_return=None,
        seed=0,
        on_best=lambda a, r: best_calls.append(r["mean"]),
        on_evaluation=lambda a, r: all_calls.append(r),
    )
    assert history["steps"] == agent.steps == 500
    evals = history["evaluations"]
    assert [r["step"] for r in evals] == [200, 400, 500]  # and one at the end
    assert all_calls == evals and history["solved_at_step"] is None
    assert best_calls == sorted(set(best_calls)) and best_calls[0] == evals[0]["mean"]
    assert history["best"]["mean"] == max(r["mean"] for r in evals) == best_calls[-1]
    ends = [e["step"] for e in history["episodes"]]
    assert ends == sorted(ends) and ends[-1] <= 500
    assert sum(e["return"] for e in history["episodes"]) == ends[-1]  # reward 1 per step
    for r in evals:
        assert r["min"] <= r["mean"] <= r["max"] and r["std"] >= 0


def test_the_last_evaluation_is_the_agent_at_that_step():
    agent = _agent(1)
    history = train_dqn(agent, CartPole(), steps=300, eval_every=300, eval_episodes=4, eval_seed=2, solved_return=None)
    assert len(history["evaluations"]) == 1
    expected = evaluate(agent, CartPole(), episodes=4, seed=2)
    assert history["evaluations"][0]["mean"] == expected.mean()


def test_train_dqn_stops_once_solved():
    # every CartPole episode lasts at least 8 steps, so a threshold of 5 is met at the first evaluation
    history = train_dqn(_agent(), CartPole(), steps=1_000, eval_every=100, eval_episodes=2, solved_return=5)
    assert history["solved_at_step"] == 100 == history["steps"] and len(history["evaluations"]) == 1


def test_train_dqn_episode_budget():
    history = train_dqn(_agent(), CartPole(), episodes=4, eval_every=10_000, eval_episodes=2, solved_return=None)
    assert len(history["episodes"]) == 4 and history["steps"] == history["episodes"][-1]["step"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one budget"),
        ({"steps": 10, "episodes": 2}, "give exactly one budget"),
        ({"steps": 0}, "steps must be a positive integer or None, got 0"),
        ({"steps": 10, "eval_every": 0}, "eval_every must be a positive integer or None, got 0"),
        ({"steps": 10, "solved_return": float("nan")}, "solved_return must be a finite number or None"),
    ],
)
def test_train_dqn_rejects_bad_budgets(kwargs, message):
    with pytest.raises(ValueError, match="train_dqn: " + message):
        train_dqn(_agent(), CartPole(), **kwargs)
