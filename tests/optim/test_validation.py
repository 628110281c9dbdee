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
    ("SGD", dict(lr=0.1, nesterov=True), "SGD: Nesterov momentum requires a momentum and zero "
                                         "dampening"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    ("Adam", dict(lr=-0.01), "Adam: Invalid learning rate: -0.01"),
    ("Adam", dict(betas=(1.0, 0.999)), r"Adam: Invalid beta parameter at index 0: 1.0 \(expected "
                                       r"0 <= beta < 1\)"),
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
    with pytest.raises(ValueError):                        # torch rejects it too
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
    with pytest.raises(TypeError, match="Adam: params should be an iterable of Tensors or dicts, "
                                        "but got Parameter"):
        dopt.Adam(p())
    with pytest.raises(TypeError, match="Adam: optimizer can only optimize deepnotes Tensors, but "
                                        "one of the params is ndarray"):
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
    with pytest.raises(ValueError, match=r"Adam.step: gradient has shape \(4,\), but its parameter "
                                         r"has shape \(3,\)"):
        opt.step()
