"""Shared pieces of the transforms tests: random images, boxes and masks as deepnotes and torchvision
objects, and the comparison rules (float64 to 1e-6 here; float32 to 2e-6, the rounding of torch's fused
float32 arithmetic; uint8 exact or within one grey level where torch rounds)."""

import numpy as np
import torch
from torchvision import tv_tensors as TVT

from deepnotes.data import tv_tensors as tvt

FORMATS = ["XYXY", "XYWH", "CXCYWH"]


def image(rng, shape, dtype):
    x = rng.random(shape)
    if np.dtype(dtype) == np.uint8:
        return (x * 256).clip(0, 255).astype(np.uint8)
    return x.astype(dtype)


def boxes(rng, n, canvas, fmt, spill=0.3):
    """``n`` boxes in ``fmt`` on ``canvas`` (h, w), some reaching outside it by up to ``spill`` of a side."""
    h, w = canvas
    x = np.sort(rng.uniform(-spill * w, (1 + spill) * w, (n, 2)), axis=1)
    y = np.sort(rng.uniform(-spill * h, (1 + spill) * h, (n, 2)), axis=1)
    xyxy = np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], 1)
    ours = tvt.BoundingBoxes(xyxy, format="XYXY", canvas_size=canvas)
    from deepnotes.data.transforms import functional as F

    return F.convert_bounding_box_format(ours, new_format=fmt)


def tv_boxes(b):
    return TVT.BoundingBoxes(
        torch.from_numpy(np.asarray(b).copy()), format=b.format.value, canvas_size=tuple(int(s) for s in b.canvas_size)
    )


def tv_mask(m):
    return TVT.Mask(torch.from_numpy(np.asarray(m).copy()))


def tv_image(x):
    return TVT.Image(torch.from_numpy(np.asarray(x).copy()))


def assert_image_close(ours, ref, atol_uint8=1):
    ref = ref.numpy() if hasattr(ref, "numpy") else np.asarray(ref)
    ours = np.asarray(ours)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    if ours.dtype == np.uint8:
        diff = np.abs(ours.astype(np.int64) - ref.astype(np.int64))
        assert diff.max(initial=0) <= atol_uint8, diff.max()
    elif ours.dtype == np.float32:
        np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-6)
    else:
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)


def assert_boxes_close(ours, ref):
    assert isinstance(ours, tvt.BoundingBoxes)
    assert ours.format.value == ref.format.value
    assert tuple(ours.canvas_size) == tuple(ref.canvas_size), (ours.canvas_size, ref.canvas_size)
    np.testing.assert_allclose(np.asarray(ours), ref.numpy(), rtol=0, atol=1e-5)


def assert_mask_equal(ours, ref):
    assert isinstance(ours, tvt.Mask)
    np.testing.assert_array_equal(np.asarray(ours), ref.numpy())
