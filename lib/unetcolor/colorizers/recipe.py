"""A colorizer recipe's knobs (``RecipeConfig``) and the data every head trains on: the
tuning subset carved out of the training photos, and the (gray, a*b*) pairs at the
model's reduced size."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .. import color
from ..config import ModelConfig, model_config_from_dict
from ..evaluation import predict
from ..unet import precision as precisions


@dataclass(frozen=True)
class RecipeConfig:
    """Every knob of a recipe. Its own defaults are the regression head (the first default
    model, kept as a candidate); ``registry.RECIPES`` names the shipped recipes.

    ``name`` only names the files written (<name>.keras, <name>.json) and ``precision`` is an
    execution detail (it changes results only by rounding, as TrainConfig.key leaves it out):
    neither takes part in comparing two recipes."""

    name: str = field(default="default", compare=False)
    head: str = "regression"  # a kind of registry.HEADS: "bins" classifies a*, b* into bins; "gan" is adversarial
    model: ModelConfig = field(default_factory=lambda: ModelConfig(
        image_size=64, filters=(32, 64, 128, 256), leaky_slope=0.2, normalization="batch", final_skip=True,
        output="ab"))
    epochs: int = 24
    batch_size: int = 16
    learning_rate: float = 1e-3
    final_learning_rate_share: float = 0.05  # cosine decay ends at this share of learning_rate
    flips: bool = True
    # < 1: each training image is a random square crop of its full-size photo, its side between
    # this share and all of the photo's, shrunk to the model's size (training.FlipBatches)
    crop_share: float = 1.0
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
    # head="bins" only (bins.py): the a*, b* grid, the soft encoding's width, the share of
    # uniform distribution in the rebalancing, and the annealed-mean temperatures to choose from
    bin_grid: float = 10.0
    bin_sigma: float = 5.0
    rebalance: float = 0.5
    temperatures: tuple[float, ...] = (0.2, 0.3, 0.38, 0.5, 0.7, 1.0)
    # head="gan" only (gan.py): the adversarial term's weight against the mean absolute
    # a*, b* error (Isola et al.'s 1:100), and the patch discriminator's widths
    adversarial_weight: float = 0.01
    discriminator_filters: tuple[int, ...] = (32, 64, 128)
    # "auto" | "float32" | "bfloat16" for training (unetcolor.unet.precision)
    precision: str = field(default="auto", compare=False)

    def __post_init__(self):
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", model_config_from_dict(self.model))
        object.__setattr__(self, "chroma_gains", tuple(float(g) for g in self.chroma_gains))
        object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        object.__setattr__(self, "discriminator_filters", tuple(int(f) for f in self.discriminator_filters))
        if self.precision not in precisions.SETTINGS:
            raise ValueError(f"precision must be one of {precisions.SETTINGS}, got {self.precision!r}")
        if self.head != "regression" and self.finetune_epochs:
            raise ValueError("the log-MSE fine-tuning is for the regression head: set finetune_epochs=0")
        if not self.name.isidentifier():
            raise ValueError(f"name must be a plain word (it names the files), got {self.name!r}")
        if self.model.output != "ab":
            raise ValueError("a colorizer recipe predicts a*, b*: use ModelConfig(output='ab')")
        if not 0 < self.crop_share <= 1:
            raise ValueError(f"crop_share must be in (0, 1], got {self.crop_share}")
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
