"""Executing the numbered notebooks with papermill under a profile, each only when what it reads changed
(staleness), with one line each: `ran: <why>` or `current: ...`.

    python -m unetcolor notebooks --profile smoke                 # all of them, in order
    python -m unetcolor notebooks --profile paper 03_training     # one
    python -m unetcolor notebooks --profile smoke --force         # all, stale or not

Papermill injects only the profile's name and what a user points at (--data-dir, --set NAME=VALUE)."""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from .. import manifest, paths, profiles
from ..config import parse_assignments
from ..photos import data
from ..reproducibility import PROGRESS_ENV, cpu_model, usable_cores
from ..unet import runs
from . import plan, staleness

KERNEL_LOG = "kernel.log"


class NotebookStop(Exception):
    """Stops a notebook with its message alone (IPython shows _render_traceback_ in place of a traceback)."""

    def _render_traceback_(self) -> list[str]:
        return str(self).splitlines()


def prepared_photos(profile: str, root: Path | None = None) -> str:
    """The photos prepared for the profile, in words: count, source and data fingerprint."""
    folders = paths.profile_paths(profile, root)
    if not (folders.processed / "manifest.json").is_file():
        raise NotebookStop(f"No photos are prepared in {paths.relative(folders.processed, folders.root)}: "
                           f"`make data{_profile_argument(profile)}` (or notebook 01) prepares them.")
    counts = data.split_counts(folders.processed)
    return (f"{int(counts['train'].iloc[0] + counts['val'].iloc[0]):,} photos from "
            f"{_in_words(_prepared_source(profile, root))} (data fingerprint {data.fingerprint(folders.processed)})")


def run_photos(run_dir: Path, profile: str, root: Path | None = None) -> str:
    """The photos run_dir was trained on, in words: its data fingerprint and, where known, their source."""
    fingerprint = runs.config(run_dir).data
    if data.fingerprint(paths.profile_paths(profile, root).processed) == fingerprint:
        return prepared_photos(profile, root)
    if (source := _prepared_from(fingerprint, profile, root)) is None:
        return f"photos of data fingerprint {fingerprint}, from a source this checkout does not record"
    files = f", {source['files']:,} files" if source.get("files") else ""
    return f"photos from {_in_words(source)} (data fingerprint {fingerprint}{files})"


def main_run_on_prepared_photos(profile: str, root: Path | None = None) -> Path:
    """The profile's main run if trained on the prepared photos; else NotebookStop naming both and the fixes."""
    folders = paths.profile_paths(profile, root)
    prepared = prepared_photos(profile, root)
    pointer = folders.models / runs.MAIN_POINTER
    if not pointer.is_file():
        raise NotebookStop(f"No main run is recorded for profile {profile!r} "
                           f"({paths.relative(pointer, folders.root)}); the photos prepared are {prepared}.\n"
                           f"To train it on them: {_train_command(profile, root)}")
    run_dir = pointer.parent / json.loads(pointer.read_text())["run"]
    if (trained := runs.config(run_dir).data) == data.fingerprint(folders.processed):
        return run_dir
    origin = _prepared_from(trained, profile, root)
    folder = _data_argument(origin) if origin else " DATA_DIR=<the folder it was trained on>"
    raise NotebookStop("\n".join([
        f"The main run of profile {profile!r} was trained on other photos than those prepared now; "
        "scoring it on these would mix two datasets, so this notebook stops here and writes no table.",
        f"  prepared now:       {prepared}",
        f"  the run trained on: {run_photos(run_dir, profile, root)} ({run_dir.name})",
        "To make them agree, choose one:",
        f"  `make data{_profile_argument(profile)}{folder}`   prepare the run's photos again",
        f"  {_train_command(profile, root)}   train the runs on the photos prepared now",
    ]))


def require_trained(profile: str, run_dir: Path, opted_in: bool, root: Path | None = None) -> None:
    """NotebookStop with this machine's estimate and how to train, unless the run is finished or opted_in."""
    status, done = runs.state(run_dir, needs_weights=True)
    if status == "finished" or opted_in:
        return
    main = next((run for run in plan.build(profile, root) if run.run_dir == Path(run_dir)), None)
    if main is None:
        raise ValueError(f"{run_dir}: not a run of profile {profile!r}'s plan")
    plan.estimate([main], paths.profile_paths(profile, root).processed)
    progress = (f"; {done} of {main.config.epochs} epochs are done, training resumes there" if status == "partial"
                else "")
    raise NotebookStop("\n".join([
        f"The main run of profile {profile!r} is not trained on the photos prepared ({prepared_photos(profile, root)}) "
        f"yet{progress}: about {plan.duration(main.estimate_seconds)} of training on this machine "
        f"({machine()}, {main.precision}). This cell trains only when asked, choose one:",
        f"  {_train_command(profile, root)}   train it before the notebooks run (progress bars; an interrupted "
        "call resumes)",
        "  set `train_if_missing = True` in the parameters cell and run the notebook again   train it in this notebook",
    ]))


