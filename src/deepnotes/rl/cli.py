"""``deepnotes rl train`` and ``deepnotes rl play``: DQN on CartPole-v1 from the command line.

    deepnotes rl train --out runs/rl                 # defaults that solve CartPole-v1
    deepnotes rl train --steps 50000 --seed 1 --no-double --out runs/rl1
    deepnotes rl play runs/rl/checkpoint.safetensors --episodes 100

``train`` stops as soon as a greedy evaluation of 100 episodes averages at least 475 (the CartPole-v1
"solved" threshold) and writes to ``--out``: ``checkpoint.safetensors`` (the agent of the best
evaluation), ``history.json`` (every training episode's return and every evaluation) and
``returns.png`` (when matplotlib is installed).  ``play`` loads a checkpoint and prints the greedy
returns of new episodes.  The main ``deepnotes`` command wires these in with :func:`register`.
"""

import argparse
import json
import os

from ..errors import FileFormatError, UserError
from ..threads import CLI_DEFAULT_THREADS

__all__ = ["register", "run_train", "run_play", "load_agent", "CHECKPOINT_KIND"]

#: The ``kind`` field of the checkpoints ``deepnotes rl train`` writes.
CHECKPOINT_KIND = "deepnotes.rl.dqn"


def _positive(flag, low=1):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{flag} must be >= {low}, got {value}")
        return value

    return parse


def register(subparsers):
    """Add ``rl`` (with ``train`` and ``play``) to an ``argparse`` subparsers object; returns its parser."""
    from .training import CARTPOLE_DEFAULTS, DEFAULT_STEPS

    rl = subparsers.add_parser(
        "rl",
        help="reinforcement learning: train a DQN agent on CartPole-v1, play a checkpoint",
        description="Deep Q-learning on the NumPy CartPole-v1 of deepnotes.rl.",
    )
    sub = rl.add_subparsers(dest="rl_command", metavar="{train,play}", parser_class=type(rl))
    sub.required = True

    t = sub.add_parser(
        "train",
        help="train a DQN agent on CartPole-v1",
        description="Train a DQN agent on CartPole-v1 until a greedy evaluation of --eval-episodes "
        "episodes averages at least 475 or the budget runs out; save the best agent, the history and "
        "the return curve in --out.",
    )
    budget = t.add_mutually_exclusive_group()
    budget.add_argument(
        "--steps",
        type=_positive("--steps"),
        default=None,
        metavar="N",
        help=f"budget in environment steps (default {DEFAULT_STEPS}; training stops earlier once solved)",
    )
    budget.add_argument(
        "--episodes", type=_positive("--episodes"), default=None, metavar="N", help="budget in training episodes"
    )
    t.add_argument("--seed", type=_positive("--seed", 0), default=0, help="seed of the agent and the environment")
    t.add_argument(
        "--double",
        action=argparse.BooleanOptionalAction,
        default=CARTPOLE_DEFAULTS["double"],
        help="double DQN targets: the online network picks the next action, the target network values it "
        f"(default {'on' if CARTPOLE_DEFAULTS['double'] else 'off'}; --no-double for the max of the target network)",
    )
    t.add_argument("--out", default="runs/rl", metavar="DIR", help="output folder (default runs/rl)")
    t.add_argument(
        "--eval-every",
        type=_positive("--eval-every"),
        default=1_000,
        metavar="N",
        help="evaluate greedily every N environment steps (default 1000; evaluating does not change the "
        "training, only how soon a solved agent is noticed)",
    )
    t.add_argument(
        "--eval-episodes",
        type=_positive("--eval-episodes"),
        default=100,
        metavar="N",
        help="episodes per evaluation (default 100, as the CartPole-v1 criterion)",
    )
    t.add_argument("--no-plot", action="store_true", help="do not draw returns.png")
    bars = t.add_mutually_exclusive_group()
    bars.add_argument(
        "--progress",
        dest="progress",
        action="store_const",
        const=True,
        default=None,
        help="show the progress bar even when stderr is not a terminal",
    )
    bars.add_argument("--no-progress", dest="progress", action="store_const", const=False, help="hide the progress bar")
    _threads(t)
    t.set_defaults(func=run_train)

    p = sub.add_parser(
        "play",
        help="evaluate a checkpoint of deepnotes rl train",
        description="Load CHECKPOINT (written by deepnotes rl train), play --episodes greedy episodes of "
        "CartPole-v1 and print the mean, standard deviation, minimum and maximum return.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint.safetensors from deepnotes rl train")
    p.add_argument("--episodes", type=_positive("--episodes"), default=100, help="episodes to play (default 100)")
    p.add_argument(
        "--seed",
        type=_positive("--seed", 0),
        default=12345,
        help="seed of the start states (default 12345, unlike the training run's evaluation seeds)",
    )
    _threads(p)
    p.set_defaults(func=run_play)
    return rl


def _threads(p):
    p.add_argument(
        "--threads",
        type=_positive("--threads"),
        default=CLI_DEFAULT_THREADS,
        metavar="N",
        help=f"BLAS threads (default {CLI_DEFAULT_THREADS}: the matrix products of a small Q-network are "
        "too small to split)",
    )


def _agent_kwargs(double):
    from .dqn import LinearSchedule
    from .training import CARTPOLE_DEFAULTS

    kwargs = {k: v for k, v in CARTPOLE_DEFAULTS.items() if not k.startswith("epsilon_")}
    kwargs["double"] = bool(double)
    kwargs["epsilon"] = LinearSchedule(
        CARTPOLE_DEFAULTS["epsilon_start"], CARTPOLE_DEFAULTS["epsilon_end"], CARTPOLE_DEFAULTS["epsilon_steps"]
    )
    return kwargs


