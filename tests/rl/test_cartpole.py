"""deepnotes.rl.CartPole against gymnasium's CartPole-v1 (the oracle), step for step and bit for bit."""

import gymnasium as gym
import numpy as np
import pytest

from deepnotes.rl import CartPole


def _make_gym(**kwargs):
    return gym.make("CartPole-v1", disable_env_checker=True, **kwargs)


def _assert_same_step(ours, theirs, env, genv, where):
    obs, reward, terminated, truncated, info = ours
    gobs, greward, gterminated, gtruncated, _ = theirs
    assert obs.dtype == np.float32 and obs.shape == (4,), where
    # bitwise: the same float64 arithmetic in the same order, then the same cast to float32
    assert obs.tobytes() == gobs.tobytes(), (where, obs, gobs)
    assert env.state.dtype == np.float64
    assert env.state.tobytes() == genv.unwrapped.state.tobytes(), (where, env.state, genv.unwrapped.state)
    assert reward == greward == 1.0 and isinstance(reward, float), where
    assert (terminated, truncated) == (gterminated, gtruncated), where
    assert type(terminated) is bool and type(truncated) is bool
    assert info == {}


@pytest.mark.parametrize("seed", [0, 1, 2, 12345])
def test_random_actions_match_gymnasium_step_for_step(seed):
    env, genv = CartPole(), _make_gym()
    gobs, _ = genv.reset(seed=seed)
    obs, _ = env.reset(options={"state": genv.unwrapped.state})  # start from gymnasium's state
    assert obs.tobytes() == gobs.tobytes()
    rng = np.random.default_rng(seed)
    episodes = terminations = 0
    for t in range(3000):
        action = int(rng.integers(2))
        ours, theirs = env.step(action), genv.step(action)
        _assert_same_step(ours, theirs, env, genv, (seed, t))
        if ours[2] or ours[3]:
            episodes += 1
            terminations += ours[2]
            gobs, _ = genv.reset()
            obs, _ = env.reset(options={"state": genv.unwrapped.state})
            assert obs.tobytes() == gobs.tobytes()
    # random play ends episodes after ~20 steps: many episodes, all by termination
    assert episodes > 80 and terminations == episodes


def test_seeded_resets_draw_gymnasiums_start_states():
    env, genv = CartPole(), _make_gym()
    for seed in (0, 7, 2**31 + 5):
        obs, info = env.reset(seed=seed)
        gobs, _ = genv.reset(seed=seed)
        assert obs.tobytes() == gobs.tobytes() and info == {}
        assert env.state.tobytes() == genv.unwrapped.state.tobytes()
        assert np.all(np.abs(env.state) <= 0.05)
        for _ in range(5):  # unseeded resets continue the same generator
            assert env.reset()[0].tobytes() == genv.reset()[0].tobytes()
    # custom bounds, as gymnasium's options low/high
    obs, _ = env.reset(seed=3, options={"low": -0.2, "high": 0.1})
    gobs, _ = genv.reset(seed=3, options={"low": -0.2, "high": 0.1})
    assert obs.tobytes() == gobs.tobytes()


def test_unseeded_generator_is_independent_per_environment():
    a, b = CartPole(), CartPole()
    assert not np.array_equal(a.reset()[0], b.reset()[0])


def _balance(obs):
    """A linear controller that keeps the pole up and the cart near the centre for thousands of steps."""
    return int(obs[2] + 0.5 * obs[3] + 0.05 * obs[0] + 0.1 * obs[1] > 0)


@pytest.mark.parametrize("seed", [0, 5])
def test_truncation_at_500_steps_matches_time_limit(seed):
    env, genv = CartPole(), _make_gym()
    gobs, _ = genv.reset(seed=seed)
    obs, _ = env.reset(seed=seed)
    steps = 0
    while True:
        action = _balance(obs)
        ours, theirs = env.step(action), genv.step(action)
        steps += 1
        _assert_same_step(ours, theirs, env, genv, steps)
        obs = ours[0]
        if ours[2] or ours[3]:
            break
    assert steps == 500 == env.elapsed_steps
    assert ours[3] and not ours[2]


