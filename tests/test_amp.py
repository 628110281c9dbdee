"""deepnotes.amp against torch.amp: GradScaler step by step, scaling as a differentiable product,
and the thread-local autocast state with its cast helper.

GradScaler tests drive a deepnotes scaler + SGD and a torch.amp.GradScaler("cpu") + torch.optim.SGD
with the same initial weights and the same loss, whose gradients are chosen per step (some with
+inf, -inf or NaN injected), and compare scales, growth trackers, skipped steps, gradients and
parameters after every iteration.
"""

import math
import pickle
import threading

import numpy as np
import pytest
import torch

import deepnotes as dn
import deepnotes.optim as dopt
from deepnotes import amp
from deepnotes.nn import Parameter
from deepnotes.nn import functional as F

import _oracle as oracle

SHAPES = [(3, 4), (5,), (2, 3)]
INF, NINF, NAN = math.inf, -math.inf, math.nan


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _coefs(rng, dtype, inject=None, missing=()):
    """Per-parameter coefficients c_i of loss = sum_i sum(p_i * c_i) (so grad p_i = S c_i), with
    ``inject = {param index: value}`` written into one entry and parameters in ``missing`` left out."""
    cs = []
    for i, s in enumerate(SHAPES):
        c = rng.standard_normal(s).astype(dtype)
        if inject and i in inject:
            c.reshape(-1)[1] = inject[i]
        cs.append(None if i in missing else c)
    return cs


class Twin:
    """A deepnotes and a torch training setup fed identical losses."""

    def __init__(self, dtype=np.float32, groups=((0, 1, 2),), momentum=0.9, **scaler_kw):
        rng = np.random.default_rng(0)
        init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        self.dp = [Parameter(a.copy()) for a in init]
        self.tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
        self.dopts = [dopt.SGD([self.dp[i] for i in g], lr=0.1, momentum=momentum) for g in groups]
        self.topts = [torch.optim.SGD([self.tp[i] for i in g], lr=0.1, momentum=momentum) for g in groups]
        self.ds = amp.GradScaler(**scaler_kw)
        self.ts = torch.amp.GradScaler("cpu", **scaler_kw)

    def backward(self, coefs):
        for p in self.dp:
            p.grad = None
        for p in self.tp:
            p.grad = None
        dl = sum((p * dn.tensor(c)).sum() for p, c in zip(self.dp, coefs) if c is not None)
        tl = sum((p * torch.from_numpy(c)).sum() for p, c in zip(self.tp, coefs) if c is not None)
        self.ds.scale(dl).backward()
        self.ts.scale(tl).backward()

    def assert_grads_equal(self):
        for d, t in zip(self.dp, self.tp):
            if t.grad is None:
                assert d.grad is None
            else:
                np.testing.assert_array_equal(d.grad, t.grad.numpy())

    def assert_params_close(self, rtol, atol):
        for d, t in zip(self.dp, self.tp):
            np.testing.assert_allclose(d.data, t.detach().numpy(), rtol=rtol, atol=atol)

    def assert_state_equal(self):
        assert self.ds.get_scale() == self.ts.get_scale()
        assert self.ds._get_growth_tracker() == self.ts._get_growth_tracker()
        assert self.ds.state_dict() == self.ts.state_dict()


# iteration -> {parameter index: injected value}; growth_interval=3 makes scale grow after 3 finite
# steps in a row, and the runs of finite steps below are 2, 3, 4, 1, 0, 3+ long
SCRIPT = [
    None,
    None,
    {0: INF},
    None,
    None,
    None,
    None,
    {1: NAN},
    None,
    {0: NINF, 2: NAN},
    {2: INF},
    None,
    None,
    None,
    None,
    None,
    None,
    None,
    {1: INF},
    None,
    None,
    None,
]


