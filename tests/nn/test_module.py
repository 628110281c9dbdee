"""Module semantics against torch: registration (plain lists register nothing, containers do),
traversal, state_dict keys/order/layout, strict load_state_dict errors, train/eval, apply,
zero_grad, repr, containers, and a small CNN that reproduces torch's forward and gradients."""

import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch

import deepnotes as dn
from deepnotes import nn
from deepnotes.nn import StateDictError

RTOL, ATOL = 1e-6, 1e-9


def _cnn(lib):
    """The same small CNN in either library (``lib`` is deepnotes.nn or torch.nn)."""

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.features = lib.Sequential(
                OrderedDict(
                    [
                        ("conv1", lib.Conv2d(3, 8, 3, padding=1)),
                        ("bn1", lib.BatchNorm2d(8)),
                        ("relu1", lib.ReLU()),
                        ("pool1", lib.MaxPool2d(2)),
                        ("conv2", lib.Conv2d(8, 8, 3, padding="same", groups=2, bias=False)),
                        ("bn2", lib.BatchNorm2d(8)),
                        ("relu2", lib.ReLU()),
                    ]
                )
            )
            self.blocks = lib.ModuleList([lib.Conv2d(8, 8, 1), lib.Conv2d(8, 8, 3, padding=1, dilation=1)])
            self.heads = lib.ModuleDict({"cls": lib.Linear(8, 5), "aux": lib.Linear(8, 2)})
            self.pool = lib.AdaptiveAvgPool2d(1)
            self.flatten = lib.Flatten()
            self.drop = lib.Dropout(0.0)

        def forward(self, x):
            x = self.features(x)
            for b in self.blocks:
                x = b(x).relu() if hasattr(x, "relu") else b(x)
            x = self.flatten(self.pool(x))
            return self.heads["cls"](self.drop(x)), self.heads["aux"](x)

    return Net()


def _pair():
    tm = _cnn(torch.nn).double()
    m = _cnn(nn).double()
    return m, tm


def test_state_dict_keys_order_and_shapes_equal_torch():
    m, tm = _pair()
    sd, sdt = m.state_dict(), tm.state_dict()
    assert list(sd) == list(sdt)
    for k in sd:
        assert sd[k].shape == tuple(sdt[k].shape), k
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert [n for n, _ in m.named_modules()] == [n for n, _ in tm.named_modules()]
    assert [n for n, _ in m.named_children()] == [n for n, _ in tm.named_children()]
    assert [type(c).__name__ for c in m.children()] == [type(c).__name__ for c in tm.children()]
    assert sum(p.data.size for p in m.parameters()) == sum(p.numel() for p in tm.parameters())
    assert len(list(m.buffers())) == len(list(tm.buffers()))


def test_small_cnn_reproduces_torch_forward_and_gradients():
    rng = np.random.default_rng(0)
    m, tm = _pair()
    m.load_state_dict(tm.state_dict())
    x = rng.standard_normal((4, 3, 8, 8))
    for mode in ("train", "eval"):
        getattr(m, mode)(), getattr(tm, mode)()
        m.zero_grad(), tm.zero_grad()
        X, Xt = dn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        (a, b), (at, bt) = m(X), tm(Xt)
        np.testing.assert_allclose(a.data, at.detach().numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(b.data, bt.detach().numpy(), rtol=RTOL, atol=ATOL)
        t = rng.integers(0, 5, 4)
        loss = nn.functional.cross_entropy(a, t) + (b * b).mean()
        losst = torch.nn.functional.cross_entropy(at, torch.tensor(t)) + (bt * bt).mean()
        loss.backward(), losst.backward()
        np.testing.assert_allclose(X.grad, Xt.grad.numpy(), rtol=RTOL, atol=ATOL)
        for (n, p), (nt, pt) in zip(m.named_parameters(), tm.named_parameters()):
            assert n == nt
            np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=n)
    for k, v in m.state_dict().items():  # running statistics after the training step
        np.testing.assert_allclose(v.data, tm.state_dict()[k].numpy(), rtol=RTOL, atol=ATOL, err_msg=k)


def test_deepnotes_state_dict_loads_into_torch():
    rng = np.random.default_rng(1)
    m, tm = _pair()
    tm.load_state_dict({k: torch.from_numpy(np.array(v.data)) for k, v in m.state_dict().items()})
    m.eval(), tm.eval()
    x = rng.standard_normal((2, 3, 6, 6))
    np.testing.assert_allclose(m(dn.Tensor(x))[0].data, tm(torch.tensor(x))[0].detach().numpy(), rtol=RTOL, atol=ATOL)


def test_plain_list_registers_nothing_but_containers_do():
    for lib in (nn, torch.nn):

        class WithList(lib.Module):
            def __init__(self):
                super().__init__()
                self.layers = [lib.Linear(3, 3), lib.Linear(3, 3)]

        class WithModuleList(lib.Module):
            def __init__(self):
                super().__init__()
                self.layers = lib.ModuleList([lib.Linear(3, 3), lib.Linear(3, 3)])

        assert len(list(WithList().parameters())) == 0
        assert WithList().state_dict() == OrderedDict() or len(WithList().state_dict()) == 0
        assert len(list(WithModuleList().parameters())) == 4
        assert list(WithModuleList().state_dict()) == [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.weight",
            "layers.1.bias",
        ]