def test_short_time_limit_and_none():
    env, genv = CartPole(max_episode_steps=7), _make_gym(max_episode_steps=7)
    obs, _ = env.reset(seed=1)
    genv.reset(seed=1)
    flags = []
    for _ in range(7):
        action = _balance(obs)
        ours, theirs = env.step(action), genv.step(action)
        _assert_same_step(ours, theirs, env, genv, len(flags))
        flags.append(ours[3])
        obs = ours[0]
    assert flags == [False] * 6 + [True]
    # no time limit: the balanced pole runs past 500 steps
    env = CartPole(max_episode_steps=None)
    obs, _ = env.reset(seed=0)
    for _ in range(800):
        obs, _, terminated, truncated, _ = env.step(_balance(obs))
        assert not terminated and not truncated


def test_termination_limits_and_terminal_reward():
    env, genv = CartPole(), _make_gym()
    # the cart just inside the track moving outwards; the pole just inside its angle limit, falling
    starts = [
        [2.39, 1.0, 0.0, 0.0],
        [-2.39, -1.0, 0.0, 0.0],
        [0.0, 0.0, 0.2094, 0.5],
        [0.0, 0.0, -0.2094, -0.5],
    ]
    for start in starts:
        for action in (0, 1):
            env.reset(options={"state": start})
            genv.reset(seed=0)
            genv.unwrapped.state = np.array(start, dtype=np.float64)
            ours, theirs = env.step(action), genv.step(action)
            _assert_same_step(ours, theirs, env, genv, (start, action))
            assert ours[2] is True and ours[1] == 1.0


def test_spaces_match_gymnasium():
    env, genv = CartPole(), _make_gym()
    assert env.action_space.n == genv.action_space.n == 2
    assert env.observation_space.shape == genv.observation_space.shape == (4,)
    assert env.observation_space.dtype == genv.observation_space.dtype == np.float32
    np.testing.assert_array_equal(env.observation_space.low, genv.observation_space.low)
    np.testing.assert_array_equal(env.observation_space.high, genv.observation_space.high)
    rng = np.random.default_rng(0)
    draws = [env.action_space.sample(rng) for _ in range(400)]
    assert set(draws) == {0, 1} and 150 < sum(draws) < 250
    assert env.observation_space.contains(env.reset(seed=0)[0])


@pytest.mark.parametrize("action", [np.int64(1), np.int32(0), np.array(1), 1])
def test_integer_like_actions_are_accepted(action):
    env = CartPole()
    env.reset(seed=0)
    env.step(action)


@pytest.mark.parametrize("action", [2, -1, 0.5, 1.0, True, "1", None, np.array([1]), np.array(0.0)])
def test_invalid_action_is_a_clear_error(action):
    env = CartPole()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"CartPole\.step: action must be the integer 0 .* or 1 .*got"):
        env.step(action)


def test_step_before_reset_is_an_error():
    with pytest.raises(RuntimeError, match=r"CartPole\.step: .*not been reset.*call reset\(\)"):
        CartPole().step(0)


def test_step_after_termination_is_an_error():
    env = CartPole()
    env.reset(seed=0)
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(1)  # always pushing right topples the pole
    with pytest.raises(RuntimeError, match=r"CartPole\.step: the episode has ended \(terminated.*call reset\(\)"):
        env.step(0)
    env.reset()  # a reset makes it usable again
    env.step(0)


def test_step_after_truncation_is_an_error():
    env = CartPole(max_episode_steps=3)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        obs, _, _, truncated, _ = env.step(_balance(obs))
    assert truncated
    with pytest.raises(RuntimeError, match=r"CartPole\.step: the episode has ended \(truncated.*3 steps.*reset\(\)"):
        env.step(0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"seed": 1.5}, "seed must be a non-negative integer"),
        ({"options": {"state": [0.0, 0.0, 0.0]}}, r"options\['state'\] must be 4 finite numbers"),
        ({"options": {"state": [0.0, 0.0, np.nan, 0.0]}}, r"options\['state'\] must be 4 finite numbers"),
        ({"options": {"low": 0.1, "high": -0.1}}, "options need low <= high"),
        ({"options": {"speed": 1}}, "unknown options"),
        ({"options": {"state": [0.0] * 4, "low": 0.0}}, "not both"),
    ],
)
def test_bad_reset_arguments(kwargs, match):
    with pytest.raises(ValueError, match=r"CartPole\.reset: .*" + match):
        CartPole().reset(**kwargs)


@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_bad_time_limit(steps):
    with pytest.raises(ValueError, match="CartPole: max_episode_steps must be a positive integer or None"):
        CartPole(max_episode_steps=steps)
