"""Training the U-Net (paper Sections 3.2, 3.4, 4): MSE, Adam, model.fit.

A run lives in one folder, ``models/<profile>/<run name>/``; its files and states (finished, partial,
missing) are described once, in unetcolor.unet.runs.

Starting a run whose folder holds a checkpoint resumes after the last checkpointed
epoch; one whose folder holds model.keras is already done and is loaded.

train is four steps: bind_run, resume_or_build, fit_epochs (with its RunRecorder) and finish;
the colorizer heads train through the middle two (unetcolor.colorizers.training).

Headless: ``python -m unetcolor train --profile paper`` trains the profile's main run
(``--config run.yaml`` another config); ``make reproduce TRAIN=1`` trains every run a
profile needs, with progress bars (unetcolor.reproduction.reproduce).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .. import color, compiles, devices, paths, profiles
from ..config import UNKEYED, TrainConfig, load_train_config
from ..evaluation import metrics as image_metrics
from ..evaluation.predict import predict_batch
from ..files import remove_abandoned, sha256_file, write_atomic, write_json
from ..photos import data
from ..reproducibility import LOG_TAG_ENV, PROGRESS_ENV, environment_info, seed_everything
from ..unet import half_weights, precision, runs
from ..unet.model import build_unet
from . import scoring

# --------------------------------------------------------------------------- data


class ColorizationBatches(keras.utils.PyDataset):
    """Batches of (gray input, colour target) drawn from the prepared uint8 arrays.

    x: float32 (B, S, S, 1) in [0, 1];  y: float32 (B, S, S, 3) RGB in [-1, 1], or
    (B, S, S, 2) a*, b* / 128 for the L*a*b* variant.

    The order of epoch e is a permutation seeded by (seed, e) alone, so a run
    resumed at epoch e sees exactly the batches an uninterrupted run would.
    With fill_last, a partial last batch is topped up with the first photos of the
    same epoch's order, so every batch has batch_size photos (one shape: XLA
    compiles the step once) and every photo is still seen each epoch.
    """

    def __init__(self, gray, rgb, ids, batch_size, seed=0, shuffle=True, output="rgb",
                 first_epoch=0, workers=1, fill_last=False):
        super().__init__(workers=workers, use_multiprocessing=False)
        self.gray, self.rgb = gray, rgb
        self.ids = np.asarray(ids)
        self.batch_size, self.seed, self.shuffle, self.output = batch_size, seed, shuffle, output
        self.epoch, self.fill_last = first_epoch, fill_last

    def __len__(self):
        return math.ceil(len(self.ids) / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.ids) if self.shuffle else self.ids
        short = -len(order) % self.batch_size
        if self.fill_last and short:
            order = np.concatenate([order, np.resize(order, short)])
        return order

    def __getitem__(self, index):
        batch = self.order(self.epoch)[index * self.batch_size:(index + 1) * self.batch_size]
        batch = np.sort(batch)  # sorted reads from a memory map are faster; order within a batch is irrelevant
        # (a topped-up batch may hold a photo twice: fancy indexing reads it twice)
        gray = color.gray_to_input(self.gray[batch])
        rgb = np.asarray(self.rgb[batch])
        if self.output == "rgb":
            return gray, color.rgb_to_target(rgb)
        return gray, color.rgb_to_lab(rgb)[..., 1:] / 128.0

    def on_epoch_end(self):
        self.epoch += 1


def validation_batch_size(count: int, config: TrainConfig, replicas: int = 1) -> int:
    """even_batch_size of count photos; with several devices, a size every batch of which they
    can split evenly (ValueError naming the fix where there is none)."""
    size = even_batch_size(count, config.batch_size)
    if replicas > 1 and (size % replicas or count % size):
        divisors = [d for d in range(replicas, config.batch_size + 1, replicas) if count % d == 0]
        if not divisors:
            raise ValueError(f"{count} validation photos cannot be split into batches of a multiple of {replicas} "
                             f"devices up to batch size {config.batch_size}: choose a batch size or split that "
                             f"gives a validation set divisible by {replicas}")
        size = divisors[-1]
    return size


def even_batch_size(count: int, batch_size: int) -> int:
    """A batch size for evaluating `count` photos in batches of one shape (XLA compiles the
    validation step once): the largest divisor of count not above batch_size, if it is at
    least half of batch_size; else batch_size itself (a smaller last batch: a second shape).
    Evaluation numbers do not depend on it: Keras averages loss and metrics per photo."""
    divisor = max(d for d in range(1, min(count, batch_size) + 1) if count % d == 0) if count else batch_size
    return divisor if 2 * divisor >= batch_size else batch_size


# ------------------------------------------------------------------------ metrics


@keras.saving.register_keras_serializable(package="unetcolor")
class PSNR(keras.metrics.Metric):
    """Mean per-image PSNR in dB of tanh-range images (peak-to-peak 2).

    Equals the paper's eq. 3 on 8-bit RGB up to the rounding to 8 bits, which
    notebook 05 does exactly.
    """

    def __init__(self, name="psnr", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = keras.ops.cast(y_true, "float32")
        y_pred = keras.ops.clip(keras.ops.cast(y_pred, "float32"), -1.0, 1.0)
        mse = keras.ops.mean(keras.ops.square(y_true - y_pred), axis=(1, 2, 3))
        mse = keras.ops.maximum(mse, 1e-10)
        psnr = 10.0 * keras.ops.log(4.0 / mse) / math.log(10.0)
        self.total.assign_add(keras.ops.sum(psnr))
        self.count.assign_add(keras.ops.cast(keras.ops.shape(psnr)[0], "float32"))

    def result(self):
        return self.total / keras.ops.maximum(self.count, 1.0)


def make_loss(name: str):
    return {"mse": keras.losses.MeanSquaredError(), "mae": keras.losses.MeanAbsoluteError(),
            "huber": keras.losses.Huber(delta=0.1)}[name]


def compile_model(model: keras.Model, config: TrainConfig) -> keras.Model:
    """Adam + the configured loss; metrics: Keras' "accuracy" (as the paper's
    Figures 4-7 plot it) and PSNR, the number that says something about colour."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss=make_loss(config.loss),
        metrics=["accuracy", PSNR()],
    )
    return model


