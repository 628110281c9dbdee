"""Double backward of every primitive with a differentiable backward, against torch in float64.

For each case: y = f(x1, ..., xk); first = grad(y, xs, v, create_graph=True) with a random cotangent v
that itself requires grad; then second = grad(sum_i <first_i, w_i>, xs + [v]) for random w_i.  Both
the first and the second gradients must equal torch's (``torch.autograd.grad`` with the same seeds)
to 1e-8, and an input torch reports as unused (None) must be unused here too.  Differentiating with
respect to v checks that each gradient depends on the incoming gradient correctly; with respect to
the inputs, that the backward pass's own dependence on them (the second derivatives) is right.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes.autograd import grad, gradgradcheck

import _oracle as oracle

RTOL, ATOL = 1e-8, 1e-10


def _leaves(arrays):
    ours = [dn.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def _as_tuple(y):
    return y if isinstance(y, tuple) else (y,)


def assert_double_backward(fd, ft, arrays, seed=0):
    """First and second derivatives of ``fd`` (deepnotes) and ``ft`` (torch) at ``arrays`` agree."""
    rng = np.random.default_rng(seed)
    xd, xt = _leaves(arrays)
    yd, yt = fd(*xd), ft(*xt)
    oracle.assert_close(yd, yt.detach(), RTOL, ATOL, what="forward value")
    v = rng.standard_normal(yd.shape)
    vd, vt = dn.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    first_d = grad(yd, xd, vd, create_graph=True, allow_unused=True)
    first_t = torch.autograd.grad(yt, xt, vt, create_graph=True, allow_unused=True)
    used = []
    for i, (a, b) in enumerate(zip(first_d, first_t)):
        assert (a is None) == (b is None), f"first gradient {i}: ours {a is None and 'unused'}, torch {b is None}"
        if b is not None:
            oracle.assert_close(a, b.detach(), RTOL, ATOL, what=f"first gradient {i}")
            used.append(i)
    assert used, "the case differentiates nothing"
    ws = [rng.standard_normal(arrays[i].shape) for i in used]
    sd = sum((first_d[i] * dn.tensor(w)).sum() for i, w in zip(used, ws))
    st = sum((first_t[i] * torch.tensor(w)).sum() for i, w in zip(used, ws))
    if not st.requires_grad:  # a linear map: the gradient does not depend on anything
        assert not sd.requires_grad
        return
    second_d = grad(sd, xd + [vd], allow_unused=True)
    second_t = torch.autograd.grad(st, xt + [vt], allow_unused=True)
    for i, (a, b) in enumerate(zip(second_d, second_t)):
        what = "v" if i == len(xd) else f"input {i}"
        if b is None:
            assert a is None, f"second gradient w.r.t. {what}: torch reports it unused, ours is {a}"
            continue
        assert a is not None, f"second gradient w.r.t. {what}: torch has one, ours is unused"
        oracle.assert_close(a, b, RTOL, ATOL, what=f"second gradient w.r.t. {what}")


R = np.random.default_rng(1234)


def normal(*shape):
    return R.standard_normal(shape)


def positive(*shape):
    return R.uniform(0.5, 2.0, shape)


def unit(*shape):
    return R.uniform(0.05, 0.95, shape)


def spread(*shape):
    """Distinct values well away from each other (no ties for max/min, no kinks at 0)."""
    n = int(np.prod(shape))
    values = (R.permutation(n) - n / 2 + 0.5) * 0.37
    return values.reshape(shape)


LABELS = np.array([2, 0, 3, 1])
CASES = {
    # arithmetic with broadcasting
    "add": (lambda a, b: a + b, lambda a, b: a + b, [normal(3, 4), normal(4)]),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, [normal(2, 1, 4), normal(3, 1)]),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, [normal(3, 4), normal(3, 1)]),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [normal(3, 4), positive(4)]),
    "pow_tensor": (lambda a, b: a**b, lambda a, b: a**b, [positive(3, 4), normal(4)]),
    "pow_scalar": (lambda a: a**3, lambda a: a**3, [normal(3, 4)]),
    "pow_half": (lambda a: a**0.5, lambda a: a**0.5, [positive(5)]),
    "rpow": (lambda a: 2.0**a, lambda a: 2.0**a, [normal(5)]),
    "neg": (lambda a: -a * a, lambda a: -a * a, [normal(4)]),
    "square_sum": (lambda a: (a * a).sum(), lambda a: (a * a).sum(), [normal(3, 2)]),
    # matrix products
    "matmul": (lambda a, b: a @ b, lambda a, b: a @ b, [normal(3, 4), normal(4, 5)]),
    "matmul_batched": (lambda a, b: a @ b, lambda a, b: a @ b, [normal(2, 1, 3, 4), normal(3, 4, 2)]),
    "matmul_shared": (lambda a, b: a @ b, lambda a, b: a @ b, [normal(2, 3, 4), normal(4, 2)]),
    "matmul_vec_mat": (lambda a, b: a @ b, lambda a, b: a @ b, [normal(4), normal(2, 4, 3)]),
    "matmul_mat_vec": (lambda a, b: a @ b, lambda a, b: a @ b, [normal(3, 4), normal(4)]),
    "matmul_dot": (lambda a, b: a @ b, lambda a, b: a @ b, [normal(4), normal(4)]),
    "linear": (F.linear, TF.linear, [normal(3, 4), normal(5, 4), normal(5)]),
    "linear_3d_nobias": (F.linear, TF.linear, [normal(2, 3, 4), normal(5, 4)]),
    # convolutions
    "conv2d": (
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
        lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1),
        [normal(2, 3, 7, 7), normal(4, 3, 3, 3), normal(4)],
    ),
    "conv2d_groups_dilation": (
        lambda x, w: F.conv2d(x, w, padding=(2, 1), dilation=2, groups=2),
        lambda x, w: TF.conv2d(x, w, padding=(2, 1), dilation=2, groups=2),
        [normal(2, 4, 8, 7), normal(6, 2, 3, 2)],
    ),
    "conv2d_same": (
        lambda x, w: F.conv2d(x, w, padding="same"),
        lambda x, w: TF.conv2d(x, w, padding="same"),
        [normal(1, 2, 6, 5), normal(3, 2, 4, 4)],
    ),
    "conv2d_depthwise": (
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=3),
        lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1, groups=3),
        [normal(2, 3, 6, 6), normal(3, 1, 3, 3), normal(3)],
    ),
    "conv1d": (
        lambda x, w: F.conv1d(x, w, stride=2, padding=1),
        lambda x, w: TF.conv1d(x, w, stride=2, padding=1),
        [normal(2, 3, 9), normal(4, 3, 3)],
    ),
    "conv_transpose2d": (
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        [normal(2, 3, 4, 4), normal(3, 2, 3, 3), normal(2)],
    ),
    "conv_transpose2d_groups_dilation": (
        lambda x, w: F.conv_transpose2d(x, w, stride=(1, 2), padding=(1, 0), groups=2, dilation=2),
        lambda x, w: TF.conv_transpose2d(x, w, stride=(1, 2), padding=(1, 0), groups=2, dilation=2),
        [normal(2, 4, 3, 4), normal(4, 3, 3, 2)],
    ),
    # pooling
    "max_pool2d": (
        lambda x: F.max_pool2d(x, 3, 2, padding=1),
        lambda x: TF.max_pool2d(x, 3, 2, padding=1),
        [spread(2, 2, 7, 7)],
    ),
    "max_pool2d_ceil_dilation": (
        lambda x: F.max_pool2d(x, 2, 2, dilation=2, ceil_mode=True),
        lambda x: TF.max_pool2d(x, 2, 2, dilation=2, ceil_mode=True),
        [spread(1, 2, 8, 7)],
    ),
    "avg_pool2d": (
        lambda x: F.avg_pool2d(x, 3, 2, padding=1),
        lambda x: TF.avg_pool2d(x, 3, 2, padding=1),
        [normal(2, 2, 7, 7)],
    ),
    "avg_pool2d_exclude_pad_ceil": (
        lambda x: F.avg_pool2d(x, 3, 2, padding=1, ceil_mode=True, count_include_pad=False),
        lambda x: TF.avg_pool2d(x, 3, 2, padding=1, ceil_mode=True, count_include_pad=False),
        [normal(1, 2, 6, 6)],
    ),
    "adaptive_avg_pool2d": (
        lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
        lambda x: TF.adaptive_avg_pool2d(x, (3, 2)),
        [normal(2, 2, 7, 5)],
    ),
    "adaptive_max_pool2d": (
        lambda x: F.adaptive_max_pool2d(x, (3, 2)),
        lambda x: TF.adaptive_max_pool2d(x, (3, 2)),
        [spread(2, 2, 7, 5)],
    ),
    # activations
    "relu": (F.relu, TF.relu, [spread(3, 4)]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), [spread(3, 4)]),
    "elu": (lambda x: F.elu(x, 1.3), lambda x: TF.elu(x, 1.3), [spread(3, 4)]),
    "selu": (F.selu, TF.selu, [spread(3, 4)]),
    "celu": (lambda x: F.celu(x, 0.5), lambda x: TF.celu(x, 0.5), [spread(3, 4)]),
    "tanh": (F.tanh, torch.tanh, [normal(3, 4)]),
    "sigmoid": (F.sigmoid, torch.sigmoid, [normal(3, 4)]),
    "softplus": (
        lambda x: F.softplus(x, beta=2.0, threshold=3.0),
        lambda x: TF.softplus(x, beta=2.0, threshold=3.0),
        [spread(3, 5) * 4],
    ),
    "gelu": (F.gelu, TF.gelu, [normal(3, 4) * 2]),
    "gelu_tanh": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: TF.gelu(x, approximate="tanh"),
        [normal(3, 4) * 2],
    ),
    "silu": (F.silu, TF.silu, [normal(3, 4) * 2]),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 0.8), lambda x: TF.hardtanh(x, -0.5, 0.8), [spread(3, 4)]),
    "relu6": (F.relu6, TF.relu6, [spread(3, 4) * 8]),
    "hardswish": (F.hardswish, TF.hardswish, [spread(3, 5) * 4]),
    "hardshrink": (F.hardshrink, TF.hardshrink, [spread(3, 4)]),
    "prelu": (F.prelu, TF.prelu, [spread(2, 3, 4), positive(3) * 0.2]),
    "exp": (lambda x: x.exp(), torch.exp, [normal(3, 4)]),
    "log": (lambda x: x.log(), torch.log, [positive(3, 4)]),
    "sqrt": (lambda x: x.sqrt(), torch.sqrt, [positive(3, 4)]),
    "abs": (lambda x: x.abs() * x, lambda x: x.abs() * x, [spread(3, 4)]),
    "sin_cos": (lambda x: x.sin() * x.cos(), lambda x: x.sin() * x.cos(), [normal(3, 4)]),
    "atan": (lambda x: x.atan(), torch.atan, [normal(3, 4)]),
    "clamp": (lambda x: x.clamp(-0.5, 0.7) * x, lambda x: x.clamp(-0.5, 0.7) * x, [spread(3, 4)]),
    "maximum": (lambda a, b: dn.maximum(a, b) * a, lambda a, b: torch.maximum(a, b) * a, [spread(3, 4), spread(4)]),
    "minimum": (lambda a, b: dn.minimum(a, b) * b, lambda a, b: torch.minimum(a, b) * b, [spread(3, 4), spread(4)]),
    "where": (
        lambda a, b: dn.where(dn.tensor(LABELS[:, None] > 1), a * a, b),
        lambda a, b: torch.where(torch.tensor(LABELS[:, None] > 1), a * a, b),
        [normal(4, 3), normal(3)],
    ),
    # reductions
    "sum": (lambda x: x.sum(1) ** 2, lambda x: x.sum(1) ** 2, [normal(3, 4, 2)]),
    "sum_keepdim": (
        lambda x: x.sum((0, 2), keepdim=True) * x,
        lambda x: x.sum((0, 2), keepdim=True) * x,
        [normal(3, 4, 2)],
    ),
    "mean": (lambda x: x.mean(0) ** 2, lambda x: x.mean(0) ** 2, [normal(3, 4)]),
    "var": (lambda x: x.var(1), lambda x: x.var(1), [normal(3, 5)]),
    "std": (lambda x: x.std(), lambda x: x.std(), [normal(3, 5)]),
    "amax": (lambda x: x.amax(1) * x.amin(0).sum(), lambda x: x.amax(1) * x.amin(0).sum(), [spread(3, 4)]),
    "max_dim": (lambda x: x.max(1)[0] ** 2, lambda x: x.max(1)[0] ** 2, [spread(3, 4)]),
    "min_dim_keepdim": (
        lambda x: x.min(0, keepdim=True)[0] * x,
        lambda x: x.min(0, keepdim=True)[0] * x,
        [spread(3, 4)],
    ),
    "prod": (lambda x: x.prod(1), lambda x: x.prod(1), [normal(3, 4)]),
    "prod_with_zeros": (
        lambda x: x.prod(0, keepdim=True) * x,
        lambda x: x.prod(0, keepdim=True) * x,
        [np.array([[0.0, 1.5, 0.0], [2.0, 0.0, 0.0], [0.5, -1.0, 3.0]])],
    ),
    "prod_all": (lambda x: x.prod(), lambda x: x.prod(), [normal(2, 3)]),
    "einsum_matmul_trace": (
        lambda a, b: dn.einsum("ij,jk->ik", a, b) + dn.einsum("ii->", a[:, :3]),
        lambda a, b: torch.einsum("ij,jk->ik", a, b) + torch.einsum("ii->", a[:, :3]),
        [normal(3, 4), normal(4, 2)],
    ),
    "einsum_broadcast_diagonal": (
        lambda a, b: dn.einsum("bii,bj->bij", a, b) ** 2,
        lambda a, b: torch.einsum("bii,bj->bij", a, b) ** 2,
        [normal(1, 3, 3), normal(2, 4)],
    ),
    "embedding": (
        lambda w: F.embedding(dn.tensor([[0, 2, 2], [1, 0, 3]]), w, padding_idx=3) ** 2,
        lambda w: TF.embedding(torch.tensor([[0, 2, 2], [1, 0, 3]]), w, padding_idx=3) ** 2,
        [normal(4, 3)],
    ),
    "interpolate_bilinear": (
        lambda x: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=False) ** 2,
        lambda x: TF.interpolate(x, size=(5, 7), mode="bilinear", align_corners=False) ** 2,
        [normal(1, 2, 3, 4)],
    ),
    "interpolate_nearest": (
        lambda x: F.interpolate(x, scale_factor=2, mode="nearest") ** 2,
        lambda x: TF.interpolate(x, scale_factor=2, mode="nearest") ** 2,
        [normal(1, 2, 3, 3)],
    ),
    "scaled_dot_product_attention": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
        lambda q, k, v: TF.scaled_dot_product_attention(q, k, v),
        [normal(2, 3, 4), normal(2, 5, 4), normal(2, 5, 3)],
    ),
    "norm": (lambda x: x.norm(dim=1), lambda x: x.norm(dim=1), [normal(3, 4)]),
    # shapes and indexing
    "reshape_flatten": (
        lambda x: x.reshape(4, 3).flatten() ** 2,
        lambda x: x.reshape(4, 3).flatten() ** 2,
        [normal(3, 4)],
    ),
    "permute_transpose": (
        lambda x: x.permute(2, 0, 1).transpose(0, 1) ** 2,
        lambda x: x.permute(2, 0, 1).transpose(0, 1) ** 2,
        [normal(2, 3, 4)],
    ),
    "expand": (lambda x: x.expand(3, 2, 4) ** 2, lambda x: x.expand(3, 2, 4) ** 2, [normal(2, 1)]),
    "getitem_basic": (lambda x: x[1:, ::2, None] ** 2, lambda x: x[1:, ::2, None] ** 2, [normal(3, 5)]),
    "getitem_repeated_rows": (lambda x: x[[0, 2, 2, 1]] ** 2, lambda x: x[[0, 2, 2, 1]] ** 2, [normal(3, 4)]),
    "getitem_advanced": (
        lambda x: x[[0, 1, 1], [2, 0, 0]] ** 2,
        lambda x: x[[0, 1, 1], [2, 0, 0]] ** 2,
        [normal(3, 4)],
    ),
    "getitem_mask": (
        lambda x: x[dn.tensor(LABELS > 0)] ** 2,
        lambda x: x[torch.tensor(LABELS > 0)] ** 2,
        [normal(4, 2)],
    ),
    "gather": (
        lambda x: x.gather(1, dn.tensor([[0, 0], [2, 1]])) ** 2,
        lambda x: x.gather(1, torch.tensor([[0, 0], [2, 1]])) ** 2,
        [normal(2, 3)],
    ),
    "cat": (
        lambda a, b: dn.cat([a, b * a], 1) ** 2,
        lambda a, b: torch.cat([a, b * a], 1) ** 2,
        [normal(2, 3), normal(2, 3)],
    ),
    "stack": (
        lambda a, b: dn.stack([a, a * b], 1) ** 2,
        lambda a, b: torch.stack([a, a * b], 1) ** 2,
        [normal(2, 3), normal(3)],
    ),
    "pad_constant": (
        lambda x: F.pad(x, (1, 2, -1, 1)) ** 2,
        lambda x: TF.pad(x, (1, 2, -1, 1)) ** 2,
        [normal(2, 3, 4)],
    ),
    "clone_masked_fill": (
        lambda x: x.clone().masked_fill(dn.tensor(LABELS[:3] > 1), 0.5) ** 2,
        lambda x: x.clone().masked_fill(torch.tensor(LABELS[:3] > 1), 0.5) ** 2,
        [normal(2, 3)],
    ),
    "cast": (lambda x: x.float().double() ** 2, lambda x: x.float().double() ** 2, [normal(4)]),
    # softmax and losses
    "softmax": (lambda x: F.softmax(x, dim=1), lambda x: TF.softmax(x, dim=1), [normal(3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), lambda x: TF.log_softmax(x, dim=0), [normal(3, 4)]),
    "cross_entropy": (
        lambda x: F.cross_entropy(x, dn.tensor(LABELS)),
        lambda x: TF.cross_entropy(x, torch.tensor(LABELS)),
        [normal(4, 5)],
    ),
    "cross_entropy_weight_smoothing": (
        lambda x, w: F.cross_entropy(x, dn.tensor(LABELS), weight=np.arange(1.0, 6.0), label_smoothing=0.1) * w.sum(),
        lambda x, w: (
            TF.cross_entropy(
                x, torch.tensor(LABELS), weight=torch.arange(1.0, 6.0, dtype=torch.float64), label_smoothing=0.1
            )
            * w.sum()
        ),
        [normal(4, 5), normal(2)],
    ),
    "cross_entropy_probabilities": (F.cross_entropy, TF.cross_entropy, [normal(4, 5), unit(4, 5)]),
    "cross_entropy_spatial": (
        lambda x: F.cross_entropy(x, dn.tensor(LABELS[:3].reshape(1, 3))),
        lambda x: TF.cross_entropy(x, torch.tensor(LABELS[:3].reshape(1, 3))),
        [normal(1, 4, 3)],
    ),
    "nll_loss": (
        lambda x: F.nll_loss(x, dn.tensor(LABELS)) * x.sum(),
        lambda x: TF.nll_loss(x, torch.tensor(LABELS)) * x.sum(),
        [normal(4, 5)],
    ),
    "mse_loss": (F.mse_loss, TF.mse_loss, [normal(3, 4), normal(3, 4)]),
    "l1_loss": (
        lambda a, b: F.l1_loss(a, b) * a.sum(),
        lambda a, b: TF.l1_loss(a, b) * a.sum(),
        [spread(3, 4), normal(3, 4)],
    ),
    "binary_cross_entropy": (F.binary_cross_entropy, TF.binary_cross_entropy, [unit(3, 4), unit(3, 4)]),
    "binary_cross_entropy_with_logits": (
        F.binary_cross_entropy_with_logits,
        TF.binary_cross_entropy_with_logits,
        [normal(3, 4) * 2, unit(3, 4)],
    ),
    "kl_div": (
        lambda a, b: F.kl_div(a, b, reduction="batchmean"),
        lambda a, b: TF.kl_div(a, b, reduction="batchmean"),
        [normal(3, 4), unit(3, 4)],
    ),
    # normalisation
    "layer_norm": (
        lambda x, w, b: F.layer_norm(x, (3, 4), w, b),
        lambda x, w, b: TF.layer_norm(x, (3, 4), w, b),
        [normal(2, 3, 4), normal(3, 4), normal(3, 4)],
    ),
    "layer_norm_plain": (lambda x: F.layer_norm(x, (4,)), lambda x: TF.layer_norm(x, (4,)), [normal(3, 4)]),
    "group_norm": (
        lambda x, w, b: F.group_norm(x, 2, w, b),
        lambda x, w, b: TF.group_norm(x, 2, w, b),
        [normal(2, 4, 3, 2), normal(4), normal(4)],
    ),
    "instance_norm": (F.instance_norm, TF.instance_norm, [normal(2, 3, 5)]),
    "batch_norm_train": (
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
        [normal(4, 3, 2, 2), normal(3), normal(3)],
    ),
    "batch_norm_1d_train": (
        lambda x: F.batch_norm(x, None, None, training=True),
        lambda x: TF.batch_norm(x, None, None, training=True),
        [normal(5, 3)],
    ),
    "batch_norm_eval": (
        lambda x, w, b: F.batch_norm(x, np.linspace(-1, 1, 3), np.linspace(0.5, 2, 3), w, b) * x,
        lambda x, w, b: (
            TF.batch_norm(
                x, torch.linspace(-1, 1, 3, dtype=torch.float64), torch.linspace(0.5, 2, 3, dtype=torch.float64), w, b
            )
            * x
        ),
        [normal(4, 3, 2), normal(3), normal(3)],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_double_backward_equals_torch(name):
    fd, ft, arrays = CASES[name]
    assert_double_backward(fd, ft, arrays)


def test_embedding_scale_grad_by_freq_is_differentiated_as_computed():
    """With scale_grad_by_freq the first "gradient" G = scatter(v * dy/dw / count) is a deliberate
    rescaling, not a derivative, so no numeric check applies; torch's double backward treats it as an
    unscaled gather (off by the count for repeated rows).  Ours differentiates G as computed, checked
    here in closed form for y = w[idx]^2: d<G, W>/dv_k = 2 W[idx_k] w[idx_k] / count(idx_k)."""
    idx = np.array([0, 2, 2, 1])
    w_np, v_np, big_w = normal(4, 3), normal(4, 3), normal(4, 3)
    w = dn.tensor(w_np, requires_grad=True)
    v = dn.tensor(v_np, requires_grad=True)
    y = F.embedding(dn.tensor(idx), w, scale_grad_by_freq=True) ** 2
    (g,) = grad(y, w, v, create_graph=True)
    (first,) = grad(F.embedding(dn.tensor(idx), w, scale_grad_by_freq=True) ** 2, w, v)
    oracle.assert_close(g, first, 1e-14, 1e-14)  # the recorded and the NumPy backward agree
    dv, dw = grad((g * dn.tensor(big_w)).sum(), [v, w])
    count = np.bincount(idx)[idx][:, None]
    oracle.assert_close(dv, 2 * big_w[idx] * w_np[idx] / count, 1e-12, 1e-14)
    # the path to w goes back through the forward embedding, whose backward scales by 1/count again
    expected_dw = np.zeros((4, 3))
    np.add.at(expected_dw, idx, 2 * big_w[idx] * v_np / count**2)
    oracle.assert_close(dw, expected_dw, 1e-12, 1e-14)


def test_hardsigmoid_second_derivative_numerically():
    """torch has no double backward for hardsigmoid ("not implemented"); checked numerically."""
    x = dn.tensor(spread(3, 4) * 3, requires_grad=True)
    assert gradgradcheck(lambda x: F.hardsigmoid(x) * x, [x])
