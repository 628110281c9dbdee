"""The random classes draw their parameters from the same distributions as torchvision.transforms.v2
(two-sample Kolmogorov-Smirnov tests over many draws of each parameter, with fixed seeds), and a seed
reproduces a pipeline bit for bit, also inside DataLoader worker processes."""

import numpy as np
import pytest
import torch
import torchvision.transforms.v2 as TV
from scipy import stats
from torchvision import tv_tensors as TVT

import deepnotes as dn
from deepnotes.data import DataLoader, Dataset
from deepnotes.data import transforms as T
from deepnotes.data import tv_tensors as tvt

N = 1500
H, W = 37, 52


def _draws(ours, theirs, n=N):
    dn.manual_seed(0)
    torch.manual_seed(0)
    flat_ours = [tvt.Image(np.zeros((3, H, W), np.float32))]
    flat_tv = [TVT.Image(torch.zeros(3, H, W))]
    a = [ours.make_params(flat_ours) for _ in range(n)]
    b = [theirs.make_params(flat_tv) for _ in range(n)]
    return a, b


def _scalar(params, key):
    out = []
    for p in params:
        v = p[key]
        if isinstance(v, torch.Tensor):
            v = v.tolist()
        out.append(v)
    return np.asarray(out, dtype=np.float64)


def _same_distribution(a, b, what):
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    res = stats.ks_2samp(a, b)
    assert res.pvalue > 1e-3, f"{what}: KS p = {res.pvalue:.2g}, means {a.mean():.4g} vs {b.mean():.4g}"
    # the test can fail: a shifted sample is rejected
    assert stats.ks_2samp(a + 0.3 * a.std() + 1, b).pvalue < 1e-3


@pytest.mark.parametrize(
    "ours,theirs,keys",
    [
        (T.RandomResizedCrop(10), TV.RandomResizedCrop(10), ["top", "left", "height", "width"]),
        (
            T.RandomResizedCrop(10, scale=(0.36, 1.0), ratio=(0.5, 2.0)),
            TV.RandomResizedCrop(10, scale=(0.36, 1.0), ratio=(0.5, 2.0)),
            ["top", "left", "height", "width"],
        ),
        (T.RandomCrop(20, padding=3), TV.RandomCrop(20, padding=3), ["top", "left"]),
        (T.RandomRotation((-170, 250)), TV.RandomRotation((-170, 250)), ["angle"]),
        (T.GaussianBlur(3, (0.2, 3.0)), TV.GaussianBlur(3, (0.2, 3.0)), ["sigma"]),
        (T.RandomResize(20, 45), TV.RandomResize(20, 45), ["size"]),
        (T.RandomErasing(p=1.0), TV.RandomErasing(p=1.0), ["i", "j", "h", "w"]),
    ],
    ids=[
        "RandomResizedCrop",
        "RandomResizedCrop-notes",
        "RandomCrop",
        "RandomRotation",
        "GaussianBlur",
        "RandomResize",
        "RandomErasing",
    ],
)
def test_parameter_distributions_match_torchvision(ours, theirs, keys):
    a, b = _draws(ours, theirs)
    for key in keys:
        _same_distribution(_scalar(a, key), _scalar(b, key), key)


def test_affine_and_colour_jitter_distributions():
    a, b = _draws(
        T.RandomAffine(30, (0.2, 0.3), (0.6, 1.4), (-8, 8, -3, 12)),
        TV.RandomAffine(30, (0.2, 0.3), (0.6, 1.4), (-8, 8, -3, 12)),
    )
    _same_distribution(_scalar(a, "angle"), _scalar(b, "angle"), "angle")
    _same_distribution(_scalar(a, "scale"), _scalar(b, "scale"), "scale")
    for k in range(2):
        _same_distribution([p["translate"][k] for p in a], [p["translate"][k] for p in b], f"translate[{k}]")
        _same_distribution([p["shear"][k] for p in a], [p["shear"][k] for p in b], f"shear[{k}]")
    a, b = _draws(T.ColorJitter(0.4, (0.5, 1.5), 0.3, 0.2), TV.ColorJitter(0.4, (0.5, 1.5), 0.3, 0.2))
    for key in ["brightness_factor", "contrast_factor", "saturation_factor", "hue_factor"]:
        _same_distribution(_scalar(a, key), _scalar(b, key), key)
    for pos in range(4):
        _same_distribution(
            [list(p["fn_idx"])[pos] for p in a], [p["fn_idx"].tolist()[pos] for p in b], f"fn_idx[{pos}]"
        )


