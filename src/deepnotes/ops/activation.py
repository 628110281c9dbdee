"""Fused activation primitives: each computes its value and its derivative in one place.

Composing these from exp/where/clamp would build several graph nodes per call and, for some, lose
precision or overflow (softplus, SiLU and GELU for large |x|).  The derivatives and the behaviour at the
kinks follow torch, so gradients agree elementwise:

* LeakyReLU  y = x (x > 0), slope x else;                 y' = 1 (x > 0), slope else
* PReLU      as LeakyReLU with a learnable slope per channel (axis 1);  dy/dslope = x (x <= 0)
* ELU        y = scale x (x > 0), scale alpha (e^(s x) - 1) else (s = input_scale; SELU and CELU are
             special cases);  y' = scale (x > 0), scale alpha s e^(s x) else
* Hardtanh   y = clip(x, lo, hi);  y' = 1 strictly inside (lo, hi), 0 elsewhere (ReLU6 = Hardtanh(0, 6))
* Hardsigmoid y = clip(x / 6 + 1/2, 0, 1);  y' = 1/6 on (-3, 3)
* Hardswish  y = x clip(x + 3, 0, 6) / 6;  y' = 0 (x <= -3), x/3 + 1/2 (-3 < x < 3), 1 (x >= 3)
* SiLU/Swish y = x sigma(beta x);  dy/dx = s + beta x s (1 - s), dy/dbeta = x^2 s (1 - s), s = sigma(beta x)
* GELU       y = x Phi(x) (Phi the standard normal CDF), y' = Phi(x) + x phi(x);  the 'tanh'
             approximation uses Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
* Softplus   y = log(1 + e^(beta x)) / beta, and y = x where beta x > threshold;  y' = sigma(beta x)
* Hardshrink y = x where x < -lambd or x > lambd, 0 on [-lambd, lambd];  y' = 1 outside, 0 on it (NaN passes)

NumPy has no error function, so :func:`erf` and :func:`erfc` are evaluated here with the piecewise
rational approximations of Sun's fdlibm (``s_erf.c``, freely distributable; its published coefficients
are reused, the vectorised evaluation is ours): below 1 ulp in float64 on the whole real line.
"""

import math

import numpy as np

from ..autograd.function import Function, unbroadcast
from ._graph import const, linked, reshape, sum_to
from .elementwise import Clamp, Exp, Sigmoid, Tanh, Where

# ------------------------------------------------------------------------------------- erf / erfc
_ERX = 8.45062911510467529297e-01
_PP = (
    1.28379167095512558561e-01,
    -3.25042107247001499370e-01,
    -2.84817495755985104766e-02,
    -5.77027029648944159157e-03,
    -2.37630166566501626084e-05,
)
_QQ = (
    1.0,
    3.97917223959155352819e-01,
    6.50222499887672944485e-02,
    5.08130628187576562776e-03,
    1.32494738004321644526e-04,
    -3.96022827877536812320e-06,
)
_PA = (
    -2.36211856075265944077e-03,
    4.14856118683748331666e-01,
    -3.72207876035701323847e-01,
    3.18346619901161753674e-01,
    -1.10894694282396677476e-01,
    3.54783043256182359371e-02,
    -2.16637559486879084300e-03,
)
_QA = (
    1.0,
    1.06420880400844228286e-01,
    5.40397917702171048937e-01,
    7.18286544141962662868e-02,
    1.26171219808761642112e-01,
    1.36370839120290507362e-02,
    1.19844998467991074170e-02,
)
_RA = (
    -9.86494403484714822705e-03,
    -6.93858572707181764372e-01,
    -1.05586262253232909814e01,
    -6.23753324503260060396e01,
    -1.62396669462573470355e02,
    -1.84605092906711035994e02,
    -8.12874355063065934246e01,
    -9.81432934416914548592e00,
)
_SA = (
    1.0,
    1.96512716674392571292e01,
    1.37657754143519042600e02,
    4.34565877475229228821e02,
    6.45387271733267880336e02,
    4.29008140027567833386e02,
    1.08635005541779435134e02,
    6.57024977031928170135e00,
    -6.04244152148580987438e-02,
)
_RB = (
    -9.86494292470009928597e-03,
    -7.99283237680523006574e-01,
    -1.77579549177547519889e01,
    -1.60636384855821916062e02,
    -6.37566443368389627722e02,
    -1.02509513161107724954e03,
    -4.83519191608651397019e02,
)
_SB = (
    1.0,
    3.03380607434824582924e01,
    3.25792512996573918826e02,
    1.53672958608443695994e03,
    3.19985821950859553908e03,
    2.55305040643316442583e03,
    4.74528541206955367215e02,
    -2.24409524465858183362e01,
)


