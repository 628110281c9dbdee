"""Trainer with soft targets from MixUp/CutMix (batch_transform), the augmentation presets of
deepnotes.train.augment, and `deepnotes train --augment` end to end on the bundled digits."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepnotes as dn
from deepnotes import data, nn, optim
from deepnotes.cli import main
from deepnotes.data.transforms.batch import CutMix, MixUp
from deepnotes.train import Trainer
from deepnotes.train.augment import PRESETS, AugmentedImages, build_augment
from deepnotes.train.trainer import _accuracy_counts


def _images(seed=0, n=64):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 1, 4, 4)).astype(np.float32) * 0.3
    x[np.arange(n), 0, y, y] += 2.0  # the class is a bright pixel on the diagonal
    return data.TensorDataset(x, y)


def _trainer(batch_transform, seed=0):
    dn.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    opt = optim.SGD(model.parameters(), lr=0.2)
    loader = data.DataLoader(_images(), batch_size=16, shuffle=True)
    val = data.DataLoader(_images(1), batch_size=32)
    return Trainer(model, opt, loader, val_loader=val, progress=False, log=None, batch_transform=batch_transform)


class _Recorder:
    """Wraps a batch transform and keeps what the model was fed."""

    def __init__(self, inner):
        self.inner, self.seen = inner, []

    def __call__(self, inputs, target):
        out = self.inner(inputs, target)
        self.seen.append((inputs.numpy().copy(), target.numpy().copy(), out[0].numpy().copy(), out[1].numpy().copy()))
        return out


@pytest.mark.parametrize("cls", [MixUp, CutMix])
def test_soft_targets_train_and_the_loss_is_torch_cross_entropy_on_them(cls):
    rec = _Recorder(cls(alpha=1.0, num_classes=3))
    t = _trainer(rec)
    before = {k: v.data.copy() for k, v in t.model.state_dict().items()}
    history = t.fit(6)
    assert len(rec.seen) == 6 * 4  # every training batch, no validation batch
    x, y, mx, soft = rec.seen[0]
    assert soft.shape == (16, 3) and np.allclose(soft.sum(1), 1.0, atol=1e-6)
    assert not np.array_equal(mx, x)
    assert history[-1]["val_acc"] > 0.9  # soft targets still teach the class
    # the first epoch's first batch: the trainer's loss is torch's cross entropy with probability targets
    t2 = _trainer(None)
    t2.model.load_state_dict(before)
    logits = t2.model(dn.tensor(mx))
    ours = t2.loss_fn(logits, dn.tensor(soft)).item()
    ref = TF.cross_entropy(torch.from_numpy(logits.detach().numpy()), torch.from_numpy(soft)).item()
    assert ours == pytest.approx(ref, rel=1e-6)


def test_training_accuracy_counts_the_argmax_of_soft_targets():
    logits = dn.tensor(np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]], np.float32))
    soft = np.array([[0.7, 0.3, 0.0], [0.6, 0.4, 0.0], [0.0, 0.45, 0.55]], np.float32)
    assert _accuracy_counts(logits, dn.tensor(soft)) == (2, 3)
    assert _accuracy_counts(logits, dn.tensor(np.array([0, 0, 2]))) == (2, 3)


def test_batch_transform_run_is_reproducible_and_differs_from_plain():
    a = _trainer(MixUp(num_classes=3)).fit(2)
    b = _trainer(MixUp(num_classes=3)).fit(2)
    c = _trainer(None).fit(2)
    assert a == b
    assert a[-1]["train_loss"] != c[-1]["train_loss"]


def test_resume_with_mixup_continues_exactly(tmp_path):
    """MixUp draws its lambdas from deepnotes' generator, whose state the checkpoint keeps."""
    straight = _trainer(MixUp(num_classes=3))
    straight.fit(3)
    first = _trainer(MixUp(num_classes=3))
    first.checkpoint_path = tmp_path / "ckpt.safetensors"
    first.fit(1)
    resumed = _trainer(MixUp(num_classes=3), seed=42)
    resumed.load_checkpoint(tmp_path / "ckpt.safetensors")
    resumed.fit(3)
    for k, v in straight.model.state_dict().items():
        np.testing.assert_array_equal(v.data, resumed.model.state_dict()[k].data)
    assert resumed.history == straight.history


def test_bad_batch_transform_is_a_clear_error():
    with pytest.raises(TypeError, match="Trainer: batch_transform must be callable"):
        _trainer("mixup")


def test_presets():
    assert {"none", "mixup", "cutmix"} <= set(PRESETS)
    assert build_augment("none", 10) == (None, None)
    sample, batch = build_augment("MixUp", 10)
    assert sample is None and isinstance(batch, MixUp) and batch.alpha == 0.2 and batch.num_classes == 10
    assert isinstance(build_augment("cutmix", 5)[1], CutMix)
    with pytest.raises(ValueError, match=r"unknown augmentation preset 'cutmx'; did you mean cutmix"):
        build_augment("cutmx", 10)
    ds = AugmentedImages(_images(), lambda img: img * 0)
    img, label = ds[3]
    assert not np.asarray(img).any() and label == _images()[3][1] and len(ds) == 64


def test_train_cli_with_mixup_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--augment", "mixup", "--model", "lenet5_modern", "--epochs", "1", "--train-size", "256"]
    args += ["--test-size", "64", "--val-size", "64", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "augment mixup" in printed and "test accuracy" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["augment"] == "mixup" and 0 <= results["test_acc"] <= 1
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])


def test_train_cli_unknown_preset_suggests(tmp_path, capsys):
    assert main(["train", "--augment", "mixpu", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "did you mean mixup" in capsys.readouterr().err
