"""A training run's folder: what it holds, and what state it is in. This is the one description
of the folder (unetcolor.training.train writes it).

    models/<profile>/<run>/
        config.json        the TrainConfig, bound to the prepared data (its fingerprint)
        environment.json   Python, libraries, device, precision and why
        history.csv        one row per epoch: Keras' logs, seconds, images, compilations
        progress.json      epochs done so far (rewritten every epoch, removed at the end)
        checkpoint.keras   the model with optimizer state after the last checkpointed epoch,
        state.json         and how many epochs that was, with the checkpoint's sha256 (written after it)
        model.keras        the final float32 model (not committed: too large for the paper's)
        weights-float16.npz, weights.json   the final weights in float16 (committed for a main run)
        metrics.json       final and best numbers and the run's photo scores: written last

A run is
    finished  metrics.json and history.csv are here: its records are complete (a study run
              needs nothing more); it is *loadable* when its weights are here too
    partial   a checkpoint and state.json are here: training resumes after that epoch
    missing   nothing of it is here

Every file is written atomically (a temporary name renamed into place), so a process killed at
any moment leaves a folder that resumes; resuming removes the temporaries of a write it interrupted.

models/<profile>/main.json names the profile's main run, the one notebooks 03 and 05-07 read.

A run's folder name ends in its cache key (config.TrainConfig.key): every setting, the prepared
data's fingerprint and the fingerprint of the network its settings build (``keyed``). Runs
trained before the key held the architecture are renamed by ``adopt_architecture``
(`python -m unetcolor train --adopt-architecture`), which declares they were trained by the
U-Net code of this checkout.
"""

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
    """config with what its cache key holds besides its settings: the prepared data's
    fingerprint and the fingerprint of the network it builds (unet.model)."""
    return dataclasses.replace(config, data=data_fingerprint, architecture=architecture_fingerprint(config.model))


def adopt_architecture(models_dir: Path) -> list[tuple[str, str]]:
    """Give each run folder in models_dir whose config.json has no architecture fingerprint the
    fingerprint of the network its settings build with this checkout's code, and the folder name
    of that key; main.json follows. For runs trained by the same U-Net code (as `git log
    lib/unetcolor/unet/model.py` tells): their numbers do not change. Returns (old, new) names;
    a folder whose new name is taken is left as it is and reported with new = ""."""
    models_dir = Path(models_dir)
    moved = []
    for run_dir in sorted(path for path in models_dir.iterdir() if (path / "config.json").is_file()):
        old = config(run_dir)
        if old.architecture:
            continue
        new = dataclasses.replace(old, architecture=architecture_fingerprint(old.model))
        target = models_dir / new.run_name()
        if target.exists():
            moved.append((run_dir.name, ""))
            continue
        write_json(run_dir / "config.json", new.to_dict())
        os.replace(run_dir, target)
        moved.append((run_dir.name, target.name))
    pointer = models_dir / MAIN_POINTER
    main = json.loads(pointer.read_text())["run"] if pointer.is_file() else None
    if dict(moved).get(main):
        write_json(pointer, {"run": dict(moved)[main]})
    return moved


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
    """("finished" | "partial" | "missing", epochs done) of a run folder. needs_weights: a run
    counts as finished only with its weights (a main run, which notebooks load)."""
    run_dir = Path(run_dir)
    if has_records(run_dir) and (has_weights(run_dir) or not needs_weights):
        return "finished", int(json.loads((run_dir / "metrics.json").read_text())["epochs"])
    if (run_dir / "checkpoint.keras").is_file() and (run_dir / "state.json").is_file():
        return "partial", int(json.loads((run_dir / "state.json").read_text())["epochs_done"])
    return "missing", 0


def epochs_done(run_dir: Path) -> int:
    """Epochs finished so far, read while the run trains: all of them once it is finished,
    else what progress.json says (written after every epoch), else 0."""
    run_dir = Path(run_dir)
    if has_records(run_dir):
        return int(json.loads((run_dir / "metrics.json").read_text())["epochs"])
    try:
        return int(json.loads((run_dir / PROGRESS_FILE).read_text())["epochs_done"])
    except (OSError, ValueError, KeyError):
        return 0


def model(run_dir: Path) -> keras.Model:
    """A finished run's float32 model, uncompiled: model.keras (Keras' safe mode) if it is
    here, else the run's U-Net rebuilt from config.json with its float16 weights."""
    run_dir = Path(run_dir)
    model_path = run_dir / MODEL_FILE
    if model_path.is_file():
        return keras.saving.load_model(model_path, safe_mode=True, compile=False)
    if (run_dir / half_weights.RECORD_FILE).is_file():
        record = half_weights.read_record(run_dir)
        with precision.computing("float32"):
            return half_weights.load_into(build_unet(config(run_dir).model), run_dir / record["file"], record["sha256"])
    raise FileNotFoundError(
        f"{model_path}: no finished run here (neither {MODEL_FILE} nor {half_weights.WEIGHTS_FILE}); "
        "`make reproduce TRAIN=1` trains it (or `make train` for the main run)"
    )


def model_file_bytes(run_dir: Path) -> int:
    """Size in bytes of a finished run's float32 model.keras: the file if it is here, else the
    size recorded when its float16 weights were exported."""
    model_path = Path(run_dir) / MODEL_FILE
    if model_path.is_file():
        return model_path.stat().st_size
    return int(half_weights.read_record(run_dir)["from_bytes"])


def mark_main(profile: str, run_dir: Path) -> None:
    """Record which run is the profile's main run (models/<profile>/main.json)."""
    write_json(paths.profile_paths(profile).models / MAIN_POINTER, {"run": Path(run_dir).name})


def main_run_dir(profile: str) -> Path:
    pointer = paths.profile_paths(profile).models / MAIN_POINTER
    if not pointer.is_file():
        raise FileNotFoundError(f"{pointer}: no main run recorded for profile {profile!r}; "
                                f"`make reproduce PROFILE={profile}` says what is missing and how to train it")
    return pointer.parent / json.loads(pointer.read_text())["run"]
