"""Training the U-Net (paper Sections 3.2, 3.4, 4): MSE, Adam, model.fit, in one run folder
(unetcolor.unet.runs) that a later call resumes from its checkpoint or loads when finished.

train is bind_run, resume_or_build, fit_epochs (with its RunRecorder) and finish; the colorizer heads
train through the middle two. Headless: ``python -m unetcolor train --profile paper``."""

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

# a checkpoint of the paper model (with optimizer state) is about 200 MB: written by wall time
CHECKPOINT_SECONDS = 300.0
CHECKPOINT_FILE, STATE_FILE, HISTORY_FILE = "checkpoint.keras", "state.json", "history.csv"
RUN_FILES = (CHECKPOINT_FILE, STATE_FILE, HISTORY_FILE, runs.PROGRESS_FILE, "config.json", "environment.json",
             "model.keras", "metrics.json")


class ColorizationBatches(keras.utils.PyDataset):
    """Batches of (gray in [0, 1], RGB in [-1, 1] or a*, b* / 128) from the prepared arrays, epoch e in an order
    seeded by (seed, e) alone (as an uninterrupted run would see it); fill_last tops up a partial last batch."""

    def __init__(self, gray, rgb, ids, batch_size, seed=0, shuffle=True, output="rgb",
                 first_epoch=0, workers=1, fill_last=False):
        super().__init__(workers=workers, use_multiprocessing=False)
        self.gray, self.rgb, self.ids, self.batch_size = gray, rgb, np.asarray(ids), batch_size
        self.seed, self.shuffle, self.output, self.epoch, self.fill_last = seed, shuffle, output, first_epoch, fill_last

    def __len__(self):
        return math.ceil(len(self.ids) / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.ids) if self.shuffle else self.ids
        short = -len(order) % self.batch_size
        if self.fill_last and short:
            order = np.concatenate([order, np.resize(order, short)])
        return order

    def __getitem__(self, index):
        # sorted reads from a memory map are faster; the order within a batch is irrelevant
        batch = np.sort(self.order(self.epoch)[index * self.batch_size:(index + 1) * self.batch_size])
        gray, rgb = color.gray_to_input(self.gray[batch]), np.asarray(self.rgb[batch])
        return gray, color.rgb_to_target(rgb) if self.output == "rgb" else color.rgb_to_lab(rgb)[..., 1:] / 128.0

    def on_epoch_end(self):
        self.epoch += 1


def validation_batch_size(count: int, config: TrainConfig, replicas: int = 1) -> int:
    """even_batch_size of count photos; with several devices, one they can split every batch of evenly."""
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
    """The largest divisor of count not above batch_size if it is at least half of it (one batch shape for
    XLA), else batch_size."""
    divisor = max(d for d in range(1, min(count, batch_size) + 1) if count % d == 0) if count else batch_size
    return divisor if 2 * divisor >= batch_size else batch_size