@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 1e-12, 1e-14), (np.float32, 2e-6, 1e-6)])
@pytest.mark.parametrize("explicit_unscale", [False, True])
def test_scripted_sequence_matches_torch(dtype, rtol, atol, explicit_unscale):
    tw = Twin(dtype, init_scale=2.0**10, growth_interval=3)
    rng = np.random.default_rng(1)
    d_rets, t_rets, scales = [], [], []
    for k, inject in enumerate(SCRIPT):
        tw.backward(_coefs(rng, dtype, inject, missing=(1,) if k == 4 else ()))
        tw.assert_grads_equal()  # scaled gradients, through the differentiable scale
        if explicit_unscale:
            tw.ds.unscale_(tw.dopts[0])
            tw.ts.unscale_(tw.topts[0])
            tw.assert_grads_equal()  # unscaled in place, bit for bit
        d_rets.append(tw.ds.step(tw.dopts[0], lambda k=k: k))  # a positional closure passes through
        t_rets.append(tw.ts.step(tw.topts[0], lambda k=k: k))
        tw.assert_grads_equal()
        tw.ds.update()
        tw.ts.update()
        tw.assert_state_equal()
        tw.assert_params_close(rtol, atol)
        scales.append(tw.ds.get_scale())
    assert d_rets == t_rets
    skipped = [k for k, r in enumerate(d_rets) if r is None]
    assert skipped == [k for k, inj in enumerate(SCRIPT) if inj]
    # the script exercised both backoff and growth
    steps = np.diff([2.0**10] + scales)
    assert (steps > 0).any() and (steps < 0).any()


def test_odd_factors_round_like_float32_scale():
    """Non-power-of-two factors: every update rounds S to float32 as torch does."""
    tw = Twin(init_scale=1000.3, growth_factor=1.7, backoff_factor=0.3, growth_interval=2)
    rng = np.random.default_rng(2)
    assert tw.ds.get_scale() == tw.ts.get_scale() == 1000.3  # unrounded before the first scale()
    for inject in [None, None, None, {0: NAN}, {1: INF}, None, None, None, None, None]:
        tw.backward(_coefs(rng, np.float32, inject))
        assert tw.ds.step(tw.dopts[0]) is tw.ts.step(tw.topts[0]) is None
        tw.assert_grads_equal()  # unscaled with inv = float32(1 / float64(S))
        tw.ds.update()
        tw.ts.update()
        tw.assert_state_equal()
    tw.assert_params_close(2e-6, 1e-6)


def test_growth_never_overflows_float32():
    tw = Twin(np.float64, init_scale=2.0**127, growth_factor=3.0, growth_interval=1)
    rng = np.random.default_rng(3)
    for _ in range(2):
        tw.backward(_coefs(rng, np.float64))
        tw.ds.step(tw.dopts[0])
        tw.ts.step(tw.topts[0])
        tw.ds.update()
        tw.ts.update()
        tw.assert_state_equal()
    assert tw.ds.get_scale() == 2.0**127


def test_two_optimizers_skip_independently_and_share_the_scale():
    tw = Twin(np.float64, groups=((0,), (1, 2)), init_scale=256.0, growth_interval=2)
    rng = np.random.default_rng(4)
    for inject in [None, {0: INF}, None, {2: NAN}, None, None, None]:
        tw.backward(_coefs(rng, np.float64, inject))
        for do, to in zip(tw.dopts, tw.topts):
            before = [p.data.copy() for g in do.param_groups for p in g["params"]]
            assert tw.ds.step(do) is tw.ts.step(to) is None
            stepped = any(
                not np.array_equal(b, p.data) for b, p in zip(before, [p for g in do.param_groups for p in g["params"]])
            )
            assert stepped == (not tw.ts._found_inf_per_device(to)[torch.device("cpu")].item())
        tw.ds.update()
        tw.ts.update()
        tw.assert_state_equal()
        tw.assert_params_close(1e-12, 1e-14)


def test_update_with_new_scale_matches_torch():
    tw = Twin(init_scale=8.0, growth_interval=5)
    rng = np.random.default_rng(5)
    for new in [None, 0.1, None, torch.tensor(3.0), None]:
        tw.backward(_coefs(rng, np.float32))
        tw.ds.step(tw.dopts[0])
        tw.ts.step(tw.topts[0])
        if isinstance(new, torch.Tensor):
            tw.ds.update(dn.tensor(new.numpy()))
        else:
            tw.ds.update(new)
        tw.ts.update(new)
        tw.assert_state_equal()
    assert tw.ds.get_scale() == 3.0 and tw.ds._get_growth_tracker() == 3  # new_scale keeps the tracker


