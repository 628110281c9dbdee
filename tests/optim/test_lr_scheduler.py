"""Every schedule gives torch's learning-rate sequence over 100 epochs and survives a state_dict
round trip half-way (save optimizer + scheduler, rebuild both, load, continue)."""

import math
import warnings
from bisect import bisect_right

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as T

import deepnotes.optim as dopt
from deepnotes.nn import Parameter
from deepnotes.optim import lr_scheduler as D

EPOCHS = 100
SAVE_AT = 37
RTOL = 1e-13

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def make_opt(lib, kind="SGD", lrs=(0.1, 0.03)):
    """An optimizer with two param groups of different learning rates."""
    if lib == "torch":
        ps = [torch.zeros(2, requires_grad=True) for _ in lrs]
        cls = getattr(torch.optim, kind)
    else:
        ps = [Parameter(np.zeros(2)) for _ in lrs]
        cls = getattr(dopt, kind)
    groups = [{"params": [p], "lr": lr} for p, lr in zip(ps, lrs)]
    return cls(groups, momentum=0.9) if kind == "SGD" else cls(groups)


# name -> (optimizer kind, builder(module, opt) -> scheduler, uses_metric)
def _seq(m, o):
    return m.SequentialLR(
        o,
        [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=95, eta_min=1e-4)],
        milestones=[5],
    )


def _seq3(m, o):
    return m.SequentialLR(
        o,
        [
            m.ConstantLR(o, factor=0.5, total_iters=4),
            m.ExponentialLR(o, gamma=0.9),
            m.StepLR(o, step_size=6, gamma=0.5),
        ],
        milestones=[10, 40],
    )


def _chain(m, o):
    return m.ChainedScheduler([m.LinearLR(o, start_factor=0.2, total_iters=8), m.ExponentialLR(o, gamma=0.97)])


def _chain3(m, o):
    return m.ChainedScheduler(
        [
            m.ConstantLR(o, factor=0.25, total_iters=12),
            m.MultiStepLR(o, milestones=[20, 50], gamma=0.3),
            m.CosineAnnealingLR(o, T_max=40),
        ]
    )


def _seq_of_chain(m, o):
    chained = m.ChainedScheduler([m.LinearLR(o, start_factor=0.05, total_iters=10), m.ExponentialLR(o, gamma=0.98)])
    return m.SequentialLR(o, [chained, m.StepLR(o, step_size=15, gamma=0.5)], milestones=[30])


def _poly_then_cos(m, o):
    return m.SequentialLR(
        o,
        [m.PolynomialLR(o, total_iters=20, power=0.5), m.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=2)],
        milestones=[30],
    )


