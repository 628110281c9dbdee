"""deepnotes.models.detection (RetinaNet, FCOS) against torchvision's pure-Python detection modules.

* structure: ``retinanet_resnet50_fpn`` / ``fcos_resnet50_fpn`` have torchvision's parameter counts, keys
  and shapes, and load its state_dict unchanged;
* heads: with the same weights the head outputs are equal (float64);
* losses: ``RetinaNet.compute_loss`` / ``FCOS.compute_loss`` (matching + the heads' ``compute_loss``)
  equal torchvision's to 1e-8 in float64 on images without objects, with many objects, and with objects
  that no anchor (point) matches; their gradients pass deepnotes.autograd.gradcheck;
* postprocessing equals torchvision's ``postprocess_detections`` with torchvision's NMS (its C++ kernel
  does not load here) replaced by the project's ``batched_nms``;
* bad input raises clear errors.
"""

import importlib
import sys
import types

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes.autograd import gradcheck
from deepnotes.detection import AnchorGenerator, batched_nms
from deepnotes.models import detection as D

tv_ret = importlib.import_module("torchvision.models.detection.retinanet")
tv_fcos = importlib.import_module("torchvision.models.detection.fcos")
tv_utils = importlib.import_module("torchvision.models.detection._utils")
tv_box_ops = importlib.import_module("torchvision.ops.boxes")

IMAGE = (64, 64)
GRIDS = [(8, 8), (4, 4), (2, 2)]  # strides 8, 16, 32
C = 32  # head channels (torchvision's FCOS head uses GroupNorm(32))
K = 5  # classes


def _load(ours, theirs):
    ours.to(np.float64)  # first: load_state_dict keeps each parameter's dtype
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _features(seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(3, C) + g) for g in GRIDS]


def _targets(kind, seed, dtype=np.float64):
    """Three images' targets: 'mixed' = no objects / many objects / tiny objects no anchor matches well."""
    rng = np.random.default_rng(seed)
    h, w = IMAGE

    def random_boxes(n, lo, hi):
        wh = rng.uniform(lo, hi, size=(n, 2))
        xy = rng.uniform(0, 1, size=(n, 2)) * (np.array([w, h]) - wh)
        return np.concatenate([xy, xy + wh], axis=1).astype(dtype)

    empty = {"boxes": np.zeros((0, 4), dtype), "labels": np.zeros(0, np.int64)}
    many = {"boxes": random_boxes(14, 6, 50), "labels": rng.integers(0, K, 14)}
    # 1.5-pixel boxes between the FCOS points (centres at 4 + 8k) and far below every anchor's IoU threshold
    tiny_xy = np.array([[9.0, 9.0], [30.0, 17.0], [49.5, 41.0]])
    tiny = {"boxes": np.concatenate([tiny_xy, tiny_xy + 1.5], axis=1).astype(dtype), "labels": np.array([1, 3, 4])}
    tiny["boxes"] = np.concatenate([tiny["boxes"], random_boxes(2, 20, 40)])
    tiny["labels"] = np.concatenate([tiny["labels"], [0, 2]])
    return [empty, many, tiny]


def _torch_targets(targets):
    return [
        {"boxes": torch.from_numpy(t["boxes"]), "labels": torch.from_numpy(np.asarray(t["labels"]))} for t in targets
    ]


def _anchors(gen):
    return gen(GRIDS, IMAGE)


# --------------------------------------------------------------------------------------------- structure
@pytest.mark.slow
@pytest.mark.parametrize(
    "ours, theirs, count",
    [
        (D.retinanet_resnet50_fpn, tv_ret.retinanet_resnet50_fpn, 34_068_119),
        (D.fcos_resnet50_fpn, tv_fcos.fcos_resnet50_fpn, 32_322_720),
    ],
)
def test_resnet50_fpn_models_match_torchvision(ours, theirs, count):
    torch.manual_seed(0)
    tv = theirs(weights=None, weights_backbone=None, num_classes=91)
    m = ours(num_classes=91)
    assert sum(p.numel() for p in m.parameters()) == sum(p.numel() for p in tv.parameters()) == count
    a = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    b = {k: tuple(v.shape) for k, v in tv.state_dict().items()}
    assert a == b
    assert list(a) == list(b)  # same order, so the module trees are the same
    m.load_state_dict({k: v.numpy() for k, v in tv.state_dict().items()})
    key = "head.classification_head.cls_logits.bias"
    np.testing.assert_array_equal(m.state_dict()[key], tv.state_dict()[key].numpy())


