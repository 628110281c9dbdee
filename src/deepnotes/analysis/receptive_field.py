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

The per-layer recursion and the rule registry live in :mod:`deepnotes.analysis.rf_rules` (the profiler
uses them); this module holds the two public entry points, :func:`receptive_field_chain` (pure
arithmetic) and :func:`receptive_field` (one profiled forward pass).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..ops.conv import conv_output_size
from ..ops.pool import pool_output_size
from .complexity import profile
from .rf_rules import RFInfo, _step, register_rf_rule, rf_rule_for

__all__ = [
    "conv_output_size",
    "pool_output_size",
    "RFInfo",
    "ReceptiveFieldRow",
    "receptive_field",
    "receptive_field_chain",
    "register_rf_rule",
    "rf_rule_for",
]


ReceptiveFieldRow = namedtuple("ReceptiveFieldRow", ["name", "type", "output_shape", "size", "jump", "start"])
ReceptiveFieldRow.__doc__ = "One executed layer of :func:`receptive_field`; size/jump/start as in RFInfo."


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
            raise ValueError(
                f"receptive_field_chain: layer {i} must be (kernel, stride[, padding[, dilation]]), got {layer!r}"
            )
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


def receptive_field(model, input_size, batch_size=1):
    """Receptive field of every executed leaf layer of ``model`` for inputs of ``input_size`` (C, H, W).

    Runs one forward pass (see :func:`deepnotes.analysis.profile`) and returns, in execution order, a
    list of ``ReceptiveFieldRow(name, type, output_shape, size, jump, start)``; ``size`` is (r_h, r_w),
    ``jump`` (j_h, j_w) or ``None`` after flattening, ``start`` the centre of unit 0's field; all
    ``None`` where unknown.
    """
    prof = profile(model, input_size, batch_size=batch_size, _caller="receptive_field")
    return [ReceptiveFieldRow(r.name, r.type, r.output_shape, r.receptive_field, r.jump, r.start) for r in prof.rows]