def _prepared_source(profile: str, root: Path | None) -> dict:
    """data_source.json of the prepared photos; {} if absent."""
    try:
        return json.loads((paths.profile_paths(profile, root).tables / "data_source.json").read_text())
    except (OSError, ValueError):
        return {}


def _in_words(source: dict) -> str:
    """A data_source.json record (data.describe_source) in words."""
    season = f", {source['season']} photos" if source.get("season") else ""
    return {"folder": f"the folder {source.get('folder')}", "download": f"the paper's dataset (the download{season})",
            "scikit-image samples": "scikit-image's sample crops"}.get(source.get("kind"), "a source not recorded")


def _prepared_from(fingerprint: str, profile: str, root: Path | None) -> dict | None:
    """The data_source.json record of data `fingerprint`, from the data notebook's stamp here or committed, or None."""
    root = root or paths.project_root()
    name = manifest.data_notebook(root)
    stamps = [staleness.read_stamp(name, profile, root)]
    stamp_file = Path(paths.relative(staleness.stamp_path(name, profile, root), root)).as_posix()
    try:
        committed = subprocess.run(["git", "show", f"HEAD:{stamp_file}"], cwd=root, capture_output=True, text=True,
                                   timeout=30)
        stamps.append(json.loads(committed.stdout) if committed.returncode == 0 else None)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass  # no git, or no committed stamp: this tree's stamp is all there is
    inputs = next((stamp.get("inputs", {}) for stamp in stamps if isinstance(stamp, dict)
                   and (stamp.get("outputs") or {}).get("fingerprint") == fingerprint), None)
    if inputs is None:
        return None
    if folder := inputs.get("parameters", {}).get("data_dir", ""):
        return {"kind": "folder", "folder": folder, "files": inputs.get("folders", {}).get("data_dir", {}).get("files")}
    settings = inputs.get("settings", {}).get("data", {})
    if settings.get("sample_photos"):
        return {"kind": "scikit-image samples"}
    return {"kind": "download", "season": settings.get("season")}


def _profile_argument(profile: str) -> str:
    return "" if profile == "paper" else f" PROFILE={profile}"


def _train_command(profile: str, root: Path | None) -> str:
    """The make command that trains the profile's runs on the photos prepared now."""
    return f"`make reproduce{_profile_argument(profile)}{_data_argument(_prepared_source(profile, root))} TRAIN=1`"


def _data_argument(source: dict) -> str:
    """DATA_DIR for make, for photos from `source` (a data_source.json record)."""
    return f' DATA_DIR="{source["folder"]}"' if source.get("kind") == "folder" else ""


def notebook_path(name: str, root: Path | None = None) -> Path:
    return (root or paths.project_root()) / "notebooks" / f"{name}.ipynb"


def notebook_parameters(name: str, root: Path | None = None) -> dict:
    """The literals of a notebook's `parameters` cell, by name."""
    path = notebook_path(name, root)
    cells = [cell for cell in json.loads(path.read_text())["cells"]
             if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{path}: expected exactly one cell tagged 'parameters', found {len(cells)}")
    lines = ast.parse("".join(cells[0]["source"])).body
    if not all(isinstance(line, ast.Assign) and len(line.targets) == 1 and isinstance(line.targets[0], ast.Name)
               for line in lines):
        raise ValueError(f"{path}: the parameters cell may hold only `name = literal` lines")
    return {line.targets[0].id: ast.literal_eval(line.value) for line in lines}


def injected_parameters(name: str, profile: str, extra: dict | None = None, root: Path | None = None) -> dict:
    """What papermill injects into notebook `name`: the profile's name and those of `extra` it declares."""
    declared = notebook_parameters(name, root)
    return {key: value for key, value in {**(extra or {}), "profile": profile}.items() if key in declared}


def _kernel_manager(sockets: Path) -> type:
    """A kernel manager on Unix sockets in `sockets` (a private folder), its stderr in `sockets`/kernel.log."""

    class LocalSocketKernelManager(AsyncKernelManager):
        def __init__(self, **kw):
            # a kernel that has run TensorFlow on a loaded machine can take longer than jupyter_client's 5 s to
            # exit; past it the kernel is interrupted and prints a traceback of its own teardown
            super().__init__(**{"transport": "ipc", "ip": str(sockets / "kernel"), "shutdown_wait_time": 60.0, **kw})

        async def _async_pre_start_kernel(self, **kw):
            kw.setdefault("stderr", open(sockets / KERNEL_LOG, "ab"))  # closed with the kernel's process
            return await super()._async_pre_start_kernel(**kw)

    return LocalSocketKernelManager


def run_notebook(name: str, profile: str, extra: dict | None = None, root: Path | None = None) -> Path:
    """Execute one notebook into reports/<profile>/notebooks/<name>.ipynb (a failed one: <name>.failed.ipynb)."""
    import nbformat
    import papermill

    root = root or paths.project_root()
    folders = paths.profile_paths(profile, root).make()
    parameters = injected_parameters(name, profile, extra, root)
    output, partial = folders.notebooks / f"{name}.ipynb", folders.notebooks / f".{name}.running.ipynb"
    failed = folders.notebooks / f"{name}.failed.ipynb"
    os.environ[PROGRESS_ENV] = "epoch"  # one log line per epoch, inherited by the kernel
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"[{profile}] {name}: {parameters}", flush=True)
    sockets = Path(tempfile.mkdtemp(prefix="unetcolor-kernel-"))
    try:
        papermill.execute_notebook(str(notebook_path(name, root)), str(partial), parameters=parameters,
                                   cwd=str(root / "notebooks"), progress_bar=False, log_output=True,
                                   kernel_manager_class=_kernel_manager(sockets))
    except BaseException as error:
        log = sockets / KERNEL_LOG
        if getattr(error, "ename", None) != NotebookStop.__name__ and log.is_file() and log.stat().st_size:
            tail = log.read_text(errors="replace").splitlines()[-40:]
            print(f"[{profile}] {name}: the kernel process's own log ends:\n" + "\n".join(tail), file=sys.stderr)
        if partial.exists():
            os.replace(partial, failed)
            print(f"[{profile}] {name} failed; the partly executed notebook is {failed}", file=sys.stderr)
        raise
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    # papermill's recorded paths, relative to the root, written as papermill writes them
    notebook = nbformat.reads(partial.read_text(encoding="utf-8"), as_version=nbformat.NO_CONVERT)
    for key, path in {"input_path": notebook_path(name, root), "output_path": output}.items():
        notebook.metadata.setdefault("papermill", {})[key] = Path(paths.relative(path, root)).as_posix()
    partial.write_text(nbformat.writes(notebook), encoding="utf-8")
    failed.unlink(missing_ok=True)
    os.replace(partial, output)
    return output