def test_state_dict_round_trip_matches_torch():
    tw = Twin(init_scale=64.0, growth_factor=1.5, backoff_factor=0.25, growth_interval=3)
    rng = np.random.default_rng(6)
    for inject in [None, {0: INF}, None, None]:
        tw.backward(_coefs(rng, np.float32, inject))
        tw.ds.step(tw.dopts[0])
        tw.ts.step(tw.topts[0])
        tw.ds.update()
        tw.ts.update()
    sd = tw.ds.state_dict()
    assert sd == tw.ts.state_dict()
    assert set(sd) == {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}
    fresh_d, fresh_t = amp.GradScaler(), torch.amp.GradScaler("cpu")
    fresh_d.load_state_dict(sd)
    fresh_t.load_state_dict(tw.ts.state_dict())
    assert fresh_d.state_dict() == fresh_t.state_dict() == sd
    # an initialised scaler loads too, and both continue identically
    tw.ds.load_state_dict(dict(sd, scale=5.0, _growth_tracker=1))
    tw.ts.load_state_dict(dict(sd, scale=5.0, _growth_tracker=1))
    tw.assert_state_equal()
    for inject in [None, None, {2: NAN}]:
        tw.backward(_coefs(rng, np.float32, inject))
        tw.ds.step(tw.dopts[0])
        tw.ts.step(tw.topts[0])
        tw.ds.update()
        tw.ts.update()
        tw.assert_state_equal()


def test_pickle_between_iterations_only():
    tw = Twin(init_scale=32.0, growth_interval=2)
    rng = np.random.default_rng(7)
    tw.backward(_coefs(rng, np.float32))
    tw.ds.step(tw.dopts[0])
    tw.ts.step(tw.topts[0])
    with pytest.raises(RuntimeError, match="GradScaler"):
        pickle.dumps(tw.ds)
    with pytest.raises(AssertionError):
        pickle.dumps(tw.ts)
    tw.ds.update()
    tw.ts.update()
    d2 = pickle.loads(pickle.dumps(tw.ds))
    t2 = pickle.loads(pickle.dumps(tw.ts))
    assert d2.state_dict() == t2.state_dict() == tw.ds.state_dict()


def test_load_disabled_state_dict_refused_and_bad_state_dicts():
    with pytest.raises(RuntimeError, match="GradScaler.load_state_dict"):
        amp.GradScaler().load_state_dict(amp.GradScaler(enabled=False).state_dict())
    with pytest.raises(RuntimeError):
        torch.amp.GradScaler("cpu").load_state_dict(torch.amp.GradScaler("cpu", enabled=False).state_dict())
    with pytest.raises(ValueError, match="GradScaler.load_state_dict.*_growth_tracker"):
        amp.GradScaler().load_state_dict(
            {"scale": 2.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 3}
        )
    with pytest.raises(TypeError, match="GradScaler.load_state_dict"):
        amp.GradScaler().load_state_dict([("scale", 2.0)])


def test_disabled_scaler_is_a_pass_through():
    tw = Twin(enabled=False)
    rng = np.random.default_rng(8)
    x = dn.tensor([1.0, 2.0], requires_grad=True)
    assert tw.ds.scale(x) is x and tw.ts.scale(x) is x
    cs = _coefs(rng, np.float32, {0: INF})  # disabled: no inf check, the step runs
    tw.backward(cs)
    tw.ds.unscale_(tw.dopts[0])
    tw.ts.unscale_(tw.topts[0])
    tw.ds.unscale_(tw.dopts[0])  # no stage bookkeeping either
    tw.assert_grads_equal()
    np.testing.assert_array_equal(tw.dp[1].grad, cs[1])  # gradients unscaled = unchanged
    assert tw.ds.step(tw.dopts[0], lambda: "ran") == tw.ts.step(tw.topts[0], lambda: "ran") == "ran"
    tw.ds.update()
    tw.ts.update()
    tw.assert_params_close(2e-6, 1e-6)
    assert tw.ds.get_scale() == tw.ts.get_scale() == 1.0
    assert tw.ds.state_dict() == tw.ts.state_dict() == {}
    tw.ds.load_state_dict({"scale": 3.0})  # no-op
    assert not tw.ds.is_enabled() and amp.GradScaler().is_enabled()


# ------------------------------------------------------------------------------------ errors
def _ready_twin(inject=None):
    tw = Twin(np.float32)
    tw.backward(_coefs(np.random.default_rng(9), np.float32, inject))
    return tw