CASES = {
    "lambda": ("SGD", lambda m, o: m.LambdaLR(o, lambda e: 0.95**e), False),
    "lambda_per_group": ("SGD", lambda m, o: m.LambdaLR(o, [lambda e: 1 / (1 + e), lambda e: 0.9 ** (e // 3)]), False),
    "multiplicative": ("SGD", lambda m, o: m.MultiplicativeLR(o, lambda e: 0.97), False),
    "step": ("SGD", lambda m, o: m.StepLR(o, step_size=7, gamma=0.5), False),
    "multistep": ("SGD", lambda m, o: m.MultiStepLR(o, milestones=[10, 25, 25, 60], gamma=0.3), False),
    "constant": ("SGD", lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=10), False),
    "linear_warmup": ("SGD", lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=15), False),
    "linear_decay": ("SGD", lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=30), False),
    "exponential": ("SGD", lambda m, o: m.ExponentialLR(o, gamma=0.96), False),
    "polynomial": ("SGD", lambda m, o: m.PolynomialLR(o, total_iters=60, power=2.0), False),
    "cosine": ("SGD", lambda m, o: m.CosineAnnealingLR(o, T_max=30, eta_min=0.001), False),
    "cosine_long": ("SGD", lambda m, o: m.CosineAnnealingLR(o, T_max=100), False),
    "warm_restarts_mult2": (
        "SGD",
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2, eta_min=1e-4),
        False,
    ),
    "warm_restarts": ("SGD", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=9), False),
    "cyclic_triangular": (
        "SGD",
        lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=7, step_size_down=5),
        False,
    ),
    "cyclic_triangular2": (
        "SGD",
        lambda m, o: m.CyclicLR(
            o,
            base_lr=[0.01, 0.02],
            max_lr=0.1,
            step_size_up=6,
            mode="triangular2",
            base_momentum=0.7,
            max_momentum=0.95,
        ),
        False,
    ),
    "cyclic_exp_range": (
        "SGD",
        lambda m, o: m.CyclicLR(
            o, base_lr=0.001, max_lr=[0.1, 0.05], step_size_up=4, step_size_down=9, mode="exp_range", gamma=0.97
        ),
        False,
    ),
    "cyclic_adam_beta1": ("Adam", lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=10), False),
    "cyclic_no_momentum": (
        "Adagrad",
        lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=5, cycle_momentum=False),
        False,
    ),
    "cyclic_custom_fn": (
        "SGD",
        lambda m, o: m.CyclicLR(
            o,
            base_lr=0.01,
            max_lr=0.2,
            step_size_up=3,
            scale_fn=lambda x: 0.5 * (1 + math.sin(x)),
            scale_mode="iterations",
        ),
        False,
    ),
    "onecycle_cos": ("SGD", lambda m, o: m.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=EPOCHS), False),
    "onecycle_linear_adam": (
        "Adam",
        lambda m, o: m.OneCycleLR(
            o, max_lr=0.01, epochs=10, steps_per_epoch=10, anneal_strategy="linear", pct_start=0.25
        ),
        False,
    ),
    "onecycle_three_phase": (
        "SGD",
        lambda m, o: m.OneCycleLR(
            o, max_lr=0.1, total_steps=EPOCHS, three_phase=True, div_factor=10.0, final_div_factor=100.0
        ),
        False,
    ),
    "onecycle_no_momentum": (
        "Adagrad",
        lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=EPOCHS, cycle_momentum=False),
        False,
    ),
    "plateau_min_rel": ("SGD", lambda m, o: m.ReduceLROnPlateau(o, patience=3, factor=0.5), True),
    "plateau_max_abs": (
        "SGD",
        lambda m, o: m.ReduceLROnPlateau(
            o, mode="max", threshold_mode="abs", threshold=0.01, patience=2, cooldown=3, min_lr=[0.001, 0.0005]
        ),
        True,
    ),
    "plateau_cooldown": (
        "SGD",
        lambda m, o: m.ReduceLROnPlateau(o, patience=0, cooldown=2, factor=0.7, min_lr=1e-3),
        True,
    ),
    "sequential_warmup_cosine": ("SGD", _seq, False),
    "sequential_three": ("SGD", _seq3, False),
    "chained_warmup_exp": ("SGD", _chain, False),
    "chained_three": ("SGD", _chain3, False),
    "sequential_of_chained": ("SGD", _seq_of_chain, False),
    "sequential_poly_restarts": ("SGD", _poly_then_cos, False),
}


def metric(epoch):
    """A noisy, plateauing validation metric."""
    return 1.0 / (1 + epoch) ** 0.3 + 0.05 * math.sin(1.7 * epoch) + (0.2 if 40 < epoch < 45 else 0)


def momenta(opt):
    out = []
    for g in opt.param_groups:
        if "betas" in g:
            out.append(float(g["betas"][0]))
        elif "momentum" in g:
            out.append(float(g["momentum"]))
    return out


def step(sched, opt, epoch, uses_metric):
    opt.step()
    if uses_metric:
        sched.step(metric(epoch))
    else:
        sched.step()


def assert_same(ours, theirs, opt_o, opt_t, where):
    np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=RTOL, atol=0, err_msg=where)
    np.testing.assert_allclose(
        [g["lr"] for g in opt_o.param_groups], [g["lr"] for g in opt_t.param_groups], rtol=RTOL, atol=0, err_msg=where
    )
    np.testing.assert_allclose(momenta(opt_o), momenta(opt_t), rtol=RTOL, atol=0, err_msg=where)


@pytest.mark.parametrize("case", list(CASES))
def test_schedule_matches_torch(case):
    kind, build, uses_metric = CASES[case]
    opt_t, opt_o = make_opt("torch", kind), make_opt("ours", kind)
    s_t, s_o = build(T, opt_t), build(D, opt_o)
    assert_same(s_o, s_t, opt_o, opt_t, f"{case} at construction")
    for epoch in range(1, EPOCHS + 1):
        if epoch == SAVE_AT:
            sd_sched, sd_opt = s_o.state_dict(), opt_o.state_dict()
            opt_o = make_opt("ours", kind, lrs=(0.5, 0.5))
            s_o = build(D, opt_o)
            opt_o.load_state_dict(sd_opt)
            s_o.load_state_dict(sd_sched)
            assert getattr(s_o, "last_epoch", None) == getattr(s_t, "last_epoch", None)
        step(s_t, opt_t, epoch, uses_metric)
        step(s_o, opt_o, epoch, uses_metric)
        assert_same(s_o, s_t, opt_o, opt_t, f"{case} epoch {epoch}")
    assert getattr(s_o, "last_epoch", None) == getattr(s_t, "last_epoch", None)