def test_flip_probability_matches():
    dn.manual_seed(0)
    x = tvt.Image(np.arange(6, dtype=np.float32).reshape(1, 2, 3))
    flips = sum(bool(np.array_equal(T.RandomHorizontalFlip(0.3)(x), np.asarray(x)[..., ::-1])) for _ in range(2000))
    # binomial(2000, 0.3): mean 600, sd 20.5; 5 sd
    assert abs(flips - 600) < 5 * 20.5


def test_notes_crop_keeps_0_6_to_1_of_each_side():
    dn.manual_seed(0)
    t = T.RandomScaleCrop((0.6, 1.0))
    params = [t.make_params([tvt.Image(np.zeros((3, 100, 60), np.float32))]) for _ in range(2000)]
    h = np.array([p["height"] for p in params]) / 100
    w = np.array([p["width"] for p in params]) / 60
    assert h.min() >= 0.6 and h.max() <= 1.0 and w.min() >= 0.59 and w.max() <= 1.0
    assert stats.kstest(h, stats.uniform(0.6, 0.4).cdf).pvalue > 1e-3
    out = t(tvt.Image(np.random.default_rng(0).random((3, 100, 60)).astype(np.float32)))
    assert out.shape == (3, 100, 60)


def _pipeline():
    return T.Compose(
        [
            T.RandomScaleCrop(),
            T.RandomHorizontalFlip(),
            T.RandomChoice([T.RandomRotation(20), T.RandomAffine(0, translate=(0.1, 0.1))]),
            T.RandomOrder([T.ColorJitter(0.3, 0.3, 0.3, 0.05), T.GaussianBlur(3)]),
            T.RandomApply([T.GaussianNoise(sigma=0.05)], p=0.5),
            T.RandomErasing(p=0.5),
            T.Cutout(1, 6),
        ]
    )


class _Augmented(Dataset):
    def __init__(self):
        rng = np.random.default_rng(0)
        self.images = rng.random((12, 3, 24, 24)).astype(np.float32)
        self.transform = _pipeline()

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        b = tvt.BoundingBoxes([[2, 3, 15, 20]], format="XYXY", canvas_size=(24, 24))
        img, target = self.transform(tvt.Image(self.images[i]), {"boxes": b, "labels": np.array([i])})
        return np.asarray(img), np.asarray(target["boxes"], dtype=np.float32)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_seed_reproduces_the_pipeline_bit_for_bit(workers):
    def run(seed):
        dn.manual_seed(seed)
        loader = DataLoader(_Augmented(), batch_size=4, num_workers=workers)
        return [(x.numpy().copy(), b.numpy().copy()) for x, b in loader]

    first, again, other = run(5), run(5), run(6)
    for (x1, b1), (x2, b2) in zip(first, again):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(b1, b2)
    assert any(not np.array_equal(x1, x3) for (x1, _), (x3, _) in zip(first, other))


def test_static_get_params_are_the_same_draws_as_make_params():
    img = tvt.Image(np.zeros((3, H, W), np.float32))
    dn.manual_seed(11)
    got = T.RandomResizedCrop.get_params(img, (0.2, 0.9), (0.5, 2.0))
    dn.manual_seed(11)
    p = T.RandomResizedCrop(5, (0.2, 0.9), (0.5, 2.0)).make_params([img])
    assert got == (p["top"], p["left"], p["height"], p["width"])
    dn.manual_seed(12)
    top, left, h, w = T.RandomCrop.get_params(img, (10, 20))
    assert (h, w) == (10, 20) and 0 <= top <= H - 10 and 0 <= left <= W - 20
    dn.manual_seed(13)
    angle = T.RandomRotation.get_params((-30.0, 10.0))
    dn.manual_seed(13)
    assert angle == T.RandomRotation((-30, 10)).make_params([img])["angle"]
    dn.manual_seed(14)
    order, b, c, s, h = T.ColorJitter.get_params((0.5, 1.5), None, (0.0, 2.0), (-0.1, 0.1))
    assert sorted(order) == [0, 1, 2, 3] and c is None and 0.5 <= b <= 1.5 and 0 <= s <= 2 and -0.1 <= h <= 0.1
    # the static form shares the parameters of torchvision's: same signature, same returned structure
    ref = TV.RandomResizedCrop.get_params(torch.zeros(3, H, W), (0.2, 0.9), (0.5, 2.0))
    assert len(ref) == len(got) and all(isinstance(v, int) for v in got)
