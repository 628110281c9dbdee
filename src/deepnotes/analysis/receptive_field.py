"""Output sizes and receptive fields of convolution and pooling layers (seeds 001 and 003).

Output size along one axis (torch's rules; re-exported from :mod:`deepnotes.ops`):

    conv:  o = floor((i + 2p - d(k - 1) - 1) / s) + 1
    pool:  the same with floor or ceil (``ceil_mode``); a ceil-mode window must start inside the input
           or the left padding.

Receptive field, computed forwards from the input (r_0 = 1, j_0 = 1, start_0 = 0) through a layer with
kernel k, stride s, left padding p and dilation d:

    r_out     = r_in + (k - 1) * d * j_in          # receptive field size (input pixels)
    j_out     = j_in * s                           # jump: input pixels between neighbouring outputs
    start_out = start_in + ((k - 1) * d / 2 - p) * j_in

``start`` is the centre of the receptive field of output unit 0, in input pixel coordinates (pixel
centres at 0, 1, 2, ...); unit i is centred at ``start + i * j``.  This is the forward form of seed
001's top-down recursion RF_{N-1} = (RF_N - 1) * s + k.  Receptive fields count padded positions: near
the border part of the field lies outside the image.

:func:`receptive_field` runs a model once and follows every tensor that a leaf module produces, so
branches work as well as chains: a layer whose input was made outside any module (``x + identity``
in a residual block, ``torch.flatten`` in ``forward``) gets the largest receptive field among the
tensors seen so far with the same spatial size (the union of the merged branches).  Layers with no
rule that keep the spatial size pass the field through; a layer that turns a (N, C, H, W) map into a
flat vector sees the whole map (r = r_in + (H - 1) j_in, jump ``None``); a layer with no rule that
changes the spatial size makes the field unknown (``None``) from there on.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..ops.conv import conv_output_size
from . import _rules
from ..ops.pool import pool_output_size

__all__ = ["conv_output_size", "pool_output_size", "RFInfo", "ReceptiveFieldRow", "receptive_field",
           "receptive_field_chain", "register_rf_rule", "rf_rule_for"]


RFInfo = namedtuple("RFInfo", ["size", "jump", "start"])
RFInfo.__doc__ = """Receptive field of one tensor: ``size`` (r_h, r_w) in input pixels, ``jump`` (j_h, j_w)
between neighbouring units (``None`` once the map is flattened), ``start`` (centre of unit 0's field)."""

ReceptiveFieldRow = namedtuple("ReceptiveFieldRow", ["name", "type", "output_shape", "size", "jump", "start"])
ReceptiveFieldRow.__doc__ = "One executed layer of :func:`receptive_field`; size/jump/start as in RFInfo."

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


def receptive_field_chain(layers, input_size=1, input_jump=1, input_start=0.0):
    """The receptive-field recursion along one axis for a plain chain of layers.

    ``layers`` is a sequence of ``(kernel, stride)``, ``(kernel, stride, padding)`` or
    ``(kernel, stride, padding, dilation)``; returns one ``(r, j, start)`` per layer with
    r_out = r_in + (k - 1) d j_in, j_out = j_in s, start_out = start_in + ((k - 1) d / 2 - p) j_in.
    Two stacked 3x3 convolutions: ``receptive_field_chain([(3, 1), (3, 1)])`` -> r = 3 then 5.
    """
    info = RFInfo((input_size, input_size), (input_jump, input_jump), (float(input_start), float(input_start)))
    out = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or not 2 <= len(layer) <= 4:
            raise ValueError(f"receptive_field_chain: layer {i} must be (kernel, stride[, padding[, dilation]]), "
                             f"got {layer!r}")
        k, s = layer[0], layer[1]
        p = layer[2] if len(layer) > 2 else 0
        d = layer[3] if len(layer) > 3 else 1
        for label, v, low in (("kernel", k, 1), ("stride", s, 1), ("padding", p, 0), ("dilation", d, 1)):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"receptive_field_chain: layer {i} {label} must be an int >= {low}, got {v!r}")
        k, s, p, d = int(k), int(s), int(p), int(d)
        info = _step(info, (k, k), (s, s), (p, p), (d, d))
        out.append((info.size[0], info.jump[0], info.start[0]))
    return out


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
    if info.jump is None:           # already flat: every unit sees everything seen so far
        return info
    if not _spatial(in_shape):
        return None
    rule = rf_rule_for(module)
    if rule is not None and _spatial(out_shape):
        return rule(module, info, in_shape, out_shape)
    if _spatial(out_shape):
        return info if tuple(out_shape[2:]) == tuple(in_shape[2:]) else None
    return collapse(info, in_shape)


def receptive_field(model, input_size, batch_size=1):
    """Receptive field of every executed leaf layer of ``model`` for inputs of ``input_size`` (C, H, W).

    Runs one forward pass (see :func:`deepnotes.analysis.profile`) and returns, in execution order, a
    list of ``ReceptiveFieldRow(name, type, output_shape, size, jump, start)``; ``size`` is (r_h, r_w),
    ``jump`` (j_h, j_w) or ``None`` after flattening, ``start`` the centre of unit 0's field; all
    ``None`` where unknown.
    """
    from .complexity import profile

    prof = profile(model, input_size, batch_size=batch_size, _caller="receptive_field")
    return [ReceptiveFieldRow(r.name, r.type, r.output_shape, r.receptive_field, r.jump, r.start)
            for r in prof.rows]
