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
    files = {}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    return files


def imported_names(source: str, module: str, is_package: bool) -> set[tuple[str, bool]]:
    """(dotted name, at module level) of each package import in source; a name may be a module or an
    attribute of one (graph() resolves which)."""
    tree = ast.parse(source)
    top = {id(node) for node in tree.body}
    here = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
                target = node.module
            else:
                continue
            found |= {(f"{target}.{alias.name}", id(node) in top) for alias in node.names}
            found.add((target, id(node) in top))
        elif isinstance(node, ast.Import):
            found |= {(alias.name, id(node) in top) for alias in node.names
                      if alias.name == PACKAGE or alias.name.startswith(PACKAGE + ".")}
    return found


def graph(root: Path, top_level_only: bool = False) -> dict[str, set[str]]:
    """module -> the package modules it imports (not itself); with top_level_only, only top-level imports."""
    files = module_files(Path(root))
    edges = {}
    for name, path in files.items():
        targets = set()
        for dotted, at_top in imported_names(path.read_text(), name, path.name == "__init__.py"):
            if top_level_only and not at_top:
                continue
            while dotted not in files and "." in dotted:
                dotted = dotted.rpartition(".")[0]
            if dotted in files:
                targets.add(dotted)
        edges[name] = targets - {name}
    return edges


def modules_used_by(names, root: Path) -> set[str]:
    """names with the modules they reach through imports, and the packages that hold them."""
    edges, seen = graph(root), set()
    stack = [name for name in names if name in edges]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack += edges[name]
        parts = name.split(".")
        stack += [".".join(parts[:i]) for i in range(1, len(parts))]
    return seen


def notebook_modules(notebook: Path, root: Path) -> set[str]:
    """The package modules a notebook's code cells use, with everything they import."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    source = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return modules_used_by({name for name, _ in imported_names("\n".join(lines), "__notebook__", False)}, root)