def _poly(t, coeffs):
    """c0 + c1 t + c2 t^2 + ... by Horner's rule."""
    acc = np.full_like(t, coeffs[-1])
    for c in coeffs[-2::-1]:
        acc *= t
        acc += c
    return acc


def _erf_parts(x):
    """(erf(x), erfc(x)) for a float64 array, each accurate to about 1 ulp.

    |x| < 0.84375: erf = x + x P(x^2)/Q(x^2).  0.84375 <= |x| < 1.25: erf(|x|) = c + P(s)/Q(s) with
    s = |x| - 1.  |x| >= 1.25: erfc(|x|) = exp(-x^2 - 0.5625 + R(1/x^2)/S(1/x^2)) / |x|, with -x^2
    split as -z^2 + (z - x)(z + x) (z = x with its low 32 bits cleared) so the exponent is exact.
    """
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    erf = np.empty_like(x)
    erfc = np.empty_like(x)
    mid = (ax >= 0.84375) & (ax < 1.25)
    big = ax >= 1.25
    small = ~(mid | big)  # includes NaN, which propagates through the polynomial
    if small.any():
        xs = x[small]
        z = xs * xs
        xy = xs * (_poly(z, _PP) / _poly(z, _QQ))
        erf[small] = xs + xy
        # erfc = 1 - erf, rearranged for 0.25 <= x to keep the low bits
        erfc[small] = np.where(xs < 0.25, 1.0 - (xs + xy), 0.5 - (xy + (xs - 0.5)))
    if mid.any():
        xm = x[mid]
        s = np.abs(xm) - 1.0
        pq = _poly(s, _PA) / _poly(s, _QA)
        erf[mid] = np.copysign(_ERX + pq, xm)
        erfc[mid] = np.where(xm >= 0, (1.0 - _ERX) - pq, 1.0 + (_ERX + pq))
    if big.any():
        xb = x[big]
        ab = np.minimum(np.abs(xb), 30.0)  # erfc(30) underflows already; keeps inf out of the maths
        s = 1.0 / (ab * ab)
        near = ab < 1.0 / 0.35
        ratio = np.where(near, _poly(s, _RA) / _poly(s, _SA), _poly(s, _RB) / _poly(s, _SB))
        z = (ab.view(np.uint64) & np.uint64(0xFFFFFFFF00000000)).view(np.float64)
        r = np.exp(-z * z - 0.5625) * np.exp((z - ab) * (z + ab) + ratio) / ab
        erf[big] = np.copysign(1.0 - r, xb)
        erfc[big] = np.where(xb > 0, r, 2.0 - r)
    return erf, erfc


def erf(x):
    """The error function 2/sqrt(pi) int_0^x e^(-t^2) dt, elementwise (float64 accuracy)."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    return _erf_parts(x)[0].astype(dt, copy=False)


def erfc(x):
    """The complementary error function 1 - erf(x), computed without cancellation for large x."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    return _erf_parts(x)[1].astype(dt, copy=False)


