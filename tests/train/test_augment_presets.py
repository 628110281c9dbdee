"""The ``light`` and ``strong`` presets of deepnotes.train.augment: what they hold, that their sample
transform really changes what the DataLoader hands out (and repeats under a seed), the help text, and
`deepnotes train --augment light|strong` end to end on the bundled digits."""

import json

import numpy as np
import pytest

import deepnotes as dn
from deepnotes import data
from deepnotes.cli import build_parser, main
from deepnotes.data import transforms as T
from deepnotes.train.augment import PRESETS, AugmentedImages, build_augment


def _first_batch(dataset, seed):
    dn.manual_seed(seed)
    x, y = next(iter(data.DataLoader(dataset, batch_size=16, shuffle=True)))
    return np.asarray(x), np.asarray(y)


@pytest.mark.parametrize("name", ["light", "strong"])
def test_preset_builds_a_sample_transform_and_no_batch_transform(name):
    sample, batch = build_augment(name, 10)
    assert isinstance(sample, T.Compose) and batch is None
    kinds = {type(t) for t in sample.transforms}
    # digits change identity when mirrored: no preset may flip
    assert not kinds & {T.RandomHorizontalFlip, T.RandomVerticalFlip}
    assert T.RandomScaleCrop in kinds and T.RandomAffine in kinds
    if name == "strong":
        assert {T.ColorJitter, T.GaussianNoise, T.RandomErasing} <= kinds


@pytest.mark.parametrize("name", ["light", "strong"])
def test_sample_transform_changes_the_loader_batch_and_repeats_under_a_seed(name):
    plain = data.Digits(train=True)
    augmented = AugmentedImages(plain, build_augment(name, 10)[0])
    x0, y0 = _first_batch(plain, 3)
    x1, y1 = _first_batch(augmented, 3)
    x2, y2 = _first_batch(augmented, 3)
    np.testing.assert_array_equal(y0, y1)  # same order: only the images change
    assert x1.shape == x0.shape and x1.dtype == x0.dtype
    changed = np.abs(x1 - x0).reshape(len(x0), -1).max(1) > 1e-3
    assert changed.all()  # every image of the batch went through the random transform
    assert 0.0 <= x1.min() and x1.max() <= 1.0
    np.testing.assert_array_equal(x1, x2)  # the seed repeats the draws
    assert not np.array_equal(_first_batch(augmented, 4)[0], x1)


def test_strong_differs_from_light_under_the_same_seed():
    plain = data.Digits(train=True)
    light = _first_batch(AugmentedImages(plain, build_augment("light", 10)[0]), 5)[0]
    strong = _first_batch(AugmentedImages(plain, build_augment("strong", 10)[0]), 5)[0]
    assert not np.array_equal(light, strong)


def test_train_help_lists_every_preset():
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    text = " ".join(train.format_help().split())
    for name, preset in PRESETS.items():
        assert f"{name} ({' '.join(preset.description.split())})" in text
    assert {"none", "light", "strong", "mixup", "cutmix"} <= set(PRESETS)


@pytest.mark.parametrize("name", ["light", "strong"])
def test_train_cli_with_preset_end_to_end(name, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--augment", name, "--model", "lenet5_modern", "--epochs", "1", "--train-size", "128"]
    args += ["--test-size", "32", "--val-size", "32", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"augment {name}" in printed and "test accuracy" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["augment"] == name and 0 <= results["test_acc"] <= 1
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])
