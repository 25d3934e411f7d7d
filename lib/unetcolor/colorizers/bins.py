"""The bins head (Zhang et al. 2016): each pixel's a*, b* classified into bins of an a*, b*
grid with a soft-encoded, optionally rebalanced cross-entropy (``unetcolor.ab_bins``), and
decoded as the annealed mean; its decoding knob is the annealing temperature."""

from __future__ import annotations

import keras
import numpy as np

from .. import ab_bins
from .head import Head
from .recipe import RecipeConfig


class BinsHead(Head):
    kind = "bins"
    description = ("L*a*b* U-Net classifying a*, b* into bins at reduced size, annealed-mean decoding; "
                   "unetcolor.colorizers.bins")
    stage = "bins_cross_entropy"

    def __init__(self, config: RecipeConfig, centers: np.ndarray, weights: np.ndarray):
        super().__init__(config)
        self.centers = np.asarray(centers, np.float32)  # (Q, 2) a*, b* bin centres
        self.weights = np.asarray(weights, np.float32)  # (Q,) their rebalancing weights

    @classmethod
    def for_data(cls, config, fit_y) -> "BinsHead":
        """The occupied bins of fit_y (a*, b* / 128) and their rebalancing weights."""
        ab = np.asarray(fit_y) * ab_bins.AB_SCALE
        centers = ab_bins.bin_centers(ab, config.bin_grid)
        return cls(config, centers, ab_bins.rebalancing_weights(ab, centers, config.bin_sigma, config.rebalance))

    def build(self) -> keras.Model:
        return ab_bins.logits_model(self.config.model, len(self.centers))

    def compile(self, model, schedule) -> None:
        loss = ab_bins.SoftBinLoss(self.centers, self.weights, self.config.bin_sigma)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule()), loss=loss)

    def export(self, trained, value) -> keras.Model:
        return ab_bins.decoded_model(trained, self.config.model, self.centers, value)

    def record(self) -> dict:
        return {"bins": {"centers": self.centers.tolist(), "rebalancing_weights": self.weights.tolist()}}
