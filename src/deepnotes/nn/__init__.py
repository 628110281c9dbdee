"""Neural-network building blocks: Module, Parameter, layers, losses, functional ops and init."""
from . import functional, init, parallel, utils
from .modules import *  # noqa: F401,F403
from .modules import __dict__ as _mods
from .parameter import Parameter

__all__ = ["Parameter", "functional", "init", "parallel"] + [n for n in _mods if not n.startswith("_") and n[0].isupper()]
