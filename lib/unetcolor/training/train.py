"""Training the U-Net (paper Sections 3.2, 3.4, 4): MSE, Adam, model.fit, in one run folder (unetcolor.unet.runs)
that a later call resumes or loads. Headless: ``python -m unetcolor train --profile paper``."""

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
from collections import namedtuple
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
from ..reproducibility import PROGRESS_ENV, environment_info, log, seed_everything
from ..unet import half_weights, precision, runs
from ..unet.model import build_unet
from . import scoring

# a checkpoint of the paper model (with optimizer state) is about 200 MB: written by wall time
CHECKPOINT_SECONDS = 300.0
CHECKPOINT_FILE, STATE_FILE, HISTORY_FILE = "checkpoint.keras", "state.json", "history.csv"
RUN_FILES = (CHECKPOINT_FILE, STATE_FILE, HISTORY_FILE, runs.PROGRESS_FILE, "config.json", "environment.json",
             "model.keras", "metrics.json")


class ColorizationBatches(keras.utils.PyDataset):
    """(gray, target) batches, epoch e ordered by (seed, e) alone; fill_last tops up a partial last batch."""

    def __init__(self, gray, rgb, ids, batch_size, seed=0, shuffle=True, output="rgb",
                 first_epoch=0, workers=1, fill_last=False):
        super().__init__(workers=workers, use_multiprocessing=False)
        self.gray, self.rgb, self.ids, self.batch_size = gray, rgb, np.asarray(ids), batch_size
        self.seed, self.shuffle, self.output, self.epoch, self.fill_last = seed, shuffle, output, first_epoch, fill_last

    def __len__(self):
        return math.ceil(len(self.ids) / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.ids) if self.shuffle else self.ids
        return np.concatenate([order, np.resize(order, -len(order) % self.batch_size)]) if self.fill_last else order

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
    if replicas <= 1 or not (size % replicas or count % size):
        return size
    divisors = [d for d in range(replicas, config.batch_size + 1, replicas) if count % d == 0]
    if not divisors:
        raise ValueError(f"{count} validation photos cannot be split into batches of a multiple of {replicas} devices "
                         f"up to batch size {config.batch_size}: choose a batch size or split giving a validation set "
                         f"divisible by {replicas}")
    return divisors[-1]


def even_batch_size(count: int, batch_size: int) -> int:
    """The largest divisor of count up to batch_size if at least half of it (one shape for XLA), else batch_size."""
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
        y_true, y_pred = keras.ops.cast(y_true, "float32"), keras.ops.clip(keras.ops.cast(y_pred, "float32"), -1.0, 1.0)
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
    """After every epoch: its history row (with its XLA compilations) and progress.json; when a checkpoint is due,
    also history.csv, the checkpoint (save(model), default checkpoint.keras) and state.json."""

    def __init__(self, run_dir: Path, rows: list[dict], epochs: int, log_lines: bool,
                 checkpoint_every: int | None = None, final_epoch: int | None = None,
                 checkpoint_seconds: float = CHECKPOINT_SECONDS, images_per_epoch: int | None = None, save=None):
        super().__init__()
        self.run_dir, self.rows, self.epochs, self.log_lines, self.save = run_dir, rows, epochs, log_lines, save
        self.checkpoint_every, self.final_epoch = checkpoint_every, final_epoch or epochs
        self.checkpoint_seconds, self.images_per_epoch = checkpoint_seconds, images_per_epoch
        self.last_saved, self.stop_requested = time.perf_counter(), False

    @contextlib.contextmanager
    def interrupts_end_the_epoch(self):
        """In the main thread, a first SIGINT ends the epoch with a checkpoint and stops; a second stops at once."""
        def on_interrupt(signum, frame):
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            log("interrupted: stopping after this epoch, with a checkpoint (interrupt again to stop at once)",
                file=sys.stderr, flush=True)

        with contextlib.ExitStack() as restore:
            if threading.current_thread() is threading.main_thread():  # only it may set signal handlers
                restore.callback(signal.signal, signal.SIGINT, signal.signal(signal.SIGINT, on_interrupt))
            yield

    def _checkpoint_due(self, epoch: int) -> bool:
        """At the last epoch; else every checkpoint_every epochs, else checkpoint_seconds after the last one."""
        if self.checkpoint_every:
            return epoch + 1 == self.final_epoch or (epoch + 1) % self.checkpoint_every == 0
        return epoch + 1 == self.final_epoch or time.perf_counter() - self.last_saved >= self.checkpoint_seconds

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
        self.compiled = compiles.mark()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
               "seconds": time.perf_counter() - self.started}
        if self.images_per_epoch:
            row["images"] = self.images_per_epoch
        # progress.json is read by a parent process showing progress bars
        write_json(self.run_dir / runs.PROGRESS_FILE, {"epochs_done": epoch + 1, "epochs": self.epochs,
                                                       "seconds": sum(r["seconds"] for r in [*self.rows, row])})
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
            log(f"epoch {epoch + 1}/{self.epochs}  {numbers}  {row['seconds']:.1f} s", flush=True)


