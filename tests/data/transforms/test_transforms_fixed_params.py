"""The classes of deepnotes.data.transforms against torchvision.transforms.v2: parameters drawn by our
``make_params`` and given to torchvision's ``transform`` give the same image, boxes and masks; the
whole sample (image, target dict) moves with one draw."""

import numpy as np
import pytest
import torch
import torchvision.transforms.v2 as TV
from torchvision import tv_tensors as TVT

import deepnotes as dn
from _transforms_oracle import (
    assert_boxes_close,
    assert_image_close,
    assert_mask_equal,
    boxes,
    image,
    tv_boxes,
    tv_mask,
)
from deepnotes.data import transforms as T
from deepnotes.data import tv_tensors as tvt


def _sample(rng, dtype, canvas=(21, 30), n=5, fmt="XYXY"):
    img = tvt.Image(image(rng, (3,) + canvas, dtype))
    b = boxes(rng, n, canvas, fmt, spill=0.0)
    m = tvt.Mask((rng.random((n,) + canvas) > 0.6).astype(np.uint8))
    return img, {"boxes": b, "masks": m, "labels": np.arange(n)}


def _tv_params(params):
    out = dict(params)
    if "v" in out and out["v"] is not None:
        out["v"] = torch.from_numpy(np.asarray(out["v"]))
    return out


def _compare(ours_t, tv_t, sample, params, atol_uint8=1):
    img, target = sample
    ours_img = ours_t.transform(img, params)
    ref_img = tv_t.transform(TVT.Image(torch.from_numpy(np.asarray(img).copy())), _tv_params(params))
    assert isinstance(ours_img, tvt.Image)
    assert_image_close(ours_img, ref_img, atol_uint8=atol_uint8)
    assert_boxes_close(
        ours_t.transform(target["boxes"], params), tv_t.transform(tv_boxes(target["boxes"]), _tv_params(params))
    )
    assert_mask_equal(
        ours_t.transform(target["masks"], params), tv_t.transform(tv_mask(target["masks"]), _tv_params(params))
    )


CASES = [
    ("RandomResizedCrop", lambda: T.RandomResizedCrop([14, 9]), lambda: TV.RandomResizedCrop([14, 9])),
    (
        "RandomResizedCrop-bicubic",
        lambda: T.RandomResizedCrop(12, scale=(0.5, 1), interpolation="bicubic"),
        lambda: TV.RandomResizedCrop(12, scale=(0.5, 1), interpolation=TV.InterpolationMode.BICUBIC),
    ),
    (
        "RandomCrop",
        lambda: T.RandomCrop([15, 31], padding=[2, 3], pad_if_needed=True, fill=0),
        lambda: TV.RandomCrop([15, 31], padding=[2, 3], pad_if_needed=True, fill=0),
    ),
    ("RandomRotation", lambda: T.RandomRotation(200, expand=True), lambda: TV.RandomRotation(200, expand=True)),
    (
        "RandomRotation-bilinear",
        lambda: T.RandomRotation((-300, 300), interpolation="bilinear", fill=0.3),
        lambda: TV.RandomRotation((-300, 300), interpolation=TV.InterpolationMode.BILINEAR, fill=0.3),
    ),
    (
        "RandomAffine",
        lambda: T.RandomAffine(45, (0.2, 0.1), (0.7, 1.3), (-10, 10, -5, 5)),
        lambda: TV.RandomAffine(45, (0.2, 0.1), (0.7, 1.3), (-10, 10, -5, 5)),
    ),
    ("ColorJitter", lambda: T.ColorJitter(0.5, 0.5, 0.5, 0.2), lambda: TV.ColorJitter(0.5, 0.5, 0.5, 0.2)),
    ("GaussianBlur", lambda: T.GaussianBlur(5, (0.3, 2.0)), lambda: TV.GaussianBlur(5, (0.3, 2.0))),
    ("RandomErasing", lambda: T.RandomErasing(p=1.0, value=0.5), lambda: TV.RandomErasing(p=1.0, value=0.5)),
    (
        "RandomErasing-random",
        lambda: T.RandomErasing(p=1.0, value="random"),
        lambda: TV.RandomErasing(p=1.0, value="random"),
    ),
    ("Resize", lambda: T.Resize(13, max_size=20), lambda: TV.Resize(13, max_size=20)),
    ("RandomResize", lambda: T.RandomResize(9, 40), lambda: TV.RandomResize(9, 40)),
    ("CenterCrop", lambda: T.CenterCrop([25, 7]), lambda: TV.CenterCrop([25, 7])),
    ("Pad", lambda: T.Pad([1, 2, 3, 4], fill=0), lambda: TV.Pad([1, 2, 3, 4], fill=0)),
]


