"""The typed arrays of deepnotes.data.tv_tensors against torchvision.tv_tensors."""

import pickle

import numpy as np
import pytest
import torch
from torchvision import tv_tensors as tvt

from deepnotes.data import tv_tensors


def test_bounding_boxes_carry_format_and_canvas_like_torchvision():
    data = [[1.0, 2.0, 10.0, 20.0], [0.0, 0.0, 4.0, 4.0]]
    ours = tv_tensors.BoundingBoxes(data, format="xywh", canvas_size=(32, 48))
    ref = tvt.BoundingBoxes(torch.tensor(data), format="XYWH", canvas_size=(32, 48))
    assert ours.format.value == ref.format.value
    assert ours.canvas_size == tuple(ref.canvas_size)
    np.testing.assert_array_equal(ours, ref.numpy())
    sliced = ours[1:]
    assert sliced.format is ours.format and sliced.canvas_size == (32, 48)
    assert type(ours + 1) is np.ndarray  # arithmetic unwraps, as in torchvision


def test_zero_boxes_are_valid():
    empty = tv_tensors.BoundingBoxes(np.zeros((0, 4)), format="XYXY", canvas_size=(8, 8))
    assert empty.shape == (0, 4)
    assert tv_tensors.BoundingBoxes([], format="XYXY", canvas_size=(8, 8)).shape == (0, 4)


def test_wrap_restores_type_and_metadata():
    boxes = tv_tensors.BoundingBoxes([[0, 0, 2, 2]], format="CXCYWH", canvas_size=(4, 5))
    out = tv_tensors.wrap(np.asarray(boxes) * 2, like=boxes, canvas_size=(8, 10))
    assert isinstance(out, tv_tensors.BoundingBoxes)
    assert out.format is tv_tensors.BoundingBoxFormat.CXCYWH and out.canvas_size == (8, 10)
    mask = tv_tensors.Mask(np.zeros((3, 4, 5), bool))
    assert isinstance(tv_tensors.wrap(np.ones((3, 4, 5)), like=mask), tv_tensors.Mask)
    with pytest.raises(TypeError, match="wrap: like must be"):
        tv_tensors.wrap(np.ones(3), like=np.ones(3))


def test_pickle_keeps_box_metadata():
    boxes = tv_tensors.BoundingBoxes([[0, 0, 2, 2]], format="XYWH", canvas_size=(4, 5))
    back = pickle.loads(pickle.dumps(boxes))
    assert isinstance(back, tv_tensors.BoundingBoxes)
    assert back.format is boxes.format and back.canvas_size == (4, 5)
    np.testing.assert_array_equal(back, boxes)
    image = pickle.loads(pickle.dumps(tv_tensors.Image(np.ones((3, 2, 2)))))
    assert isinstance(image, tv_tensors.Image)


def test_image_gains_a_channel_axis_like_torchvision():
    assert tv_tensors.Image(np.zeros((5, 6))).shape == tvt.Image(torch.zeros(5, 6)).shape


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: tv_tensors.BoundingBoxes([[0, 0, 1]], format="XYXY", canvas_size=(2, 2)), r"shape \(N, 4\)"),
        (lambda: tv_tensors.BoundingBoxes([[0, 0, 1, 1]], format="XYZ", canvas_size=(2, 2)), "format must be"),
        (lambda: tv_tensors.BoundingBoxes([[0, 0, 1, 1]], format="XYXY", canvas_size=(2,)), "canvas_size"),
        (lambda: tv_tensors.Mask(np.zeros(3)), r"Mask: expected .* got shape \(3,\)"),
        (lambda: tv_tensors.Image(np.zeros(3)), r"Image: expected .* got shape \(3,\)"),
    ],
)
def test_bad_input_is_a_clear_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()
