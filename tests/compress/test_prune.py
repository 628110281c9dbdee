"""deepnotes.compress.prune against torch.nn.utils.prune on identical (tie-free) weights."""

import math

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

import deepnotes as dn
from deepnotes.compress import prune


def _pair(kind, seed=0):
    """A deepnotes layer and a torch layer with the same float64 weights (distinct magnitudes)."""
    rng = np.random.default_rng(seed)
    if kind == "linear":
        ours, theirs = dn.nn.Linear(6, 5), torch.nn.Linear(6, 5)
        x = rng.normal(size=(3, 6))
    else:
        ours, theirs = dn.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3)
        x = rng.normal(size=(2, 3, 6, 6))
    ours.double()
    theirs.double()
    w = rng.permutation(ours.weight.data.size).reshape(ours.weight.data.shape) + 1.0
    w = w * rng.choice([-1.0, 1.0], size=w.shape) / w.size  # distinct |w|, so no ties
    b = rng.normal(size=ours.bias.data.shape)
    ours.load_state_dict({"weight": w, "bias": b})
    theirs.load_state_dict({"weight": torch.from_numpy(w.copy()), "bias": torch.from_numpy(b.copy())})
    return ours, theirs, x


def _same(ours, theirs, name="weight"):
    np.testing.assert_array_equal(getattr(ours, name + "_mask").data, getattr(theirs, name + "_mask").numpy())
    np.testing.assert_array_equal(getattr(ours, name).data, getattr(theirs, name).detach().numpy())
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 0.75, 1.0, 0, 1, 7, 30])
def test_l1_unstructured_matches_torch(kind, amount):
    ours, theirs, _ = _pair(kind)
    prune.l1_unstructured(ours, "weight", amount=amount)
    tprune.l1_unstructured(theirs, "weight", amount=amount)
    _same(ours, theirs)
    assert prune.is_pruned(ours) and isinstance(ours.weight_orig, dn.nn.Parameter)
    assert "weight" not in ours._parameters


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("n", [1, 2, 3, math.inf, -math.inf])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("amount", [0.4, 2])
def test_ln_structured_matches_torch(kind, n, dim, amount):
    ours, theirs, _ = _pair(kind, seed=1)
    prune.ln_structured(ours, "weight", amount=amount, n=n, dim=dim)
    tprune.ln_structured(theirs, "weight", amount=amount, n=n, dim=dim)
    _same(ours, theirs)


def test_ln_structured_frobenius_on_a_matrix_matches_torch():
    ours, theirs, _ = _pair("linear", seed=1)
    prune.ln_structured(ours, "weight", amount=0.4, n="fro", dim=1)
    tprune.ln_structured(theirs, "weight", amount=0.4, n="fro", dim=1)
    _same(ours, theirs)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_repeated_pruning_composes_like_pruning_container(kind):
    ours, theirs, _ = _pair(kind, seed=2)
    steps = [
        ("l1", {"amount": 0.3}),
        ("ln", {"amount": 1, "n": 2, "dim": 0}),
        ("l1", {"amount": 4}),
        ("ln", {"amount": 0.5, "n": 1, "dim": 1}),
        ("l1", {"amount": 0.2}),
    ]
    for method, kw in steps:
        if method == "l1":
            prune.l1_unstructured(ours, "weight", **kw)
            tprune.l1_unstructured(theirs, "weight", **kw)
        else:
            prune.ln_structured(ours, "weight", **kw)
            tprune.ln_structured(theirs, "weight", **kw)
        _same(ours, theirs)
    hooks = [h for h in ours._forward_pre_hooks.values() if isinstance(h, prune.BasePruningMethod)]
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer) and len(hooks[0]) == len(steps)


def test_global_unstructured_matches_torch():
    (l1, t1, _), (c1, tc1, _) = _pair("linear", 3), _pair("conv", 4)
    prune.l1_unstructured(l1, "weight", amount=0.2)  # an already pruned parameter takes part too
    tprune.l1_unstructured(t1, "weight", amount=0.2)
    for amount in (0.3, 10):
        prune.global_unstructured([(l1, "weight"), (c1, "weight"), (c1, "bias")], prune.L1Unstructured, amount=amount)
        tprune.global_unstructured(
            [(t1, "weight"), (tc1, "weight"), (tc1, "bias")], tprune.L1Unstructured, amount=amount
        )
        _same(l1, t1)
        _same(c1, tc1)
        _same(c1, tc1, "bias")