def test_unscale_twice_raises_like_torch():
    tw = _ready_twin()
    tw.ds.unscale_(tw.dopts[0])
    tw.ts.unscale_(tw.topts[0])
    with pytest.raises(RuntimeError, match=r"GradScaler\.unscale_.*already been called"):
        tw.ds.unscale_(tw.dopts[0])
    with pytest.raises(RuntimeError, match="already been called"):
        tw.ts.unscale_(tw.topts[0])


def test_unscale_after_step_and_step_twice_raise_like_torch():
    tw = _ready_twin()
    tw.ds.step(tw.dopts[0])
    tw.ts.step(tw.topts[0])
    for scaler, opt in [(tw.ds, tw.dopts[0]), (tw.ts, tw.topts[0])]:
        with pytest.raises(RuntimeError, match="after step"):
            scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            scaler.step(opt)
    tw.ds.update()
    tw.ts.update()
    tw.backward(_coefs(np.random.default_rng(10), np.float32))
    tw.ds.unscale_(tw.dopts[0])  # a new iteration starts clean


def test_step_and_update_without_scale_raise():
    p = Parameter(np.ones(3, np.float32))
    p.grad = np.ones(3, np.float32)
    scaler = amp.GradScaler()
    opt = dopt.SGD([p], lr=0.1)
    tp = torch.ones(3, requires_grad=True)
    tp.grad = torch.ones(3)
    tscaler, topt = torch.amp.GradScaler("cpu"), torch.optim.SGD([tp], lr=0.1)
    for call, tcall in [
        (lambda: scaler.step(opt), lambda: tscaler.step(topt)),
        (lambda: scaler.unscale_(opt), lambda: tscaler.unscale_(topt)),
        (scaler.update, tscaler.update),
    ]:
        with pytest.raises(RuntimeError, match=r"GradScaler\.\w+: the scale is not initialised.*scale"):
            call()
        with pytest.raises(AssertionError, match="_scale is None"):
            tcall()


def test_step_without_backward_raises():
    p = Parameter(np.ones(3, np.float32))
    scaler, opt = amp.GradScaler(), dopt.SGD([p], lr=0.1)
    tp = torch.ones(3, requires_grad=True)
    tscaler, topt = torch.amp.GradScaler("cpu"), torch.optim.SGD([tp], lr=0.1)
    scaler.scale((p * 2.0).sum())  # scaled, but no backward: no gradients
    tscaler.scale((tp * 2.0).sum())
    with pytest.raises(RuntimeError, match=r"GradScaler\.step: no inf checks were recorded"):
        scaler.step(opt)
    with pytest.raises(AssertionError, match="No inf checks"):
        tscaler.step(topt)
    with pytest.raises(RuntimeError, match=r"GradScaler\.update: no inf checks"):
        scaler.update()
    with pytest.raises(AssertionError, match="No inf checks"):
        tscaler.update()


def test_closure_keyword_refused():
    tw = _ready_twin()
    with pytest.raises(RuntimeError, match="GradScaler.step: closure"):
        tw.ds.step(tw.dopts[0], closure=lambda: 0)
    with pytest.raises(RuntimeError, match="Closure"):
        tw.ts.step(tw.topts[0], closure=lambda: 0)


def test_float16_gradients_refused_like_torch():
    p = Parameter(np.ones(3, np.float16))
    scaler, opt = amp.GradScaler(), dopt.SGD([p], lr=0.1)
    scaler.scale((p * 1.0).sum()).backward()
    assert p.grad.dtype == np.float16
    with pytest.raises(ValueError, match=r"GradScaler\.unscale_: attempting to unscale float16"):
        scaler.step(opt)
    tp = torch.ones(3, dtype=torch.float16, requires_grad=True)
    tscaler = torch.amp.GradScaler("cpu")
    tscaler.scale((tp * 1.0).sum()).backward()
    with pytest.raises(ValueError, match="FP16"):
        tscaler.step(torch.optim.SGD([tp], lr=0.1))


@pytest.mark.parametrize(
    "kwargs,exc,pattern",
    [
        (dict(growth_factor=1.0), ValueError, "growth_factor"),
        (dict(growth_factor=math.inf), ValueError, "growth_factor"),
        (dict(backoff_factor=1.0), ValueError, "backoff_factor"),
        (dict(backoff_factor=0.0), ValueError, "backoff_factor"),
        (dict(growth_interval=0), ValueError, "growth_interval"),
        (dict(growth_interval=2.5), ValueError, "growth_interval"),
        (dict(growth_interval=True), ValueError, "growth_interval"),
        (dict(init_scale=-1.0), ValueError, "init_scale"),
        (dict(init_scale=math.nan), ValueError, "init_scale"),
        (dict(init_scale="cpu"), TypeError, "init_scale.*device"),
        (dict(enabled="yes"), TypeError, "enabled"),
        (dict(device="cuda"), ValueError, "CPU only"),
    ],
)
def test_bad_constructor_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match="GradScaler: .*" + pattern):
        amp.GradScaler(**kwargs)


