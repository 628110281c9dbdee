"""``deepnotes gan train`` / ``deepnotes gan cycle`` end to end on tiny runs, and the pieces they use."""

import json

import numpy as np
import pytest
from PIL import Image

import deepnotes as dn
from deepnotes import io
from deepnotes.cli import main
from deepnotes.data.datasets import Digits
from deepnotes.generative import DCGANDiscriminator, DCGANGenerator, TranslationGenerator, load_digits_classifier
from deepnotes.generative.cycle import cycle_domains, embolden
from deepnotes.generative.training import LOSS_DEFAULTS, default_config


def test_help_lists_the_losses(capsys):
    with pytest.raises(SystemExit) as e:
        main(["gan", "train", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name in ("gan", "nsgan", "wgan", "wgan-gp", "lsgan", "hinge", "--epochs", "--seed", "--out"):
        assert name in out


def test_bad_arguments(capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["gan", "train", "--loss", "wgangp", "--out", str(tmp_path)])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["gan", "train", "--loss", "gan", "--epochs", "0", "--out", str(tmp_path)])
    assert "--epochs must be positive" in capsys.readouterr().err
    afile = tmp_path / "f"
    afile.write_text("x")
    assert main(["gan", "train", "--loss", "gan", "--out", str(afile)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["gan", "train", "--loss", "gan", "--train-size", "10", "--out", str(tmp_path / "o")]) == 2
    assert "smaller than one batch" in capsys.readouterr().err


def _check_png(path, shape):
    img = np.asarray(Image.open(path))
    assert img.shape == shape and img.dtype == np.uint8


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["gan", "wgan", "wgan-gp"])
def test_gan_train_writes_its_files(tmp_path, capsys, loss):
    out = tmp_path / "run"
    argv = [
        "gan",
        "train",
        "--loss",
        loss,
        "--epochs",
        "2",
        "--train-size",
        "128",
        "--eval-samples",
        "100",
        "--out",
        str(out),
        "--seed",
        "3",
        "--n-critic",
        "2",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "epoch   2" in text and "IS" in text and "FID" in text
    for epoch in (1, 2):
        # 10x10 grid of 16x16 images scaled 2x with 2-pixel padding
        _check_png(out / "samples" / f"epoch_{epoch:03d}.png", (2 + 10 * 34, 2 + 10 * 34))
    state = json.loads((out / "history.json").read_text())
    assert state["config"]["loss"] == loss and state["config"]["seed"] == 3 and state["config"]["n_critic"] == 2
    assert [r["epoch"] for r in state["history"]] == [1, 2]
    for r in state["history"]:
        assert 1.0 <= r["inception_score"] <= 10.0 and r["fid"] >= 0 and 1 <= r["classes_covered"] <= 10
        assert np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"])
        assert r["d_steps"] == 128 // 32 and r["g_steps"] == 2  # batch 32, --n-critic 2
    if loss == "wgan-gp":
        assert all(r["gradient_penalty"] >= 0 for r in state["history"])
    ck = io.load_checkpoint(out / "checkpoint.safetensors")
    assert ck["epoch"] == 2 and ck["config"]["loss"] == loss
    g = DCGANGenerator(nz=ck["config"]["nz"], ngf=ck["config"]["ngf"])
    g.load_state_dict(ck["generator"])
    d = DCGANDiscriminator(ndf=ck["config"]["ndf"])
    d.load_state_dict(ck["discriminator"])
    if loss == "wgan":  # the clipped critic is saved after its last clip
        assert max(np.abs(v).max() for v in ck["discriminator"].values()) <= 0.01 + 1e-9
    assert (out / "curves.png").exists()  # matplotlib is a test extra


@pytest.mark.slow
def test_gan_train_is_reproducible(tmp_path, capsys):
    runs = []
    for name in ("a", "b"):
        argv = [
            "gan",
            "train",
            "--loss",
            "nsgan",
            "--epochs",
            "1",
            "--train-size",
            "64",
            "--eval-samples",
            "50",
            "--out",
            str(tmp_path / name),
        ]
        assert main(argv) == 0
        runs.append(io.load_checkpoint(tmp_path / name / "checkpoint.safetensors")["generator"])
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])


