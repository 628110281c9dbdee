"""Reinforcement learning: a NumPy CartPole with gymnasium's CartPole-v1 dynamics and a replay buffer.

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
"""

from .cartpole import CartPole
from .replay import ReplayBuffer, Transitions
from .spaces import Box, Discrete

__all__ = ["CartPole", "ReplayBuffer", "Transitions", "Discrete", "Box"]
