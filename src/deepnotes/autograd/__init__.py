"""Reverse-mode automatic differentiation: the Function protocol, grad mode, ``grad`` (to any order)
and gradient checking."""

from . import functional
from .differentiate import grad
from .function import Function, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled, unbroadcast
from .gradcheck import gradcheck, gradgradcheck

__all__ = [
    "Function",
    "enable_grad",
    "inference_mode",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "unbroadcast",
    "gradcheck",
    "gradgradcheck",
    "grad",
    "functional",
]
