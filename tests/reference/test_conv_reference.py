"""deepnotes.reference.conv against the fast convolution kernels (im2col/col2im, the depthwise phase
path, transposed convolution) on random small geometries, values and gradients in float64, and each
reference once against torch."""

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import reference as ref

torch.set_num_threads(1)
RTOL, ATOL = 1e-10, 1e-11


def close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def fast_with_grads(fn, arrays, cot_seed, **kw):
    """Output of the public functional op and the autograd gradients of sum(y * cot) for every input."""
    tensors = [dn.Tensor(a, requires_grad=True) for a in arrays]
    y = fn(*tensors, **kw)
    cot = np.random.default_rng(cot_seed).standard_normal(y.shape)
    (y * dn.Tensor(cot)).sum().backward()
    return y, cot, [t.grad for t in tensors]


def _extent(draw, k, d, p, most=7):
    """An input length that leaves at least one output for kernel k, dilation d, padding p."""
    return draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), max(most, d * (k - 1) + 1)))


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    same = draw(st.booleans()) and s == (1, 1)
    if same:  # 'same' pads d (k - 1) in total, the odd pixel at the bottom/right (asymmetric)
        total = [di * (ki - 1) for ki, di in zip(k, d)]
        pads = tuple((t // 2, t - t // 2) for t in total)
        padding = "same"
    else:
        p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        pads, padding = ((p[0], p[0]), (p[1], p[1])), p
    H = _extent(draw, k[0], d[0], pads[0][0])
    W = _extent(draw, k[1], d[1], pads[1][0])
    return dict(
        N=draw(st.integers(1, 2)),
        groups=groups,
        C=cg * groups,
        O=og * groups,
        k=k,
        stride=s,
        dilation=d,
        padding=padding,
        pads=pads,
        H=H,
        W=W,
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31)),
    )


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_conv2d_reference_equals_im2col_path(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["N"], case["C"], case["H"], case["W"]))
    w = rng.standard_normal((case["O"], case["C"] // case["groups"]) + case["k"])
    b = rng.standard_normal(case["O"])
    arrays = [x, w, b] if case["bias"] else [x, w]
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    y, cot, grads = fast_with_grads(F.conv2d, arrays, case["seed"] + 1, **kw)
    geom = dict(stride=case["stride"], padding=case["pads"], dilation=case["dilation"], groups=case["groups"])
    close(ref.conv2d_forward(x, w, b if case["bias"] else None, **geom), y.data, "forward")
    dx, dw, db = ref.conv2d_backward(cot, x, w, **geom)
    close(dx, grads[0], "grad input")
    close(dw, grads[1], "grad weight")
    if case["bias"]:
        close(db, grads[2], "grad bias")


@st.composite
def depthwise_cases(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    return dict(
        N=draw(st.integers(1, 2)),
        C=draw(st.integers(1, 4)),
        k=k,
        stride=s,
        dilation=d,
        padding=p,
        H=_extent(draw, k[0], d[0], p[0]),
        W=_extent(draw, k[1], d[1], p[1]),
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31)),
    )


@settings(max_examples=40, deadline=None)
@given(depthwise_cases())
def test_depthwise_reference_equals_phase_path(case):
    rng = np.random.default_rng(case["seed"])
    C = case["C"]
    x = rng.standard_normal((case["N"], C, case["H"], case["W"]))
    w = rng.standard_normal((C, 1) + case["k"])
    b = rng.standard_normal(C)
    arrays = [x, w, b] if case["bias"] else [x, w]
    geom = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])
    y, cot, grads = fast_with_grads(F.conv2d, arrays, case["seed"] + 1, groups=C, **geom)
    assert y._ctx.depthwise, "the fast conv2d did not take its depthwise path"
    close(ref.depthwise_conv2d_forward(x, w, b if case["bias"] else None, **geom), y.data, "forward")
    dx, dw, db = ref.depthwise_conv2d_backward(cot, x, w, **geom)
    close(dx, grads[0], "grad input")
    close(dw, grads[1], "grad weight")
    if case["bias"]:
        close(db, grads[2], "grad bias")


