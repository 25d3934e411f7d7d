"""The package's imports point one way, from the top to the ground, with no circle.

Each module belongs to one layer (LAYERS, ground first; ARCHITECTURE.md explains them). A module
may import modules of its own layer or below, never above. Imports inside functions count as
much as those at the top, and importing a module of a subpackage runs that subpackage's
__init__ too. The graph is read from the source (unetcolor.dependencies)."""

from pathlib import Path

from unetcolor import dependencies

ROOT = Path(__file__).resolve().parents[1]

LAYERS = {
    "ground": ["unetcolor", "files", "paths", "reproducibility", "color", "config", "profiles", "dependencies",
               "compiles", "devices", "shipped", "manifest"],
    "data": ["photos", "photos.*"],
    "model": ["unet", "unet.*"],
    "evaluation": ["evaluation", "evaluation.*"],
    "training": ["training", "training.*"],
    "colorizers": ["colorizers", "colorizers.*"],
    "reproduction": ["reproduction", "reproduction.*"],
    "commands": ["commands", "commands.*", "__main__"],
}


def _layer_of() -> dict[str, int]:
    order = {}
    for rank, names in enumerate(LAYERS.values()):
        for name in names:
            order[name] = rank
    found = {}
    for module in dependencies.module_files(ROOT):
        short = module.removeprefix("unetcolor.") if module != "unetcolor" else module
        pattern = short.split(".")[0] + ".*"
        found[module] = order.get(short, order.get(pattern))
    return found


def _edges() -> dict[str, set[str]]:
    """Every import, with the implicit one of a subpackage module on its package's __init__."""
    graph = dependencies.graph(ROOT)
    for module, targets in graph.items():
        for target in list(targets):
            parts = target.split(".")
            targets |= {".".join(parts[:i]) for i in range(2, len(parts))} - {module}
    return graph


def test_every_module_has_a_layer():
    unplaced = sorted(module for module, layer in _layer_of().items() if layer is None)
    assert not unplaced, f"add these modules to LAYERS (and ARCHITECTURE.md): {unplaced}"


def test_no_module_imports_upward():
    layer, names = _layer_of(), list(LAYERS)
    upward = [f"{module} ({names[layer[module]]}) imports {target} ({names[layer[target]]})"
              for module, targets in _edges().items() for target in sorted(targets)
              if layer[target] > layer[module] and not module.startswith(target + ".")]
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    graph, seen, done = _edges(), {}, set()

    def visit(module, path):
        if module in done:
            return
        assert module not in seen, "import circle: " + " -> ".join(path[path.index(module):] + [module])
        seen[module] = True
        for target in sorted(graph[module]):
            if not module.startswith(target + "."):  # a subpackage module may use its own __init__'s names
                visit(target, path + [module])
        done.add(module)
        del seen[module]

    for module in sorted(graph):
        visit(module, [])


def test_the_package_imports_its_own_modules_at_the_top_only():
    """No function-local import of the package's own modules: they would hide circles."""
    everywhere, top = dependencies.graph(ROOT), dependencies.graph(ROOT, top_level_only=True)
    hidden = {module: sorted(everywhere[module] - top[module]) for module in everywhere
              if everywhere[module] - top[module]}
    assert not hidden, hidden


def test_the_graph_sees_imports_inside_functions_relative_or_absolute(tmp_path):
    """The graph these tests read finds an import inside a function, relative or absolute."""
    package = tmp_path / "lib" / "unetcolor"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "paths.py").write_text("def f():\n    from unetcolor import cli\n")
    (package / "cli.py").write_text("from . import paths\n")
    graph = dependencies.graph(tmp_path)
    assert "unetcolor.cli" in graph["unetcolor.paths"] and "unetcolor.paths" in graph["unetcolor.cli"]
    assert "unetcolor.cli" not in dependencies.graph(tmp_path, top_level_only=True)["unetcolor.paths"]
