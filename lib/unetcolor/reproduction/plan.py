"""Every training run a profile needs (the main run, then the study), whether it is here (finished, partial or
missing), and how long the rest would take on this machine; recorded per machine in reports/<profile>/plans/."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import manifest, paths, profiles
from ..config import TrainConfig
from ..files import sha256_file, write_json
from ..photos import data
from ..reproducibility import cpu_model, device_description, machine, machine_key, usable_cores
from ..training import study
from ..unet import half_weights, precision, runs, speed

RECORD_FILES = ("config.json", "history.csv", "metrics.json", half_weights.RECORD_FILE)


@dataclass
class PlannedRun:
    role: str  # "main" or "study"
    level: str  # "main run" or "batch_size=20", ...
    seed: int
    config: TrainConfig  # bound to the prepared data
    run_dir: Path
    status: str = "missing"  # "finished", "partial" or "missing"
    epochs_done: int = 0
    train_photos: int = 0
    val_photos: int = 0
    estimate_seconds: float | None = None  # the epochs left, for a run not finished
    scratch_seconds: float | None = None  # all its epochs, as if nothing of it were here
    precision: str = ""

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def epochs_left(self) -> int:
        return 0 if self.status == "finished" else self.config.epochs - self.epochs_done


def build(profile: str, root: Path | None = None) -> list[PlannedRun]:
    """The profile's runs on its prepared data, the main run first, each distinct config once."""
    folders = paths.profile_paths(profile, root)
    settings = profiles.load(profile, root=root)
    fingerprint = data.fingerprint(folders.processed)
    main = runs.keyed(settings.main, fingerprint)
    planned = [PlannedRun("main", "main run", main.seed, main, folders.run_dir(main.run_name()))]
    base = settings.study
    table = study.study_configs(main, base["batch_sizes"], base["learning_rates"], base["splits"], base["seeds"])
    planned += [PlannedRun("study", f"{row.factor}={row.value}", row.seed, row.config, folders.run_dir(row.run))
                for row in table.drop_duplicates("run").itertuples() if row.run != planned[0].name]
    counts = data.split_counts(folders.processed).set_index("split")
    for run in planned:
        run.status, run.epochs_done = runs.state(run.run_dir, needs_weights=run.role == "main")
        run.train_photos, run.val_photos = map(int, counts.loc[run.config.split, ["train", "val"]])
    return planned


def estimate(planned: list[PlannedRun], processed_dir: Path) -> None:
    """Fill in each run's precision and estimates (from scratch, and what is left) from this machine's speed."""
    common = len(data.common_validation_ids(processed_dir))
    for run in planned:
        decision = precision.resolve(run.config.precision, run.config)
        measured = speed.model_speed(run.config, precisions=(decision.precision,))[decision.precision]
        train_rate, predict_rate = measured["train"]["median"], measured["predict"]["median"]
        per_epoch = run.train_photos / train_rate + run.val_photos / predict_rate
        once = measured["train"]["warmup_seconds"] + measured["predict"]["warmup_seconds"] + common / predict_rate
        run.scratch_seconds = run.config.epochs * per_epoch + once
        if run.status != "finished":
            run.estimate_seconds = run.epochs_left * per_epoch + once
        run.precision = decision.precision


def record(planned: list[PlannedRun], profile: str, root: Path | None = None) -> Path:
    """Write the estimated plan to reports/<profile>/plans/<machine key>.json and return its path."""
    folders = paths.profile_paths(profile, root)
    here = {**machine(), "device": device_description()}
    target = folders.root / "reports" / profile / "plans" / f"{machine_key(here)}.json"
    kept = data.split_counts(folders.processed)
    write_json(target, {
        "profile": profile, "machine": here, "date": time.strftime("%Y-%m-%d"),
        "photos": int(kept["train"].iloc[0] + kept["val"].iloc[0]), "data": planned[0].config.data,
        "runs": [{"run": run.level, "seed": run.seed, "epochs": run.config.epochs, "status": run.status,
                  "precision": run.precision, "estimate_seconds": _round(run.estimate_seconds),
                  "scratch_seconds": _round(run.scratch_seconds)} for run in planned],
        "to_train_seconds": _round(sum(run.estimate_seconds or 0 for run in planned)),
        "scratch_seconds": _round(sum(run.scratch_seconds or 0 for run in planned)),
    })
    return target


def recorded(profile: str, root: Path | None = None) -> list[dict]:
    """The latest plan record per machine in reports/<profile>/plans/, each with its "file" and "key"."""
    latest = {}
    root = paths.profile_paths(profile, root).root
    for path in sorted((root / "reports" / profile / "plans").glob("*.json")):
        record = json.loads(path.read_text())
        record.update(file=paths.relative(path, root), key=(key := machine_key(record["machine"])))
        rank = (record.get("date", ""), path.stem == key)  # ties go to the file named by its key
        if key not in latest or rank > latest[key][0]:
            latest[key] = (rank, record)
    return [record for _, record in sorted(latest.values(), key=lambda item: item[1]["key"])]


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds), 1)


def describe(planned: list[PlannedRun], profile: str) -> str:
    """The plan as `make reproduce` prints it: every run, each missing run's estimate, the device, the total."""
    missing = [run for run in planned if run.status != "finished"]
    table = pd.DataFrame([{
        "run": run.level if run.role == "main" else f"study {run.level}", "seed": run.seed, "epochs": run.config.epochs,
        "status": run.status if run.status != "partial" else f"partial ({run.epochs_done} epochs done)",
        "estimate here": "" if run.estimate_seconds is None else duration(run.estimate_seconds),
        "precision": run.precision, "folder": run.name} for run in planned])
    lines = [f"Plan for profile {profile!r}: {len(planned)} training runs, {len(planned) - len(missing)} finished, "
             f"{len(missing)} to train", table.to_string(index=False)]
    if missing:
        total = sum(run.estimate_seconds or 0 for run in missing)
        lines.append(f"Device here: {device_description()} ({cpu_model()}, {usable_cores()} cores); "
                     f"total for the {len(missing)} runs to train: about {duration(total)} here.")
    return "\n".join(lines)


def duration(seconds: float) -> str:
    """'45 s', '12 min', '3.4 h', '2.1 days'."""
    for limit, scale, text in ((90, 1, "{:.0f} s"), (90 * 60, 60, "{:.0f} min"), (48 * 3600, 3600, "{:.1f} h")):
        if seconds < limit:
            return text.format(seconds / scale)
    return f"{seconds / 86400:.1f} days"


def runs_read_by(notebook: str, profile: str, root: Path | None = None) -> dict | None:
    """{run folder: {file: sha256} or None} of the runs a notebook reads, for its stamp; None without any or data."""
    reads = manifest.notebook(notebook, root).runs
    if reads is None or not (paths.profile_paths(profile, root).processed / "manifest.json").is_file():
        return None
    return {run.name: ({name: sha256_file(run.run_dir / name) for name in RECORD_FILES
                        if (run.run_dir / name).is_file()} if run.status == "finished" else None)
            for run in build(profile, root) if reads == "study" or run.role == "main"}
