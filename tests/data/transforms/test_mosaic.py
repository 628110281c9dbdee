"""Mosaic (deepnotes.data.transforms.detection): geometry checked against an independent computation on
hand-made images whose coloured rectangles are located after the transform, boxes against their masks
(pycocotools' toBbox), canvas bounds, label counts and seeded reproducibility."""

import numpy as np
import pycocotools.mask as mask_utils
import pytest

import deepnotes as dn
from deepnotes.data.transforms.detection import Mosaic, masks_to_tight_boxes
from deepnotes.data.tv_tensors import BoundingBoxes, Image, Mask

SIZES = [(40, 60), (50, 30), (24, 24), (64, 48)]  # (h, w) of the four images


def _rect_images(rng, n_rects=3):
    """Four uint8 RGB images (background 0) with rectangles of distinct colours; label = colour id."""
    samples, colour = [], 1
    for h, w in SIZES:
        img = np.zeros((3, h, w), np.uint8)
        boxes, labels, masks = [], [], []
        for _ in range(n_rects):
            bw, bh = rng.integers(4, w // 2), rng.integers(4, h // 2)
            x1, y1 = rng.integers(0, w - bw + 1), rng.integers(0, h - bh + 1)
            img[:, y1 : y1 + bh, x1 : x1 + bw] = np.array([colour, 255 - colour, 7])[:, None, None]
            m = np.zeros((h, w), bool)
            m[y1 : y1 + bh, x1 : x1 + bw] = True
            boxes.append([x1, y1, x1 + bw, y1 + bh])
            labels.append(colour)
            masks.append(m)
            colour += 1
        # later rectangles may cover earlier ones: masks follow what is visible
        for k in range(len(masks)):
            for later in masks[k + 1 :]:
                masks[k] = masks[k] & ~later
        target = {
            "boxes": BoundingBoxes(np.array(boxes, float), format="XYXY", canvas_size=(h, w)),
            "labels": np.array(labels),
            "masks": Mask(np.stack(masks)),
        }
        samples.append((Image(img), target))
    return samples


def _expected_window(i, xc, yc, nh, nw, H, W):
    """YOLOv5's load_mosaic placement written out per quadrant: canvas window (x1a, y1a, x2a, y2a) and the
    part of the resized image it shows (x1b, y1b, x2b, y2b)."""
    if i == 0:
        a = (max(xc - nw, 0), max(yc - nh, 0), xc, yc)
        b = (nw - (a[2] - a[0]), nh - (a[3] - a[1]), nw, nh)
    elif i == 1:
        a = (xc, max(yc - nh, 0), min(xc + nw, W), yc)
        b = (0, nh - (a[3] - a[1]), min(nw, a[2] - a[0]), nh)
    elif i == 2:
        a = (max(xc - nw, 0), yc, xc, min(H, yc + nh))
        b = (nw - (a[2] - a[0]), 0, nw, min(a[3] - a[1], nh))
    else:
        a = (xc, yc, min(xc + nw, W), min(H, yc + nh))
        b = (0, 0, min(nw, a[2] - a[0]), min(a[3] - a[1], nh))
    return a, b


def _located(image, colour):
    hit = (image[0] == colour) & (image[1] == 255 - colour) & (image[2] == 7)
    if not hit.any():
        return None
    ys, xs = np.nonzero(hit)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)


@pytest.mark.parametrize("seed", range(8))
def test_box_geometry_matches_an_independent_computation(seed):
    rng = np.random.default_rng(seed)
    samples = _rect_images(rng)
    H, W = 96, 128
    mosaic = Mosaic((H, W), interpolation="nearest", min_size=0, min_area_ratio=0.0, generator=rng)
    plain = [(img, {"boxes": t["boxes"], "labels": t["labels"]}) for img, t in samples]
    params = mosaic.make_params([s[0].shape[1:] for s in samples])
    image, target = mosaic.transform(plain, params)
    assert isinstance(image, Image) and image.shape == (3, H, W) and image.dtype == np.uint8
    xc, yc = params["center"]
    assert W / 4 <= xc <= 3 * W / 4 and H / 4 <= yc <= 3 * H / 4
    boxes = np.asarray(target["boxes"])
    got = dict(zip(target["labels"].tolist(), boxes))
    located = 0
    for i, ((img, t), (nh, nw)) in enumerate(zip(samples, params["sizes"])):
        h, w = img.shape[1:]
        assert nh == max(1, round(h * nh / h))
        (x1a, y1a, x2a, y2a), (x1b, y1b, _, _) = _expected_window(i, xc, yc, nh, nw, H, W)
        padw, padh = x1a - x1b, y1a - y1b
        for box, label in zip(np.asarray(t["boxes"]), t["labels"]):
            sx, sy = nw / w, nh / h
            exp = np.array([box[0] * sx + padw, box[1] * sy + padh, box[2] * sx + padw, box[3] * sy + padh])
            exp[[0, 2]] = exp[[0, 2]].clip(x1a, x2a)
            exp[[1, 3]] = exp[[1, 3]].clip(y1a, y2a)
            visible = exp[2] > exp[0] and exp[3] > exp[1]
            assert (int(label) in got) == visible, (i, label)
            if not visible:
                continue
            np.testing.assert_allclose(got[int(label)], exp, atol=1e-9)
            # the rectangle's pixels, found in the output, sit within a pixel of the computed box (nearest
            # resampling rounds edges); a rectangle partly covered by a later one shows at most its box
            where = _located(np.asarray(image), int(label))
            if where is not None and t["masks"][list(t["labels"]).index(label)].sum() == (box[2] - box[0]) * (
                box[3] - box[1]
            ):
                np.testing.assert_allclose(where, exp, atol=1.0)
                located += 1
    assert located >= 3  # the pixel check ran on several rectangles


