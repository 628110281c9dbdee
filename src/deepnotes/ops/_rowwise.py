"""Fast per-row broadcasting (``x (R, S) * a (R, 1)``) for the normalisation and depthwise passes.

NumPy's ufunc iterator buffers operands in chunks of ``np.getbufsize()`` elements (8192 by default).
When a row is shorter than that but still long (S of roughly 512 to 8191: 32x32 or 56x56 feature
maps), it expands the broadcast column into the buffer instead of running the inner loop on the rows
themselves; measured on this project's machine, ``x * a`` and ``x += a`` then run about 2x slower
than with a buffer smaller than a row.  :func:`row_broadcasts` lowers the buffer size for such rows
for the duration of a block (NumPy keeps it in a context variable, so other threads are unaffected);
results are identical, only the iteration changes.  Rows shorter than 512 keep the default, which
is faster for them, and so do row-vector operands (``x (R, S) * w (S,)``), which the small buffer slows
down: wrap only the per-row column operations.
"""

import contextlib

import numpy as np

_MIN_ROW = 512
_MAX_ROW = 8192
_SMALL_BUFFER = 256
_setbufsize = getattr(np, "setbufsize", None)  # a NumPy without it: a plain no-op (speed only)


@contextlib.contextmanager
def row_broadcasts(row_length):
    """Run the block with NumPy's ufunc buffer below ``row_length`` when that makes per-row
    broadcasting faster (``_MIN_ROW <= row_length < _MAX_ROW``); otherwise change nothing."""
    if _setbufsize is None or not _MIN_ROW <= row_length < _MAX_ROW:
        yield
        return
    previous = _setbufsize(_SMALL_BUFFER)
    try:
        yield
    finally:
        _setbufsize(previous)