def test_torch_refuses_the_same_factors():
    """torch rejects the growth/backoff factors we reject (with AssertionError)."""
    for kw in [dict(growth_factor=1.0), dict(backoff_factor=1.0)]:
        with pytest.raises(AssertionError):
            torch.amp.GradScaler("cpu", **kw)


def test_setters_and_getters():
    s, t = amp.GradScaler(), torch.amp.GradScaler("cpu")
    assert (s.get_growth_factor(), s.get_backoff_factor(), s.get_growth_interval(), s.get_scale()) == (
        t.get_growth_factor(),
        t.get_backoff_factor(),
        t.get_growth_interval(),
        t.get_scale(),
    )
    s.set_growth_factor(3.0)
    s.set_backoff_factor(0.125)
    s.set_growth_interval(7)
    assert (s.get_growth_factor(), s.get_backoff_factor(), s.get_growth_interval()) == (3.0, 0.125, 7)
    with pytest.raises(ValueError, match="GradScaler.set_growth_factor"):
        s.set_growth_factor(0.5)
    with pytest.raises(ValueError, match="GradScaler.set_backoff_factor"):
        s.set_backoff_factor(2.0)
    with pytest.raises(ValueError, match="GradScaler.set_growth_interval"):
        s.set_growth_interval(-1)


def test_bad_new_scale():
    tw = _ready_twin()
    tw.ds.step(tw.dopts[0])
    with pytest.raises(ValueError, match="GradScaler.update: new_scale"):
        tw.ds.update(dn.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="GradScaler.update: new_scale"):
        tw.ds.update(dn.tensor(2.0, requires_grad=True))
    with pytest.raises(TypeError, match="GradScaler.update: new_scale"):
        tw.ds.update("big")
    with pytest.raises(ValueError, match="GradScaler.update: new_scale"):
        tw.ds.update(0.0)


# ------------------------------------------------------------------------------------ scale()
def test_scale_is_differentiable_and_keeps_structure():
    rng = np.random.default_rng(11)
    arrays = [rng.standard_normal(s) for s in [(2,), (3, 2), (4,)]]
    d = [dn.tensor(a, requires_grad=True) for a in arrays]
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    ds, ts = amp.GradScaler(init_scale=3.0), torch.amp.GradScaler("cpu", init_scale=3.0)
    dout = ds.scale([d[0], (d[1], [d[2]])])
    tout = ts.scale([t[0], (t[1], [t[2]])])
    assert type(dout) is list and type(dout[1]) is tuple and type(dout[1][1]) is list
    flat_d, flat_t = [dout[0], dout[1][0], dout[1][1][0]], [tout[0], tout[1][0], tout[1][1][0]]
    for a, b in zip(flat_d, flat_t):
        assert a.dtype == np.float64
        np.testing.assert_array_equal(a.data, b.detach().numpy())
    w = [rng.standard_normal(a.shape) for a in arrays]
    sum((x * dn.tensor(c)).sum() for x, c in zip(flat_d, w)).backward()
    sum((x * torch.from_numpy(c)).sum() for x, c in zip(flat_t, w)).backward()
    for a, b in zip(d, t):
        np.testing.assert_array_equal(a.grad, b.grad.numpy())
    gen = ds.scale(x for x in d)  # other iterables: a lazy map, as torch
    assert not isinstance(gen, (list, tuple))
    np.testing.assert_array_equal(next(iter(gen)).data, arrays[0] * 3.0)


def test_scale_float16_computed_in_float32_like_torch():
    """65536 is not a float16 value, yet 0.5 * 65536 = 32768 is: torch multiplies in float32."""
    x = dn.tensor(np.array([0.5, -1e-4, 3.0], np.float16), requires_grad=True)
    tx = torch.tensor(np.array([0.5, -1e-4, 3.0], np.float16), requires_grad=True)
    y, ty = amp.GradScaler().scale(x), torch.amp.GradScaler("cpu").scale(tx)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    g = np.array([1e-3, 1.0, 2.0], np.float16)
    y.backward(dn.tensor(g))
    ty.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())  # includes an overflow to inf


