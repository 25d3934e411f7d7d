"""One place for every path the project reads or writes, relative to the project root; outputs of different
profiles never share a folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT_ENV = "UNETCOLOR_ROOT"


def project_root() -> Path:
    """The project checkout: $UNETCOLOR_ROOT, else the nearest parent of the working directory holding both
    `pyproject.toml` and `notebooks/`, else the checkout this package was installed from (editable install)."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    for candidate in [Path.cwd(), *Path.cwd().parents]:
        if (candidate / "pyproject.toml").is_file() and (candidate / "notebooks").is_dir():
            return candidate
    return Path(__file__).resolve().parents[2]


def relative(path: str | os.PathLike, root: Path | None = None) -> str:
    """path relative to the project root (with `..` where it lies outside), links not resolved."""
    return os.path.relpath(os.path.abspath(path), root or project_root())


def resolve(path: str | os.PathLike, root: Path | None = None) -> Path:
    """A user-given path: absolute as given, relative ones against the project root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else (root or project_root()) / path


@dataclass(frozen=True)
class ProfilePaths:
    """All output folders of one profile (`paper`, `smoke`, ...)."""

    profile: str
    root: Path

    raw = property(lambda self: self.root / "data" / "raw")  # downloads, never modified after extraction
    processed = property(lambda self: self.root / "data" / "processed" / self.profile)  # arrays, index, splits
    models = property(lambda self: self.root / "models" / self.profile)  # a training run in each <run>/
    colorizers = property(lambda self: self.models / "colorizers")  # candidates' records, not a training run
    reports = property(lambda self: self.root / "reports" / self.profile)  # also stamps/: what each notebook ran from
    notebooks = property(lambda self: self.reports / "notebooks")
    figures = property(lambda self: self.reports / "figures")
    tables = property(lambda self: self.reports / "tables")

    def run_dir(self, run_name: str) -> Path:
        return self.models / run_name

    def make(self) -> "ProfilePaths":
        """Create the output folders; returns self so calls can chain."""
        for folder in (self.processed, self.models, self.notebooks, self.figures, self.tables):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def profile_paths(profile: str, root: Path | None = None) -> ProfilePaths:
    if not profile or not profile.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"profile {profile!r} is not a valid name: use letters, digits, '-' or '_' "
                         "(for example 'paper' or 'smoke')")
    return ProfilePaths(profile=profile, root=(root or project_root()))


def missing(candidates, folders: bool = False) -> list[str]:
    """Those of candidates (paths) that are not existing files (folders=True: folders), as text."""
    exists = Path.is_dir if folders else Path.is_file
    return [str(path) for path in map(Path, candidates) if not exists(path)]
