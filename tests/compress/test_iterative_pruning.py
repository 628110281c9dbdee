"""Iterative magnitude pruning with fine-tuning against the same loop written with torch.nn.utils.prune
(torch prunes a fraction of the *remaining* weights at each step), and the sparsity table."""

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

import deepnotes as dn
from deepnotes.compress import iterative_pruning as ip
from deepnotes.compress import prune


def _models(seed=0):
    """The same float64 two-layer MLP in deepnotes and in torch (112 weights)."""
    rng = np.random.default_rng(seed)
    ours = dn.nn.Sequential(dn.nn.Linear(10, 8), dn.nn.ReLU(), dn.nn.Linear(8, 4)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(10, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4)).double()
    state = {k: rng.normal(size=v.data.shape) for k, v in ours.state_dict().items()}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    x, y = rng.normal(size=(32, 10)), rng.integers(0, 4, size=32)
    return ours, theirs, x, y


def _sgd_ours(model, x, y, lr=0.2, steps=3):
    opt = dn.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = dn.nn.functional.cross_entropy(model(dn.tensor(x)), dn.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()


def _sgd_torch(model, x, y, lr=0.2, steps=3):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("scope", ["global", "layer", "structured"])
def test_iterative_pruning_with_fine_tuning_matches_torch(scope):
    ours, theirs, x, y = _models()
    amounts = [0.25, 0.5, 0.75]
    seen = []

    def fine_tune(model, step):
        seen.append(step)
        _sgd_ours(model, x, y)

    history = ip.iterative_magnitude_pruning(ours, fine_tune, amounts, scope=scope)
    assert seen == [0, 1, 2] and [h.target for h in history] == amounts

    layers = [(theirs[0], "weight"), (theirs[2], "weight")]
    previous = 0.0
    for i, target in enumerate(amounts):
        fraction = (target - previous) / (1 - previous)  # torch: a fraction of what is still unpruned
        with torch.no_grad():  # torch scores the weight of the last forward: refresh it after the SGD steps
            theirs(torch.from_numpy(x))
        if scope == "global":
            tprune.global_unstructured(layers, tprune.L1Unstructured, amount=fraction)
        elif scope == "layer":
            for m, k in layers:
                tprune.l1_unstructured(m, k, amount=fraction)
        else:
            for m, k in layers:
                tprune.ln_structured(m, k, amount=fraction, n=2, dim=0)
        _sgd_torch(theirs, x, y)
        previous = target
        masks = [m.weight_mask.numpy() for m, _ in layers]
        reached = 1 - sum(mk.sum() for mk in masks) / sum(mk.size for mk in masks)
        assert history[i].sparsity == pytest.approx(reached, abs=1e-12)
    for (m, _), mine in zip(layers, (ours[0], ours[2])):
        np.testing.assert_array_equal(mine.weight_mask.data, m.weight_mask.numpy())
        np.testing.assert_allclose(mine.weight_orig.data, m.weight_orig.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(mine.weight.data == 0, m.weight.detach().numpy() == 0)


def test_fine_tuning_never_revives_pruned_weights_and_the_masks_only_grow():
    ours, _, x, y = _models(1)
    masks = []

    def fine_tune(model, step):
        _sgd_ours(model, x, y, lr=0.5, steps=5)
        masks.append([model[0].weight_mask.data.copy(), model[2].weight_mask.data.copy()])
        for layer in (model[0], model[2]):
            assert np.all(layer.weight.data[layer.weight_mask.data == 0] == 0)

    hist = ip.iterative_magnitude_pruning(ours, fine_tune, final_sparsity=0.9, steps=4, scope="global")
    for before, after in zip(masks, masks[1:]):
        for a, b in zip(before, after):
            assert np.all(b <= a)
    assert hist[-1].sparsity == pytest.approx(round(0.9 * 112) / 112)
    assert [round(h.target, 12) for h in hist] == [round(1 - 0.1 ** (i / 4), 12) for i in range(1, 5)]


def test_evaluate_history_layers_and_make_permanent():
    ours, _, x, y = _models(2)
    calls = []

    def evaluate(model):
        calls.append(1)
        with dn.no_grad():
            return float((model(dn.tensor(x)).numpy().argmax(1) == y).mean())

    hist = ip.iterative_magnitude_pruning(ours, None, [0.5], scope="layer", evaluate=evaluate, make_permanent=True)
    assert len(calls) == 1 and 0 <= hist[0].metric <= 1
    assert set(hist[0].layers) == {"0.weight", "2.weight"}
    assert all(v == pytest.approx(0.5) for v in hist[0].layers.values())
    assert not prune.is_pruned(ours) and isinstance(ours[0].weight, dn.nn.Parameter)
    assert np.count_nonzero(ours[0].weight.data == 0) == 40


def test_structured_pruning_removes_whole_rows():
    ours, _, _, _ = _models(3)
    ip.iterative_magnitude_pruning(ours, None, [0.25, 0.5], scope="structured")
    w = ours[0].weight.data
    dead = np.all(w == 0, axis=1)
    assert dead.sum() == 4 and np.all(np.any(w[~dead] != 0, axis=1))


def test_sparsity_table_lists_every_layer_and_the_total():
    ours, _, _, _ = _models(4)
    prune.l1_unstructured(ours[0], "weight", amount=20)
    text = ip.sparsity_table(ours)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["parameter", "shape"]
    row = {ln.split()[0]: ln.split() for ln in lines if ln and not ln.startswith("-")}
    assert row["0.weight"][1:] == ["8x10", "20", "80", "25.00"]
    assert row["2.weight"][1:] == ["4x8", "0", "32", "0.00"]
    assert row["total"][-3:] == ["20", "112", f"{100 * 20 / 112:.2f}"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"amounts": [0.5, 1.5]}, ValueError, r"every amount must be a sparsity in \[0, 1\], got 1.5"),
        ({"amounts": [-0.1]}, ValueError, "got -0.1"),
        ({"amounts": [0.6, 0.3]}, ValueError, "must not decrease"),
        ({"amounts": []}, ValueError, "amounts is empty"),
        ({}, ValueError, "give amounts"),
        ({"amounts": [0.5], "steps": 2}, ValueError, "not both"),
        ({"amounts": [0.5], "scope": "channel"}, ValueError, "scope must be one of"),
        ({"final_sparsity": 1.2, "steps": 2}, ValueError, "final_sparsity must be in"),
        ({"final_sparsity": 0.5, "steps": 0}, ValueError, "steps must be a positive int"),
    ],
)
def test_bad_arguments_name_the_function(kwargs, error, match):
    ours, _, _, _ = _models()
    with pytest.raises(error, match=match):
        ip.iterative_magnitude_pruning(ours, None, **kwargs)


def test_bad_model_and_callbacks():
    with pytest.raises(TypeError, match="iterative_magnitude_pruning: expected a deepnotes Module"):
        ip.iterative_magnitude_pruning("model", None, [0.5])
    ours, _, _, _ = _models()
    with pytest.raises(TypeError, match="fine_tune must be a callable"):
        ip.iterative_magnitude_pruning(ours, 3, [0.5])
    with pytest.raises(ValueError, match="no Linear or Conv2d weight"):
        ip.iterative_magnitude_pruning(dn.nn.ReLU(), None, [0.5])
