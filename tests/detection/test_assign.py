"""YOLOv5 target assignment against a torch transcription of the published build_targets algorithm."""

import numpy as np
import pytest
import torch

from deepnotes.detection import assign_yolov5

# YOLOv5 (P3/8, P4/16, P5/32) anchors in pixels
ANCHORS_PX = [
    np.array([[10, 13], [16, 30], [33, 23]], dtype=np.float64),
    np.array([[30, 61], [62, 45], [59, 119]], dtype=np.float64),
    np.array([[116, 90], [156, 198], [373, 326]], dtype=np.float64),
]
STRIDES = [8, 16, 32]


def yolov5_build_targets(targets, anchors, shapes, anchor_t=4.0, g=0.5):
    """build_targets of YOLOv5's ComputeLoss, in torch, from the published algorithm (float64)."""
    na, nt = anchors[0].shape[0], targets.shape[0]
    tcls, tbox, indices, anch = [], [], [], []
    gain = torch.ones(7, dtype=torch.float64)
    ai = torch.arange(na, dtype=torch.float64).view(na, 1).repeat(1, nt)
    targets = torch.cat((targets.repeat(na, 1, 1), ai[..., None]), 2)  # (na, nt, 7)
    off = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=torch.float64) * g
    for a_wh, (ny, nx) in zip(anchors, shapes):
        gain[2:6] = torch.tensor([nx, ny, nx, ny], dtype=torch.float64)
        t = targets * gain
        if nt:
            r = t[..., 4:6] / a_wh[:, None]
            j = torch.max(r, 1 / r).max(2)[0] < anchor_t
            t = t[j]
            gxy = t[:, 2:4]
            gxi = gain[[2, 3]] - gxy
            j, k = ((gxy % 1 < g) & (gxy > 1)).T
            l, m = ((gxi % 1 < g) & (gxi > 1)).T
            j = torch.stack((torch.ones_like(j), j, k, l, m))
            t = t.repeat((5, 1, 1))[j]
            offsets = (torch.zeros_like(gxy)[None] + off[:, None])[j]
        else:
            t = targets[0]
            offsets = 0
        bc, gxy, gwh, a = t.chunk(4, 1)
        a, (b, c) = a.long().view(-1), bc.long().T
        gij = (gxy - offsets).long()
        gi, gj = gij.T
        indices.append((b, a, gj.clamp_(0, ny - 1), gi.clamp_(0, nx - 1)))
        tbox.append(torch.cat((gxy - gij, gwh), 1))
        anch.append(a_wh[a])
        tcls.append(c)
    return tcls, tbox, indices, anch


def random_targets(rng, n, n_images=3, n_classes=5):
    xy = rng.uniform(0, 1, (n, 2))
    wh = np.exp(rng.uniform(np.log(0.005), np.log(0.8), (n, 2)))
    xy[:4] = [[0.001, 0.002], [0.999, 0.5], [0.5, 0.9995], [0.0125, 0.0126]]  # border cells
    return np.concatenate([rng.integers(0, n_images, (n, 1)), rng.integers(0, n_classes, (n, 1)), xy, wh], 1)


def compare(ours, ref):
    for lvl in range(len(ref[0])):
        np.testing.assert_array_equal(ours[0][lvl], ref[0][lvl].numpy())
        np.testing.assert_allclose(ours[1][lvl], ref[1][lvl].numpy(), rtol=0, atol=1e-15)
        for a, b in zip(ours[2][lvl], ref[2][lvl]):
            np.testing.assert_array_equal(a, b.numpy())
        np.testing.assert_array_equal(ours[3][lvl], ref[3][lvl].numpy())


@pytest.mark.parametrize("image_size", [(640, 640), (384, 512)])
@pytest.mark.parametrize("anchor_t,g", [(4.0, 0.5), (2.9, 0.5), (4.0, 0.3)])
def test_assign_matches_yolov5_build_targets(rng, image_size, anchor_t, g):
    targets = random_targets(rng, 40)
    anchors = [a / s for a, s in zip(ANCHORS_PX, STRIDES)]
    shapes = [(image_size[0] // s, image_size[1] // s) for s in STRIDES]
    ours = assign_yolov5(targets, anchors, shapes, anchor_t=anchor_t, g=g)
    ref = yolov5_build_targets(
        torch.tensor(targets), [torch.tensor(a) for a in anchors], shapes, anchor_t=anchor_t, g=g
    )
    assert sum(len(c) for c in ours[0]) > 40  # neighbours were added
    compare(ours, ref)
    # strides + image size is the same request
    compare(assign_yolov5(targets, anchors, STRIDES, anchor_t=anchor_t, g=g, image_size=image_size), ref)


def test_assign_with_no_targets():
    anchors = [a / s for a, s in zip(ANCHORS_PX, STRIDES)]
    shapes = [(80, 80), (40, 40), (20, 20)]
    ours = assign_yolov5(np.zeros((0, 6)), anchors, shapes)
    ref = yolov5_build_targets(torch.zeros((0, 6), dtype=torch.float64), [torch.tensor(a) for a in anchors], shapes)
    compare(ours, ref)
    assert all(len(c) == 0 for c in ours[0]) and ours[1][0].shape == (0, 4)


def test_assignment_properties(rng):
    """Every positive is the centre cell or one of its two nearer neighbours, with the wh ratio < 4."""
    targets = random_targets(rng, 60)
    anchors = [a / s for a, s in zip(ANCHORS_PX, STRIDES)]
    shapes = [(80, 80), (40, 40), (20, 20)]
    tcls, tbox, indices, anch = assign_yolov5(targets, anchors, shapes)
    for lvl, (ny, nx) in enumerate(shapes):
        b, a, gj, gi = indices[lvl]
        xy, wh = tbox[lvl][:, :2], tbox[lvl][:, 2:]
        assert np.all((xy > -0.5 - 1e-12) & (xy < 1.5 + 1e-12))
        r = wh / anch[lvl]
        assert np.all(np.maximum(r, 1 / r).max(1) < 4.0)
        assert np.all((gj >= 0) & (gj < ny) & (gi >= 0) & (gi < nx))


def test_assign_rejects_bad_input():
    anchors = [np.array([[1.0, 2.0]])]
    with pytest.raises(ValueError, match=r"assign_yolov5: expected targets of shape \(n, 6\)"):
        assign_yolov5(np.zeros((3, 5)), anchors, [(8, 8)])
    with pytest.raises(ValueError, match="assign_yolov5: got 2 feature shapes/strides for 1 anchor levels"):
        assign_yolov5(np.zeros((0, 6)), anchors, [(8, 8), (4, 4)])
    with pytest.raises(ValueError, match="assign_yolov5: strides were given .* pass image_size"):
        assign_yolov5(np.zeros((0, 6)), anchors, [8])
    with pytest.raises(ValueError, match=r"assign_yolov5: anchors\[0\] must have shape \(na, 2\)"):
        assign_yolov5(np.zeros((0, 6)), [np.zeros((2, 3))], [(8, 8)])
    with pytest.raises(ValueError, match=r"assign_yolov5: anchors\[0\] must be positive"):
        assign_yolov5(np.zeros((0, 6)), [np.array([[0.0, 1.0]])], [(8, 8)])
    with pytest.raises(ValueError, match="assign_yolov5: targets must be finite"):
        assign_yolov5(np.full((1, 6), np.nan), anchors, [(8, 8)])