def test_forward_and_gradients_flow_only_to_unpruned_entries():
    for kind in ("linear", "conv"):
        ours, theirs, x = _pair(kind, seed=5)
        prune.l1_unstructured(ours, "weight", amount=0.4)
        tprune.l1_unstructured(theirs, "weight", amount=0.4)
        prune.ln_structured(ours, "weight", amount=1, n=1, dim=0)
        tprune.ln_structured(theirs, "weight", amount=1, n=1, dim=0)
        y = ours(dn.tensor(x))
        ty = theirs(torch.from_numpy(x))
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        (y * y).sum().backward()
        (ty * ty).sum().backward()
        g = ours.weight_orig.grad.data
        np.testing.assert_allclose(g, theirs.weight_orig.grad.numpy(), rtol=1e-12, atol=1e-12)
        assert np.all(g[ours.weight_mask.data == 0] == 0) and np.any(g != 0)


def test_mask_is_reapplied_before_every_forward():
    ours, _, x = _pair("linear", seed=6)
    prune.l1_unstructured(ours, "weight", amount=0.5)
    ours.weight_orig.data[...] = 1.0  # an optimiser step changes the original ...
    ours(dn.tensor(x))
    np.testing.assert_array_equal(ours.weight.data, ours.weight_mask.data)  # ... the mask still holds


def test_remove_makes_pruning_permanent():
    ours, theirs, x = _pair("conv", seed=7)
    prune.l1_unstructured(ours, "weight", amount=0.6)
    tprune.l1_unstructured(theirs, "weight", amount=0.6)
    prune.remove(ours, "weight")
    tprune.remove(theirs, "weight")
    assert isinstance(ours.weight, dn.nn.Parameter) and not prune.is_pruned(ours)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight"]
    np.testing.assert_array_equal(ours.weight.data, theirs.weight.detach().numpy())
    assert not ours._forward_pre_hooks
    with pytest.raises(ValueError, match="remove: parameter 'weight' .* has to be pruned"):
        prune.remove(ours, "weight")