def run_train(args):
    """``deepnotes rl train``: train, save the best agent, the history and the curve; returns the exit code."""
    from ..io import atomic_write_bytes, save_checkpoint
    from ..threads import set_num_threads
    from .cartpole import CartPole
    from .dqn import DQNAgent
    from .training import CARTPOLE_DEFAULTS, DEFAULT_STEPS, SOLVED_RETURN, train_dqn

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} is a file; expected a folder (it is created if missing)")
    plot = not args.no_plot
    if plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            plot = False
            print("returns.png is skipped: matplotlib is not installed (pip install 'deepnotes[plot]')")
    os.makedirs(args.out, exist_ok=True)
    set_num_threads(args.threads)
    steps = args.steps if args.steps is not None or args.episodes is not None else DEFAULT_STEPS
    env = CartPole()
    agent = DQNAgent(env.observation_space.shape[0], env.action_space.n, seed=args.seed, **_agent_kwargs(args.double))
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in CARTPOLE_DEFAULTS.items()}
    config["double"] = bool(args.double)
    checkpoint = os.path.join(args.out, "checkpoint.safetensors")

    def save_best(agent, record):
        state = {
            "kind": CHECKPOINT_KIND,
            "env": "CartPole-v1",
            "obs_dim": agent.obs_dim,
            "n_actions": agent.n_actions,
            "config": config,
            "seed": args.seed,
            "evaluation": record,
            "agent": agent.state_dict(),
        }
        save_checkpoint(state, checkpoint)

    budget = f"{steps} steps" if steps is not None else f"{args.episodes} episodes"
    print(
        f"training {'double ' if args.double else ''}DQN on CartPole-v1: seed {args.seed}, at most {budget}, "
        f"evaluating {args.eval_episodes} greedy episodes every {args.eval_every} steps"
    )
    history = train_dqn(
        agent,
        env,
        steps=steps,
        episodes=args.episodes if steps is None else None,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        eval_seed=1_000_000 + args.seed,
        seed=args.seed,
        progress=args.progress,
        on_best=save_best,
    )
    history["seed"] = args.seed
    history["config"] = config
    atomic_write_bytes(os.path.join(args.out, "history.json"), json.dumps(history, indent=1).encode())
    best = history["best"]
    if history["solved_at_step"] is not None:
        print(
            f"solved at step {history['solved_at_step']} (episode {best['episode']}): mean return "
            f"{best['mean']:.1f} over {args.eval_episodes} greedy episodes, in {history['seconds']:.0f} s"
        )
    else:
        print(
            f"not solved in {history['steps']} steps ({history['seconds']:.0f} s): best mean return "
            f"{best['mean']:.1f} over {args.eval_episodes} greedy episodes at step {best['step']} "
            f"(the threshold is {SOLVED_RETURN:g})"
        )
    print(f"checkpoint (the best evaluation): {checkpoint}")
    print(f"history: {os.path.join(args.out, 'history.json')}")
    if plot:
        from .plot import plot_returns

        png = os.path.join(args.out, "returns.png")
        plot_returns(history, png, title=f"DQN on CartPole-v1, seed {args.seed}")
        print(f"return curve: {png}")
    return 0


def load_agent(path):
    """The greedy agent saved in a checkpoint of ``deepnotes rl train`` (and the checkpoint's dict)."""
    from ..io import load_checkpoint
    from .dqn import DQNAgent

    if not os.path.exists(path):
        raise UserError(f"{path}: no such checkpoint file")
    if os.path.isdir(path):
        raise UserError(f"{path} is a folder; expected the checkpoint.safetensors inside it")
    state = load_checkpoint(path)
    if not isinstance(state, dict) or state.get("kind") != CHECKPOINT_KIND:
        got = state.get("kind") if isinstance(state, dict) else type(state).__name__
        raise FileFormatError(
            f"{path} is not a checkpoint of deepnotes rl train (its kind is {got!r}, expected {CHECKPOINT_KIND!r})"
        )
    try:
        agent = DQNAgent(
            int(state["obs_dim"]),
            int(state["n_actions"]),
            hidden=tuple(state["config"]["hidden"]),
            target_update_every=None,
            seed=0,
        )
        agent.q_net.load_state_dict(state["agent"]["q_net"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        detail = " ".join(str(e).split())  # one line: load_state_dict lists each mismatch on its own line
        raise FileFormatError(f"{path}: the checkpoint of deepnotes rl train is damaged ({detail})") from None
    return agent, state


def run_play(args):
    """``deepnotes rl play``: load a checkpoint and print its greedy returns; returns the exit code."""
    from ..threads import set_num_threads
    from .cartpole import CartPole
    from .evaluate import evaluate_batched

    set_num_threads(args.threads)
    agent, state = load_agent(args.checkpoint)
    returns = evaluate_batched(agent, CartPole(), args.episodes, seed=args.seed)
    trained = state.get("evaluation") or {}
    if "step" in trained:
        print(f"agent trained for {trained['step']} steps (seed {state.get('seed')})")
    print(f"{args.episodes} greedy episodes of CartPole-v1 from seed {args.seed}:")
    print(
        f"mean return {returns.mean():.2f}  std {returns.std():.2f}  min {returns.min():.0f}  max {returns.max():.0f}"
    )
    return 0