# ---------------------------------------------------------------------- callbacks


def history_row(epoch: int, logs: dict | None, started: float) -> dict:
    """One row of a training history: the 1-based epoch, Keras' logs as floats, and the
    seconds since ``started`` (a time.perf_counter() value taken as the epoch began)."""
    return {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
            "seconds": time.perf_counter() - started}


# a checkpoint of the paper model (with optimizer state) is about 200 MB: by wall time, neither
# a 2-hour CPU run nor a 2-minute GPU run spends its time writing them
CHECKPOINT_SECONDS = 300.0


CHECKPOINT_FILE, STATE_FILE, HISTORY_FILE = "checkpoint.keras", "state.json", "history.csv"
RUN_FILES = (CHECKPOINT_FILE, STATE_FILE, HISTORY_FILE, runs.PROGRESS_FILE, "config.json", "environment.json",
             "model.keras", "metrics.json")


def save_checkpoint(run_dir: Path, model: keras.Model) -> dict:
    """model with its optimizer state into run_dir/checkpoint.keras; returns {"checkpoint_sha256"}."""
    write_atomic(run_dir / CHECKPOINT_FILE, model.save)
    return {"checkpoint_sha256": sha256_file(run_dir / CHECKPOINT_FILE)}


class RunRecorder(keras.callbacks.Callback):
    """After every epoch: append the history row; when a checkpoint is due, save history,
    checkpoint (save, default save_checkpoint) and then state.json atomically,
    and (in papermill runs) print one line. Under JAX the row also counts the epoch's
    XLA compilations (``compiles``, ``compile_seconds``, ``cache_hits``; see unetcolor.compiles)."""

    def __init__(self, run_dir: Path, rows: list[dict], epochs: int, log_lines: bool,
                 checkpoint_every: int | None = None, final_epoch: int | None = None,
                 checkpoint_seconds: float = CHECKPOINT_SECONDS, images_per_epoch: int | None = None,
                 save=None):
        super().__init__()
        self.save = save  # save(model) writes the checkpoint and returns what state.json adds
        self.images_per_epoch = images_per_epoch  # training images per epoch, into each row (`images`)
        self.run_dir, self.rows, self.epochs, self.log_lines = run_dir, rows, epochs, log_lines
        self.checkpoint_every, self.final_epoch = checkpoint_every, final_epoch or epochs
        self.checkpoint_seconds = checkpoint_seconds
        self.last_saved = time.perf_counter()
        self.stop_requested = False

    @contextlib.contextmanager
    def interrupts_end_the_epoch(self):
        """While training: a first interrupt (Ctrl-C, Jupyter's stop button, SIGINT from a time
        budget such as scripts/gpu_paper_run.sh) lets the current epoch finish and be checkpointed,
        then stops; a second one stops at once, from the last checkpoint. Outside the main thread
        (where Python cannot take signals) interrupts keep their default meaning."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_interrupt(signum, frame):
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            print(f"{os.environ.get(LOG_TAG_ENV, '')}interrupted: stopping after this epoch, with a checkpoint "
                  "(interrupt again to stop at once)", file=sys.stderr, flush=True)

        previous = signal.signal(signal.SIGINT, on_interrupt)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _checkpoint_due(self, epoch: int) -> bool:
        """At the last epoch; else every checkpoint_every epochs if set, else once
        checkpoint_seconds have passed since the last checkpoint (or the start)."""
        if epoch + 1 == self.final_epoch:
            return True
        if self.checkpoint_every:
            return (epoch + 1) % self.checkpoint_every == 0
        return time.perf_counter() - self.last_saved >= self.checkpoint_seconds

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
        self.compiled = compiles.mark()

    def on_epoch_end(self, epoch, logs=None):
        row = history_row(epoch, logs, self.started)
        if self.images_per_epoch:
            row["images"] = self.images_per_epoch
        # what a parent process showing progress bars reads (unetcolor.reproduction.reproduce): tiny, every epoch
        write_json(self.run_dir / runs.PROGRESS_FILE, {"epochs_done": epoch + 1, "epochs": self.epochs,
                                                 "seconds": sum(r["seconds"] for r in self.rows) + row["seconds"]})
        compiled = compiles.since(self.compiled) if compiles.watching() else None
        if compiled is not None:
            row.update(compiles=compiled.count, compile_seconds=compiled.seconds, cache_hits=compiled.cache_hits)
        self.rows.append(row)
        if self.stop_requested:
            self.model.stop_training = True
        if self._checkpoint_due(epoch) or self.stop_requested:
            # history, checkpoint, then state: state.json only ever names a saved checkpoint
            write_atomic(self.run_dir / HISTORY_FILE, lambda t: pd.DataFrame(self.rows).to_csv(t, index=False))
            saved = self.save(self.model) if self.save else save_checkpoint(self.run_dir, self.model)
            write_json(self.run_dir / STATE_FILE, {"epochs_done": epoch + 1, **saved})
            self.last_saved = time.perf_counter()
        if self.log_lines:
            numbers = "  ".join(f"{k} {v:.4f}" for k, v in row.items()
                                if k not in ("epoch", "seconds", "compiles", "compile_seconds", "cache_hits"))
            if compiled is not None and compiled.count:
                numbers += f"  [{compiled.describe()}]"
            tag = os.environ.get(LOG_TAG_ENV, "")
            print(f"{tag}epoch {epoch + 1}/{self.epochs}  {numbers}  {row['seconds']:.1f} s", flush=True)


# -------------------------------------------------------------------------- train


@dataclass
class RunResult:
    run_dir: Path
    model: keras.Model
    history: pd.DataFrame
    metrics: dict


def progress_mode() -> str:
    """'epoch' (one line per epoch) under papermill/CLI runs, else 'bar' (Keras' progress bar);
    'quiet' where a caller shows progress of its own (unetcolor.reproduction.reproduce's bars)."""
    return os.environ.get(PROGRESS_ENV) if os.environ.get(PROGRESS_ENV) in ("epoch", "quiet") else "bar"


def summarize_history(history: pd.DataFrame) -> dict:
    last = history.iloc[-1]
    best = history.loc[history["val_loss"].idxmin()]
    return {
        "epochs": int(last["epoch"]),
        "final_loss": float(last["loss"]),
        "final_val_loss": float(last["val_loss"]),
        "best_val_loss": float(best["val_loss"]),
        "best_epoch": int(best["epoch"]),
        "final_accuracy": float(last["accuracy"]),
        "final_val_accuracy": float(last["val_accuracy"]),
        "final_val_psnr": float(last["val_psnr"]),
        "best_val_psnr": float(history["val_psnr"].max()),
        "train_seconds": float(history["seconds"].sum()),
    }


def load_run(run_dir: Path) -> RunResult:
    """A finished run's model (runs.model) and records."""
    run_dir = Path(run_dir)
    model = runs.model(run_dir)
    history = pd.read_csv(run_dir / "history.csv")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return RunResult(run_dir, model, history, metrics)


def export_float16(run_dir: Path, processed_dir: Path, batch_size: int = 16) -> dict:
    """Store a finished run's model.keras as float16 weights (weights-float16.npz) and
    record in weights.json both files' sha256 and the validation PSNR of each form
    (paper eq. 3 on 8-bit RGB, mean over the run's validation photos). Returns the record."""
    run_dir = Path(run_dir)
    source = run_dir / "model.keras"
    if not source.is_file():
        raise FileNotFoundError(f"{source}: export needs the run's float32 model.keras")
    config = runs.config(run_dir)
    full = keras.saving.load_model(source, safe_mode=True, compile=False)
    digest = half_weights.save(full, run_dir / half_weights.WEIGHTS_FILE)
    with precision.computing("float32"):
        half = half_weights.load_into(build_unet(config.model), run_dir / half_weights.WEIGHTS_FILE, digest)
    rgb, gray = data.load_arrays(processed_dir)
    _, val_ids = data.load_split(processed_dir, config.split)
    truth, gray_val = np.asarray(rgb[val_ids]), np.asarray(gray[val_ids])
    scores = {name: image_metrics.psnr_batch(truth, predict_batch(model, gray_val, batch_size=batch_size))
              for name, model in (("float32", full), ("float16", half))}
    record = {
        "file": half_weights.WEIGHTS_FILE, "sha256": digest, "bytes": (run_dir / half_weights.WEIGHTS_FILE).stat().st_size,
        "from_file": "model.keras", "from_sha256": half_weights.sha256(source), "from_bytes": source.stat().st_size,
        "validation_photos": int(len(val_ids)), "split": config.split,
        "psnr_float32": float(scores["float32"].mean()), "psnr_float16": float(scores["float16"].mean()),
        "psnr_largest_difference": float(np.abs(scores["float16"] - scores["float32"]).max()),
    }
    write_json(run_dir / half_weights.RECORD_FILE, record)
    return record


def train(config: TrainConfig, processed_dir: Path, run_dir: Path, workers: int = 1,
          progress: str | None = None, stop_after: int | None = None, checkpoint_every: int | None = None,
          checkpoint_seconds: float = CHECKPOINT_SECONDS, callbacks: list | None = None) -> RunResult:
    """Train (or resume, or load) the run described by config on the prepared data.

    processed_dir holds rgb.npy / gray.npy / splits (notebook 01); run_dir gets
    the artifacts listed in this module's docstring. stop_after=k stops after
    epoch k as an interruption would (checkpoint written, no final model), so a
    later call resumes; the result then has metrics == {}. A checkpoint (about 200 MB for
    the paper model) is written every checkpoint_every epochs if given, else whenever
    checkpoint_seconds have passed, and always after the last epoch. callbacks: more Keras
    callbacks for model.fit (progress bars).
    """
    run_dir = Path(run_dir)
    if runs.is_loadable(run_dir):
        return load_run(run_dir)
    config = bind_run(config, processed_dir, run_dir)
    # resolved before the data is read: "auto" may measure this model first (cached per machine)
    decision = precision.resolve(config.precision, config)
    write_json(run_dir / "environment.json", {**environment_info(), **precision.as_record(decision),
                                              "placement": devices.describe(devices.data_parallel(config.batch_size))})
    last_epoch = min(config.epochs, stop_after or config.epochs)
    # with several accelerators, Keras' DataParallel shards every batch (unetcolor.devices); the model
    # must be created inside the block, where its variables are placed
    with precision.computing(decision), devices.distributed(config.batch_size):
        model, rows = resume_or_build(run_dir, CHECKPOINT_FILE, lambda: _built(config),
                                      lambda path: keras.saving.load_model(path, safe_mode=True))
        batches, validation, images = paper_batches(config, processed_dir, len(rows), workers)
        fit_epochs(model, batches, validation, run_dir, rows, config.epochs, last_epoch, progress=progress,
                   checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds,
                   images_per_epoch=images, callbacks=callbacks or [])
    history = pd.DataFrame(rows)
    if last_epoch < config.epochs:
        return RunResult(run_dir, model, history, {})
    return finish(config, processed_dir, run_dir, model, history)


def bind_run(config: TrainConfig, processed_dir: Path, run_dir: Path) -> TrainConfig:
    """config bound to the data (bind_data) and written to run_dir/config.json; a folder that
    holds a run of another config is refused."""
    config = bind_data(config, processed_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    saved_config = run_dir / "config.json"
    if saved_config.is_file() and _keyed(json.loads(saved_config.read_text())) != _keyed(
            json.loads(json.dumps(config.to_dict(), default=list))):
        raise ValueError(f"{saved_config}: this folder holds a run of another config; "
                         "use a new run folder or delete this one")
    write_json(saved_config, config.to_dict())
    return config


def _built(config: TrainConfig) -> keras.Model:
    seed_everything(config.seed)
    return compile_model(build_unet(config.model), config)


def paper_batches(config: TrainConfig, processed_dir: Path, first_epoch: int, workers: int = 1):
    """(training batches from first_epoch on, validation batches, training images per epoch) of
    config's split of the prepared data."""
    rgb, gray = data.load_arrays(processed_dir)
    train_ids, val_ids = data.load_split(processed_dir, config.split)
    replicas = len(devices.accelerators()) if devices.data_parallel(config.batch_size) else 1
    if replicas > 1 and config.last_batch != "fill":
        raise ValueError(f"{processed_dir}: {replicas} devices split every batch, so the last one must be full: "
                         "set `last_batch: fill` in the profile's main section")
    batches = ColorizationBatches(gray, rgb, train_ids, config.batch_size, config.seed, shuffle=True,
                                  output=config.model.output, first_epoch=first_epoch, workers=workers,
                                  fill_last=config.last_batch == "fill")
    validation = ColorizationBatches(gray, rgb, val_ids, validation_batch_size(len(val_ids), config, replicas),
                                     shuffle=False, output=config.model.output, workers=workers)
    images = len(batches) * config.batch_size if config.last_batch == "fill" else len(train_ids)
    return batches, validation, images


def stale_temporaries(run_dir: Path, names=RUN_FILES) -> list[Path]:
    """The temporary files write_atomic leaves in run_dir when its process is killed (SIGKILL)
    while writing one of the run's own files ``names``: `.<name>.<random><suffix>`."""
    return sorted(path for name in names for path in Path(run_dir).glob(f".{name}.*")
                  if path.name.endswith(Path(name).suffix or ".tmp") and path.is_file())


def resume_or_build(run_dir: Path, checkpoint: str, build, load,
                    files: tuple[str, ...] = RUN_FILES) -> tuple[keras.Model, list[dict]]:
    """(model, history rows) to go on training from: load(run_dir/checkpoint) and the rows of the
    epochs it holds where a checkpoint and state.json are here, else (build(), []). Temporary
    files a killed write of the checkpoint or of ``files`` left are removed first. A checkpoint whose sha256 is not the one
    state.json records was renamed into place after the last state.json (the process was
    killed between the two): it holds the epochs of history.csv, which is written before it."""
    for path in stale_temporaries(run_dir, (checkpoint, *files)):
        remove_abandoned(path, min_age_seconds=0)  # a run folder has one trainer: unlocked means its writer is gone
    path, state = run_dir / checkpoint, run_dir / STATE_FILE
    if not (path.is_file() and state.is_file()):
        return build(), []
    saved = json.loads(state.read_text())
    rows = pd.read_csv(run_dir / HISTORY_FILE).to_dict("records")
    done = saved["epochs_done"]
    if saved.get("checkpoint_sha256") not in (None, sha256_file(path)):
        done = len(rows)
    print(f"resuming {run_dir.name} after epoch {done}", flush=True)
    return load(path), rows[:done]


def fit_epochs(model: keras.Model, batches, validation, run_dir: Path, rows: list[dict], epochs: int,
               last_epoch: int | None = None, progress: str | None = None, checkpoint_every: int | None = None,
               checkpoint_seconds: float = CHECKPOINT_SECONDS, images_per_epoch: int | None = None,
               callbacks: list | None = None, save=None) -> RunRecorder:
    """model.fit from epoch len(rows) + 1 to last_epoch (default: epochs) of a run of ``epochs``,
    with a RunRecorder (rows, checkpoints by save, see RunRecorder) after ``callbacks``; an
    interrupt ends the running epoch. Raises KeyboardInterrupt, the checkpoint written, when an
    interrupt stopped the run early. batches: a PyDataset whose epoch counter starts at len(rows)."""
    last_epoch = last_epoch or epochs
    progress = progress or progress_mode()
    compiles.watching()
    recorder = RunRecorder(run_dir, rows, epochs, log_lines=progress == "epoch", checkpoint_every=checkpoint_every,
                           final_epoch=last_epoch, checkpoint_seconds=checkpoint_seconds,
                           images_per_epoch=images_per_epoch, save=save)
    if len(rows) < last_epoch:
        with recorder.interrupts_end_the_epoch():
            model.fit(batches, validation_data=validation, epochs=last_epoch, initial_epoch=len(rows),
                      shuffle=False,  # the batches shuffle by (seed, epoch); Keras' own is unseeded
                      callbacks=[*(callbacks or []), recorder], verbose=1 if progress == "bar" else 0)
    if recorder.stop_requested and len(rows) < epochs:
        raise KeyboardInterrupt(f"{run_dir}: stopped after epoch {len(rows)} of {epochs}, checkpointed; "
                                "training it again resumes there")
    return recorder


def finish(config: TrainConfig, processed_dir: Path, run_dir: Path, model: keras.Model,
           history: pd.DataFrame) -> RunResult:
    """Score the trained model and write model.keras and metrics.json; the checkpoint goes."""
    metrics = summarize_history(history)
    final = final_model(model, config)
    metrics.update(common_validation_metrics(final, config, processed_dir))
    metrics["scores"] = scoring.photo_scores(final, processed_dir, config.split)
    write_atomic(run_dir / "model.keras", final.save)
    write_json(run_dir / "metrics.json", metrics)
    (run_dir / CHECKPOINT_FILE).unlink(missing_ok=True)  # the final model supersedes it
    (run_dir / runs.PROGRESS_FILE).unlink(missing_ok=True)
    return RunResult(run_dir, model, history, metrics)


def final_model(trained: keras.Model, config: TrainConfig) -> keras.Model:
    """The trained weights in a fresh float32, uncompiled model: the shipped file holds
    no optimizer state (a third of the size) and runs in float32 wherever it is loaded."""
    with precision.computing("float32"):
        model = build_unet(config.model)
    model.set_weights(trained.get_weights())
    return model


def common_validation_metrics(model: keras.Model, config: TrainConfig, processed_dir: Path) -> dict:
    """Loss, Keras accuracy and PSNR of a finished (float32) model on the photos that are
    validation photos in every split (data.common_validation_ids), so runs trained on
    different splits can be compared on the same photos. Keys: common_val_photos,
    common_val_loss, common_val_accuracy, common_val_psnr."""
    rgb, gray = data.load_arrays(processed_dir)
    ids = data.common_validation_ids(processed_dir)
    batches = ColorizationBatches(gray, rgb, ids, even_batch_size(len(ids), config.batch_size), shuffle=False,
                                  output=config.model.output)
    scores = compile_model(model, config).evaluate(batches, verbose=0, return_dict=True)
    return {"common_val_photos": int(len(ids)), **{f"common_val_{k}": float(v) for k, v in scores.items()}}


def _keyed(values: dict) -> dict:
    return {k: v for k, v in values.items() if k not in UNKEYED}


def bind_data(config: TrainConfig, processed_dir: Path) -> TrainConfig:
    """config bound to the prepared data in processed_dir (its data fingerprint) and to the
    network its settings build (runs.keyed). A config already bound to other data, or to
    another network, is refused: its cache key names other photos or another U-Net."""
    actual = data.fingerprint(processed_dir)
    if config.data and config.data != actual:
        raise ValueError(f"{processed_dir}: the prepared data's fingerprint is {actual}, but the config is keyed "
                         f"to data {config.data}; prepare that data again or build the config from this data")
    bound = runs.keyed(config, actual)
    if config.architecture and config.architecture != bound.architecture:
        raise ValueError(f"the config is keyed to a U-Net of architecture {config.architecture}, but this code builds "
                         f"{bound.architecture} from its settings: its run was trained by other U-Net code")
    return bound


def run_folder(config: TrainConfig, profile: str) -> Path:
    """models/<profile>/<run name>, the config bound to the profile's prepared data."""
    folders = paths.profile_paths(profile)
    return folders.run_dir(bind_data(config, folders.processed).run_name())


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """--checkpoint-every / --checkpoint-minutes, shared by the train and study commands."""
    parser.add_argument("--checkpoint-every", type=int, default=None, metavar="EPOCHS",
                        help="write a checkpoint every this many epochs (default: by wall time, see below)")
    parser.add_argument("--checkpoint-minutes", type=float, default=CHECKPOINT_SECONDS / 60, metavar="MINUTES",
                        help="without --checkpoint-every: a checkpoint once this many minutes have passed since the "
                             f"last (default {CHECKPOINT_SECONDS / 60:g}), and always after the last epoch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m unetcolor train",
        description="Train the U-Net colorizer headless (no Jupyter), resuming an interrupted run.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--config", help="YAML/JSON TrainConfig (keys of unetcolor.config.TrainConfig); "
                                       "default: the profile's main run (profiles/<profile>.yaml)")
    mode.add_argument("--rescore", metavar="RUN_DIR", type=Path,
                      help="score a finished run (PSNR, SSIM and the gray copy's, on its validation and the common "
                           "photos) into its metrics.json; needs its weights and the profile's prepared data")
    mode.add_argument("--export-float16", metavar="RUN_DIR", type=Path,
                      help="store a finished run's model.keras as float16 weights (half the size) and record "
                           "the validation PSNR of both; needs the profile's prepared data")
    mode.add_argument("--adopt-architecture", action="store_true",
                      help="rename the profile's runs trained before run keys held the U-Net's architecture "
                           "fingerprint (only for runs trained by this checkout's U-Net code; see unetcolor.unet.runs)")
    parser.add_argument("--profile", default="paper", help="profile whose prepared data and models folder to use")
    parser.add_argument("--workers", type=int, default=1, help="threads preparing batches (raise on a GPU)")
    add_checkpoint_arguments(parser)
    args = parser.parse_args(argv)
    folders = paths.profile_paths(args.profile)
    if args.adopt_architecture:
        moved = runs.adopt_architecture(folders.models) if folders.models.is_dir() else []
        for old, new in moved:
            print(f"{old} -> {new}" if new else f"{old}: left as it is (its new name is taken)")
        print(f"{sum(bool(new) for _, new in moved)} run(s) renamed in {paths.relative(folders.models)}")
        return 0
    if args.export_float16:
        print(json.dumps(export_float16(args.export_float16, folders.processed), indent=2))
        return 0
    if args.rescore:
        try:
            config = runs.config(args.rescore)
            record = scoring.rescore(args.rescore, folders.processed, runs.model(args.rescore), config.split,
                                     config.data)
        except (FileNotFoundError, ValueError) as error:
            print(f"unetcolor.training.train: {error}", file=sys.stderr)
            return 2
        write_json(args.rescore / "metrics.json", record)
        print(json.dumps(record["scores"], indent=2))
        return 0
    config = load_train_config(args.config) if args.config else profiles.load(args.profile).main
    os.environ.setdefault(PROGRESS_ENV, "epoch")
    try:
        result = train(config, folders.processed, run_folder(config, args.profile), workers=args.workers,
                       checkpoint_every=args.checkpoint_every, checkpoint_seconds=60 * args.checkpoint_minutes)
    except KeyboardInterrupt as stop:
        print(f"unetcolor.training.train: interrupted{': ' + str(stop) if str(stop) else ''}", file=sys.stderr)
        return 130
    print(json.dumps({"run_dir": str(result.run_dir), **result.metrics}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
