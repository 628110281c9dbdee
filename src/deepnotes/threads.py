"""The number of threads NumPy's BLAS library (OpenBLAS, MKL, BLIS) uses, under torch's names.

deepnotes does its heavy arithmetic (convolutions as matrix products, linear layers) in BLAS calls,
so the BLAS thread pool is what ``torch.set_num_threads`` controls in torch.  On a machine whose cores
are shared, or for small models where a matrix product is too small to split, one thread can be
faster than several; ``deepnotes train --threads`` sets it for a run.  Uses threadpoolctl.
"""

import numbers

__all__ = ["set_num_threads", "get_num_threads", "CLI_DEFAULT_THREADS"]

#: The BLAS threads of ``deepnotes train``, ``lr-find`` and ``bench`` unless ``--threads`` says otherwise.
#: Chosen by measuring ``deepnotes train`` (LeNet-5 on the digits) on a 2-core machine shared with other
#: work: one thread took 17.7 s against 86 s for two, and 44 s against 167 s with another process
#: keeping a core busy (minima of two runs; the matrix products of a small model are too small to split,
#: and two threads wait on each other whenever the other core is taken).
CLI_DEFAULT_THREADS = 1


def set_num_threads(n):
    """Let the BLAS libraries loaded in this process use ``n`` threads (a positive int), from now on."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"set_num_threads: expected an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=int(n), user_api="blas")


def get_num_threads():
    """The number of threads the BLAS libraries of this process use (the largest if several are
    loaded; 1 when none reports a pool)."""
    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts, default=1)
