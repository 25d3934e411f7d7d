"""Whether a notebook must re-execute, decided by the content of what it reads; and the rule
every cache of the project follows.

The rule: a cached result is reused only when everything that can change it is the same, by
content (never by file times), and whatever was reused or redone is said. Each cache and its key:

    notebooks        this module: the record below, in reports/<profile>/stamps/
    prepared data    data.prepare_dataset: each source file's path and content, and the preparation
                     parameters (manifest.json); its identity for everything downstream is
                     data.fingerprint (the kept photos' content, parameters, split manifests)
    training runs    config.TrainConfig.key, the run folder's name: every setting of the run and
                     its model, the data's fingerprint, and the fingerprint of the network those
                     settings build (unet.model.architecture_fingerprint: each layer's kind,
                     shaping settings, output and weight shapes, and inputs). Precision and the
                     device are left out (they move numbers by rounding only, and are recorded in
                     environment.json), and so is the rest of the code: a refactor that builds the
                     same network must not retrain a 16-hour study (unetcolor.unet.runs)
    speed            unetcolor.unet.speed: the machine (CPU, cores, bfloat16 flags, device, library
                     versions) and the model measured

After a notebook succeeds the runner writes its stamp, reports/<profile>/stamps/<notebook>.json:
a record of the run's inputs, by content, and their fingerprint (sha256 of the record). The next
run computes the record again; the notebook re-executes when the record differs, when the
executed notebook is missing, or when asked to (--force), and `decide` says why. File times play
no part, so a fresh clone, a copied folder or a `touch` changes nothing (as in `dvc repro`).

What a notebook's record holds:
    notebook    sha256 of notebooks/<name>.ipynb
    code        sha256 of each module of the package the notebook's code reaches through its
                imports, top-level or inside functions (unetcolor.dependencies), by path within
                the package: editing the `colorize` command re-executes no notebook, editing
                metrics.py the notebooks that reach it
    settings    the sections of the profile's settings it reads (profiles/<profile>.yaml, with
                what it extends applied; its `sections` in the notebooks manifest, unetcolor.manifest)
    parameters  what papermill injects: the profile's name, --set and --data-dir
    folders     each *_dir / *_path parameter that names a local file or folder (DATA_DIR's
                photos, photos_dir, model_path): file count, bytes, and one sha256 over the
                files' names, sizes and contents
    data        every later notebook: the prepared data that notebook 01 wrote (`prepared_data`)
    runs        the training runs it reads (its manifest entry's `runs`), each finished
                run's records by sha256, a missing run as null: a run trained since re-executes
                exactly the notebooks that read it
    records     sha256 of each file its manifest entry's `records` globs match (notebook 07: the
                shipped colorizers and the records of the candidates and levers tried for them)

The notebook that prepares the data (notebook 01, `writes_data` in the manifest) writes it, so that data is its output, not its input: its stamp also
records the data it wrote ("outputs"), and it re-executes when that data is missing or has since
been replaced (by `python -m unetcolor data`, say). A notebook that re-ran with unchanged
inputs keeps its stamp, so the notebooks after it stay current.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .. import dependencies, manifest, paths
from ..files import sha256_file, write_json
from ..photos import data

STAMP_VERSION = 1


def sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def file_digests(files, within: Path | None = None) -> dict[str, str]:
    """sha256 of each file, keyed by its name, or by its POSIX path relative to `within`."""
    return {(path.relative_to(within).as_posix() if within else path.name): sha256_file(path)
            for path in sorted(files)}


def code_digests(notebook: Path, root: Path) -> dict[str, str]:
    """sha256 of each package module the notebook's code reaches through its imports
    (unetcolor.dependencies), keyed by its path within the package."""
    files = dependencies.module_files(root)
    package = dependencies.package_folder(root)
    return file_digests((files[name] for name in dependencies.notebook_modules(notebook, root)), within=package)


def content_digest(path: Path) -> dict:
    """A file or folder by content: {"files", "bytes", "sha256"}, the sha256 over each file's
    name (relative, POSIX), size and contents. Hidden files are left out, as data.scan_files
    leaves them out. Hashing is cheap next to a notebook: 1,540 photos (36 MB) take 0.3 s."""
    if path.is_file():
        return {"files": 1, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
    files = sorted(
        (file.relative_to(path).as_posix(), file) for file in path.rglob("*")
        if file.is_file() and not any(part.startswith(".") for part in file.relative_to(path).parts)
    )
    digest, total = hashlib.sha256(), 0
    for name, file in files:
        size = file.stat().st_size
        total += size
        digest.update(f"{name}\0{size}\0{sha256_file(file)}\n".encode())
    return {"files": len(files), "bytes": total, "sha256": digest.hexdigest()}


def prepared_data(folder: Path) -> dict | None:
    """The identity of a prepared-data folder, or None where it holds none: data.fingerprint,
    over each kept photo's content hash, the preparation parameters and the split manifests
    (not the photos' file times, which differ between two downloads of the same photos)."""
    if not ((folder / "manifest.json").is_file() and (folder / "index.csv").is_file()):
        return None
    return {"fingerprint": data.fingerprint(folder)}


def stamp_path(name: str, profile: str, root: Path | None = None) -> Path:
    return paths.profile_paths(profile, root).reports / "stamps" / f"{name}.json"


def read_stamp(name: str, profile: str, root: Path | None = None) -> dict | None:
    """The stamp of the notebook's last successful run; None if there is none (or an unreadable one)."""
    try:
        stamp = json.loads(stamp_path(name, profile, root).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) and stamp.get("version") == STAMP_VERSION else None


def inputs(name: str, profile: str, parameters: dict, settings: dict, runs: dict | None = None,
           root: Path | None = None) -> dict:
    """The record of what notebook `name` reads (see the module docstring), computed now.

    parameters: the values papermill injects; settings: the profile's; runs: the records of
    the runs it reads (unetcolor.reproduction.plan.runs_read_by), or None."""
    root = root or paths.project_root()
    parameters = json.loads(json.dumps(parameters))  # as a stamp stores them: tuples become lists
    record = {
        "notebook": sha256_file(root / "notebooks" / f"{name}.ipynb"),
        "code": code_digests(root / "notebooks" / f"{name}.ipynb", root),
        "settings": json.loads(json.dumps(settings)),
        "parameters": parameters,
    }
    folders = {}
    for key, value in sorted(parameters.items()):
        if key.endswith(("_dir", "_path")) and isinstance(value, str) and value:
            path = paths.resolve(value, root)
            if path.exists():  # otherwise the value stands for itself (photos_dir="scikit-image")
                folders[key] = content_digest(path)
    if folders:
        record["folders"] = folders
    entry = manifest.notebook(name, root)
    if not entry.writes_data:
        record["data"] = prepared_data(paths.profile_paths(profile, root).processed)
    if runs is not None:
        record["runs"] = runs
    if entry.records:
        record["records"] = file_digests(entry.record_files(root), within=root)
    return record


@dataclass
class Decision:
    """Whether notebook `name` must re-execute: `reasons` is empty when it is current."""

    name: str
    reasons: list[str] = field(default_factory=list)
    since: str | None = None  # when the stamp's inputs were first recorded
    seconds: float | None = None  # how long the re-execution took

    @property
    def stale(self) -> bool:
        return bool(self.reasons)

    def describe(self) -> str:
        """`ran: <why>` for a stale notebook (once it ran), `current: ...` otherwise."""
        if self.reasons:
            took = f" ({self.seconds:.0f} s)" if self.seconds is not None else ""
            return "ran: " + "; ".join(self.reasons) + took
        return f"current: inputs unchanged since {self.since}"


def decide(name: str, profile: str, record: dict, root: Path | None = None, force: bool = False) -> Decision:
    """Compare `record` (from `inputs`) with the notebook's stamp and its outputs."""
    root = root or paths.project_root()
    stamp = read_stamp(name, profile, root)
    decision = Decision(name, ["forced (--force)"] if force else [], stamp and stamp.get("recorded"))
    if stamp is None:
        decision.reasons.append("no previous run")
        return decision
    decision.reasons += changes(stamp.get("inputs", {}), record)
    if not (paths.profile_paths(profile, root).notebooks / f"{name}.ipynb").is_file():
        decision.reasons.append("executed notebook missing")
    if manifest.notebook(name, root).writes_data:
        written = prepared_data(paths.profile_paths(profile, root).processed)
        if written is None:
            decision.reasons.append("prepared data missing")
        elif written != stamp.get("outputs"):
            decision.reasons.append("prepared data replaced since this notebook wrote it")
    return decision


def changes(old: dict, new: dict) -> list[str]:
    """Why the record `new` differs from the stamped record `old`, one phrase per kind of input."""
    reasons = []
    if old.get("notebook") != new.get("notebook"):
        reasons.append("notebook source changed")
    if old.get("code") != new.get("code"):
        reasons.append("package code changed: " + _names(_changed_keys(old.get("code"), new.get("code"))))
    settings = _changed_keys(_flat(old.get("settings")), _flat(new.get("settings")))
    if settings:
        reasons.append("profile settings changed: " + _names(settings))
    parameters = _changed_keys(old.get("parameters"), new.get("parameters"))
    if parameters:
        before, after = old.get("parameters") or {}, new.get("parameters") or {}
        reasons.append("parameters changed: " + ", ".join(
            f"{key} {_show(before, key)} -> {_show(after, key)}" for key in parameters))
    for key in _changed_keys(old.get("folders"), new.get("folders")):
        if key not in parameters:  # a parameter naming another folder is reason enough
            reasons.append(f"files under {key} changed")
    if old.get("data") != new.get("data"):
        reasons.append("prepared data missing" if new.get("data") is None else "prepared data changed")
    runs = _changed_keys(old.get("runs"), new.get("runs"))
    if runs:
        before, after = old.get("runs") or {}, new.get("runs") or {}
        trained = [run for run in runs if after.get(run)]
        planned = [run for run in runs if run not in before and after.get(run, 0) is None]
        gone = [run for run in runs if before.get(run) and not after.get(run)]
        reasons += ([f"training runs changed: {_names(trained)}"] if trained else []) + (
            [f"training runs planned, not trained yet: {_names(planned)}"] if planned else []) + (
            [f"training runs gone: {_names(gone)}"] if gone else [])
        others = [run for run in runs if run not in trained + planned + gone]
        reasons += [f"training runs no longer planned: {_names(others)}"] if others else []
    if old.get("records") != new.get("records"):
        changed = _changed_keys(old.get("records"), new.get("records"))
        reasons.append("records it reads changed: " + _names(changed))
    known = {"notebook", "code", "settings", "parameters", "folders", "data", "runs", "records"}
    reasons += [f"{key} changed" for key in _changed_keys(old, new) if key not in known]
    return reasons


def record_run(name: str, profile: str, record: dict, root: Path | None = None,
               execution: dict | None = None) -> bool:
    """Write the stamp of a successful run of `name` with inputs `record` (computed before it ran).
    execution: how the run went (the runner gives its wall seconds and the machine); kept in the
    stamp as ``execution`` but, like ``recorded``, not part of what decides staleness.

    Atomic (a temporary file renamed into place), and only when its inputs change: a rerun
    with the same inputs keeps the stamp, its `recorded` time and its execution. Returns whether it wrote."""
    root = root or paths.project_root()
    stamp = {"version": STAMP_VERSION, "notebook": name, "profile": profile,
             "fingerprint": sha256_json(record), "inputs": record}
    if manifest.notebook(name, root).writes_data:
        stamp["outputs"] = prepared_data(paths.profile_paths(profile, root).processed)
    previous = read_stamp(name, profile, root)
    if previous is not None and {key: value for key, value in previous.items()
                                 if key not in ("recorded", "execution")} == stamp:
        return False
    stamp["recorded"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    if execution is not None:
        stamp["execution"] = execution
    write_json(stamp_path(name, profile, root), stamp, indent=1, sort_keys=True)
    return True


def _changed_keys(old: dict | None, new: dict | None) -> list[str]:
    old, new = old or {}, new or {}
    return sorted(key for key in set(old) | set(new) if old.get(key, _ABSENT) != new.get(key, _ABSENT))


def _flat(settings: dict | None) -> dict:
    """{"main.epochs": 100, ...}: a profile's sections flattened, so a change names its setting."""
    return {f"{section}.{key}": value for section, values in (settings or {}).items()
            for key, value in (values or {}).items()}


def _names(names: list[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _show(values: dict, key: str) -> str:
    text = repr(values[key]) if key in values else "(default)"
    return text if len(text) <= 40 else text[:37] + "..."


_ABSENT = object()
