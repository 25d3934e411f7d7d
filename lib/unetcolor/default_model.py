"""The shipped colorizers (beyond the paper; issue 6): small L*a*b* U-Nets that
train on a laptop CPU in under an hour. Three recipes (``RECIPES``) share this code:

- "default", the accurate model ``colorize`` uses, and "vivid": both classify
  each pixel's a*, b* into bins and decode an annealed mean (``ab_bins``;
  Zhang et al. 2016); the vivid one rebalances the loss towards rare, saturated
  colours, the default does not. For this bins head, steps 3-4 below differ:
  the loss is the bins' cross-entropy, there is no log-MSE fine-tuning, and the
  knob chosen on the tuning subset is the annealing temperature, not a gain;
- "gan": the regression head's U-Net trained with a mean absolute error plus an
  adversarial term from a patch discriminator (``adversarial``; pix2pix-style, the
  paper's other future-work item); it keeps its last epoch, as Isola et al. do (its
  tuning MSE rises by design as colours leave the mean); no fine-tuning; the knob
  is a chroma gain;
- ``RecipeConfig()``'s own defaults are the regression head described below,
  the earlier default model, kept as a candidate (models/default-model/).

The paper's future work (Section 6) is to predict a*, b* from L* rather than
RGB from gray. Chroma varies slowly, so it is predicted at a reduced size:

    gray 256x256 --LANCZOS--> 64x64 --U-Net--> a*, b* / 128 at 64x64
    --> joined with the 64x64 L*, made RGB, and only its colour differences
        (R - Y, B - Y) upscaled onto the full-resolution gray (predict.py)

so the output keeps every pixel of the input's luminance. Training sees the
same LANCZOS-shrunk gray as ``predict.colorize_photo`` gives the model.

The recipe, all seeded:
    1. prepare the photos (data.prepare_dataset at 256, the paper's splits);
    2. carve a tuning subset (10%) out of the 80/20 split's *training* ids;
    3. train on the rest with random horizontal flips, Adam with a cosine
       learning-rate decay, MSE on a*, b*; keep the weights of the epoch with
       the lowest tuning loss; then fine-tune with the mean over images of
       log(per-image MSE), which is what mean PSNR rewards: plain MSE is
       dominated by the colourful photos and paints near-gray ones (snow,
       fog, dusk) whose PSNR then drops most;
    4. choose a chroma gain on the tuning subset: the most colourful one
       whose tuning PSNR beats the gray baseline by ``min_psnr_gain`` dB (else
       the one with the best PSNR); it is a Rescaling layer in the saved model;
    5. evaluate once on the 80/20 validation ids, at 256x256, exactly as
       notebook 05 does (metrics.evaluate_images), and write
       ``weights/<name>.keras`` and ``weights/<name>.json`` (provenance).

Headless: ``python -m unetcolor.default_model --recipe default|vivid|gan --data-dir ../shared/data/landscapes256``
(or ``make default-model DATA_DIR=...``).

Precision: ``RecipeConfig.precision`` ("auto" by default, ``--precision``) is resolved by
``unetcolor.precision`` and applied to the training only (Keras' mixed_bfloat16 policy where
it resolves to bfloat16); the saved model is always a fresh float32 model with the trained
weights. Like the device, it is an execution detail: it is recorded in the provenance's
"environment" (``precision``, ``precision_reason``) and left out of RecipeConfig equality,
so a recipe trained in bfloat16 is still the same recipe.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from keras import layers
from PIL import Image

from . import ab_bins, adversarial, color, data, metrics, paths, precision as precisions, predict
from .config import ModelConfig, model_config_from_dict
from .model import build_unet
from .reproducibility import environment_info, seed_everything
from .train import history_row, write_json

WEIGHTS_DIR = predict.WEIGHTS_DIR
PROFILE = "default-model"  # its prepared data: data/processed/default-model/


HEADS = ("regression", "bins", "gan")
STAGES = {"regression": "mse", "bins": "bins_cross_entropy", "gan": "adversarial"}


@dataclass(frozen=True)
class RecipeConfig:
    """Every knob of the recipe. Its own defaults are the regression head (the earlier
    default model, now a candidate); ``RECIPES`` names the shipped recipes."""

    name: str = "default"  # the files written: <name>.keras and <name>.json
    head: str = "regression"  # or "bins": classification over a*, b* bins (ab_bins.py)
    model: ModelConfig = field(default_factory=lambda: ModelConfig(
        image_size=64, filters=(32, 64, 128, 256), normalization="batch", output="ab"))
    epochs: int = 24
    batch_size: int = 16
    learning_rate: float = 1e-3
    final_learning_rate_share: float = 0.05  # cosine decay ends at this share of learning_rate
    flips: bool = True
    split: str = "80_20"
    tuning_share: float = 0.1  # of the split's training ids
    seed: int = 42
    finetune_epochs: int = 6  # then per-image log-MSE (the mean-PSNR objective); 0: none
    finetune_learning_rate: float = 3e-4
    max_train_minutes: float = 45.0  # a guard: stop (keeping the best epoch) past this, per stage
    chroma_gains: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.5)
    min_psnr_gain: float = 1.0  # dB over the gray baseline, on the tuning subset
    # after decoding, shift a*, b* by a constant that cancels the mean colour cast measured on
    # the tuning subset (per candidate knob value; a Rescaling layer's offset in the saved model)
    bias_correction: bool = False
    # head="bins" only (ab_bins.py): the a*, b* grid, the soft encoding's width, the share of
    # uniform distribution in the rebalancing, and the annealed-mean temperatures to choose from
    bin_grid: float = 10.0
    bin_sigma: float = 5.0
    rebalance: float = 0.5
    temperatures: tuple[float, ...] = (0.2, 0.3, 0.38, 0.5, 0.7, 1.0)
    # head="gan" only (adversarial.py): the adversarial term's weight against the mean absolute
    # a*, b* error (Isola et al.'s 1:100), and the patch discriminator's widths
    adversarial_weight: float = 0.01
    discriminator_filters: tuple[int, ...] = (32, 64, 128)
    # "auto" | "float32" | "bfloat16" for training (unetcolor.precision). An execution detail
    # (it changes results only by rounding): not compared, as TrainConfig.key leaves it out
    precision: str = field(default="auto", compare=False)

    def __post_init__(self):
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", model_config_from_dict(self.model))
        object.__setattr__(self, "chroma_gains", tuple(float(g) for g in self.chroma_gains))
        object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        object.__setattr__(self, "discriminator_filters", tuple(int(f) for f in self.discriminator_filters))
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.precision not in precisions.SETTINGS:
            raise ValueError(f"precision must be one of {precisions.SETTINGS}, got {self.precision!r}")
        if self.head != "regression" and self.finetune_epochs:
            raise ValueError("the log-MSE fine-tuning is for the regression head: set finetune_epochs=0")
        if not self.name.isidentifier():
            raise ValueError(f"name must be a plain word (it names the files), got {self.name!r}")
        if self.model.output != "ab":
            raise ValueError("the default model predicts a*, b*: use ModelConfig(output='ab')")
        if not 0 < self.tuning_share < 1:
            raise ValueError(f"tuning_share must be in (0, 1), got {self.tuning_share}")
        for knob in ("chroma_gains", "temperatures"):
            if not getattr(self, knob) or min(getattr(self, knob)) <= 0:
                raise ValueError(f"{knob} must be a non-empty list of positive numbers")

    @property
    def choices(self) -> tuple[str, tuple[float, ...]]:
        """(what is chosen on the tuning subset, its candidate values)."""
        if self.head == "bins":
            return "temperature", self.temperatures
        return "chroma_gain", self.chroma_gains

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- data


def tuning_split(train_ids: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit_ids, tuning_ids), both sorted: a seeded share of train_ids held out for choices."""
    train_ids = np.sort(np.asarray(train_ids))
    count = max(1, int(round(len(train_ids) * share)))
    if count >= len(train_ids):
        raise ValueError(f"{len(train_ids)} training photos are too few to hold out {count} for tuning")
    tuning = np.random.default_rng([seed, 6]).permutation(train_ids)[:count]
    return np.setdiff1d(train_ids, tuning), np.sort(tuning)


