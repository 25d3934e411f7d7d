"""The bins head (Zhang, Isola & Efros 2016): a*, b* classified over the occupied cells of a grid, trained with a
soft-encoded cross-entropy (optionally rebalanced towards rare colours), decoded by the annealed mean."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from ..config import ModelConfig, RecipeConfig
from ..unet.model import build_unet
from .head import Head

AB_SCALE = 128.0  # the models' a*, b* are divided by this


def bin_centers(ab: np.ndarray, grid: float = 10.0, min_count: int = 1) -> np.ndarray:
    """Centres (Q, 2), sorted, of the grid cells holding at least min_count of the colours ab (..., 2)."""
    cells = np.rint(np.asarray(ab, dtype=np.float64).reshape(-1, 2) / grid).astype(np.int64)
    occupied, counts = np.unique(cells, axis=0, return_counts=True)
    occupied = occupied[counts >= min_count]
    if len(occupied) == 0:
        raise ValueError(f"no a*, b* bin holds {min_count} or more of the {len(cells)} colours")
    return (occupied * grid).astype(np.float32)


def soft_targets(ab: np.ndarray, centers: np.ndarray, sigma: float) -> np.ndarray:
    """The soft encoding: a*, b* (..., 2) -> weights (..., Q) summing to 1, ~ exp(-d^2 / (2 sigma^2))."""
    distance2 = ((np.asarray(ab, np.float64)[..., None, :] - centers) ** 2).sum(-1)
    logits = -distance2 / (2 * sigma**2)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


def rebalancing_weights(ab: np.ndarray, centers: np.ndarray, sigma: float, rebalance: float,
                        chunk: int = 65536) -> np.ndarray:
    """Per-bin weights w ~ 1 / ((1 - rebalance) p + rebalance / Q), p the bins' soft-encoded frequency
    in ab (..., 2), normalised so that sum(p * w) = 1."""
    if not 0 <= rebalance <= 1:
        raise ValueError(f"rebalance must be in [0, 1], got {rebalance}")
    flat = np.asarray(ab, np.float64).reshape(-1, 2)
    frequency = np.zeros(len(centers))
    for start in range(0, len(flat), chunk):
        frequency += soft_targets(flat[start:start + chunk], centers, sigma).sum(0)
    frequency /= frequency.sum()
    weights = 1.0 / ((1 - rebalance) * frequency + rebalance / len(centers))
    return (weights / (frequency * weights).sum()).astype(np.float32)


class SoftBinLoss(keras.losses.Loss):
    """Rebalanced cross-entropy between logits (N, H, W, Q) and the soft encoding of y_true, a*, b* / 128."""

    def __init__(self, centers: np.ndarray, weights: np.ndarray, sigma: float, name: str = "soft_bin_loss"):
        super().__init__(name=name)
        self.centers, self.weights = np.asarray(centers, np.float32), np.asarray(weights, np.float32)
        self.sigma = float(sigma)

    def call(self, y_true, y_pred):
        ops = keras.ops
        ab = ops.cast(y_true, "float32") * AB_SCALE  # (N, H, W, 2)
        # |ab - c|^2 expanded, so no (N, H, W, Q, 2) tensor is ever built: about twice as fast
        distance2 = (ops.sum(ops.square(ab), axis=-1, keepdims=True) - 2 * ops.matmul(ab, self.centers.T)
                     + np.sum(self.centers**2, axis=-1))  # (N, H, W, Q)
        target = ops.softmax(-distance2 / (2 * self.sigma**2), axis=-1)
        pixel_weight = ops.sum(target * self.weights, axis=-1)
        logits = ops.cast(y_pred, "float32")
        # -sum(target * log_softmax(logits)) with sum(target) = 1
        cross_entropy = ops.logsumexp(logits, axis=-1) - ops.sum(target * logits, axis=-1)
        return pixel_weight * cross_entropy  # (N, H, W); Keras averages


def logits_model(config: ModelConfig, bins: int) -> keras.Model:
    """The U-Net of config ending in a 1x1 convolution to ``bins`` logits."""
    unet = build_unet(config)
    logits = layers.Conv2D(bins, 1, dtype="float32", name="ab_logits")(unet.get_layer("color").input)
    return keras.Model(unet.input, logits, name="unet_ab_bins_logits")


def decoded_model(trained: keras.Model, config: ModelConfig, centers: np.ndarray, temperature: float) -> keras.Model:
    """trained's weights (a logits_model) in a fresh float32 model outputting the annealed mean a*, b* / 128 at
    temperature (1: the mean; towards 0: the mode)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    model = logits_model(config, len(centers))
    model.set_weights(trained.get_weights())
    x = layers.Rescaling(1.0 / temperature, name="annealing")(model.output)
    x = layers.Softmax(axis=-1, name="bin_probabilities")(x)
    expectation = layers.Dense(2, use_bias=False, trainable=False, name="expected_ab")
    ab = expectation(x)
    expectation.set_weights([np.asarray(centers, np.float32) / AB_SCALE])
    return keras.Model(model.input, ab, name="unet_ab_bins")


@keras.saving.register_keras_serializable(package="unetcolor")
class ConfidenceAnnealing(layers.Layer):
    """logits (N, H, W, Q) -> the annealed mean a*, b* / 128 at a per-pixel temperature
    low + (high - low) * H, H the entropy of the pixel's softmax divided by log Q."""

    def __init__(self, centers, low: float, high: float, **kwargs):
        super().__init__(**kwargs)
        if not 0 < low <= high:
            raise ValueError(f"temperatures must satisfy 0 < low <= high, got {low}, {high}")
        self.centers = np.asarray(centers, np.float32).reshape(-1, 2)
        self.low, self.high = float(low), float(high)

    def call(self, logits):
        ops = keras.ops
        logits = ops.cast(logits, "float32")
        log_p = ops.log_softmax(logits, axis=-1)
        entropy = -ops.sum(ops.exp(log_p) * log_p, axis=-1, keepdims=True) / np.log(len(self.centers))
        temperature = self.low + (self.high - self.low) * entropy
        return ops.matmul(ops.softmax(logits / temperature, axis=-1), self.centers / AB_SCALE)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2)

    def get_config(self):
        return {**super().get_config(), "centers": self.centers.tolist(), "low": self.low, "high": self.high}


class BinsHead(Head):
    kind = "bins"
    description = ("L*a*b* U-Net classifying a*, b* into bins at reduced size, annealed-mean decoding; "
                   "unetcolor.colorizers.bins")
    stage = "bins_cross_entropy"

    def __init__(self, config: RecipeConfig, centers: np.ndarray, weights: np.ndarray):
        super().__init__(config)
        self.centers, self.weights = np.asarray(centers, np.float32), np.asarray(weights, np.float32)

    @classmethod
    def for_data(cls, config, fit_y) -> "BinsHead":
        ab = np.asarray(fit_y) * AB_SCALE
        centers = bin_centers(ab, config.bin_grid)
        return cls(config, centers, rebalancing_weights(ab, centers, config.bin_sigma, config.rebalance))

    def build(self) -> keras.Model:
        return logits_model(self.config.model, len(self.centers))

    def compile(self, model, schedule) -> None:
        loss = SoftBinLoss(self.centers, self.weights, self.config.bin_sigma)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule()), loss=loss)

    def export(self, trained, value) -> keras.Model:
        return decoded_model(trained, self.config.model, self.centers, value)

    def record(self) -> dict:
        return {"bins": {"centers": self.centers.tolist(), "rebalancing_weights": self.weights.tolist()}}