def test_small_models_build_and_count():
    r = D.retinanet_small(num_classes=6)
    f = D.fcos_small(num_classes=6)
    nr = sum(p.numel() for p in r.parameters())
    nf = sum(p.numel() for p in f.parameters())
    assert 300_000 < nf < nr < 1_500_000
    # the heads are the only difference: RetinaNet's last convs give 9 anchors x (6 + 4) outputs, FCOS's
    # one point x (6 + 4 + 1); FCOS's two towers add GroupNorm (2 x 64 parameters per conv)
    conv3 = 64 * 9  # weights of a 3x3 conv from 64 channels, per output channel
    retina_last = (conv3 + 1) * 9 * 6 + (conv3 + 1) * 9 * 4
    fcos_last = (conv3 + 1) * (6 + 4 + 1)
    assert nr - nf == retina_last - fcos_last - 2 * 2 * 2 * 64


# --------------------------------------------------------------------------------------------- heads
def _retina_heads(seed=0):
    torch.manual_seed(seed)
    theirs = tv_ret.RetinaNetHead(C, 9, K).double()
    ours = D.RetinaNetHead(C, 9, K)
    _load(ours, theirs)
    return ours, theirs


def _fcos_heads(seed=0):
    torch.manual_seed(seed)
    theirs = tv_fcos.FCOSHead(C, 1, K).double()
    with torch.no_grad():  # GroupNorm affine parameters away from (1, 0), so they matter
        for name, p in theirs.named_parameters():
            if "conv.1." in name or "conv.4." in name:
                p.add_(0.1 * torch.randn_like(p))
    ours = D.FCOSHead(C, 1, K)
    _load(ours, theirs)
    return ours, theirs


