"""One up-front bound on the size of outputs whose shape the caller chooses.

Some operations take their output size from arguments rather than from the input (``interpolate``'s
``size`` / ``scale_factor``, adaptive pooling's ``output_size``, a transposed convolution's stride and
dilation).  A slip such as ``scale_factor=1e9`` would otherwise ask NumPy for tens of GiB, and either
fail deep inside with an opaque MemoryError or bring the machine to the OOM killer.  These operations
therefore check the element count first and refuse outputs above ``MAX_OUTPUT_ELEMENTS``.

The limit is a fixed 2**31 elements (8 GiB of float32, 16 GiB of float64): a fixed number keeps the
behaviour reproducible across machines (a bound derived from the free memory would accept a call on
one machine and refuse it on another), it is far above any single activation this CPU engine is
used for (a 64x256x256x256 float32 batch is 2**30 elements), and it still catches the mistakes it is
meant for.  A program that needs more can raise it: ``deepnotes.ops._limits.MAX_OUTPUT_ELEMENTS``.
"""

import math

import numpy as np

MAX_OUTPUT_ELEMENTS = 2**31


def check_output_size(name, shape, dtype, what="output"):
    """Raise a ValueError naming ``name`` when an array of ``shape`` (Python ints, so no overflow) and
    ``dtype`` would hold more than ``MAX_OUTPUT_ELEMENTS`` elements; return the element count."""
    count = math.prod(int(s) for s in shape)
    if count > MAX_OUTPUT_ELEMENTS:
        nbytes = count * np.dtype(dtype).itemsize
        raise ValueError(
            f"{name}: the requested {what} of shape {tuple(int(s) for s in shape)} would hold "
            f"{count} elements ({nbytes} bytes, {nbytes / 2**30:.1f} GiB of {np.dtype(dtype)}), "
            f"more than the limit of {MAX_OUTPUT_ELEMENTS} elements; check the requested size "
            f"(or raise deepnotes.ops._limits.MAX_OUTPUT_ELEMENTS)"
        )
    return count
