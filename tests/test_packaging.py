"""The package as a user gets it: a wheel built from the project installs into a fresh virtual
environment together with its declared dependencies, and ``deepnotes train`` runs from there on the
bundled digits (package data included), importing the installed copy, never this source tree.

The wheel is built with ``pip wheel --no-deps --no-build-isolation`` (setuptools from the running
interpreter) from a copy of the project, so the build leaves nothing behind in the checkout. The venv
is created without system site-packages; pip installs NumPy, tqdm and safetensors into it from the
configured index (PyPI, or the local wheel cache pip is configured with)."""

import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def clean_env():
    """The environment for the child processes: nothing that would point them at this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(cmd, cwd, env, timeout):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
        f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


def build_wheel(tmp_path, env):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    dist = tmp_path / "dist"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(project),
        ],
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    wheels = list(dist.glob("deepnotes-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_trains(tmp_path):
    env = clean_env()
    wheel = build_wheel(tmp_path, env)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"deepnotes/data/assets/digits.npz", "deepnotes/data/assets/DIGITS.md", "deepnotes/cli.py"} <= names
    assert not any(n.startswith(("tests/", "src/")) for n in names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    run([python, "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path, env=env, timeout=600)

    work = tmp_path / "work"  # outside the checkout: nothing to import by accident
    work.mkdir()
    where = run(
        [python, "-c", "import deepnotes, numpy, sys; print(deepnotes.__file__); print(sys.prefix)"],
        cwd=work,
        env=env,
        timeout=120,
    ).splitlines()
    assert Path(where[0]).resolve().is_relative_to(env_dir.resolve()), where
    assert Path(where[1]).resolve() == env_dir.resolve(), where
    # the venv holds only what the wheel declares (and pip's own tools): no torch or other test extras
    frozen = run([python, "-m", "pip", "list", "--format=freeze"], cwd=work, env=env, timeout=120)
    installed = {line.split("==")[0].lower().replace("_", "-") for line in frozen.split()}
    assert {"deepnotes", "numpy", "tqdm", "safetensors"} <= installed
    assert not installed & {"torch", "torchvision", "pytest", "scipy", "pycocotools"}, installed

    script = bindir / ("deepnotes.exe" if os.name == "nt" else "deepnotes")
    out = run([script, "train", "--epochs", "1", "--out", str(work / "run")], cwd=work, env=env, timeout=600)
    match = re.search(r"test accuracy (\d\.\d{4})", out)
    assert match, out[-2000:]
    assert float(match.group(1)) > 0.5  # one epoch of LeNet-5 on the digits is far past chance
    assert (work / "run" / "model.safetensors").is_file()
