"""PyTorch habits at the top level of ``deepnotes``: sub-packages reachable right after
``import deepnotes`` (loaded lazily), dtype aliases, devices and ``Module.to``/``cpu``/``cuda``."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import deepnotes as dn

LAZY = ["models", "analysis", "detection", "io", "train", "onnx"]


def _fresh(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_deepnotes_loads_no_application_package():
    loaded = _fresh(
        "import sys, json, deepnotes; print(json.dumps(sorted(m for m in sys.modules if m.startswith('deepnotes.'))))"
    )
    for name in ["models", "detection", "analysis", "onnx", "train"]:
        assert f"deepnotes.{name}" not in loaded
    assert "deepnotes.nn" in loaded  # torch.nn-like sub-packages stay eager


def test_sub_packages_are_reachable_from_import_deepnotes():
    got = _fresh(
        "import json, deepnotes as dn; m = dn.models.resnet18(num_classes=3); "
        f"print(json.dumps([type(getattr(dn, n)).__name__ for n in {LAZY!r}] + "
        "[callable(dn.nn.utils.clip_grad_norm_), type(m).__name__, dn.save is dn.io.save]))"
    )
    assert got == ["module"] * len(LAZY) + [True, "ResNet", True]
    for name in LAZY:
        assert name in dir(dn)
    with pytest.raises(AttributeError, match=r"module 'deepnotes' has no attribute 'modles'.*models"):
        dn.modles  # noqa: B018
    assert not hasattr(dn, "no_such_thing")


def test_dtype_aliases_like_torch():
    pairs = {
        "float": "float32",
        "double": "float64",
        "half": "float16",
        "long": "int64",
        "int": "int32",
        "bool": "bool",
        "short": "int16",
    }
    for alias, name in pairs.items():
        assert getattr(torch, alias) == getattr(torch, name)
        assert np.dtype(getattr(dn, alias)) == np.dtype(name)
    x = dn.tensor([1.5, -2.0])
    for method, name in [
        ("float", "float32"),
        ("double", "float64"),
        ("half", "float16"),
        ("long", "int64"),
        ("int", "int32"),
        ("bool", "bool"),
    ]:
        out, ref = getattr(x, method)(), getattr(torch.tensor([1.5, -2.0]), method)()
        assert np.dtype(out.dtype) == np.dtype(name) and str(ref.dtype) == f"torch.{name}"
        np.testing.assert_array_equal(out.data, ref.numpy())
    assert dn.zeros(2, dtype=dn.long).dtype == np.int64


def test_module_device_moves_are_cpu_only():
    m = dn.nn.Linear(2, 3)
    assert m.cpu() is m and m.to("cpu") is m and m.to(dn.device("cpu")) is m
    m.to("cpu", dn.float64)
    assert m.weight.dtype == np.float64
    m.to(dn.zeros(1, dtype=dn.float32))
    assert m.weight.dtype == np.float32
    for bad in (m.cuda, lambda: m.to("cuda"), lambda: m.to("cuda:0", dn.float64), lambda: m.to(device="mps")):
        with pytest.raises(RuntimeError, match="CPU only"):
            bad()
    assert m.weight.dtype == np.float32  # a refused move changes nothing
