"""Reinforcement-learning claims of seed 002: DQN's two stabilisers, experience replay and the target network
(S002-50), measured with deepnotes.rl on the NumPy CartPole-v1.

Four agents that differ only in those two parts learn CartPole from the same seeds; each is scored by the mean
return of greedy evaluations (fixed start states) over the second half of its training, which rewards both
learning fast and staying good."""

from __future__ import annotations

import numpy as np

from deepnotes.rl import CartPole, DQNAgent, LinearSchedule
from deepnotes.rl.training import train_dqn

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import mean_std, single_threaded

_CLAIM = (
    "DQN is stabilised by an experience-replay buffer sampled uniformly (it breaks the correlation between "
    "consecutive transitions) and by a target network updated only periodically (the regression target does "
    "not move with every update); without them Q-learning with a neural network learns worse."
)

#: name -> (replay, target network)
_VARIANTS = {
    "replay + target network": (True, True),
    "replay, no target network": (True, False),
    "target network, no replay": (False, True),
    "neither": (False, False),
}


def _agent(replay, target, seed, quick):
    """A DQN agent for CartPole; without replay its buffer holds only the last minibatch of consecutive steps
    (each update learns from the 32 most recent transitions, the online setting), without a target network the
    TD targets come from the online network being trained."""
    batch = 32
    return DQNAgent(
        4,
        2,
        hidden=(32, 32) if quick else (64, 64),
        lr=1e-3,
        batch_size=batch,
        buffer_capacity=20_000 if replay else batch,
        learning_starts=500 if replay else batch,
        train_every=2,
        target_update_every=250 if target else None,
        epsilon=LinearSchedule(1.0, 0.02, 4_000 if not quick else 1_000),
        seed=seed,
    )


@experiment("dqn_replay_and_target", ids=["S002-50"], claim=_CLAIM)
@single_threaded
def dqn_replay_and_target(seed=0, quick=False):
    """Note S002-50 (DQN for a game AI): "an experience-replay buffer sampled uniformly (breaks correlation
    between consecutive frames), a target network updated only periodically".

    Four DQN agents on CartPole-v1 (deepnotes.rl, Huber loss, Adam lr 1e-3, minibatch 32, one update every 2
    steps, epsilon 1 -> 0.02): with a 20,000-transition replay buffer or with only the last 32 consecutive
    transitions (no replay); with a target network synced every 250 steps or with targets from the online
    network.  Each trains for 16,000 steps (MLP 64-64) on seeds seed..seed+2 (quick mode: 2,000 steps, MLP
    32-32, one seed) with a greedy evaluation of 10 episodes every 1,000 steps (quick: 250); the score is the
    mean evaluation return over the second half of training.
    Checks (means over seeds): replay + target scores above 1.5x the no-replay agent and above 2x the agent with
    neither, and at least as high as the agent without a target network (ratio >= 1)."""
    steps, eval_every = (2_000, 250) if quick else (16_000, 1_000)
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    scores = {name: [] for name in _VARIANTS}
    curves = {name: [] for name in _VARIANTS}
    for name, (replay, target) in _VARIANTS.items():
        for s in seeds:
            agent = _agent(replay, target, s, quick)
            history = train_dqn(
                agent,
                CartPole(),
                steps=steps,
                eval_every=eval_every,
                eval_episodes=10,
                eval_seed=10_000 + s,
                solved_return=None,
                seed=s,
            )
            evals = history["evaluations"]
            late = [r["mean"] for r in evals if r["step"] > steps // 2]
            scores[name].append(float(np.mean(late)))
            curves[name].append([r["mean"] for r in evals])
            x = [r["step"] for r in evals]
    stats = {name: mean_std(v) for name, v in scores.items()}
    full = stats["replay + target network"][0]

    def ratio(other):
        return full / max(stats[other][0], 1.0)

    rows = [[name, replay, target, m, sd, *scores[name]] for (name, (replay, target)), (m, sd) in zip(
        _VARIANTS.items(), stats.values(), strict=True
    )]
    checks = [
        Check("score(replay + target) / score(no replay)", ratio("target network, no replay"), ">", 1.5),
        Check("score(replay + target) / score(neither)", ratio("neither"), ">", 2.0),
        Check("score(replay + target) / score(no target network)", ratio("replay, no target network"), ">=", 1.0),
    ]
    figure = Figure(
        "dqn_learning_curves",
        f"Greedy evaluation return on CartPole-v1 (mean of 10 episodes and {len(seeds)} seed(s))",
        "environment steps",
        "return",
        {name: (x, list(np.mean(c, axis=0))) for name, c in curves.items()},
    )
    return Result(
        experiment="dqn_replay_and_target",
        claim=_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Mean greedy return over the second half of {steps} training steps (score), per variant",
                ["variant", "replay", "target network", "score", "std over seeds", *[f"seed {s}" for s in seeds]],
                rows,
            )
        ],
        figures=[figure],
        seeds=seeds,
        quick=quick,
        notes="CartPole-v1 returns are at most 500; a score is the mean of the greedy evaluations after the first "
        "half of training.  The ratios divide by max(score, 1).",
    )
