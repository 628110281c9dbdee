"""CopyPaste (deepnotes.data.transforms.detection): pasted pixels and occlusion on hand-made samples with fixed
parameters, and on random samples: boxes inside the canvas and equal to their masks' tight boxes (pycocotools),
label counts, pasted and kept masks disjoint, seeded reproducibility."""

import numpy as np
import pycocotools.mask as mask_utils
import pytest

import deepnotes as dn
from deepnotes.data.transforms.detection import CopyPaste
from deepnotes.data.tv_tensors import BoundingBoxes, Image, Mask


def _sample(h, w, rects, value, labels, fmt="XYXY"):
    """Float image filled with ``value`` inside rectangle k (value + k), masks for the visible parts."""
    img = np.zeros((3, h, w))
    masks = np.zeros((len(rects), h, w), bool)
    for k, (x1, y1, x2, y2) in enumerate(rects):
        img[:, y1:y2, x1:x2] = value + k
        masks[:, y1:y2, x1:x2] = False
        masks[k, y1:y2, x1:x2] = True
    boxes = np.array(rects, float).reshape(-1, 4)
    return Image(img), {
        "boxes": BoundingBoxes(boxes, format=fmt, canvas_size=(h, w)),
        "labels": np.array(labels),
        "masks": Mask(masks),
    }


def _tight_xyxy(masks):
    rle = mask_utils.encode(np.asfortranarray(np.asarray(masks).transpose(1, 2, 0).astype(np.uint8)))
    xywh = mask_utils.toBbox(rle)
    return np.c_[xywh[:, :2], xywh[:, :2] + xywh[:, 2:]]


def test_paste_occludes_and_recomputes_boxes_with_fixed_params():
    # destination: A at x 2-10, y 2-10, B at x 20-24, y 20-24; source: one instance x 0-6, y 0-20
    dst = _sample(30, 30, [(2, 2, 10, 10), (20, 20, 24, 24)], 1.0, [1, 2])
    src = _sample(20, 10, [(0, 0, 6, 20)], 50.0, [7])
    params = {"size": (20, 10), "flip": False, "offset": (6, 0), "order": np.array([0]), "count": 1}
    image, target = CopyPaste(interpolation="nearest").transform(dst, src, params)
    img = np.asarray(image)
    # the pasted instance covers x 6-12, y 0-20: A keeps x 2-6 only, B is untouched
    np.testing.assert_array_equal(img[:, 0:20, 6:12], 50.0)
    np.testing.assert_array_equal(img[:, 2:10, 2:6], 1.0)
    np.testing.assert_array_equal(img[:, 20:24, 20:24], 2.0)
    assert target["labels"].tolist() == [1, 2, 7]
    np.testing.assert_array_equal(np.asarray(target["boxes"]), [[2, 2, 6, 10], [20, 20, 24, 24], [6, 0, 12, 20]])
    # flipped: the instance comes from the right of the 10-wide source, x 4-10 of it -> canvas 10-16
    params["flip"] = True
    image, target = CopyPaste(interpolation="nearest").transform(dst, src, params)
    np.testing.assert_array_equal(np.asarray(target["boxes"])[-1], [10, 0, 16, 20])
    np.testing.assert_array_equal(np.asarray(target["boxes"])[0], [2, 2, 10, 10])  # A no longer occluded


def test_fully_occluded_instances_are_dropped_with_their_labels():
    dst = _sample(16, 16, [(4, 4, 8, 8), (10, 10, 14, 14)], 1.0, [1, 2])
    src = _sample(16, 16, [(2, 2, 9, 9)], 9.0, [5])
    params = {"size": (16, 16), "flip": False, "offset": (0, 0), "order": np.array([0]), "count": 1}
    _, target = CopyPaste().transform(dst, src, params)
    assert target["labels"].tolist() == [2, 5]
    assert np.asarray(target["masks"]).shape == (2, 16, 16)
    np.testing.assert_array_equal(np.asarray(target["boxes"]), [[10, 10, 14, 14], [2, 2, 9, 9]])


def test_scale_jitter_and_crop_place_the_instance_where_computed():
    dst = _sample(20, 20, [(0, 0, 3, 3)], 1.0, [1])
    src = _sample(10, 10, [(2, 4, 6, 8)], 30.0, [3])
    # doubled to 20x20 (nearest), shifted by (-5, +1): the instance's 8x8 block lands at x -1..7, y 9..17
    params = {"size": (20, 20), "flip": False, "offset": (-5, 1), "order": np.array([0]), "count": 1}
    image, target = CopyPaste(interpolation="nearest").transform(dst, src, params)
    np.testing.assert_array_equal(np.asarray(target["boxes"])[-1], [0, 9, 7, 17])
    np.testing.assert_array_equal(np.asarray(image)[0, 9:17, 0:7], 30.0)


@pytest.mark.parametrize("seed", range(10))
def test_random_pastes_keep_boxes_masks_and_labels_consistent(seed):
    _random_paste_checked(seed)


def test_most_random_draws_pasted_something():
    pasted = [_random_paste_checked(seed) for seed in range(10)]
    assert sum(pasted) >= 7, pasted  # the consistency checks ran on real pastes


