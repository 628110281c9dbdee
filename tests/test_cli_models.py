"""Every model `deepnotes train --model` lists trains through the command line on the bundled digits,
and a selection on local MNIST IDX and CIFAR-10 binary files written here (2 images, batch 2, one
step, at each architecture's smallest input side)."""

import struct

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import deepnotes as dn
from deepnotes.cli import main
from deepnotes.models import list_models

TINY = [
    "--epochs",
    "1",
    "--train-size",
    "2",
    "--test-size",
    "2",
    "--batch-size",
    "2",
    "--optimizer",
    "sgd",
    "--lr",
    "0.001",
    "--scheduler",
    "none",
    "--no-progress",
]


def _trained(capsys):
    out = capsys.readouterr().out
    assert "test accuracy" in out
    return out


@pytest.mark.parametrize("name", list_models())
@pytest.mark.slow  # every model trains for an epoch through the CLI
def test_every_model_trains_on_digits(name, tmp_path, capsys):
    assert main(["train", "--model", name, "--out", str(tmp_path)] + TINY) == 0
    _trained(capsys)
    assert (tmp_path / "model.safetensors").exists()


def _write_mnist(folder, n=4):
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())


def _write_cifar10(folder, n=2):
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        records = rng.integers(0, 256, (n, 1 + 3 * 32 * 32), dtype=np.uint8)
        records[:, 0] %= 10
        (folder / name).write_bytes(records.tobytes())


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "cifar10"])
@pytest.mark.parametrize(
    "name", ["lenet5", "lenet5_modern", "googlenet", "mobilenet_v3_small", "resnet18", "densenet121"]
)
def test_models_train_on_local_files(name, dataset, tmp_path, capsys):
    """Grey 28x28 images become 3-channel for torchvision models (LeNet-5 takes them padded to 32x32);
    CIFAR-10's 3x32x32 go to LeNet-5 with in_channels=3."""
    data = tmp_path / "data"
    data.mkdir()
    (_write_cifar10 if dataset == "cifar10" else _write_mnist)(data)
    assert (
        main(
            ["train", "--model", name, "--dataset", dataset, "--data", str(data), "--out", str(tmp_path / "run")] + TINY
        )
        == 0
    )
    _trained(capsys)


def test_resized_local_images_for_a_large_minimum(tmp_path, capsys):
    """alexnet needs 63x63: MNIST's 28x28 are resized up to it."""
    _write_mnist(tmp_path)
    assert (
        main(
            [
                "train",
                "--model",
                "alexnet",
                "--dataset",
                "mnist",
                "--data",
                str(tmp_path),
                "--out",
                str(tmp_path / "run"),
            ]
            + TINY
        )
        == 0
    )
    _trained(capsys)


def test_impossible_combination_is_one_line_and_exit_2(tmp_path, capsys):
    for argv, text in (
        (
            ["--model", "inception_v3", "--image-size", "64"],
            "deepnotes train: error: inception_v3 needs images of at least 75x75 pixels, got an image size of 64\n",
        ),
        (
            ["--model", "lenet5", "--image-size", "28"],
            "deepnotes train: error: lenet5 takes 32x32 images only, got an image size of 28\n",
        ),
    ):
        assert main(["train", "--out", str(tmp_path)] + argv + TINY) == 2
        assert capsys.readouterr().err == text


def test_image_size_option(tmp_path, capsys):
    assert main(["train", "--model", "resnet18", "--image-size", "40", "--out", str(tmp_path)] + TINY) == 0
    _trained(capsys)


def _blas_threads():
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_set_num_threads_sets_blas_threads():
    before = dn.get_num_threads()
    try:
        for n in (1, 2, 1):
            dn.set_num_threads(n)
            assert _blas_threads() == n and dn.get_num_threads() == n
    finally:
        dn.set_num_threads(before)
    with pytest.raises(ValueError, match="set_num_threads: expected a positive number of threads, got 0"):
        dn.set_num_threads(0)
    with pytest.raises(TypeError, match="set_num_threads: expected an int, got float"):
        dn.set_num_threads(1.5)


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--epochs", "1", "--train-size", "2", "--test-size", "2", "--no-progress"],
        ["lr-find", "--num-iter", "5", "--train-size", "8", "--batch-size", "2", "--no-progress"],
        ["bench", "lenet5", "--warmup", "0", "--repeat", "1"],
    ],
)
def test_threads_option_is_passed_through(command, tmp_path, capsys):
    before = dn.get_num_threads()
    out = ["--out", str(tmp_path)] if command[0] == "train" else []
    try:
        for n in (2, 1):
            assert main(command + out + ["--threads", str(n)]) == 0
            assert _blas_threads() == n
    finally:
        dn.set_num_threads(before)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(command + ["--threads", "0"])
    assert "error: argument --threads" in capsys.readouterr().err
