"""AnchorGenerator and BoxCoder against torchvision.models.detection's pure-Python implementations."""

import importlib
import math

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes.autograd import gradcheck
from deepnotes.detection import AnchorGenerator, BoxCoder

tv_anchor = importlib.import_module("torchvision.models.detection.anchor_utils")
tv_utils = importlib.import_module("torchvision.models.detection._utils")
tv_image_list = importlib.import_module("torchvision.models.detection.image_list")

CONFIGS = [
    dict(),  # Faster R-CNN defaults
    dict(sizes=((32,), (64,), (128,), (256,), (512,)), aspect_ratios=((0.5, 1.0, 2.0),) * 5),  # FPN
    dict(sizes=((20, 45), (90,)), aspect_ratios=((0.7, 1.3), (0.25, 1.0, 3.0, 4.0))),
    dict(sizes=(16, 40), aspect_ratios=(0.5, 1.0, 2.0)),  # flat spellings
]


# --------------------------------------------------------------------------- AnchorGenerator
@pytest.mark.parametrize("cfg", CONFIGS)
def test_cell_anchors_match_torchvision(cfg):
    ours = AnchorGenerator(**cfg)
    ref = tv_anchor.AnchorGenerator(**cfg)
    assert ours.num_anchors_per_location() == ref.num_anchors_per_location()
    assert len(ours.cell_anchors) == len(ref.cell_anchors)
    for a, b in zip(ours.cell_anchors, ref.cell_anchors):
        np.testing.assert_array_equal(a, b.numpy())


def test_default_is_the_nine_anchor_faster_rcnn_setting():
    gen = AnchorGenerator()
    assert gen.num_anchors_per_location() == [9]
    a = gen.cell_anchors[0]
    w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    np.testing.assert_allclose(np.sqrt(w * h), np.tile([128, 256, 512], 3), rtol=0.01)
    np.testing.assert_allclose(h / w, np.repeat([0.5, 1.0, 2.0], 3), rtol=0.02)
    np.testing.assert_array_equal((a[:, :2] + a[:, 2:]) / 2, 0)


@pytest.mark.parametrize(
    "cfg,feature_shapes,image_size",
    [
        (CONFIGS[0], [(5, 7)], (80, 112)),
        (CONFIGS[1], [(32, 40), (16, 20), (8, 10), (4, 5), (2, 3)], (256, 320)),
        (CONFIGS[2], [(6, 5), (3, 3)], (50, 45)),  # strides from floor division (8, 9), (16, 15)
    ],
)
def test_anchors_for_feature_maps_match_torchvision_forward(cfg, feature_shapes, image_size):
    ours = AnchorGenerator(**cfg)(feature_shapes, image_size)
    images = torch.zeros((2, 3) + image_size, dtype=torch.float64)
    image_list = tv_image_list.ImageList(images, [image_size] * 2)
    feats = [torch.zeros((2, 4) + s, dtype=torch.float64) for s in feature_shapes]
    ref = tv_anchor.AnchorGenerator(**cfg)(image_list, feats)
    assert len(ref) == 2
    np.testing.assert_array_equal(ours, ref[0].numpy())
    # the feature arrays themselves may be passed
    np.testing.assert_array_equal(AnchorGenerator(**cfg)([f.numpy() for f in feats], image_size), ours)


def test_grid_anchors_match_torchvision():
    cfg = CONFIGS[2]
    grids, strides = [(3, 4), (2, 2)], [(7, 9), (20, 13)]
    ref = tv_anchor.AnchorGenerator(**cfg).grid_anchors(grids, [[torch.tensor(a), torch.tensor(b)] for a, b in strides])
    for a, b in zip(AnchorGenerator(**cfg).grid_anchors(grids, strides), ref):
        np.testing.assert_array_equal(a, b.numpy())


def test_anchor_generator_rejects_bad_input():
    with pytest.raises(ValueError, match="AnchorGenerator: got 2 levels of sizes but 1 levels of aspect_ratios"):
        AnchorGenerator(sizes=((32,), (64,)), aspect_ratios=((1.0,),))
    with pytest.raises(ValueError, match="AnchorGenerator: level 0 needs positive sizes"):
        AnchorGenerator(sizes=((0, 32),))
    gen = AnchorGenerator()
    with pytest.raises(ValueError, match="AnchorGenerator.grid_anchors: got 2 grid sizes"):
        gen.grid_anchors([(2, 2), (1, 1)], [(8, 8)])
    with pytest.raises(TypeError, match="AnchorGenerator: expected image_size"):
        gen([(2, 2)], 64)
    with pytest.raises(ValueError, match="AnchorGenerator: feature shapes must be positive"):
        gen([(0, 2)], (64, 64))


