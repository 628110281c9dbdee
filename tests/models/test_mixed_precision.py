"""Mixed-precision (``--amp``) training of a zoo model against torch.autocast on the CPU, with
torchvision's weights copied in: float16 convolutions, batch-norm statistics accumulated in float32
(float32 running estimates), float16 activations, float32 master weights and gradients."""

import copy

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes import amp
from deepnotes import optim as dopt
from deepnotes.nn import functional as F


def _rel_err(ours, ref):
    """max |ours - ref| as a fraction of max |ref| (at least 1)."""
    ref = ref.detach().double().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref, np.float64)
    return float(np.abs(np.asarray(ours, np.float64) - ref).max() / max(1.0, np.abs(ref).max()))


def _assert_stats_close(ours, ref, zoo, what):
    stats, tstats = zoo.bn_stats(ours), zoo.bn_stats(ref)
    for k, v in tstats.items():
        if k.endswith("num_batches_tracked"):
            assert int(stats[k]) == int(v), k
            continue
        assert stats[k].dtype == np.float32, k
        assert _rel_err(stats[k], v) < 5e-3, f"{what}: {k} differs by {_rel_err(stats[k], v):.3g}"


@pytest.mark.slow
def test_resnet18_amp_training_matches_torch_autocast(zoo):
    """Raw pixels (0..255, unnormalised): the first batch norm sees float16 values whose squares sum
    far past 65504.  Step 0: autocast forward, scaled backward and SGD step in both libraries (same
    weights): outputs and running statistics agree to float16 precision; the float32 master-weight
    gradients are no farther from float32 training's than torch's (with a batch of 2, float16
    rounding moves some of torch's own gradients by half their size).  Step 1 (torch's updated weights
    copied in, so both start from the same weights again): another train-mode forward updates the
    running statistics identically."""
    torch.manual_seed(0)  # the weights, hence the float16 rounding, must not depend on test order
    ref = zoo.tv_build("resnet18", num_classes=10).train()
    ref32 = copy.deepcopy(ref)
    ours = zoo.load_from(zoo.fast_build("resnet18", num_classes=10), ref).train()
    opt = dopt.SGD(ours.parameters(), lr=0.01)
    topt = torch.optim.SGD(ref.parameters(), lr=0.01)
    ds, ts = amp.GradScaler(init_scale=1024.0), torch.amp.GradScaler("cpu", init_scale=1024.0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 3, 40, 40)).astype(np.float32)
    target = np.array([3, 7])
    with amp.autocast():
        out = ours(dn.tensor(x))
    with torch.autocast("cpu", dtype=torch.float16):
        tout = ref(torch.from_numpy(x))
    assert out.dtype == np.float16 and tout.dtype == torch.float16
    assert _rel_err(out.data, tout) < 1e-2
    _assert_stats_close(ours, ref, zoo, "step 0")
    ds.scale(F.cross_entropy(out.float(), dn.tensor(target))).backward()
    ts.scale(torch.nn.functional.cross_entropy(tout.float(), torch.from_numpy(target))).backward()
    torch.nn.functional.cross_entropy(ref32(torch.from_numpy(x)), torch.from_numpy(target)).mul(1024).backward()
    tparams, t32 = dict(ref.named_parameters()), dict(ref32.named_parameters())
    ours_err, torch_err = {}, {}
    for k, p in ours.named_parameters():
        assert p.grad.dtype == np.float32, k
        g32 = t32[k].grad.double().numpy() * ds.get_scale() / 1024
        scale = np.abs(g32).max()
        ours_err[k] = np.abs(p.grad.data - g32).max() / scale
        torch_err[k] = np.abs(tparams[k].grad.double().numpy() - g32).max() / scale
    # float16 rounding with a batch of 2 moves single layers' gradients by up to 60% in torch too, and
    # which layers it hits depends on summation order (BLAS threads): compare the spread as a whole
    assert max(ours_err.values()) <= 1.25 * max(torch_err.values())
    assert np.median(list(ours_err.values())) <= 1.25 * np.median(list(torch_err.values()))
    assert (ds.step(opt) is None) == (ts.step(topt) is None)
    ds.update()
    ts.update()
    assert ds.get_scale() == ts.get_scale()
    for k, p in ours.named_parameters():
        p.data[...] = tparams[k].detach().numpy()
    x = rng.uniform(0, 255, (2, 3, 40, 40)).astype(np.float32)
    with amp.autocast():
        out = ours(dn.tensor(x))
    with torch.autocast("cpu", dtype=torch.float16), torch.no_grad():
        tout = ref(torch.from_numpy(x))
    assert _rel_err(out.data, tout) < 1e-2
    _assert_stats_close(ours, ref, zoo, "step 1")
