"""MixUp, CutMix and LabelSmoothing (deepnotes.data.transforms.batch) against torchvision.transforms.v2 and
torch's cross_entropy(label_smoothing=...)."""

import math

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as TF
from torchvision.transforms import v2

import deepnotes as dn
from deepnotes.data import DataLoader, TensorDataset, default_collate
from deepnotes.data.transforms.batch import CutMix, LabelSmoothing, MixUp, cutmix_box
from deepnotes.data.tv_tensors import BoundingBoxes, Image, Mask
from deepnotes.nn import functional as F


def _batch(rng, n=6, c=3, h=7, w=5, dtype=np.float32, classes=4):
    return rng.random((n, c, h, w)).astype(dtype), rng.integers(0, classes, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mixup_equals_torchvision_with_the_same_lambda(rng, dtype):
    x, y = _batch(rng, dtype=dtype)
    torch.manual_seed(3)
    ref = v2.MixUp(alpha=0.4, num_classes=4)
    lam = ref.make_params([])["lam"]
    ref.make_params = lambda flat: {"lam": lam}  # the same draw for the forward pass
    rx, ry = ref(torch.from_numpy(x), torch.from_numpy(y))
    ours = MixUp(alpha=0.4, num_classes=4)
    ours.make_params = lambda size=None: {"lam": lam}
    ox, oy = ours(x, y)
    assert type(ox) is np.ndarray and ox.dtype == dtype and oy.dtype == np.float32
    # the same operations in the same order: bit for bit
    np.testing.assert_array_equal(ox, rx.numpy())
    np.testing.assert_array_equal(oy, ry.numpy())
    np.testing.assert_allclose(oy.sum(1), 1.0, atol=1e-6)


def test_mixup_by_hand_and_on_tensors(rng):
    x, y = _batch(rng, dtype=np.float64)
    lam = 0.3
    ox, oy = MixUp(num_classes=4).transform(dn.tensor(x), {"lam": lam}), None
    assert isinstance(ox, dn.Tensor)
    for i in range(len(x)):
        np.testing.assert_allclose(ox.numpy()[i], lam * x[i] + (1 - lam) * x[i - 1], atol=1e-15)
    m = MixUp(num_classes=4)
    m.make_params = lambda size=None: {"lam": lam}
    ox, oy = m(dn.tensor(x), dn.tensor(y))
    assert isinstance(ox, dn.Tensor) and isinstance(oy, dn.Tensor)
    expected = np.zeros((len(y), 4))
    expected[np.arange(len(y)), y] += lam
    expected[np.arange(len(y)), np.roll(y, 1)] += 1 - lam
    np.testing.assert_allclose(oy.numpy(), expected, atol=1e-7)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("h", "w"), [(7, 5), (1, 1), (1, 9), (32, 32), (13, 2)])
