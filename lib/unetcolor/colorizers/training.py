"""The training every head shares: tuning subset, (gray, a*, b*) pairs, seeded flipped batches, a cosine decay,
the kept epoch, a wall-time guard; each stage checkpoints in <run folder>/<stage>/, where a rerun resumes."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import tempfile
import time
from collections import namedtuple
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .. import color
from ..config import RecipeConfig
from ..evaluation import predict
from ..files import write_atomic, write_json
from ..reproducibility import log, seed_everything
from ..training import train as steps
from ..unet import precision as precisions
from ..unet import runs
from . import hints as hint_planes
from .head import Head, one_optimizer
from .regression import compile_log_mse

FINETUNE_STAGE = "log_mse"
CHECKPOINT_FILE, KEPT_FILE = "checkpoint.npz", "kept.npz"
STAGE_FILES = (KEPT_FILE, steps.HISTORY_FILE, steps.STATE_FILE, runs.PROGRESS_FILE)


def tuning_split(train_ids: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit_ids, tuning_ids), both sorted: a seeded share of train_ids held out for choices."""
    train_ids = np.sort(np.asarray(train_ids))
    count = max(1, int(round(len(train_ids) * share)))
    if count >= len(train_ids):
        raise ValueError(f"{len(train_ids)} training photos are too few to hold out {count} for tuning")
    tuning = np.random.default_rng([seed, 6]).permutation(train_ids)[:count]
    return np.setdiff1d(train_ids, tuning), np.sort(tuning)