def _sigmoid(a):
    """sigma(a) = 1 / (1 + e^-a), evaluated as e^a / (1 + e^a) for a < 0 so nothing overflows."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


# ------------------------------------------------------------------------------------- primitives
class LeakyReLUFn(Function):
    def forward(self, a, negative_slope):
        pos = a > 0
        self.pos, self.slope = pos, negative_slope
        return np.where(pos, a, a * a.dtype.type(negative_slope))

    def backward(self, g):
        return np.where(self.pos, g, g * g.dtype.type(self.slope))

    def backward_graph(self, g):
        t = g.data.dtype.type
        return linked(g * const(g, np.where(self.pos, t(1), t(self.slope))), self.parents[0])


class PReLUFn(Function):
    """y = x (x > 0), w_c x else; ``weight`` holds one slope, or one per channel (axis 1 of x)."""

    def forward(self, a, w):
        shape = [1] * a.ndim
        if a.ndim >= 2:
            shape[1] = w.size
        wb = w.reshape(shape) if a.ndim else w.reshape(())
        pos = a > 0
        self.a, self.wb, self.pos, self.wshape = a, wb, pos, w.shape
        return np.where(pos, a, a * wb)

    def backward(self, g):
        ga = gw = None
        if self.needs_input_grad[0]:
            ga = np.where(self.pos, g, g * self.wb)
        if self.needs_input_grad[1]:
            gw = unbroadcast(np.where(self.pos, g.dtype.type(0), g * self.a), self.wb.shape)
            gw = gw.reshape(self.wshape)
        return ga, gw

    def backward_graph(self, g):
        a, w = self.parents
        pos = const(g, self.pos)
        zero = const(g, np.zeros((), dtype=g.data.dtype))
        ga = gw = None
        if self.needs_input_grad[0]:
            ga = Where.apply(pos, g, g * reshape(w, self.wb.shape))
        if self.needs_input_grad[1]:
            gw = reshape(sum_to(Where.apply(pos, zero, g * a), self.wb.shape), self.wshape)
        return ga, gw


class ELUFn(Function):
    """scale * (x if x > 0 else alpha (e^(input_scale x) - 1)): ELU, SELU and CELU."""

    def forward(self, a, alpha, scale, input_scale):
        pos = a > 0
        t = a.dtype.type
        e = np.exp(np.minimum(a, t(0)) * t(input_scale))  # only used where x <= 0
        self.pos, self.e, self.input_scale = pos, e, input_scale
        self.coef = (t(scale), t(scale * alpha * input_scale))
        neg = np.expm1(np.minimum(a, t(0)) * t(input_scale)) * t(alpha * scale)
        return np.where(pos, a * t(scale), neg)

    def backward(self, g):
        s, c = self.coef
        return np.where(self.pos, g * s, g * c * self.e)

    def backward_graph(self, g):
        s, c = self.coef
        x = self.parents[0]
        e = Exp.apply(Clamp.apply(x, max=0) * self.input_scale)
        return Where.apply(const(g, self.pos), g * s, g * (e * c))


class HardtanhFn(Function):
    """clip(x, min_val, max_val); the gradient is 1 strictly inside the interval (torch's rule)."""

    def forward(self, a, min_val, max_val):
        t = a.dtype.type
        out = np.clip(a, t(min_val), t(max_val))  # one vectorised pass (maximum + minimum: two, slower)
        if self.needs_input_grad[0]:  # lo < out < hi exactly where lo < x < hi: the mask waits for backward
            self.out, self.bounds = out, (t(min_val), t(max_val))
        return out

    def backward(self, g):
        lo, hi = self.bounds
        inside = self.out > lo
        inside &= self.out < hi
        return g * inside

    def backward_graph(self, g):
        lo, hi = self.bounds
        return linked(g * const(g, ((self.out > lo) & (self.out < hi)).astype(g.data.dtype)), self.parents[0])


class HardshrinkFn(Function):
    """x outside [-lambd, lambd], 0 on it; the gradient passes outside and is 0 on the closed interval
    (torch's rule, so 0 at x = +-lambd).  The test is "inside the interval", so a NaN passes through as
    in torch.  A negative lambd makes the interval empty: the identity."""

    def forward(self, a, lambd):
        t = a.dtype.type
        inside = (a >= t(-lambd)) & (a <= t(lambd))
        if self.needs_input_grad[0]:
            self.inside = inside
        return np.where(inside, t(0), a)

    def backward(self, g):
        return np.where(self.inside, g.dtype.type(0), g)

    def backward_graph(self, g):
        return linked(g * const(g, (~self.inside).astype(g.data.dtype)), self.parents[0])


class HardsigmoidFn(Function):
    def forward(self, a):
        self.inside = (a > -3) & (a < 3)
        t = a.dtype.type
        return np.clip(a * t(1 / 6) + t(0.5), t(0), t(1)).astype(a.dtype, copy=False)

    def backward(self, g):
        return np.where(self.inside, g * g.dtype.type(1 / 6), g.dtype.type(0))

    def backward_graph(self, g):
        return linked(g * const(g, np.where(self.inside, 1 / 6, 0).astype(g.data.dtype)), self.parents[0])


class HardswishFn(Function):
    def forward(self, a):
        self.a = a
        t = a.dtype.type
        return a * np.clip(a + t(3), t(0), t(6)) * t(1 / 6)

    def backward(self, g):
        a = self.a
        t = g.dtype.type
        d = np.where(a <= -3, t(0), np.where(a < 3, a * t(1 / 3) + t(0.5), t(1)))
        return g * d

    def backward_graph(self, g):
        a = self.a
        x = self.parents[0]
        mid = const(g, (a > -3) & (a < 3))
        d = Where.apply(mid, x * (1 / 3) + 0.5, const(g, (a >= 3).astype(g.data.dtype)))
        return g * d


class SiLUFn(Function):
    """x sigma(x); y' = s (1 + x (1 - s))."""

    def forward(self, a):
        s = _sigmoid(a)
        self.a, self.s = a, s
        return a * s

    def backward(self, g):
        s = self.s
        return g * (s * (1 + self.a * (1 - s)))

    def backward_graph(self, g):
        x = self.parents[0]
        s = Sigmoid.apply(x)
        return g * (s * (x * (1 - s) + 1))


class SwishFn(Function):
    """x sigma(beta x) with a tensor ``beta`` (learnable Swish); beta broadcasts against x."""

    def forward(self, a, beta):
        s = _sigmoid(beta * a)
        self.a, self.beta, self.s = a, beta, s
        return a * s

    def backward(self, g):
        a, beta, s = self.a, self.beta, self.s
        ds = s * (1 - s)
        ga = g * (s + beta * a * ds) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * (a * a * ds), beta.shape) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_graph(self, g):
        a, beta = self.parents
        s = Sigmoid.apply(beta * a)
        ds = s * (1 - s)
        ga = g * (s + beta * a * ds) if self.needs_input_grad[0] else None
        gb = sum_to(g * (a * a * ds), beta.shape) if self.needs_input_grad[1] else None
        return ga, gb


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELUFn(Function):
    """x Phi(x) (``approximate='none'``) or its tanh approximation (``approximate='tanh'``)."""

    def forward(self, a, approximate):
        self.a, self.approximate = a, approximate
        t = a.dtype.type
        if approximate == "tanh":
            inner = (a + t(0.044715) * a * a * a) * t(_SQRT_2_OVER_PI)
            self.th = np.tanh(inner)
            return t(0.5) * a * (1 + self.th)
        # Phi(x) = erfc(-x / sqrt 2) / 2, exact in the left tail where 1 + erf(x / sqrt 2) cancels
        phi_cdf = (0.5 * _erf_parts(-a.astype(np.float64) * math.sqrt(0.5))[1]).astype(a.dtype, copy=False)
        self.cdf = phi_cdf
        return a * phi_cdf

    def backward(self, g):
        a = self.a
        t = g.dtype.type
        if self.approximate == "tanh":
            th = self.th
            d = t(0.5) * (1 + th) + t(0.5) * a * (1 - th * th) * t(_SQRT_2_OVER_PI) * (1 + t(3 * 0.044715) * a * a)
            return g * d
        pdf = np.exp(a * a * t(-0.5)) * t(_INV_SQRT_2PI)
        return g * (self.cdf + a * pdf)

    def backward_graph(self, g):
        x = self.parents[0]
        if self.approximate == "tanh":
            k = 0.044715
            th = Tanh.apply((x + x * x * x * k) * _SQRT_2_OVER_PI)
            d = (th + 1) * 0.5 + x * (1 - th * th) * (0.5 * _SQRT_2_OVER_PI) * (x * x * (3 * k) + 1)
            return g * d
        pdf = Exp.apply(x * x * -0.5) * _INV_SQRT_2PI
        return g * (NormalCDF.apply(x) + x * pdf)


