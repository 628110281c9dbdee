"""CartPole in NumPy with the dynamics, reward, termination and time limit of gymnasium's ``CartPole-v1``.

A pole is hinged on a cart that moves on a frictionless track; each step pushes the cart left (action 0)
or right (action 1) with a force of 10 N for 0.02 s, integrated with one explicit Euler step of the
equations of motion of Barto, Sutton and Anderson (1983) as corrected by Florian (2007).  The reward is
1 for every step, including the one on which the pole falls.  An episode *terminates* when the pole
leans more than 12 degrees or the cart leaves ``[-2.4, 2.4]``, and is *truncated* after 500 steps (what
``gymnasium.make("CartPole-v1")`` adds with its ``TimeLimit`` wrapper).

The state is kept in float64 and returned as float32 observations, and the arithmetic follows the same
order of operations as gymnasium, so both produce bit-identical states from the same start and actions.
``reset(seed=s)`` draws the start state with ``numpy.random.default_rng(s)``, the generator gymnasium
uses, so seeded resets agree too.  Unlike gymnasium (which only warns), stepping an episode that has
ended raises an error.
"""

import math

import numpy as np

from .spaces import Box, Discrete

__all__ = ["CartPole"]


class CartPole:
    """The CartPole-v1 environment: ``reset() -> (obs, info)``, ``step(a) -> (obs, r, terminated, truncated, info)``.

    ``max_episode_steps`` is the time limit (500 in CartPole-v1; ``None`` for none).  The state
    ``(x, x_dot, theta, theta_dot)`` is the float64 array ``env.state``; it may be assigned between steps.
    """

    gravity = 9.8
    masscart = 1.0
    masspole = 0.1
    total_mass = masspole + masscart
    length = 0.5  # half the pole's length
    polemass_length = masspole * length
    force_mag = 10.0
    tau = 0.02  # seconds per step
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def __init__(self, max_episode_steps=500):
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool)
            or not isinstance(max_episode_steps, (int, np.integer))
            or max_episode_steps < 1
        ):
            raise ValueError(
                f"CartPole: max_episode_steps must be a positive integer or None, got {max_episode_steps!r}"
            )
        self.max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)
        high = np.array(
            [self.x_threshold * 2, np.inf, self.theta_threshold_radians * 2, np.inf],
            dtype=np.float32,
        )
        self.action_space = Discrete(2)
        self.observation_space = Box(-high, high, dtype=np.float32)
        self.np_random = None
        self.state = None
        self.elapsed_steps = 0
        self._ended = None  # None before the first reset, then "" while running, else why the episode ended

    def reset(self, seed=None, options=None):
        """Start an episode; return ``(observation, info)``.

        The start state is uniform in ``[low, high]`` per component (``[-0.05, 0.05]`` unless
        ``options`` gives ``"low"``/``"high"``), drawn from the generator seeded by ``seed`` (kept between
        resets; seeded from the OS on first use when no seed is given).  ``options={"state": s}`` starts
        from the four values ``s`` instead, drawing nothing.
        """
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"CartPole.reset: seed must be a non-negative integer or None, got {seed!r}")
            self.np_random = np.random.default_rng(int(seed))
        elif self.np_random is None:
            self.np_random = np.random.default_rng()
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise TypeError(f"CartPole.reset: options must be a dict or None, got {type(options).__name__}")
        unknown = set(options) - {"state", "low", "high"}
        if unknown:
            raise ValueError(
                f"CartPole.reset: unknown options {sorted(unknown)}; the options are 'state', 'low' and 'high'"
            )
        if "state" in options:
            if "low" in options or "high" in options:
                raise ValueError("CartPole.reset: give either options['state'] or options['low'/'high'], not both")
            state = np.array(options["state"], dtype=np.float64)
            if state.shape != (4,) or not np.all(np.isfinite(state)):
                raise ValueError(
                    "CartPole.reset: options['state'] must be 4 finite numbers (x, x_dot, theta, theta_dot), "
                    f"got {options['state']!r}"
                )
            self.state = state
        else:
            low = float(options.get("low", -0.05))
            high = float(options.get("high", 0.05))
            if not low <= high:
                raise ValueError(f"CartPole.reset: options need low <= high, got low={low}, high={high}")
            self.state = self.np_random.uniform(low=low, high=high, size=(4,))
        self.elapsed_steps = 0
        self._ended = ""
        return np.array(self.state, dtype=np.float32), {}

    def step(self, action):
        """Push left (0) or right (1) for one step; return ``(obs, reward, terminated, truncated, info)``."""
        if self._ended is None:
            raise RuntimeError("CartPole.step: the environment has not been reset; call reset() before step()")
        if self._ended:
            raise RuntimeError(
                f"CartPole.step: the episode has ended ({self._ended}); call reset() to start a new one before step()"
            )
        if not self.action_space.contains(action):
            raise ValueError(
                f"CartPole.step: action must be the integer 0 (push left) or 1 (push right), got {action!r}"
            )
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if int(action) == 1 else -self.force_mag
        costheta = np.cos(theta)
        sintheta = np.sin(theta)
        # equations of motion of the cart and pole (Florian 2007, frictionless case)
        temp = (force + self.polemass_length * np.square(theta_dot) * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * np.square(costheta) / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        # one explicit Euler step: positions move with the old velocities
        x = x + self.tau * x_dot
        x_dot = x_dot + self.tau * xacc
        theta = theta + self.tau * theta_dot
        theta_dot = theta_dot + self.tau * thetaacc
        self.state = np.array((x, x_dot, theta, theta_dot), dtype=np.float64)
        self.elapsed_steps += 1

        terminated = bool(
            x < -self.x_threshold
            or x > self.x_threshold
            or theta < -self.theta_threshold_radians
            or theta > self.theta_threshold_radians
        )
        truncated = self.max_episode_steps is not None and self.elapsed_steps >= self.max_episode_steps
        if terminated:
            self._ended = "terminated: the pole fell or the cart left the track"
        elif truncated:
            self._ended = f"truncated: the time limit of {self.max_episode_steps} steps was reached"
        return np.array(self.state, dtype=np.float32), 1.0, terminated, truncated, {}

    def close(self):
        """Nothing to release (there is no rendering); present for gymnasium's API shape."""

    def __repr__(self):
        return f"CartPole(max_episode_steps={self.max_episode_steps})"