def test_cutmix_box_equals_torchvision_for_the_same_draws(seed, h, w):
    """torchvision's make_params draws lam, then x, then y from torch's generator; replaying the same
    draws through our cutmix_box gives the same rectangle and the same adjusted lambda."""
    ref = v2.CutMix(alpha=1.0, num_classes=3)
    img = torch.zeros(2, 1, h, w)
    torch.manual_seed(seed)
    expected = ref.make_params([img])
    torch.manual_seed(seed)
    lam = float(ref._dist.sample(()))
    cx, cy = int(torch.randint(w, size=(1,))), int(torch.randint(h, size=(1,)))
    box, lam_adjusted = cutmix_box(lam, cx, cy, h, w)
    assert box == expected["box"]
    assert lam_adjusted == pytest.approx(expected["lam_adjusted"], abs=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_cutmix_equals_torchvision_with_the_same_box(rng, dtype):
    x, y = _batch(rng, n=5, h=11, w=9)
    x = (x * 255).astype(dtype) if dtype == np.uint8 else x
    ref = v2.CutMix(num_classes=4)
    torch.manual_seed(1)
    params = ref.make_params([torch.from_numpy(x)])
    ref.make_params = lambda flat: params
    rx, ry = ref(torch.from_numpy(x), torch.from_numpy(y))
    ours = CutMix(num_classes=4)
    ours.make_params = lambda size: params
    ox, oy = ours(x, y)
    assert ox.dtype == dtype
    np.testing.assert_array_equal(ox, rx.numpy())
    np.testing.assert_allclose(oy, ry.numpy(), atol=1e-7)
    np.testing.assert_allclose(oy.sum(1), 1.0, atol=1e-6)


def test_cutmix_target_weight_is_the_pasted_pixel_share(rng):
    """Each soft target gives the rolled sample's class exactly the share of its pixels in the output."""
    n, h, w = 8, 13, 10
    x = np.broadcast_to(np.arange(n, dtype=np.float64)[:, None, None, None], (n, 1, h, w)).copy()
    y = np.arange(n) % 8
    dn.manual_seed(0)
    cm = CutMix(alpha=0.7, num_classes=8)
    for _ in range(30):
        ox, oy = cm(x, y)
        for i in range(n):
            share_rolled = float((ox[i] == (i - 1) % n).mean())
            assert oy[i, (i - 1) % n] == pytest.approx(share_rolled, abs=1e-6)
            assert oy[i, i] == pytest.approx(1 - share_rolled, abs=1e-6)


def test_lambda_and_box_distributions_match_torchvision():
    """Statistical: our lambda follows Beta(alpha, alpha) (KS test against the CDF) and our CutMix
    weights have the distribution of torchvision's (two-sample KS test)."""
    draws = 3000
    gen = np.random.default_rng(5)
    for alpha in (0.2, 1.0):
        mix = MixUp(alpha=alpha, num_classes=2, generator=gen)
        lams = [mix.make_params()["lam"] for _ in range(draws)]
        assert scipy.stats.kstest(lams, scipy.stats.beta(alpha, alpha).cdf).pvalue > 1e-3
    ours, ref = CutMix(alpha=1.0, num_classes=2, generator=gen), v2.CutMix(alpha=1.0, num_classes=2)
    torch.manual_seed(5)
    img = torch.zeros(1, 1, 24, 17)
    a = [ours.make_params((24, 17))["lam_adjusted"] for _ in range(draws)]
    b = [ref.make_params([img])["lam_adjusted"] for _ in range(draws)]
    assert scipy.stats.ks_2samp(a, b).pvalue > 1e-3
    # the test can fail: a wrong alpha is rejected
    wrong = [MixUp(alpha=0.5, num_classes=2, generator=gen).make_params()["lam"] for _ in range(draws)]
    assert scipy.stats.kstest(wrong, scipy.stats.beta(1.0, 1.0).cdf).pvalue < 1e-3


def test_seed_reproduces_the_mix(rng):
    x, y = _batch(rng)
    outs = []
    for _ in range(2):
        dn.manual_seed(11)
        outs.append(CutMix(num_classes=4)(x, y) + MixUp(num_classes=4)(x, y))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_structures_and_probability_labels(rng):
    x, y = _batch(rng)
    m = MixUp(num_classes=4)
    m.make_params = lambda size=None: {"lam": 0.25}
    out = m((Image(x), {"labels": y, "id": 7}))
    assert isinstance(out, tuple) and isinstance(out[0], Image) and out[1]["id"] == 7
    assert out[1]["labels"].shape == (6, 4)
    probs = np.full((6, 4), 0.25)
    ox, oy = m(x, probs)
    np.testing.assert_allclose(oy, 0.25)
    getter = MixUp(num_classes=4, labels_getter=lambda inputs: inputs["target"])
    res = getter({"img": x, "target": y})
    assert res["target"].shape == (6, 4) and res["img"].shape == x.shape


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda x, y: MixUp(num_classes=4)(x[0], y),
            r"MixUp: expected a batch of images \(N, C, H, W\), .*\(3, 7, 5\)",
        ),
        (lambda x, y: MixUp(num_classes=4)(x, y[:3]), "MixUp: the images hold 6 samples but the labels 3"),
        (lambda x, y: MixUp()(x, y), "MixUp: num_classes must be given"),
        (lambda x, y: CutMix(num_classes=2)(x, y + 2), r"CutMix: labels must lie in \[0, 2\)"),
        (lambda x, y: MixUp(num_classes=4)((x * 255).astype(np.uint8), y), "MixUp: images must be floating point"),
        (lambda x, y: MixUp(num_classes=4)(x, y.astype(float)), "MixUp: 1-D labels must be integer class indices"),
        (lambda x, y: MixUp(num_classes=4)(x, y[:, None, None]), r"MixUp: labels must be class indices .* got shape"),
        (lambda x, y: MixUp(num_classes=3)(x, np.full((6, 4), 0.25)), "num_classes=3 columns, got shape"),
        (
            lambda x, y: MixUp(num_classes=4)(x, y, BoundingBoxes(np.zeros((0, 4)), format="XYXY", canvas_size=(7, 5))),
            "MixUp: works on image batches and labels only",
        ),
        (lambda x, y: CutMix(num_classes=4)((x, Mask(np.zeros((7, 5)))), y), "CutMix: works on image batches"),
        (lambda x, y: MixUp(alpha=0, num_classes=4), "MixUp: alpha must be a positive"),
        (lambda x, y: MixUp(num_classes=4)(x, "cat"), "MixUp: cannot find the labels"),
        (
            lambda x, y: CutMix(num_classes=4)(x.transpose(0, 2, 3, 1), y),
            r"CutMix: the batch of shape .* looks channels-last",
        ),
    ],
)
def test_bad_input_is_a_clear_error(rng, call, match):
    x, y = _batch(rng)
    with pytest.raises(ValueError, match=match):
        call(x, y)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.35, 1.0])
