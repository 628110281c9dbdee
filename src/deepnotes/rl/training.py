"""The DQN training loop: act, learn, evaluate greedily every so often, stop once solved.

:func:`train_dqn` runs an agent in an environment for a budget of environment steps or episodes.
Every ``eval_every`` steps it plays ``eval_episodes`` greedy episodes (always from the same start
states, drawn with ``eval_seed``) and records their returns; the agent with the best mean so far is
handed to ``on_best`` (the command line saves it as the checkpoint), and training stops as soon as the
mean reaches ``solved_return`` (CartPole-v1 counts as solved at a mean of 475 over 100 episodes).

:data:`CARTPOLE_DEFAULTS` are the agent settings ``deepnotes rl train`` uses; they were chosen by
measuring how many environment steps several seeds needed to solve CartPole-v1 (see
``benchmarks/rl_cartpole.py``).
"""

import time

import numpy as np

from .evaluate import evaluate_batched

__all__ = ["train_dqn", "CARTPOLE_DEFAULTS", "SOLVED_RETURN", "DEFAULT_STEPS"]

#: The CartPole-v1 "solved" threshold: the mean return over 100 consecutive episodes.
SOLVED_RETURN = 475.0

#: The step budget of ``deepnotes rl train`` without ``--steps`` or ``--episodes``.
DEFAULT_STEPS = 150_000

#: Keyword arguments of :class:`DQNAgent` (besides the epsilon schedule, built from ``epsilon_*``)
#: with which ``deepnotes rl train`` solves CartPole-v1.
CARTPOLE_DEFAULTS = {
    "hidden": (64, 64),
    "gamma": 0.99,
    "lr": 1e-3,
    "batch_size": 64,
    "buffer_capacity": 50_000,
    "learning_starts": 500,
    "train_every": 2,
    "gradient_steps": 1,
    "target_update_every": 250,
    "tau": 1.0,
    "double": True,
    "huber_beta": 1.0,
    "max_grad_norm": 10.0,
    "epsilon_start": 1.0,
    "epsilon_end": 0.02,
    "epsilon_steps": 6_000,
}


def _count(value, name, fn):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{fn}: {name} must be a positive integer or None, got {value!r}")
    return int(value)


def train_dqn(
    agent,
    env,
    *,
    steps=None,
    episodes=None,
    eval_env=None,
    eval_every=1_000,
    eval_episodes=100,
    eval_seed=None,
    solved_return=SOLVED_RETURN,
    seed=None,
    progress=False,
    on_evaluation=None,
    on_best=None,
):
    """Train ``agent`` (a :class:`DQNAgent`) in ``env`` and return the history as a dict.

    The budget is ``steps`` environment steps or ``episodes`` training episodes, whichever is given
    (one of them must be); training also stops once a greedy evaluation's mean return is at least
    ``solved_return`` (``None``: never stop early).  ``eval_env`` (default: a deep copy of ``env``) is
    evaluated every ``eval_every`` steps and once more at the end unless the last step was just
    evaluated.  ``on_evaluation(agent, record)`` is called after every evaluation and
    ``on_best(agent, record)`` after each one with a higher mean than all before.  ``progress``
    shows a tqdm bar (True, False, or None: only when stderr is a terminal).

    The history has ``"episodes"`` (step at which each training episode ended and its return),
    ``"evaluations"`` (step, training episodes so far, mean/std/min/max of the greedy returns,
    seconds since the start), ``"best"`` (the best evaluation), ``"solved_at_step"`` (None if never)
    and ``"steps"``/``"seconds"`` in total.
    """
    import copy

    fn = "train_dqn"
    steps, episodes = _count(steps, "steps", fn), _count(episodes, "episodes", fn)
    if (steps is None) == (episodes is None):
        raise ValueError(f"{fn}: give exactly one budget, steps or episodes (got steps={steps}, episodes={episodes})")
    eval_every = _count(eval_every, "eval_every", fn)
    eval_episodes = _count(eval_episodes, "eval_episodes", fn)
    if solved_return is not None and not np.isfinite(solved_return):
        raise ValueError(f"{fn}: solved_return must be a finite number or None, got {solved_return!r}")
    eval_env = copy.deepcopy(env) if eval_env is None else eval_env
    from tqdm.auto import tqdm

    bar = tqdm(
        total=steps if steps is not None else episodes,
        unit="step" if steps is not None else "episode",
        desc="dqn",
        leave=False,
        dynamic_ncols=True,
        disable=None if progress is None else not progress,
    )
    start = time.perf_counter()
    history = {"episodes": [], "evaluations": [], "best": None, "solved_at_step": None}

    def evaluation():
        returns = evaluate_batched(agent, eval_env, eval_episodes, seed=eval_seed)
        record = {
            "step": agent.steps,
            "episode": len(history["episodes"]),
            "mean": float(returns.mean()),
            "std": float(returns.std()),
            "min": float(returns.min()),
            "max": float(returns.max()),
            "seconds": time.perf_counter() - start,
        }
        history["evaluations"].append(record)
        if on_evaluation is not None:
            on_evaluation(agent, record)
        if history["best"] is None or record["mean"] > history["best"]["mean"]:
            history["best"] = record
            if on_best is not None:
                on_best(agent, record)
        bar.set_postfix(eval=f"{record['mean']:.0f}", best=f"{history['best']['mean']:.0f}", refresh=False)
        return record

    obs, _ = env.reset(seed=seed)
    episode_return, done_steps, last_eval = 0.0, 0, None
    try:
        while True:
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            agent.observe(obs, action, reward, next_obs, terminated)
            episode_return += reward
            done_steps += 1
            obs = next_obs
            if steps is not None and done_steps % 100 == 0:
                bar.update(100)
            if terminated or truncated:
                history["episodes"].append({"step": done_steps, "return": float(episode_return)})
                episode_return = 0.0
                obs, _ = env.reset()
                if episodes is not None:
                    bar.update(1)
            if done_steps % eval_every == 0:
                last_eval = evaluation()
                if solved_return is not None and last_eval["mean"] >= solved_return:
                    history["solved_at_step"] = done_steps
                    break
            if (steps is not None and done_steps >= steps) or (
                episodes is not None and len(history["episodes"]) >= episodes
            ):
                break
        if last_eval is None or last_eval["step"] != agent.steps:
            last_eval = evaluation()
            if solved_return is not None and last_eval["mean"] >= solved_return:
                history["solved_at_step"] = done_steps
    finally:
        bar.close()
    history["steps"] = done_steps
    history["seconds"] = time.perf_counter() - start
    return history
