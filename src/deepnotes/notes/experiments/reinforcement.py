"""Reinforcement-learning claims of seed 002: DQN's two stabilisers, experience replay and the target network
(S002-50), measured with deepnotes.rl on the NumPy CartPole-v1.

Four agents that differ only in those two parts learn CartPole from the same seeds; each is scored by the mean
return of greedy evaluations (fixed start states) over the second half of its training, which rewards both
learning fast and staying good."""

from __future__ import annotations

import numpy as np

from deepnotes.rl import CartPole, DQNAgent, LinearSchedule
from deepnotes.rl.training import CARTPOLE_DEFAULTS, train_dqn

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


#: the quick mode's smaller run: fewer steps, a smaller network, exploration and learning starting sooner
_QUICK = {"steps": 2_000, "eval_every": 500, "hidden": (32, 32), "epsilon_steps": 800, "learning_starts": 300}
_FULL = {"steps": 12_000, "eval_every": 1_000}


def _agent(replay, target, seed, quick):
    """The agent of ``deepnotes rl train`` (its CartPole defaults, without double DQN) with or without replay
    and the target network.  Without replay the buffer holds only the last minibatch of consecutive steps, so
    each update learns from the most recent transitions (the online setting); without a target network the TD
    targets come from the online network being trained."""
    cfg = dict(CARTPOLE_DEFAULTS)
    if quick:
        cfg.update({k: v for k, v in _QUICK.items() if k in cfg})
    eps = LinearSchedule(cfg.pop("epsilon_start"), cfg.pop("epsilon_end"), cfg.pop("epsilon_steps"))
    cfg["double"] = False
    if not replay:
        cfg["buffer_capacity"] = cfg["learning_starts"] = cfg["batch_size"]
    if not target:
        cfg["target_update_every"] = None
    return DQNAgent(4, 2, epsilon=eps, seed=seed, **cfg)


@experiment("dqn_replay_and_target", ids=["S002-50"], claim=_CLAIM)
@single_threaded
def dqn_replay_and_target(seed=0, quick=False):
    """Note S002-50 (DQN for a game AI): "an experience-replay buffer sampled uniformly (breaks correlation
    between consecutive frames), a target network updated only periodically".

    Four DQN agents on CartPole-v1 with the settings of ``deepnotes rl train`` (MLP 64-64, Huber loss, Adam
    lr 1e-3, minibatch 64, one update every 2 steps, epsilon 1 -> 0.02 over 6,000 steps) but plain (not
    double) DQN: with the 50,000-transition replay buffer or with only the last 64 consecutive transitions
    (no replay); with the target network synced every 250 steps or with targets from the online network.
    Each trains for 12,000 steps on seeds seed..seed+2 (quick mode: 1,200 steps, MLP 32-32, epsilon over 600
    steps, one seed) with a greedy evaluation of 10 episodes every 1,000 steps (quick: 300); the score is the
    mean evaluation return over the second half of training.  The table also gives max_a Q(s, a) at the
    upright state after training (a discounted return cannot exceed 1 / (1 - gamma) = 100).
    Checks (means over seeds): replay + target scores above 1.5x the no-replay agent and above 2x the agent with
    neither, and at least as high as the agent without a target network (ratio >= 1); with replay, the target
    network keeps max Q at the upright state below the bound 1 / (1 - gamma), and without it Q exceeds the
    bound (diverges)."""
    steps, eval_every = (_QUICK if quick else _FULL)["steps"], (_QUICK if quick else _FULL)["eval_every"]
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    scores = {name: [] for name in _VARIANTS}
    curves = {name: [] for name in _VARIANTS}
    q_upright = {name: [] for name in _VARIANTS}  # max_a Q(s, a) at the upright, centred state, after training
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
            q_upright[name].append(float(agent.q_values(np.zeros(4, np.float32)).max()))
            x = [r["step"] for r in evals]
    stats = {name: mean_std(v) for name, v in scores.items()}
    q_max = {name: float(np.mean(v)) for name, v in q_upright.items()}
    gamma = CARTPOLE_DEFAULTS["gamma"]
    full = stats["replay + target network"][0]

    def ratio(other):
        return full / max(stats[other][0], 1.0)

    rows = [
        [name, replay, target, m, sd, *scores[name], q_max[name]]
        for (name, (replay, target)), (m, sd) in zip(_VARIANTS.items(), stats.values(), strict=True)
    ]
    checks = [
        Check("score(replay + target) / score(no replay)", ratio("target network, no replay"), ">", 1.5),
        Check("score(replay + target) / score(neither)", ratio("neither"), ">", 2.0),
        Check("score(replay + target) / score(no target network)", ratio("replay, no target network"), ">=", 1.0),
        # a discounted return of reward-1 steps is below 1 / (1 - gamma): a Q-value above it has diverged
        Check(
            "max Q at the upright state, replay + target network, x (1 - gamma)",
            q_max["replay + target network"] * (1 - gamma),
            "<",
            1.0,
        ),
        Check(
            "max Q at the upright state, replay without target network, x (1 - gamma)",
            q_max["replay, no target network"] * (1 - gamma),
            ">",
            1.0,
        ),
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
                [
                    "variant",
                    "replay",
                    "target network",
                    "score",
                    "std over seeds",
                    *[f"seed {s}" for s in seeds],
                    "max Q at the upright state",
                ],
                rows,
            )
        ],
        figures=[figure],
        seeds=seeds,
        quick=quick,
        notes="CartPole-v1 returns are at most 500; a score is the mean of the greedy evaluations after the first "
        "half of training.  The ratios divide by max(score, 1).  The last column is max_a Q(s, a) at the state "
        "(0, 0, 0, 0) after training, mean over seeds: a discounted return with reward 1 per step cannot exceed "
        "1 / (1 - gamma) = 100, so values far above it show Q-values that diverged (bootstrapping from the "
        "network being trained, on successive states that are nearly identical, keeps raising its own target).",
    )
