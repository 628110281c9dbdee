"""Experience replay: a fixed-capacity ring buffer of transitions in preallocated NumPy arrays.

DQN learns from minibatches drawn uniformly from the most recent ``capacity`` transitions rather than
from consecutive steps, which breaks the correlation between successive samples and reuses each
transition many times (Mnih et al. 2015).  Once full, each new transition overwrites the oldest.
"""

from typing import NamedTuple

import numpy as np

__all__ = ["ReplayBuffer", "Transitions"]


class Transitions(NamedTuple):
    """A batch of transitions; each field's first axis is the batch."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    dones: np.ndarray


def _positive_int(value, what, fn):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{fn}: {what} must be a positive integer, got {value!r}")
    return int(value)


class ReplayBuffer:
    """A ring buffer of ``capacity`` transitions ``(obs, action, reward, next_obs, done)``.

    ``obs_shape`` is the shape of one observation (an int or a tuple).  Observations are stored as
    ``obs_dtype`` (float32 by default), actions as int64, rewards as float32 and ``done`` flags as bool.
    """

    def __init__(self, capacity, obs_shape, obs_dtype=np.float32):
        fn = "ReplayBuffer"
        self.capacity = _positive_int(capacity, "capacity", fn)
        if isinstance(obs_shape, (int, np.integer)) and not isinstance(obs_shape, bool):
            obs_shape = (int(obs_shape),)
        if not isinstance(obs_shape, (tuple, list)) or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in obs_shape
        ):
            raise ValueError(f"{fn}: obs_shape must be an int or a tuple of ints, got {obs_shape!r}")
        obs_shape = tuple(int(d) for d in obs_shape)
        if any(d < 0 for d in obs_shape):
            raise ValueError(f"{fn}: obs_shape must not have negative sizes, got {obs_shape}")
        self.obs_shape = obs_shape
        self.obs = np.zeros((self.capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((self.capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.dones = np.zeros(self.capacity, dtype=bool)
        self._next = 0  # slot the next push writes
        self._size = 0

    def __len__(self):
        return self._size

    def push(self, obs, action, reward, next_obs, done):
        """Store one transition, overwriting the oldest once the buffer is full."""
        fn = "ReplayBuffer.push"
        obs = np.asarray(obs)
        next_obs = np.asarray(next_obs)
        for name, value in (("obs", obs), ("next_obs", next_obs)):
            if value.shape != self.obs_shape:
                raise ValueError(f"{fn}: {name} must have shape {self.obs_shape}, got {value.shape}")
        action_arr = np.asarray(action)
        if action_arr.shape != () or not np.issubdtype(action_arr.dtype, np.integer):
            raise ValueError(f"{fn}: action must be one integer, got {action!r}")
        reward_arr = np.asarray(reward)
        if reward_arr.shape != () or not (
            np.issubdtype(reward_arr.dtype, np.number) and not np.issubdtype(reward_arr.dtype, np.complexfloating)
        ):
            raise ValueError(f"{fn}: reward must be one real number, got {reward!r}")
        done_arr = np.asarray(done)
        if done_arr.shape != () or not (done_arr.dtype == bool or np.issubdtype(done_arr.dtype, np.integer)):
            raise ValueError(f"{fn}: done must be one bool, got {done!r}")
        i = self._next
        self.obs[i] = obs
        self.actions[i] = action_arr
        self.rewards[i] = reward_arr
        self.next_obs[i] = next_obs
        self.dones[i] = bool(done_arr)
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample(self, batch_size, rng):
        """Draw ``batch_size`` distinct stored transitions uniformly with ``rng`` (a ``numpy.random.Generator``).

        Returns :class:`Transitions` of copies (obs ``(B, *obs_shape)``, actions/rewards/dones ``(B,)``).
        """
        fn = "ReplayBuffer.sample"
        batch_size = _positive_int(batch_size, "batch_size", fn)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{fn}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
        if batch_size > self._size:
            raise ValueError(
                f"{fn}: batch_size {batch_size} is more than the {self._size} transitions stored; "
                "push more transitions first"
            )
        idx = rng.choice(self._size, size=batch_size, replace=False)
        return Transitions(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx], self.dones[idx])
