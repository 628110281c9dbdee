"""Bad arguments raise clear errors that name the optimizer, what it got and what it expects;
torch rejects the same inputs."""

import numpy as np
import pytest
import torch

import deepnotes
import deepnotes.optim as dopt
from deepnotes.nn import Parameter


def p():
    return Parameter(np.ones(3))


BAD = [
    ("SGD", dict(lr=-1), "SGD: Invalid learning rate: -1"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "SGD: Invalid momentum value: -0.5"),
    ("SGD", dict(lr=0.1, weight_decay=-1e-4), "SGD: Invalid weight_decay value: -0.0001"),
    ("SGD", dict(lr=0.1, nesterov=True), "SGD: Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    ("Adam", dict(lr=-0.01), "Adam: Invalid learning rate: -0.01"),
    (
        "Adam",
        dict(betas=(1.0, 0.999)),
        r"Adam: Invalid beta parameter at index 0: 1.0 \(expected "
        r"0 <= beta < 1\)",
    ),
    ("Adam", dict(betas=(0.9, -0.1)), "Adam: Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(eps=-1e-8), "Adam: Invalid epsilon value: -1e-08"),
    ("Adam", dict(weight_decay=-1), "Adam: Invalid weight_decay value: -1"),
    ("AdamW", dict(betas=(0.9, 1.5)), "AdamW: Invalid beta parameter at index 1: 1.5"),
    ("AdamW", dict(lr=-1), "AdamW: Invalid learning rate: -1"),
    ("Adagrad", dict(lr=-1), "Adagrad: Invalid learning rate: -1"),
    ("Adagrad", dict(lr_decay=-0.1), "Adagrad: Invalid lr_decay value: -0.1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Adagrad: Invalid initial_accumulator_value"),
    ("Adagrad", dict(eps=-1), "Adagrad: Invalid epsilon value: -1"),
    ("Adadelta", dict(rho=1.1), r"Adadelta: Invalid rho value: 1.1 \(expected 0 <= rho <= 1\)"),
    ("Adadelta", dict(lr=-1), "Adadelta: Invalid learning rate: -1"),
    ("Adadelta", dict(eps=-1), "Adadelta: Invalid epsilon value"),
    ("RMSprop", dict(alpha=-0.1), "RMSprop: Invalid alpha value: -0.1"),
    ("RMSprop", dict(momentum=-1), "RMSprop: Invalid momentum value: -1"),
    ("RMSprop", dict(lr=-1), "RMSprop: Invalid learning rate: -1"),
    ("Adamax", dict(betas=(-0.1, 0.9)), "Adamax: Invalid beta parameter at index 0: -0.1"),
    ("Adamax", dict(lr=-1), "Adamax: Invalid learning rate: -1"),
    ("NAdam", dict(momentum_decay=-1), "NAdam: Invalid momentum_decay value: -1"),
    ("NAdam", dict(betas=(0.9, 1.0)), "NAdam: Invalid beta parameter at index 1: 1.0"),
    ("NAdam", dict(lr=-1), "NAdam: Invalid learning rate: -1"),
]


@pytest.mark.parametrize("name,kwargs,msg", BAD, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD)])
def test_bad_hyperparameters(name, kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        getattr(dopt, name)([p()], **kwargs)
    with pytest.raises(ValueError):  # torch rejects it too
        getattr(torch.optim, name)([torch.ones(3, requires_grad=True)], **kwargs)


def test_bad_group_hyperparameters():
    with pytest.raises(ValueError, match="SGD: Invalid learning rate: -0.5"):
        dopt.SGD([{"params": [p()]}, {"params": [p()], "lr": -0.5}], lr=0.1)
    opt = dopt.Adam([p()])
    with pytest.raises(ValueError, match="Adam: Invalid beta parameter at index 0: 2"):
        opt.add_param_group({"params": [p()], "betas": (2, 0.9)})


def test_non_numeric_hyperparameters():
    with pytest.raises(TypeError, match="SGD: learning rate must be a real number, got '0.1'"):
        dopt.SGD([p()], lr="0.1")
    with pytest.raises(ValueError, match="Adam: betas must be a pair"):
        dopt.Adam([p()], betas=(0.9,))


def test_bad_params():
    with pytest.raises(ValueError, match="SGD: optimizer got an empty parameter list"):
        dopt.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Adam: params should be an iterable of Tensors or dicts, but got Parameter"):
        dopt.Adam(p())
    with pytest.raises(
        TypeError, match="Adam: optimizer can only optimize deepnotes Tensors, but one of the params is ndarray"
    ):
        dopt.Adam([np.ones(3)])
    with pytest.raises(TypeError, match="organized in ordered collections"):
        dopt.Adam([{"params": {p()}}])
    with pytest.raises(TypeError, match="can only optimize floating-point tensors, got dtype int64"):
        dopt.SGD([deepnotes.tensor(np.arange(3))])
    x = Parameter(np.ones(2))
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        dopt.SGD([x * 2])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        dopt.SGD([{"params": [x]}, {"params": [x]}])
    with pytest.raises(ValueError, match="contains the same parameter twice"):
        dopt.SGD([x, x])
    opt = dopt.SGD([x])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [x]})
    with pytest.raises(TypeError, match="param_group must be a dict, but got list"):
        opt.add_param_group([x])


