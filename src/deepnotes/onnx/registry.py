"""The one table of ONNX translations: traced primitive -> function that writes its ONNX nodes.

A *translator* is ``fn(g, rec, out_name)``: ``g`` is the :class:`~deepnotes.onnx.graph.Graph` being
built, ``rec`` the traced call (:class:`~deepnotes.onnx.tracing.Record`: ``rec.cls``, ``rec.inputs``,
``rec.kwargs``, ``rec.out``, ``rec.module``) and ``out_name`` the ONNX value the translator must
produce.  It is registered under the primitive it translates, a
:class:`deepnotes.autograd.Function` subclass, with :func:`register_op` (usable as a decorator).

A primitive may also be registered by its class *name*: that serves primitives defined in a module
the exporter does not import (a user's own code, or a deepnotes class whose home module may move),
optionally restricted to classes whose ``__module__`` starts with ``module_prefix``.

Lookup (:func:`lookup`) tries the class itself first, then the names: among the name registrations
that match, the most recent wins, so a user's registration made after ``import deepnotes.onnx``
replaces a built-in one.
"""

from __future__ import annotations

from ..autograd.function import Function

__all__ = ["Translation", "register_op", "lookup", "translations"]


class Translation:
    """One registration: ``key`` (a Function subclass or a class name), the translator ``fn``,
    ``varying`` (static arguments that may legitimately differ between the two traces of an export,
    e.g. a reshape target that follows the batch size) and, for a name key, ``module_prefix``."""

    __slots__ = ("key", "fn", "varying", "module_prefix")

    def __init__(self, key, fn, varying, module_prefix):
        self.key, self.fn, self.varying, self.module_prefix = key, fn, varying, module_prefix

    def matches(self, cls):
        """Whether this registration translates the primitive class ``cls``."""
        if isinstance(self.key, str):
            return cls.__name__ == self.key and cls.__module__.startswith(self.module_prefix)
        return cls is self.key

    def __repr__(self):
        key = self.key if isinstance(self.key, str) else f"{self.key.__module__}.{self.key.__qualname__}"
        return f"Translation({key!r} -> {getattr(self.fn, '__qualname__', self.fn)!r})"


_BY_CLASS = {}  # Function subclass -> Translation
_BY_NAME = {}  # class name -> list of Translations, oldest first


def register_op(function_cls, translator=None, *, varying_kwargs=(), module_prefix=""):
    """Register ``translator(g, rec, out_name)`` as the ONNX translation of the primitive
    ``function_cls`` (a :class:`deepnotes.autograd.Function` subclass, or its class name).

    The translator reads ``rec.inputs`` (input tensors of the traced call), ``rec.kwargs`` (its static
    arguments) and ``rec.out`` (its output), gets input value names from ``g.value(t)``, builds nodes
    with ``g.node(op_type, inputs, out_name, **attributes)`` and constants with ``g.const(array)``, and
    must produce the value ``out_name``.  ``varying_kwargs`` lists static arguments that may legitimately
    differ between the example input and a second input of another batch size.  ``module_prefix``
    (name keys only) restricts the name to classes defined in modules starting with it.  Registering a
    key again replaces its translation.  Usable as a decorator (then it returns the translator).
    """
    if isinstance(function_cls, str):
        if not function_cls:
            raise ValueError("register_op: the primitive's class name must not be empty")
    elif not (isinstance(function_cls, type) and issubclass(function_cls, Function)):
        raise TypeError(f"register_op: expected a Function subclass or its name, got {function_cls!r}")
    if not isinstance(module_prefix, str):
        raise TypeError(f"register_op: module_prefix must be a str, got {module_prefix!r}")
    if module_prefix and not isinstance(function_cls, str):
        raise ValueError("register_op: module_prefix applies to a registration by class name only")
    if isinstance(varying_kwargs, str):
        varying_kwargs = (varying_kwargs,)

    def deco(fn):
        if not callable(fn):
            raise TypeError(f"register_op: the translator must be callable, got {fn!r}")
        entry = Translation(function_cls, fn, frozenset(varying_kwargs), module_prefix)
        if isinstance(function_cls, str):
            same = _BY_NAME.setdefault(function_cls, [])
            same[:] = [e for e in same if e.module_prefix != module_prefix] + [entry]
        else:
            _BY_CLASS[function_cls] = entry
        return fn

    if translator is not None:
        return deco(translator)
    return deco


def lookup(cls):
    """The :class:`Translation` of the primitive class ``cls``, or None when it has none."""
    entry = _BY_CLASS.get(cls)
    if entry is not None:
        return entry
    for entry in reversed(_BY_NAME.get(cls.__name__, ())):
        if entry.matches(cls):
            return entry
    return None


def translations():
    """Every registration, primitives registered by class first, in registration order."""
    return list(_BY_CLASS.values()) + [e for same in _BY_NAME.values() for e in same]
