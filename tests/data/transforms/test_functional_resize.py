"""deepnotes.data.transforms.functional.resize / resized_crop against torchvision.transforms.v2.functional."""

import zlib

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

MODES = ["nearest", "nearest-exact", "bilinear", "bicubic"]
SIZES = [(1, 1), (1, 7), (9, 1), (5, 3), (17, 24), (40, 13)]


def _torch_resize(x, size, mode, aa):
    t = torch.from_numpy(x)
    h, w = x.shape[-2:]
    nh, nw = size
    if x.dtype == np.uint8 and mode in ("bilinear", "bicubic") and size == (1, 1) and (h, w) != (1, 1):
        # torch's AVX uint8 kernel asserts on a 1x1 output; torchvision's route for CPUs without AVX
        # (float32, resample, round) is the reference there
        out = TF.resize(t.float(), [1, 1], interpolation=TF.InterpolationMode(mode), antialias=aa)
        return out.round().clamp(0, 255).to(torch.uint8)
    if aa and nw == 1 and nh != h and mode in ("bilinear", "bicubic"):
        # torch's antialiased kernel copies the first output row into every row when the output width is
        # 1 (a torch defect in its pass along the height); torch's own passes, width first then the height
        # pass done along the width of the transposed image, are the reference
        m = TF.InterpolationMode(mode)
        t = TF.resize(t, [h, nw], interpolation=m, antialias=aa)
        return TF.resize(t.transpose(-1, -2), [nw, nh], interpolation=m, antialias=aa).transpose(-1, -2).contiguous()
    return TF.resize(t, list(size), interpolation=TF.InterpolationMode(mode), antialias=aa)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("antialias", [False, True])
def test_resize_image_matches_torchvision(dtype, mode, antialias):
    rng = np.random.default_rng(zlib.crc32(f"{np.dtype(dtype).name}-{mode}-{antialias}".encode()))
    for src in SIZES:
        for dst in [(1, 1), (3, 8), (src[0] * 2, max(src[1] // 3, 1)), (23, 11)]:
            x = image(rng, (3,) + src, dtype)
            ours = F.resize(x, list(dst), interpolation=mode, antialias=antialias)
            ref = _torch_resize(x, dst, mode, antialias)
            if dtype == np.uint8 and mode in ("bilinear", "bicubic") and (antialias or mode == "bicubic"):
                # torch's uint8 kernels here use 16-bit fixed-point weights and round after each of the two
                # passes: our float weights agree within one grey level but for rare pixels (two levels)
                assert_image_close(ours, ref, atol_uint8=2)
                off = np.abs(ours.astype(np.int64) - ref.numpy().astype(np.int64)) > 1
                assert off.mean() < 0.01
            else:
                assert_image_close(ours, ref)


@pytest.mark.parametrize("size,max_size", [(7, None), ([5], 9), (None, 10), ([12, 4], None)])
def test_resize_output_size_rules(size, max_size):
    x = np.zeros((1, 11, 6), np.float32)
    ours = F.resize(x, size, max_size=max_size)
    ref = TF.resize(torch.from_numpy(x), size, max_size=max_size)
    assert ours.shape == tuple(ref.shape)


@pytest.mark.parametrize("fmt", FORMATS)
def test_resize_boxes_and_masks_follow(fmt):
    rng = np.random.default_rng(1)
    for canvas, size in [((13, 20), [7, 31]), ((1, 5), [3, 3]), ((30, 9), 4)]:
        b = boxes(rng, 6, canvas, fmt)
        assert_boxes_close(F.resize(b, size), TF.resize(tv_boxes(b), size))
        m = tvt.Mask((rng.random((3,) + canvas) > 0.5).astype(np.uint8))
        assert_mask_equal(F.resize(m, size), TF.resize(tv_mask(m), size))
        m2 = tvt.Mask(rng.integers(0, 5, canvas).astype(np.int64))
        assert_mask_equal(F.resize(m2, size), TF.resize(tv_mask(m2), size))


@pytest.mark.parametrize("dtype", [np.float64, np.uint8])
@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_resized_crop_including_windows_outside_the_image(dtype, mode):
    rng = np.random.default_rng(2)
    x = image(rng, (3, 15, 22), dtype)
    for top, left, h, w in [(2, 3, 8, 9), (-4, -3, 10, 30), (10, 18, 9, 9), (0, 0, 1, 1)]:
        ours = F.resized_crop(x, top, left, h, w, [12, 7], interpolation=mode)
        ref = TF.resized_crop(torch.from_numpy(x), top, left, h, w, [12, 7], interpolation=TF.InterpolationMode(mode))
        assert_image_close(ours, ref, atol_uint8=2)
    for fmt in FORMATS:
        b = boxes(rng, 5, (15, 22), fmt)
        assert_boxes_close(
            F.resized_crop(b, -2, 4, 10, 12, [20, 9]), TF.resized_crop(tv_boxes(b), -2, 4, 10, 12, [20, 9])
        )
    m = tvt.Mask(rng.integers(0, 3, (2, 15, 22)).astype(np.uint8))
    assert_mask_equal(F.resized_crop(m, 3, -2, 9, 11, [5, 13]), TF.resized_crop(tv_mask(m), 3, -2, 9, 11, [5, 13]))


def test_resize_keeps_the_input_type():
    import deepnotes as dn

    x = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    assert isinstance(F.resize(tvt.Image(x), [4, 4]), tvt.Image)
    assert type(F.resize(x, [4, 4])) is np.ndarray
    out = F.resize(dn.tensor(x), [4, 4])
    assert isinstance(out, dn.Tensor)
    np.testing.assert_array_equal(out.numpy(), F.resize(x, [4, 4]))


def test_resize_batches_of_images():
    x = np.random.default_rng(3).random((2, 3, 9, 14))
    assert_image_close(F.resize(x, [5, 20]), TF.resize(torch.from_numpy(x), [5, 20]))
