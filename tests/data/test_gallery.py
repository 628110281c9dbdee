"""`deepnotes augment` and deepnotes.data.gallery: the cells of the gallery (seeded, boxes that follow the
image), the generated detection sample, the PNG written end to end, and the errors."""

import struct
import sys

import numpy as np
import pytest

from deepnotes.cli import main
from deepnotes.data import datasets
from deepnotes.data.gallery import GALLERY_TRANSFORMS, gallery, generated_shapes, resolve_transforms
from deepnotes.data.tv_tensors import BoundingBoxes


def _png_size(path):
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR"
    return struct.unpack(">II", raw[16:24])


@pytest.mark.parametrize("dataset", ["digits", "shapes"])
def test_cli_writes_a_png_gallery(dataset, tmp_path, capsys):
    out = tmp_path / "gallery.png"
    args = ["augment", "--dataset", dataset, "--transform", "RandomAffine", "cutout", "--draws", "3"]
    assert main(args + ["--seed", "1", "--out", str(out)]) == 0
    assert "2 transforms x 3 draws" in capsys.readouterr().out
    width, height = _png_size(out)
    # three rows (original + 2 transforms) of square cells, three draws across
    assert height > 2 * 80 and width > 2 * 80
    one = tmp_path / "one.png"
    assert main(["augment", "--dataset", dataset, "--transform", "cutout", "--draws", "3", "--out", str(one)]) == 0
    assert _png_size(one)[1] < height


def test_cli_bad_transform_name_is_one_line_with_a_hint(tmp_path, capsys):
    out = tmp_path / "g.png"
    assert main(["augment", "--transform", "RandomAfine", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("deepnotes augment: error: unknown transform 'RandomAfine'; did you mean RandomAffine")
    assert not out.exists()


def test_cli_without_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["augment", "--transform", "cutout", "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "matplotlib" in err[0] and "deepnotes[plot]" in err[0]


def test_resolve_transforms():
    assert resolve_transforms(None) == list(GALLERY_TRANSFORMS)
    assert resolve_transforms(["gaussiannoise", "Cutout"]) == ["GaussianNoise", "Cutout"]
    with pytest.raises(ValueError, match="did you mean ColorJitter"):
        resolve_transforms(["colorjiter"])


def test_digit_rows_are_seeded_per_transform():
    source, rows = gallery("digits", ["RandomRotation", "GaussianNoise"], draws=3, seed=7)
    assert source == "bundled digits" and [r[0] for r in rows] == ["original", "RandomRotation", "GaussianNoise"]
    original = rows[0][1][0][0]
    assert original.shape == (1, 32, 32) and rows[0][1][0][1] is None
    for _, cells in rows[1:]:
        assert len(cells) == 3
        assert all(c[0].shape == original.shape and not np.array_equal(c[0], original) for c in cells)
        assert not np.array_equal(cells[0][0], cells[1][0])  # every draw is a new one
    # a row depends on the seed and its transform only
    _, alone = gallery("digits", ["GaussianNoise"], draws=3, seed=7)
    for a, b in zip(alone[1][1], rows[2][1]):
        np.testing.assert_array_equal(a[0], b[0])
    _, other = gallery("digits", ["GaussianNoise"], draws=3, seed=8)
    assert not np.array_equal(other[1][1][0][0], alone[1][1][0][0])


def test_generated_shapes_boxes_are_tight_around_their_pixels():
    for seed in range(5):
        image, target = generated_shapes(seed=seed, size=64, n_objects=1)
        assert image.shape == (3, 64, 64) and image.dtype == np.float32
        boxes = target["boxes"]
        assert isinstance(boxes, BoundingBoxes) and boxes.shape == (1, 4) and len(target["labels"]) == 1
        ys, xs = np.nonzero(image.min(0) > 0.4)  # the shape's colours are >= 0.45, the background ~0.1
        np.testing.assert_array_equal(np.asarray(boxes)[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])


def test_shape_boxes_follow_the_image():
    _, rows = gallery("shapes", ["RandomHorizontalFlip", "RandomAffine", "RandomResizedCrop"], draws=3, seed=0)
    image, boxes = rows[0][1][0]
    width = image.shape[-1]
    flipped = rows[1][1][0][1]
    np.testing.assert_allclose(
        flipped, np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], 1)
    )
    np.testing.assert_array_equal(rows[1][1][0][0], image[..., ::-1])
    for _, cells in rows[1:]:
        for img, b in cells:
            h, w = img.shape[-2:]
            assert len(b) >= 1
            assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 3] <= h).all()
            assert ((b[:, 2] - b[:, 0]) >= 1).all() and ((b[:, 3] - b[:, 1]) >= 1).all()  # sanitized


def test_shapes_uses_the_generated_detection_set_when_it_exists(monkeypatch):
    class FakeShapes:
        def __getitem__(self, index):
            image = np.zeros((3, 40, 50), np.uint8)
            image[:, 10:20, 5:25] = 200
            return image, {"boxes": np.array([[5.0, 10.0, 25.0, 20.0]]), "labels": np.array([2])}

    monkeypatch.setattr(datasets, "Shapes", FakeShapes, raising=False)
    source, rows = gallery("shapes", ["RandomVerticalFlip"], draws=1)
    assert source == "deepnotes.data.datasets.Shapes"
    image, boxes = rows[0][1][0]
    assert image.max() == pytest.approx(200 / 255) and boxes.tolist() == [[5.0, 10.0, 25.0, 20.0]]
    assert rows[1][1][0][1].tolist() == [[5.0, 20.0, 25.0, 30.0]]
