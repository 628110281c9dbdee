"""Bad input to deepnotes.data.transforms: a clear error naming the transform, what it got and what it
expects."""

import numpy as np
import pytest

from deepnotes.data import transforms as T
from deepnotes.data import tv_tensors as tvt
from deepnotes.data.transforms import functional as F


def _img(h=20, w=30):
    return tvt.Image(np.zeros((3, h, w), np.float32))


def _boxes(data, fmt="XYXY", canvas=(20, 30)):
    return tvt.BoundingBoxes(data, format=fmt, canvas_size=canvas)


@pytest.mark.parametrize(
    "call,error,match",
    [
        # HWC where CHW is expected
        (
            lambda: T.RandomHorizontalFlip(1.0)(np.zeros((32, 32, 3), np.float32)),
            ValueError,
            r"RandomHorizontalFlip: .*\(C, H, W\).*got shape \(32, 32, 3\).*\(H, W, C\)",
        ),
        (lambda: F.resize(np.zeros((20, 24, 3), np.uint8), [5, 5]), ValueError, r"resize: .*got shape \(20, 24, 3\)"),
        (
            lambda: F.rotate(np.zeros((5, 5)), 10.0),
            ValueError,
            r"rotate: expected an image of shape \(C, H, W\).*got shape \(5, 5\)",
        ),
        # boxes that look like another format
        (
            lambda: T.RandomRotation(10)(_img(), _boxes([[10, 10, 5, 4]])),
            ValueError,
            r"RandomRotation: boxes in format XYXY need x1 <= x2.*box 0 = \[10, 10, 5, 4\]",
        ),
        (
            lambda: T.RandomCrop(10)(_img(), _boxes([[10, 10, -5, 4]], "XYWH")),
            ValueError,
            r"RandomCrop: boxes in format XYWH need a non-negative width",
        ),
        # boxes outside the canvas (e.g. normalised coordinates with a pixel canvas the other way round)
        (
            lambda: T.Resize(10)(_img(), _boxes([[40, 25, 60, 30]])),
            ValueError,
            r"Resize: box 0 .* lies entirely outside its canvas \(height, width\) = \(20, 30\)",
        ),
        (lambda: T.Pad(2)(_img(), _boxes([[1, 1, np.nan, 3]])), ValueError, r"Pad: bounding boxes must be finite"),
        # sizes that disagree within a sample
        (
            lambda: T.RandomResizedCrop(8)(_img(), tvt.Mask(np.zeros((20, 31), np.uint8))),
            ValueError,
            r"RandomResizedCrop: .*share one \(height, width\); got image \(20, 30\), Mask \(20, 31\)",
        ),
        (
            lambda: T.CenterCrop(8)(_img(), _boxes([[1, 1, 4, 4]], canvas=(30, 20))),
            ValueError,
            r"CenterCrop: .*got image \(20, 30\), BoundingBoxes canvas_size \(30, 20\)",
        ),
        # labels that do not match the boxes
        (
            lambda: T.SanitizeBoundingBoxes()(
                (_img(), {"boxes": _boxes([[1, 1, 4, 4], [2, 2, 9, 9]]), "labels": np.array([1, 2, 3])})
            ),
            ValueError,
            r"SanitizeBoundingBoxes: the number of labels must match the number of boxes; "
            r"got 2 boxes and labels of shape \(3,\)",
        ),
        (
            lambda: T.SanitizeBoundingBoxes()((_img(), {"boxes": _boxes([[1, 1, 4, 4]])})),
            ValueError,
            r"SanitizeBoundingBoxes: found no 'labels' key",
        ),
        (
            lambda: T.SanitizeBoundingBoxes(labels_getter=None)(
                (_img(), {"boxes": _boxes([[1, 1, 4, 4]]), "m": tvt.Mask(np.zeros((1, 21, 30)))})
            ),
            ValueError,
            r"SanitizeBoundingBoxes: Mask of size \(21, 30\) does not match the boxes' canvas_size \(20, 30\)",
        ),
        # parameters
        (
            lambda: T.RandomCrop(40)(_img()),
            ValueError,
            r"RandomCrop: crop size \(40, 40\) is larger than the input size \(20, 30\)",
        ),
        (lambda: T.ColorJitter(hue=0.7), ValueError, r"ColorJitter: hue values must be within \(-0.5, 0.5\)"),
        (lambda: T.Normalize([0.5], [0.0]), ValueError, r"Normalize: std must not contain zeros"),
        (
            lambda: T.Normalize([0.5, 0.5, 0.5], [0.2, 0.2, 0.2])(tvt.Image(np.zeros((3, 4, 4), np.uint8))),
            TypeError,
            r"normalize: expected a float image, got dtype uint8",
        ),
        (
            lambda: T.RandomRotation(10, interpolation="bicubic"),
            ValueError,
            r"RandomRotation: interpolation must be one of 'nearest', 'bilinear', got 'bicubic'",
        ),
        (
            lambda: F.pad(_img(), 30, padding_mode="reflect"),
            ValueError,
            r"pad: reflect padding must be smaller than the image side",
        ),
        (
            lambda: F.adjust_hue(tvt.Image(np.zeros((4, 3, 3), np.float32)), 0.1),
            TypeError,
            r"adjust_hue: expected an image with 1 or 3 channels, got 4",
        ),
        (
            lambda: F.rotate(_img(), 10.0, fill=[1.0, 2.0]),
            ValueError,
            r"rotate: fill has 2 values but the image has 3 channels",
        ),
        (
            lambda: F.resize(_img(), [3, 4, 5]),
            ValueError,
            r"resize: size must be an int or a sequence of one or two ints",
        ),
        (lambda: F.crop("not an image", 0, 0, 1, 1), TypeError, r"crop: expected an image .* got str"),
    ],
)
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_valid_samples_pass_the_checks():
    # boxes partly outside the canvas are clamped (as torchvision), degenerate boxes on the border are fine
    sample = (_img(), {"boxes": _boxes([[-5, -5, 10, 10], [30, 0, 30, 20]]), "labels": np.array([1, 2])})
    img, target = T.RandomRotation(10)(sample)
    assert np.asarray(target["boxes"]).min() >= 0 and np.asarray(target["boxes"])[:, 2].max() <= 30
