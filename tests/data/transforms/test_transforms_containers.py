"""Compose, RandomApply, RandomChoice, RandomOrder and Cutout: behaviour and draw frequencies."""

import numpy as np
import pytest

import deepnotes as dn
from deepnotes.data import transforms as T
from deepnotes.data import tv_tensors as tvt


class _Tag(T.Transform):
    """Appends its tag to a list leaf-free sample: records the order transforms ran in."""

    def __init__(self, tag):
        self.tag = tag

    def __call__(self, log):
        return log + [self.tag]


def test_compose_runs_in_order_and_passes_structures():
    assert T.Compose([_Tag("a"), _Tag("b"), _Tag("c")])([]) == ["a", "b", "c"]
    img = tvt.Image(np.arange(12, dtype=np.float32).reshape(1, 3, 4))
    out = T.Compose([T.RandomHorizontalFlip(1.0), T.RandomVerticalFlip(1.0)])({"image": img, "id": 7})
    np.testing.assert_array_equal(out["image"], np.asarray(img)[..., ::-1, ::-1])
    assert out["id"] == 7 and isinstance(out["image"], tvt.Image)


def test_random_apply_choice_and_order_frequencies():
    dn.manual_seed(0)
    n = 3000
    applied = sum(T.RandomApply([_Tag("x")], p=0.25)([]) == ["x"] for _ in range(n))
    assert abs(applied / n - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n)
    choice = T.RandomChoice([_Tag("a"), _Tag("b"), _Tag("c")], p=[1, 2, 1])
    counts = {k: 0 for k in "abc"}
    for _ in range(n):
        counts[choice([])[0]] += 1
    for k, p in zip("abc", (0.25, 0.5, 0.25)):
        assert abs(counts[k] / n - p) < 4 * np.sqrt(p * (1 - p) / n)
    order = T.RandomOrder([_Tag("a"), _Tag("b"), _Tag("c")])
    seen = {}
    for _ in range(n):
        key = "".join(order([]))
        seen[key] = seen.get(key, 0) + 1
    assert len(seen) == 6 and all(abs(c / n - 1 / 6) < 4 * np.sqrt((1 / 6) * (5 / 6) / n) for c in seen.values())


@pytest.mark.parametrize("length", [1, 6, 7])
def test_cutout_holes_are_fixed_squares_clipped_at_the_border(length):
    dn.manual_seed(1)
    h, w = 20, 25
    cut = T.Cutout(n_holes=1, length=length, fill=0.0)
    img = tvt.Image(np.ones((3, h, w), np.float32))
    boxes = tvt.BoundingBoxes([[1, 1, 5, 5]], format="XYXY", canvas_size=(h, w))
    centres = []
    for _ in range(400):
        params = cut.make_params([img])
        ((y1, y2, x1, x2),) = params["holes"]
        out, b = cut.transform(img, params), cut.transform(boxes, params)
        assert b is boxes  # boxes are not moved by occlusion
        zero = np.asarray(out)[0] == 0
        expected = np.zeros((h, w), bool)
        expected[y1:y2, x1:x2] = True
        np.testing.assert_array_equal(zero, expected)
        assert (np.asarray(out)[:, ~zero] == 1).all()
        # a full square of side `length` unless the border clips it
        cy, cx = (
            y1 + length // 2 if y1 > 0 else y2 - (length - length // 2),
            x1 + length // 2 if x1 > 0 else x2 - (length - length // 2),
        )
        if 0 < y1 and y2 < h:
            assert y2 - y1 == length
        if 0 < x1 and x2 < w:
            assert x2 - x1 == length
        centres.append((cy, cx))
    c = np.array(centres, dtype=float)
    # centres uniform over the pixels: means near the middle
    assert abs(c[:, 0].mean() - (h - 1) / 2) < 4 * h / np.sqrt(12 * 400)
    assert abs(c[:, 1].mean() - (w - 1) / 2) < 4 * w / np.sqrt(12 * 400)


def test_cutout_uint8_fill_and_probability():
    dn.manual_seed(2)
    img = tvt.Image(np.full((3, 10, 10), 200, np.uint8))
    outs = [T.Cutout(2, 4, fill=17, p=0.5)(img) for _ in range(400)]
    changed = [not np.array_equal(o, img) for o in outs]
    assert abs(np.mean(changed) - 0.5) < 0.1
    vals = np.unique(np.concatenate([np.asarray(o).ravel() for o in outs]))
    assert set(vals.tolist()) <= {17, 200} and outs[0].dtype == np.uint8