def test_sequence_actually_varies():
    """Guard against a vacuous comparison: the compared sequences change over the epochs."""
    for case in ("cosine", "cyclic_triangular", "onecycle_cos", "sequential_warmup_cosine", "plateau_min_rel"):
        kind, build, uses_metric = CASES[case]
        opt = make_opt("ours", kind)
        sched = build(D, opt)
        seen = {round(sched.get_last_lr()[0], 12)}
        for epoch in range(1, EPOCHS + 1):
            step(sched, opt, epoch, uses_metric)
            seen.add(round(sched.get_last_lr()[0], 12))
        assert len(seen) > 3, case


@pytest.mark.parametrize(
    "case",
    ["step", "multistep", "exponential", "cosine", "polynomial", "linear_warmup", "constant", "warm_restarts_mult2"],
)
def test_explicit_epoch_closed_form(case):
    kind, build, _ = CASES[case]
    opt_t, opt_o = make_opt("torch", kind), make_opt("ours", kind)
    s_t, s_o = build(T, opt_t), build(D, opt_o)
    for epoch in [3, 7, 12, 30, 31, 45, 80, 20]:
        s_t.step(epoch)
        s_o.step(epoch)
        assert_same(s_o, s_t, opt_o, opt_t, f"{case} epoch {epoch}")
    if case == "warm_restarts_mult2":
        for epoch in [0.5, 13.25, 41.7]:
            s_t.step(epoch)
            s_o.step(epoch)
            assert_same(s_o, s_t, opt_o, opt_t, f"{case} epoch {epoch}")


# ---------------------------------------------------------------- schedules torch does not have
NAT = [dict(gamma=0.05), dict(gamma=0.3, decay_steps=7, staircase=True), dict(gamma=0.1, decay_steps=4)]


