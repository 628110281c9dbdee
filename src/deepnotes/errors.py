"""Errors that come from what the user asked for, not from a bug in deepnotes.

``UserError`` marks a problem the user can fix (an option, a file, a setting, a missing optional
package).  The ``deepnotes`` command prints such an error on one line and exits with status 2;
anything else reaching the top is a bug and keeps its traceback.  The subclasses also derive from
the built-in type a Python caller would catch (``ValueError``, ``ImportError``, ...).
"""

import importlib

__all__ = ["UserError", "OptionError", "UnknownNameError", "FileFormatError", "MissingDependencyError", "require"]


class UserError(Exception):
    """A problem with the user's input or environment, reported in one line by the CLI."""


class OptionError(UserError, ValueError):
    """A setting whose value is out of its range (or does not fit the data it applies to)."""


class UnknownNameError(UserError, ValueError):
    """A name (model, optimizer, schedule, ...) that is not in the registry it was looked up in."""


class FileFormatError(UserError, ValueError):
    """A file that exists but is not what it should be (corrupt, truncated, another format)."""


class MissingDependencyError(UserError, ImportError):
    """An optional package a feature needs is not installed."""


def require(module, feature, extra):
    """Import ``module`` or raise :class:`MissingDependencyError` saying that ``feature`` needs it and
    how to install it (the ``extra`` of the deepnotes package)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{feature} needs {module}, which is not installed: pip install 'deepnotes[{extra}]'"
        ) from None
