"""deepnotes.train.adapt: models and image data fitted to each other; torch/torchvision as oracles."""

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes.data import Digits, TensorDataset
from deepnotes.models import get_model
from deepnotes.train.adapt import (
    AUX_MIN_SIDE,
    MIN_INPUT_SIDE,
    AuxiliaryLoss,
    FittedImages,
    IncompatibleInput,
    build_classifier,
    input_for,
    prepare_image_classification,
)


def _runs(model, side, channels=3):
    try:
        model(np.random.default_rng(0).standard_normal((2, channels, side, side)).astype(np.float32))
        return True
    except (ValueError, RuntimeError):
        return False


def _ours(name, **kw):
    m = get_model(name, num_classes=10, **kw)
    m.train()
    return lambda x: m(dn.tensor(x))


def _theirs(name, **kw):
    import torchvision.models as tvm

    m = getattr(tvm, name)(
        num_classes=10, **({"init_weights": False} if name in ("googlenet", "inception_v3") else {}), **kw
    )
    m.train()
    return lambda x: m(torch.from_numpy(x))


@pytest.mark.parametrize(
    "name, kw, side",
    [
        ("alexnet", {}, 63),
        ("vgg11", {}, 32),
        ("googlenet", {}, 15),
        ("densenet121", {}, 29),
        ("inception_v3", {"aux_logits": False}, 75),
        ("inception_v3", {}, 299),
    ],
)
def test_minimum_side_is_torchvisions_edge(name, kw, side):
    """torchvision's model runs at the listed side and fails one pixel below (training mode)."""
    expected = AUX_MIN_SIDE[name] if name in AUX_MIN_SIDE and not kw else MIN_INPUT_SIDE[name]
    assert side == expected
    with torch.no_grad():
        model = _theirs(name, **kw)
        assert _runs(model, side) and not _runs(model, side - 1)


@pytest.mark.parametrize("name, side", [("googlenet", 15), ("densenet121", 29)])
def test_minimum_side_is_our_edge(name, side):
    """The same edge in deepnotes (every listed model trains at its minimum in tests/test_cli_models.py)."""
    with dn.no_grad():
        model = _ours(name)
        assert _runs(model, side) and not _runs(model, side - 1)


def test_every_family_member_shares_the_table_entry():
    assert {k: v for k, v in MIN_INPUT_SIDE.items() if k.startswith("vgg")} == {
        f"vgg{d}{b}": 32 for d in (11, 13, 16, 19) for b in ("", "_bn")
    }
    assert {MIN_INPUT_SIDE[f"densenet{d}"] for d in (121, 161, 169, 201)} == {29}


def test_input_for():
    assert input_for("lenet5", 1, 28) == (1, 32)
    assert input_for("lenet5_modern", 3, 32) == (3, 32)
    assert input_for("resnet18", 1, 28) == (3, 28)
    assert input_for("alexnet", 1, 28) == (3, 63)
    assert input_for("alexnet", 3, 32, image_size=100) == (3, 100)
    assert input_for("inception_v3", 1, 32) == (3, 75)
    with pytest.raises(
        IncompatibleInput, match="inception_v3 needs images of at least 75x75 pixels, got an image size of 64"
    ):
        input_for("inception_v3", 3, 32, image_size=64)
    with pytest.raises(IncompatibleInput, match="lenet5 takes 32x32 images only"):
        input_for("lenet5", 1, 32, image_size=28)
    with pytest.raises(ValueError, match="expected 1 \\(grey\\) or 3 \\(RGB\\) image channels, got 2"):
        input_for("resnet18", 2, 32)


def test_build_classifier_keeps_torchvision_signatures():
    assert build_classifier("lenet5_modern", 10, 3).features[0].in_channels == 3
    assert build_classifier("mobilenet_v3_small", 7, 1).classifier[-1].out_features == 7
    assert build_classifier("inception_v3", 10, 3, side=75).AuxLogits is None
    assert build_classifier("googlenet", 10, 3, side=15).aux1 is not None


