"""LR range test internals against oracles: the ramp equals torch's LambdaLR with the same
multiplier, the recorded losses equal those of the same loop run in torch, and the test stops where
heavy-ball gradient descent on a quadratic provably diverges."""

import numpy as np
import pytest
import torch

import deepnotes.optim as dopt
from deepnotes import nn
from deepnotes.optim.lr_finder import RangeTestLR, lr_range_test, suggest_lr

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("mode", ["exp", "linear"])
def test_ramp_matches_torch_lambda(mode):
    n, end = 50, 3.0
    lrs = (1e-4, 1e-3)
    if mode == "exp":

        def mult(base):
            return lambda e: (end / base) ** (e / (n - 1))
    else:

        def mult(base):
            return lambda e: 1 + e / (n - 1) * (end - base) / base

    pt = [torch.zeros(1, requires_grad=True) for _ in lrs]
    opt_t = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(pt, lrs)])
    ref = torch.optim.lr_scheduler.LambdaLR(opt_t, [mult(b) for b in lrs])
    po = [nn.Parameter(np.zeros(1)) for _ in lrs]
    opt_o = dopt.SGD([{"params": [p], "lr": lr} for p, lr in zip(po, lrs)])
    ours = RangeTestLR(opt_o, end_lr=end, num_iter=n, mode=mode)
    for _ in range(n - 1):
        np.testing.assert_allclose(ours.get_last_lr(), ref.get_last_lr(), rtol=1e-12)
        ours.step()
        ref.step()
    np.testing.assert_allclose(ours.get_last_lr(), [end, end], rtol=1e-12)


CURV = np.array([0.5, 2.0, 8.0, 1.0])
TARGET = np.array([1.0, -2.0, 0.5, 3.0])


def test_range_test_matches_torch_loop_and_diverges_past_the_stability_limit():
    w = nn.Parameter(np.zeros(4))
    opt = dopt.SGD([w], lr=0.123, momentum=0.5)
    w.grad = np.ones(4)
    opt.step()  # leaves a momentum buffer, which the test must restore
    before_w, before_state = w.data.copy(), opt.state_dict()

    def train_step():
        opt.zero_grad()
        w.grad = CURV * (w.data - TARGET)
        return 0.5 * float(np.sum(CURV * (w.data - TARGET) ** 2))

    res = lr_range_test(opt, train_step, start_lr=1e-4, end_lr=10.0, num_iter=200)

    # oracle: the same ramp and loop in torch, from the same momentum state
    wt = torch.tensor(before_w, requires_grad=True)
    opt_t = torch.optim.SGD([wt], lr=1e-4, momentum=0.5)
    opt_t.load_state_dict(
        {
            "state": {0: {"momentum_buffer": torch.ones(4, dtype=torch.float64)}},
            "param_groups": [dict(opt_t.param_groups[0], params=[0])],
        }
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt_t, lambda e: (10.0 / 1e-4) ** (e / 199))
    losses = []
    for _ in range(len(res.losses)):
        opt_t.zero_grad()
        loss = 0.5 * torch.sum(torch.from_numpy(CURV) * (wt - torch.from_numpy(TARGET)) ** 2)
        loss.backward()
        losses.append(loss.item())
        opt_t.step()
        sched.step()
    np.testing.assert_allclose(res.losses, losses, rtol=1e-9)

    assert res.diverged and len(res.lrs) < 200
    # heavy-ball momentum m on curvature L is stable iff lr < 2 (1 + m) / L
    limit = 2 * 1.5 / CURV.max()
    assert res.lrs[-1] > limit
    assert res.suggestion is not None and res.suggestion < limit
    assert res.min_loss_lr in res.lrs
    # everything restored
    np.testing.assert_array_equal(w.data, before_w)
    assert opt.param_groups[0]["lr"] == 0.123 and "initial_lr" not in opt.param_groups[0]
    np.testing.assert_array_equal(opt.state[w]["momentum_buffer"], before_state["state"][0]["momentum_buffer"])
    # smoothed losses are the bias-corrected moving average (beta = 0.98)
    avg, expect = 0.0, []
    for i, x in enumerate(res.losses):
        avg = 0.98 * avg + 0.02 * x
        expect.append(avg / (1 - 0.98 ** (i + 1)))
    np.testing.assert_allclose(res.smoothed, expect, rtol=1e-12)


def test_suggestion_is_steepest_descent():
    lrs = np.logspace(-5, 0, 30)
    loss = 1 / (1 + np.exp((np.log10(lrs) + 2.5) * 4))  # falls fastest at lr = 10^-2.5
    assert abs(np.log10(suggest_lr(lrs, loss)) + 2.5) < 0.2
    assert suggest_lr(lrs[:4], loss[:4]) is None


def test_range_test_bad_input():
    w = nn.Parameter(np.zeros(2))
    opt = dopt.SGD([w])
    with pytest.raises(ValueError, match="lr_range_test: need 0 < start_lr < end_lr"):
        lr_range_test(opt, lambda: 0.0, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="lr_range_test: num_iter must be at least 5"):
        lr_range_test(opt, lambda: 0.0, num_iter=2)
    with pytest.raises(TypeError, match="lr_range_test: train_step must be callable"):
        lr_range_test(opt, 3)
    with pytest.raises(ValueError, match="RangeTestLR: mode must be 'exp' or 'linear'"):
        RangeTestLR(opt, 1.0, 10, mode="cos")