# uint8 with value="random" is left out: torchvision writes float noise into uint8 pixels by a C cast
PAIRS = [
    (c, d) for c in CASES for d in (np.float64, np.uint8) if not (c[0] == "RandomErasing-random" and d == np.uint8)
]


@pytest.mark.filterwarnings("ignore:RandomErasing")
@pytest.mark.parametrize("case,dtype", PAIRS, ids=[f"{c[0]}-{np.dtype(d).name}" for c, d in PAIRS])
def test_fixed_params_give_torchvisions_output(case, dtype):
    name, ours, theirs = case
    # torch's uint8 antialiased resampling rounds fixed-point weights after each pass (see the resize tests)
    atol_uint8 = 2 if name.startswith(("Resize", "RandomResize")) else 1
    rng = np.random.default_rng(0)
    dn.manual_seed(1)
    ours_t, tv_t = ours(), theirs()
    for fmt in ["XYXY", "CXCYWH"]:
        sample = _sample(rng, dtype, fmt=fmt)
        flat = [sample[0], sample[1]["boxes"], sample[1]["masks"]]
        for _ in range(3):
            params = ours_t.make_params(flat)
            _compare(ours_t, tv_t, sample, params, atol_uint8)


def test_flips_and_one_draw_for_the_whole_sample():
    rng = np.random.default_rng(1)
    img, target = _sample(rng, np.float32)
    dn.manual_seed(3)
    flips = [T.RandomHorizontalFlip(p=0.5)(img, target) for _ in range(20)]
    flipped = [np.array_equal(np.asarray(o[0]), np.asarray(img)[..., ::-1]) for o in flips]
    assert 0 < sum(flipped) < 20
    for (oi, ot), f in zip(flips, flipped):
        ref = TV.RandomHorizontalFlip(p=1.0 if f else 0.0)(
            TVT.Image(torch.from_numpy(np.asarray(img).copy())),
            {"boxes": tv_boxes(target["boxes"]), "masks": tv_mask(target["masks"])},
        )
        assert_image_close(oi, ref[0])
        assert_boxes_close(ot["boxes"], ref[1]["boxes"])
        assert_mask_equal(ot["masks"], ref[1]["masks"])
        assert ot["labels"] is target["labels"]


def test_pure_arrays_and_tensors_are_images_only_without_an_image():
    rng = np.random.default_rng(2)
    x = rng.random((3, 8, 10)).astype(np.float32)
    labels = np.arange(8)
    out, lab = T.CenterCrop(4)(x, labels)
    assert out.shape == (3, 4, 4) and lab is labels
    t = dn.tensor(x)
    out = T.Resize([5, 5])(t)
    assert isinstance(out, dn.Tensor) and out.shape == (3, 5, 5)
    img = tvt.Image(x)
    out_img, out_plain = T.CenterCrop(4)(img, x)
    assert out_img.shape == (3, 4, 4) and out_plain is x  # an Image in the sample: plain arrays pass through


def test_sanitize_drops_boxes_with_labels_and_masks_like_torchvision():
    rng = np.random.default_rng(3)
    b = tvt.BoundingBoxes(
        [[0, 0, 5, 5], [2, 2, 2.5, 9], [1, 1, 30, 20], [3, 4, 3.5, 4.2], [-1, 0, 4, 4]],
        format="XYXY",
        canvas_size=(21, 30),
    )
    m = tvt.Mask((rng.random((5, 21, 30)) > 0.5).astype(np.uint8))
    labels = np.array([10, 11, 12, 13, 14])
    sample = (tvt.Image(np.zeros((3, 21, 30), np.float32)), {"boxes": b, "masks": m, "labels": labels})
    for min_size in (1, 3):
        _, out = T.SanitizeBoundingBoxes(min_size=min_size)(sample)
        _, ref = TV.SanitizeBoundingBoxes(min_size=min_size)(
            (
                TVT.Image(torch.zeros(3, 21, 30)),
                {"boxes": tv_boxes(b), "masks": tv_mask(m), "labels": torch.from_numpy(labels)},
            )
        )
        assert_boxes_close(out["boxes"], ref["boxes"])
        assert_mask_equal(out["masks"], ref["masks"])
        np.testing.assert_array_equal(out["labels"], ref["labels"].numpy())