def test_shared_parameters_counted_once_like_torch():
    for lib in (nn, torch.nn):
        lin = lib.Linear(2, 2)
        seq = lib.Sequential(lin, lib.ReLU(), lin)
        assert len(list(seq.parameters())) == 2
        assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
        assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_load_state_dict_strict_reports_every_problem_at_once():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    sd = {k: v.data.copy() for k, v in m.state_dict().items()}
    del sd["0.bias"], sd["1.running_var"]
    sd["extra.weight"] = np.zeros(1)
    sd["2.weight"] = np.zeros((3, 4))
    sd["0.weight"] = sd["0.weight"] + 1.0
    before = m[0].weight.data.copy()
    with pytest.raises(StateDictError) as err:
        m.load_state_dict(sd)
    msg = str(err.value)
    for part in (
        'Missing key(s) in state_dict: "0.bias", "1.running_var"',
        'Unexpected key(s) in state_dict: "extra.weight"',
        "size mismatch for 2.weight",
        "(3, 4)",
        "(2, 4)",
        "Sequential",
    ):
        assert part in msg, part
    assert isinstance(err.value, RuntimeError)  # torch raises RuntimeError too
    # nothing was copied by the failed call
    np.testing.assert_array_equal(m[0].weight.data, before)


def test_load_state_dict_non_strict_returns_keys_but_still_rejects_shapes():
    m = nn.Linear(3, 2)
    w = np.arange(6.0).reshape(2, 3)
    res = m.load_state_dict({"weight": w, "other": np.ones(2)}, strict=False)
    tres = torch.nn.Linear(3, 2).load_state_dict({"weight": torch.tensor(w), "other": torch.ones(2)}, strict=False)
    assert res.missing_keys == tres.missing_keys == ["bias"]
    assert res.unexpected_keys == tres.unexpected_keys == ["other"]
    assert repr(res) == repr(tres)
    assert (
        repr(m.load_state_dict(m.state_dict()))
        == repr(torch.nn.Linear(3, 2).load_state_dict(torch.nn.Linear(3, 2).state_dict()))
        == "<All keys matched successfully>"
    )
    np.testing.assert_array_equal(m.weight.data, w)
    with pytest.raises(StateDictError, match="size mismatch for weight"):
        m.load_state_dict({"weight": np.ones((3, 3))}, strict=False)


def test_load_state_dict_keeps_dtype_and_rejects_float_into_int_buffer():
    bn = nn.BatchNorm1d(2)
    sd = bn.state_dict()
    bn.load_state_dict(
        {k: np.asarray(v.data, dtype=np.float64) if k != "num_batches_tracked" else v.data for k, v in sd.items()}
    )
    assert bn.running_mean.data.dtype == np.float32
    bad = {k: v.data for k, v in sd.items()}
    bad["num_batches_tracked"] = np.float64(1.5)
    with pytest.raises(StateDictError, match="num_batches_tracked"):
        bn.load_state_dict(bad)


def test_train_eval_propagate_and_call_overrides():
    calls = []

    class Custom(nn.Module):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(mode)

    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), Custom()), nn.BatchNorm1d(2))
    assert all(x.training for x in m.modules())
    m.eval()
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    assert calls == [False, True]
    assert m.train(False) is m and not m[1][0].training
    with pytest.raises(TypeError, match="bool"):
        m.train("yes")


def test_apply_visits_children_first_like_torch():
    def order(model):
        seen = []
        model.apply(lambda mod: seen.append(type(mod).__name__))
        return seen

    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    tm = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(2, 1)))
    assert order(m) == order(tm)

    def weights_init(mod):
        if isinstance(mod, nn.Linear):
            nn.init.constant_(mod.weight, 0.5)
            nn.init.zeros_(mod.bias)

    assert m.apply(weights_init) is m
    assert all((p.data == 0.5).all() for n, p in m.named_parameters() if n.endswith("weight"))
    assert all((p.data == 0).all() for n, p in m.named_parameters() if n.endswith("bias"))


def test_zero_grad():
    m = nn.Linear(3, 2)
    m(dn.ones(4, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert (m.weight.grad == 0).all() and (m.bias.grad == 0).all()
    m(dn.ones(4, 3)).sum().backward()
    np.testing.assert_array_equal(m.bias.grad, np.full(2, 4.0))  # accumulated from zero
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_repr_matches_torch():
    m, tm = _pair()
    assert repr(m) == repr(tm)
    seq = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(inplace=True), nn.Sequential(nn.Linear(4, 2)), nn.Identity())
    tseq = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.ReLU(inplace=True),
        torch.nn.Sequential(torch.nn.Linear(4, 2)),
        torch.nn.Identity(),
    )
    assert repr(seq) == repr(tseq)
    assert repr(nn.Sequential()) == repr(torch.nn.Sequential())


