"""Shared test fixtures.

torchvision 0.28.0 is installed with ``--no-deps``; its C++ operators do not load beside the CPU
build of torch used here, so importing ``torchvision`` normally fails.  We register a bare package
module named ``torchvision`` whose ``__path__`` is the installed folder: ``torchvision/__init__.py``
never runs, yet its pure-Python submodules (``torchvision.models``, ``torchvision.ops.boxes``,
``torchvision.models.detection.anchor_utils`` ...) import and serve as oracles.
"""
import importlib.util
import os
import sys
import types

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")


def _register_bare_torchvision():
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"]
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    module = types.ModuleType("torchvision")
    module.__path__ = list(spec.submodule_search_locations)
    module.__file__ = None
    module.__version__ = "0.28.0"
    sys.modules["torchvision"] = module
    return module


_register_bare_torchvision()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
