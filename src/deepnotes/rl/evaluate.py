"""Evaluating a policy: the undiscounted return of each of a number of episodes."""

import numpy as np

__all__ = ["evaluate"]


def evaluate(policy, env, episodes=100, seed=None):
    """Run ``episodes`` episodes of ``env`` acting with ``policy`` and return their returns (float64 array).

    ``policy`` is a callable ``obs -> action`` (for a trained DQN agent, ``lambda o: agent.act(o, greedy=True)``)
    or an object with an ``act(obs, greedy=True)`` method.  The first reset uses ``seed``; later resets
    continue the environment's generator, so a seed fixes the whole sequence of start states.  An
    episode ends when it terminates or is truncated (CartPole-v1: at most 500 steps, so a return of 500).
    """
    fn = "evaluate"
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"{fn}: episodes must be a positive integer, got {episodes!r}")
    if hasattr(policy, "act"):
        agent = policy

        def policy(obs):
            return agent.act(obs, greedy=True)

    if not callable(policy):
        raise TypeError(f"{fn}: policy must be a callable obs -> action or have act(obs, greedy=True), got {policy!r}")
    returns = np.zeros(int(episodes))
    obs, _ = env.reset(seed=seed)
    for episode in range(int(episodes)):
        if episode:
            obs, _ = env.reset()
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            returns[episode] += reward
            done = terminated or truncated
    return returns