@pytest.mark.parametrize("kw", NAT)
def test_natural_exp_matches_lambda_formula(kw):
    """lr = lr0 * exp(-gamma * p(epoch)), oracle: torch's LambdaLR with that multiplier."""
    ds, stair = kw.get("decay_steps", 1), kw.get("staircase", False)

    def factor(e):
        p = (e // ds) if stair else e / ds
        return math.exp(-kw["gamma"] * p)

    opt_t, opt_o = make_opt("torch"), make_opt("ours")
    s_t, s_o = T.LambdaLR(opt_t, factor), D.NaturalExpLR(opt_o, **kw)
    for epoch in range(1, EPOCHS + 1):
        if epoch == SAVE_AT:
            sd_s, sd_o = s_o.state_dict(), opt_o.state_dict()
            opt_o = make_opt("ours")
            s_o = D.NaturalExpLR(opt_o, **kw)
            opt_o.load_state_dict(sd_o)
            s_o.load_state_dict(sd_s)
        step(s_t, opt_t, epoch, False)
        step(s_o, opt_o, epoch, False)
        np.testing.assert_allclose(s_o.get_last_lr(), s_t.get_last_lr(), rtol=1e-12)
    s_o.step(50)
    s_t.step(50)
    np.testing.assert_allclose(s_o.get_last_lr(), s_t.get_last_lr(), rtol=1e-15)


def test_natural_exp_chains_with_warmup():
    """Chained with a linear warm-up, the product equals torch's warm-up times exp decay."""
    opt_t, opt_o = make_opt("torch"), make_opt("ours")
    ref = T.ChainedScheduler(
        [T.LinearLR(opt_t, start_factor=0.1, total_iters=5), T.ExponentialLR(opt_t, gamma=math.exp(-0.07))]
    )
    ours = D.ChainedScheduler([D.LinearLR(opt_o, start_factor=0.1, total_iters=5), D.NaturalExpLR(opt_o, gamma=0.07)])
    for epoch in range(1, EPOCHS + 1):
        step(ref, opt_t, epoch, False)
        step(ours, opt_o, epoch, False)
        np.testing.assert_allclose(ours.get_last_lr(), ref.get_last_lr(), rtol=1e-12)


def test_piecewise_constant_matches_multistep():
    lr0, gamma, milestones = 0.1, 0.3, [10, 25, 60]
    values = [lr0, lr0 * gamma, lr0 * gamma * gamma, lr0 * gamma * gamma * gamma]
    opt_t, opt_o = make_opt("torch", lrs=(lr0,)), make_opt("ours", lrs=(lr0,))
    s_t = T.MultiStepLR(opt_t, milestones, gamma=gamma)
    s_o = D.PiecewiseConstantLR(opt_o, boundaries=milestones, values=values)
    for epoch in range(1, EPOCHS + 1):
        if epoch == SAVE_AT:
            sd = s_o.state_dict()
            opt_o = make_opt("ours", lrs=(lr0,))
            s_o = D.PiecewiseConstantLR(opt_o, boundaries=[1], values=[1.0, 2.0])
            s_o.load_state_dict(sd)
        step(s_t, opt_t, epoch, False)
        step(s_o, opt_o, epoch, False)
        assert s_o.get_last_lr() == s_t.get_last_lr()


def test_piecewise_constant_per_group_values():
    boundaries = [5, 12, 40]
    values = [[0.1, 0.05, 0.01, 0.001], [0.3, 0.2, 0.1, 0.0]]
    base = (1.0, 1.0)
    opt_t, opt_o = make_opt("torch", lrs=base), make_opt("ours", lrs=(0.7, 0.9))
    s_t = T.LambdaLR(opt_t, [lambda e, v=v: v[bisect_right(boundaries, e)] for v in values])
    s_o = D.PiecewiseConstantLR(opt_o, boundaries, values)
    assert s_o.get_last_lr() == s_t.get_last_lr()
    for epoch in range(1, EPOCHS + 1):
        step(s_t, opt_t, epoch, False)
        step(s_o, opt_o, epoch, False)
        assert s_o.get_last_lr() == s_t.get_last_lr()


# ---------------------------------------------------------------- warnings and errors
def test_warns_when_scheduler_steps_before_optimizer():
    opt = make_opt("ours")
    sched = D.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = make_opt("ours")
    sched2 = D.StepLR(opt2, step_size=2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_lambda_state_dict_saves_callable_objects():
    class Decay:
        def __init__(self):
            self.rate = 0.9

        def __call__(self, epoch):
            return self.rate**epoch

    opt = make_opt("ours")
    fn = Decay()
    sched = D.LambdaLR(opt, fn)
    fn.rate = 0.5
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"rate": 0.5}, {"rate": 0.5}]
    fn2 = Decay()
    sched2 = D.LambdaLR(make_opt("ours"), fn2)
    sched2.load_state_dict(sd)
    assert fn2.rate == 0.5


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    "build,exc,msg",
    [
        (lambda o: D.StepLR(o, step_size=0), ValueError, "StepLR: expected an integer step_size >= 1"),
        (lambda o: D.LinearLR(o, start_factor=0), ValueError, "LinearLR: Starting multiplicative"),
        (lambda o: D.LinearLR(o, end_factor=1.5), ValueError, "LinearLR: Ending multiplicative"),
        (lambda o: D.ConstantLR(o, factor=2.0), ValueError, "ConstantLR: Constant multiplicative"),
        (lambda o: D.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "Expected positive integer T_0"),
        (lambda o: D.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=0), ValueError, "Expected integer T_mult >= 1"),
        (lambda o: D.CyclicLR(o, 0.01, 0.1, mode="bogus"), ValueError, "CyclicLR: mode 'bogus' is invalid"),
        (lambda o: D.CyclicLR(o, [0.01], 0.1), ValueError, "base_lr must have the same length"),
        (lambda o: D.OneCycleLR(o, 0.1), ValueError, "You must define either total_steps"),
        (
            lambda o: D.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5),
            ValueError,
            "Expected float between 0 and 1 pct_start",
        ),
        (
            lambda o: D.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="cubic"),
            ValueError,
            "anneal_strategy must be one of",
        ),
        (lambda o: D.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0"),
        (lambda o: D.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode 'avg' is unknown"),
        (lambda o: D.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs, got 1"),
        (lambda o: D.LambdaLR(o, [lambda e: 1.0]), ValueError, "Expected 2 lr_lambdas, but got 1"),
        (lambda o: D.MultiplicativeLR(o, 3), TypeError, "lr_lambda should be a function"),
        (
            lambda o: D.SequentialLR(o, [D.StepLR(o, 3)], milestones=[5]),
            ValueError,
            "one more than the number of milestone points",
        ),
        (
            lambda o: D.SequentialLR(o, [D.StepLR(o, 3), D.StepLR(make_opt("ours"), 3)], [5]),
            ValueError,
            "expects all schedulers to belong to the same optimizer",
        ),
        (
            lambda o: D.ChainedScheduler([D.StepLR(o, 3), D.ReduceLROnPlateau(o)]),
            ValueError,
            "does not support `ReduceLROnPlateau`",
        ),
        (lambda o: D.PiecewiseConstantLR(o, [5, 3], [1, 2, 3]), ValueError, "strictly increasing"),
        (lambda o: D.PiecewiseConstantLR(o, [5], [0.1]), ValueError, r"len\(values\) == len\(boundaries\) \+ 1"),
        (lambda o: D.NaturalExpLR(o, gamma=-1), ValueError, "NaturalExpLR: expected a decay rate"),
        (lambda o: D.StepLR("sgd", 3), TypeError, "StepLR: str is not an Optimizer"),
        (lambda o: D.StepLR(o, 3, last_epoch=4), KeyError, "initial_lr"),
    ],
)
def test_scheduler_bad_input(build, exc, msg):
    with pytest.raises(exc, match=msg):
        build(make_opt("ours"))


def test_onecycle_overrun_raises():
    opt = make_opt("ours")
    sched = D.OneCycleLR(opt, 0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()
