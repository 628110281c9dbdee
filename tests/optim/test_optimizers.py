"""Every optimizer, with every option, follows torch's parameter trajectory step by step.

Both sides start from the same float64 parameters and, at every step, receive the gradient of the
same function (a diagonal quadratic plus a fixed pseudo-random perturbation per step) evaluated at
their own current parameters: numpy computes ours, torch computes theirs.
"""

import itertools

import numpy as np
import pytest
import torch

import deepnotes.optim as dopt
from deepnotes.nn import Parameter
from deepnotes.optim import optimizer as optimizer_module

import _oracle as oracle

N_STEPS = 50
RTOL = 1e-10
ATOL = 1e-13
SHAPES = [(3, 4), (5,), (2, 3, 2), (70, 100)]  # the last one spans several update blocks


@pytest.fixture(autouse=True)
def _torch_float64():
    old, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)  # small tensors: thread hand-offs only cost time
    yield
    torch.set_default_dtype(old)
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch):
    """Blocks of 1024 elements, so the (70, 100) parameter is updated in 7 blocks + a remainder."""
    monkeypatch.setattr(optimizer_module, "_BLOCK_BYTES", 1024)


class Problem:
    """Initial values, a quadratic's curvature/target and per-step perturbations for each shape."""

    def __init__(self, seed, shapes=SHAPES, n_steps=N_STEPS, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.x0 = [rng.normal(size=s).astype(dtype) for s in shapes]
        self.curv = [rng.uniform(0.2, 2.0, size=s).astype(dtype) for s in shapes]
        self.target = [rng.normal(size=s).astype(dtype) for s in shapes]
        self.noise = [[rng.normal(scale=0.3, size=s).astype(dtype) for s in shapes] for _ in range(n_steps)]
        self.dtype = dtype

    def ours(self):
        return [Parameter(x.copy()) for x in self.x0]

    def theirs(self):
        return [torch.tensor(x.copy(), requires_grad=True) for x in self.x0]

    def set_grads_ours(self, params, k, skip=()):
        for i, p in enumerate(params):
            if i in skip:
                p.grad = None
                continue
            p.grad = self.curv[i] * (p.data - self.target[i]) + self.noise[k][i]

    def set_grads_theirs(self, params, k, skip=()):
        for i, p in enumerate(params):
            if i in skip:
                p.grad = None
                continue
            with torch.no_grad():
                p.grad = torch.from_numpy(self.curv[i]) * (p - torch.from_numpy(self.target[i])) + torch.from_numpy(
                    self.noise[k][i]
                )


def assert_params_close(ours, theirs, rtol=RTOL, atol=ATOL, msg=""):
    for i, (a, b) in enumerate(zip(ours, theirs)):
        oracle.assert_close(a, b, rtol, atol, what=f"{msg} param {i}")


def skip_pattern(k):
    """Some parameters receive no gradient on some steps (both libraries skip them)."""
    return {1} if k % 7 == 3 else ()


def run_both(name, kwargs, problem, n_steps=N_STEPS, rtol=RTOL, atol=ATOL):
    ours, theirs = problem.ours(), problem.theirs()
    opt_o = getattr(dopt, name)(ours, **kwargs)
    opt_t = getattr(torch.optim, name)(theirs, foreach=False, **kwargs)
    for k in range(n_steps):
        problem.set_grads_ours(ours, k, skip_pattern(k))
        problem.set_grads_theirs(theirs, k, skip_pattern(k))
        opt_o.step()
        opt_t.step()
        assert_params_close(ours, theirs, rtol, atol, msg=f"{name}{kwargs} step {k}")
    return opt_o, opt_t


def grid(**axes):
    keys = list(axes)
    return [dict(zip(keys, values)) for values in itertools.product(*(axes[k] for k in keys))]


CASES = []
for kw in grid(
    momentum=[0.0, 0.9], dampening=[0.0, 0.3], weight_decay=[0.0, 0.1], nesterov=[False, True], maximize=[False, True]
):
    if kw["nesterov"] and (kw["momentum"] == 0 or kw["dampening"] != 0):
        continue
    CASES.append(("SGD", dict(lr=0.05, **kw)))
for kw in grid(
    amsgrad=[False, True], weight_decay=[0.0, 0.1], maximize=[False, True], decoupled_weight_decay=[False, True]
):
    CASES.append(("Adam", dict(lr=0.01, **kw)))
CASES.append(("Adam", dict(lr=0.02, betas=(0.3, 0.8), eps=1e-3)))  # lerp's weight >= 0.5 branch
CASES.append(("Adam", dict(lr=0.02, betas=(0.0, 0.0), amsgrad=True)))
for kw in grid(amsgrad=[False, True], weight_decay=[0.0, 0.05], maximize=[False, True]):
    CASES.append(("AdamW", dict(lr=0.01, **kw)))
CASES.append(("AdamW", dict(lr=0.01, betas=(0.4, 0.95))))
for kw in grid(
    lr_decay=[0.0, 0.05], initial_accumulator_value=[0.0, 0.5], weight_decay=[0.0, 0.1], maximize=[False, True]
):
    CASES.append(("Adagrad", dict(lr=0.1, **kw)))
CASES.append(("Adagrad", dict(lr=0.1, eps=1e-3)))
for kw in grid(rho=[0.9, 0.5], weight_decay=[0.0, 0.1], maximize=[False, True]):
    CASES.append(("Adadelta", dict(lr=1.0, **kw)))
CASES.append(("Adadelta", dict(lr=0.5, rho=0.95, eps=1e-4)))
for kw in grid(momentum=[0.0, 0.8], centered=[False, True], weight_decay=[0.0, 0.1], maximize=[False, True]):
    CASES.append(("RMSprop", dict(lr=0.01, **kw)))
CASES.append(("RMSprop", dict(lr=0.01, alpha=0.3, eps=1e-4, momentum=0.5, centered=True)))
for kw in grid(weight_decay=[0.0, 0.1], maximize=[False, True]):
    CASES.append(("Adamax", dict(lr=0.02, **kw)))
CASES.append(("Adamax", dict(lr=0.02, betas=(0.2, 0.5), eps=1e-4)))
for kw in grid(
    momentum_decay=[4e-3, 0.1], weight_decay=[0.0, 0.1], decoupled_weight_decay=[False, True], maximize=[False, True]
):
    CASES.append(("NAdam", dict(lr=0.01, **kw)))
CASES.append(("NAdam", dict(lr=0.01, betas=(0.35, 0.9), eps=1e-4)))


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, kwargs):
    run_both(name, kwargs, Problem(seed=len(name) + 7))