class NormalCDF(Function):
    """Phi(x) = erfc(-x / sqrt 2) / 2, the standard normal distribution function; Phi'(x) = phi(x) =
    e^(-x^2 / 2) / sqrt(2 pi).  Used by the differentiable backward of the exact GELU."""

    def forward(self, a):
        self.a = a
        return (0.5 * _erf_parts(-a.astype(np.float64) * math.sqrt(0.5))[1]).astype(a.dtype, copy=False)

    def backward(self, g):
        a = self.a
        t = g.dtype.type
        return g * (np.exp(a * a * t(-0.5)) * t(_INV_SQRT_2PI))

    def backward_graph(self, g):
        x = self.parents[0]
        return g * (Exp.apply(x * x * -0.5) * _INV_SQRT_2PI)


class SoftplusFn(Function):
    """log(1 + e^(beta x)) / beta, linear (y = x) where beta x > threshold; y' = sigma(beta x) there
    and 1 on the linear part.  log1p(e^-|z|) + max(z, 0) never overflows."""

    def forward(self, a, beta, threshold):
        t = a.dtype.type
        z = a * t(beta)
        lin = z > threshold
        self.z, self.lin, self.beta = z, lin, beta
        soft = (np.log1p(np.exp(-np.abs(z))) + np.maximum(z, t(0))) / t(beta)
        return np.where(lin, a, soft)

    def backward(self, g):
        return np.where(self.lin, g, g * _sigmoid(self.z))

    def backward_graph(self, g):
        x = self.parents[0]
        return Where.apply(const(g, self.lin), g, g * Sigmoid.apply(x * self.beta))
