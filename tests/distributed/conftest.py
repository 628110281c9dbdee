"""Running a worker script as 2 MPI ranks: the ``mpirun`` fixture.

Each test starts ``mpiexec`` as a subprocess with a timeout (so no test can hang CI), with PYTHONPATH
pointing at this checkout's ``src`` and one BLAS thread per rank.  Workers write their results to files
in ``tmp_path``; the oracle comparisons (NumPy, torch) happen here in the pytest process.
"""

import os
import pathlib
import signal
import subprocess

import pytest

WORKERS = pathlib.Path(__file__).parent / "workers"
SRC = pathlib.Path(__file__).resolve().parents[2] / "src"


def mpi_environment():
    from deepnotes.distributed.launch import launch_environment

    env = launch_environment()
    env["PYTHONPATH"] = os.pathsep.join([str(SRC)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = "1"
    return env


def run_mpi(worker, *args, n=2, timeout=180, check=True):
    """Run ``workers/<worker>`` as ``n`` ranks; returns (returncode, stdout, stderr).  On timeout the
    whole process group (launcher and ranks) is killed and the test fails."""
    from deepnotes.distributed import mpiexec_command

    cmd = mpiexec_command(n, [str(WORKERS / worker)] + [str(a) for a in args])
    proc = subprocess.Popen(
        cmd, env=mpi_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{worker} did not finish within {timeout} s\nstdout:\n{out}\nstderr:\n{err}") from None
    if check and proc.returncode != 0:
        raise AssertionError(f"{worker} failed with exit code {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}")
    return proc.returncode, out, err


def start_mpi(worker, *args, n=2):
    """Start ``workers/<worker>`` as ``n`` ranks in a new session (kill it with os.killpg) and return
    the Popen (stdout/stderr as text pipes)."""
    from deepnotes.distributed import mpiexec_command

    cmd = mpiexec_command(n, [str(WORKERS / worker)] + [str(a) for a in args])
    return subprocess.Popen(
        cmd, env=mpi_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


@pytest.fixture
def mpirun():
    return run_mpi


@pytest.fixture
def mpistart():
    return start_mpi