def test_scale_rejects_non_tensors():
    with pytest.raises(ValueError, match="GradScaler.scale: outputs must be a Tensor"):
        amp.GradScaler().scale(3.0)
    with pytest.raises(ValueError, match="outputs must be a Tensor"):
        torch.amp.GradScaler("cpu").scale(3.0)
    with pytest.raises(ValueError, match="GradScaler.scale"):
        amp.GradScaler().scale([dn.tensor(1.0), "loss"])


# ------------------------------------------------------------------------------------ autocast
def test_autocast_flag_set_and_reset():
    assert amp.get_autocast_dtype() is None and not amp.is_autocast_enabled()
    with amp.autocast() as ctx:
        assert amp.get_autocast_dtype() is np.float16 and amp.is_autocast_enabled()
        assert ctx.fast_dtype is np.float16
    assert amp.get_autocast_dtype() is None
    with pytest.raises(KeyError):
        with amp.autocast(dtype=dn.float16):
            raise KeyError("boom")
    assert amp.get_autocast_dtype() is None  # restored on exceptions too


def test_autocast_nesting():
    with amp.autocast():
        with amp.autocast(enabled=False):
            assert amp.get_autocast_dtype() is None
            with amp.autocast("float16"):
                assert amp.get_autocast_dtype() is np.float16
            assert amp.get_autocast_dtype() is None
        assert amp.get_autocast_dtype() is np.float16
    assert amp.get_autocast_dtype() is None
    ctx = amp.autocast()
    with ctx:  # one instance entered twice
        with ctx:
            assert amp.is_autocast_enabled()
        assert amp.is_autocast_enabled()
    assert not amp.is_autocast_enabled()


def test_autocast_decorator():
    @amp.autocast()
    def inside(x):
        return amp.get_autocast_dtype(), x

    @amp.autocast(enabled=False)
    def off():
        return amp.get_autocast_dtype()

    assert inside(5) == (np.float16, 5) and inside.__name__ == "inside"
    assert amp.get_autocast_dtype() is None
    with amp.autocast():
        assert off() is None
        assert amp.get_autocast_dtype() is np.float16


def test_autocast_is_thread_local():
    seen, ready, release = [], threading.Event(), threading.Event()

    def other():
        seen.append(amp.get_autocast_dtype())
        with amp.autocast():
            seen.append(amp.get_autocast_dtype())
            ready.set()
            release.wait(5)

    with amp.autocast():
        th = threading.Thread(target=other)
        th.start()
        assert ready.wait(5)
    assert amp.get_autocast_dtype() is None  # the other thread is still inside
    release.set()
    th.join(5)
    assert seen == [None, np.float16]


@pytest.mark.parametrize(
    "kwargs,exc,pattern",
    [
        (dict(dtype=np.float64), ValueError, "float16"),
        (dict(dtype="cpu"), TypeError, "device"),
        (dict(dtype=object()), TypeError, "dtype"),
        (dict(enabled=1), TypeError, "enabled"),
        (dict(cache_enabled="no"), TypeError, "cache_enabled"),
    ],
)
def test_autocast_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match="autocast: .*" + pattern):
        amp.autocast(**kwargs)


def test_autocast_helper_casts_eligible_operands_only():
    f32 = dn.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    f64, i64 = dn.tensor(np.ones(2)), dn.tensor(np.arange(3))
    assert amp._autocast(f32, None) == (f32, None)  # outside autocast: unchanged
    with amp.autocast():
        a, b, c, d, e = amp._autocast(f32, f64, i64, None, 2.0)
    assert a.dtype == np.float16 and a.requires_grad
    assert b is f64 and c is i64 and d is None and e == 2.0  # float64 is never autocast (torch's rule)
    with amp.autocast(enabled=False):
        assert amp._autocast(f32)[0] is f32


