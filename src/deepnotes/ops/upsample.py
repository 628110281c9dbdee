"""Resampling along one axis with fixed taps: the separable core of ``interpolate``.

Every mode of ``interpolate`` except 'area' is separable: along each spatial axis, output position j
reads a few input positions idx_k[j] with weights w_k[j] (nearest: one tap of weight 1; linear: two;
cubic: four), y[j] = sum_k w_k[j] x[idx_k[j]].  The backward pass sends w_k[j] g[j] back to
idx_k[j].  Each idx_k is non-decreasing in j, so that scatter-add is one ``np.add.reduceat`` over runs
of equal indices per tap (no ``np.add.at``).  Along the last two axes, when the input side is short
(<= 128), both passes are instead one matrix product with the dense interpolation matrix, unless the
array holds a NaN or inf: the matrix's zeros would turn it into 0 * inf = NaN in every output of its
row (torch's gathers reach only the outputs that read it), so such arrays take the gather path.

The index and weight formulas follow torch's (ATen ``UpSample.h``) so results agree elementwise:
scale = (in - 1) / (out - 1) with ``align_corners`` (0 when out == 1), else 1 / scale_factor when a
scale factor is given, else in / out; the source coordinate is scale * j (align_corners) or
scale * (j + 1/2) - 1/2 (clamped at 0 for linear).  'nearest' reads floor(j * scale) and
'nearest-exact' floor(max(scale * (j + 1/2) - 1/2, 0) + 1/2), both evaluated in the input's precision
(float32 inputs: float32 arithmetic) as torch's kernels do; for 2-D inputs torch's legacy nearest kernel
also copies rows when out == in and halves indices when out == 2 in, whatever the scale factor.  (At
exact rounding ties, which need ratios out / in above ~40, torch's 1-D, 2-D and 3-D kernels and its
backward pass disagree with each other; there we follow the forward formulas above.)  Cubic weights use
the Keys kernel with A = -0.75 at indices clamped to the input.
"""

import numpy as np

from ..autograd.function import Function
from ._finite import all_finite
from .linear import AxisMatrixFn


def _scale(in_size, out_size, align_corners, scale_factor, dtype):
    if align_corners:
        return dtype((in_size - 1) / (out_size - 1)) if out_size > 1 else dtype(0)
    if scale_factor is not None and scale_factor > 0:
        return dtype(1.0 / scale_factor)
    return dtype(dtype(in_size) / dtype(out_size))


def nearest_taps(in_size, out_size, scale_factor, exact, dtype, legacy_2d=False):
    """One tap (indices, None) for 'nearest' (``exact=False``) or 'nearest-exact', computed in ``dtype``
    (float32 for float32 and float16 inputs); ``legacy_2d`` adds the special cases of torch's 2-D kernel."""
    j = np.arange(out_size)
    if legacy_2d and not exact and out_size == in_size:
        return ((j, None),)
    if legacy_2d and not exact and out_size == 2 * in_size:
        return ((j >> 1, None),)
    t = np.float64 if np.dtype(dtype) == np.float64 else np.float32
    scale = _scale(in_size, out_size, False, scale_factor, t)
    jf = j.astype(t)
    if exact:
        src = np.floor(np.maximum(scale * (jf + t(0.5)) - t(0.5), t(0)) + t(0.5))
    else:
        src = np.floor(jf * scale)
    return ((np.minimum(src.astype(np.int64), in_size - 1), None),)