def test_label_smoothing_cross_entropy_equals_torch(rng, eps):
    c = 7
    logits = rng.standard_normal((9, c)) * 3
    y = rng.integers(0, c, 9)
    soft = LabelSmoothing(c, eps, dtype=np.float64)(y)
    np.testing.assert_allclose(soft.sum(1), 1.0, atol=1e-15)
    ours = F.cross_entropy(dn.tensor(logits), dn.tensor(soft)).item()
    ref = TF.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y), label_smoothing=eps).item()
    assert math.isclose(ours, ref, rel_tol=1e-12, abs_tol=1e-14)
    # torch itself, fed our soft targets, agrees too
    assert math.isclose(TF.cross_entropy(torch.from_numpy(logits), torch.from_numpy(soft)).item(), ref, rel_tol=1e-12)


def test_label_smoothing_equals_the_functional_form(rng):
    y = rng.integers(0, 5, (4, 3))
    ours = LabelSmoothing(5, 0.3, dtype=np.float64)(y)
    ref = F.smooth_labels(y, 5, eps=0.3, dim=-1, dtype=np.float64)
    np.testing.assert_allclose(ours, np.asarray(ref.data if hasattr(ref, "data") else ref), atol=1e-15)


def test_cutmix_as_collate_function_of_a_data_loader():
    x = np.arange(8 * 3 * 4, dtype=np.float32).reshape(8, 1, 3, 4)
    y = np.arange(8) % 3
    cutmix = CutMix(num_classes=3)
    loader = DataLoader(
        TensorDataset(x, y), batch_size=4, shuffle=True, collate_fn=lambda b: cutmix(*default_collate(b))
    )
    dn.manual_seed(2)
    batches = list(loader)
    assert len(batches) == 2
    for images, soft in batches:
        assert isinstance(images, dn.Tensor) and images.shape == (4, 1, 3, 4)
        assert soft.shape == (4, 3)
        np.testing.assert_allclose(soft.numpy().sum(1), 1.0, atol=1e-6)


def test_label_smoothing_per_sample_and_on_probabilities():
    ls = LabelSmoothing(4, 0.2)
    v = ls(2)
    assert v.shape == (4,) and v.dtype == np.float32
    np.testing.assert_allclose(v, [0.05, 0.05, 0.85, 0.05], atol=1e-7)
    probs = np.array([[0.5, 0.5, 0.0, 0.0]])
    np.testing.assert_allclose(ls(probs), [[0.45, 0.45, 0.05, 0.05]], atol=1e-7)
    assert isinstance(ls(dn.tensor(np.array([1, 3]))), dn.Tensor)
    with pytest.raises(ValueError, match=r"LabelSmoothing: labels must lie in \[0, 4\)"):
        ls(np.array([4]))
    with pytest.raises(ValueError, match="LabelSmoothing: probability targets must have 4 entries"):
        ls(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="LabelSmoothing: label_smoothing must be in"):
        LabelSmoothing(4, 1.5)
