"""Box utilities against torchvision's pure-Python box ops (float64) and shapely polygon areas."""

import importlib
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box as sbox

import deepnotes as dn
from deepnotes.autograd import gradcheck
from deepnotes.detection import (
    box_area,
    box_convert,
    box_iou,
    clip_boxes_to_image,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
    remove_small_boxes,
)

tvb = importlib.import_module("torchvision.ops.boxes")

FORMATS = ["xyxy", "xywh", "cxcywh"]
PAIRWISE = [
    (box_iou, tvb.box_iou),
    (generalized_box_iou, tvb.generalized_box_iou),
    (distance_box_iou, tvb.distance_box_iou),
    (complete_box_iou, tvb.complete_box_iou),
]


def random_boxes(rng, n, lead=(), scale=50.0):
    xy = rng.uniform(-scale, scale, lead + (n, 2))
    wh = rng.uniform(0.5, scale, lead + (n, 2))
    return np.concatenate([xy, xy + wh], axis=-1)


def T(a):
    return torch.tensor(a, dtype=torch.float64)


# --------------------------------------------------------------------------- conversion and area
@pytest.mark.parametrize("in_fmt", FORMATS)
@pytest.mark.parametrize("out_fmt", FORMATS)
def test_box_convert_matches_torchvision(rng, in_fmt, out_fmt):
    xyxy = random_boxes(rng, 20)
    src = tvb.box_convert(T(xyxy), "xyxy", in_fmt).numpy()
    ours = box_convert(src, in_fmt, out_fmt)
    ref = tvb.box_convert(T(src), in_fmt, out_fmt).numpy()
    np.testing.assert_array_equal(ours, ref)
    back = box_convert(ours, out_fmt, in_fmt)
    np.testing.assert_allclose(back, src, rtol=0, atol=1e-12)


def test_box_convert_tensor_gradient_matches_torch(rng):
    src = random_boxes(rng, 6)
    cot = rng.standard_normal((6, 4))
    for in_fmt, out_fmt in [("cxcywh", "xyxy"), ("xyxy", "cxcywh"), ("xywh", "cxcywh")]:
        s_in = tvb.box_convert(T(src), "xyxy", in_fmt).numpy()
        x = dn.tensor(s_in, requires_grad=True)
        box_convert(x, in_fmt, out_fmt).backward(dn.tensor(cot))
        xt = T(s_in).requires_grad_(True)
        tvb.box_convert(xt, in_fmt, out_fmt).backward(T(cot))
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("fmt", FORMATS)
def test_box_area_matches_torchvision_and_shapely(rng, fmt):
    xyxy = random_boxes(rng, 30)
    boxes = tvb.box_convert(T(xyxy), "xyxy", fmt).numpy()
    ours = box_area(boxes, fmt=fmt)
    np.testing.assert_allclose(ours, tvb.box_area(T(boxes), fmt=fmt).numpy(), rtol=1e-15, atol=0)
    shapely_area = np.array([sbox(*b).area for b in xyxy])
    np.testing.assert_allclose(ours, shapely_area, rtol=1e-12)


def test_box_area_batched_and_integer(rng):
    b = random_boxes(rng, 5, lead=(3,))
    np.testing.assert_allclose(box_area(b), tvb.box_area(T(b)).numpy(), rtol=1e-15)
    ib = np.array([[0, 0, 3, 4], [1, 1, 1, 5]])
    out = box_area(ib)
    assert out.dtype.kind == "i"
    np.testing.assert_array_equal(out, [12, 0])


