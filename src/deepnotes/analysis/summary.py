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
from .table import _check_depth, format_count, format_profile

__all__ = ["ModelSummary", "format_count", "format_profile", "summary"]


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
        return (
            f"ModelSummary(total_params={self.total_params:,}, trainable_params={self.trainable_params:,}, "
            f"total_mult_adds={self.total_mult_adds:,}, "
            f"estimated_total_size_mb={self.estimated_total_size_mb:,.2f})"
        )


def summary(
    model, input_size=None, batch_size=1, *, depth=None, receptive_field=True, input_data=None, verbose=True, file=None
):
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
