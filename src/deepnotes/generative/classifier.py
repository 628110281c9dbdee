"""The digits classifier behind the digits-specific Inception Score and FID.

A modern LeNet-5 (``deepnotes.models.lenet5_modern``: ReLU, max pooling) trained on the bundled digits.
It reads 32x32 images; an image of side 8, 16 or 32 in [0, 1] is brought to 32x32 the way the bundled
data set makes its 16x16 images: bilinear resizing (``resize_bilinear``) of the 8x8 originals to 16x16
and then 16x16 -> 32x32.  The classifier is trained on exactly that 16 -> 32 pipeline (the training split
of ``Digits(size=16)``), so a generator producing 16x16 digits is scored on the inputs the classifier
knows.

The weights ship with the package (``digits_classifier.safetensors``, 61,706 float32 parameters, about
250 kB; never pickled).  ``train_digits_classifier`` reproduces them (``python
tools/train_digits_classifier.py`` rewrites the file): 12 epochs of Adam, seed 0, one BLAS thread, a few
seconds.

The scores are *digits-specific*: the "Inception Score" here is exp(E KL(p(y|x) || p(y))) with this
classifier in place of Inception v3 (so it ranges from 1 to 10), and the FID uses the classifier's
84-wide penultimate (F6) activations in place of Inception's 2048 pool features; neither is comparable
with published ImageNet numbers.
"""

from __future__ import annotations

import os

import numpy as np

from ..autograd import no_grad
from ..data.datasets.digits import Digits, resize_bilinear
from ..io import load_weights, save_weights
from ..models import lenet5_modern
from ..tensor import tensor
from .metrics import fid_from_features, inception_score

__all__ = [
    "WEIGHTS_PATH",
    "DigitsClassifier",
    "train_digits_classifier",
    "load_digits_classifier",
    "to_classifier_input",
    "save_digits_classifier",
]

WEIGHTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits_classifier.safetensors")


def to_classifier_input(images):
    """(N, 1, S, S) or (N, S, S) images in [0, 1], S in {8, 16, 32} -> float32 (N, 1, 32, 32)."""
    a = np.asarray(images.numpy() if hasattr(images, "numpy") else images, dtype=np.float64)
    if a.ndim == 4:
        if a.shape[1] != 1:
            raise ValueError(f"to_classifier_input: expected grey images (N, 1, S, S), got shape {a.shape}")
        a = a[:, 0]
    if a.ndim != 3 or a.shape[1] != a.shape[2] or a.shape[1] not in (8, 16, 32):
        raise ValueError(f"to_classifier_input: expected (N, 1, S, S) images with S in 8, 16, 32, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("to_classifier_input: the images have non-finite pixels")
    if a.shape[1] == 8:
        a = resize_bilinear(a, 16)
    if a.shape[1] == 16:
        a = resize_bilinear(a, 32)
    return a.astype(np.float32)[:, None]


class DigitsClassifier:
    """The trained LeNet-5 with helpers: class probabilities, F6 features, digits IS and FID.

    Every method takes images (N, 1, S, S) in [0, 1] (S = 8, 16 or 32; a Tensor or an array)."""

    def __init__(self, model):
        self.model = model
        self.model.eval()

    def logits_and_features(self, images, batch_size=500):
        """(logits (N, 10), F6 features (N, 84)) of ``images``, float64, in one pass."""
        x = to_classifier_input(images)
        logits, feats = [], []
        head = self.model.classifier
        with no_grad():
            for i in range(0, len(x), batch_size):
                h = self.model.features(tensor(x[i : i + batch_size]))
                f = head[:-1](h)
                feats.append(f.numpy().astype(np.float64))
                logits.append(head[-1](f).numpy().astype(np.float64))
        return np.concatenate(logits), np.concatenate(feats)

    def logits(self, images):
        return self.logits_and_features(images)[0]

    def probs(self, images):
        """Softmax class probabilities (N, 10), float64."""
        z = self.logits(images)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def features(self, images):
        """The 84-wide F6 activations (N, 84), float64: the FID feature space."""
        return self.logits_and_features(images)[1]

    def accuracy(self, images, labels):
        return float((self.logits(images).argmax(axis=1) == np.asarray(labels)).mean())

    def inception_score(self, images, splits=10):
        """(mean, std) of the digits Inception Score of ``images``."""
        return inception_score(self.probs(images), splits=splits)

    def fid(self, images, reference_images):
        """The digits FID between ``images`` and ``reference_images`` (for example the test split)."""
        return fid_from_features(self.features(images), self.features(reference_images))

    def summary(self, images, reference_images=None, splits=10):
        """A dict with IS (mean, std), FID (when ``reference_images`` is given), the mean top-class
        probability, the number of classes that are some sample's top class and the class histogram."""
        logits, feats = self.logits_and_features(images)
        z = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        is_mean, is_std = inception_score(p, splits=splits)
        top = p.argmax(axis=1)
        out = {
            "inception_score": is_mean,
            "inception_score_std": is_std,
            "mean_confidence": float(p.max(axis=1).mean()),
            "classes_covered": int(len(np.unique(top))),
            "class_counts": np.bincount(top, minlength=10).tolist(),
        }
        if reference_images is not None:
            out["fid"] = fid_from_features(feats, self.features(reference_images))
        return out


def train_digits_classifier(seed=0, epochs=12, lr=2e-3, batch_size=32):
    """Train the modern LeNet-5 on the training split of ``Digits(size=16)`` resized to 32x32 (see the
    module docstring); returns the model in eval mode.  Deterministic for a seed on one machine."""
    from .. import manual_seed, optim
    from ..nn import functional as F

    manual_seed(seed)
    train = Digits(train=True, size=16)
    x = to_classifier_input(train.images)
    y = train.targets
    model = lenet5_modern()
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(tensor(x[idx])), tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    return model


def save_digits_classifier(model, path=WEIGHTS_PATH):
    save_weights(model.state_dict(), path, metadata={"what": "deepnotes.generative digits classifier (LeNet5)"})


def load_digits_classifier(path=None):
    """The shipped classifier (or the safetensors file at ``path``) as a :class:`DigitsClassifier`."""
    path = WEIGHTS_PATH if path is None else path
    model = lenet5_modern()
    state = load_weights(path)
    model.load_state_dict({k: np.asarray(v) for k, v in state.items()})
    return DigitsClassifier(model)
