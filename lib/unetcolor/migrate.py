"""Bring run records written by older versions of the package up to the current cache key.

Older records (before runs were keyed by their data) have a config.json with
`mixed_precision` and without `last_batch` or `data`. They were all trained with
Keras' partial last batch, and on the data whose fingerprint the caller vouches for
(check it first: scripts/unpack_runs.sh compares the split manifests a pack was
trained on with this machine's preparation). Each such run is rewritten with

    last_batch = "partial", data = <fingerprint>, precision = "bfloat16" if it was
    trained with mixed_precision else "float32"  (also recorded in environment.json)

and its folder renamed to the new run name; models/<profile>/main.json follows.

    python -m unetcolor.migrate --profile paper
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import data, paths
from .config import train_config_from_dict
from .train import write_json


def migrate_run(run_dir: Path, data_fingerprint: str) -> Path:
    """Rewrite one legacy run folder (see the module docstring); returns its new path.
    A current record keeps its files (its folder follows the current naming); an existing folder
    of the new name is never overwritten."""
    run_dir = Path(run_dir)
    values = json.loads((run_dir / "config.json").read_text())
    if "data" in values and "mixed_precision" not in values:  # current: only its name may be older
        target = run_dir.with_name(train_config_from_dict(values, str(run_dir / "config.json")).run_name())
        if target != run_dir and not target.exists():
            os.replace(run_dir, target)
        return target
    mixed = bool(values.pop("mixed_precision", False))
    values.setdefault("last_batch", "partial")
    values.setdefault("precision", "bfloat16" if mixed else "float32")
    values["data"] = data_fingerprint
    config = train_config_from_dict(values, str(run_dir / "config.json"))
    target = run_dir.with_name(config.run_name())
    if target != run_dir and target.exists():
        raise FileExistsError(f"{target}: a run of the migrated name exists already; compare the two by hand")
    environment_path = run_dir / "environment.json"
    environment = json.loads(environment_path.read_text()) if environment_path.is_file() else {}
    environment.setdefault("precision", config.precision)
    environment.setdefault("precision_reason", "recorded before precision was resolved per run: "
                                               f"mixed_precision was {str(mixed).lower()}")
    write_json(environment_path, environment)
    write_json(run_dir / "config.json", config.to_dict())
    if target != run_dir:
        os.replace(run_dir, target)
    return target


def migrate_profile(profile: str) -> dict[str, str]:
    """Migrate every run under models/<profile>/ to the fingerprint of the profile's prepared
    data; returns {old name: new name} and rewrites main.json if its run was renamed."""
    folders = paths.profile_paths(profile)
    fingerprint = data.fingerprint(folders.processed)
    renamed = {}
    for run_dir in sorted(p for p in folders.models.iterdir() if (p / "config.json").is_file()):
        renamed[run_dir.name] = migrate_run(run_dir, fingerprint).name
    pointer = folders.models / "main.json"
    if pointer.is_file():
        main = json.loads(pointer.read_text())
        if main["run"] in renamed:
            write_json(pointer, {**main, "run": renamed[main["run"]]})
    return renamed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor.migrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="paper")
    args = parser.parse_args(argv)
    for old, new in migrate_profile(args.profile).items():
        print(f"{old} -> {new}" if old != new else f"{old}: current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
