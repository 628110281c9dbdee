"""Neural-network building blocks: Module, Parameter, layers, losses, functional ops and init."""

from . import functional, init, modules, parallel, utils
from .modules import *  # noqa: F401,F403
from .parameter import Parameter

__all__ = ["Parameter", "functional", "init", "modules", "parallel", "utils"] + [
    n for n in vars(modules) if not n.startswith("_") and n[0].isupper()
]
