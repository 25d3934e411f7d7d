"""The training loop every head shares: seeded, flipped batches from memory, Adam with a
cosine learning-rate decay, the epoch with the lowest tuning loss kept (or the last one, for
the adversarial head), a wall-time guard, and the precision of ``unetcolor.unet.precision``."""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import pandas as pd

from ..unet import precision as precisions
from ..reproducibility import seed_everything
from ..training.train import history_row
from .head import Head
from .recipe import RecipeConfig, shrink_pairs
from .regression import compile_log_mse

FINETUNE_STAGE = "log_mse"


class FlipBatches(keras.utils.PyDataset):
    """Batches of in-memory (x, y), reshuffled each epoch and each image flipped
    left-right with probability 1/2; both drawn from (seed, epoch), so a rerun
    sees exactly the same batches.

    With ``crops=(gray, rgb, share)`` -- the same photos at full size, uint8 (N, H, W) and
    (N, H, W, 3), and share < 1 -- each image of a batch is instead remade from a random
    square crop of its full-size photo, its side drawn uniformly between share and all of
    the photo's shorter side, shrunk to x's size as ``recipe.shrink_pairs`` shrinks: crops
    and scales from the photo's own pixels, never enlarged past them."""

    def __init__(self, x, y, batch_size: int, seed: int, flips: bool = True, crops: tuple | None = None):
        super().__init__()
        self.x, self.y, self.batch_size, self.seed, self.flips = x, y, batch_size, seed, flips
        self.crops = crops if crops is not None and crops[2] < 1 else None
        self.epoch = 0

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.epoch])
        order, flip = rng.permutation(len(self.x)), rng.random(len(self.x)) < 0.5
        batch = order[index * self.batch_size:(index + 1) * self.batch_size]
        if self.crops is None:
            x, y = self.x[batch], self.y[batch]
        else:
            x, y = self._cropped(batch)
        if self.flips:
            x = np.where(flip[batch, None, None, None], x[:, :, ::-1], x)
            y = np.where(flip[batch, None, None, None], y[:, :, ::-1], y)
        return x, y

    def _cropped(self, batch):
        gray, rgb, share = self.crops
        rng = np.random.default_rng([self.seed, self.epoch, 1])  # the same crops for every batch order
        full = min(gray.shape[1:3])
        sides = np.rint(full * rng.uniform(share, 1.0, len(self.x))).astype(int)
        corners = rng.random((len(self.x), 2))
        grays, rgbs = [], []
        for i in batch:
            side = sides[i]
            top = int(corners[i, 0] * (gray.shape[1] - side + 1))
            left = int(corners[i, 1] * (gray.shape[2] - side + 1))
            grays.append(np.asarray(gray[i, top:top + side, left:left + side]))
            rgbs.append(np.asarray(rgb[i, top:top + side, left:left + side]))
        return shrink_pairs(grays, rgbs, self.x.shape[1])

    def on_epoch_end(self):
        self.epoch += 1


class KeepBest(keras.callbacks.Callback):
    """Remember the weights of the epoch with the lowest val_loss (the tuning
    subset's) and put them back at the end; stop early past max_seconds.
    keep_last: keep the last epoch's weights instead."""

    def __init__(self, max_seconds: float, log=print, keep_last: bool = False):
        super().__init__()
        self.max_seconds, self.log, self.keep_last = max_seconds, log, keep_last
        self.rows: list[dict] = []
        self.best_loss, self.best_epoch, self.best_weights = math.inf, 0, None

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = history_row(epoch, logs, self.epoch_started)
        self.rows.append(row)
        if row["val_loss"] < self.best_loss or self.keep_last:
            self.best_loss, self.best_epoch, self.best_weights = row["val_loss"], epoch + 1, self.model.get_weights()
        self.log(f"epoch {epoch + 1}: loss {row['loss']:.5f}  tuning loss {row['val_loss']:.5f}  "
                 f"{row['seconds']:.0f} s", flush=True)
        if time.perf_counter() - self.started > self.max_seconds:
            self.log(f"time budget of {self.max_seconds:.0f} s spent: stopping", flush=True)
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def train_stage(model, config: RecipeConfig, fit_pair, tuning_pair, epochs, learning_rate, compile_with, seed,
                stage, keep_last, verbose, fit_photos=None):
    """Train model for epochs; compile_with(model, schedule) compiles it with a cosine-decaying
    learning-rate schedule. fit_photos: the fit photos at full size (gray, rgb), for
    config.crop_share < 1. Returns (history DataFrame, kept epoch); model ends at the kept epoch."""
    if config.crop_share < 1 and fit_photos is None:
        raise ValueError("crop_share < 1 crops the full-size photos: pass fit_photos=(gray, rgb)")
    crops = (*fit_photos, config.crop_share) if config.crop_share < 1 else None
    batches = FlipBatches(*fit_pair, config.batch_size, seed, config.flips, crops=crops)

    def schedule():
        return keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=epochs * len(batches), alpha=config.final_learning_rate_share)

    compile_with(model, schedule)
    keeper = KeepBest(config.max_train_minutes * 60, log=print if verbose else (lambda *a, **k: None),
                      keep_last=keep_last)
    model.fit(batches, validation_data=tuning_pair, epochs=epochs, shuffle=False, callbacks=[keeper], verbose=0)
    return pd.DataFrame(keeper.rows).assign(stage=stage), keeper.best_epoch


def fit(head: Head, fit_pair, tuning_pair, verbose: bool = True, model: keras.Model | None = None,
        decision: precisions.Decision | None = None, fit_photos=None):
    """Train head's model from config.seed on fit_pair = (x, y), selecting by tuning_pair: the
    head's loss for config.epochs, then per-image log-MSE for config.finetune_epochs. With model
    given, stage 1 is taken as done (its weights) and only the fine-tuning runs.
    fit_photos: the fit photos at full size (gray, rgb), which config.crop_share < 1 crops.
    Training runs in ``decision``'s precision (default: config.precision resolved); the global
    Keras policy is float32 again on return, so what is built afterwards is float32.
    Returns (model with the kept epochs' weights, history DataFrame, kept epoch of the last stage)."""
    config = head.config
    decision = decision or precisions.resolve(config.precision, config)
    seed_everything(config.seed)
    histories = []
    precisions.apply(decision)
    try:
        if model is None:
            model = head.build()
            history, best = train_stage(model, config, fit_pair, tuning_pair, config.epochs, config.learning_rate,
                                        head.compile, config.seed, head.stage, head.keep_last, verbose, fit_photos)
            histories.append(history)
        if config.finetune_epochs:
            history, best = train_stage(model, config, fit_pair, tuning_pair, config.finetune_epochs,
                                        config.finetune_learning_rate, compile_log_mse, config.seed + 1,
                                        FINETUNE_STAGE, False, verbose, fit_photos)
            histories.append(history)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return model, pd.concat(histories, ignore_index=True), best
