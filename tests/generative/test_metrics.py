"""inception_score against the definition computed in torch; frechet_distance against scipy.linalg.sqrtm
(the reference implementation's route, including its eps offset for singular products); the PNG writer
against Pillow; the shipped digits classifier."""

import io

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from deepnotes.generative import metrics as M
from deepnotes.generative.png import encode_png, make_grid


def _probs(seed, n=200, c=10, sharp=3.0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, c)) * sharp
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _torch_is(p, splits):
    p = torch.tensor(p, dtype=torch.float64)
    size = len(p) // splits
    scores = []
    for k in range(splits):
        part = p[k * size : (k + 1) * size]
        py = part.mean(0, keepdim=True)
        kl = torch.nn.functional.kl_div(py.log().expand_as(part), part, reduction="none").sum(1)
        scores.append(torch.exp(kl.mean()))
    s = torch.stack(scores)
    return s.mean().item(), s.std(unbiased=False).item()


@pytest.mark.parametrize("seed,n,splits", [(0, 200, 10), (1, 1003, 10), (2, 50, 1), (3, 37, 4)])
def test_inception_score_equals_torch(seed, n, splits):
    p = _probs(seed, n)
    ours = M.inception_score(p, splits=splits)
    ref = _torch_is(p, splits)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


def test_inception_score_bounds_and_zero_probabilities():
    # one-hot, uniform over classes: the maximum, the number of classes; all the same class: 1
    eye = np.tile(np.eye(10), (5, 1))
    assert M.inception_score(eye, splits=1) == pytest.approx((10.0, 0.0), abs=1e-12)
    same = np.zeros((30, 10))
    same[:, 3] = 1
    assert M.inception_score(same, splits=3) == pytest.approx((1.0, 0.0), abs=1e-12)


def test_inception_score_rejects_bad_input():
    with pytest.raises(ValueError, match="inception_score: each row of probs must sum to 1"):
        M.inception_score(np.ones((20, 10)), splits=2)
    with pytest.raises(ValueError, match="cannot be cut into 10 splits"):
        M.inception_score(_probs(0, 5), splits=10)
    with pytest.raises(ValueError, match="inception_score: probs must be"):
        M.inception_score(np.ones(10), splits=1)


def _cov(seed, d, n=None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n or 3 * d, d)) @ rng.standard_normal((d, d))
    return x.mean(0), np.cov(x, rowvar=False)


def _scipy_fd(mu1, s1, mu2, s2, eps=0.0):
    if eps:
        s1, s2 = s1 + eps * np.eye(len(s1)), s2 + eps * np.eye(len(s2))
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    d = mu1 - mu2
    # the offset only enters the square-root term in the reference implementation
    t1 = np.trace(s1) - (eps * len(s1) if eps else 0)
    t2 = np.trace(s2) - (eps * len(s2) if eps else 0)
    return d @ d + t1 + t2 - 2 * np.trace(covmean)


@pytest.mark.parametrize("seed,d", [(0, 2), (1, 8), (2, 30)])
def test_frechet_distance_equals_scipy_sqrtm(seed, d):
    mu1, s1 = _cov(seed, d)
    mu2, s2 = _cov(seed + 100, d)
    ours = M.frechet_distance(mu1, s1, mu2, s2)
    ref = _scipy_fd(mu1, s1, mu2, s2)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_frechet_distance_of_identical_gaussians_is_zero_and_symmetric():
    mu, s = _cov(4, 6)
    assert M.frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)
    mu2, s2 = _cov(5, 6)
    assert M.frechet_distance(mu, s, mu2, s2) == pytest.approx(M.frechet_distance(mu2, s2, mu, s), rel=1e-10)


def test_frechet_distance_one_dimension_closed_form():
    # (m1 - m2)^2 + (s1 - s2)^2 for standard deviations s1, s2
    ours = M.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]])
    assert ours == pytest.approx(4.0 + 1.0, rel=1e-12)


def test_frechet_distance_singular_covariances_use_the_reference_offset():
    # fewer samples than dimensions: both covariances are singular, as with few generated images
    mu1, s1 = _cov(6, 12, n=5)
    mu2, s2 = _cov(7, 12, n=6)
    ours = M.frechet_distance(mu1, s1, mu2, s2, eps=1e-6)
    ref = _scipy_fd(mu1, s1, mu2, s2, eps=1e-6)
    # the reference's sqrtm of a nearly singular product is itself accurate only to ~1e-6 here
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert np.isfinite(ours)


def test_fid_from_features_equals_scipy():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((300, 5))
    b = rng.standard_normal((250, 5)) * 1.5 + 0.3
    ref = _scipy_fd(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert M.fid_from_features(a, b) == pytest.approx(ref, rel=1e-9)


def test_frechet_distance_rejects_bad_input():
    mu, s = _cov(0, 3)
    with pytest.raises(ValueError, match="frechet_distance: sigma1 must be 3x3"):
        M.frechet_distance(mu, np.eye(2), mu, s)
    with pytest.raises(ValueError, match="frechet_distance: sigma2 must be symmetric"):
        M.frechet_distance(mu, s, mu, s + np.triu(np.ones((3, 3)), 1))
    with pytest.raises(ValueError, match="not positive semi-definite"):
        M.frechet_distance(mu, s, mu, -s)
    with pytest.raises(ValueError, match="mu1 and mu2 must be vectors of one length"):
        M.frechet_distance(mu, s, mu[:2], s)


# ------------------------------------------------------------------------------ PNG
def test_png_writer_round_trips_through_pillow():
    rng = np.random.default_rng(0)
    for img in (rng.integers(0, 256, (7, 13), dtype=np.uint8), rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)):
        back = np.asarray(Image.open(io.BytesIO(encode_png(img))))
        np.testing.assert_array_equal(back, img)
    with pytest.raises(TypeError, match="encode_png: expected a uint8 array"):
        encode_png(np.zeros((2, 2)))


def test_make_grid_layout():
    imgs = np.stack([np.full((1, 2, 3), v) for v in (0.0, 0.5, 1.0)])
    g = make_grid(imgs, nrow=2, padding=1)
    assert g.shape == (1 + 2 * 3, 1 + 2 * 4)
    assert g[1, 1] == 0 and g[1, 5] == 128 and g[4, 1] == 255 and g[4, 5] == 0  # last cell stays padding
    g2 = make_grid(imgs * 2 - 1, nrow=3, padding=0, value_range=(-1, 1), scale=2)
    assert g2.shape == (4, 18) and g2[0, 6] == 128