@st.composite
def transpose_cases(draw):
    groups = draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    # output_padding must be below the stride or the dilation
    q = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    full = [(n - 1) * si + di * (ki - 1) + 1 + qi for n, si, di, ki, qi in zip((H, W), s, d, k, q)]
    p = tuple(draw(st.integers(0, (f - 1) // 2)) for f in full)  # at least one output row/column
    return dict(
        N=draw(st.integers(1, 2)),
        groups=groups,
        C=groups * draw(st.integers(1, 2)),
        O=groups * draw(st.integers(1, 2)),
        k=k,
        stride=s,
        dilation=d,
        padding=p,
        output_padding=q,
        H=H,
        W=W,
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31)),
    )


@settings(max_examples=40, deadline=None)
@given(transpose_cases())
def test_conv_transpose2d_reference_equals_col2im_path(case):
    rng = np.random.default_rng(case["seed"])
    g = case["groups"]
    x = rng.standard_normal((case["N"], case["C"], case["H"], case["W"]))
    w = rng.standard_normal((case["C"], case["O"] // g) + case["k"])
    b = rng.standard_normal(case["O"])
    arrays = [x, w, b] if case["bias"] else [x, w]
    geom = dict(
        stride=case["stride"],
        padding=case["padding"],
        output_padding=case["output_padding"],
        dilation=case["dilation"],
        groups=g,
    )
    y, cot, grads = fast_with_grads(F.conv_transpose2d, arrays, case["seed"] + 1, **geom)
    close(ref.conv_transpose2d_forward(x, w, b if case["bias"] else None, **geom), y.data, "forward")
    dx, dw, db = ref.conv_transpose2d_backward(cot, x, w, **geom)
    close(dx, grads[0], "grad input")
    close(dw, grads[1], "grad weight")
    if case["bias"]:
        close(db, grads[2], "grad bias")


# ------------------------------------------------------------------------ one fixed case against torch
def torch_with_grads(fn, arrays, cot, **kw):
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*tensors, **kw)
    (y * torch.tensor(cot)).sum().backward()
    return y.detach().numpy(), [t.grad.numpy() for t in tensors]


def test_conv2d_reference_matches_torch():
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    kw = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    y = ref.conv2d_forward(x, w, b, **kw)
    cot = rng.standard_normal(y.shape)
    yt, grads = torch_with_grads(TF.conv2d, [x, w, b], cot, **kw)
    close(y, yt, "forward")
    for r, t, what in zip(ref.conv2d_backward(cot, x, w, **kw), grads, ("dx", "dw", "db")):
        close(r, t, what)


def test_depthwise_reference_matches_torch():
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
    kw = dict(stride=2, padding=1, dilation=(2, 1))
    y = ref.depthwise_conv2d_forward(x, w, b, **kw)
    cot = rng.standard_normal(y.shape)
    yt, grads = torch_with_grads(TF.conv2d, [x, w, b], cot, groups=3, **kw)
    close(y, yt, "forward")
    for r, t, what in zip(ref.depthwise_conv2d_backward(cot, x, w, **kw), grads, ("dx", "dw", "db")):
        close(r, t, what)


def test_conv_transpose2d_reference_matches_torch():
    rng = np.random.default_rng(13)
    x, w, b = rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(6)
    kw = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, dilation=(1, 2))
    y = ref.conv_transpose2d_forward(x, w, b, **kw)
    cot = rng.standard_normal(y.shape)
    yt, grads = torch_with_grads(TF.conv_transpose2d, [x, w, b], cot, **kw)
    close(y, yt, "forward")
    for r, t, what in zip(ref.conv_transpose2d_backward(cot, x, w, **kw), grads, ("dx", "dw", "db")):
        close(r, t, what)