RunResult = namedtuple("RunResult", "run_dir model history metrics")  # what train returns


def export_float16(run_dir: Path, processed_dir: Path, batch_size: int = 16) -> dict:
    """Store model.keras as float16 weights; weights.json (returned) records each form's sha256 and validation PSNR."""
    run_dir = Path(run_dir)
    source, weights = run_dir / runs.MODEL_FILE, run_dir / half_weights.WEIGHTS_FILE
    if not source.is_file():
        raise FileNotFoundError(f"{source}: export needs the run's float32 model.keras")
    config, full = runs.config(run_dir), runs.model(run_dir)
    digest = half_weights.save(full, weights)
    with precision.computing("float32"):
        half = half_weights.load_into(build_unet(config.model), weights, digest)
    rgb, gray = data.load_arrays(processed_dir)
    _, val_ids = data.load_split(processed_dir, config.split)
    truth, gray_val = np.asarray(rgb[val_ids]), np.asarray(gray[val_ids])
    full_psnr, half_psnr = (image_metrics.psnr_batch(truth, predict_batch(model, gray_val, batch_size=batch_size))
                            for model in (full, half))
    record = {"file": half_weights.WEIGHTS_FILE, "sha256": digest, "bytes": weights.stat().st_size,
              "from_file": "model.keras", "from_sha256": half_weights.sha256(source),
              "from_bytes": source.stat().st_size, "validation_photos": int(len(val_ids)), "split": config.split,
              "psnr_float32": float(full_psnr.mean()), "psnr_float16": float(half_psnr.mean()),
              "psnr_largest_difference": float(np.abs(half_psnr - full_psnr).max())}
    write_json(run_dir / half_weights.RECORD_FILE, record)
    return record


def train(config: TrainConfig, processed_dir: Path, run_dir: Path, workers: int = 1,
          progress: str | None = None, stop_after: int | None = None, checkpoint_every: int | None = None,
          checkpoint_seconds: float = CHECKPOINT_SECONDS, callbacks: list | None = None) -> RunResult:
    """Train (or resume, or load) config's run on processed_dir's data into run_dir; stop_after=k stops after epoch
    k as an interrupt would (checkpointed, metrics == {}); callbacks go to model.fit."""
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
        fit_epochs(model, batches, validation, run_dir, rows, config.epochs, last_epoch, progress, checkpoint_every,
                   checkpoint_seconds, images, callbacks)
    if last_epoch < config.epochs:
        return RunResult(run_dir, model, pd.DataFrame(rows), {})
    return finish(config, processed_dir, run_dir, model, pd.DataFrame(rows))


