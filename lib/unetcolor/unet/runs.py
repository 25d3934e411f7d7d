"""A training run's folder, models/<profile>/<run>/, named after its cache key (``keyed``): config.json,
environment.json, history.csv (a row per epoch), progress.json (while training), checkpoint.keras and state.json
(the last checkpoint), model.keras or weights-float16.npz and weights.json, and metrics.json (written last).
A run is finished (metrics.json and history.csv), partial (a checkpoint and state.json) or missing."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import keras

from .. import paths
from ..config import TrainConfig, train_config_from_dict
from ..files import write_json
from . import half_weights, precision
from .model import architecture_fingerprint, build_unet

MODEL_FILE = "model.keras"
PROGRESS_FILE = "progress.json"
MAIN_POINTER = "main.json"


def keyed(config: TrainConfig, data_fingerprint: str) -> TrainConfig:
    """config with the prepared data's fingerprint and the fingerprint of the network it builds."""
    return dataclasses.replace(config, data=data_fingerprint, architecture=architecture_fingerprint(config.model))


def adopt_architecture(models_dir: Path) -> list[tuple[str, str]]:
    """Give each run folder without an architecture fingerprint this checkout's, and that key's folder name
    (main.json follows). Returns (old, new) names; new is "" where the new name is taken and the folder stays."""
    models_dir, moved = Path(models_dir), {}
    for run_dir in without_architecture(models_dir):
        old = config(run_dir)
        new = keyed(old, old.data)
        moved[run_dir.name] = "" if (models_dir / new.run_name()).exists() else new.run_name()
        if moved[run_dir.name]:
            write_json(run_dir / "config.json", new.to_dict())
            os.replace(run_dir, models_dir / new.run_name())
    pointer = models_dir / MAIN_POINTER
    main = moved.get(json.loads(pointer.read_text())["run"]) if pointer.is_file() else ""
    if main:
        write_json(pointer, {"run": main})
    return list(moved.items())


def without_architecture(models_dir: Path) -> list[Path]:
    """The run folders in models_dir whose key predates the architecture fingerprint."""
    folders = sorted(Path(models_dir).glob("*/config.json")) if Path(models_dir).is_dir() else []
    return [path.parent for path in folders if not json.loads(path.read_text()).get("architecture")]


def config(run_dir: Path) -> TrainConfig:
    """The TrainConfig a run folder was trained with (its config.json)."""
    path = Path(run_dir) / "config.json"
    return train_config_from_dict(json.loads(path.read_text()), str(path))


def has_records(run_dir: Path) -> bool:
    """Finished: metrics.json (written last) and history.csv are here."""
    return (Path(run_dir) / "metrics.json").is_file() and (Path(run_dir) / "history.csv").is_file()


def has_weights(run_dir: Path) -> bool:
    return (Path(run_dir) / MODEL_FILE).is_file() or (Path(run_dir) / half_weights.RECORD_FILE).is_file()


def is_loadable(run_dir: Path) -> bool:
    """Finished, with its weights: model() can rebuild it."""
    return has_records(run_dir) and has_weights(run_dir)


def state(run_dir: Path, needs_weights: bool = False) -> tuple[str, int]:
    """("finished" | "partial" | "missing", epochs done); needs_weights: finished only with its weights."""
    run_dir = Path(run_dir)
    if has_records(run_dir) and (has_weights(run_dir) or not needs_weights):
        return "finished", int(json.loads((run_dir / "metrics.json").read_text())["epochs"])
    if (run_dir / "checkpoint.keras").is_file() and (run_dir / "state.json").is_file():
        return "partial", int(json.loads((run_dir / "state.json").read_text())["epochs_done"])
    return "missing", 0


def epochs_done(run_dir: Path) -> int:
    """Epochs finished so far: all once finished, else progress.json's count, else 0."""
    if has_records(run_dir):
        return state(run_dir)[1]
    try:
        return int(json.loads((Path(run_dir) / PROGRESS_FILE).read_text())["epochs_done"])
    except (OSError, ValueError, KeyError):
        return 0


def model(run_dir: Path) -> keras.Model:
    """A finished run's float32 model, uncompiled: model.keras if here, else rebuilt with its float16 weights."""
    model_path = Path(run_dir) / MODEL_FILE
    if model_path.is_file():
        return keras.saving.load_model(model_path, safe_mode=True, compile=False)
    if (Path(run_dir) / half_weights.RECORD_FILE).is_file():
        record = half_weights.read_record(run_dir)
        with precision.computing("float32"):
            return half_weights.load_into(build_unet(config(run_dir).model), Path(run_dir) / record["file"],
                                          record["sha256"])
    raise FileNotFoundError(f"{model_path}: no finished run here (neither {MODEL_FILE} nor "
                            f"{half_weights.WEIGHTS_FILE}); `make reproduce TRAIN=1` trains it "
                            "(or `make train` for the main run)")


def model_file_bytes(run_dir: Path) -> int:
    """Size of a finished run's model.keras: the file's, else the size recorded at float16 export."""
    model_path = Path(run_dir) / MODEL_FILE
    return model_path.stat().st_size if model_path.is_file() else int(half_weights.read_record(run_dir)["from_bytes"])


def mark_main(profile: str, run_dir: Path) -> None:
    """Record which run is the profile's main run (models/<profile>/main.json)."""
    write_json(paths.profile_paths(profile).models / MAIN_POINTER, {"run": Path(run_dir).name})


def main_run_dir(profile: str) -> Path:
    pointer = paths.profile_paths(profile).models / MAIN_POINTER
    if not pointer.is_file():
        raise FileNotFoundError(f"{pointer}: no main run recorded for profile {profile!r}; "
                                f"`make reproduce PROFILE={profile}` says what is missing and how to train it")
    return pointer.parent / json.loads(pointer.read_text())["run"]