def linear_taps(in_size, out_size, align_corners, scale_factor, dtype):
    """Two taps ((i0, 1 - lambda), (i1, lambda)) of linear interpolation."""
    j = np.arange(out_size)
    if out_size == in_size:
        return ((j, None),)
    t = np.dtype(dtype).type
    scale = _scale(in_size, out_size, align_corners, scale_factor, t)
    jf = j.astype(dtype)
    src = scale * jf if align_corners else np.maximum(scale * (jf + t(0.5)) - t(0.5), t(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    lam1 = np.clip(src - i0, t(0), t(1)).astype(dtype, copy=False)
    i1 = i0 + (i0 < in_size - 1)
    return ((i0, (t(1) - lam1).astype(dtype, copy=False)), (i1, lam1))


def _cubic_weights(x, t):
    a = t(-0.75)

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return far(x + 1), near(x), near(1 - x), far(2 - x)


def cubic_taps(in_size, out_size, align_corners, scale_factor, dtype):
    """Four taps of bicubic (Keys, A = -0.75) interpolation at clamped indices i0 - 1 .. i0 + 2."""
    t = np.dtype(dtype).type
    j = np.arange(out_size)
    scale = _scale(in_size, out_size, align_corners, scale_factor, t)
    jf = j.astype(dtype)
    src = scale * jf if align_corners else scale * (jf + t(0.5)) - t(0.5)
    i0 = np.floor(src)
    frac = (src - i0).astype(dtype, copy=False)
    i0 = i0.astype(np.int64)
    weights = _cubic_weights(frac, t)
    return tuple((np.clip(i0 - 1 + k, 0, in_size - 1), w.astype(dtype, copy=False)) for k, w in enumerate(weights))


# Along one of the last two axes, when the input side is at most this long, the resampling runs as a
# matrix product with the dense (out, in) interpolation matrix M (y = x M^T or M x, and M^T for the
# gradient): at most _DENSE_MAX multiply-adds per output in BLAS beat NumPy's gathers and, above all,
# the reduceat scatter of the backward pass (measured 2x upsampling of 16x64x32x32: ~3x faster).
_DENSE_MAX = 128


def _dense_matrix(taps, n_out, n_in, dtype):
    m = np.zeros((n_out, n_in), dtype=dtype)
    rows = np.arange(n_out)
    for idx, w in taps:
        np.add.at(m, (rows, idx), 1 if w is None else w)
    return m


class Interp1dFn(Function):
    """y = sum_k w_k * x[idx_k] along ``axis``; ``taps`` is a tuple of (idx, weight or None)."""

    def forward(self, a, axis, taps):
        n_out = taps[0][0].size
        self.axis, self.taps, self.shape = axis, taps, a.shape
        bshape = [1] * a.ndim
        bshape[axis] = -1
        self.bshape = bshape
        self.dense = None
        if (
            axis >= a.ndim - 2 and 0 < a.shape[axis] <= _DENSE_MAX and a.size and a.dtype in (np.float32, np.float64)
        ):  # BLAS dtypes (NumPy's float16 matmul is slow)
            self.dense = _dense_matrix(taps, n_out, a.shape[axis], a.dtype)
            if all_finite(a):
                if axis == a.ndim - 1:
                    return a @ self.dense.T
                return np.matmul(self.dense, a)
        out = None
        for idx, w in taps:
            v = np.take(a, idx, axis=axis)
            if w is not None:
                v *= w.reshape(bshape)
            if out is None:
                out = v
            else:
                out += v
        return out

    def backward(self, g):
        if self.dense is not None:
            # a non-finite g leaves NaN or inf in every row of dx (0 * inf), so checking the smaller dx
            # suffices; a finite g whose product overflows takes the gathers too (same result)
            with np.errstate(invalid="ignore", over="ignore"):
                dx = g @ self.dense if self.axis == g.ndim - 1 else np.matmul(self.dense.T, g)
            if all_finite(dx):
                return dx
        axis, bshape = self.axis, self.bshape
        out = np.zeros(self.shape, dtype=g.dtype)
        lead = (slice(None),) * axis
        for idx, w in self.taps:
            gw = g * w.reshape(bshape) if w is not None else g
            if idx.size == 0:
                continue
            starts = np.flatnonzero(np.concatenate(([True], idx[1:] != idx[:-1])))
            if starts.size == idx.size:  # every index distinct: a plain scatter
                out[lead + (idx,)] += gw
                continue
            out[lead + (idx[starts],)] += np.add.reduceat(gw, starts, axis=axis)
        return out

    def backward_graph(self, g):
        dense = _dense_matrix(self.taps, self.taps[0][0].size, self.shape[self.axis], g.data.dtype)
        return AxisMatrixFn.apply(g, matrix=dense.T, axis=self.axis)