def shrink_pairs(gray: np.ndarray, rgb: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Full-size uint8 gray (N, H, W) and RGB (N, H, W, 3) -> float32 (x: gray shrunk as predict does, y: a*, b* / 128
    of the shrunk RGB) at size x size."""
    small_gray = np.stack([predict._shrink(np.asarray(g), (size, size)) for g in gray])
    small_rgb = np.stack([predict._shrink(np.asarray(p), (size, size)) for p in rgb])
    return color.gray_to_input(small_gray), color.rgb_to_lab(small_rgb)[..., 1:] / 128.0


class FlipBatches(keras.utils.PyDataset):
    """Batches of (x, y) shuffled and flipped by (seed, epoch). crops=(gray, rgb, share < 1): each image remade from
    a random square crop of its full-size photo (side share..1 of the shorter); hints: x gains hint planes from y."""

    def __init__(self, x, y, batch_size: int, seed: int, flips: bool = True, crops: tuple | None = None,
                 first_epoch: int = 0, hints: dict | None = None):
        super().__init__()
        self.x, self.y, self.batch_size, self.seed, self.flips = x, y, batch_size, seed, flips
        self.crops = crops if crops is not None and crops[2] < 1 else None
        self.hints, self.epoch = hints or None, first_epoch

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.epoch])
        order, flip = rng.permutation(len(self.x)), rng.random(len(self.x)) < 0.5
        batch = order[index * self.batch_size:(index + 1) * self.batch_size]
        x, y = (self.x[batch], self.y[batch]) if self.crops is None else self._cropped(batch)
        if self.flips:
            x, y = (np.where(flip[batch, None, None, None], array[:, :, ::-1], array) for array in (x, y))
        if self.hints:
            x = hint_planes.revealed(x, y, np.random.default_rng([self.seed, self.epoch, index, 2]), self.hints)
        return x, y

    def _cropped(self, batch):
        gray, rgb, share = self.crops
        rng = np.random.default_rng([self.seed, self.epoch, 1])  # the same crops for every batch order
        sides = np.rint(min(gray.shape[1:3]) * rng.uniform(share, 1.0, len(self.x))).astype(int)
        tops, lefts = (rng.random((len(self.x), 2)) * (np.array(gray.shape[1:3]) - sides[:, None] + 1)).astype(int).T
        cuts = [(i, slice(tops[i], tops[i] + sides[i]), slice(lefts[i], lefts[i] + sides[i])) for i in batch]
        return shrink_pairs([gray[cut] for cut in cuts], [rgb[cut] for cut in cuts], self.x.shape[1])

    def on_epoch_end(self):
        self.epoch += 1


class KeepBest(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest val_loss (or the last); stops after max_seconds."""

    def __init__(self, max_seconds: float, log=print, keep_last: bool = False, seconds_before: float = 0.0):
        super().__init__()
        self.max_seconds, self.log, self.keep_last, self.seconds_before = max_seconds, log, keep_last, seconds_before
        self.best_loss, self.best_epoch, self.best_weights = math.inf, 0, None

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter() - self.seconds_before

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        loss, tuning_loss = float(logs["loss"]), float(logs["val_loss"])
        if tuning_loss < self.best_loss or self.keep_last:
            self.best_loss, self.best_epoch, self.best_weights = tuning_loss, epoch + 1, self.model.get_weights()
        self.log(f"epoch {epoch + 1}: loss {loss:.5f}  tuning loss {tuning_loss:.5f}  "
                 f"{time.perf_counter() - self.epoch_started:.0f} s", flush=True)
        if time.perf_counter() - self.started > self.max_seconds:
            self.log(f"time budget of {self.max_seconds:.0f} s spent: stopping", flush=True)
            self.model.stop_training = True


def _arrays(**groups) -> dict:  # npz arrays <group>_<i>
    return {f"{group}_{i}": np.asarray(v) for group, values in groups.items() for i, v in enumerate(values)}


def save_checkpoint(path: Path, model: keras.Model, optimizers: list[tuple], keeper: KeepBest,
                    epochs_done: int) -> None:
    """Every weight of model, of each optimizer and of keeper's best epoch, with epochs_done, into one npz file."""
    arrays = _arrays(model=model.weights, best_weights=keeper.best_weights or [],
                     **{f"optimizer{j}": optimizer.variables for j, (optimizer, _) in enumerate(optimizers)})
    write_atomic(path, lambda temporary: np.savez(temporary, epochs_done=epochs_done, best_epoch=keeper.best_epoch,
                                                  best_loss=keeper.best_loss, **arrays))


def _assign(path: Path, saved, prefix: str, variables) -> None:
    count = sum(name.startswith(f"{prefix}_") for name in saved.files)
    if count != len(variables):
        raise ValueError(f"{path}: a checkpoint of another model ({count} {prefix} arrays where this one has "
                         f"{len(variables)}); delete {path.parent.parent} to train the recipe from its start")
    for i, variable in enumerate(variables):
        variable.assign(saved[f"{prefix}_{i}"])


def load_checkpoint(path: Path, model: keras.Model, optimizers: list[tuple], keeper: KeepBest) -> int:
    """Put a save_checkpoint file back into the compiled model, its optimizers and keeper; returns its epochs."""
    with np.load(path) as saved:
        for j, (optimizer, variables) in enumerate(optimizers):
            optimizer.build(variables)
            _assign(path, saved, f"optimizer{j}", optimizer.variables)
        _assign(path, saved, "model", model.weights)
        best = sum(name.startswith("best_weights_") for name in saved.files)
        keeper.best_weights = [saved[f"best_weights_{i}"] for i in range(best)] or None
        keeper.best_epoch, keeper.best_loss = int(saved["best_epoch"]), float(saved["best_loss"])
        return int(saved["epochs_done"])


def claim(run_dir: Path, identity: dict) -> None:
    """Make run_dir the run folder of identity (what the run computes); one holding another run is refused."""
    run_dir.mkdir(parents=True, exist_ok=True)
    record = run_dir / "config.json"
    identity = json.loads(json.dumps(identity, default=list))
    if record.is_file() and json.loads(record.read_text()) != identity:
        raise ValueError(f"{record}: this folder holds an interrupted run of another recipe or other photos; "
                         f"delete {run_dir} to train this one")
    write_json(record, identity)


# a training stage: its name (in the history, and its folder), epochs, peak learning rate, compile(model, schedule),
# the seed of its batches, keep_last, and optimizers(model), whose state a checkpoint keeps
Stage = namedtuple("Stage", "name epochs learning_rate compile seed keep_last optimizers")


def stages(head: Head) -> list[Stage]:
    """The head's own stage, then the log-MSE fine-tuning if the recipe has it."""
    config = head.config
    first = Stage(head.stage, config.epochs, config.learning_rate, head.compile, config.seed, head.keep_last,
                  head.optimizers)
    tuning = Stage(FINETUNE_STAGE, config.finetune_epochs, config.finetune_learning_rate, compile_log_mse,
                   config.seed + 1, False, one_optimizer)
    return [first, tuning] if config.finetune_epochs else [first]


def train_stage(model, config: RecipeConfig, stage: Stage, fit_pair, tuning_pair, folder: Path, verbose: bool = True,
                fit_photos=None, checkpoint_every: int | None = None,
                checkpoint_seconds: float = steps.CHECKPOINT_SECONDS, callbacks: list | None = None):
    """Train model through stage in folder, resuming what is there; fit_photos: the fit photos at full size
    (gray, rgb), for config.crop_share < 1. Returns (history, kept epoch); model ends at the kept epoch."""
    if config.crop_share < 1 and fit_photos is None:
        raise ValueError("crop_share < 1 crops the full-size photos: pass fit_photos=(gray, rgb)")
    folder.mkdir(parents=True, exist_ok=True)
    stage.compile(model, functools.partial(keras.optimizers.schedules.CosineDecay, stage.learning_rate,
                                           decay_steps=stage.epochs * math.ceil(len(fit_pair[0]) / config.batch_size),
                                           alpha=config.final_learning_rate_share))
    kept = folder / KEPT_FILE
    if kept.is_file():  # finished earlier: its kept weights
        with np.load(kept) as saved:
            _assign(kept, saved, "model", model.weights)
            return pd.read_csv(folder / steps.HISTORY_FILE).assign(stage=stage.name), int(saved["kept_epoch"])
    keeper = KeepBest(config.max_train_minutes * 60, log=log if verbose else (lambda *a, **k: None),
                      keep_last=stage.keep_last)

    def resumed(path):
        load_checkpoint(path, model, stage.optimizers(model), keeper)
        return model

    model, rows = steps.resume_or_build(folder, CHECKPOINT_FILE, lambda: model, resumed, files=STAGE_FILES)
    keeper.seconds_before = sum(row["seconds"] for row in rows)
    crops = (*fit_photos, config.crop_share) if config.crop_share < 1 else None
    batches = FlipBatches(*fit_pair, config.batch_size, stage.seed, config.flips, crops=crops, first_epoch=len(rows),
                          hints=config.hints)

    def save(trained):
        save_checkpoint(folder / CHECKPOINT_FILE, trained, stage.optimizers(trained), keeper, len(rows))
        return {"best_epoch": keeper.best_epoch}

    steps.fit_epochs(model, batches, tuning_pair, folder, rows, stage.epochs, progress="quiet",
                     checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds,
                     callbacks=[keeper, *(callbacks or [])], save=save)
    if keeper.best_weights is not None:  # the kept epoch's, also where a resumed checkpoint left no epoch to run
        model.set_weights(keeper.best_weights)
    write_atomic(folder / steps.HISTORY_FILE, lambda t: pd.DataFrame(rows).to_csv(t, index=False))
    write_atomic(kept, lambda t: np.savez(t, kept_epoch=keeper.best_epoch, **_arrays(model=model.weights)))
    (folder / CHECKPOINT_FILE).unlink(missing_ok=True)
    return pd.DataFrame(rows).assign(stage=stage.name), keeper.best_epoch


def fit(head: Head, fit_pair, tuning_pair, verbose: bool = True, decision: precisions.Decision | None = None,
        fit_photos=None, run_dir: Path | None = None, checkpoint_every: int | None = None,
        checkpoint_seconds: float = steps.CHECKPOINT_SECONDS, callbacks: list | None = None):
    """(model at the kept epochs' weights, history, kept epoch of the last stage): head's model trained through its
    stages on fit_pair = (x, y), chosen by tuning_pair, in decision's precision, resuming in run_dir (or a temp dir)."""
    config = head.config
    decision = decision or precisions.resolve(config.precision, config)
    seed_everything(config.seed)
    if config.hints:  # the tuning loss scores the hints followed too: the same revealed points every epoch
        tuning_pair = (hint_planes.revealed(*tuning_pair, np.random.default_rng([config.seed, 7]), config.hints),
                       tuning_pair[1])
    with contextlib.ExitStack() as stack:
        if run_dir is None:
            run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="unetcolor-recipe-")))
        stack.enter_context(precisions.computing(decision))
        model = head.build()
        trained = [train_stage(model, config, stage, fit_pair, tuning_pair, Path(run_dir) / stage.name, verbose,
                               fit_photos, checkpoint_every, checkpoint_seconds, callbacks) for stage in stages(head)]
    return model, pd.concat([history for history, _ in trained], ignore_index=True), trained[-1][1]