def test_autocast_helper_gradients_reach_float32_master_weights_like_torch():
    """F.linear on autocast operands equals torch's autocast linear: float16 output, float32 grads."""
    rng = np.random.default_rng(12)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(4, 6), (3, 6), (3,)])
    g = rng.standard_normal((4, 3)).astype(np.float16)
    dx, dw, db = (dn.tensor(a, requires_grad=True) for a in (x, w, b))
    with amp.autocast():
        y = F.linear(*amp._autocast(dx, dw, db))
    tx, tw_, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    with torch.autocast("cpu", dtype=torch.float16):
        ty = torch.nn.functional.linear(tx, tw_, tb)
    assert y.dtype == np.float16 and ty.dtype == torch.float16
    np.testing.assert_allclose(y.data.astype(np.float64), ty.detach().double().numpy(), rtol=2e-3, atol=2e-3)
    y.backward(dn.tensor(g))
    ty.backward(torch.from_numpy(g))
    for d, t in [(dx, tx), (dw, tw_), (db, tb)]:
        assert d.grad.dtype == np.float32 and t.grad.dtype == torch.float32
        np.testing.assert_allclose(d.grad, t.grad.numpy(), rtol=5e-3, atol=5e-3)


# ---------------------------------------------------------------- wired autocast (functional/tensor)
def _copy_linear(lin):
    tl = torch.nn.Linear(lin.in_features, lin.out_features)
    with torch.no_grad():
        tl.weight.copy_(torch.from_numpy(lin.weight.data))
        tl.bias.copy_(torch.from_numpy(lin.bias.data))
    return tl


def test_linear_under_autocast_float16_out_float32_grads_like_torch():
    rng = np.random.default_rng(13)
    lin = dn.nn.Linear(6, 3)
    tl = _copy_linear(lin)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    g = rng.standard_normal((4, 3)).astype(np.float16)
    with amp.autocast():
        y = lin(dn.tensor(x))
    with torch.autocast("cpu", dtype=torch.float16):
        ty = tl(torch.from_numpy(x))
    assert y.dtype == np.float16 and ty.dtype == torch.float16
    np.testing.assert_allclose(y.data.astype(np.float64), ty.detach().double().numpy(), rtol=2e-3, atol=2e-3)
    y.backward(dn.tensor(g))
    ty.backward(torch.from_numpy(g))
    for p, tp in [(lin.weight, tl.weight), (lin.bias, tl.bias)]:
        assert p.data.dtype == np.float32 and p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=5e-3, atol=5e-3)
    with amp.autocast():
        assert (dn.tensor(x) @ lin.weight.T).dtype == np.float16
        with amp.autocast(enabled=False):
            assert lin(dn.tensor(x)).dtype == np.float32


@pytest.mark.filterwarnings(
    "ignore:overflow encountered:RuntimeWarning", "ignore:invalid value encountered:RuntimeWarning"
)
def test_mixed_precision_training_loop_matches_torch():
    """autocast forward + GradScaler + SGD on float32 master weights, vs torch; init_scale 2**16 makes
    the float16 backward overflow at first, so the first steps are skipped and the scale backs off."""
    rng = np.random.default_rng(14)
    lin = dn.nn.Linear(8, 4)
    tl = _copy_linear(lin)
    opt, topt = dopt.SGD(lin.parameters(), lr=0.05), torch.optim.SGD(tl.parameters(), lr=0.05)
    ds = amp.GradScaler(init_scale=2.0**16, growth_interval=2)
    ts = torch.amp.GradScaler("cpu", init_scale=2.0**16, growth_interval=2)
    skipped = []
    for _ in range(12):
        x = rng.standard_normal((16, 8)).astype(np.float32)
        c = rng.standard_normal((16, 4)).astype(np.float32)
        opt.zero_grad()
        topt.zero_grad()
        with amp.autocast():
            loss = (lin(dn.tensor(x)).float() * dn.tensor(c)).sum()
        with torch.autocast("cpu", dtype=torch.float16):
            tloss = (tl(torch.from_numpy(x)).float() * torch.from_numpy(c)).sum()
        ds.scale(loss).backward()
        ts.scale(tloss).backward()
        skipped.append(ds.step(opt, lambda: 0) is None)
        assert skipped[-1] == (ts.step(topt, lambda: 0) is None)
        ds.update()
        ts.update()
        assert ds.get_scale() == ts.get_scale()
        np.testing.assert_allclose(lin.weight.data, tl.weight.detach().numpy(), rtol=1e-2, atol=1e-3)
    assert skipped[0] and not all(skipped)


