"""Neural-network building blocks: Module, Parameter, layers, losses, functional ops and init."""

from . import functional, init, parallel, utils
from . import modules as _modules
from .modules import *  # noqa: F401,F403
from .parameter import Parameter

__all__ = ["Parameter", "functional", "init", "parallel"] + [
    n for n in vars(_modules) if not n.startswith("_") and n[0].isupper()
]
