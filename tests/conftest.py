"""Shared test fixtures.

torchvision 0.28.0 is installed with ``--no-deps``; its C++ operators do not load beside the CPU
build of torch used here, so importing ``torchvision`` normally fails.  We register a bare package
module named ``torchvision`` whose ``__path__`` is the installed folder: ``torchvision/__init__.py``
never runs, yet its pure-Python submodules (``torchvision.models``, ``torchvision.ops.boxes``,
``torchvision.models.detection.anchor_utils`` ...) import and serve as oracles.
"""

import importlib.util
import os
import shutil
import sys
import types

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

# Under pytest-xdist each worker is one process per core: one BLAS thread and one torch thread each, so
# two workers on two cores do not run four busy threads that wait on each other.
if os.environ.get("PYTEST_XDIST_WORKER"):
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is in the test extra
        pass

# the shared test helpers (tests/_oracle.py, tests/_tiers.py) import by name from every test folder
# (appended, not prepended: the test folders named data/, models/, nn/ ... must not shadow installed packages)
sys.path.append(os.path.dirname(os.path.abspath(__file__)))


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


@pytest.fixture(autouse=True)
def _remove_tmp_path_after_the_test(request):
    """Free each test's tmp_path when it ends: training every zoo model writes checkpoints of over 1 GB
    (VGG), and pytest would otherwise keep the last three runs' folders, tens of GB on a shared disk."""
    yield
    path = request.node.funcargs.get("tmp_path") if hasattr(request.node, "funcargs") else None
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _private_notes_data_dir(tmp_path_factory):
    """The notes store (results, quiz records) goes to a folder of this test process, never the user's data
    folder: tests then neither read a developer's stored results nor race each other under pytest-xdist.
    A test that needs another folder sets DEEPNOTES_DATA_DIR itself (monkeypatch restores this one)."""
    with pytest.MonkeyPatch.context() as mp:
        if not os.environ.get("DEEPNOTES_DATA_DIR"):
            mp.setenv("DEEPNOTES_DATA_DIR", str(tmp_path_factory.mktemp("notes-data")))
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