# ------------------------------------------------------------------ normalisation under autocast
def _bn_lenet(lib):
    """A LeNet-like net with batch norm after every layer but the last, built from deepnotes.nn or torch.nn."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 2 * 2, 32),
        nn.BatchNorm1d(32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )


def _twin_bn_lenet():
    torch.manual_seed(0)
    ref = _bn_lenet(torch)
    ours = _bn_lenet(dn)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in ref.state_dict().items()})
    return ours, ref


def _assert_bn_stats_close(ours, ref, rtol, atol):
    sd, sdt = ours.state_dict(), ref.state_dict()
    keys = [k for k in sdt if k.endswith(("running_mean", "running_var"))]
    assert keys
    for k in keys:
        assert sd[k].data.dtype == np.float32, k  # running statistics stay float32
        oracle.assert_close(sd[k], sdt[k], rtol, atol, what=k)


def test_conv_then_batch_norm_under_autocast_matches_torch():
    """Conv2d -> BatchNorm2d under autocast: the convolution's float16 output of std ~5 over 64x16x16
    values per channel; batch statistics accumulated in float16 overflow and the output becomes 0.
    torch keeps the statistics in float32 and returns float16."""
    rng = np.random.default_rng(3)
    ours = dn.nn.Sequential(dn.nn.Conv2d(16, 16, 3, padding=1, bias=False), dn.nn.BatchNorm2d(16))
    ref = torch.nn.Sequential(torch.nn.Conv2d(16, 16, 3, padding=1, bias=False), torch.nn.BatchNorm2d(16))
    w = (rng.standard_normal((16, 16, 3, 3)) * 0.4).astype(np.float32)
    ours[0].weight.data[...] = w
    with torch.no_grad():
        ref[0].weight.copy_(torch.from_numpy(w))
    x = rng.standard_normal((64, 16, 16, 16)).astype(np.float32)
    with amp.autocast():
        y = ours(dn.tensor(x))
    with torch.autocast("cpu", dtype=torch.float16):
        yt = ref(torch.from_numpy(x))
    assert y.dtype == np.float16 and yt.dtype == torch.float16
    np.testing.assert_allclose(y.data.astype(np.float64), yt.detach().double().numpy(), rtol=1e-2, atol=1e-2)
    _assert_bn_stats_close(ours, ref, rtol=2e-3, atol=2e-3)
    cot = rng.standard_normal(y.shape).astype(np.float32)
    (y.float() * dn.tensor(cot)).sum().backward()
    (yt.float() * torch.from_numpy(cot)).sum().backward()
    for (name, p), pt in zip(ours.named_parameters(), ref.parameters()):
        assert p.grad.dtype == np.float32, name
        ref_g = pt.grad.double().numpy()
        np.testing.assert_allclose(p.grad, ref_g, rtol=2e-2, atol=2e-2 * np.abs(ref_g).max(), err_msg=name)


def test_bn_lenet_amp_training_matches_torch_autocast():
    """Four autocast + GradScaler + SGD steps of a batch-norm LeNet on the bundled digits, with the
    same weights in both libraries: forward outputs and running statistics agree to float16
    precision (the inputs, scaled to std ~8, push float16 sums of squares past 65504)."""
    ours, ref = _twin_bn_lenet()
    ours.train()
    ref.train()
    opt = dopt.SGD(ours.parameters(), lr=0.01)
    topt = torch.optim.SGD(ref.parameters(), lr=0.01)
    ds, ts = amp.GradScaler(init_scale=256.0), torch.amp.GradScaler("cpu", init_scale=256.0)
    images = dn.data.datasets.Digits(train=True, size=16).images
    for step in range(4):
        x = np.ascontiguousarray(images[step * 64 : (step + 1) * 64] * 16 - 4)
        target = np.arange(64) % 10
        opt.zero_grad()
        topt.zero_grad()
        with amp.autocast():
            out = ours(dn.tensor(x))
        with torch.autocast("cpu", dtype=torch.float16):
            tout = ref(torch.from_numpy(x))
        np.testing.assert_allclose(out.data.astype(np.float64), tout.detach().double().numpy(), rtol=2e-2, atol=2e-2)
        loss = F.cross_entropy(out.float(), dn.tensor(target))
        tloss = torch.nn.functional.cross_entropy(tout.float(), torch.from_numpy(target))
        ds.scale(loss).backward()
        ts.scale(tloss).backward()
        ds.step(opt)
        ts.step(topt)
        ds.update()
        ts.update()
        _assert_bn_stats_close(ours, ref, rtol=1e-2, atol=1e-2)