@pytest.mark.parametrize("fit", ["resize", "pad"])
def test_fitted_images_match_torch(fit):
    rng = np.random.default_rng(1)
    x = rng.random((5, 1, 28, 28)).astype(np.float32)
    y = np.arange(5)
    data = FittedImages(TensorDataset(dn.tensor(x), dn.tensor(y)), channels=3, side=32, fit=fit)
    t = torch.from_numpy(x)
    if fit == "resize":
        ref = torch.nn.functional.interpolate(t, size=(32, 32), mode="bilinear", align_corners=False)
    else:
        ref = torch.nn.functional.pad(t, (2, 2, 2, 2))
    ref = ref.expand(-1, 3, -1, -1).numpy()
    images, targets = data._collated_batch([0, 1, 2, 3, 4])
    assert images.shape == (5, 3, 32, 32) and images.data.flags.c_contiguous
    np.testing.assert_allclose(images.data, ref, rtol=1e-6, atol=1e-6)
    assert targets.data.tolist() == y.tolist()
    image, target = data[3]
    np.testing.assert_allclose(image, ref[3], rtol=1e-6, atol=1e-6)
    assert len(data) == 5


def test_fitted_images_reject_what_cannot_be_fitted():
    with pytest.raises(ValueError, match="FittedImages: fit must be 'pad' or 'resize', got 'crop'"):
        FittedImages(Digits(size=8), 3, 32, fit="crop")
    with pytest.raises(ValueError, match="cannot pad 32x32 images to 28x28"):
        FittedImages(Digits(size=32), 1, 28, fit="pad")[0]
    with pytest.raises(ValueError, match="cannot turn 3-channel images into 1 channels"):
        FittedImages(TensorDataset(dn.zeros(2, 3, 4, 4), dn.zeros(2)), 1, 4)[0]


def test_prepare_digits_for_a_torchvision_model():
    run = prepare_image_classification("alexnet", "digits")
    assert run.input_shape == (3, 63, 63)
    assert isinstance(run.train_set, FittedImages) and run.train_set.dataset.size == 63  # Digits(size=63)
    image, _ = run.train_set[0]
    assert image.shape == (3, 63, 63) and np.array_equal(image[0], image[2])
    plain = prepare_image_classification("lenet5", "digits")
    assert plain.input_shape == (1, 32, 32) and isinstance(plain.train_set, Digits)


def test_auxiliary_loss_matches_the_weighted_torch_sum():
    """googlenet in training mode: the model's call gives the main logits, the loss is
    CE(main) + 0.3 (CE(aux1) + CE(aux2)) and reaches the auxiliary heads; in evaluation mode plain CE."""
    dn.manual_seed(0)
    model = get_model("googlenet", num_classes=10)
    loss_fn = AuxiliaryLoss(model)
    x = dn.tensor(np.random.default_rng(2).standard_normal((2, 3, 15, 15)).astype(np.float32))
    y = dn.tensor(np.array([3, 7]))
    ce, tt = torch.nn.functional.cross_entropy, torch.tensor([3, 7])
    model.train()
    logits = model(x)
    assert isinstance(logits, dn.Tensor) and logits.shape == (2, 10)
    aux2, aux1 = loss_fn._aux
    loss = loss_fn(logits, y)
    as_t = lambda t: torch.from_numpy(t.data.astype(np.float64))  # noqa: E731
    want = ce(as_t(logits), tt) + 0.3 * (ce(as_t(aux1), tt) + ce(as_t(aux2), tt))
    np.testing.assert_allclose(loss.item(), want.item(), rtol=1e-6)
    assert loss_fn._aux == []  # consumed: the next loss without a forward is plain CE
    loss.backward()
    assert model.aux1.fc2.weight.grad is not None and model.aux2.fc2.weight.grad is not None
    model.eval()
    with dn.no_grad():
        out = model(x)
        np.testing.assert_allclose(loss_fn(out, y).item(), ce(as_t(out), tt).item(), rtol=1e-6)
