"""The layer rules of docs/architecture.md, checked on the source tree.

* ``lint-imports`` (import-linter) checks the contracts in pyproject.toml: the layer order, the
  forbidden upward imports and the independent packages.
* No module fills a slot of another module at run time (``other_module.name = value``,
  ``other_module.table[i] = value``, ``setattr(other_module, ...)``): a lower module that needs something
  from a higher one gets it as an argument, not through a back door filled at import time.
* A cycle finder over ``src/deepnotes`` parses every module with ``ast``, takes every import it makes,
  at the top or inside a function, builds the module graph and asserts it has no cycle (import-linter
  sees the same imports, but only checks the contracts written down; this checks every module pair).
"""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "deepnotes"


def _module_name(path, src):
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name, modules):
    """The module a dotted import name denotes: itself if it is a module of the tree, else the longest
    prefix that is (``from pkg.mod import func`` depends on ``pkg.mod``)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(src=SRC, package=PACKAGE):
    """{module: {imported module, ...}} over every ``*.py`` under ``src/package``; an edge for every
    import statement anywhere in the module (top level, functions, methods, ``if TYPE_CHECKING``)."""
    files = {_module_name(p, src): p for p in (src / package).rglob("*.py")}
    graph = {}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module
                # ``from pkg import sub`` imports the sub-module; ``from mod import name`` the module
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in files else stem for a in node.names]
            else:
                continue
            for t in targets:
                r = _resolve(t, files)
                if r is not None and r != mod:
                    edges.add(r)
        graph[mod] = edges
    return graph


def _module_aliases(tree, mod, is_pkg, files):
    """Local names that a module binds to modules of the tree (``from . import functional as F``,
    ``from .autograd import function as _function``, ``import deepnotes.nn as nn``)."""
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in files:
                    aliases.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            for a in node.names:
                if f"{stem}.{a.name}" in files:
                    aliases.add(a.asname or a.name)
    return aliases


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def runtime_slot_writes(src=SRC, package=PACKAGE):
    """[(module, line, text)] for every write into another module of the tree: an assignment, augmented
    assignment or ``del`` whose target is an attribute or item of an imported module, or a ``setattr``
    on one."""
    files = {_module_name(p, src): p for p in (src / package).rglob("*.py")}
    found = []
    for mod, path in sorted(files.items()):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
        aliases = _module_aliases(tree, mod, path.name == "__init__.py", files)
        if not aliases:
            continue
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            elif isinstance(node, ast.Delete):
                targets = node.targets
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "setattr"
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id in aliases
            ):
                found.append((mod, node.lineno, ast.get_source_segment(text, node)))
            for t in targets:
                if isinstance(t, (ast.Attribute, ast.Subscript)) and _root_name(t) in aliases:
                    found.append((mod, node.lineno, ast.get_source_segment(text, node)))
    return found


def find_cycle(graph):
    """One cycle of ``graph`` as a list of modules [m0, m1, ..., m0], or None (iterative DFS)."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    for start in sorted(graph):
        if colour[start] != WHITE:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = GREY
        while stack:
            node, children = stack[-1]
            for child in children:
                if colour.get(child, BLACK) == GREY:
                    return path[path.index(child) :] + [child]
                if colour.get(child) == WHITE:
                    colour[child] = GREY
                    path.append(child)
                    stack.append((child, iter(sorted(graph[child]))))
                    break
            else:
                colour[node] = BLACK
                path.pop()
                stack.pop()
    return None


def test_cycle_finder_finds_a_cycle_and_accepts_a_dag():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_import_graph_sees_imports_inside_functions(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import g\n    import pkg.sub\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.a", "pkg.sub"}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.a"]


def test_slot_finder_sees_a_write_into_another_module(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("_api = [None]\n")
    (pkg / "high.py").write_text("from . import low as _low\nclass T: pass\n_low._api[0] = T\n")
    assert runtime_slot_writes(tmp_path, "pkg") == [("pkg.high", 3, "_low._api[0] = T")]


def test_no_module_fills_a_slot_of_another_at_run_time():
    writes = runtime_slot_writes()
    assert writes == [], "writes into other modules: " + "; ".join(f"{m}:{n}: {t}" for m, n, t in writes)


def test_differentiable_primitives_live_in_ops_not_in_nn():
    """A ``Function`` subclass (forward + backward) of the general layer belongs in deepnotes/ops; nn holds
    the validating wrappers and the layers (docs/architecture.md, CONTRIBUTING.md)."""
    found = []
    for path in sorted((SRC / PACKAGE / "nn").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                (isinstance(b, ast.Name) and b.id == "Function")
                or (isinstance(b, ast.Attribute) and b.attr == "Function")
                for b in node.bases
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert found == [], "primitives outside deepnotes/ops: " + ", ".join(found)


def test_no_import_cycles_in_src():
    graph = import_graph()
    assert len(graph) > 100 and "deepnotes.nn.functional.losses" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports")
    if exe is None:  # the test extra installs import-linter; a bare interpreter may still have it
        cmd = [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
        ]
    else:
        cmd = [exe]
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd + ["--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout and "Contracts: " in proc.stdout, proc.stdout


def test_long_source_files_say_why_at_their_top():
    """One concept per file: a module over about 800 lines states, in its module docstring, why it is long."""
    unexplained = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 800:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "Why this file is long" not in doc:
                unexplained.append(f"{path.relative_to(SRC)} ({text.count(chr(10))} lines)")
    assert not unexplained, "long files without a reason at their top: " + ", ".join(unexplained)