def test_state_dict_round_trip_of_a_pruned_model():
    ours, theirs, x = _pair("linear", seed=8)
    prune.l1_unstructured(ours, "weight", amount=0.5)
    tprune.l1_unstructured(theirs, "weight", amount=0.5)
    fresh = dn.nn.Linear(6, 5).double()
    prune.identity(fresh, "weight")
    np.testing.assert_array_equal(fresh.weight_mask.data, np.ones((5, 6)))
    fresh.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(fresh(dn.tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_random_unstructured_prunes_exactly_amount_among_unpruned():
    dn.manual_seed(0)
    ours, _, _ = _pair("conv", seed=9)
    prune.random_unstructured(ours, "weight", amount=0.25)
    size = ours.weight_mask.data.size
    assert int((ours.weight_mask.data == 0).sum()) == round(0.25 * size)
    first = ours.weight_mask.data.copy()
    prune.random_unstructured(ours, "weight", amount=10)
    m = ours.weight_mask.data
    assert int((m == 0).sum()) == round(0.25 * size) + 10 and np.all(m[first == 0] == 0)
    dn.manual_seed(0)
    again, _, _ = _pair("conv", seed=9)
    prune.random_unstructured(again, "weight", amount=0.25)
    np.testing.assert_array_equal(again.weight_mask.data, first)


@pytest.mark.parametrize("amount", [-0.1, 1.5, -3])
def test_bad_fractions_and_negative_counts_are_refused_like_torch(amount):
    ours, theirs, _ = _pair("linear")
    with pytest.raises(ValueError):
        tprune.l1_unstructured(theirs, "weight", amount=amount)
    with pytest.raises(ValueError, match=rf"L1Unstructured: amount={amount} should be a float in the range \[0, 1\]"):
        prune.l1_unstructured(ours, "weight", amount=amount)
    assert not prune.is_pruned(ours) and isinstance(ours.weight, dn.nn.Parameter)


def test_counts_larger_than_the_tensor_are_refused_and_leave_the_module_untouched():
    ours, theirs, _ = _pair("linear")
    with pytest.raises(ValueError):
        tprune.l1_unstructured(theirs, "weight", amount=31)
    with pytest.raises(ValueError, match="l1_unstructured: amount=31 should be smaller than .*=30"):
        prune.l1_unstructured(ours, "weight", amount=31)
    assert not prune.is_pruned(ours) and list(ours.state_dict()) == ["weight", "bias"]
    with pytest.raises(ValueError, match="ln_structured: amount=6 should be smaller than .*=5"):
        prune.ln_structured(ours, "weight", amount=6, n=2, dim=0)
    with pytest.raises(TypeError, match="amount must be a float"):
        prune.l1_unstructured(ours, "weight", amount="half")
    with pytest.raises(ValueError, match="structured pruning can only be applied to multidimensional"):
        prune.ln_structured(ours, "bias", amount=1, n=2, dim=0)
    with pytest.raises(AttributeError, match="has no parameter 'kernel'"):
        prune.l1_unstructured(ours, "kernel", amount=1)
    with pytest.raises(TypeError, match="only unstructured"):
        prune.global_unstructured([(ours, "weight")], prune.LnStructured, amount=1, n=2)


def _model_pair(seed=10):
    rng = np.random.default_rng(seed)
    ours = dn.nn.Sequential(dn.nn.Conv2d(2, 4, 3), dn.nn.ReLU(), dn.nn.Flatten(), dn.nn.Linear(4 * 4 * 4, 3)).double()
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 3)
    ).double()
    state = {}
    for k, v in ours.state_dict().items():
        state[k] = (
            rng.permutation(v.data.size).reshape(v.data.shape) * rng.choice([-1.0, 1.0], v.data.shape) / v.data.size
        )
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    return ours, theirs, rng.normal(size=(2, 2, 6, 6))


def test_global_pruning_of_a_model_matches_torch_forward_backward_and_state_dict():
    ours, theirs, x = _model_pair()
    prune.global_unstructured([(ours[0], "weight"), (ours[3], "weight")], prune.L1Unstructured, amount=0.6)
    tprune.global_unstructured([(theirs[0], "weight"), (theirs[3], "weight")], tprune.L1Unstructured, amount=0.6)
    assert prune.is_pruned(ours) and not prune.is_pruned(ours[1])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values(), strict=True):
        np.testing.assert_array_equal(a.data, b.numpy())
    y, ty = ours(dn.tensor(x)), theirs(torch.from_numpy(x))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    for i in (0, 3):
        np.testing.assert_allclose(ours[i].weight_orig.grad.data, theirs[i].weight_orig.grad.numpy(), rtol=1e-12)
    # layers lose different fractions: the threshold is global
    fractions = [float((ours[i].weight_mask.data == 0).mean()) for i in (0, 3)]
    assert fractions[0] != fractions[1]
    assert sum(int((ours[i].weight_mask.data == 0).sum()) for i in (0, 3)) == round(0.6 * (72 + 192))


def test_sparsity_report_counts_the_zeros_torch_sees():
    ours, theirs, _ = _model_pair(seed=11)
    prune.ln_structured(ours[0], "weight", amount=1, n=2, dim=0)
    tprune.ln_structured(theirs[0], "weight", amount=1, n=2, dim=0)
    prune.l1_unstructured(ours[3], "weight", amount=50)
    tprune.l1_unstructured(theirs[3], "weight", amount=50)
    prune.remove(ours[3], "weight")  # a pruned and a permanently pruned layer are both counted
    report = prune.sparsity_report(ours)
    expected = {
        k: int((theirs.get_submodule(k[: -len(".weight")]).weight == 0).sum()) for k in ("0.weight", "3.weight")
    }
    assert {k: v[0] for k, v in report.items() if k != "total"} == expected
    assert report["3.weight"][1] == 192 and report["total"] == (
        sum(expected.values()),
        72 + 192,
        sum(expected.values()) / (72 + 192),
    )
    with pytest.raises(TypeError, match="sparsity_report: expected a deepnotes Module"):
        prune.sparsity_report(theirs)
