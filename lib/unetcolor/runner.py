"""Executing the numbered notebooks with papermill under a profile.

A profile is `profiles/<name>.yaml`: a flat mapping of notebook parameters to
override (`paper` overrides nothing: the notebooks' own defaults are the
paper's values). Each notebook receives the keys it declares; a key that no
notebook declares is an error (papermill would only warn).

    python -m unetcolor.runner --profile smoke                 # all of them, in order
    python -m unetcolor.runner --profile paper 03_training     # one
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from pathlib import Path

import yaml

from . import paths
from .reproducibility import PROGRESS_ENV

NOTEBOOKS = (
    "01_data_preparation",
    "02_model",
    "03_training",
    "04_hyperparameter_study",
    "05_psnr_evaluation",
    "06_pokhara_test_images",
    "07_beyond_the_paper",
)


def notebook_path(name: str, root: Path | None = None) -> Path:
    return (root or paths.project_root()) / "notebooks" / f"{name}.ipynb"


def notebook_parameters(name: str, root: Path | None = None) -> dict:
    """The literals of a notebook's `parameters` cell, by name (read without Jupyter,
    so headless runs on machines without papermill build the same configs)."""
    path = notebook_path(name, root)
    cells = [cell for cell in json.loads(path.read_text())["cells"]
             if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{path}: expected exactly one cell tagged 'parameters', found {len(cells)}")
    source = "".join(cells[0]["source"])
    values = {}
    for statement in ast.parse(source).body:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            raise ValueError(f"{path}: the parameters cell may hold only `name = literal` lines")
        values[statement.targets[0].id] = ast.literal_eval(statement.value)
    return values


def profile_parameters(name: str, profile: str, root: Path | None = None) -> dict:
    """A notebook's parameters as a profile runs it: its defaults, then the profile's overrides."""
    defaults = notebook_parameters(name, root)
    overrides = load_profile(profile, root)
    return {**defaults, **{k: v for k, v in overrides.items() if k in defaults}, "profile": profile}


def load_profile(profile: str, root: Path | None = None) -> dict:
    """The overrides of profiles/<profile>.yaml, checked against every notebook's parameters."""
    root = root or paths.project_root()
    path = root / "profiles" / f"{profile}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "profiles").glob("*.yaml"))
        raise FileNotFoundError(f"{path}: no such profile; known profiles: {known}")
    overrides = yaml.safe_load(path.read_text()) or {}
    if not isinstance(overrides, dict):
        raise ValueError(f"{path}: a profile is a mapping of notebook parameters to values")
    declared = set().union(*(notebook_parameters(name, root) for name in NOTEBOOKS))
    unknown = sorted(set(overrides) - declared)
    if unknown:
        raise ValueError(f"{path}: unknown parameter(s) {unknown}; notebooks declare {sorted(declared)}")
    if "profile" in overrides:
        raise ValueError(f"{path}: 'profile' is set from the file name, remove it from the file")
    return overrides


def run_notebook(name: str, profile: str, extra: dict | None = None, root: Path | None = None) -> Path:
    """Execute one notebook into reports/<profile>/notebooks/<name>.ipynb.

    The executed copy is written under a temporary name and renamed when the
    run succeeds; a failed run is kept as <name>.failed.ipynb for inspection.
    """
    import papermill

    root = root or paths.project_root()
    folders = paths.profile_paths(profile, root).make()
    declared = notebook_parameters(name, root)
    values = {**load_profile(profile, root), **(extra or {}), "profile": profile}
    parameters = {key: value for key, value in values.items() if key in declared}
    output = folders.notebooks / f"{name}.ipynb"
    partial = folders.notebooks / f".{name}.running.ipynb"
    failed = folders.notebooks / f"{name}.failed.ipynb"
    os.environ[PROGRESS_ENV] = "epoch"  # one log line per epoch, inherited by the kernel
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"[{profile}] {name}: {parameters}", flush=True)
    try:
        papermill.execute_notebook(
            str(notebook_path(name, root)), str(partial), parameters=parameters,
            cwd=str(root / "notebooks"), progress_bar=False, log_output=True,
        )
    except BaseException:
        if partial.exists():
            os.replace(partial, failed)
            print(f"[{profile}] {name} failed; the partly executed notebook is {failed}", file=sys.stderr)
        raise
    failed.unlink(missing_ok=True)
    os.replace(partial, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor.runner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS), help="notebook names (default: all, in order)")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--data-dir", default="", help="a folder of photos instead of the download (notebook 01)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override one parameter for this run (a Python literal), e.g. --set train_model=False")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.notebooks) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"unknown notebook(s) {unknown}; choose from {list(NOTEBOOKS)}")
    extra = {"data_dir": args.data_dir} if args.data_dir else {}  # notebook 01 resolves it against the project root
    declared = set().union(*(notebook_parameters(name) for name in NOTEBOOKS))
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in declared:
            parser.error(f"--set {item}: no notebook declares a parameter {name!r}")
        try:
            extra[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            extra[name] = value  # a bare word is a string

    for name in args.notebooks:
        run_notebook(name, args.profile, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