@pytest.mark.slow
def test_gan_cycle_reports_the_cycle_error(tmp_path, capsys):
    out = tmp_path / "cycle"
    assert main(["gan", "cycle", "--epochs", "1", "--train-size", "64", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cycle-consistency error" in text
    state = json.loads((out / "history.json").read_text())
    r = state["history"][0]
    for k in ("cycle_error_x", "cycle_error_y", "translation_error_x", "content_accuracy_x"):
        assert 0 <= r[k] <= 1
    # rows x, G(x), F(G(x)), y, F(y), G(F(y)) of 10 images each
    _check_png(out / "samples" / "epoch_001.png", (2 + 6 * 34, 2 + 10 * 34))
    ck = io.load_checkpoint(out / "checkpoint.safetensors")
    assert set(ck) >= {"G", "F", "config", "epoch"}


def test_loss_defaults_are_valid_configs():
    for loss in LOSS_DEFAULTS:
        cfg = default_config(loss)
        assert cfg.loss == loss and cfg.epochs > 0 and cfg.n_critic >= 1
    assert default_config("wgan").clip_value == 0.01
    assert default_config("wgan-gp").gp_weight == 10.0
    assert default_config("nsgan", epochs=3, lr_g=None).epochs == 3
    with pytest.raises(ValueError, match="default_config: unknown loss"):
        default_config("vae")


def test_networks_shapes_and_errors():
    dn.manual_seed(0)
    for size in (8, 16, 32):
        g, d = DCGANGenerator(nz=8, ngf=8, image_size=size), DCGANDiscriminator(ndf=8, image_size=size)
        x = g(dn.randn(3, 8))
        assert x.shape == (3, 1, size, size) and float(np.abs(x.detach().numpy()).max()) <= 1
        assert d(x).shape == (3,)
    with pytest.raises(ValueError, match="DCGANGenerator: expected noise of shape"):
        DCGANGenerator(nz=8)(dn.randn(2, 9))
    with pytest.raises(ValueError, match="DCGANDiscriminator: expected images"):
        DCGANDiscriminator()(dn.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="image_size must be 8, 16 or 32"):
        DCGANGenerator(image_size=28)
    t = TranslationGenerator()
    assert t(dn.randn(2, 1, 16, 16)).shape == (2, 1, 16, 16)


def test_embolden_is_a_3x3_grey_dilation():
    from scipy.ndimage import grey_dilation

    x = np.random.default_rng(0).random((3, 1, 9, 7)).astype(np.float32)
    ref = grey_dilation(x, size=(1, 1, 3, 3), mode="constant", cval=float(x.min()))
    np.testing.assert_array_equal(embolden(x), ref)
    xa, la, xb, lb, source = cycle_domains(False)
    assert len(xa) == len(la) == 180 and len(xb) == len(lb) == len(source) == 180
    np.testing.assert_array_equal(xb, embolden(source))


def test_shipped_classifier_recognises_the_test_digits():
    clf = load_digits_classifier()
    test = Digits(train=False, size=16)
    assert clf.accuracy(test.images, test.targets) >= 0.97
    p = clf.probs(test.images)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-12)
    assert clf.features(test.images[:5]).shape == (5, 84)
    # 8x8 inputs go through the same 8 -> 16 -> 32 resizing as the data set's 16x16 images
    eight = Digits(train=False, size=8)
    np.testing.assert_allclose(clf.probs(eight.images[:20]), p[:20], atol=1e-5)
    with pytest.raises(ValueError, match="to_classifier_input: expected"):
        clf.probs(np.zeros((2, 1, 28, 28)))


@pytest.mark.slow
def test_the_classifier_training_is_reproducible_in_quality():
    from deepnotes.generative import train_digits_classifier
    from deepnotes.generative.classifier import DigitsClassifier

    clf = DigitsClassifier(train_digits_classifier(seed=0, epochs=12))
    test = Digits(train=False, size=16)
    assert clf.accuracy(test.images, test.targets) >= 0.97


def test_linear_lr_decay_and_the_weight_average():
    from deepnotes import nn
    from deepnotes.generative.training import EMA, train_gan

    cfg = default_config("nsgan", epochs=2, train_size=64, lr_decay=True, nz=8, ngf=8, ndf=8, image_size=8)
    g, d, history = train_gan(cfg)
    # 2 steps per epoch, 4 in all: the rate before step t is base * (1 - t / 4)
    assert [r["lr_g"] for r in history] == pytest.approx([cfg.lr_g * 0.75, cfg.lr_g * 0.25])
    assert not g.training  # the averaged generator, ready to sample
    dn.manual_seed(0)
    net = nn.Linear(2, 1)
    ema = EMA(net, 0.9)
    start = net.weight.data.copy()
    net.weight.data[...] = 1.0
    ema.update()  # first update: d = min(0.9, 2 / 11)
    d = 2 / 11
    np.testing.assert_allclose(ema.model.weight.data, d * start + (1 - d) * 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="EMA: decay must be in"):
        EMA(net, 1.0)
