"""The notebooks manifest, notebooks/manifest.yaml: the numbered notebooks in order, what each reads and writes."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import paths

FILE = Path("notebooks") / "manifest.yaml"
RUN_KINDS = ("main", "study")
KEYS = {"name", "sections", "runs", "records", "writes_data", "tables", "finding"}


@dataclass(frozen=True)
class Notebook:
    name: str
    sections: tuple[str, ...]
    runs: str | None = None  # "main", "study" or None
    records: tuple[str, ...] = ()
    writes_data: bool = False
    tables: tuple[str, ...] = ()
    finding: str | dict | None = None

    def record_files(self, root: Path) -> list[Path]:
        """The files its `records` globs match below root, sorted."""
        return sorted({Path(match) for pattern in self.records
                       for match in glob.glob(str(root / pattern), recursive=True) if Path(match).is_file()})


def path(root: Path | None = None) -> Path:
    return (root or paths.project_root()) / FILE


def load(root: Path | None = None) -> tuple[Notebook, ...]:
    """Every notebook of the manifest, in order; ValueError naming the file and the entry for a malformed one."""
    if not (where := path(root)).is_file():
        raise FileNotFoundError(f"{where}: the notebooks manifest is missing; it lists the numbered notebooks")
    entries = yaml.safe_load(where.read_text()) or []
    if not isinstance(entries, list):
        raise ValueError(f"{where}: expected a list of notebooks, one mapping each")
    notebooks = tuple(_entry(entry, where) for entry in entries)
    if len(set(names := [notebook.name for notebook in notebooks])) != len(names) or names != sorted(names):
        raise ValueError(f"{where}: notebook names must be unique and in running order: {names}")
    if sum(notebook.writes_data for notebook in notebooks) != 1 or not notebooks[0].writes_data:
        raise ValueError(f"{where}: exactly one notebook, the first, prepares the data (writes_data: true)")
    return notebooks


def _entry(entry, where: Path) -> Notebook:
    if not isinstance(entry, dict) or "name" not in entry:
        raise ValueError(f"{where}: each entry is a mapping with a name, got {entry!r}")
    if unknown := sorted(set(entry) - KEYS):
        raise ValueError(f"{where}: {entry['name']}: unknown key(s) {unknown}; keys are {sorted(KEYS)}")
    if entry.get("runs") not in (None, *RUN_KINDS):
        raise ValueError(f"{where}: {entry['name']}: runs must be one of {RUN_KINDS}, got {entry['runs']!r}")
    if isinstance(finding := entry.get("finding"), dict) and (set(finding) != {"table", "text"}
                                                              or finding["table"] not in entry.get("tables", ())):
        raise ValueError(f"{where}: {entry['name']}: a finding template is {{table: <one of its tables>, text: ...}}")
    return Notebook(entry["name"], runs=entry.get("runs"), writes_data=bool(entry.get("writes_data", False)),
                    finding=finding, **{key: tuple(entry.get(key, ())) for key in ("sections", "records", "tables")})


def names(root: Path | None = None) -> tuple[str, ...]:
    return tuple(notebook.name for notebook in load(root))


def notebook(name: str, root: Path | None = None) -> Notebook:
    if found := [entry for entry in load(root) if entry.name == name]:
        return found[0]
    raise ValueError(f"{path(root)}: no notebook named {name!r}; the notebooks are {', '.join(names(root))}")


def data_notebook(root: Path | None = None) -> str:
    """The notebook that prepares the data (the first)."""
    return load(root)[0].name