@pytest.mark.parametrize("seed", range(6))
def test_with_masks_every_box_is_the_tight_box_of_its_mask(seed):
    rng = np.random.default_rng(100 + seed)
    samples = _rect_images(rng, n_rects=4)
    out_img, target = Mosaic(80, generator=rng, min_size=2, min_area_ratio=0.2)(samples)
    boxes, masks, labels = np.asarray(target["boxes"]), np.asarray(target["masks"]), target["labels"]
    assert (
        isinstance(target["masks"], Mask) and masks.shape == (len(labels), 80, 80) and boxes.shape == (len(labels), 4)
    )
    assert target["boxes"].canvas_size == (80, 80)
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 80).all() and (boxes[:, 3] <= 80).all()
    assert ((boxes[:, 2] - boxes[:, 0]) > 2).all() and ((boxes[:, 3] - boxes[:, 1]) > 2).all()
    if len(labels):
        rle = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
        xywh = mask_utils.toBbox(rle)
        np.testing.assert_array_equal(boxes, np.c_[xywh[:, :2], xywh[:, :2] + xywh[:, 2:]])
    assert len(set(labels.tolist())) == len(labels)  # each instance at most once


def test_tiny_and_mostly_clipped_boxes_are_dropped_with_their_labels():
    img = np.zeros((1, 20, 20), np.float32)
    boxes = BoundingBoxes([[0, 0, 20, 20], [9, 9, 10, 10]], format="XYXY", canvas_size=(20, 20))
    samples = [(img, {"boxes": boxes, "labels": np.array([10 * i, 10 * i + 1])}) for i in range(4)]
    mosaic = Mosaic(40, min_size=2.0, min_area_ratio=0.6)
    # centre (10, 10): every image is 20x20 (fit to a 20x20 quadrant, factor 1); quadrant 0 shows only its
    # bottom-right 10x10 (25% of its big box), quadrants 1 and 2 half of it (all dropped), quadrant 3 all of it
    params = {"center": (10, 10), "sizes": [(20, 20)] * 4}
    _, target = mosaic.transform(samples, params)
    got = dict(zip(target["labels"].tolist(), np.asarray(target["boxes"]).tolist()))
    assert set(got) == {30}  # the 1x1 box is too small; 0, 10, 20 keep at most half their area
    assert got[30] == [10, 10, 30, 30]
    _, loose = Mosaic(40, min_size=0.5, min_area_ratio=0.0).transform(samples, params)
    # the 1x1 boxes at (9, 9) of quadrants 0-2 land on the canvas edge or outside it: no area, dropped
    assert sorted(loose["labels"].tolist()) == [0, 10, 20, 30, 31]
    assert dict(zip(loose["labels"].tolist(), np.asarray(loose["boxes"]).tolist()))[31] == [19, 19, 20, 20]


def test_formats_are_kept_and_seed_reproduces():
    rng = np.random.default_rng(3)
    samples = _rect_images(rng)
    xywh = []
    for img, t in samples:
        b = np.asarray(t["boxes"])
        conv = BoundingBoxes(np.c_[b[:, :2], b[:, 2:] - b[:, :2]], format="XYWH", canvas_size=t["boxes"].canvas_size)
        xywh.append((dn.tensor(np.asarray(img)), {"boxes": conv, "labels": t["labels"]}))
    runs = []
    for _ in range(2):
        dn.manual_seed(7)
        runs.append(Mosaic((64, 72))(xywh))
    (i1, t1), (i2, t2) = runs
    assert isinstance(i1, dn.Tensor)
    np.testing.assert_array_equal(i1.numpy(), i2.numpy())
    np.testing.assert_array_equal(t1["boxes"], t2["boxes"])
    assert t1["boxes"].format.value == "XYWH" and t1["boxes"].canvas_size == (64, 72)
    dn.manual_seed(7)
    _, t_xyxy = Mosaic((64, 72))(
        [(np.asarray(s[0]), {"boxes": s[1]["boxes"], "labels": s[1]["labels"]}) for s in samples]
    )
    b = np.asarray(t_xyxy["boxes"])
    np.testing.assert_allclose(np.asarray(t1["boxes"]), np.c_[b[:, :2], b[:, 2:] - b[:, :2]], atol=1e-9)