def machine() -> str:
    """What ran a notebook, in words: the CPU model and its usable cores."""
    return f"{cpu_model()}, {usable_cores()} cores"


def run(names: list[str], profile: str, extra: dict | None = None, force: bool = False,
        root: Path | None = None) -> list[staleness.Decision]:
    """Re-execute those of `names` whose inputs changed (all with force) in the manifest's order, saying why."""
    root = root or paths.project_root()
    decisions = []
    for entry in [entry for entry in manifest.load(root) if entry.name in names]:
        name = entry.name
        read = {section: values for section, values in profiles.raw_settings(profile, root)[0].items()
                if section in entry.sections}
        record = staleness.inputs(name, profile, injected_parameters(name, profile, extra, root), read,
                                  plan.runs_read_by(name, profile, root), root)
        decisions.append(decision := staleness.decide(name, profile, record, root, force=force))
        if decision.stale:
            print(f"[{profile}] {name}: re-executing, because {'; '.join(decision.reasons)}", flush=True)
            started = time.monotonic()
            run_notebook(name, profile, extra, root)
            decision.seconds = time.monotonic() - started
            staleness.record_run(name, profile, record, root, execution={"seconds": round(decision.seconds, 1),
                                                                         "machine": machine()})
        print(f"[{profile}] {name} {decision.describe()}", flush=True)
    if len(decisions) > 1 and any(decision.stale for decision in decisions):
        print(f"[{profile}] summary:\n" + "\n".join(f"  {decision.name:<24} {decision.describe()}"
                                                   for decision in decisions))
    return decisions


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str] | None) -> tuple[argparse.Namespace, dict]:
    """argv parsed with the options of the commands that run notebooks added, and the notebook parameters of
    --data-dir (resolved by notebook 01 against the project root) and --set, each declared by some notebook."""
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--data-dir", default="", help="a folder of photos instead of the download (notebook 01)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="set one notebook parameter for this run (a Python literal), e.g. "
                             "--set photos_dir=../shared/data/pokhara")
    parser.add_argument("--force", action="store_true", help="re-execute the notebooks even where nothing changed")
    args = parser.parse_args(argv)
    try:
        declared = set().union(*(notebook_parameters(name) for name in manifest.names()))
        settings = parse_assignments(args.set)
        if undeclared := [name for name in settings if name not in declared]:
            raise ValueError(f"--set {undeclared[0]}: no notebook declares a parameter {undeclared[0]!r} "
                             f"(declared: {sorted(declared)}); the paper's settings are in profiles/<profile>.yaml")
    except ValueError as error:
        parser.error(str(error))
    return args, {**({"data_dir": args.data_dir} if args.data_dir else {}), **settings}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="notebook names (default: all, in the manifest's order)")
    args, extra = parse_arguments(parser, argv)
    known = manifest.names()
    if unknown := sorted(set(args.notebooks) - set(known)):
        parser.error(f"unknown notebook(s) {unknown}; choose from {list(known)} ({manifest.FILE})")
    from papermill.exceptions import PapermillExecutionError

    try:
        run(args.notebooks or list(known), args.profile, extra, force=args.force)
    except PapermillExecutionError as error:
        if error.ename != NotebookStop.__name__:
            raise
        print(error.evalue, file=sys.stderr)  # the notebook's own message says what to do
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