def _random_paste_checked(seed):
    """One random paste with every consistency check; returns whether anything was pasted."""
    rng = np.random.default_rng(seed)

    def random_sample(h, w, n, value, first_label):
        rects = []
        for _ in range(n):
            bw, bh = rng.integers(1, w // 2 + 1), rng.integers(1, h // 2 + 1)
            x1, y1 = rng.integers(0, w - bw + 1), rng.integers(0, h - bh + 1)
            rects.append((x1, y1, x1 + bw, y1 + bh))
        return _sample(h, w, rects, value, list(range(first_label, first_label + n)), fmt="XYXY")

    dst = random_sample(int(rng.integers(8, 40)), int(rng.integers(8, 40)), 5, 1.0, 0)
    src = random_sample(int(rng.integers(8, 40)), int(rng.integers(8, 40)), 4, 100.0, 100)
    dst_masks_tight = dst[1]["masks"]
    dst = (
        dst[0],
        {**dst[1], "boxes": BoundingBoxes(_tight_xyxy(dst_masks_tight), format="XYXY", canvas_size=dst[0].shape[1:])},
    )
    image, target = CopyPaste(scale_range=(0.5, 1.5), interpolation="nearest", generator=rng)(dst, src)
    h, w = dst[0].shape[1:]
    boxes, masks, labels = np.asarray(target["boxes"]), np.asarray(target["masks"]).astype(bool), target["labels"]
    assert isinstance(image, Image) and image.shape == dst[0].shape
    assert boxes.shape == (len(labels), 4) and masks.shape == (len(labels), h, w)
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
    assert masks.reshape(len(labels), -1).any(axis=1).all()
    np.testing.assert_array_equal(boxes, _tight_xyxy(masks))
    pasted = labels >= 100
    if not pasted.any():  # the tried instances all fell off the canvas: nothing changes
        np.testing.assert_array_equal(np.asarray(image), np.asarray(dst[0]))
        assert labels.tolist() == list(range(5))
        return False
    union = masks[pasted].any(axis=0)
    assert not (masks[~pasted] & union).any()  # destination masks lost the pasted pixels
    np.testing.assert_array_equal(np.asarray(image)[:, union] >= 100, True)
    # destination instances kept = those with pixels outside the pasted area, in their order
    expected_dst = [k for k in range(5) if (np.asarray(dst_masks_tight)[k] & ~union).any()]
    assert labels[~pasted].tolist() == expected_dst
    return True


def test_seed_reproduces_and_tensors_come_back_as_tensors():
    dst = _sample(24, 24, [(2, 2, 10, 10), (12, 12, 20, 22)], 1.0, [1, 2])
    src = _sample(18, 30, [(0, 0, 9, 9), (10, 5, 28, 15)], 40.0, [3, 4])
    dst_t = (dn.tensor(np.asarray(dst[0])), dst[1])
    runs = []
    for _ in range(2):
        dn.manual_seed(5)
        runs.append(CopyPaste()(dst_t, src))
    (a, ta), (b, tb) = runs
    assert isinstance(a, dn.Tensor)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    for key in ("boxes", "labels", "masks"):
        np.testing.assert_array_equal(np.asarray(ta[key]), np.asarray(tb[key]))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d, s: (d, (s[0], {"boxes": s[1]["boxes"], "labels": s[1]["labels"]})), "CopyPaste: the target needs"),
        (lambda d, s: ((np.zeros((1, 16, 16)), d[1]), s), "CopyPaste: the source has 3 channels and the destination 1"),
        (
            lambda d, s: (d, (s[0], {**s[1], "masks": np.zeros((1, 16, 15), bool)})),
            r"CopyPaste: masks must have shape \(N, H, W\) = \(1, 16, 16\)",
        ),
        (lambda d, s: ((np.zeros((16, 16, 3)), d[1]), s), "CopyPaste: the image of shape .* looks channels-last"),
    ],
)
def test_bad_input_is_a_clear_error(make, match):
    dst = _sample(16, 16, [(2, 2, 8, 8)], 1.0, [1])
    src = _sample(16, 16, [(4, 4, 9, 9)], 9.0, [5])
    with pytest.raises(ValueError, match=match):
        CopyPaste()(*make(dst, src))
    with pytest.raises(ValueError, match="CopyPaste: flip_p must be a probability"):
        CopyPaste(flip_p=2)


def test_samples_without_instances():
    dst = _sample(16, 16, [], 1.0, [])
    src = _sample(16, 16, [(4, 4, 9, 9)], 9.0, [5])
    dn.manual_seed(0)
    image, target = CopyPaste(scale_range=(1.0, 1.0))(dst, src)
    assert target["labels"].tolist() == [5] and target["masks"].shape == (1, 16, 16)
    image, target = CopyPaste()(src, dst)  # nothing to paste: the destination comes back unchanged
    np.testing.assert_array_equal(np.asarray(image), np.asarray(src[0]))
    assert target["labels"].tolist() == [5]
    np.testing.assert_array_equal(np.asarray(target["boxes"]), [[4, 4, 9, 9]])
