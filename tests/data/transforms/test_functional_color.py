"""Colour, blur, noise, erase, normalisation, box formats and dtype conversion of
deepnotes.data.transforms.functional against torchvision.transforms.v2.functional."""

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from _transforms_oracle import FORMATS, assert_boxes_close, assert_image_close, boxes, image, tv_boxes
from deepnotes.data import tv_tensors as tvt
from deepnotes.data.transforms import functional as F

DTYPES = [np.float64, np.float32, np.uint8]
SHAPES = [(3, 1, 1), (3, 5, 8), (2, 3, 7, 3), (1, 6, 5)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_colour_adjustments(dtype, shape):
    rng = np.random.default_rng(0)
    x = image(rng, shape, dtype)
    t = torch.from_numpy(x)
    for f in [0.0, 0.37, 1.0, 1.8]:
        assert_image_close(F.adjust_brightness(x, f), TF.adjust_brightness(t, f))
        assert_image_close(F.adjust_contrast(x, f), TF.adjust_contrast(t, f))
        assert_image_close(F.adjust_saturation(x, f), TF.adjust_saturation(t, f))
    for h in [-0.5, -0.21, 0.0, 0.07, 0.5]:
        assert_image_close(F.adjust_hue(x, h), TF.adjust_hue(t, h))
    if shape[-3] == 3:
        for n in (1, 3):
            assert_image_close(F.rgb_to_grayscale(x, n), TF.rgb_to_grayscale(t, n))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_blur(dtype):
    rng = np.random.default_rng(1)
    x = image(rng, (3, 9, 12), dtype)
    for k, s in [(3, None), ([5, 3], [1.3, 0.4]), (7, 2.0), ([1, 9], 0.8)]:
        assert_image_close(F.gaussian_blur(x, k, s), TF.gaussian_blur(torch.from_numpy(x), k, s))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_normalize(dtype):
    rng = np.random.default_rng(2)
    x = image(rng, (2, 3, 4, 5), dtype)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    assert_image_close(F.normalize(x, mean, std), TF.normalize(torch.from_numpy(x), mean, std))


def test_erase_and_noise_formula():
    rng = np.random.default_rng(3)
    x = image(rng, (3, 6, 7), np.float32)
    v = rng.random((3, 2, 4)).astype(np.float32)
    assert_image_close(F.erase(x, 1, 2, 2, 4, v), TF.erase(torch.from_numpy(x), 1, 2, 2, 4, torch.from_numpy(v)))
    # the noise is torchvision's formula applied to draws of the generator given
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    ours = F.gaussian_noise(x, 0.1, 0.2, generator=g1)
    z = g2.standard_normal(x.shape, dtype=np.float32)
    np.testing.assert_allclose(ours, np.clip(x + (np.float32(0.1) + z * np.float32(0.2)), 0, 1), atol=1e-7)
    u = image(rng, (3, 6, 7), np.uint8)
    g1, g2 = np.random.default_rng(8), np.random.default_rng(8)
    z = torch.from_numpy(g2.standard_normal(u.shape, dtype=np.float32))
    ref = (torch.from_numpy(u) + ((0.05 * 255) + z * (0.3 * 255)).to(torch.int16)).clamp(0, 255).to(torch.uint8)
    np.testing.assert_array_equal(F.gaussian_noise(u, 0.05, 0.3, generator=g1), ref.numpy())


@pytest.mark.parametrize("src", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("dst", [np.uint8, np.float32, np.float64, np.int16])
@pytest.mark.parametrize("scale", [False, True])
def test_to_dtype(src, dst, scale):
    rng = np.random.default_rng(4)
    x = image(rng, (3, 4, 5), src)
    tdst = {np.uint8: torch.uint8, np.float32: torch.float32, np.float64: torch.float64, np.int16: torch.int16}[dst]
    ref = TF.to_dtype(torch.from_numpy(x), tdst, scale=scale)
    ours = F.to_dtype(x, dst, scale=scale)
    assert ours.dtype == ref.numpy().dtype
    np.testing.assert_allclose(ours.astype(np.float64), ref.numpy().astype(np.float64), rtol=0, atol=1e-7)


def test_to_image_reads_hwc_arrays():
    x = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    ref = TF.to_image(x)
    out = F.to_image(x)
    assert isinstance(out, tvt.Image)
    np.testing.assert_array_equal(out, ref.numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_box_formats_clamp_and_sanitize(dtype):
    rng = np.random.default_rng(5)
    for old in FORMATS:
        b = boxes(rng, 9, (20, 30), old)
        b = tvt.BoundingBoxes(np.asarray(b).round(1).astype(dtype), format=old, canvas_size=(20, 30))
        for new in FORMATS:
            assert_boxes_close(
                F.convert_bounding_box_format(b, new_format=new),
                TF.convert_bounding_box_format(tv_boxes(b), new_format=new),
            )
        assert_boxes_close(F.clamp_bounding_boxes(b), TF.clamp_bounding_boxes(tv_boxes(b)))
        clamped = F.clamp_bounding_boxes(b)
        for min_size in (1.0, 3.5):
            ours, keep = F.sanitize_bounding_boxes(clamped, min_size=min_size)
            ref, rkeep = TF.sanitize_bounding_boxes(tv_boxes(clamped), min_size=min_size)
            np.testing.assert_array_equal(keep, rkeep.numpy())
            assert_boxes_close(ours, ref)