def bind_run(config: TrainConfig, processed_dir: Path, run_dir: Path) -> TrainConfig:
    """config bound to the data (bind_data), into run_dir/config.json; a folder with another config's run is refused."""
    config = bind_data(config, processed_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = run_dir / "config.json"
    if saved.is_file():
        old, new = ({k: v for k, v in json.loads(text).items() if k not in UNKEYED}
                    for text in (saved.read_text(), json.dumps(config.to_dict(), default=list)))
        if old != new:
            raise ValueError(f"{saved}: this folder holds a run of another config; use a new run folder or delete "
                             "this one")
    write_json(saved, config.to_dict())
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
    """(model, history rows) to go on from: load(run_dir/checkpoint) and its epochs' rows where a checkpoint and
    state.json are here, else (build(), []), after removing what killed writes of them or of ``files`` left."""
    for name in (checkpoint, *files):
        for path in sorted(Path(run_dir).glob(f".{name}.*")):  # write_atomic's `.<name>.<random><suffix>`
            if path.name.endswith(Path(name).suffix or ".tmp") and path.is_file():
                remove_abandoned(path, min_age_seconds=0)  # one trainer per folder: its writer is gone
    path, state = run_dir / checkpoint, run_dir / STATE_FILE
    if not (path.is_file() and state.is_file()):
        return build(), []
    saved, rows = json.loads(state.read_text()), pd.read_csv(run_dir / HISTORY_FILE).to_dict("records")
    # a checkpoint whose sha256 state.json does not record is newer: it holds history.csv's epochs
    done = len(rows) if saved.get("checkpoint_sha256") not in (None, sha256_file(path)) else saved["epochs_done"]
    log(f"resuming {run_dir.name} after epoch {done}", flush=True)
    return load(path), rows[:done]


def fit_epochs(model: keras.Model, batches, validation, run_dir: Path, rows: list[dict], epochs: int,
               last_epoch: int | None = None, progress: str | None = None, checkpoint_every: int | None = None,
               checkpoint_seconds: float = CHECKPOINT_SECONDS, images_per_epoch: int | None = None,
               callbacks: list | None = None, save=None) -> RunRecorder:
    """model.fit from epoch len(rows) + 1 to last_epoch (default: epochs) of ``epochs``, a RunRecorder after
    ``callbacks``; progress "epoch", "quiet" or "bar" (default: PROGRESS_ENV, else "bar"). An interrupt raises."""
    last_epoch, progress = last_epoch or epochs, progress or os.environ.get(PROGRESS_ENV) or "bar"
    compiles.watching()
    recorder = RunRecorder(run_dir, rows, epochs, progress == "epoch", checkpoint_every, last_epoch,
                           checkpoint_seconds, images_per_epoch, save)
    if len(rows) < last_epoch:
        with recorder.interrupts_end_the_epoch():
            model.fit(batches, validation_data=validation, epochs=last_epoch, initial_epoch=len(rows),
                      shuffle=False,  # the batches shuffle by (seed, epoch); Keras' own is unseeded
                      callbacks=[*(callbacks or []), recorder], verbose=int(progress not in ("epoch", "quiet")))
    if recorder.stop_requested and len(rows) < epochs:
        raise KeyboardInterrupt(f"{run_dir}: stopped after epoch {len(rows)} of {epochs}, checkpointed; "
                                "training it again resumes there")
    return recorder


def finish(config: TrainConfig, processed_dir: Path, run_dir: Path, model: keras.Model,
           history: pd.DataFrame) -> RunResult:
    """Score the trained model and write model.keras and metrics.json; the checkpoint goes."""
    last, best = history.iloc[-1], history.loc[history["val_loss"].idxmin()]
    metrics = {"epochs": int(last["epoch"]), "final_loss": float(last["loss"]),
               "final_val_loss": float(last["val_loss"]), "best_val_loss": float(best["val_loss"]),
               "best_epoch": int(best["epoch"]), "final_accuracy": float(last["accuracy"]),
               "final_val_accuracy": float(last["val_accuracy"]), "final_val_psnr": float(last["val_psnr"]),
               "best_val_psnr": float(history["val_psnr"].max()), "train_seconds": float(history["seconds"].sum())}
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


def bind_data(config: TrainConfig, processed_dir: Path) -> TrainConfig:
    """config keyed to processed_dir's data and to the network it builds; one keyed to others is refused."""
    actual = data.fingerprint(processed_dir)
    if config.data and config.data != actual:
        raise ValueError(f"{processed_dir}: the prepared data's fingerprint is {actual}, but the config is keyed "
                         f"to data {config.data}; prepare that data again or build the config from this data")
    bound = runs.keyed(config, actual)
    if config.architecture and config.architecture != bound.architecture:
        raise ValueError(f"the config is keyed to a U-Net of architecture {config.architecture}, but this code builds "
                         f"{bound.architecture} from its settings: its run was trained by other U-Net code")
    return bound


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """--checkpoint-every / --checkpoint-minutes, shared by the train and study commands."""
    parser.add_argument("--checkpoint-every", type=int, metavar="EPOCHS",
                        help="write a checkpoint every this many epochs (default: by wall time, see below)")
    parser.add_argument("--checkpoint-minutes", type=float, default=CHECKPOINT_SECONDS / 60, metavar="MINUTES",
                        help="without --checkpoint-every: a checkpoint this many minutes after the last (default "
                             f"{CHECKPOINT_SECONDS / 60:g}), and always after the last epoch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor train", description="Train the U-Net colorizer "
                                     "headless (no Jupyter), resuming an interrupted run.")
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
        moved = runs.adopt_architecture(folders.models)
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
        run_dir = folders.run_dir(bind_data(config, folders.processed).run_name())
        result = train(config, folders.processed, run_dir, workers=args.workers,
                       checkpoint_every=args.checkpoint_every, checkpoint_seconds=60 * args.checkpoint_minutes)
    except KeyboardInterrupt as stop:
        print(f"unetcolor.training.train: interrupted{': ' + str(stop) if str(stop) else ''}", file=sys.stderr)
        return 130
    print(json.dumps({"run_dir": str(result.run_dir), **result.metrics}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
