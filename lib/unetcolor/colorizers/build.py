"""Run a recipe end to end (``train_colorizer``) and ship a finished candidate under a shipped name
(``ship``); neither writes over an existing model unless told."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..config import RecipeConfig
from ..evaluation import metrics
from ..files import write_atomic, write_json
from ..photos import data
from ..profiles import Profile
from ..reproducibility import environment_info, log
from ..training.train import CHECKPOINT_SECONDS
from ..unet import precision as precisions
from . import decoding, registry
from .training import claim, fit, shrink_pairs, tuning_split


def git_commit(root: Path) -> str | None:
    """HEAD of the checkout, with '+dirty' if tracked files are modified (None outside git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def prepare(data_dir: str | Path | None, processed_dir: Path, profile: Profile) -> Path:
    """Prepare (cached) the photos under data_dir into processed_dir as the profile says; without
    data_dir, processed_dir must already hold prepared data."""
    processed_dir = Path(processed_dir)
    if data_dir:
        folder = paths.resolve(data_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: --data-dir is not a folder; point it at a folder of photos")
        data.prepare_dataset([folder], processed_dir, image_size=profile.data["image_size"])
        data.make_splits(processed_dir, splits=profile.split_pairs, seed=profile.data["split_seed"])
    elif not (processed_dir / "rgb.npy").is_file():
        raise FileNotFoundError(f"{processed_dir} holds no prepared data; pass --data-dir (a folder of photos)")
    return processed_dir


def _refuse_to_replace(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it, "
                              "or choose another --out-dir")


def _seconds_to_kept_epoch(history: pd.DataFrame, kept_epoch: int) -> float:
    """Training seconds up to the kept epoch of the last stage (earlier stages in full)."""
    last = history["stage"] == history["stage"].iloc[-1]
    return float(history.loc[~last, "seconds"].sum()
                 + history.loc[last & (history["epoch"] <= kept_epoch), "seconds"].sum())


def run_folder(out_dir: Path, config: RecipeConfig) -> Path:
    """Where the recipe's training keeps its checkpoints until its model is written."""
    return Path(out_dir) / f"{config.name}.run"


def train_colorizer(processed_dir: Path, out_dir: Path, config: RecipeConfig, data_source: str | None = None,
                    verbose: bool = True, overwrite: bool = False, checkpoint_every: int | None = None,
                    checkpoint_seconds: float = CHECKPOINT_SECONDS) -> dict:
    """Prepared data -> out_dir/<name>.keras and <name>.json, its provenance, which is returned: carve the
    tuning subset, train the head, choose its decoding on the tuning subset, then score the saved model
    once on the held-out photos. An existing model is replaced only with overwrite (checked first).
    Training checkpoints into run_folder, where the same call resumes; the folder goes once the model is written."""
    commit = git_commit(paths.project_root())  # the code as the run starts
    processed_dir, out_dir = Path(processed_dir), Path(out_dir)
    model_path = out_dir / f"{config.name}.keras"
    _refuse_to_replace(model_path, overwrite)
    say = log if verbose else (lambda *a, **k: None)
    rgb, gray = data.load_arrays(processed_dir)
    train_ids, val_ids = data.load_split(processed_dir, config.split)
    fit_ids, tuning_ids = tuning_split(train_ids, config.tuning_share, config.seed)
    size = config.model.image_size
    say(f"{len(fit_ids)} photos to fit, {len(tuning_ids)} to tune, {len(val_ids)} held out; "
        f"shrinking to {size}x{size}", flush=True)
    fit_pair, tuning_pair = (shrink_pairs(gray[ids], rgb[ids], size) for ids in (fit_ids, tuning_ids))
    head = registry.head_for(config, fit_pair[1])
    fit_photos = (np.asarray(gray[fit_ids]), np.asarray(rgb[fit_ids])) if config.crop_share < 1 else None

    decision = precisions.resolve(config.precision, config)
    say(f"training in {decision.precision} ({decision.reason})", flush=True)
    started = time.perf_counter()
    run_dir = run_folder(out_dir, config)
    # what the run computes: the recipe but its execution detail, and the photos (and the key older folders hold)
    claim(run_dir, {"recipe": {k: v for k, v in config.to_dict().items() if k != "precision"},
                    "data": data.fingerprint(processed_dir), "stage1_given": False})
    resumed = any(run_dir.glob("*/history.csv"))  # epochs trained by an earlier call: their seconds are recorded
    trained, history, kept_epoch = fit(head, fit_pair, tuning_pair, verbose, decision=decision, fit_photos=fit_photos,
                                       run_dir=run_dir, checkpoint_every=checkpoint_every,
                                       checkpoint_seconds=checkpoint_seconds)
    train_seconds = float(history["seconds"].sum()) if resumed else time.perf_counter() - started
    knob, _ = config.choices
    rgb_tuning, gray_tuning = np.asarray(rgb[tuning_ids]), np.asarray(gray[tuning_ids])
    with precisions.computing("float32"):  # what is exported, chosen and saved is float32
        value, choices = decoding.choose_decoding(trained, head, rgb_tuning, gray_tuning)
        say(f"{knob} {value:g} chosen on the tuning subset:\n{choices.round(3).to_string(index=False)}", flush=True)
        offset = decoding.chosen_offset(config, choices, value)
        model = head.export(trained, value)
        model = model if offset is None else decoding.with_chroma_offset(model, offset)

    # the held-out numbers, computed once, after every choice is made
    truth, gray_val = np.asarray(rgb[val_ids]), np.asarray(gray[val_ids])
    colorized = decoding.colorize_all(model, gray_val)
    summary = metrics.summarize(metrics.evaluate_images(truth, colorized, gray_val))
    color_rows = metrics.color_summary(truth, colorized, gray_val)
    say(pd.concat([summary, color_rows]).round(3).to_string(index=False), flush=True)

    write_atomic(model_path, model.save)  # never a half-written model under the real name
    measured = head.after_training(model, rgb, tuning_ids, val_ids, say)
    manifest_path = processed_dir / "manifest.json"
    provenance = {
        "description": head.description,
        "data": {
            "source": paths.relative(data_source or processed_dir), "processed_dir": paths.relative(processed_dir),
            "manifest": pd.read_json(manifest_path, typ="series").to_dict() if manifest_path.is_file() else None,
            "photos": int(len(rgb)), "split": config.split, "fit": int(len(fit_ids)),
            "tuning": int(len(tuning_ids)), "validation": int(len(val_ids)), "tuning_ids": tuning_ids.tolist(),
        },
        "config": config.to_dict(), "seed": config.seed, "git_commit": commit,
        "training": {
            "epochs_run": int(len(history)), "best_epoch": int(kept_epoch), "seconds_total": train_seconds,
            "seconds_to_best_epoch": _seconds_to_kept_epoch(history, kept_epoch), "history": history.to_dict("records"),
        },
        knob: value, f"{knob}_choices": choices.to_dict("records"),
        **({"chroma_offset": list(offset)} if offset is not None else {}), **head.record(), **measured,
        "validation_metrics": summary.to_dict("records"), "validation_color_metrics": color_rows.to_dict("records"),
        "input_shape": list(model.input_shape[1:]), "output_shape": list(model.output_shape[1:]),
        "parameters": int(model.count_params()), "model_bytes": model_path.stat().st_size,
        # the training's precision, resolved on this machine, and why (the saved model is float32)
        "environment": {**environment_info(), **precisions.as_record(decision)},
    }
    write_json(out_dir / f"{config.name}.json", provenance)
    shutil.rmtree(run_dir, ignore_errors=True)  # the model supersedes its checkpoints
    return provenance


def _has_its_record(shipped_record: dict, folder: Path) -> bool:
    """Whether folder holds the candidate record that shipped_record copied."""
    own = folder / f"{shipped_record.get('trained_as')}.json"
    added = ("shipped_as", "trained_as", "chosen_because", "profile")
    return own.is_file() and json.loads(own.read_text()) == {k: v for k, v in shipped_record.items() if k not in added}


def ship(candidate: Path, name: str, out_dir: Path, reason: str, profile: str, overwrite: bool = False,
         retire_to: Path | None = None) -> dict:
    """Copy a finished candidate's .keras and .json (candidate: their path without suffix) to
    out_dir/<name>.*, the record gaining shipped_as, trained_as, chosen_because (reason) and profile.
    With retire_to, the replaced file's record is kept there as <name>_<its commit>.json (unless its
    own candidate record is there), so that run stays among the candidates."""
    candidate, out_dir = Path(candidate), Path(out_dir)
    source_model, source_record = candidate.with_suffix(".keras"), candidate.with_suffix(".json")
    for path in (source_model, source_record):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: train the candidate first "
                                    f"(python -m unetcolor colorizers train --recipe {candidate.stem})")
    target = out_dir / f"{name}.keras"
    _refuse_to_replace(target, overwrite)
    record = json.loads(source_record.read_text())
    record.update(shipped_as=name, trained_as=candidate.stem, chosen_because=reason, profile=profile)
    replaced = out_dir / f"{name}.json"
    old = json.loads(replaced.read_text()) if replaced.is_file() else None
    if retire_to is not None and old is not None and not _has_its_record(old, Path(retire_to)):
        commit = (old.get("git_commit") or "unknown")[:8]
        write_json(Path(retire_to) / f"{name}_{commit}.json", {**old, "retired_by": candidate.stem})
    write_atomic(target, lambda temporary: shutil.copyfile(source_model, temporary))
    write_json(replaced, record)
    return record
