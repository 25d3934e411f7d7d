"""Which of the package's modules a module or a notebook imports, at the top or inside a function, read from
their source."""

from __future__ import annotations

import ast
import json
from pathlib import Path

PACKAGE = "unetcolor"


def package_folder(root: Path) -> Path:
    return Path(root) / "lib" / PACKAGE


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its __init__.py)."""
    folder = package_folder(root)
    return {".".join(path.relative_to(folder.parent).with_suffix("").parts).removesuffix(".__init__"): path
            for path in sorted(folder.rglob("*.py"))}


def imported_names(source: str, module: str, is_package: bool) -> set[tuple[str, bool]]:
    """(dotted name, at module level) of each package import in source; a name may be a module or an
    attribute of one (graph() resolves which)."""
    tree = ast.parse(source)
    top = {id(node) for node in tree.body}
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").partition(".")[0] == PACKAGE):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found |= {(f"{target}.{alias.name}", id(node) in top) for alias in node.names} | {(target, id(node) in top)}
        elif isinstance(node, ast.Import):
            found |= {(alias.name, id(node) in top) for alias in node.names if alias.name.partition(".")[0] == PACKAGE}
    return found


def graph(root: Path, top_level_only: bool = False) -> dict[str, set[str]]:
    """module -> the package modules it imports (not itself); with top_level_only, only top-level imports."""
    files = module_files(Path(root))
    edges = {}
    for name, path in files.items():
        targets = set()
        for dotted, at_top in imported_names(path.read_text(), name, path.name == "__init__.py"):
            while dotted not in files and "." in dotted:
                dotted = dotted.rpartition(".")[0]
            if dotted in files and (at_top or not top_level_only):
                targets.add(dotted)
        edges[name] = targets - {name}
    return edges


def notebook_modules(notebook: Path, root: Path) -> set[str]:
    """The package modules a notebook's code cells use, with everything they import and the packages holding
    them."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    source = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    edges, seen = graph(root), set()
    stack = [name for name, _ in imported_names("\n".join(lines), "__notebook__", False) if name in edges]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            parts = name.split(".")
            stack += [*edges[name], *(".".join(parts[:i]) for i in range(1, len(parts)))]
    return seen
