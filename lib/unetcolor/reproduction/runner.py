"""Executing the numbered notebooks with papermill under a profile.

A profile is `profiles/<name>.yaml`, the settings every notebook reads (unetcolor.profiles);
papermill injects only the profile's name and what a user points at (DATA_DIR's photos,
`--set photos_dir=...`, a model path). A `--set` name that no notebook declares is an
error (papermill would only warn).

A notebook re-executes only when what it reads changed since its last
successful run, by content: its source, the package code, the profile's settings, its
parameters, the photos or model files they name, the prepared data, the training runs it
reads (see staleness.py; the record is reports/<profile>/stamps/<notebook>.json).
Each notebook gets one line, `ran: <why>` or `current: ...`.

    python -m unetcolor notebooks --profile smoke                 # all of them, in order
    python -m unetcolor notebooks --profile paper 03_training     # one
    python -m unetcolor notebooks --profile smoke --force         # all, stale or not

`make reproduce` calls it through unetcolor.reproduction.reproduce, which first prints the training
plan and trains what is missing where asked to.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from .. import manifest, paths, profiles
from . import plan, staleness
from ..config import parse_assignments
from ..reproducibility import PROGRESS_ENV, cpu_model, usable_cores

def notebook_path(name: str, root: Path | None = None) -> Path:
    return (root or paths.project_root()) / "notebooks" / f"{name}.ipynb"


def notebook_parameters(name: str, root: Path | None = None) -> dict:
    """The literals of a notebook's `parameters` cell, by name: what papermill may inject
    (profile, data_dir, photos_dir, model paths), never a training setting."""
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


def declared_parameters(root: Path | None = None) -> set[str]:
    """Every parameter name some notebook declares."""
    return set().union(*(notebook_parameters(name, root) for name in manifest.names(root)))


def injected_parameters(name: str, profile: str, extra: dict | None = None, root: Path | None = None) -> dict:
    """What papermill injects into notebook `name`: `extra` (--set, --data-dir) and the
    profile's name; only the keys the notebook declares. The settings themselves the
    notebook reads from profiles/<profile>.yaml (unetcolor.profiles)."""
    declared = notebook_parameters(name, root)
    values = {**(extra or {}), "profile": profile}
    return {key: value for key, value in values.items() if key in declared}


def _kernel_manager(sockets: Path) -> type:
    """A kernel manager whose kernel talks through Unix sockets in `sockets` (a private
    temporary folder) instead of TCP ports on localhost: nothing else on the machine can
    connect to it, and the kernel has no reason to warn about unencrypted TCP."""

    class LocalSocketKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self):
            return "ipc"

        @default("ip")
        def _default_ip(self):
            return str(sockets / "kernel")

    return LocalSocketKernelManager


def run_notebook(name: str, profile: str, extra: dict | None = None, root: Path | None = None) -> Path:
    """Execute one notebook into reports/<profile>/notebooks/<name>.ipynb.

    The executed copy is written under a temporary name and renamed when the
    run succeeds; a failed run is kept as <name>.failed.ipynb for inspection.
    The paths papermill records in its metadata are made relative to the project
    root, so an executed notebook names no folder of the machine it ran on.
    """
    import papermill

    root = root or paths.project_root()
    folders = paths.profile_paths(profile, root).make()
    parameters = injected_parameters(name, profile, extra, root)
    output = folders.notebooks / f"{name}.ipynb"
    partial = folders.notebooks / f".{name}.running.ipynb"
    failed = folders.notebooks / f"{name}.failed.ipynb"
    os.environ[PROGRESS_ENV] = "epoch"  # one log line per epoch, inherited by the kernel
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"[{profile}] {name}: {parameters}", flush=True)
    sockets = Path(tempfile.mkdtemp(prefix="unetcolor-kernel-"))
    try:
        papermill.execute_notebook(
            str(notebook_path(name, root)), str(partial), parameters=parameters,
            cwd=str(root / "notebooks"), progress_bar=False, log_output=True,
            kernel_manager_class=_kernel_manager(sockets),
        )
    except BaseException:
        if partial.exists():
            os.replace(partial, failed)
            print(f"[{profile}] {name} failed; the partly executed notebook is {failed}", file=sys.stderr)
        raise
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    _relative_papermill_paths(partial, {"input_path": notebook_path(name, root), "output_path": output}, root)
    failed.unlink(missing_ok=True)
    os.replace(partial, output)
    return output


def _relative_papermill_paths(executed: Path, recorded: dict[str, Path], root: Path) -> None:
    """Set the executed notebook's papermill metadata `input_path`, `output_path` to
    `recorded`, relative to root (papermill stores the absolute paths it was given)."""
    import nbformat

    notebook = nbformat.reads(executed.read_text(encoding="utf-8"), as_version=nbformat.NO_CONVERT)
    for key, path in recorded.items():
        notebook.metadata.setdefault("papermill", {})[key] = Path(paths.relative(path, root)).as_posix()
    executed.write_text(nbformat.writes(notebook), encoding="utf-8")  # as papermill writes it


def machine() -> str:
    """What ran a notebook, in words: the CPU model and its usable cores (the notebooks' Keras
    device is in their own environment cell)."""
    return f"{cpu_model()}, {usable_cores()} cores"


def run(names: list[str], profile: str, extra: dict | None = None, force: bool = False,
        root: Path | None = None) -> list[staleness.Decision]:
    """Re-execute those of `names` (run in the manifest's order) whose inputs changed since their
    last successful run, or all of them with force; print one line per notebook.

    Each decision is taken just before the notebook's turn, so one that reads what an earlier
    one wrote (the prepared data) sees it as it is then."""
    root = root or paths.project_root()
    decisions = []
    for entry in [entry for entry in manifest.load(root) if entry.name in names]:
        name = entry.name
        sections = profiles.raw_settings(profile, root)[0]
        read = {section: values for section, values in sections.items() if section in entry.sections}
        record = staleness.inputs(name, profile, injected_parameters(name, profile, extra, root), read,
                                  plan.runs_read_by(name, profile, root), root)
        decision = staleness.decide(name, profile, record, root, force=force)
        decisions.append(decision)
        if not decision.stale:
            print(f"[{profile}] {name} {decision.describe()}", flush=True)
            continue
        print(f"[{profile}] {name}: re-executing, because {'; '.join(decision.reasons)}", flush=True)
        started = time.monotonic()
        run_notebook(name, profile, extra, root)
        decision.seconds = time.monotonic() - started
        staleness.record_run(name, profile, record, root, execution={"seconds": round(decision.seconds, 1),
                                                                     "machine": machine()})
        print(f"[{profile}] {name} {decision.describe()}", flush=True)
    if len(decisions) > 1 and any(decision.stale for decision in decisions):
        print(f"[{profile}] summary:")
        for decision in decisions:
            print(f"  {decision.name:<24} {decision.describe()}")
    return decisions


def parse_settings(items: list[str], declared: set[str]) -> dict:
    """`--set NAME=VALUE` items for the notebooks (config.parse_assignments); ValueError for a
    name no notebook declares."""
    settings = parse_assignments(items)
    for name in settings:
        if name not in declared:
            raise ValueError(f"--set {name}: no notebook declares a parameter {name!r} (declared: {sorted(declared)}); "
                             "the paper's settings are in profiles/<profile>.yaml")
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="notebook names (default: all, in the manifest's order)")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--data-dir", default="", help="a folder of photos instead of the download (notebook 01)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="set one notebook parameter for this run (a Python literal), e.g. "
                             "--set photos_dir=../shared/data/pokhara")
    parser.add_argument("--force", action="store_true", help="re-execute the notebooks even where nothing changed")
    args = parser.parse_args(argv)
    known = manifest.names()
    args.notebooks = args.notebooks or list(known)
    unknown = sorted(set(args.notebooks) - set(known))
    if unknown:
        parser.error(f"unknown notebook(s) {unknown}; choose from {list(known)} ({manifest.FILE})")
    extra = {"data_dir": args.data_dir} if args.data_dir else {}  # notebook 01 resolves it against the project root
    try:
        extra.update(parse_settings(args.set, declared_parameters()))
    except ValueError as error:
        parser.error(str(error))
    run(args.notebooks, args.profile, extra, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
