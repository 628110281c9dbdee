"""Flips, crops, pads, rotation and affine warps of deepnotes.data.transforms.functional against
torchvision.transforms.v2.functional, for images, masks and boxes."""

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from _transforms_oracle import (
    FORMATS,
    assert_boxes_close,
    assert_image_close,
    assert_mask_equal,
    boxes,
    image,
    tv_boxes,
    tv_mask,
)
from deepnotes.data import tv_tensors as tvt
from deepnotes.data.transforms import functional as F

DTYPES = [np.float64, np.float32, np.uint8]
SHAPES = [(3, 1, 1), (1, 1, 6), (3, 7, 1), (3, 9, 14), (2, 3, 12, 5)]


def _all_kinds(rng, shape, dtype):
    """(image, mask, per-format boxes) on one canvas."""
    canvas = shape[-2:]
    return (
        image(rng, shape, dtype),
        tvt.Mask(rng.integers(0, 4, (2,) + canvas).astype(np.uint8)),
        [boxes(rng, 5, canvas, fmt) for fmt in FORMATS],
    )


def _check(op_ours, op_ref, rng, dtype, shape):
    x, m, bs = _all_kinds(rng, shape, dtype)
    assert_image_close(op_ours(x), op_ref(torch.from_numpy(x)))
    assert_mask_equal(op_ours(m), op_ref(tv_mask(m)))
    for b in bs:
        assert_boxes_close(op_ours(b), op_ref(tv_boxes(b)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_flips(dtype, shape):
    rng = np.random.default_rng(0)
    _check(F.horizontal_flip, TF.horizontal_flip, rng, dtype, shape)
    _check(F.vertical_flip, TF.vertical_flip, rng, dtype, shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_crop_partly_outside_and_center_crop(dtype, shape):
    rng = np.random.default_rng(1)
    h, w = shape[-2:]
    for top, left, ch, cw in [(0, 0, 1, 1), (-3, 2, h + 4, 5), (h // 2, -w, 3, 2 * w), (h + 1, w + 2, 4, 4)]:
        _check(
            lambda a, t=top, le=left, ch=ch, cw=cw: F.crop(a, t, le, ch, cw),
            lambda a, t=top, le=left, ch=ch, cw=cw: TF.crop(a, t, le, ch, cw),
            rng,
            dtype,
            shape,
        )
    for size in [1, (h + 3, max(w - 1, 1)), [w + 2], (3, 8)]:
        _check(lambda a, s=size: F.center_crop(a, s), lambda a, s=size: TF.center_crop(a, s), rng, dtype, shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding", [1, [2, 0], [1, 3, 0, 2], [0, 0, 4, 1]])
def test_pad_modes(dtype, padding):
    rng = np.random.default_rng(2)
    x = image(rng, (3, 6, 7), dtype)
    for mode in ["constant", "edge", "reflect", "symmetric"]:
        ref = TF.pad(torch.from_numpy(x), padding, padding_mode=mode)
        assert_image_close(F.pad(x, padding, padding_mode=mode), ref)
    fill = [10, 20, 30] if dtype == np.uint8 else [0.1, 0.5, 0.9]
    assert_image_close(F.pad(x, padding, fill=fill), TF.pad(torch.from_numpy(x), padding, fill=fill))
    m = tvt.Mask(rng.integers(0, 4, (6, 7)).astype(np.uint8))
    assert_mask_equal(F.pad(m, padding, fill=3), TF.pad(tv_mask(m), padding, fill=3))
    for fmt in FORMATS:
        b = boxes(rng, 4, (6, 7), fmt)
        assert_boxes_close(F.pad(b, padding), TF.pad(tv_boxes(b), padding))


ANGLES = [-725.5, -270, -181.3, -90, -37.2, 0, 45, 90, 179.9, 180, 270, 333.3, 450]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("expand", [False, True])
def test_rotate(dtype, mode, expand):
    rng = np.random.default_rng(3)
    for shape in [(3, 1, 1), (3, 9, 14), (1, 10, 10), (3, 7, 4)]:
        x = image(rng, shape, dtype)
        h, w = shape[-2:]
        for angle in rng.choice(ANGLES, 3, replace=False).tolist():
            for center in [None, [w * 0.3, h + 2.0]]:
                fill = None if angle > 100 else ([5, 100, 250] if dtype == np.uint8 else 0.25)
                if fill is not None and shape[0] == 1:
                    fill = 7 if dtype == np.uint8 else 0.25
                ours = F.rotate(x, angle, mode, expand, center, fill)
                ref = TF.rotate(torch.from_numpy(x), angle, TF.InterpolationMode(mode), expand, center, fill)
                assert_image_close(ours, ref)


@pytest.mark.parametrize("expand", [False, True])
def test_rotate_boxes_and_masks(expand):
    rng = np.random.default_rng(6)
    m = tvt.Mask(rng.integers(0, 4, (2, 9, 14)).astype(np.uint8))
    for angle in ANGLES[::2] if expand else ANGLES[1::2]:
        for center in [None, [3.0, -1.5]]:
            ref = TF.rotate(tv_mask(m), angle, expand=expand, center=center)
            assert_mask_equal(F.rotate(m, angle, expand=expand, center=center), ref)
            for fmt in FORMATS:
                b = boxes(rng, 6, (9, 14), fmt)
                ref = TF.rotate(tv_boxes(b), angle, expand=expand, center=center)
                assert_boxes_close(F.rotate(b, angle, expand=expand, center=center), ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_affine(dtype, mode):
    rng = np.random.default_rng(4)
    for shape in [(3, 1, 1), (3, 11, 8), (2, 3, 6, 13)]:
        x = image(rng, shape, dtype)
        for _ in range(6):
            angle = float(rng.uniform(-400, 400))
            translate = [float(v) for v in rng.uniform(-6, 6, 2)]
            scale = float(rng.uniform(0.4, 1.8))
            shear = [float(v) for v in rng.uniform(-40, 40, 2)]
            center = None if rng.random() < 0.5 else [float(v) for v in rng.uniform(-3, 15, 2)]
            fill = None if rng.random() < 0.5 else (9 if dtype == np.uint8 else 0.6)
            ours = F.affine(x, angle, translate, scale, shear, mode, fill, center)
            ref = TF.affine(
                torch.from_numpy(x), angle, translate, scale, shear, TF.InterpolationMode(mode), fill, center
            )
            assert_image_close(ours, ref)
    m = tvt.Mask(rng.integers(0, 4, (11, 8)).astype(np.int64))
    for fmt in FORMATS:
        b = boxes(rng, 6, (11, 8), fmt)
        for _ in range(5):
            args = (
                float(rng.uniform(-400, 400)),
                [3.0, -2.0],
                float(rng.uniform(0.5, 1.5)),
                [float(rng.uniform(-30, 30)), 4.0],
            )
            assert_boxes_close(F.affine(b, *args), TF.affine(tv_boxes(b), *args))
            assert_mask_equal(F.affine(m, *args), TF.affine(tv_mask(m), *args))


def test_integer_boxes_follow_torchvision_rounding():
    rng = np.random.default_rng(5)
    for fmt in FORMATS:
        b = boxes(rng, 8, (20, 30), fmt)
        bi = tvt.BoundingBoxes(np.asarray(b).round().astype(np.int64), format=fmt, canvas_size=(20, 30))
        for op, ref in [
            (lambda a: F.rotate(a, 33.0), lambda a: TF.rotate(a, 33.0)),
            (lambda a: F.resize(a, [13, 41]), lambda a: TF.resize(a, [13, 41])),
            (lambda a: F.crop(a, 3, -2, 10, 12), lambda a: TF.crop(a, 3, -2, 10, 12)),
            (F.horizontal_flip, TF.horizontal_flip),
        ]:
            ours, theirs = op(bi), ref(tv_boxes(bi))
            assert np.asarray(ours).dtype == theirs.numpy().dtype
            np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())
