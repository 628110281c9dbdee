"""The reference package is findable from both sides: every public reference names the notes it follows
(ids that exist in the notes catalogue) and a fast kernel that exists, and every fast kernel's
"Reference (loops ...)" docstring line names references that exist."""

import importlib
import inspect
import pkgutil
import re

import pytest

import deepnotes
from deepnotes import reference
from deepnotes.notes.catalogue import load_catalogue

LINK = "Reference (loops, as the notes explain it):"
NOTE_ID = re.compile(r"\bS\d{3}-\d{2,3}\b")
FAST = re.compile(r"deepnotes\.(?:ops|detection)\.[\w.]+")


def _resolve(dotted):
    """The object a dotted path names (module attributes, then class attributes)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize("name", reference.__all__)
def test_each_reference_cites_existing_notes_and_an_existing_fast_kernel(name):
    doc = inspect.getdoc(getattr(reference, name))
    module_doc = inspect.getdoc(inspect.getmodule(getattr(reference, name)))
    ids = set(NOTE_ID.findall(doc)) | set(NOTE_ID.findall(module_doc))
    assert ids, f"{name} cites no notes id"
    catalogue = load_catalogue()
    assert ids <= set(catalogue.entries), f"{name} cites unknown notes ids {ids - set(catalogue.entries)}"
    fast = FAST.findall(doc) + FAST.findall(module_doc)
    if name in ("pool_output_size", "box_iou_pair", "coco_box_iou", "bilinear_neighbours"):
        return  # helpers: their module names the kernel
    assert FAST.findall(doc), f"{name}'s docstring names no fast kernel"
    for dotted in fast:
        _resolve(dotted.rstrip("."))


def _fast_modules():
    for pkg in (deepnotes.ops, importlib.import_module("deepnotes.detection")):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            yield importlib.import_module(info.name)


def test_fast_kernel_links_name_existing_references():
    links = []
    for module in _fast_modules():
        for _, obj in inspect.getmembers(module, lambda o: inspect.isclass(o) or inspect.isfunction(o)):
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            methods = [m for _, m in inspect.getmembers(obj, inspect.isfunction)] if inspect.isclass(obj) else []
            members = [obj] + methods
            for member in members:
                doc = inspect.getdoc(member) or ""
                if LINK in doc:
                    text = doc[doc.index(LINK) :].split("\n\n")[0]
                    # "deepnotes.reference.<module>.<name> / <name> ..." (later names in the same module)
                    for module_name, first, more in re.findall(
                        r"deepnotes\.reference\.(\w+)(?:\.(\w+)((?:\s*/\s*\w+)*))?", text
                    ):
                        names = [first] + re.findall(r"\w+", more) if first else []
                        links.append((member.__qualname__, module_name, names))
    assert len(links) >= 12, links
    for where, module_name, names in links:
        module = importlib.import_module(f"deepnotes.reference.{module_name}")
        for name in names:
            assert inspect.isfunction(getattr(module, name, None)), f"{where}: no reference {module_name}.{name}"


def test_every_reference_module_is_in_the_index():
    """The package docstring (the one discoverable list) mentions every public reference function."""
    index = inspect.getdoc(reference)
    for name in reference.__all__:
        if name in ("pool_output_size", "box_iou_pair", "coco_box_iou", "bilinear_neighbours"):
            continue
        module = inspect.getmodule(getattr(reference, name)).__name__.rsplit(".", 1)[1]
        assert f"{module}.{name}" in index, name
