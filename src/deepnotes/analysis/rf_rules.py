"""The receptive-field recursion of one layer and the per-layer-type rule registry (seeds 001, 003).

A rule maps the receptive field of a layer's input (:class:`RFInfo`: size, jump, start) to its
output's; :func:`propagate` applies the rule of a module (looked up along its class hierarchy) with the
fallbacks described in :mod:`deepnotes.analysis.receptive_field`.  Used by the profiler
(:mod:`deepnotes.analysis.complexity`), which runs the model; this module runs nothing.
"""

from __future__ import annotations

from collections import namedtuple

from . import _rules

__all__ = ["RFInfo", "INPUT_RF", "collapse", "propagate", "register_rf_rule", "rf_rule_for"]


RFInfo = namedtuple("RFInfo", ["size", "jump", "start"])
RFInfo.__doc__ = """Receptive field of one tensor: ``size`` (r_h, r_w) in input pixels, ``jump`` (j_h, j_w)
between neighbouring units (``None`` once the map is flattened), ``start`` (centre of unit 0's field)."""

INPUT_RF = RFInfo((1, 1), (1, 1), (0.0, 0.0))


def _num(x):
    """An integral float as an int (receptive fields are integers unless adaptive pooling bins vary)."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def _pair(v, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name}: expected an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _step(info, k, s, p, d):
    """One layer of the recursion, per axis; k, s, p (left padding), d are pairs."""
    size, jump, start = [], [], []
    for a in range(2):
        r, j, st = info.size[a], info.jump[a], info.start[a]
        size.append(_num(r + (k[a] - 1) * d[a] * j))
        jump.append(_num(j * s[a]))
        start.append(st + ((k[a] - 1) * d[a] / 2 - p[a]) * j)
    return RFInfo(tuple(size), tuple(jump), tuple(start))


# ------------------------------------------------------------------------------------- rule registry
_RF_RULES = {}


def register_rf_rule(*keys):
    """Decorator registering ``rule(module, info, input_shape, output_shape) -> RFInfo | None`` for
    module classes or class names (a name lets a rule wait for a layer that does not exist yet).

    ``info`` is the RFInfo of the layer's input (spatial: jump is a pair); shapes are tuples.
    Lookup walks the module's class hierarchy, so subclasses inherit their parent's rule.
    """
    return _rules.register(_RF_RULES, keys)


def rf_rule_for(module):
    """The receptive-field rule for ``module`` (by class, then class name, along the MRO), or None."""
    return _rules.lookup(_RF_RULES, module)


def _spatial(shape):
    return shape is not None and len(shape) == 4


@register_rf_rule("Conv2d")
def _conv_rf(m, info, in_shape, out_shape):
    k, d = _pair(m.kernel_size, "Conv2d kernel_size"), _pair(m.dilation, "Conv2d dilation")
    s = _pair(m.stride, "Conv2d stride")
    if m.padding == "valid":
        p = (0, 0)
    elif m.padding == "same":
        p = tuple(d[a] * (k[a] - 1) // 2 for a in range(2))
    else:
        p = _pair(m.padding, "Conv2d padding")
    return _step(info, k, s, p, d)


@register_rf_rule("MaxPool2d", "AvgPool2d", "MaxPool2D", "AvgPool2D")
def _pool_rf(m, info, in_shape, out_shape):
    k = _pair(m.kernel_size, "pool kernel_size")
    s = k if m.stride is None or m.stride == () else _pair(m.stride, "pool stride")
    p = _pair(getattr(m, "padding", 0), "pool padding")
    d = _pair(getattr(m, "dilation", 1), "pool dilation")
    return _step(info, k, s, p, d)


@register_rf_rule("ConnectionTableConv2d")
def _table_conv_rf(m, info, in_shape, out_shape):
    """LeNet-5's C3: a kh x kw convolution, stride 1, no padding."""
    return _step(info, tuple(m.kernel_size), (1, 1), (0, 0), (1, 1))


@register_rf_rule("Subsampling")
def _subsampling_rf(m, info, in_shape, out_shape):
    """LeNet-5's S2/S4: non-overlapping k x k windows (kernel k, stride k)."""
    k = m.kernel_size
    return _step(info, (k, k), (k, k), (0, 0), (1, 1))


@register_rf_rule("AdaptiveAvgPool2d", "AdaptiveMaxPool2d")
def _adaptive_rf(m, info, in_shape, out_shape):
    """Bin i covers [floor(i H / o), ceil((i + 1) H / o)): kernel = the widest bin, jump = j H / o,
    start = centre of the first bin.  Exact when o divides H."""
    size, jump, start = [], [], []
    for a in range(2):
        n, o = in_shape[2 + a], out_shape[2 + a]
        widest = max(-(-((i + 1) * n) // o) - (i * n) // o for i in range(o))
        first = -(-n // o)
        r, j, st = info.size[a], info.jump[a], info.start[a]
        size.append(_num(r + (widest - 1) * j))
        jump.append(_num(j * n / o))
        start.append(st + (first - 1) / 2 * j)
    return RFInfo(tuple(size), tuple(jump), tuple(start))


def collapse(info, in_shape):
    """The field of a unit that sees the whole (N, C, H, W) map: r + (H - 1) j, jump None."""
    size, start = [], []
    for a in range(2):
        n = in_shape[2 + a]
        r, j, st = info.size[a], info.jump[a], info.start[a]
        size.append(_num(r + (n - 1) * j))
        start.append(st + (n - 1) * j / 2)
    return RFInfo(tuple(size), None, tuple(start))


def propagate(module, info, in_shape, out_shape):
    """RFInfo of ``module``'s output from its input's; see the module docstring for the fallbacks."""
    if info is None:
        return None
    if info.jump is None:  # already flat: every unit sees everything seen so far
        return info
    if not _spatial(in_shape):
        return None
    rule = rf_rule_for(module)
    if rule is not None and _spatial(out_shape):
        return rule(module, info, in_shape, out_shape)
    if _spatial(out_shape):
        return info if tuple(out_shape[2:]) == tuple(in_shape[2:]) else None
    return collapse(info, in_shape)
