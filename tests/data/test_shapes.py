"""deepnotes.data.datasets.Shapes: determinism, tight boxes of the visible masks (checked against
torchvision.ops.masks_to_boxes), COCO size classes, the COCO export (read by pycocotools and by the
project's evaluator, RLE decoded by pycocotools.mask) and DataLoader batching."""

import contextlib
import importlib
import io

import numpy as np
import pytest
import torch

from deepnotes.data import DataLoader, Shapes, detection_collate, tv_tensors
from deepnotes.detection.coco import COCO, COCOeval

tv_boxes = importlib.import_module("torchvision.ops.boxes")
pc_coco = importlib.import_module("pycocotools.coco")
pc_eval = importlib.import_module("pycocotools.cocoeval")
pc_mask = importlib.import_module("pycocotools.mask")


def test_sample_layout():
    ds = Shapes(num_images=5, seed=3)
    image, target = ds[2]
    assert isinstance(image, tv_tensors.Image) and image.shape == (3, 128, 128) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    boxes = target["boxes"]
    assert isinstance(boxes, tv_tensors.BoundingBoxes)
    assert boxes.format == tv_tensors.BoundingBoxFormat.XYXY and boxes.canvas_size == (128, 128)
    n = len(boxes)
    assert 1 <= n <= 8
    assert target["labels"].dtype == np.int64 and target["labels"].shape == (n,)
    assert set(target["labels"].tolist()) <= {1, 2, 3, 4, 5}
    assert isinstance(target["masks"], tv_tensors.Mask) and target["masks"].shape == (n, 128, 128)
    assert target["masks"].dtype == bool
    assert target["iscrowd"].tolist() == [0] * n
    assert target["image_id"] == 2
    np.testing.assert_array_equal(target["area"], target["masks"].reshape(n, -1).sum(axis=1))


def test_deterministic_and_order_free():
    a = Shapes(num_images=6, seed=11)
    b = Shapes(num_images=6, seed=11)
    for i in (5, 0, 3):  # any access order gives the same sample
        ia, ta = a[i]
        ib, tb = b[i]
        np.testing.assert_array_equal(ia, ib)
        for key in ("boxes", "labels", "masks", "area"):
            np.testing.assert_array_equal(ta[key], tb[key])
    np.testing.assert_array_equal(a[-1][0], a[5][0])
    other = Shapes(num_images=6, seed=12)
    assert not np.array_equal(a[0][0], other[0][0])
    assert not np.array_equal(a[0][0], a[1][0])


def test_boxes_are_tight_boxes_of_visible_masks():
    ds = Shapes(num_images=30, seed=5, image_size=(96, 112))
    for i in range(len(ds)):
        _, t = ds[i]
        masks = np.asarray(t["masks"])
        assert masks.shape[1:] == (96, 112)
        assert masks.reshape(len(masks), -1).any(axis=1).all()  # every annotated object can be seen
        # visible masks of one image never share a pixel
        assert (masks.sum(axis=0) <= 1).all()
        # torchvision gives the max pixel index; the pixel-edge box adds one on the far side
        ref = tv_boxes.masks_to_boxes(torch.from_numpy(masks)).numpy()
        ref[:, 2:] += 1
        np.testing.assert_array_equal(np.asarray(t["boxes"]), ref)
        assert (np.asarray(t["boxes"])[:, 2:] > np.asarray(t["boxes"])[:, :2]).all()


def test_size_classes_cover_small_medium_large():
    ds = Shapes(num_images=120, seed=0)
    targets = [ds[i][1] for i in range(len(ds))]
    areas = np.concatenate([t["area"] for t in targets])
    small = (areas < 32**2).mean()
    large = (areas >= 96**2).mean()
    medium = 1 - small - large
    assert small > 0.25 and medium > 0.25 and large > 0.01, (small, medium, large)
    counts = np.bincount(np.concatenate([t["labels"] for t in targets]), minlength=6)
    assert counts[0] == 0 and (counts[1:] > 0.12 * counts.sum()).all()  # all five classes, roughly even


