"""A torchinfo-style summary table: layers, output shapes, parameters, mult-adds, receptive fields.

    >>> from deepnotes.models import LeNet5
    >>> s = summary(LeNet5(), (1, 32, 32))          # prints the table once, returns a ModelSummary
    >>> print(s)                                    # the table again, on request

Size estimates follow torchinfo: input size = input bytes; forward pass size = bytes of every leaf
layer's output; forward/backward pass size = twice that (each activation has a gradient); params size
= parameter bytes; estimated total = input + forward/backward + params.  1 MB = 10^6 bytes.
"""
from __future__ import annotations

import sys

from .complexity import profile

__all__ = ["ModelSummary", "format_count", "format_profile", "summary"]


def format_count(n, digits=2):
    """A count with a K/M/G/T suffix (powers of 1000): 2415919104 -> '2.42G', 2304 -> '2.30K'."""
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.{digits}f}{suffix}"
    return str(int(n)) if float(n).is_integer() else f"{n:.{digits}f}"


def _scale(total):
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if total >= div:
            return div, suffix
    return 1.0, ""


def _shape_text(shape):
    if shape is None:
        return "--"
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _rf_text(rf):
    if rf is None:
        return "--"
    h, w = rf
    fmt = lambda v: f"{v:g}" if isinstance(v, float) else str(v)  # noqa: E731
    return fmt(h) if h == w else f"{fmt(h)}x{fmt(w)}"


def _check_depth(depth, name):
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValueError(f"{name}: depth must be a non-negative int or None, got {depth!r}")


def format_profile(prof, depth=None, receptive_field=True):
    """The summary text of a :class:`~deepnotes.analysis.Profile`.  ``depth`` hides module calls nested
    deeper than it (their numbers are shown on the deepest visible container)."""
    _check_depth(depth, "format_profile")
    head = ["Layer (type)", "Output Shape", "Param #", "Mult-Adds"] + (["RF"] if receptive_field else [])
    body = []
    for rec in prof.calls:
        if depth is not None and rec.depth > depth:
            continue
        shown_as_leaf = rec.leaf or (depth is not None and rec.depth == depth)
        prefix = "" if rec.depth == 0 else "│ " * (rec.depth - 1) + "├─"
        label = prefix + (rec.label if rec.depth else rec.type)
        if shown_as_leaf:
            params = f"{rec.params:,}" if rec.params else "--"
            macs = f"{rec.macs:,}" if rec.macs else "--"
            macs += "" if rec.counted else "?"
        else:
            params, macs = "--", "--"
        row = [label, _shape_text(rec.output_shape), params, macs]
        if receptive_field:
            row.append(_rf_text(rec.receptive_field))
        body.append(row)
    ncol = len(head)
    widths = [max(len(r[i]) for r in [head] + body) for i in range(ncol)]

    def fmt(r):
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    width = max(len(fmt(head)), 60)
    double, single = "=" * width, "-" * width
    div, suffix = _scale(prof.macs)
    fdiv, fsuffix = _scale(prof.flops)
    mb = lambda b: f"{b / 1e6:,.2f}"  # noqa: E731
    fwd_bwd = 2 * prof.forward_bytes
    lines = [double, fmt(head), double] + [fmt(r) for r in body] + [double]
    lines += [f"Total params: {prof.params:,}",
              f"Trainable params: {prof.trainable_params:,}",
              f"Non-trainable params: {prof.non_trainable_params:,}",
              f"Total mult-adds ({suffix or 'units'}): {prof.macs / div:,.2f}",
              f"Total FLOPs ({fsuffix or 'units'}): {prof.flops / fdiv:,.2f} "
              f"(without bias: {prof.flops_no_bias / fdiv:,.2f})"]
    missing = prof.uncounted_types
    if missing:
        lines.append(f"Layers with no counting rule (0 mult-adds, marked ?): {', '.join(missing)}")
    lines += [single,
              f"Input size (MB): {mb(prof.input_bytes)}",
              f"Forward/backward pass size (MB): {mb(fwd_bwd)}",
              f"Params size (MB): {mb(prof.params_bytes)}",
              f"Estimated Total Size (MB): {mb(prof.input_bytes + fwd_bwd + prof.params_bytes)}",
              double]
    return "\n".join(lines)


class ModelSummary:
    """What :func:`summary` returns: the ``profile``, the table ``text`` (also ``str()``) and the totals
    ``total_params``, ``trainable_params``, ``non_trainable_params``, ``total_mult_adds``,
    ``total_flops``, and sizes in MB: ``input_size_mb``, ``forward_pass_size_mb``,
    ``forward_backward_pass_size_mb``, ``params_size_mb``, ``estimated_total_size_mb``.

    ``str()`` is the table; ``repr()`` is one line of totals. :func:`summary` has already printed the
    table, so an interactive session echoing the returned object (``>>> summary(model, size)``) adds
    only that line instead of printing the table a second time."""

    def __init__(self, prof, text):
        self.profile, self.text = prof, text
        self.total_params = prof.params
        self.trainable_params = prof.trainable_params
        self.non_trainable_params = prof.non_trainable_params
        self.total_mult_adds = prof.macs
        self.total_flops = prof.flops
        self.input_size_mb = prof.input_bytes / 1e6
        self.forward_pass_size_mb = prof.forward_bytes / 1e6
        self.forward_backward_pass_size_mb = 2 * prof.forward_bytes / 1e6
        self.params_size_mb = prof.params_bytes / 1e6
        self.estimated_total_size_mb = self.input_size_mb + self.forward_backward_pass_size_mb + self.params_size_mb

    def __str__(self):
        return self.text

    def __repr__(self):
        return (f"ModelSummary(total_params={self.total_params:,}, trainable_params={self.trainable_params:,}, "
                f"total_mult_adds={self.total_mult_adds:,}, "
                f"estimated_total_size_mb={self.estimated_total_size_mb:,.2f})")


def summary(model, input_size=None, batch_size=1, *, depth=None, receptive_field=True, input_data=None,
            verbose=True, file=None):
    """Print (unless ``verbose=False``) and return a torchinfo-style summary of ``model`` run on a
    (batch_size, *input_size) input: each module call with its output shape, parameter count,
    mult-adds and receptive field, then total / trainable / non-trainable parameters, total
    mult-adds and FLOPs, and input / forward-backward / params / total sizes in MB.

    The table is printed exactly once, in a script and at an interactive prompt alike: the returned
    :class:`ModelSummary` gives the table as ``str()`` (``print(s)``, ``s.text``) but a one-line
    ``repr()``, so the prompt's echo of the result does not repeat it. (torchinfo, whose result's repr
    is the table, instead guesses from ``sys.ps1`` whether it runs at a prompt and then stays quiet;
    here ``s = summary(...)`` shows the table at a prompt too.) ``verbose=False`` prints nothing."""
    _check_depth(depth, "summary")
    prof = profile(model, input_size, batch_size, input_data=input_data, _caller="summary")
    text = format_profile(prof, depth=depth, receptive_field=receptive_field)
    if verbose:
        print(text, file=file if file is not None else sys.stdout)
    return ModelSummary(prof, text)
