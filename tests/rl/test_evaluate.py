"""deepnotes.rl.evaluate: episode returns of a policy, checked against the same loop on gymnasium."""

import gymnasium as gym
import numpy as np
import pytest

from deepnotes.rl import CartPole, DQNAgent, evaluate


def _wobbly(obs):
    """A controller that balances for a while and then loses the cart: episodes of varied length."""
    return int(obs[2] + 0.3 * obs[3] + 0.03 > 0)


def _gym_returns(policy, episodes, seed):
    env = gym.make("CartPole-v1", disable_env_checker=True)
    out = []
    obs, _ = env.reset(seed=seed)
    for episode in range(episodes):
        if episode:
            obs, _ = env.reset()
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += reward
            done = terminated or truncated
        out.append(total)
    return np.array(out)


@pytest.mark.parametrize("policy", [_wobbly, lambda obs: 1, lambda obs: int(obs[3] > 0)])
def test_returns_equal_gymnasiums(policy):
    ours = evaluate(policy, CartPole(), episodes=12, seed=4)
    assert ours.dtype == np.float64 and ours.shape == (12,)
    np.testing.assert_array_equal(ours, _gym_returns(policy, 12, seed=4))
    assert ours.max() <= 500


def test_the_wobbly_controller_reaches_the_time_limit_sometimes():
    returns = evaluate(_wobbly, CartPole(), episodes=12, seed=4)
    assert (returns == 500).any() and (returns < 500).any()


def test_an_agent_is_evaluated_greedily():
    agent = DQNAgent(4, 2, seed=0)  # epsilon starts at 1: acting non-greedily would be random
    returns = evaluate(agent, CartPole(), episodes=3, seed=0)
    expected = evaluate(lambda obs: agent.act(obs, greedy=True), CartPole(), episodes=3, seed=0)
    np.testing.assert_array_equal(returns, expected)
    assert agent.steps == 0 and len(agent.buffer) == 0  # evaluation does not train


def test_bad_arguments():
    with pytest.raises(ValueError, match="evaluate: episodes must be a positive integer, got 0"):
        evaluate(_wobbly, CartPole(), episodes=0)
    with pytest.raises(TypeError, match="evaluate: policy must be a callable"):
        evaluate(3, CartPole(), episodes=1)