def test_gradient_shape_mismatch():
    x = p()
    opt = dopt.Adam([x])
    with pytest.raises(ValueError, match=r"grad: attempting to assign a gradient of size \(4,\)"):
        x.grad = np.ones(4)
    x.grad = np.ones(3)
    x.grad.data = np.ones(4)  # replaced behind the setter's back: the optimizer still checks
    with pytest.raises(
        ValueError,
        match=r"Adam.step: gradient has shape \(4,\), but its parameter "
        r"has shape \(3,\)",
    ):
        opt.step()


# --------------------------------------------------------------------------- load_state_dict
NAN = float("nan")
LOAD_BAD = [
    (
        "SGD",
        dict(momentum=0.9),
        [("lr", -1), ("lr", NAN), ("momentum", -0.5), ("weight_decay", -1e-4), ("dampening", NAN)],
    ),
    ("SGD", dict(momentum=0.9, nesterov=True), [("dampening", 0.1), ("momentum", 0)]),
    (
        "Adam",
        {},
        [
            ("lr", -1),
            ("lr", NAN),
            ("betas", (1.0, 0.999)),
            ("betas", (0.9, -0.1)),
            ("betas", (NAN, 0.9)),
            ("eps", -1e-8),
            ("weight_decay", -1),
        ],
    ),
    ("AdamW", {}, [("lr", NAN), ("betas", (0.9, 1.5)), ("eps", -1.0), ("weight_decay", NAN)]),
    ("Adamax", {}, [("lr", -1), ("betas", (-0.1, 0.9)), ("eps", -1.0), ("weight_decay", -1)]),
    ("NAdam", {}, [("lr", NAN), ("betas", (0.9, 1.0)), ("eps", -1.0), ("momentum_decay", -1)]),
    (
        "Adagrad",
        {},
        [("lr", -1), ("lr_decay", -0.1), ("eps", NAN), ("weight_decay", -1), ("initial_accumulator_value", -1)],
    ),
    ("Adadelta", {}, [("lr", NAN), ("rho", 1.1), ("eps", -1), ("weight_decay", -1)]),
    ("RMSprop", {}, [("lr", -1), ("alpha", -0.1), ("eps", -1), ("momentum", NAN), ("weight_decay", -1)]),
    ("LBFGS", {}, [("lr", NAN), ("max_iter", 0), ("history_size", -3), ("line_search_fn", "armijo")]),
]
LOAD_CASES = [(n, kw, key, bad) for n, kw, cases in LOAD_BAD for key, bad in cases]


@pytest.mark.parametrize("name,kwargs,key,bad", LOAD_CASES, ids=[f"{n}-{k}={b}" for n, _, k, b in LOAD_CASES])
def test_load_state_dict_applies_the_constructor_checks(name, kwargs, key, bad):
    cls = getattr(dopt, name)
    with pytest.raises(ValueError) as ctor:
        cls([p()], **{**kwargs, key: bad})
    expected = str(ctor.value).removeprefix(f"{name}: ")
    param = p()
    opt = cls([param], **kwargs)
    param.grad = np.full(3, 0.5)
    if name == "LBFGS":
        opt.step(lambda: deepnotes.tensor(float((param.data**2).sum())))
    else:
        opt.step()
    sd = opt.state_dict()
    before = opt.state_dict()
    sd["param_groups"][0][key] = bad
    with pytest.raises(ValueError) as load:
        opt.load_state_dict(sd)
    assert str(load.value) == f"{name}.load_state_dict: param_groups[0]: {expected}"
    # nothing was loaded: the optimizer keeps its hyper-parameters and its state
    assert opt.param_groups[0][key] == before["param_groups"][0][key]
    after = opt.state_dict()
    assert after["state"].keys() == before["state"].keys()


def test_load_state_dict_checks_every_group_and_types():
    a, b = p(), p()
    opt = dopt.Adam([{"params": [a]}, {"params": [b], "lr": 0.1}])
    sd = opt.state_dict()
    sd["param_groups"][1]["betas"] = (0.9, 1.0)
    with pytest.raises(
        ValueError,
        match=r"^Adam.load_state_dict: param_groups\[1\]: Invalid beta parameter "
        r"at index 1: 1.0 \(expected 0 <= beta < 1\)$",
    ):
        opt.load_state_dict(sd)
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = "0.1"
    with pytest.raises(
        TypeError,
        match=r"^Adam.load_state_dict: param_groups\[0\]: learning rate must be a "
        r"real number, got '0.1'",
    ):
        opt.load_state_dict(sd)
    good = opt.state_dict()
    good["param_groups"][0]["lr"] = 0.5
    opt.load_state_dict(good)
    assert opt.param_groups[0]["lr"] == 0.5