@keras.saving.register_keras_serializable(package="unetcolor")
class PSNR(keras.metrics.Metric):
    """Mean per-image PSNR in dB of tanh-range images (peak-to-peak 2)."""

    def __init__(self, name="psnr", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = keras.ops.cast(y_true, "float32")
        y_pred = keras.ops.clip(keras.ops.cast(y_pred, "float32"), -1.0, 1.0)
        mse = keras.ops.maximum(keras.ops.mean(keras.ops.square(y_true - y_pred), axis=(1, 2, 3)), 1e-10)
        psnr = 10.0 * keras.ops.log(4.0 / mse) / math.log(10.0)
        self.total.assign_add(keras.ops.sum(psnr))
        self.count.assign_add(keras.ops.cast(keras.ops.shape(psnr)[0], "float32"))

    def result(self):
        return self.total / keras.ops.maximum(self.count, 1.0)


def make_loss(name: str):
    return {"mse": keras.losses.MeanSquaredError(), "mae": keras.losses.MeanAbsoluteError(),
            "huber": keras.losses.Huber(delta=0.1)}[name]


def compile_model(model: keras.Model, config: TrainConfig) -> keras.Model:
    """Adam + the configured loss; metrics: Keras' "accuracy" (as the paper plots it) and PSNR."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate), loss=make_loss(config.loss),
                  metrics=["accuracy", PSNR()])
    return model


class RunRecorder(keras.callbacks.Callback):
    """After every epoch: the history row (with the epoch's XLA compilations under JAX) and progress.json;
    when a checkpoint is due, history, checkpoint (save(model), default the model with its optimizer state
    into checkpoint.keras) and state.json, in that order; with log_lines, one line per epoch."""

    def __init__(self, run_dir: Path, rows: list[dict], epochs: int, log_lines: bool,
                 checkpoint_every: int | None = None, final_epoch: int | None = None,
                 checkpoint_seconds: float = CHECKPOINT_SECONDS, images_per_epoch: int | None = None,
                 save=None):
        super().__init__()
        self.run_dir, self.rows, self.epochs, self.log_lines = run_dir, rows, epochs, log_lines
        self.checkpoint_every, self.final_epoch = checkpoint_every, final_epoch or epochs
        self.checkpoint_seconds, self.images_per_epoch, self.save = checkpoint_seconds, images_per_epoch, save
        self.last_saved = time.perf_counter()
        self.stop_requested = False

    @contextlib.contextmanager
    def interrupts_end_the_epoch(self):
        """In the main thread: a first SIGINT lets the epoch finish and be checkpointed, then stops; a second
        one stops at once."""
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
        """At the last epoch; else every checkpoint_every epochs, else checkpoint_seconds after the last one."""
        if epoch + 1 == self.final_epoch:
            return True
        if self.checkpoint_every:
            return (epoch + 1) % self.checkpoint_every == 0
        return time.perf_counter() - self.last_saved >= self.checkpoint_seconds

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
        self.compiled = compiles.mark()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
               "seconds": time.perf_counter() - self.started}
        if self.images_per_epoch:
            row["images"] = self.images_per_epoch
        progress = {"epochs_done": epoch + 1, "epochs": self.epochs,
                    "seconds": sum(r["seconds"] for r in self.rows) + row["seconds"]}
        write_json(self.run_dir / runs.PROGRESS_FILE, progress)  # read by a parent process showing progress bars
        compiled = compiles.since(self.compiled) if compiles.watching() else None
        if compiled is not None:
            row.update(compiles=compiled.count, compile_seconds=compiled.seconds, cache_hits=compiled.cache_hits)
        self.rows.append(row)
        if self.stop_requested:
            self.model.stop_training = True
        if self._checkpoint_due(epoch) or self.stop_requested:
            write_atomic(self.run_dir / HISTORY_FILE, lambda t: pd.DataFrame(self.rows).to_csv(t, index=False))
            if self.save:
                saved = self.save(self.model)
            else:
                write_atomic(self.run_dir / CHECKPOINT_FILE, self.model.save)
                saved = {"checkpoint_sha256": sha256_file(self.run_dir / CHECKPOINT_FILE)}
            write_json(self.run_dir / STATE_FILE, {"epochs_done": epoch + 1, **saved})
            self.last_saved = time.perf_counter()
        if self.log_lines:
            numbers = "  ".join(f"{k} {v:.4f}" for k, v in row.items()
                                if k not in ("epoch", "seconds", "compiles", "compile_seconds", "cache_hits"))
            if compiled is not None and compiled.count:
                numbers += f"  [{compiled.describe()}]"
            tag = os.environ.get(LOG_TAG_ENV, "")
            print(f"{tag}epoch {epoch + 1}/{self.epochs}  {numbers}  {row['seconds']:.1f} s", flush=True)


@dataclass
class RunResult:
    run_dir: Path
    model: keras.Model
    history: pd.DataFrame
    metrics: dict


def progress_mode() -> str:
    """'epoch' (a line per epoch) or 'quiet' as PROGRESS_ENV says, else 'bar' (Keras' progress bar)."""
    return os.environ.get(PROGRESS_ENV) if os.environ.get(PROGRESS_ENV) in ("epoch", "quiet") else "bar"


def summarize_history(history: pd.DataFrame) -> dict:
    last, best = history.iloc[-1], history.loc[history["val_loss"].idxmin()]
    return {"epochs": int(last["epoch"]), "final_loss": float(last["loss"]), "final_val_loss": float(last["val_loss"]),
            "best_val_loss": float(best["val_loss"]), "best_epoch": int(best["epoch"]),
            "final_accuracy": float(last["accuracy"]), "final_val_accuracy": float(last["val_accuracy"]),
            "final_val_psnr": float(last["val_psnr"]), "best_val_psnr": float(history["val_psnr"].max()),
            "train_seconds": float(history["seconds"].sum())}


def export_float16(run_dir: Path, processed_dir: Path, batch_size: int = 16) -> dict:
    """Store a finished run's model.keras as float16 weights and record in weights.json both files' sha256
    and the mean validation PSNR of each form. Returns the record."""
    run_dir, weights = Path(run_dir), Path(run_dir) / half_weights.WEIGHTS_FILE
    source = run_dir / "model.keras"
    if not source.is_file():
        raise FileNotFoundError(f"{source}: export needs the run's float32 model.keras")
    config = runs.config(run_dir)
    full = keras.saving.load_model(source, safe_mode=True, compile=False)
    digest = half_weights.save(full, weights)
    with precision.computing("float32"):
        half = half_weights.load_into(build_unet(config.model), weights, digest)
    rgb, gray = data.load_arrays(processed_dir)
    _, val_ids = data.load_split(processed_dir, config.split)
    truth, gray_val = np.asarray(rgb[val_ids]), np.asarray(gray[val_ids])
    full_psnr, half_psnr = (image_metrics.psnr_batch(truth, predict_batch(model, gray_val, batch_size=batch_size))
                            for model in (full, half))
    record = {
        "file": half_weights.WEIGHTS_FILE, "sha256": digest, "bytes": weights.stat().st_size,
        "from_file": "model.keras", "from_sha256": half_weights.sha256(source), "from_bytes": source.stat().st_size,
        "validation_photos": int(len(val_ids)), "split": config.split,
        "psnr_float32": float(full_psnr.mean()), "psnr_float16": float(half_psnr.mean()),
        "psnr_largest_difference": float(np.abs(half_psnr - full_psnr).max()),
    }
    write_json(run_dir / half_weights.RECORD_FILE, record)
    return record


def train(config: TrainConfig, processed_dir: Path, run_dir: Path, workers: int = 1,
          progress: str | None = None, stop_after: int | None = None, checkpoint_every: int | None = None,
          checkpoint_seconds: float = CHECKPOINT_SECONDS, callbacks: list | None = None) -> RunResult:
    """Train (or resume, or load) config's run on the prepared data in processed_dir into run_dir; stop_after=k
    stops after epoch k as an interrupt would (checkpointed, metrics == {}); callbacks go to model.fit."""
    run_dir = Path(run_dir)
    if runs.is_loadable(run_dir):
        return RunResult(run_dir, runs.model(run_dir), pd.read_csv(run_dir / HISTORY_FILE),
                         json.loads((run_dir / "metrics.json").read_text()))
    config = bind_run(config, processed_dir, run_dir)
    decision = precision.resolve(config.precision, config)  # "auto" may measure the model: before the data
    write_json(run_dir / "environment.json", {**environment_info(), **precision.as_record(decision),
                                              "placement": devices.describe(devices.data_parallel(config.batch_size))})
    last_epoch = min(config.epochs, stop_after or config.epochs)
    # several accelerators shard every batch (unetcolor.devices): the model is made inside the block
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
    """config bound to the data (bind_data) and written to run_dir/config.json; a folder that holds a run
    of another config is refused."""
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
    """(training batches from first_epoch on, validation batches, training images per epoch)."""
    rgb, gray = data.load_arrays(processed_dir)
    train_ids, val_ids = data.load_split(processed_dir, config.split)
    replicas = len(devices.accelerators()) if devices.data_parallel(config.batch_size) else 1
    fill = config.last_batch == "fill"
    if replicas > 1 and not fill:
        raise ValueError(f"{processed_dir}: {replicas} devices split every batch, so the last one must be full: "
                         "set `last_batch: fill` in the profile's main section")
    batches = ColorizationBatches(gray, rgb, train_ids, config.batch_size, config.seed, shuffle=True,
                                  output=config.model.output, first_epoch=first_epoch, workers=workers, fill_last=fill)
    validation = ColorizationBatches(gray, rgb, val_ids, validation_batch_size(len(val_ids), config, replicas),
                                     shuffle=False, output=config.model.output, workers=workers)
    return batches, validation, len(batches) * config.batch_size if fill else len(train_ids)


def resume_or_build(run_dir: Path, checkpoint: str, build, load,
                    files: tuple[str, ...] = RUN_FILES) -> tuple[keras.Model, list[dict]]:
    """(model, history rows) to go on training from: load(run_dir/checkpoint) and its epochs' rows where a
    checkpoint and state.json are here, else (build(), []), after removing the temporaries killed writes of
    them or of ``files`` left. A checkpoint whose sha256 state.json does not record holds history.csv's epochs."""
    for name in (checkpoint, *files):
        for path in sorted(Path(run_dir).glob(f".{name}.*")):  # write_atomic's `.<name>.<random><suffix>`
            if path.name.endswith(Path(name).suffix or ".tmp") and path.is_file():
                remove_abandoned(path, min_age_seconds=0)  # one trainer per folder: its writer is gone
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
    """model.fit from epoch len(rows) + 1 to last_epoch (default: epochs) of a run of ``epochs``, with a
    RunRecorder after ``callbacks``; raises KeyboardInterrupt, checkpointed, when an interrupt stopped it early."""
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
    with precision.computing("float32"):  # the shipped model: float32, no optimizer state
        final = build_unet(config.model)
    final.set_weights(model.get_weights())
    rgb, gray = data.load_arrays(processed_dir)
    ids = data.common_validation_ids(processed_dir)  # validation photos in every split
    common = ColorizationBatches(gray, rgb, ids, even_batch_size(len(ids), config.batch_size), shuffle=False,
                                 output=config.model.output)
    scores = compile_model(final, config).evaluate(common, verbose=0, return_dict=True)
    metrics.update(common_val_photos=int(len(ids)), **{f"common_val_{k}": float(v) for k, v in scores.items()})
    metrics["scores"] = scoring.photo_scores(final, processed_dir, config.split)
    write_atomic(run_dir / "model.keras", final.save)
    write_json(run_dir / "metrics.json", metrics)
    (run_dir / CHECKPOINT_FILE).unlink(missing_ok=True)
    (run_dir / runs.PROGRESS_FILE).unlink(missing_ok=True)
    return RunResult(run_dir, model, history, metrics)


def _keyed(values: dict) -> dict:
    return {k: v for k, v in values.items() if k not in UNKEYED}


def bind_data(config: TrainConfig, processed_dir: Path) -> TrainConfig:
    """config keyed to the prepared data in processed_dir and to the network it builds (runs.keyed); a config
    keyed to other data or another network is refused."""
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
        description="Train the U-Net colorizer headless (no Jupyter), resuming an interrupted run.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--config", help="YAML/JSON TrainConfig; default: the profile's main run")
    mode.add_argument("--rescore", metavar="RUN_DIR", type=Path,
                      help="score a finished run on its validation and the common photos into its metrics.json")
    mode.add_argument("--export-float16", metavar="RUN_DIR", type=Path,
                      help="store a finished run's model.keras as float16 weights, recording both forms' PSNR")
    mode.add_argument("--adopt-architecture", action="store_true",
                      help="rename the profile's runs whose keys lack the U-Net's architecture fingerprint")
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
