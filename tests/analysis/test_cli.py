"""``summary`` and ``bench`` subcommands, wired into a parser built here as the main command does."""

import argparse

import pytest
import torch

from deepnotes.analysis.cli import register

torch.set_num_threads(1)


def parser():
    p = argparse.ArgumentParser(prog="deepnotes")
    sub = p.add_subparsers(dest="command")
    sub.required = True
    register(sub)
    return p


def run(argv):
    args = parser().parse_args(argv)
    return args.func(args)


# classic LeNet-5 (seed 002), parameters per layer: C1, S2, C3 (partial table), S4, C5, F6, RBF output
CLASSIC_LENET5_NOTES = [156, 12, 1516, 32, 48120, 10164, 840]


def modern_lenet_param_count():
    t = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5),
        torch.nn.Conv2d(6, 16, 5),
        torch.nn.Linear(400, 120),
        torch.nn.Linear(120, 84),
        torch.nn.Linear(84, 10),
    )
    return sum(p.numel() for p in t.parameters())


def test_summary_command(capsys):
    assert run(["summary", "lenet5_modern"]) == 0  # default input 1x32x32 for LeNet-5
    out = capsys.readouterr().out
    assert f"Total params: {modern_lenet_param_count():,}" in out and "features.5 (MaxPool2d)" in out
    assert run(["summary", "LeNet5_Modern", "--input", "1x32x32", "--batch", "2", "--depth", "1", "--no-rf"]) == 0
    out = capsys.readouterr().out
    assert "[2, 10]" in out and "features.0" not in out


def test_summary_command_classic_lenet5(capsys):
    assert run(["summary", "lenet5"]) == 0  # the 1998 network, default input 1x32x32
    out = capsys.readouterr().out
    assert f"Total params: {sum(CLASSIC_LENET5_NOTES):,}" in out
    assert "c3 (ConnectionTableConv2d)" in out and "[1, 16, 10, 10]" in out and "output (EuclideanRBF)" in out


def test_bench_command(capsys):
    assert run(["bench", "lenet5", "--batch", "2", "--warmup", "0", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert "p50" in out and "p90" in out and "images/s" in out and f"{sum(CLASSIC_LENET5_NOTES):,} parameters" in out
    assert run(["bench", "lenet5_modern", "--batch", "2", "--warmup", "0", "--repeat", "2"]) == 0
    assert f"{modern_lenet_param_count():,} parameters" in capsys.readouterr().out


def test_unknown_model_hint(capsys):
    assert run(["summary", "lenet"]) == 2
    err = capsys.readouterr().err
    assert "deepnotes summary: error:" in err and "did you mean lenet5" in err


def test_input_too_small_or_wrong_names_the_layer(capsys):
    assert run(["summary", "lenet5_modern", "--input", "3x32x32"]) == 2
    assert "features.0 (Conv2d)" in capsys.readouterr().err
    assert run(["bench", "lenet5_modern", "--input", "1x28x28", "--repeat", "1"]) == 2
    assert "LeNet5 (the model's own forward)" in capsys.readouterr().err
    assert run(["summary", "lenet5", "--input", "3x32x32"]) == 2
    assert "c1 (Conv2d)" in capsys.readouterr().err
    assert run(["bench", "lenet5", "--input", "1x28x28", "--repeat", "1"]) == 2
    assert "LeNet5Classic (the model's own forward)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["summary", "lenet5", "--input", "3xx32"],
        ["summary", "lenet5", "--input", "abc"],
        ["summary", "lenet5", "--input", "1x0x32"],
        ["bench", "lenet5", "--input", "-1x32x32"],
        ["bench", "lenet5", "--batch", "0"],
        ["bench", "lenet5", "--repeat", "two"],
        ["summary", "lenet5", "--depth", "-1"],
    ],
)
def test_malformed_arguments_exit_with_usage_error(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--input" in err or "--batch" in err or "--repeat" in err or "--depth" in err