# --------------------------------------------------------------------------- IoU family
@pytest.mark.parametrize("ours,ref", PAIRWISE, ids=lambda f: getattr(f, "__name__", ""))
def test_pairwise_matches_torchvision(rng, ours, ref):
    b1 = random_boxes(rng, 17)
    b2 = np.concatenate([random_boxes(rng, 12), b1[:3]])  # identical boxes included
    np.testing.assert_allclose(ours(b1, b2), ref(T(b1), T(b2)).numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("ours,ref", PAIRWISE, ids=lambda f: getattr(f, "__name__", ""))
def test_pairwise_batched(rng, ours, ref):
    b1 = random_boxes(rng, 4, lead=(2,))
    b2 = random_boxes(rng, 5, lead=(2,))
    out = ours(b1, b2)
    assert out.shape == (2, 4, 5)
    np.testing.assert_allclose(out, ref(T(b1), T(b2)).numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fmt", FORMATS)
def test_box_iou_formats(rng, fmt):
    b1, b2 = random_boxes(rng, 6), random_boxes(rng, 7)
    c1 = tvb.box_convert(T(b1), "xyxy", fmt)
    c2 = tvb.box_convert(T(b2), "xyxy", fmt)
    np.testing.assert_allclose(
        box_iou(c1.numpy(), c2.numpy(), fmt=fmt), tvb.box_iou(c1, c2, fmt=fmt).numpy(), rtol=1e-12, atol=1e-15
    )


def test_iou_and_giou_against_shapely(rng):
    b1, b2 = random_boxes(rng, 9, scale=10), random_boxes(rng, 8, scale=10)
    iou = box_iou(b1, b2)
    giou = generalized_box_iou(b1, b2)
    for i, p in enumerate(b1):
        for j, q in enumerate(b2):
            P, Q = sbox(*p), sbox(*q)
            inter = P.intersection(Q).area
            union = P.union(Q).area
            hull = sbox(*P.union(Q).bounds).area
            assert iou[i, j] == pytest.approx(inter / union, rel=1e-11, abs=1e-13)
            assert giou[i, j] == pytest.approx(inter / union - (hull - union) / hull, rel=1e-11, abs=1e-13)


def test_diou_ciou_definitions(rng):
    """DIoU = IoU - d^2 / c^2 and CIoU = DIoU - alpha v, recomputed from shapely geometry."""
    b1, b2 = random_boxes(rng, 5, scale=10), random_boxes(rng, 6, scale=10)
    diou = distance_box_iou(b1, b2, eps=0.0)
    ciou = complete_box_iou(b1, b2, eps=0.0)
    for i, p in enumerate(b1):
        for j, q in enumerate(b2):
            P, Q = sbox(*p), sbox(*q)
            iou = P.intersection(Q).area / P.union(Q).area
            x0, y0, x1, y1 = P.union(Q).bounds
            d2 = P.centroid.distance(Q.centroid) ** 2
            c2 = (x1 - x0) ** 2 + (y1 - y0) ** 2
            v = (
                4
                / np.pi**2
                * (np.arctan((p[2] - p[0]) / (p[3] - p[1])) - np.arctan((q[2] - q[0]) / (q[3] - q[1]))) ** 2
            )
            alpha = v / (1 - iou + v)
            assert diou[i, j] == pytest.approx(iou - d2 / c2, rel=1e-10, abs=1e-12)
            assert ciou[i, j] == pytest.approx(iou - d2 / c2 - alpha * v, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("ours,ref", PAIRWISE, ids=lambda f: getattr(f, "__name__", ""))
def test_pairwise_gradients_match_torch_autograd(rng, ours, ref):
    b1 = random_boxes(rng, 5, scale=5)
    b2 = random_boxes(rng, 4, scale=5)
    cot = rng.standard_normal((5, 4))
    x1, x2 = dn.tensor(b1, requires_grad=True), dn.tensor(b2, requires_grad=True)
    out = ours(x1, x2)
    assert isinstance(out, dn.Tensor)
    out.backward(dn.tensor(cot))
    t1, t2 = T(b1).requires_grad_(True), T(b2).requires_grad_(True)
    ref(t1, t2).backward(T(cot))
    np.testing.assert_allclose(out.data, ours(b1, b2), rtol=0, atol=0)
    np.testing.assert_allclose(x1.grad, t1.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x2.grad, t2.grad.numpy(), rtol=1e-10, atol=1e-12)


# complete_box_iou is left out on purpose: its alpha is a constant in the backward pass (torchvision's
# no_grad), so its gradient is not the numerical derivative; torch autograd covers it above.
@pytest.mark.parametrize("ours", [p[0] for p in PAIRWISE[:3]], ids=lambda f: f.__name__)
def test_pairwise_gradcheck(rng, ours):
    b1 = dn.tensor(random_boxes(rng, 3, scale=3), requires_grad=True)
    b2 = dn.tensor(random_boxes(rng, 2, scale=3), requires_grad=True)
    assert gradcheck(ours, [b1, b2])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(*[st.integers(0, 6)] * 4), min_size=1, max_size=5),
    st.lists(st.tuples(*[st.integers(0, 6)] * 4), min_size=1, max_size=5),
)
def test_integer_boxes_with_ties_and_degenerate_sides(a, b):
    """Coordinates on a small integer grid: many ties in max/min and zero-width boxes.
    Values (NaN for 0/0 included) and torch's tie-splitting gradients must both agree."""

    def fix(rows):
        r = np.array(rows, dtype=np.float64)
        return np.stack(
            [
                np.minimum(r[:, 0], r[:, 2]),
                np.minimum(r[:, 1], r[:, 3]),
                np.maximum(r[:, 0], r[:, 2]),
                np.maximum(r[:, 1], r[:, 3]),
            ],
            1,
        )

    b1, b2 = fix(a), fix(b)
    for ours, ref in PAIRWISE[:2]:
        x1, x2 = dn.tensor(b1, requires_grad=True), dn.tensor(b2, requires_grad=True)
        out = ours(x1, x2)
        t1, t2 = T(b1).requires_grad_(True), T(b2).requires_grad_(True)
        r = ref(t1, t2)
        np.testing.assert_allclose(out.data, r.detach().numpy(), rtol=1e-12, atol=1e-14, equal_nan=True)
        out.sum().backward()
        r.sum().backward()
        np.testing.assert_allclose(x1.grad, t1.grad.numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(x2.grad, t2.grad.numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)


def test_empty_inputs():
    e = np.zeros((0, 4))
    b = np.array([[0.0, 0, 1, 1]])
    for fn, _ in PAIRWISE:
        assert fn(e, b).shape == (0, 1)
        assert fn(b, e).shape == (1, 0)
        assert fn(e, e).shape == (0, 0)
    assert box_area(e).shape == (0,)
    assert box_convert(e, "xyxy", "cxcywh").shape == (0, 4)
    assert clip_boxes_to_image(e, (5, 5)).shape == (0, 4)
    assert remove_small_boxes(e, 1.0).shape == (0,)


# --------------------------------------------------------------------------- clip and filter
def test_clip_boxes_to_image_matches_torchvision(rng, monkeypatch):
    # torchvision/__init__.py (not run under the bare-module loader) would define _is_tracing
    monkeypatch.setattr(sys.modules["torchvision"], "_is_tracing", lambda: False, raising=False)
    b = random_boxes(rng, 25, scale=40)
    ours = clip_boxes_to_image(b, (30, 20))
    np.testing.assert_array_equal(ours, tvb.clip_boxes_to_image(T(b), (30, 20)).numpy())
    x = dn.tensor(b, requires_grad=True)
    out = clip_boxes_to_image(x, (30, 20))
    out.sum().backward()
    t = T(b).requires_grad_(True)
    tvb.clip_boxes_to_image(t, (30, 20)).sum().backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


def test_remove_small_boxes_matches_torchvision(rng):
    b = random_boxes(rng, 40, scale=10)
    for m in [0.5, 3.0, 7.5]:
        np.testing.assert_array_equal(remove_small_boxes(b, m), tvb.remove_small_boxes(T(b), m).numpy())


# --------------------------------------------------------------------------- bad input
def test_rejects_inverted_boxes_naming_function_and_row():
    good = np.array([[0.0, 0, 2, 2], [1, 1, 3, 3]])
    bad = np.array([[0.0, 0, 2, 2], [1, 1, 3, 3], [5, 0, 4, 1]])
    with pytest.raises(ValueError, match=r"box_iou: boxes2\[2\] = \[5\.0, 0\.0, 4\.0, 1\.0\] has x2 < x1"):
        box_iou(good, bad)
    with pytest.raises(ValueError, match=r"generalized_box_iou: boxes1\[2\]"):
        generalized_box_iou(bad, good)
    with pytest.raises(ValueError, match=r"box_area: boxes\[\(1, 0\)\]"):
        box_area(np.array([[[0.0, 0, 1, 1]], [[0, 3, 1, 2]]]))
    with pytest.raises(ValueError, match="box_convert: .*negative width or height"):
        box_convert(np.array([[0.0, 0, -1, 1]]), "xywh", "xyxy")
    with pytest.raises(ValueError, match="clip_boxes_to_image: .*x2 < x1"):
        clip_boxes_to_image(bad, (4, 4))
    with pytest.raises(ValueError, match="complete_box_iou: .*NaN"):
        complete_box_iou(np.array([[0.0, np.nan, 1, 1]]), good)


def test_rejects_bad_shapes_formats_and_types():
    with pytest.raises(ValueError, match=r"box_area: expected boxes of shape \(\.\.\., 4\), got shape \(3, 5\)"):
        box_area(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"box_iou: expected boxes1 of shape \(N, 4\), got shape \(4,\)"):
        box_iou(np.zeros(4), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="box_convert: unknown box format in_fmt='xyhw'"):
        box_convert(np.zeros((1, 4)), "xyhw", "xyxy")
    with pytest.raises(ValueError, match="box_iou: unknown box format fmt='polar'"):
        box_iou(np.zeros((1, 4)), np.zeros((1, 4)), fmt="polar")
    with pytest.raises(TypeError, match="box_area: expected boxes with a numeric dtype"):
        box_area(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(ValueError, match="remove_small_boxes: expected boxes of shape \\(N, 4\\)"):
        remove_small_boxes(np.zeros((2, 1, 4)), 1.0)
    with pytest.raises(TypeError, match="clip_boxes_to_image: size must be"):
        clip_boxes_to_image(np.zeros((1, 4)), 5)


def test_tensor_inputs_give_tensors_and_area_gradient(rng):
    b = random_boxes(rng, 4)
    x = dn.tensor(b, requires_grad=True)
    area = box_area(x)
    assert isinstance(area, dn.Tensor) and not isinstance(box_area(b), dn.Tensor)
    area.sum().backward()
    t = T(b).requires_grad_(True)
    tvb.box_area(t).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-15)
    keep = remove_small_boxes(dn.tensor(b), 10.0)
    assert isinstance(keep, dn.Tensor)
    np.testing.assert_array_equal(keep.data, remove_small_boxes(b, 10.0))


# --------------------------------------------------------------------------- single boxes (4,)
def _public_box_functions():
    from deepnotes.detection import (
        batched_nms,
        complete_box_iou_loss,
        diou_nms,
        distance_box_iou_loss,
        generalized_box_iou_loss,
        merge_nms,
        nms,
        soft_nms,
        weighted_box_voting,
    )

    one = np.ones(1)
    return {
        "box_convert": (lambda b: box_convert(b, "xyxy", "cxcywh"), False),
        "box_area": (box_area, False),
        "clip_boxes_to_image": (lambda b: clip_boxes_to_image(b, (4, 4)), False),
        "generalized_box_iou_loss": (lambda b: generalized_box_iou_loss(b, b), False),
        "distance_box_iou_loss": (lambda b: distance_box_iou_loss(b, b), False),
        "complete_box_iou_loss": (lambda b: complete_box_iou_loss(b, b), False),
        "box_iou": (lambda b: box_iou(b, b), True),
        "generalized_box_iou": (lambda b: generalized_box_iou(b, b), True),
        "distance_box_iou": (lambda b: distance_box_iou(b, b), True),
        "complete_box_iou": (lambda b: complete_box_iou(b, b), True),
        "remove_small_boxes": (lambda b: remove_small_boxes(b, 0.1), True),
        "nms": (lambda b: nms(b, one, 0.5), True),
        "batched_nms": (lambda b: batched_nms(b, one, np.zeros(1, np.int64), 0.5), True),
        "diou_nms": (lambda b: diou_nms(b, one, 0.5), True),
        "soft_nms": (lambda b: soft_nms(b, one), True),
        "weighted_box_voting": (lambda b: weighted_box_voting(b, one, np.zeros(1, np.int64)), True),
        "merge_nms": (lambda b: merge_nms(b, one, 0.5), True),
    }


@pytest.mark.parametrize("name", list(_public_box_functions()))
@pytest.mark.parametrize("box", [[2.0, 0, 1, 1], [0.0, 0, 1, np.nan], [0.0, 3, 1, 1]])
def test_single_malformed_box_gives_value_error_naming_function_and_shape(name, box):
    fn, _ = _public_box_functions()[name]
    with pytest.raises(ValueError, match=rf"^{name}: .*\(4,\)"):
        fn(np.array(box))


@pytest.mark.parametrize("name", list(_public_box_functions()))
def test_single_valid_box_follows_the_documented_shape(name):
    """(..., 4) functions take one box (as torchvision's box_convert, clip and losses do); the
    pairwise/NMS ones say that (N, 4) is expected."""
    fn, batched = _public_box_functions()[name]
    box = np.array([0.0, 0, 2, 1])
    if batched:
        with pytest.raises(ValueError, match=rf"^{name}: expected boxes1? of shape \(N, 4\), got shape \(4,\)"):
            fn(box)
    else:
        np.testing.assert_array_equal(np.asarray(fn(box)), np.asarray(fn(box[None]))[0])


# --------------------------------------------------------------------------- narrow dtypes (upcast)
@pytest.mark.parametrize("dtype", [np.float16, np.int8, np.uint8, np.int16, np.int32, np.int64])
def test_box_area_upcasts_narrow_dtypes_like_torchvision(rng, dtype):
    hi = {np.int8: 120, np.uint8: 250}.get(dtype, 1000)
    xy = rng.integers(0, hi // 4, (12, 2))
    b = np.concatenate([xy, xy + rng.integers(hi // 2, hi - hi // 4, (12, 2))], 1).astype(dtype)
    ours = box_area(b)
    ref = tvb.box_area(torch.from_numpy(b)).numpy()
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)
    assert (ours > 0).all() and np.isfinite(ours).all()
    t = box_area(dn.tensor(b))
    assert t.data.dtype == ref.dtype
    np.testing.assert_array_equal(t.data, ref)


def test_int16_box_area_does_not_wrap():
    area = box_area(np.array([[0, 0, 200, 200]], dtype=np.int16))
    assert area.dtype == np.int32 and area[0] == 40000


@pytest.mark.parametrize("ours,ref", PAIRWISE)
def test_float16_iou_family_over_256_px_is_finite_and_float32(rng, ours, ref):
    b1 = random_boxes(rng, 6, scale=400.0).astype(np.float16)
    b2 = random_boxes(rng, 5, scale=400.0).astype(np.float16)
    # torchvision gives float32 for float16 input; it subtracts in float16 before its upcast, we upcast
    # first, so the exact oracle is torchvision on the same (exactly representable) values in float32.
    tv16 = ref(torch.from_numpy(b1), torch.from_numpy(b2)).numpy()
    expect = ref(torch.from_numpy(b1.astype(np.float32)), torch.from_numpy(b2.astype(np.float32))).numpy()
    got = ours(b1, b2)
    assert got.dtype == tv16.dtype == np.float32
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, tv16, rtol=0, atol=2e-3)
    got_t = ours(dn.tensor(b1), dn.tensor(b2))
    assert got_t.data.dtype == np.float32
    np.testing.assert_allclose(got_t.data, expect, rtol=1e-5, atol=1e-6)


def test_float16_box_losses_match_torchvision(rng):
    from deepnotes.detection import complete_box_iou_loss, distance_box_iou_loss, generalized_box_iou_loss

    b1 = random_boxes(rng, 7, scale=400.0).astype(np.float16)
    b2 = random_boxes(rng, 7, scale=400.0).astype(np.float16)
    for ours, short, name in zip(
        (generalized_box_iou_loss, distance_box_iou_loss, complete_box_iou_loss),
        ("giou", "diou", "ciou"),
        ("generalized", "distance", "complete"),
    ):
        tv = getattr(importlib.import_module(f"torchvision.ops.{short}_loss"), f"{name}_box_iou_loss")
        assert tv(torch.from_numpy(b1), torch.from_numpy(b2)).dtype == torch.float32
        ref = tv(torch.from_numpy(b1.astype(np.float32)), torch.from_numpy(b2.astype(np.float32))).numpy()
        got = ours(b1, b2)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_float16_tensor_area_gradient_flows_back_in_float16():
    x = dn.tensor(np.array([[0, 0, 300, 300]], dtype=np.float16), requires_grad=True)
    a = box_area(x)
    assert a.data.dtype == np.float32 and a.data[0] == 90000
    a.sum().backward()
    assert x.grad.dtype == np.float16
    np.testing.assert_array_equal(x.grad, [[-300, -300, 300, 300]])