def test_sequential_from_ordered_dict_indexing_and_slicing():
    lin1, relu, lin2 = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(OrderedDict([("fc1", lin1), ("act", relu), ("fc2", lin2)]))
    assert list(s.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert s[0] is lin1 and s[-1] is lin2 and len(s) == 3 and list(s) == [lin1, relu, lin2]
    assert s.fc2 is lin2
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and [n for n, _ in sub.named_children()] == ["act", "fc2"]
    x = dn.Tensor(np.random.default_rng(2).standard_normal((4, 2)))
    np.testing.assert_allclose(s(x).data, lin2(relu(lin1(x))).data)
    with pytest.raises(IndexError):
        s[3]
    s.append(nn.Sigmoid())
    assert len(s) == 4
    del s[0]
    assert [n for n, _ in s.named_children()] == ["0", "1", "2"]
    with pytest.raises(TypeError, match="Sequential"):
        nn.Sequential(nn.Linear(1, 1), "not a module")


def test_module_list_and_dict_behave_like_torch():
    for lib in (nn, torch.nn):
        ml = lib.ModuleList([lib.Linear(1, 1)])
        ml.append(lib.ReLU())
        ml.extend([lib.Tanh(), lib.Sigmoid()])
        ml.insert(1, lib.Identity())
        ml += [lib.Linear(1, 2)]
        assert [type(x).__name__ for x in ml] == ["Linear", "Identity", "ReLU", "Tanh", "Sigmoid", "Linear"]
        assert type(ml[-1]).__name__ == "Linear" and len(ml[1:3]) == 2
        del ml[0]
        assert [n for n, _ in ml.named_children()] == ["0", "1", "2", "3", "4"]
        assert list(ml.state_dict()) == ["4.weight", "4.bias"]
        md = lib.ModuleDict({"a": lib.Linear(1, 1)})
        md["b"] = lib.ReLU()
        md.update([("c", lib.Tanh())])
        assert list(md.keys()) == ["a", "b", "c"] and "b" in md and len(md) == 3
        assert type(md.pop("b")).__name__ == "ReLU" and list(md) == ["a", "c"]
        assert list(md.state_dict()) == ["a.weight", "a.bias"]


def test_parameter_and_buffer_assignment_rules_follow_torch():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        m.weight = dn.ones(2, 2)  # a plain Tensor would silently drop the parameter
    m.bias = None  # allowed: an absent optional parameter
    assert "bias" not in m.state_dict() and m.bias is None
    m.bias = nn.Parameter(np.zeros(2, dtype=np.float32))
    assert list(m.state_dict()) == ["weight", "bias"]
    seq = nn.Sequential(nn.Linear(1, 1))
    with pytest.raises(TypeError, match="child module"):
        setattr(seq, "0", 5)
    bn = nn.BatchNorm1d(2)
    with pytest.raises(TypeError, match="buffer"):
        bn.running_mean = [0.0, 0.0]
    bn.running_mean = dn.zeros(2)
    assert "running_mean" in bn.state_dict()
    m.register_buffer("scratch", dn.zeros(3), persistent=False)
    assert "scratch" not in m.state_dict() and any(n == "scratch" for n, _ in m.named_buffers())
    with pytest.raises(KeyError):
        m.register_buffer("a.b", dn.zeros(1))


def test_parameter_is_a_leaf_tensor_requiring_grad():
    p = nn.Parameter(np.ones((2, 2), dtype=np.float32))
    assert isinstance(p, dn.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:")
    assert not nn.Parameter(np.ones(2), requires_grad=False).requires_grad
    with pytest.raises(TypeError):
        nn.Parameter(np.ones(2, dtype=np.int64))


def test_deepcopy_gives_an_independent_model():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    c = copy.deepcopy(m)
    assert list(c.state_dict()) == list(m.state_dict())
    c[0].weight.data[...] = 0
    assert not (m[0].weight.data == 0).all()


def test_double_and_float_casts():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    m.double()
    assert all(v.data.dtype == np.float64 for k, v in m.state_dict().items() if k != "1.num_batches_tracked")
    assert m.state_dict()["1.num_batches_tracked"].data.dtype == np.int64
    m.float()
    assert m[0].weight.data.dtype == np.float32
    assert m.to("cpu", dtype=np.float64) is m and m[1].running_var.data.dtype == np.float64
    with pytest.raises(ValueError, match="cpu"):
        m.to("cuda")


def test_forward_hooks_and_get_submodule():
    m = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU()))
    seen = []
    h = m[0].register_forward_hook(lambda mod, inp, out: seen.append(out.shape))
    m(dn.ones(4, 2))
    h.remove()
    m(dn.ones(4, 2))
    assert seen == [(4, 3)]
    assert m.get_submodule("1.0") is m[1][0]
    with pytest.raises(AttributeError):
        m.get_submodule("1.5")