DEFAULTS = ["SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop", "Adamax", "NAdam"]


@pytest.mark.parametrize("name", DEFAULTS)
def test_defaults_match_torch(name):
    """Constructor defaults equal torch's (compared through the param group of each)."""
    p = Parameter(np.zeros(2))
    ours = getattr(dopt, name)([p]).param_groups[0]
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).param_groups[0]
    for key, value in ours.items():
        if key != "params":
            assert theirs[key] == value, key
    run_both(name, {}, Problem(seed=3, shapes=[(4,), (3, 2)]), n_steps=20)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
        ("Adam", dict(lr=0.01, amsgrad=True)),
        ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
        ("NAdam", dict(lr=0.01)),
        ("Adagrad", dict(lr=0.1)),
    ],
)
def test_float32_close_to_torch(name, kwargs):
    problem = Problem(seed=11, dtype=np.float32)
    ours, theirs = problem.ours(), problem.theirs()
    opt_o = getattr(dopt, name)(ours, **kwargs)
    opt_t = getattr(torch.optim, name)(theirs, foreach=False, **kwargs)
    for k in range(30):
        problem.set_grads_ours(ours, k)
        problem.set_grads_theirs(theirs, k)
        opt_o.step()
        opt_t.step()
    for p in ours:
        assert p.data.dtype == np.float32
    for state in opt_o.state.values():
        for v in state.values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32
    assert_params_close(ours, theirs, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
        ("Adam", dict(lr=0.01, weight_decay=0.1)),
        ("Adadelta", dict(rho=0.8)),
        ("RMSprop", dict(momentum=0.5, centered=True)),
        ("Adamax", dict()),
        ("NAdam", dict()),
        ("Adagrad", dict()),
    ],
)
def test_non_contiguous_parameter(name, kwargs):
    """A parameter viewing a transposed array is updated in place like any other."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(6, 9))
    p = Parameter(base.T)  # Fortran-ordered view
    assert not p.data.flags.c_contiguous
    q = torch.tensor(base.T.copy(), requires_grad=True)
    opt_o = getattr(dopt, name)([p], **kwargs)
    opt_t = getattr(torch.optim, name)([q], foreach=False, **kwargs)
    for _ in range(20):
        g = rng.normal(size=(9, 6))
        p.grad = g + p.data
        with torch.no_grad():
            q.grad = torch.from_numpy(g) + q
        opt_o.step()
        opt_t.step()
    np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=RTOL, atol=ATOL)
    assert np.shares_memory(p.data, base)


@pytest.mark.parametrize("name", DEFAULTS)
def test_param_groups_and_add_param_group(name):
    """Two groups with different hyper-parameters, and a third group added after 15 steps."""
    problem = Problem(seed=21, shapes=[(4, 3), (6,), (2, 5), (3,)])
    ours, theirs = problem.ours(), problem.theirs()
    if name == "Adagrad":
        extra = dict(lr=0.3, lr_decay=0.01)
        added = dict(lr=0.05, weight_decay=0.2)
    elif name == "Adadelta":
        extra = dict(lr=0.5, rho=0.7)
        added = dict(lr=2.0, weight_decay=0.2)
    else:
        extra = dict(lr=0.003, weight_decay=0.05)
        added = dict(lr=0.02, weight_decay=0.2)
    if name == "SGD":
        extra["momentum"] = 0.9
    common = dict(lr=0.01) if name != "Adadelta" else {}

    def groups(params):
        return [{"params": params[:2]}, {"params": [params[2]], **extra}]

    opt_o = getattr(dopt, name)(groups(ours), **common)
    opt_t = getattr(torch.optim, name)(groups(theirs), foreach=False, **common)
    for k in range(N_STEPS):
        if k == 15:
            opt_o.add_param_group({"params": [ours[3]], **added})
            opt_t.add_param_group({"params": [theirs[3]], **added})
        skip = (3,) if k < 15 else ()
        problem.set_grads_ours(ours, k, skip)
        problem.set_grads_theirs(theirs, k, skip)
        opt_o.step()
        opt_t.step()
        assert_params_close(ours, theirs, msg=f"{name} step {k}")
    assert len(opt_o.param_groups) == 3
    for go, gt in zip(opt_o.param_groups, opt_t.param_groups):
        for key in go:
            if key != "params":
                assert go[key] == gt[key], key


def _torch_state_to_numpy(sd):
    state = {
        i: {
            k: (float(v) if torch.is_tensor(v) and v.ndim == 0 else v.numpy().copy() if torch.is_tensor(v) else v)
            for k, v in s.items()
        }
        for i, s in sd["state"].items()
    }
    return {"state": state, "param_groups": sd["param_groups"]}


ROUND_TRIP = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adamax", dict()),
    ("NAdam", dict(lr=0.01, momentum_decay=0.05)),
]


@pytest.mark.parametrize("name,kwargs", ROUND_TRIP, ids=[n for n, _ in ROUND_TRIP])
def test_state_dict_round_trip(name, kwargs):
    """Save after 20 steps, rebuild the optimizer, load, continue: trajectory unchanged."""
    problem = Problem(seed=33, shapes=[(3, 4), (5,), (2, 2)])
    ours, theirs = problem.ours(), problem.theirs()

    def build(params, lib):
        opt = getattr(lib, name)(
            [{"params": params[:2]}, {"params": params[2:], "lr": 0.003}],
            **kwargs,
            **({} if lib is dopt else {"foreach": False}),
        )
        return opt

    opt_o, opt_t = build(ours, dopt), build(theirs, torch.optim)
    for k in range(N_STEPS):
        if k == 20:
            sd = opt_o.state_dict()
            # torch's layout: same state keys per index and same group entries
            sd_t = opt_t.state_dict()
            assert sorted(sd["state"]) == sorted(sd_t["state"])
            for i in sd["state"]:
                assert set(sd["state"][i]) == set(sd_t["state"][i])
                for key, value in sd["state"][i].items():
                    np.testing.assert_allclose(np.asarray(value), sd_t["state"][i][key].numpy(), rtol=RTOL, atol=ATOL)
            for go, gt in zip(sd["param_groups"], sd_t["param_groups"]):
                assert go["params"] == gt["params"]
                assert all(gt[key] == value for key, value in go.items())
            # the snapshot does not alias the live state
            snap = {
                i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                for i, s in sd["state"].items()
            }
            new_params = [Parameter(p.data.copy()) for p in ours]
            opt_o = build(new_params, dopt)
            opt_o.load_state_dict(sd)
            ours = new_params
            problem.set_grads_ours(ours, k)
            opt_o.step()
            for i, s in sd["state"].items():
                for key, v in s.items():
                    np.testing.assert_array_equal(np.asarray(v), np.asarray(snap[i][key]))
        else:
            problem.set_grads_ours(ours, k)
            opt_o.step()
        problem.set_grads_theirs(theirs, k)
        opt_t.step()
        assert_params_close(ours, theirs, msg=f"{name} step {k}")


@pytest.mark.parametrize("name,kwargs", ROUND_TRIP, ids=[n for n, _ in ROUND_TRIP])
def test_load_torch_state_dict(name, kwargs):
    """A torch state_dict (tensors turned into numpy) loads into ours and continues identically."""
    problem = Problem(seed=41, shapes=[(3, 4), (5,)])
    ours, theirs = problem.ours(), problem.theirs()
    opt_t = getattr(torch.optim, name)(theirs, foreach=False, **kwargs)
    for k in range(10):
        problem.set_grads_theirs(theirs, k)
        opt_t.step()
    for p, q in zip(ours, theirs):
        p.data[...] = q.detach().numpy()
    opt_o = getattr(dopt, name)(ours, **kwargs)
    opt_o.load_state_dict(_torch_state_to_numpy(opt_t.state_dict()))
    for k in range(10, N_STEPS):
        problem.set_grads_ours(ours, k)
        problem.set_grads_theirs(theirs, k)
        opt_o.step()
        opt_t.step()
        assert_params_close(ours, theirs, msg=f"{name} step {k}")


def test_load_state_dict_mismatches():
    a, b, c = (Parameter(np.ones(s)) for s in [(2, 3), (4,), (5,)])
    opt = dopt.Adam([a, b], lr=0.1)
    for p in (a, b):
        p.grad = np.ones_like(p.data)
    opt.step()
    sd = opt.state_dict()

    with pytest.raises(ValueError, match="different number of parameter groups"):
        dopt.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        dopt.Adam([a, b, c]).load_state_dict(sd)
    with pytest.raises(
        ValueError,
        match=r"state\[0\]\['exp_avg'\] has shape \(2, 3\), but the "
        r"parameter has shape \(5,\)",
    ):
        dopt.Adam([c, b]).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"lacks hyper-parameters \['betas', 'eps'"):
        dopt.Adam([a, b]).load_state_dict(dopt.SGD([a, b]).state_dict())
    bad = dict(sd, state={**sd["state"], 7: sd["state"][0]})
    with pytest.raises(ValueError, match="parameter index 7"):
        dopt.Adam([a, b]).load_state_dict(bad)
    with pytest.raises(ValueError, match="expected a dict with keys 'state' and 'param_groups'"):
        dopt.Adam([a, b]).load_state_dict({"state": {}})


def test_zero_grad_and_closure():
    p = Parameter(np.arange(3.0))
    opt = dopt.SGD([p], lr=0.1)
    p.grad = np.ones(3)
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and not p.grad.any()
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradient: nothing changes
    np.testing.assert_array_equal(p.data, np.arange(3.0))

    def closure():
        opt.zero_grad()
        p.grad = 2 * p.data
        return float((p.data**2).sum())

    assert opt.step(closure) == 5.0
    np.testing.assert_allclose(p.data, np.arange(3.0) * 0.8)


def test_named_parameters_and_repr():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    opt = dopt.Adam([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]
    text = repr(opt)
    assert text.startswith("Adam (") and "lr: 0.1" in text
    ref = torch.optim.Adam([("w", torch.ones(2, requires_grad=True))], lr=0.1)
    assert "param_names" in ref.param_groups[0]