@pytest.mark.parametrize("which", ["retinanet", "fcos"])
def test_head_outputs_equal_torchvision(which):
    ours, theirs = _retina_heads() if which == "retinanet" else _fcos_heads()
    feats = _features(1)
    out = ours([dn.Tensor(f) for f in feats])
    ref = theirs([torch.from_numpy(f) for f in feats])
    assert set(out) == set(ref)
    for k in ref:
        np.testing.assert_allclose(out[k].data, ref[k].detach().numpy(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------------- losses
class _NoBackbone(dn.nn.Module):
    """The loss tests feed head outputs directly; the detector only needs a backbone's out_channels."""

    out_channels = C


def _retina_losses(seed, loss_type="l1"):
    ours_head, tv_head = _retina_heads(seed)
    ours_head.regression_head._loss_type = tv_head.regression_head._loss_type = loss_type
    gen = D.retinanet.default_anchorgen((8, 16, 32))
    anchors = _anchors(gen)
    targets = _targets("mixed", seed)
    feats = _features(seed + 10)
    tv_out = tv_head([torch.from_numpy(f) for f in feats])
    tv_self = types.SimpleNamespace(
        proposal_matcher=tv_utils.Matcher(0.5, 0.4, allow_low_quality_matches=True), head=tv_head
    )
    tv_loss = tv_ret.RetinaNet.compute_loss(tv_self, _torch_targets(targets), tv_out, [torch.from_numpy(anchors)] * 3)
    model = D.RetinaNet(_NoBackbone(), K, anchor_generator=gen, head=ours_head)
    outs = {k: dn.Tensor(v.detach().numpy(), requires_grad=True) for k, v in tv_out.items()}
    loss = model.compute_loss(targets, outs, [anchors] * 3)
    return loss, tv_loss, outs, (model, targets, anchors)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_retinanet_loss_equals_torchvision(seed):
    loss, tv_loss, _, (model, targets, anchors) = _retina_losses(seed)
    assert set(loss) == set(tv_loss) == {"classification", "bbox_regression"}
    for k in tv_loss:
        np.testing.assert_allclose(float(loss[k].item()), float(tv_loss[k]), rtol=1e-8, atol=1e-12)
    # the tiny objects of image 2 are matched only through the low-quality rule; image 0 has no foreground
    matched = model.match(targets, [anchors] * 3)
    assert (matched[0] == -1).all()
    ref = tv_utils.Matcher(0.5, 0.4, True)(
        tv_box_ops.box_iou(torch.from_numpy(targets[2]["boxes"]), torch.from_numpy(anchors))
    )
    np.testing.assert_array_equal(matched[2], ref.numpy())


@pytest.mark.parametrize("loss_type", ["smooth_l1", "giou", "diou", "ciou"])
def test_retinanet_other_box_losses_equal_torchvision(loss_type):
    """The regression head's other loss types (RetinaNet v2 uses GIoU on decoded boxes)."""
    loss, tv_loss, _, _ = _retina_losses(5, loss_type)
    np.testing.assert_allclose(float(loss["bbox_regression"].item()), float(tv_loss["bbox_regression"]), rtol=1e-8)


def test_retinanet_loss_gradients():
    _, _, outs, (model, targets, anchors) = _retina_losses(3)
    # a reduced problem keeps central differences cheap: the last level only (4 anchors x 9)
    n = 2 * 2 * 9
    anchors = anchors[-n:]
    targets = [
        targets[0],
        {"boxes": np.array([[34.0, 30.0, 60.0, 62.0], [2.0, 40.0, 30.0, 63.0]]), "labels": np.array([1, 4])},
    ]
    rng = np.random.default_rng(0)
    cls = dn.Tensor(rng.normal(size=(2, n, K)), requires_grad=True)
    reg = dn.Tensor(0.3 * rng.normal(size=(2, n, 4)), requires_grad=True)

    def total(c, r):
        loss = model.compute_loss(targets, {"cls_logits": c, "bbox_regression": r}, [anchors] * 2)
        return loss["classification"] + loss["bbox_regression"]

    assert total(cls, reg).item() > 0
    assert gradcheck(total, (cls, reg), eps=1e-6, atol=1e-6, rtol=1e-5)


def _fcos_losses(seed):
    ours_head, tv_head = _fcos_heads(seed)
    gen = AnchorGenerator(((8,), (16,), (32,)), ((1.0,),) * 3)
    anchors = _anchors(gen)
    per_level = [g[0] * g[1] for g in GRIDS]
    targets = _targets("mixed", seed)
    feats = _features(seed + 20)
    tv_out = tv_head([torch.from_numpy(f) for f in feats])
    tv_self = types.SimpleNamespace(center_sampling_radius=1.5, head=tv_head)
    tv_loss = tv_fcos.FCOS.compute_loss(
        tv_self, _torch_targets(targets), tv_out, [torch.from_numpy(anchors)] * 3, per_level
    )
    model = D.FCOS(_NoBackbone(), K, anchor_generator=gen, head=ours_head)
    outs = {k: dn.Tensor(v.detach().numpy(), requires_grad=True) for k, v in tv_out.items()}
    loss = model.compute_loss(targets, outs, [anchors] * 3, per_level)
    return loss, tv_loss, (model, targets, anchors, per_level)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fcos_loss_equals_torchvision(seed):
    loss, tv_loss, (model, targets, anchors, per_level) = _fcos_losses(seed)
    assert set(loss) == set(tv_loss) == {"classification", "bbox_regression", "bbox_ctrness"}
    for k in tv_loss:
        np.testing.assert_allclose(float(loss[k].item()), float(tv_loss[k]), rtol=1e-8, atol=1e-12)
    matched = model.match(targets, [anchors] * 3, per_level)
    assert (matched[0] == -1).all()
    assert not np.isin([0, 1, 2], matched[2]).any()  # the tiny boxes contain no point: nobody matches them
    assert (matched[1] >= 0).sum() > 10


def test_fcos_loss_gradients():
    _, _, (model, _, _, _) = _fcos_losses(4)
    # the two coarser levels only (4x4 and 2x2 points) keep central differences cheap
    anchors = AnchorGenerator(((16,), (32,)), ((1.0,),) * 2)(GRIDS[1:], IMAGE)
    per_level = [16, 4]
    targets = [
        {"boxes": np.array([[3.0, 5.0, 30.0, 28.0], [20.0, 30.0, 62.0, 60.0]]), "labels": np.array([2, 0])},
        {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, np.int64)},
    ]
    rng = np.random.default_rng(1)
    n = anchors.shape[0]
    cls = dn.Tensor(rng.normal(size=(2, n, K)), requires_grad=True)
    reg = dn.Tensor(rng.uniform(0.5, 2.0, size=(2, n, 4)), requires_grad=True)
    ctr = dn.Tensor(rng.normal(size=(2, n, 1)), requires_grad=True)

    def total(c, r, t):
        outputs = {"cls_logits": c, "bbox_regression": r, "bbox_ctrness": t}
        loss = model.compute_loss(targets, outputs, [anchors] * 2, per_level)
        return loss["classification"] + loss["bbox_regression"] + loss["bbox_ctrness"]

    assert gradcheck(total, (cls, reg, ctr), eps=1e-6, atol=1e-6, rtol=1e-5)


# --------------------------------------------------------------------------------------------- postprocessing
def _torch_batched_nms(boxes, scores, idxs, iou_threshold):
    keep = batched_nms(boxes.detach().numpy(), scores.detach().numpy(), idxs.numpy(), iou_threshold)
    return torch.from_numpy(keep)


def _split(outputs, anchors):
    sizes = [g[0] * g[1] for g in GRIDS]
    a = outputs["cls_logits"].shape[1] // sum(sizes)
    sizes = [s * a for s in sizes]
    bounds = np.cumsum([0] + sizes)
    ours = {k: [v[:, bounds[i] : bounds[i + 1]] for i in range(3)] for k, v in outputs.items()}
    theirs = {k: [torch.from_numpy(x) for x in v] for k, v in ours.items()}
    anc = [anchors[bounds[i] : bounds[i + 1]] for i in range(3)]
    return ours, theirs, anc


@pytest.mark.parametrize("which", ["retinanet", "fcos"])
def test_postprocess_equals_torchvision_with_our_nms(which, monkeypatch):
    monkeypatch.setattr(tv_box_ops, "batched_nms", _torch_batched_nms)
    # the bare torchvision package (tests/conftest.py) lacks the tracing probe that clip_boxes_to_image asks
    monkeypatch.setattr(sys.modules["torchvision"], "_is_tracing", lambda: False, raising=False)
    rng = np.random.default_rng(5)
    if which == "retinanet":
        anchors = _anchors(D.retinanet.default_anchorgen((8, 16, 32)))
        a = 9
        settings = dict(score_thresh=0.05, nms_thresh=0.5, detections_per_img=40, topk_candidates=60)
        tv_self = types.SimpleNamespace(box_coder=tv_utils.BoxCoder((1.0, 1.0, 1.0, 1.0)), **settings)
        ours_self = types.SimpleNamespace(box_coder=D.retinanet.BoxCoder((1.0, 1.0, 1.0, 1.0)), **settings)
        fn, tv_fn = D.RetinaNet.postprocess_detections, tv_ret.RetinaNet.postprocess_detections
    else:
        anchors = _anchors(AnchorGenerator(((8,), (16,), (32,)), ((1.0,),) * 3))
        a = 1
        settings = dict(score_thresh=0.2, nms_thresh=0.6, detections_per_img=30, topk_candidates=50)
        tv_self = types.SimpleNamespace(box_coder=tv_utils.BoxLinearCoder(True), **settings)
        ours_self = types.SimpleNamespace(box_coder=D.BoxLinearCoder(True), **settings)
        fn, tv_fn = D.FCOS.postprocess_detections, tv_fcos.FCOS.postprocess_detections
    for name in ("_select", "_finish_image", "_clip"):
        setattr(ours_self, name, getattr(D.retinanet.OneStageDetector, name).__get__(ours_self))
    n = anchors.shape[0]
    outputs = {
        "cls_logits": rng.normal(-1.5, 1.5, size=(2, n, K)),
        "bbox_regression": (rng.uniform(0.2, 3.0, size=(2, n, 4)) if a == 1 else rng.normal(0, 0.5, size=(2, n, 4))),
    }
    if a == 1:
        outputs["bbox_ctrness"] = rng.normal(0, 1, size=(2, n, 1))
    ours_split, tv_split, anc = _split(outputs, anchors)
    shapes = [(64, 64), (60, 50)]
    got = fn(ours_self, ours_split, [anc, anc], shapes)
    ref = tv_fn(tv_self, tv_split, [[torch.from_numpy(x) for x in anc]] * 2, shapes)
    for g, r in zip(got, ref):
        assert len(r["boxes"]) > 5
        np.testing.assert_allclose(g["boxes"], r["boxes"].numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g["scores"], r["scores"].numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(g["labels"], r["labels"].numpy())


# --------------------------------------------------------------------------------------------- input transform
def test_transform_equals_torchvision(monkeypatch):
    """Normalise, resize (scale min(min_size / short side, max_size / long side), bilinear) and pad to a
    multiple of 32: the batch, the image sizes, the resized boxes and the boxes mapped back."""
    monkeypatch.setattr(sys.modules["torchvision"], "_is_tracing", lambda: False, raising=False)
    tv_transform = importlib.import_module("torchvision.models.detection.transform")
    mean, std = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]
    theirs = tv_transform.GeneralizedRCNNTransform(48, 80, mean, std).double()
    ours = D.GeneralizedRCNNTransform(48, 80, mean, std)
    rng = np.random.default_rng(0)
    images = [rng.uniform(size=(3, 50, 70)), rng.uniform(size=(3, 64, 40)), rng.uniform(size=(3, 48, 48))]
    boxes = [
        np.array([[1.0, 2.0, 30.0, 40.0], [10.0, 5.5, 69.0, 49.0]]),
        np.array([[0.0, 0.0, 40.0, 64.0]]),
        np.zeros((0, 4)),
    ]
    targets = [{"boxes": b, "labels": np.arange(len(b))} for b in boxes]
    for mode in ("train", "eval"):
        getattr(theirs, mode)()
        getattr(ours, mode)()
        ref_list, ref_targets = theirs([torch.from_numpy(i) for i in images], _torch_targets(targets))
        got_list, got_targets = ours([dn.Tensor(i) for i in images], targets)
        assert got_list.image_sizes == [tuple(s) for s in ref_list.image_sizes]
        assert got_list.tensors.shape == tuple(ref_list.tensors.shape)
        np.testing.assert_allclose(got_list.tensors.data, ref_list.tensors.numpy(), rtol=1e-12, atol=1e-12)
        for g, r in zip(got_targets, ref_targets):
            np.testing.assert_allclose(g["boxes"], r["boxes"].numpy(), rtol=1e-12, atol=1e-12)
    dets = [{"boxes": np.array([[3.0, 4.0, 20.0, 30.0]])} for _ in images]
    ref = theirs.postprocess(
        [{"boxes": torch.from_numpy(d["boxes"])} for d in dets], ref_list.image_sizes, [i.shape[-2:] for i in images]
    )
    got = ours.postprocess(dets, got_list.image_sizes, [i.shape[-2:] for i in images])
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g["boxes"], r["boxes"].numpy(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------------- whole models
@pytest.mark.slow
@pytest.mark.parametrize("which", ["retinanet", "fcos"])
def test_whole_model_equals_torchvision(which, monkeypatch):
    """ResNet-18 + FPN (32 channels, P3-P7) detectors with the same weights, in float64: the training
    loss dict and the evaluation detections (torchvision with the project's NMS) agree."""
    monkeypatch.setattr(tv_box_ops, "batched_nms", _torch_batched_nms)
    monkeypatch.setattr(sys.modules["torchvision"], "_is_tracing", lambda: False, raising=False)
    tv_resnet = importlib.import_module("torchvision.models.resnet")
    tv_backbone = importlib.import_module("torchvision.models.detection.backbone_utils")
    tv_fpn = importlib.import_module("torchvision.ops.feature_pyramid_network")
    from deepnotes.models import LastLevelP6P7, resnet18

    layers = {"layer2": "0", "layer3": "1", "layer4": "2"}
    torch.manual_seed(0)
    tv_body = tv_backbone.BackboneWithFPN(
        tv_resnet.resnet18(), layers, [128, 256, 512], 32, tv_fpn.LastLevelP6P7(32, 32)
    )
    body = D.BackboneWithFPN(resnet18(), layers, [128, 256, 512], 32, LastLevelP6P7(32, 32))
    kw = dict(min_size=64, max_size=64, image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.3, 0.25])
    if which == "retinanet":
        theirs = tv_ret.RetinaNet(tv_body, K, score_thresh=0.1, detections_per_img=50, **kw).double()
        ours = D.RetinaNet(body, K, score_thresh=0.1, detections_per_img=50, **kw)
    else:
        theirs = tv_fcos.FCOS(tv_body, K, score_thresh=0.1, detections_per_img=50, **kw).double()
        ours = D.FCOS(body, K, score_thresh=0.1, detections_per_img=50, **kw)
    with torch.no_grad():  # varied class scores instead of the uniform 0.01 prior
        theirs.head.classification_head.cls_logits.bias.normal_(-1.5, 1.0)
    _load(ours, theirs)
    rng = np.random.default_rng(0)
    images = [rng.uniform(size=(3, 64, 64)) for _ in range(2)]
    targets = _targets("mixed", 7)[1:]
    theirs.train()
    ours.train()
    ref = theirs([torch.from_numpy(i) for i in images], _torch_targets(targets))
    got = ours([dn.Tensor(i) for i in images], targets)
    assert set(got) == set(ref)
    for k in ref:
        np.testing.assert_allclose(float(got[k].item()), float(ref[k]), rtol=1e-8)
    theirs.eval()
    ours.eval()
    with torch.no_grad():
        ref = theirs([torch.from_numpy(i) for i in images])
    with dn.no_grad():
        got = ours([dn.Tensor(i) for i in images])
    for g, r in zip(got, ref):
        assert len(r["boxes"]) > 3
        np.testing.assert_allclose(g["boxes"], r["boxes"].numpy(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(g["scores"], r["scores"].numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(g["labels"], r["labels"].numpy())


@pytest.mark.parametrize("which", ["retinanet", "fcos"])
def test_small_model_train_and_eval_modes(which):
    dn.manual_seed(0)
    model = D.retinanet_small(num_classes=6) if which == "retinanet" else D.fcos_small(num_classes=6)
    rng = np.random.default_rng(0)
    images = [rng.uniform(0, 1, size=(3, 128, 128)).astype(np.float32) for _ in range(2)]
    targets = [
        {"boxes": np.array([[10.0, 12.0, 50.0, 40.0]], np.float32), "labels": np.array([3])},
        {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64)},
    ]
    model.train()
    losses = model(images, targets)
    keys = {"classification", "bbox_regression"} | ({"bbox_ctrness"} if which == "fcos" else set())
    assert set(losses) == keys
    total = sum(losses.values())
    total.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    model.eval()
    with dn.no_grad():
        out = model(images)
    assert len(out) == 2 and set(out[0]) == {"boxes", "scores", "labels"}
    assert out[0]["boxes"].shape[1] == 4 and len(out[0]["boxes"]) <= model.detections_per_img


# --------------------------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small():
    dn.manual_seed(0)
    return D.retinanet_small(num_classes=6)


def _img(h=128, w=128, c=3):
    return np.zeros((c, h, w), np.float32)


@pytest.mark.parametrize(
    "targets, match",
    [
        ([], r"got 0 targets for 1 images"),
        ([{"boxes": np.array([[10.0, 10, 140, 50]]), "labels": np.array([1])}], r"lies outside its image of size"),
        ([{"boxes": np.array([[-1.0, 10, 40, 50]]), "labels": np.array([1])}], r"lies outside"),
        ([{"boxes": np.array([[10.0, 10, 40, 50]]), "labels": np.array([6])}], r"label 6, outside \[0, 6\)"),
        ([{"boxes": np.array([[10.0, 10, 10, 50]]), "labels": np.array([1])}], r"positive height and width"),
        ([{"boxes": np.array([[10.0, 10, 40, 50]]), "labels": np.array([1, 2])}], r"1 boxes but 2 labels"),
        ([{"boxes": np.zeros((2, 3)), "labels": np.array([1, 2])}], r"shape \(M, 4\)"),
    ],
)
def test_bad_targets(small, targets, match):
    small.train()
    with pytest.raises(ValueError, match="RetinaNet: .*" + match):
        small([_img()], targets)


def test_bad_images(small):
    small.train()
    with pytest.raises(ValueError, match="targets should be given in training mode"):
        small([_img()])
    small.eval()
    with pytest.raises(ValueError, match="same number of channels"):
        small([_img(), _img(c=1)])
    with pytest.raises(ValueError, match=r"should have shape \(C, H, W\)"):
        small([np.zeros((128, 128), np.float32)])
    with pytest.raises(ValueError, match="non-empty list"):
        small([])


def test_images_of_different_sizes_are_padded_like_torchvision(small):
    """torchvision batches images of different sizes by zero padding (to a multiple of 32); boxes come back
    in each image's own coordinates."""
    small.eval()
    with dn.no_grad():
        out = small([_img(128, 128), _img(96, 112)])
    assert len(out) == 2
    for o, (h, w) in zip(out, [(128, 128), (96, 112)]):
        b = o["boxes"]
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 3] <= h).all()


def test_fcos_rejects_several_anchors_per_location():
    with pytest.raises(ValueError, match="one anchor per location"):
        D.FCOS(D.retinanet_small().backbone, 6, anchor_generator=D.retinanet.default_anchorgen((8, 16, 32, 64, 128)))


def test_matcher_errors():
    with pytest.raises(ValueError, match="low_threshold"):
        D.Matcher(0.4, 0.5)
    with pytest.raises(ValueError, match="no ground-truth boxes"):
        D.Matcher(0.5, 0.4)(np.zeros((0, 5)))


def test_features_from_a_plain_tensor_backbone():
    """A backbone returning one Tensor is one level named '0' (torchvision's rule)."""

    class Body(dn.nn.Module):
        out_channels = 32

        def __init__(self):
            super().__init__()
            self.conv = dn.nn.Conv2d(3, 32, 3, stride=8, padding=1)

        def forward(self, x):
            return self.conv(x)

    model = D.RetinaNet(
        Body(),
        4,
        min_size=64,
        max_size=64,
        anchor_generator=AnchorGenerator(((16, 32),), ((1.0,),)),
        head=D.RetinaNetHead(32, 2, 4, num_convs=1),
    )
    model.eval()
    with dn.no_grad():
        out = model([np.random.default_rng(0).uniform(size=(3, 64, 64)).astype(np.float32)])
    assert isinstance(out, list) and set(out[0]) == {"boxes", "scores", "labels"}


def test_checkpoint_of_the_other_model_is_refused(small):
    """An FCOS state_dict does not load into RetinaNet: the error names the model and the differing keys."""
    with pytest.raises(Exception, match=r"(?s)RetinaNet.*Missing key.*head\.classification_head\.conv\.0\.0\.weight"):
        small.load_state_dict(D.fcos_small(num_classes=6).state_dict())
