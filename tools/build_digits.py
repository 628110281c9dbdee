"""Build src/deepnotes/data/assets/digits.npz from the copy of UCI optdigits inside scikit-learn.

Source: scikit-learn's ``sklearn/datasets/data/digits.csv.gz`` (1,797 rows; 64 pixel counts 0..16 in
row-major 8x8 order, then the label 0..9). Nothing is changed but the layout: images become
uint8 (1797, 8, 8), labels uint8 (1797,). A fixed stratified train/test split (1,437 / 360) is added:
each class gives ``round(360 * n_c / 1797)`` test samples (largest remainders settle the total at 360),
chosen by a permutation of that class's indices from ``numpy.random.default_rng(SPLIT_SEED)``.

Run from the repository root:  python tools/build_digits.py
"""

import gzip
import os
import sys

import numpy as np

SPLIT_SEED = 20240601
N_TEST = 360
OUT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "deepnotes", "data", "assets", "digits.npz"
)


def sklearn_digits_csv():
    import sklearn

    return os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data", "digits.csv.gz")


def read_csv(path):
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    if table.shape != (1797, 65):
        raise ValueError(f"{path}: expected 1797 rows of 65 values, got shape {table.shape}")
    values = table.astype(np.int64)
    if not np.array_equal(values, table) or values[:, :64].min() < 0 or values[:, :64].max() > 16:
        raise ValueError(f"{path}: pixel values must be integers in 0..16")
    if values[:, 64].min() < 0 or values[:, 64].max() > 9:
        raise ValueError(f"{path}: labels must be integers in 0..9")
    images = values[:, :64].reshape(-1, 8, 8).astype(np.uint8)
    labels = values[:, 64].astype(np.uint8)
    return images, labels


def stratified_split(labels, n_test, seed):
    """Sorted train and test indices; class c contributes its rounded share of ``n_test``."""
    classes, counts = np.unique(labels, return_counts=True)
    exact = n_test * counts / counts.sum()
    take = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - take), kind="stable")
    take[order[: n_test - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)])
    test = np.sort(test)
    train = np.setdiff1d(np.arange(labels.size), test)
    return train.astype(np.int64), test.astype(np.int64)


def main(out=OUT):
    images, labels = read_csv(sklearn_digits_csv())
    train, test = stratified_split(labels, N_TEST, SPLIT_SEED)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp.npz"
    np.savez_compressed(
        tmp, images=images, labels=labels, train_indices=train, test_indices=test, split_seed=np.int64(SPLIT_SEED)
    )
    os.replace(tmp, out)
    print(f"wrote {out}: {images.shape[0]} images, {train.size} train / {test.size} test, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:])
