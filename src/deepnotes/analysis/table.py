"""The text of a torchinfo-style summary table from a :class:`~deepnotes.analysis.Profile`: layer tree,
output shapes, parameters, mult-adds, receptive fields and the size estimates (see
:mod:`deepnotes.analysis.summary` for the numbers' definitions).  Formatting only: it runs nothing.
"""

from __future__ import annotations

__all__ = ["format_count", "format_profile"]


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
    lines += [
        f"Total params: {prof.params:,}",
        f"Trainable params: {prof.trainable_params:,}",
        f"Non-trainable params: {prof.non_trainable_params:,}",
        f"Total mult-adds ({suffix or 'units'}): {prof.macs / div:,.2f}",
        f"Total FLOPs ({fsuffix or 'units'}): {prof.flops / fdiv:,.2f} "
        f"(without bias: {prof.flops_no_bias / fdiv:,.2f})",
    ]
    missing = prof.uncounted_types
    if missing:
        lines.append(f"Layers with no counting rule (0 mult-adds, marked ?): {', '.join(missing)}")
    lines += [
        single,
        f"Input size (MB): {mb(prof.input_bytes)}",
        f"Forward/backward pass size (MB): {mb(fwd_bwd)}",
        f"Params size (MB): {mb(prof.params_bytes)}",
        f"Estimated Total Size (MB): {mb(prof.input_bytes + fwd_bwd + prof.params_bytes)}",
        double,
    ]
    return "\n".join(lines)
