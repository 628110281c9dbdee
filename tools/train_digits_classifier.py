"""Retrain the digits classifier shipped with deepnotes.generative and rewrite its weights file.

    PYTHONPATH=src python tools/train_digits_classifier.py

Prints the test accuracy and the digits Inception Score of the real test images."""

import numpy as np
from threadpoolctl import threadpool_limits

from deepnotes.data.datasets import Digits
from deepnotes.generative.classifier import (
    WEIGHTS_PATH,
    DigitsClassifier,
    save_digits_classifier,
    train_digits_classifier,
)


def main():
    with threadpool_limits(1):
        model = train_digits_classifier(seed=0)
    clf = DigitsClassifier(model)
    test = Digits(train=False, size=16)
    acc = clf.accuracy(test.images, test.targets)
    p = clf.probs(test.images)
    print(f"test accuracy {acc:.4f}, mean confidence {p.max(1).mean():.4f}")
    print(f"digits IS of the test split {clf.inception_score(test.images)}")
    print(f"classes covered {len(np.unique(p.argmax(1)))}")
    save_digits_classifier(model, WEIGHTS_PATH)
    print(f"wrote {WEIGHTS_PATH}")


if __name__ == "__main__":
    main()