# --------------------------------------------------------------------------- BoxCoder
def random_boxes(rng, n, scale=100.0):
    xy = rng.uniform(-scale, scale, (n, 2))
    wh = rng.uniform(1.0, scale, (n, 2))
    return np.concatenate([xy, xy + wh], 1)


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)])
def test_encode_matches_torchvision(rng, weights):
    gt, props = random_boxes(rng, 30), random_boxes(rng, 30)
    ref = tv_utils.BoxCoder(weights).encode_single(torch.tensor(gt), torch.tensor(props)).numpy()
    coder = BoxCoder(weights)
    np.testing.assert_allclose(coder.encode_single(gt, props), ref, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(coder.encode(gt, props), ref, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("weights,clip", [((1.0, 1.0, 1.0, 1.0), math.log(1000 / 16)), ((10.0, 10.0, 5.0, 5.0), 1.5)])
def test_decode_matches_torchvision(rng, weights, clip):
    ref_boxes = random_boxes(rng, 25)
    codes = rng.standard_normal((25, 12)) * 3  # 3 classes' deltas, some beyond the clip
    ref = tv_utils.BoxCoder(weights, clip)
    ours = BoxCoder(weights, clip)
    np.testing.assert_allclose(
        ours.decode_single(codes, ref_boxes),
        ref.decode_single(torch.tensor(codes), torch.tensor(ref_boxes)).numpy(),
        rtol=1e-14,
        atol=1e-12,
    )
    split = [ref_boxes[:10], ref_boxes[10:]]
    np.testing.assert_allclose(
        ours.decode(codes, split),
        ref.decode(torch.tensor(codes), [torch.tensor(b) for b in split]).numpy(),
        rtol=1e-14,
        atol=1e-12,
    )


def test_encode_list_api_matches_torchvision(rng):
    gts = [random_boxes(rng, 4), random_boxes(rng, 0), random_boxes(rng, 3)]
    props = [random_boxes(rng, 4), random_boxes(rng, 0), random_boxes(rng, 3)]
    ref = tv_utils.BoxCoder((1.0, 2.0, 3.0, 4.0)).encode(
        [torch.tensor(g) for g in gts], [torch.tensor(p) for p in props]
    )
    ours = BoxCoder((1.0, 2.0, 3.0, 4.0)).encode(gts, props)
    assert [o.shape for o in ours] == [tuple(r.shape) for r in ref]
    for o, r in zip(ours, ref):
        np.testing.assert_allclose(o, r.numpy(), rtol=1e-14, atol=1e-14)


def test_encode_decode_round_trip(rng):
    gt, props = random_boxes(rng, 50), random_boxes(rng, 50)
    coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
    np.testing.assert_allclose(coder.decode_single(coder.encode_single(gt, props), props), gt, rtol=1e-12, atol=1e-10)


def test_decode_gradient_matches_torch_autograd(rng):
    ref_boxes = random_boxes(rng, 6)
    codes = rng.standard_normal((6, 8))
    codes[0, 2] = 5.0  # clamped: no gradient through dw
    coder = BoxCoder((10.0, 10.0, 5.0, 5.0), 0.5)
    c, b = dn.tensor(codes, requires_grad=True), dn.tensor(ref_boxes, requires_grad=True)
    out = coder.decode_single(c, b)
    g = rng.standard_normal(out.shape)
    out.backward(dn.tensor(g))
    ct = torch.tensor(codes, requires_grad=True)
    bt = torch.tensor(ref_boxes, requires_grad=True)
    tv_utils.BoxCoder((10.0, 10.0, 5.0, 5.0), 0.5).decode_single(ct, bt).backward(torch.tensor(g))
    np.testing.assert_allclose(c.grad, ct.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert gradcheck(
        lambda t: BoxCoder().decode_single(t, ref_boxes[:3]),
        [dn.tensor(rng.standard_normal((3, 4)) * 0.5, requires_grad=True)],
    )


def test_encode_gradient_matches_torch_autograd(rng):
    gt, props = random_boxes(rng, 5), random_boxes(rng, 5)
    g_t, p_t = dn.tensor(gt, requires_grad=True), dn.tensor(props, requires_grad=True)
    BoxCoder((2.0, 2.0, 1.0, 1.0)).encode_single(g_t, p_t).sum().backward()
    gr, pr = torch.tensor(gt, requires_grad=True), torch.tensor(props, requires_grad=True)
    tv_utils.BoxCoder((2.0, 2.0, 1.0, 1.0)).encode_single(gr, pr).sum().backward()
    np.testing.assert_allclose(g_t.grad, gr.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(p_t.grad, pr.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_box_coder_rejects_bad_input():
    with pytest.raises(ValueError, match="BoxCoder: weights must have 4 entries"):
        BoxCoder((1.0, 1.0))
    coder = BoxCoder()
    with pytest.raises(ValueError, match=r"BoxCoder.encode_single: expected proposals of shape \(N, 4\)"):
        coder.encode_single(np.zeros((2, 4)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="BoxCoder.encode_single: reference_boxes .* same number of rows"):
        coder.encode_single(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"BoxCoder.decode_single: expected rel_codes of shape \(N, 4 \* k\)"):
        coder.decode_single(np.zeros((2, 6)), np.zeros((2, 4)))
    with pytest.raises(TypeError, match="BoxCoder.encode: pass reference_boxes and proposals both"):
        coder.encode([np.zeros((1, 4))], np.zeros((1, 4)))