def test_to_coco_loads_in_pycocotools_and_our_evaluator(tmp_path):
    ds = Shapes(num_images=12, seed=7)
    path = ds.to_coco(tmp_path / "gt.json")
    with contextlib.redirect_stdout(io.StringIO()):
        gt_pc = pc_coco.COCO(str(path))
    gt_dn = COCO(str(path))
    assert sorted(gt_pc.getImgIds()) == list(range(12)) == sorted(gt_dn.getImgIds())
    assert [c["name"] for c in gt_pc.loadCats(gt_pc.getCatIds())] == list(Shapes.classes)
    # every annotation matches the sample: box, label, area, and the RLE decodes to the mask
    for i in range(12):
        _, t = ds[i]
        anns = gt_pc.loadAnns(gt_pc.getAnnIds(imgIds=[i]))
        assert [a["category_id"] for a in anns] == t["labels"].tolist()
        xywh = np.array([a["bbox"] for a in anns])
        b = np.asarray(t["boxes"])
        np.testing.assert_array_equal(xywh, np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1))
        for a, m in zip(anns, np.asarray(t["masks"])):
            rle = pc_mask.frPyObjects(a["segmentation"], 128, 128)
            np.testing.assert_array_equal(pc_mask.decode(rle).astype(bool), m)
            assert a["area"] == m.sum() == pc_mask.area(rle)
    # the ground truth scored as perfect detections: AP 1 in both evaluators, the same 12 numbers
    dets = [
        dict(image_id=a["image_id"], category_id=a["category_id"], bbox=a["bbox"], score=0.9)
        for a in gt_pc.anns.values()
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        ev = pc_eval.COCOeval(gt_pc, gt_pc.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        ours = COCOeval(gt_dn, gt_dn.loadRes(dets), "bbox")
        ours.evaluate()
        ours.accumulate()
        ours.summarize()
    np.testing.assert_allclose(ours.stats, ev.stats, atol=1e-12)
    assert ev.stats[0] == pytest.approx(1.0) and ev.stats[1] == pytest.approx(1.0)


def test_dataloader_with_detection_collate():
    ds = Shapes(num_images=7, seed=1)
    loader = DataLoader(ds, batch_size=3, collate_fn=detection_collate)
    batches = list(loader)
    assert [len(b[0]) for b in batches] == [3, 3, 1]
    images, targets = batches[1]
    assert isinstance(images, tuple) and isinstance(targets, tuple)
    np.testing.assert_array_equal(images[0], ds[3][0])
    assert [t["image_id"] for t in targets] == [3, 4, 5]
    np.testing.assert_array_equal(targets[2]["boxes"], ds[5][1]["boxes"])
    with pytest.raises(ValueError, match="detection_collate"):
        detection_collate([])
    with pytest.raises(ValueError, match="sample 0"):
        detection_collate([ds[0][0]])


def test_transforms_receive_image_and_target():
    calls = []

    def flip(image, target):
        calls.append(target["image_id"])
        w = image.shape[-1]
        boxes = np.asarray(target["boxes"]).copy()
        boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
        target = dict(target, boxes=tv_tensors.wrap(boxes, like=target["boxes"]))
        return image[..., ::-1], target

    plain = Shapes(num_images=3, seed=4)
    flipped = Shapes(num_images=3, seed=4, transforms=flip)
    image, target = flipped[1]
    assert calls == [1]
    np.testing.assert_array_equal(image, plain[1][0][..., ::-1])
    ref = tv_boxes.masks_to_boxes(torch.from_numpy(np.ascontiguousarray(plain[1][1]["masks"][..., ::-1]))).numpy()
    ref[:, 2:] += 1
    np.testing.assert_array_equal(np.asarray(target["boxes"]), ref)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 16}, "image_size must be an int >= 32"),
        ({"min_objects": 3, "max_objects": 2}, "max_objects"),
        ({"seed": -1}, "seed"),
        ({"transforms": 3}, "transforms should be callable"),
        ({"noise": (0.2, 0.1)}, "noise"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Shapes(num_images=2, **kwargs)


def test_bad_index():
    ds = Shapes(num_images=2)
    with pytest.raises(IndexError, match="index 2 is out of range for 2 images"):
        ds[2]
    with pytest.raises(TypeError, match="index must be an int"):
        ds[0.5]


@pytest.mark.parametrize("size_weights, image_size", [((0, 0, 1), 48), ((0, 1, 1), 64)])
def test_every_image_has_an_object(size_weights, image_size):
    """Large rings around a small canvas can miss it entirely; such scenes are redrawn."""
    ds = Shapes(num_images=60, image_size=image_size, max_objects=2, size_weights=size_weights)
    for i in range(len(ds)):
        _, labels, masks = ds.generate(i)
        assert len(labels) >= 1 and masks.reshape(len(labels), -1).any(axis=1).all()


def test_bad_size_weights():
    with pytest.raises(ValueError, match="size_weights must be three non-negative numbers"):
        Shapes(num_images=2, size_weights=(1, -1, 0))
