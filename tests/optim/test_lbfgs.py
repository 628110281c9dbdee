"""L-BFGS follows torch's iterates on the extended Rosenbrock function.

Ours gets the loss and the analytic gradient computed in numpy inside the closure; torch gets them
from autograd.  Parameters are split across two tensors of different shapes.

Rounding differences of one ulp (numpy's analytic gradient and dot products against torch's
autograd and kernels) are amplified along Rosenbrock's curved valley, so intermediate iterates are
compared with rtol 1e-4; the evaluation and iteration counts must agree exactly, and both runs
reach the same minimiser.
"""

import numpy as np
import pytest
import torch

import deepnotes.optim as dopt
from deepnotes.nn import Parameter

X0 = np.array([-1.2, 1.0, -0.8, 1.1, 0.3, -0.5, 1.4, 0.9, -1.0, 0.2])
SPLIT = 4


@pytest.fixture(autouse=True)
def _torch_float64():
    old, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)  # small tensors: thread hand-offs only cost time
    yield
    torch.set_default_dtype(old)
    torch.set_num_threads(threads)


def rosenbrock_np(x):
    a, b = x[:-1], x[1:]
    f = np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[1:] += 200.0 * (b - a * a)
    return f, g


def rosenbrock_torch(x):
    a, b = x[:-1], x[1:]
    return torch.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def make_ours(x0=X0):
    return [Parameter(x0[:SPLIT].copy()), Parameter(x0[SPLIT:].reshape(2, 3).copy())]


def make_theirs(x0=X0):
    return [
        torch.tensor(x0[:SPLIT].copy(), requires_grad=True),
        torch.tensor(x0[SPLIT:].reshape(2, 3).copy(), requires_grad=True),
    ]


def closure_ours(opt, params, counter):
    def closure():
        opt.zero_grad()
        x = np.concatenate([p.data.reshape(-1) for p in params])
        f, g = rosenbrock_np(x)
        params[0].grad = g[:SPLIT].copy()
        params[1].grad = g[SPLIT:].reshape(2, 3).copy()
        counter[0] += 1
        return f

    return closure


def closure_theirs(opt, params):
    def closure():
        opt.zero_grad()
        loss = rosenbrock_torch(torch.cat([p.reshape(-1) for p in params]))
        loss.backward()
        return loss

    return closure


def flat(params):
    return np.concatenate([np.asarray(p.data if isinstance(p, Parameter) else p.detach()).reshape(-1) for p in params])


CASES = [
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=3, max_iter=5),
    dict(line_search_fn="strong_wolfe", lr=0.7, max_iter=7, max_eval=9),
    dict(lr=0.05, history_size=5, max_iter=10),
    dict(lr=0.02, max_iter=4, tolerance_change=1e-5),
]


@pytest.mark.parametrize("kwargs", CASES)
def test_lbfgs_matches_torch(kwargs):
    ours, theirs = make_ours(), make_theirs()
    opt_o, opt_t = dopt.LBFGS(ours, **kwargs), torch.optim.LBFGS(theirs, **kwargs)
    counter = [0]
    c_o, c_t = closure_ours(opt_o, ours, counter), closure_theirs(opt_t, theirs)
    for k in range(30):
        loss_o = opt_o.step(c_o)
        loss_t = opt_t.step(c_t)
        np.testing.assert_allclose(loss_o, loss_t.item(), rtol=1e-4, atol=1e-8, err_msg=f"call {k}")
        np.testing.assert_allclose(flat(ours), flat(theirs), rtol=1e-4, atol=1e-6, err_msg=f"call {k}")
        st_o, st_t = opt_o.state[ours[0]], opt_t.state[theirs[0]]
        assert st_o["func_evals"] == st_t["func_evals"]
        assert st_o["n_iter"] == st_t["n_iter"]
        assert len(st_o["old_dirs"]) == len(st_t["old_dirs"])
    assert counter[0] == opt_o.state[ours[0]]["func_evals"]
    if kwargs.get("line_search_fn"):
        f_final, _ = rosenbrock_np(flat(ours))
        assert f_final < 1e-8  # it did converge (not a vacuous comparison)
        np.testing.assert_allclose(flat(ours), flat(theirs), rtol=0, atol=1e-6)
        np.testing.assert_allclose(flat(ours), np.ones(10), atol=1e-4)


def test_lbfgs_state_dict_round_trip():
    kwargs = dict(line_search_fn="strong_wolfe", history_size=4, max_iter=3)
    ours, theirs = make_ours(), make_theirs()
    opt_o, opt_t = dopt.LBFGS(ours, **kwargs), torch.optim.LBFGS(theirs, **kwargs)
    counter = [0]
    for k in range(10):
        if k == 4:
            sd = opt_o.state_dict()
            assert set(sd["state"][0]) == set(opt_t.state_dict()["state"][0])
            ours = [Parameter(p.data.copy()) for p in ours]
            opt_o = dopt.LBFGS(ours, **kwargs)
            opt_o.load_state_dict(sd)
        opt_o.step(closure_ours(opt_o, ours, counter))
        opt_t.step(closure_theirs(opt_t, theirs))
        np.testing.assert_allclose(flat(ours), flat(theirs), rtol=1e-9, atol=1e-11)


def test_lbfgs_stops_at_optimum_and_validates():
    ours = make_ours(np.ones(10))
    opt = dopt.LBFGS(ours)
    counter = [0]
    loss = opt.step(closure_ours(opt, ours, counter))
    assert loss == 0.0 and counter[0] == 1  # gradient is zero: one evaluation only
    with pytest.raises(TypeError, match="LBFGS.step: a closure"):
        opt.step(None)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        dopt.LBFGS([{"params": [ours[0]]}, {"params": [ours[1]]}])
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        opt.add_param_group({"params": [Parameter(np.ones(2))]})
    with pytest.raises(ValueError, match="only 'strong_wolfe' is supported"):
        dopt.LBFGS(ours, line_search_fn="backtracking")
    with pytest.raises(ValueError, match="LBFGS: Invalid learning rate: -1"):
        dopt.LBFGS(ours, lr=-1)
    with pytest.raises(ValueError, match="LBFGS: Invalid history_size: 0"):
        dopt.LBFGS(ours, history_size=0)
