"""Whether a notebook must re-execute, decided by the content of what it reads; and the rule every cache
follows: a result is reused only when everything that can change it is the same, by content (never file
times), and whatever was reused or redone is said. The caches and their keys:

    notebooks        this module's stamps, reports/<profile>/stamps/<notebook>.json
    prepared data    data.prepare_dataset: each source file's path and content, and the parameters;
                     downstream, data.fingerprint
    training runs    config.TrainConfig.key: every setting, the data's fingerprint and the network's
                     (unet.model.architecture_fingerprint); not precision, device or other code
    speed            unetcolor.unet.speed: the machine, the libraries and the model measured

A notebook re-executes when its inputs (`inputs`) differ from its stamp's, when its executed copy is
missing, or with --force; the one that writes the data also when that data is replaced."""

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
_ABSENT = object()
_KNOWN = {"notebook", "code", "settings", "parameters", "folders", "data", "runs", "records"}


def file_digests(files, within: Path | None = None) -> dict[str, str]:
    """sha256 of each file, keyed by its name, or by its POSIX path relative to `within`."""
    return {(path.relative_to(within).as_posix() if within else path.name): sha256_file(path)
            for path in sorted(files)}


def content_digest(path: Path) -> dict:
    """A file or folder by content: {"files", "bytes", "sha256"} over each non-hidden file's name, size and bytes."""
    if path.is_file():
        return {"files": 1, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
    files = sorted((file.relative_to(path).as_posix(), file) for file in path.rglob("*")
                   if file.is_file() and not any(part.startswith(".") for part in file.relative_to(path).parts))
    sizes = [file.stat().st_size for _, file in files]
    lines = "".join(f"{name}\0{size}\0{sha256_file(file)}\n" for (name, file), size in zip(files, sizes))
    return {"files": len(files), "bytes": sum(sizes), "sha256": hashlib.sha256(lines.encode()).hexdigest()}


def prepared_data(folder: Path) -> dict | None:
    """The identity of a prepared-data folder (data.fingerprint), or None where it holds none."""
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
    """The record of what notebook `name` reads, computed now."""
    root = root or paths.project_root()
    parameters = json.loads(json.dumps(parameters))  # as a stamp stores them: tuples become lists
    notebook, modules = root / "notebooks" / f"{name}.ipynb", dependencies.module_files(root)
    code = file_digests((modules[module] for module in dependencies.notebook_modules(notebook, root)),
                        within=dependencies.package_folder(root))
    record = {"notebook": sha256_file(notebook), "code": code, "settings": json.loads(json.dumps(settings)),
              "parameters": parameters}
    # a value naming no file or folder stands for itself (photos_dir="scikit-image")
    if folders := {key: content_digest(path) for key, value in sorted(parameters.items())
                   if key.endswith(("_dir", "_path")) and isinstance(value, str) and value
                   and (path := paths.resolve(value, root)).exists()}:
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
            return "ran: " + "; ".join(self.reasons) + (f" ({self.seconds:.0f} s)" if self.seconds is not None else "")
        return f"current: inputs unchanged since {self.since}"


def decide(name: str, profile: str, record: dict, root: Path | None = None, force: bool = False) -> Decision:
    """Compare `record` (from `inputs`) with the notebook's stamp and its outputs."""
    reasons = ["forced (--force)"] if force else []
    if (stamp := read_stamp(name, profile, root)) is None:
        return Decision(name, reasons + ["no previous run"])
    reasons += changes(stamp.get("inputs", {}), record)
    folders = paths.profile_paths(profile, root)
    if not (folders.notebooks / f"{name}.ipynb").is_file():
        reasons.append("executed notebook missing")
    if manifest.notebook(name, root).writes_data:
        if (written := prepared_data(folders.processed)) is None:
            reasons.append("prepared data missing")
        elif written != stamp.get("outputs"):
            reasons.append("prepared data replaced since this notebook wrote it")
    return Decision(name, reasons, stamp.get("recorded"))


def changes(old: dict, new: dict) -> list[str]:
    """Why the record `new` differs from the stamped record `old`, one phrase per kind of input."""
    def changed(key: str) -> list[str]:
        return _changed_keys(old.get(key), new.get(key))

    reasons = ["notebook source changed"] if old.get("notebook") != new.get("notebook") else []
    if old.get("code") != new.get("code"):
        reasons.append("package code changed: " + _names(changed("code")))
    if settings := _changed_keys(_flat(old.get("settings")), _flat(new.get("settings"))):
        reasons.append("profile settings changed: " + _names(settings))
    before, after = old.get("parameters") or {}, new.get("parameters") or {}
    if parameters := changed("parameters"):
        reasons.append("parameters changed: " + ", ".join(
            f"{key} {_show(before, key)} -> {_show(after, key)}" for key in parameters))
    # a parameter naming another folder is reason enough
    reasons += [f"files under {key} changed" for key in changed("folders") if key not in parameters]
    if old.get("data") != new.get("data"):
        reasons.append("prepared data missing" if new.get("data") is None else "prepared data changed")
    before, after = old.get("runs") or {}, new.get("runs") or {}
    runs = changed("runs")
    groups = {"changed": [run for run in runs if after.get(run)],
              "planned, not trained yet": [run for run in runs if run not in before and after.get(run, 0) is None],
              "gone": [run for run in runs if before.get(run) and not after.get(run)]}
    groups["no longer planned"] = [run for run in runs if not any(run in group for group in groups.values())]
    reasons += [f"training runs {what}: {_names(group)}" for what, group in groups.items() if group]
    if old.get("records") != new.get("records"):
        reasons.append("records it reads changed: " + _names(changed("records")))
    return reasons + [f"{key} changed" for key in _changed_keys(old, new) if key not in _KNOWN]


def record_run(name: str, profile: str, record: dict, root: Path | None = None,
               execution: dict | None = None) -> bool:
    """Write the stamp of a successful run of `name` with inputs `record`, atomically and only when its
    inputs changed; `execution` (wall seconds, machine) is kept but decides nothing. Returns whether it wrote."""
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    stamp = {"version": STAMP_VERSION, "notebook": name, "profile": profile, "fingerprint": digest, "inputs": record}
    if manifest.notebook(name, root).writes_data:
        stamp["outputs"] = prepared_data(paths.profile_paths(profile, root).processed)
    previous = read_stamp(name, profile, root) or {}
    if {key: value for key, value in previous.items() if key not in ("recorded", "execution")} == stamp:
        return False
    stamp["recorded"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    write_json(stamp_path(name, profile, root), {**stamp, **({} if execution is None else {"execution": execution})},
               indent=1, sort_keys=True)
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
