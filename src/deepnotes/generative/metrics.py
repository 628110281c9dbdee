"""Sample-quality scores: the Inception Score and the Frechet distance (FID) on NumPy arrays.

``inception_score(probs, splits=10)`` follows Salimans et al. (2016) and their released code: the
samples' class probabilities p(y|x) are cut into ``splits`` equal consecutive parts (the remainder
N mod splits is dropped), and each part scores exp(mean_x KL(p(y|x) || p(y))) with p(y) the part's
mean prediction; the result is the mean and the (population) standard deviation of the part scores.
It lies between 1 and the number of classes.

``frechet_distance(mu1, sigma1, mu2, sigma2)`` is the Frechet distance between the Gaussians
N(mu1, sigma1) and N(mu2, sigma2)::

    |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))

The trace of the square root is computed without a general matrix square root: sigma1 sigma2 is
similar to the symmetric PSD matrix S = sigma1^(1/2) sigma2 sigma1^(1/2), whose eigenvalues are those
of sigma1 sigma2, so tr((sigma1 sigma2)^(1/2)) = sum_i sqrt(lambda_i(S)), two symmetric eigen-
decompositions.  Eigenvalues that round-off pushes below zero are clipped to zero.  Like the
reference implementation (pytorch-fid), when the product is singular (here: numerically, S's smallest
eigenvalue is below d * machine epsilon times its largest), ``eps`` times the identity is added to both
covariances before the square root (the traces keep the covariances as given).

FID is the Frechet distance between Gaussians fitted (mean, unbiased covariance) to classifier features
of real and generated images.  The original uses Inception v3's pool features on ImageNet-like images;
:mod:`deepnotes.generative.classifier` provides a digits-specific version whose feature extractor is a
LeNet-5 trained on the bundled digits, so its numbers are comparable only with each other.
"""

from __future__ import annotations

import numpy as np

__all__ = ["inception_score", "frechet_distance", "trace_sqrt_product", "gaussian_stats", "fid_from_features"]


def _matrix(x, name, what, n=None):
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name}: {what} must be a square matrix, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name}: {what} must be {n}x{n} to match the mean, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: {what} has non-finite entries")
    if not np.allclose(a, a.T, rtol=1e-8, atol=1e-10 * max(1.0, float(np.abs(a).max()))):
        raise ValueError(f"{name}: {what} must be symmetric (a covariance matrix)")
    return (a + a.T) / 2


def inception_score(probs, splits=10):
    """(mean, std) of exp(E_x KL(p(y|x) || p(y))) over ``splits`` consecutive parts of ``probs``.

    ``probs``: (N, C) class probabilities, each row non-negative and summing to 1 (softmax outputs).
    Terms with p(y|x) = 0 contribute 0 (the limit of p log p)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"inception_score: probs must be (N, C) class probabilities with C >= 2, got shape {p.shape}")
    if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or splits < 1:
        raise ValueError(f"inception_score: splits must be a positive int, got {splits!r}")
    if p.shape[0] < splits:
        raise ValueError(f"inception_score: {p.shape[0]} samples cannot be cut into {splits} splits")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("inception_score: probs must be finite and non-negative")
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("inception_score: each row of probs must sum to 1 (pass softmax outputs, not logits)")
    size = p.shape[0] // splits
    scores = []
    for k in range(splits):
        part = p[k * size : (k + 1) * size]
        marginal = part.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(np.exp(kl.sum(axis=1).mean()))
    scores = np.asarray(scores)
    return float(scores.mean()), float(scores.std())


def _psd_sqrt(a):
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(sigma1, sigma2):
    """tr((sigma1 sigma2)^(1/2)) for symmetric PSD matrices, and the eigenvalues of the symmetric form
    sigma1^(1/2) sigma2 sigma1^(1/2) (ascending; the same as those of sigma1 sigma2)."""
    root = _psd_sqrt(sigma1)
    s = root @ sigma2 @ root
    w = np.linalg.eigvalsh((s + s.T) / 2)
    return float(np.sqrt(np.clip(w, 0.0, None)).sum()), w


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """The Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (see the module docstring).

    ``eps`` is the offset added to both covariances' diagonals when their product is singular."""
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(
            f"frechet_distance: mu1 and mu2 must be vectors of one length, got {mu1.shape} and {mu2.shape}"
        )
    if not (np.isfinite(mu1).all() and np.isfinite(mu2).all()):
        raise ValueError("frechet_distance: the means have non-finite entries")
    d = mu1.shape[0]
    s1 = _matrix(sigma1, "frechet_distance", "sigma1", d)
    s2 = _matrix(sigma2, "frechet_distance", "sigma2", d)
    if not (isinstance(eps, (int, float, np.floating)) and eps >= 0):
        raise ValueError(f"frechet_distance: eps must be a non-negative number, got {eps!r}")
    for name, s in (("sigma1", s1), ("sigma2", s2)):
        low = np.linalg.eigvalsh(s)[0]
        if low < -1e-6 * max(1.0, abs(np.linalg.eigvalsh(s)[-1])):
            raise ValueError(f"frechet_distance: {name} is not positive semi-definite (eigenvalue {low:.3g})")
    tr_covmean, w = trace_sqrt_product(s1, s2)
    if w[-1] <= 0 or w[0] < d * np.finfo(np.float64).eps * w[-1]:
        offset = np.eye(d) * float(eps)
        tr_covmean, _ = trace_sqrt_product(s1 + offset, s2 + offset)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def gaussian_stats(features):
    """Mean and unbiased covariance (rows are samples) of an (N, D) feature array, N >= 2."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"gaussian_stats: features must be (N, D) with N >= 2, got shape {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError("gaussian_stats: features have non-finite entries")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def fid_from_features(features1, features2, eps=1e-6):
    """The Frechet distance between Gaussians fitted to two (N, D) feature arrays."""
    mu1, s1 = gaussian_stats(features1)
    mu2, s2 = gaussian_stats(features2)
    if mu1.shape != mu2.shape:
        raise ValueError(f"fid_from_features: feature widths differ ({mu1.shape[0]} and {mu2.shape[0]})")
    return frechet_distance(mu1, np.atleast_2d(s1), mu2, np.atleast_2d(s2), eps=eps)