def test_masks_to_tight_boxes_matches_pycocotools(rng):
    masks = rng.random((7, 9, 11)) < 0.05
    masks[2] = False
    boxes, present = masks_to_tight_boxes(masks)
    assert present.tolist() == [bool(m.any()) for m in masks]
    rle = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    xywh = mask_utils.toBbox(rle)
    np.testing.assert_array_equal(boxes[present], np.c_[xywh[:, :2], xywh[:, :2] + xywh[:, 2:]][present])


def _one(h=10, w=10, n=1):
    return (np.zeros((3, h, w)), {"boxes": np.tile([[1.0, 1, 5, 5]], (n, 1)), "labels": np.arange(n)})


@pytest.mark.parametrize(
    ("samples", "match"),
    [
        ([_one()] * 3, "Mosaic: expected a sequence of 4"),
        ([(np.zeros((10, 10, 3)), _one()[1])] * 4, r"Mosaic: the image of shape \(10, 10, 3\) looks channels-last"),
        ([(np.zeros((3, 10, 10)), {"boxes": np.zeros((2, 4)), "labels": np.zeros(3)})] * 4, "2 boxes but labels"),
        ([(np.zeros((3, 10, 10)), {"boxes": [[0, 0, 12, 5]], "labels": [1]})] * 4, "inside the 10x10 canvas"),
        (
            [
                (
                    np.zeros((3, 10, 10)),
                    {"boxes": BoundingBoxes([[0, 0, 1, 1]], format="XYXY", canvas_size=(9, 9)), "labels": [1]},
                )
            ]
            * 4,
            r"canvas_size \(9, 9\) differs from the image size \(10, 10\)",
        ),
        (
            [(np.zeros((3, 10, 10)), {**_one()[1], "masks": np.zeros((1, 8, 10))})] * 4,
            r"Mosaic: masks must have shape \(N, H, W\) = \(1, 10, 10\)",
        ),
        ([_one(), _one(), _one(), (np.zeros((1, 10, 10)), _one()[1])], "share channels and dtype"),
    ],
)
def test_bad_input_is_a_clear_error(samples, match):
    with pytest.raises(ValueError, match=match):
        Mosaic(32)(samples)


def test_images_without_boxes():
    empty = (np.ones((3, 12, 16), np.float32), {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, np.int64)})
    image, target = Mosaic(24)([empty] * 4)
    assert image.shape == (3, 24, 24) and target["boxes"].shape == (0, 4) and target["labels"].shape == (0,)
    with_masks = (empty[0], {**empty[1], "masks": np.zeros((0, 12, 16), bool)})
    _, target = Mosaic(24)([with_masks] * 4)
    assert target["masks"].shape == (0, 24, 24)


def test_centre_and_scale_are_uniform_over_their_ranges():
    import scipy.stats

    mosaic = Mosaic((100, 200), center_range=(0.5, 1.5), scale_range=(1.0, 1.0), generator=np.random.default_rng(9))
    draws = [mosaic.make_params([(50, 100)] * 4)["center"] for _ in range(2000)]
    xs, ys = np.array(draws).T
    # int() of a uniform draw on [50, 150) (x) and [25, 75) (y): the integer parts are uniform
    assert xs.min() >= 50 and xs.max() < 150 and ys.min() >= 25 and ys.max() < 75
    assert scipy.stats.chisquare(np.bincount(xs - 50, minlength=100)).pvalue > 1e-3
    assert scipy.stats.chisquare(np.bincount(ys - 25, minlength=50)).pvalue > 1e-3
    # an image of 50x100 fills a 50x100 quadrant exactly at scale 1
    assert mosaic.make_params([(50, 100)] * 4)["sizes"] == [(50, 100)] * 4
    jitter = Mosaic((100, 200), scale_range=(0.5, 1.5), generator=np.random.default_rng(10))
    widths = np.array([jitter.make_params([(50, 100)] * 4)["sizes"] for _ in range(500)])[..., 1].ravel()
    assert scipy.stats.kstest((widths - 50) / 100, "uniform").pvalue > 1e-3
