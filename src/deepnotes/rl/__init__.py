"""Reinforcement learning: a NumPy CartPole (gymnasium's CartPole-v1 dynamics), a replay buffer, DQN, evaluation.

Example::

    import numpy as np
    from deepnotes.rl import CartPole, ReplayBuffer

    env = CartPole()                      # 500-step time limit, as CartPole-v1
    buffer = ReplayBuffer(10_000, env.observation_space.shape)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=0)
    for _ in range(200):
        action = env.action_space.sample(rng)
        next_obs, reward, terminated, truncated, info = env.step(action)
        buffer.push(obs, action, reward, next_obs, terminated)  # a time-out is not a terminal state
        obs = next_obs
        if terminated or truncated:
            obs, info = env.reset()
    batch = buffer.sample(32, rng)        # batch.obs.shape == (32, 4)

A DQN agent keeps its own replay buffer; feed it every transition::

    from deepnotes.rl import DQNAgent, LinearSchedule, evaluate

    agent = DQNAgent(4, 2, epsilon=LinearSchedule(1.0, 0.05, 10_000), target_update_every=500, seed=0)
    obs, info = env.reset(seed=0)
    for _ in range(5_000):
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(obs, action, reward, next_obs, terminated)  # learns once learning_starts is reached
        obs = next_obs
        if terminated or truncated:
            obs, info = env.reset()
    returns = evaluate(agent, CartPole(), episodes=10, seed=1)  # greedy returns; 500 is the maximum
"""

from .cartpole import CartPole
from .dqn import DQNAgent, LinearSchedule, q_network
from .evaluate import evaluate, evaluate_batched
from .replay import ReplayBuffer, Transitions
from .spaces import Box, Discrete
from .training import train_dqn

__all__ = [
    "CartPole",
    "Discrete",
    "Box",
    "ReplayBuffer",
    "Transitions",
    "DQNAgent",
    "LinearSchedule",
    "q_network",
    "evaluate",
    "evaluate_batched",
    "train_dqn",
]