def shrink_pairs(gray: np.ndarray, rgb: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Full-size uint8 gray (N, H, W) and RGB (N, H, W, 3) -> the model's training pair at size x size:

    x: float32 (N, size, size, 1) in [0, 1], the gray shrunk as predict.colorize_photo shrinks it;
    y: float32 (N, size, size, 2), a*, b* / 128 of the LANCZOS-shrunk RGB.
    """
    small_gray = np.stack([predict._shrink(np.asarray(g), (size, size)) for g in gray])
    small_rgb = np.stack([np.asarray(Image.fromarray(np.asarray(p)).resize((size, size), predict.SHRINK_FILTER))
                          for p in rgb])
    return color.gray_to_input(small_gray), color.rgb_to_lab(small_rgb)[..., 1:] / 128.0


class FlipBatches(keras.utils.PyDataset):
    """Batches of in-memory (x, y), reshuffled each epoch and each image flipped
    left-right with probability 1/2; both drawn from (seed, epoch), so a rerun
    sees exactly the same batches."""

    def __init__(self, x, y, batch_size: int, seed: int, flips: bool = True):
        super().__init__()
        self.x, self.y, self.batch_size, self.seed, self.flips = x, y, batch_size, seed, flips
        self.epoch = 0

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.epoch])
        order, flip = rng.permutation(len(self.x)), rng.random(len(self.x)) < 0.5
        batch = order[index * self.batch_size:(index + 1) * self.batch_size]
        x, y = self.x[batch], self.y[batch]
        if self.flips:
            x = np.where(flip[batch, None, None, None], x[:, :, ::-1], x)
            y = np.where(flip[batch, None, None, None], y[:, :, ::-1], y)
        return x, y

    def on_epoch_end(self):
        self.epoch += 1


# ------------------------------------------------------------------------ training


class KeepBest(keras.callbacks.Callback):
    """Remember the weights of the epoch with the lowest val_loss (the tuning
    subset's) and put them back at the end; stop early past max_seconds.
    keep_last: keep the last epoch's weights instead (for the adversarial head,
    whose tuning MSE rises by design as its colours leave the safe mean)."""

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


def per_image_log_mse(y_true, y_pred):
    """mean over images of ln(MSE_i + 1e-5): minimising it maximises the mean
    per-image PSNR (up to the eps), where plain MSE maximises PSNR of the mean error."""
    error = keras.ops.mean(keras.ops.square(y_true - y_pred), axis=(1, 2, 3))
    return keras.ops.mean(keras.ops.log(error + 1e-5))


def _compile_log_mse(model, schedule):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule()), loss=per_image_log_mse)


def _stage(model, config: RecipeConfig, fit_pair, tuning_pair, epochs, learning_rate, compile_with, seed, stage,
           verbose):
    """Train model for epochs; compile_with(model, schedule) compiles it with a cosine-decaying
    learning-rate schedule. Returns (history DataFrame, best epoch); model ends at the best epoch."""
    batches = FlipBatches(*fit_pair, config.batch_size, seed, config.flips)

    def schedule():
        return keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=epochs * len(batches), alpha=config.final_learning_rate_share)

    compile_with(model, schedule)
    keeper = KeepBest(config.max_train_minutes * 60, log=print if verbose else (lambda *a, **k: None),
                      keep_last=stage == STAGES["gan"])
    model.fit(batches, validation_data=tuning_pair, epochs=epochs, shuffle=False, callbacks=[keeper], verbose=0)
    history = pd.DataFrame(keeper.rows).assign(stage=stage)
    return history, keeper.best_epoch


@dataclass
class Head:
    """What differs between the heads: the model trained, how it is compiled (its loss, or
    for the gan head its two optimizers), and the saved model built from its weights with
    the knob chosen on the tuning subset (a chroma gain for the regression and gan heads,
    an annealed-mean temperature for the bins head)."""

    config: RecipeConfig
    centers: np.ndarray | None = None  # bins head: a*, b* bin centres (Q, 2)
    weights: np.ndarray | None = None  # bins head: their rebalancing weights (Q,)

    @classmethod
    def for_data(cls, config: RecipeConfig, fit_y: np.ndarray) -> "Head":
        """The head of config; the bins head takes its bins and weights from fit_y (a*, b* / 128)."""
        if config.head != "bins":
            return cls(config)
        ab = np.asarray(fit_y) * ab_bins.AB_SCALE
        centers = ab_bins.bin_centers(ab, config.bin_grid)
        return cls(config, centers, ab_bins.rebalancing_weights(ab, centers, config.bin_sigma, config.rebalance))

    def build(self) -> keras.Model:
        if self.config.head == "regression":
            return build_unet(self.config.model)
        if self.config.head == "gan":
            return adversarial.conditional_gan(self.config.model, self.config.adversarial_weight,
                                               self.config.discriminator_filters)
        return ab_bins.logits_model(self.config.model, len(self.centers))

    def compile(self, model: keras.Model, schedule) -> None:
        """Compile model for training; schedule() makes a fresh learning-rate schedule."""
        if self.config.head == "gan":
            model.compile(keras.optimizers.Adam(schedule(), beta_1=adversarial.ADAM_BETA_1),
                          keras.optimizers.Adam(schedule(), beta_1=adversarial.ADAM_BETA_1))
            return
        loss = "mse" if self.config.head == "regression" else ab_bins.SoftBinLoss(
            self.centers, self.weights, self.config.bin_sigma)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule()), loss=loss)

    def export(self, trained: keras.Model, value: float) -> keras.Model:
        """A fresh float32 model with trained's weights (the generator's, for the gan head)
        that outputs a*, b* / 128."""
        if self.config.head == "regression":
            return with_chroma_gain(trained, self.config.model, value)
        if self.config.head == "gan":
            return with_chroma_gain(trained.generator, self.config.model, value)
        return ab_bins.decoded_model(trained, self.config.model, self.centers, value)


def fit(config: RecipeConfig, fit_pair, tuning_pair, verbose: bool = True, model: keras.Model | None = None,
        head: Head | None = None, decision: precisions.Decision | None = None):
    """Train from config.seed on fit_pair = (x, y), selecting by tuning_pair: the head's
    loss (MSE, or the bins' cross-entropy) for config.epochs, then per-image log-MSE for
    config.finetune_epochs. With model given, stage 1 is taken as done (its weights) and
    only the fine-tuning runs.
    Training runs in ``decision``'s precision (default: config.precision resolved); the
    global Keras policy is float32 again on return, so what is built afterwards is float32.
    Returns (model with the best epochs' weights, history DataFrame, best epoch of the last stage)."""
    decision = decision or precisions.resolve(config.precision)
    seed_everything(config.seed)
    head = head or Head.for_data(config, fit_pair[1])
    histories = []
    precisions.apply(decision)
    try:
        if model is None:
            model = head.build()
            history, best = _stage(model, config, fit_pair, tuning_pair, config.epochs, config.learning_rate,
                                   head.compile, config.seed, STAGES[config.head], verbose)
            histories.append(history)
        if config.finetune_epochs:
            history, best = _stage(model, config, fit_pair, tuning_pair, config.finetune_epochs,
                                   config.finetune_learning_rate, _compile_log_mse, config.seed + 1,
                                   "log_mse", verbose)
            histories.append(history)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return model, pd.concat(histories, ignore_index=True), best


def with_chroma_gain(trained: keras.Model, config: ModelConfig, gain: float) -> keras.Model:
    """The trained weights in a fresh uncompiled float32 model whose a*, b* are
    multiplied by gain (a Rescaling layer, loadable in safe mode)."""
    model = build_unet(config)
    model.set_weights(trained.get_weights())
    scaled = layers.Rescaling(gain, name="chroma_gain")(model.output)
    return keras.Model(model.input, scaled, name="unet_ab_default")


# ---------------------------------------------------------------------- evaluation


def evaluate(model: keras.Model, rgb: np.ndarray, gray: np.ndarray, ssim: bool = True) -> pd.DataFrame:
    """Colorize full-size uint8 gray (N, H, W) with predict.colorize_photos and score
    against uint8 RGB (N, H, W, 3) as notebook 05 does (metrics.evaluate_images).
    ssim=False skips SSIM (the slow part) for quick choices."""
    colorized = np.stack(list(predict.colorize_photos(model, list(gray))))
    if ssim:
        return metrics.evaluate_images(rgb, colorized, gray)
    baseline = color.gray_baseline(gray)
    return pd.DataFrame({
        "psnr_model": metrics.psnr_batch(rgb, colorized),
        "psnr_gray": metrics.psnr_batch(rgb, baseline),
        "colorfulness_model": [metrics.colorfulness(image) for image in colorized],
        "colorfulness_true": [metrics.colorfulness(image) for image in rgb],
    })


def with_chroma_offset(model: keras.Model, offset: tuple[float, float]) -> keras.Model:
    """model followed by a constant shift of its a*, b* output by offset (a*, b* units):
    a Rescaling layer's offset, loadable in safe mode."""
    shift = layers.Rescaling(1.0, offset=[float(o) / ab_bins.AB_SCALE for o in offset], name="chroma_offset")
    return keras.Model(model.input, shift(model.output), name=model.name)


def cast_correction(model: keras.Model, rgb: np.ndarray, gray: np.ndarray) -> tuple[float, float]:
    """The a*, b* offset that cancels model's mean colour cast (metrics.ab_bias) on the
    full-size uint8 photos (rgb, gray) -- the tuning subset."""
    colorized = np.stack(list(predict.colorize_photos(model, list(gray))))
    a_bias, b_bias = metrics.ab_bias(rgb, colorized)
    return -a_bias, -b_bias


def decoded(trained, head: Head, value: float, offset: tuple[float, float] | None) -> keras.Model:
    """The saved model: head.export at the knob value, shifted by offset where there is one."""
    model = head.export(trained, value)
    return with_chroma_offset(model, offset) if offset is not None else model


def choose_decoding(trained, head: Head, rgb, gray) -> tuple[float, pd.DataFrame]:
    """On (rgb, gray) -- the tuning subset -- the candidate (chroma gain or temperature,
    RecipeConfig.choices) whose output is the most colourful among those whose mean PSNR
    beats the gray baseline's by config.min_psnr_gain dB; if none does, the one with the
    best mean PSNR. With config.bias_correction each candidate is scored after the offset
    that cancels its own mean cast on this subset (columns a_offset, b_offset).
    Returns (value, one row per candidate)."""
    knob, candidates = head.config.choices
    rows = []
    for value in candidates:
        model, offset = head.export(trained, value), None
        if head.config.bias_correction:
            offset = cast_correction(model, rgb, gray)
            model = with_chroma_offset(model, offset)
        scores = evaluate(model, rgb, gray, ssim=False)
        rows.append({knob: value, "psnr": scores["psnr_model"].mean(), "psnr_gray": scores["psnr_gray"].mean(),
                     "colorfulness": scores["colorfulness_model"].mean(),
                     "colorfulness_true": scores["colorfulness_true"].mean(),
                     **({"a_offset": offset[0], "b_offset": offset[1]} if offset is not None else {})})
    table = pd.DataFrame(rows)
    enough = table[table["psnr"] >= table["psnr_gray"] + head.config.min_psnr_gain]
    best = enough.loc[enough["colorfulness"].idxmax()] if len(enough) else table.loc[table["psnr"].idxmax()]
    return float(best[knob]), table


def choices_of(record: dict) -> tuple[str, pd.DataFrame]:
    """(knob, the tuning-subset table of its candidate values with a column "value" and a
    column "chosen") from a provenance record. Records written before the vivid head existed
    name the chroma gain's column "gain"."""
    knob = "temperature" if "temperature" in record else "chroma_gain"
    table = pd.DataFrame(record[f"{knob}_choices"]).rename(columns={knob: "value", "gain": "value"})
    return knob, table.assign(chosen=np.isclose(table["value"], record[knob]))


def candidates_table(records: dict[str, dict], shipped: set[str] = frozenset()) -> pd.DataFrame:
    """One row per recipe run (name -> its provenance record): what it changed and what it
    reached *on the tuning subset* at the knob value it chose -- the numbers the choice
    between candidates may use. Held-out numbers are deliberately left out."""
    rows = []
    for name, record in records.items():
        config = record["config"]
        knob, choices = choices_of(record)
        chosen = choices[choices["chosen"]].iloc[0]
        rows.append({
            "candidate": name, "shipped": name in shipped, "head": config.get("head", "regression"),
            "rebalance": config.get("rebalance") if config.get("head") == "bins" else None,
            "epochs": config["epochs"], "finetune_epochs": config["finetune_epochs"],
            "knob": knob, "chosen": record[knob],
            "tuning_psnr_gain": chosen["psnr"] - chosen["psnr_gray"],
            "tuning_colorfulness_share": chosen["colorfulness"] / chosen["colorfulness_true"],
            "minutes_to_best_epoch": record["training"]["seconds_to_best_epoch"] / 60,
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------- the recipe


def git_commit(root: Path) -> str | None:
    """HEAD of the checkout (read-only), with '+dirty' if tracked files are modified."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def prepare(data_dir: str | Path | None, processed_dir: Path, seed: int = 42) -> Path:
    """Prepare the photos under data_dir into processed_dir at 256x256 with the
    paper's splits (cached: nothing is redone for the same inputs). Without
    data_dir, processed_dir must already hold prepared data."""
    processed_dir = Path(processed_dir)
    if data_dir:
        folder = paths.resolve(data_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: --data-dir is not a folder; point it at a folder of photos")
        data.prepare_dataset([folder], processed_dir, image_size=256)
        data.make_splits(processed_dir, seed=seed)
    elif not (processed_dir / "rgb.npy").is_file():
        raise FileNotFoundError(f"{processed_dir} holds no prepared data; pass --data-dir (a folder of photos)")
    return processed_dir


def build_default_model(processed_dir: Path, out_dir: Path, config: RecipeConfig | None = None,
                        data_source: str | None = None, verbose: bool = True, stage1: tuple | None = None,
                        overwrite: bool = False) -> dict:
    """Run the recipe (module docstring) on prepared data; write out_dir/<name>.keras
    and out_dir/<name>.json (config.name); return the provenance written to the JSON.
    An existing out_dir/<name>.keras is replaced only with overwrite=True (checked before
    any training, so a refused run costs nothing).

    stage1=(trained model, its history) takes the first training stage as done by an
    earlier run of the same recipe (the model as ``fit`` returns it: for the bins head the
    logits model); the rest of the recipe runs as usual."""
    config = config or RecipeConfig()
    commit = git_commit(paths.project_root())  # the code as the run starts
    processed_dir, out_dir = Path(processed_dir), Path(out_dir)
    if (out_dir / f"{config.name}.keras").exists() and not overwrite:
        raise FileExistsError(f"{out_dir / config.name}.keras exists; pass overwrite=True (--overwrite) to replace "
                              "it, or choose another --out-dir")
    say = print if verbose else (lambda *a, **k: None)
    rgb, gray = data.load_arrays(processed_dir)
    train_ids, val_ids = data.load_split(processed_dir, config.split)
    fit_ids, tuning_ids = tuning_split(train_ids, config.tuning_share, config.seed)
    size = config.model.image_size
    say(f"{len(fit_ids)} photos to fit, {len(tuning_ids)} to tune, {len(val_ids)} held out; "
        f"shrinking to {size}x{size}", flush=True)
    fit_pair = shrink_pairs(gray[fit_ids], rgb[fit_ids], size)
    tuning_pair = shrink_pairs(gray[tuning_ids], rgb[tuning_ids], size)
    head = Head.for_data(config, fit_pair[1])
    if head.centers is not None:
        say(f"{len(head.centers)} a*, b* bins occupied; rebalancing weights "
            f"{head.weights.min():.2f} to {head.weights.max():.2f}", flush=True)

    decision = precisions.resolve(config.precision)
    say(f"training in {decision.precision} ({decision.reason})", flush=True)
    started = time.perf_counter()
    if stage1 is None:
        trained, history, best_epoch = fit(config, fit_pair, tuning_pair, verbose, head=head, decision=decision)
    elif config.finetune_epochs:  # (model, history) of a finished first stage: only the fine-tuning runs
        trained, history, best_epoch = fit(config, fit_pair, tuning_pair, verbose, model=stage1[0], head=head,
                                           decision=decision)
        history = pd.concat([stage1[1], history], ignore_index=True)
    else:  # the whole training is done: only the choice on the tuning subset and the evaluation run
        trained, history = stage1
        kept = len(history) - 1 if config.head == "gan" else history["val_loss"].idxmin()  # as KeepBest keeps
        best_epoch = int(history.loc[kept, "epoch"])
    train_seconds = float(history["seconds"].sum()) if stage1 is not None else time.perf_counter() - started
    last = history["stage"] == history["stage"].iloc[-1]
    best_seconds = float(history.loc[~last, "seconds"].sum()
                         + history.loc[last & (history["epoch"] <= best_epoch), "seconds"].sum())
    keras.mixed_precision.set_global_policy("float32")  # what is exported, chosen and saved is float32
    knob, _ = config.choices
    value, choices = choose_decoding(trained, head, np.asarray(rgb[tuning_ids]), np.asarray(gray[tuning_ids]))
    say(f"{knob} {value:g} chosen on the tuning subset:\n{choices.round(3).to_string(index=False)}", flush=True)
    offset = None
    if config.bias_correction:
        chosen = choices[np.isclose(choices[knob], value)].iloc[0]
        offset = (float(chosen["a_offset"]), float(chosen["b_offset"]))
        say(f"a*, b* offset {offset[0]:+.2f}, {offset[1]:+.2f} (cancels the tuning subset's mean cast)", flush=True)
    model = decoded(trained, head, value, offset)

    # the held-out numbers, computed once, after every choice is made
    per_image = evaluate(model, np.asarray(rgb[val_ids]), np.asarray(gray[val_ids]))
    summary = metrics.summarize(per_image)
    say(summary.round(3).to_string(index=False), flush=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{config.name}.keras"
    partial = out_dir / f".{config.name}.partial.keras"
    model.save(partial)
    os.replace(partial, model_path)  # never a half-written model under the real name
    manifest_path = processed_dir / "manifest.json"
    provenance = {
        "description": DESCRIPTIONS[config.head],
        "data": {
            "source": paths.relative(data_source or processed_dir),
            "processed_dir": paths.relative(processed_dir),
            "manifest": pd.read_json(manifest_path, typ="series").to_dict() if manifest_path.is_file() else None,
            "photos": int(len(rgb)),
            "split": config.split,
            "fit": int(len(fit_ids)),
            "tuning": int(len(tuning_ids)),
            "validation": int(len(val_ids)),
            "tuning_ids": tuning_ids.tolist(),
        },
        "config": config.to_dict(),
        "seed": config.seed,
        "git_commit": commit,
        "training": {
            "epochs_run": int(len(history)),
            "best_epoch": int(best_epoch),
            "seconds_total": train_seconds,
            "seconds_to_best_epoch": best_seconds,
            "history": history.to_dict("records"),
        },
        knob: value,
        f"{knob}_choices": choices.to_dict("records"),
        **({"chroma_offset": list(offset)} if offset is not None else {}),
        **({"bins": {"centers": head.centers.tolist(), "rebalancing_weights": head.weights.tolist()}}
           if head.centers is not None else {}),
        "validation_metrics": summary.to_dict("records"),
        "input_shape": list(model.input_shape[1:]),
        "output_shape": list(model.output_shape[1:]),
        "parameters": int(model.count_params()),
        "model_bytes": model_path.stat().st_size,
        # the training's precision, resolved on this machine, and why (the saved model is float32)
        "environment": {**environment_info(), **precisions.as_record(decision)},
    }
    write_json(out_dir / f"{config.name}.json", provenance)
    return provenance


DESCRIPTIONS = {
    "regression": "L*a*b* U-Net predicting a*, b* at reduced size; unetcolor.default_model",
    "bins": "L*a*b* U-Net classifying a*, b* into bins at reduced size, annealed-mean decoding; "
            "unetcolor.default_model + unetcolor.ab_bins",
    "gan": "L*a*b* U-Net predicting a*, b* at reduced size, trained against a patch discriminator "
           "(pix2pix-style); unetcolor.default_model + unetcolor.adversarial",
}

# The shipped models: "default" (accurate; what colorize uses), "vivid" and "gan" (predict.PACKAGED).
RECIPES = {
    # the bins head without rebalancing: on the tuning subset as accurate as the regression head
    # (RecipeConfig()'s defaults) and half again as colourful (see notebook 07's candidates)
    "default": RecipeConfig(head="bins", finetune_epochs=0, rebalance=1.0),
    "vivid": RecipeConfig(name="vivid", head="bins", finetune_epochs=0, rebalance=0.5, min_psnr_gain=0.2),
    # the paper's other future-work item: the regression U-Net trained against a patch discriminator
    # (adversarial.py), a candidate for the vivid model; Isola et al.'s learning rate, 2e-4
    "gan": RecipeConfig(name="gan", head="gan", finetune_epochs=0, learning_rate=2e-4, epochs=30,
                        min_psnr_gain=0.2),
}


# Candidates: recipes tried for the shipped ones, written down before their runs with the
# rule that decides between them (on the tuning subset only: the held-out numbers of a run are
# computed once and never used for a choice). `python -m unetcolor.default_model --recipe NAME`
# trains one into models/default-model/.
#
# Budget, for every candidate: training at most 60 minutes on 2 CPU cores, file at most 20 MB.
# accurate (the default): the highest tuning PSNR gain over gray; a candidate within 0.05 dB
#   of it that is more colourful on the tuning subset wins instead.
# vivid: among rebalanced candidates (rebalance < 1), the most colourful on the tuning subset
#   whose tuning PSNR is at least the gray baseline's; if none is, the best tuning PSNR.
CANDIDATES = {
    # chroma predicted at 128x128 instead of 64x64, with a fifth level for context
    "accurate128": RecipeConfig(
        name="accurate128", head="bins", finetune_epochs=0, rebalance=1.0,
        model=ModelConfig(image_size=128, filters=(32, 64, 128, 256, 256), normalization="batch", output="ab")),
    # the vivid recipe with its mean colour cast cancelled per temperature, and a PSNR floor of gray
    "vivid_debiased": RecipeConfig(name="vivid_debiased", head="bins", finetune_epochs=0, rebalance=0.5,
                                   min_psnr_gain=0.0, bias_correction=True),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor.default_model",
                                     description="Train, select and evaluate the shipped default colorizer.")
    parser.add_argument("--recipe", choices=[*RECIPES, *CANDIDATES], default="default",
                        help="default: the accurate model colorize uses; vivid: its rebalanced, bolder sibling; "
                        "gan: the regression U-Net trained against a patch discriminator; or a candidate")
    parser.add_argument("--data-dir", help="a folder of photos to prepare (cached) into --processed-dir")
    parser.add_argument("--processed-dir", help=f"prepared data (default: data/processed/{PROFILE}/)")
    parser.add_argument("--out-dir", help=f"where <recipe>.keras/.json go (default: models/{PROFILE}/; "
                        "the shipped files are lib/unetcolor/weights/)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing <recipe>.keras in --out-dir")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs (e.g. a quick trial)")
    parser.add_argument("--precision", choices=precisions.SETTINGS,
                        help="training precision (default: the recipe's, \"auto\": bfloat16 on a GPU, and on a CPU "
                        "with bfloat16 instructions where a probe finds it faster; else float32)")
    args = parser.parse_args(argv)
    processed = paths.resolve(args.processed_dir) if args.processed_dir else paths.profile_paths(PROFILE).processed
    config = {**RECIPES, **CANDIDATES}[args.recipe]
    out_dir = paths.resolve(args.out_dir) if args.out_dir else paths.profile_paths(PROFILE).models
    config = config if args.epochs is None else dataclasses.replace(config, epochs=args.epochs)
    config = config if args.precision is None else dataclasses.replace(config, precision=args.precision)
    prepare(args.data_dir, processed, seed=config.seed)
    provenance = build_default_model(processed, out_dir, config, overwrite=args.overwrite,
                                     data_source=str(paths.resolve(args.data_dir)) if args.data_dir else None)
    print(f"wrote {paths.relative(out_dir / config.name)}.keras ({provenance['model_bytes'] / 1e6:.1f} MB) "
          f"and {config.name}.json; best epoch {provenance['training']['best_epoch']}, "
          f"{provenance['training']['seconds_to_best_epoch'] / 60:.1f} min of training to it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
