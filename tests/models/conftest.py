"""Shared helpers of the model-zoo tests, handed to tests through the ``zoo`` fixture.

Oracles: torchvision's own pure-Python model definitions.  tests/conftest.py registers a bare
``torchvision`` package, so ``import torchvision.models.resnet`` (and even ``torchvision.models``) runs
without torchvision's C++ operators; ``tv_constructor`` imports the single model file that defines a
constructor and returns it.

Speed: the largest models are only compared structurally.  Their torchvision twins are built on
torch's ``meta`` device (no memory, no initialisation), and ``fast_build`` builds the deepnotes model
with the random initialisers of ``deepnotes.nn.init`` replaced by zero fills: shapes, names and parameter
counts do not depend on the values, and the forward tests overwrite every value with torchvision's
weights anyway.
"""

import copy
import importlib
import types
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes.nn import init as dn_init

import _oracle as oracle

torch.set_num_threads(2)

# constructor name -> the torchvision file that defines it
TV_MODULES = {
    "alexnet": "alexnet",
    "googlenet": "googlenet",
    "inception_v3": "inception",
    "mobilenet_v2": "mobilenetv2",
    "mobilenet_v3_large": "mobilenetv3",
    "mobilenet_v3_small": "mobilenetv3",
}
for _n in ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"):
    TV_MODULES[_n] = "vgg"
for _n in (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "wide_resnet50_2",
    "wide_resnet101_2",
):
    TV_MODULES[_n] = "resnet"
for _n in ("densenet121", "densenet161", "densenet169", "densenet201"):
    TV_MODULES[_n] = "densenet"


def tv_constructor(name):
    """torchvision's constructor ``name`` from its own file, e.g. torchvision.models.resnet.resnet18."""
    module = importlib.import_module(f"torchvision.models.{TV_MODULES[name]}")
    return getattr(module, name)


def tv_build(name, meta=False, **kwargs):
    """A torchvision model (its FutureWarnings about init defaults silenced); ``meta``: no storage."""
    ctor = tv_constructor(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if meta:
            with torch.device("meta"):
                return ctor(**kwargs)
        torch.manual_seed(0)
        return ctor(**kwargs)


@contextmanager
def no_random_init():
    """Make deepnotes.nn.init's random fills write zeros (structure-only builds)."""

    def zero_fill(tensor, *args, **kwargs):
        tensor.data[...] = 0
        return tensor

    saved = dn_init.uniform_, dn_init.normal_
    dn_init.uniform_ = dn_init.normal_ = zero_fill
    try:
        yield
    finally:
        dn_init.uniform_, dn_init.normal_ = saved


def fast_build(name, **kwargs):
    from deepnotes.models import get_model

    with no_random_init():
        return get_model(name, **kwargs)


def load_from(ours, ref, dtype=np.float32):
    """Copy torchvision's parameters and buffers into ``ours`` (load_state_dict, strict) in ``dtype``."""
    ours.load_state_dict(ref.state_dict())
    ours.to(dtype)
    return ours


def assert_close(ours, ref, rtol, atol_scale, what="output"):
    """|ours - ref| <= atol + rtol |ref| with atol = atol_scale * max(1, max |ref|)."""
    ref = oracle.to_numpy(ref)
    atol = atol_scale * max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    oracle.assert_close(ours, ref, rtol, atol, what=what)


def image(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def compare_eval(ours, ref, shape, rtol=1e-4, atol_scale=1e-5):
    """Eval-mode float32 outputs of ``ours`` (weights loaded from ``ref``) equal torchvision's."""
    load_from(ours, ref, np.float32)
    ours.eval()
    ref = ref.eval().float()
    x = image(shape)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x))
    with dn.no_grad():
        got = ours(dn.tensor(x))
    assert_close(got, expected, rtol, atol_scale)
    return got


def bn_stats(model):
    """Running statistics of every batch-norm layer, by state_dict key."""
    sd = model.state_dict()
    return {
        k: (v.detach().numpy() if isinstance(v, torch.Tensor) else v.data)
        for k, v in sd.items()
        if k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    }


def compare_train(ours, ref, shape, grads=False, rtol=1e-6, atol_scale=1e-6, outputs=None):
    """Train-mode float64 forward (and optionally backward) equals torchvision's, and the batch-norm
    running statistics are updated identically.  ``ref`` is copied first (it is shared and mutated).
    ``outputs``: a function picking the tensors to compare from the model's return value."""
    ref = copy.deepcopy(ref).double().train()
    load_from(ours, ref, np.float64)
    ours.train()
    x = image(shape, np.float64, seed=1)
    expected = ref(torch.from_numpy(x))
    got = ours(dn.tensor(x))
    pick = outputs or (lambda out: [out])
    exp_list, got_list = pick(expected), pick(got)
    assert len(exp_list) == len(got_list)
    for i, (g, e) in enumerate(zip(got_list, exp_list)):
        assert_close(g, e, rtol, atol_scale, what=f"train output {i}")
    ref_stats, our_stats = bn_stats(ref), bn_stats(ours)
    assert ref_stats.keys() == our_stats.keys()
    for k in ref_stats:
        assert_close(our_stats[k], ref_stats[k], rtol, atol_scale, what=k)
    if grads:
        rng = np.random.default_rng(2)
        weights = [rng.standard_normal(tuple(e.shape)) for e in exp_list]
        loss_ref = sum((e * torch.from_numpy(w)).sum() for e, w in zip(exp_list, weights))
        loss_ref.backward()
        loss = None
        for g, w in zip(got_list, weights):
            term = (g * dn.tensor(w)).sum()
            loss = term if loss is None else loss + term
        loss.backward()
        ref_params = dict(ref.named_parameters())
        for k, p in ours.named_parameters():
            assert p.grad is not None, f"no gradient for {k}"
            assert_close(p.grad, ref_params[k].grad, rtol, atol_scale, what=f"grad {k}")
    return ours, ref


@pytest.fixture(scope="session")
def zoo():
    """The helpers above as one namespace (tests are not a package, so they cannot import them)."""
    return types.SimpleNamespace(
        tv_constructor=tv_constructor,
        tv_build=tv_build,
        fast_build=fast_build,
        load_from=load_from,
        assert_close=assert_close,
        image=image,
        compare_eval=compare_eval,
        compare_train=compare_train,
        bn_stats=bn_stats,
        no_random_init=no_random_init,
        TV_MODULES=TV_MODULES,
    )
