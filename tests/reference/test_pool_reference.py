"""deepnotes.reference.pool against the fast pooling kernels (running max / sums over strided window
views) on random small geometries (stride, padding, dilation, ceil_mode, count_include_pad,
divisor_override), values and gradients in float64, and each reference once against torch."""

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import example, given, settings
from hypothesis import strategies as st

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes import reference as ref

torch.set_num_threads(1)
RTOL, ATOL = 1e-12, 1e-12


def close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


@st.composite
def pool_cases(draw, dilation=True):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    H = draw(st.integers(max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]), 7))
    W = draw(st.integers(max(1, d[1] * (k[1] - 1) + 1 - 2 * p[1]), 7))
    return dict(
        shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), H, W),
        k=k,
        s=s,
        p=p,
        d=d,
        ceil_mode=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31)),
        values=draw(st.sampled_from(["normal", "ties"] + (["special"] if dilation else []))),
    )


def _input(case):
    rng = np.random.default_rng(case["seed"])
    if case["values"] == "ties":  # few distinct values: windows with tied maxima (the first one wins)
        return rng.integers(-2, 3, size=case["shape"]).astype(np.float64)
    if case["values"] == "special":  # -inf everywhere in some windows (the arg-max is the first input
        # tap, not a padding tap) and NaN (propagates; the last NaN of a window wins)
        return rng.choice([-np.inf, -np.inf, np.nan, -1.0, 0.5], size=case["shape"])
    return rng.standard_normal(case["shape"])


@settings(max_examples=40, deadline=None)
@given(pool_cases())
def test_max_pool2d_reference_equals_fast(case):
    x = _input(case)
    kw = dict(stride=case["s"], padding=case["p"], dilation=case["d"], ceil_mode=case["ceil_mode"])
    xt = dn.Tensor(x, requires_grad=True)
    y, idx = F.max_pool2d(xt, case["k"], return_indices=True, **kw)
    cot = np.random.default_rng(case["seed"] + 1).standard_normal(y.shape)
    y.backward(dn.Tensor(cot))  # (a window with no tap inside the input gives -inf)
    y_ref, arg = ref.max_pool2d_forward(x, case["k"], **kw)
    close(y_ref, y.data, "forward")
    inside = arg >= 0
    np.testing.assert_array_equal(arg[inside], idx.data[inside], err_msg="arg-max")
    close(ref.max_pool2d_backward(cot, x.shape, arg), xt.grad, "grad input")


# a ceil-mode window that runs past the padded input: its divisor counts only the padded extent
@example(
    dict(shape=(1, 2, 4, 5), k=(3, 3), s=(2, 2), p=(0, 1), d=(1, 1), ceil_mode=True, seed=3, values="normal"),
    True,
    None,
)
@settings(max_examples=40, deadline=None)
@given(pool_cases(dilation=False), st.booleans(), st.sampled_from([None, 1, 3, 5]))
def test_avg_pool2d_reference_equals_fast(case, count_include_pad, divisor_override):
    x = _input(case)
    kw = dict(
        stride=case["s"],
        padding=case["p"],
        ceil_mode=case["ceil_mode"],
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )
    xt = dn.Tensor(x, requires_grad=True)
    y = F.avg_pool2d(xt, case["k"], **kw)
    cot = np.random.default_rng(case["seed"] + 1).standard_normal(y.shape)
    (y * dn.Tensor(cot)).sum().backward()
    close(ref.avg_pool2d_forward(x, case["k"], **kw), y.data, "forward")
    close(ref.avg_pool2d_backward(cot, x.shape, case["k"], **kw), xt.grad, "grad input")


def test_max_pool2d_reference_matches_torch():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, 3, 9, 8))
    x[0, 0, :3, :3] = 1.5  # a window of equal values: torch sends the gradient to the first
    x[1, 1, :, :4] = -np.inf  # windows of -inf only (and -inf padding): the first input tap wins
    x[1, 2, 2:5, 3] = np.nan  # NaN propagates; the last NaN of a window wins
    kw = dict(stride=(2, 1), padding=(1, 1), dilation=(1, 2), ceil_mode=True)
    y, arg = ref.max_pool2d_forward(x, (3, 2), **kw)
    xt = torch.tensor(x, requires_grad=True)
    yt, it = TF.max_pool2d(xt, (3, 2), return_indices=True, **kw)
    cot = rng.standard_normal(y.shape)
    yt.backward(torch.tensor(cot))
    close(y, yt.detach().numpy(), "forward")
    np.testing.assert_array_equal(arg, it.numpy())
    close(ref.max_pool2d_backward(cot, x.shape, arg), xt.grad.numpy(), "grad input")


def test_avg_pool2d_reference_matches_torch():
    rng = np.random.default_rng(22)
    x = rng.standard_normal((2, 3, 6, 8))  # the last window of each row runs past the padding
    for count_include_pad in (True, False):
        kw = dict(stride=(2, 3), padding=(1, 1), ceil_mode=True, count_include_pad=count_include_pad)
        y = ref.avg_pool2d_forward(x, (3, 3), **kw)
        xt = torch.tensor(x, requires_grad=True)
        yt = TF.avg_pool2d(xt, (3, 3), **kw)
        cot = rng.standard_normal(y.shape)
        (yt * torch.tensor(cot)).sum().backward()
        close(y, yt.detach().numpy(), "forward")
        close(ref.avg_pool2d_backward(cot, x.shape, (3, 3), **kw), xt.grad.numpy(), "grad input")
