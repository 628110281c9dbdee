"""``deepnotes rl train`` and ``deepnotes rl play`` end to end with a tiny budget, and their one-line errors."""

import json

import numpy as np
import pytest

from deepnotes.cli import main
from deepnotes.io import save_checkpoint, save_weights
from deepnotes.rl import CartPole, evaluate
from deepnotes.rl.cli import load_agent


def _train(out, *extra):
    argv = ["rl", "train", "--steps", "400", "--eval-every", "200", "--eval-episodes", "3", "--out", str(out)]
    return main([*argv, "--no-progress", *extra])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rl")
    assert _train(out, "--seed", "3") == 0
    return out


def test_train_writes_checkpoint_history_and_curve(run):
    assert {p.name for p in run.iterdir()} == {"checkpoint.safetensors", "history.json", "returns.png"}
    history = json.loads((run / "history.json").read_text())
    assert [r["step"] for r in history["evaluations"]] == [200, 400] and history["steps"] == 400
    assert history["seed"] == 3 and history["solved_at_step"] is None
    assert history["best"] == max(history["evaluations"], key=lambda r: r["mean"])
    assert (run / "returns.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_checkpoint_is_the_best_evaluated_agent(run):
    """Replaying the training run's evaluation (same seed, same episodes) gives the best mean again."""
    history = json.loads((run / "history.json").read_text())
    agent, state = load_agent(str(run / "checkpoint.safetensors"))
    assert state["evaluation"] == history["best"]
    returns = evaluate(agent, CartPole(), episodes=3, seed=1_000_000 + 3)
    assert returns.mean() == history["best"]["mean"]


def test_play_prints_evaluation_returns(run, capsys):
    assert main(["rl", "play", str(run / "checkpoint.safetensors"), "--episodes", "5", "--seed", "9"]) == 0
    out = capsys.readouterr().out
    agent, _ = load_agent(str(run / "checkpoint.safetensors"))
    returns = evaluate(agent, CartPole(), episodes=5, seed=9)
    line = out.strip().splitlines()[-1]
    assert line == (
        f"mean return {returns.mean():.2f}  std {returns.std():.2f}  min {returns.min():.0f}  max {returns.max():.0f}"
    )


def test_train_with_an_episode_budget_and_plain_dqn(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:  # --steps and --episodes exclude each other
        _train(tmp_path, "--episodes", "3")
    assert e.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    argv = ["rl", "train", "--episodes", "3", "--no-double", "--no-plot", "--no-progress", "--out", str(tmp_path)]
    assert main(argv) == 0
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["episodes"]) == 3 and history["config"]["double"] is False
    assert not (tmp_path / "returns.png").exists()


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    return err


def test_play_errors_are_one_line(tmp_path, capsys):
    err = _error(capsys, ["rl", "play", str(tmp_path / "missing.safetensors")])
    assert err == f"deepnotes rl: error: {tmp_path / 'missing.safetensors'}: no such checkpoint file"
    assert "is a folder" in _error(capsys, ["rl", "play", str(tmp_path)])
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert "is not a valid safetensors file" in _error(capsys, ["rl", "play", str(tmp_path / "notes.txt")])
    save_weights({"w": np.zeros(3, np.float32)}, tmp_path / "weights.safetensors")
    assert "is not a deepnotes checkpoint" in _error(capsys, ["rl", "play", str(tmp_path / "weights.safetensors")])
    save_checkpoint({"kind": "something else"}, tmp_path / "other.safetensors")
    err = _error(capsys, ["rl", "play", str(tmp_path / "other.safetensors")])
    assert "is not a checkpoint of deepnotes rl train (its kind is 'something else'" in err


def test_a_damaged_checkpoint_is_reported(run, tmp_path, capsys):
    agent, state = load_agent(str(run / "checkpoint.safetensors"))
    state["config"]["hidden"] = [7]  # the weights no longer fit the network the config describes
    save_checkpoint(state, tmp_path / "bad.safetensors")
    err = _error(capsys, ["rl", "play", str(tmp_path / "bad.safetensors")])
    assert "the checkpoint of deepnotes rl train is damaged (Error(s) in loading state_dict" in err


def test_train_errors(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    err = _error(capsys, ["rl", "train", "--steps", "10", "--out", str(tmp_path / "file")])
    assert err.endswith("is a file; expected a folder (it is created if missing)")
    with pytest.raises(SystemExit) as e:
        main(["rl", "train", "--steps", "0"])
    assert e.value.code == 2 and "--steps must be >= 1, got 0" in capsys.readouterr().err


def test_rl_is_wired_into_the_deepnotes_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "rl" in capsys.readouterr().out.split()
    with pytest.raises(SystemExit):
        main(["rl", "--help"])
    out = capsys.readouterr().out
    assert "train" in out and "play" in out
    with pytest.raises(SystemExit) as e:
        main(["rl"])  # a sub-command is required
    assert e.value.code == 2


def test_plot_returns_draws_several_seeds(run, tmp_path):
    from deepnotes.rl.plot import plot_returns

    history = json.loads((run / "history.json").read_text())
    histories = [dict(history, label=f"seed {s}") for s in (0, 1)]
    plot_returns(histories, tmp_path / "seeds.png", title="two seeds")
    assert (tmp_path / "seeds.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
