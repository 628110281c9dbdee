"""SyncBatchNorm over 2 ranks equals torch's BatchNorm over the concatenated batch: outputs, input
gradients, weight/bias gradients (summed over ranks, as DDP then averages them) and running statistics."""

import numpy as np
import pytest
import torch

import deepnotes
from deepnotes import nn


def test_syncbatchnorm_matches_torch_batchnorm_on_the_full_batch(mpirun, tmp_path):
    mpirun("syncbn.py", tmp_path)
    r = [np.load(tmp_path / f"rank{k}.npz") for k in range(2)]
    for case, shape in enumerate([(2, 3, 4), (3, 4, 5, 5), (2, 3), (1, 2, 2, 3, 3)]):
        rng = np.random.default_rng(case)
        n0 = shape[0]
        full = rng.standard_normal((2 * n0 + 3,) + shape[1:]) * 3 + 1.5
        wout = rng.standard_normal(full.shape)
        bn = {3: torch.nn.BatchNorm1d, 2: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d, 5: torch.nn.BatchNorm3d}[
            len(shape)
        ](shape[1], momentum=0.3).double()
        with torch.no_grad():
            bn.weight.copy_(torch.from_numpy(rng.standard_normal(shape[1])))
            bn.bias.copy_(torch.from_numpy(rng.standard_normal(shape[1])))
        x = torch.from_numpy(full).requires_grad_()
        y = bn(x)
        (y * torch.from_numpy(wout)).sum().backward()
        y, gx = y.detach().numpy(), x.grad.numpy()
        tol = dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.concatenate([r[0][f"y{case}"], r[1][f"y{case}"]]), y, **tol)
        np.testing.assert_allclose(np.concatenate([r[0][f"gx{case}"], r[1][f"gx{case}"]]), gx, **tol)
        np.testing.assert_allclose(r[0][f"gw{case}"] + r[1][f"gw{case}"], bn.weight.grad.numpy(), **tol)
        np.testing.assert_allclose(r[0][f"gb{case}"] + r[1][f"gb{case}"], bn.bias.grad.numpy(), **tol)
        for k in range(2):
            np.testing.assert_allclose(r[k][f"rm{case}"], bn.running_mean.numpy(), **tol)
            np.testing.assert_allclose(r[k][f"rv{case}"], bn.running_var.numpy(), **tol)


def test_convert_sync_batchnorm_keeps_parameters_buffers_and_mode():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm1d(5)))
    model[1].running_mean.data[...] = 7.0
    model[2][0].eval()
    before = {k: v.data.copy() for k, v in model.state_dict().items()}
    old_bn = model[1]
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert type(conv[1]) is nn.SyncBatchNorm and type(conv[2][0]) is nn.SyncBatchNorm
    assert conv[1].weight is old_bn.weight and conv[1].running_mean is old_bn.running_mean
    assert not conv[2][0].training and conv[1].training
    after = conv.state_dict()
    assert sorted(after) == sorted(before)
    for k in before:
        np.testing.assert_array_equal(after[k].data, before[k])


def test_syncbatchnorm_without_a_process_group_is_batchnorm():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5))
    ours = nn.SyncBatchNorm(3).double()
    ref = torch.nn.BatchNorm2d(3).double()
    np.testing.assert_allclose(
        ours(deepnotes.tensor(x)).data, ref(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-12
    )
    with pytest.raises(TypeError, match="convert_sync_batchnorm: expected a Module"):
        nn.SyncBatchNorm.convert_sync_batchnorm(3)
