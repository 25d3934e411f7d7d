"""What a colorizer head is: the model trained, how it is compiled, and the float32 model
saved from its weights at the decoding knob chosen on the tuning subset. One module per
head implements it: ``regression``, ``bins``, ``gan``."""

from __future__ import annotations

import keras
import numpy as np

from ..config import RecipeConfig


def one_optimizer(model: keras.Model) -> list[tuple]:
    """[(optimizer, the variables it updates)] of a model compiled with one optimizer."""
    return [(model.optimizer, model.trainable_variables)]


class Head:
    """The base of the heads. ``stage`` names the first training stage in the history;
    ``keep_last``: keep the last epoch rather than the one with the lowest tuning loss."""

    kind = ""  # RecipeConfig.head names it; registry.HEADS maps each kind to its class
    description = ""  # one line for the provenance record
    stage = ""
    keep_last = False

    def __init__(self, config: RecipeConfig):
        self.config = config

    @classmethod
    def for_data(cls, config: RecipeConfig, fit_y: np.ndarray) -> "Head":
        """The head for training on fit_y (a*, b* / 128 of the fit photos)."""
        return cls(config)

    def build(self) -> keras.Model:
        raise NotImplementedError

    def compile(self, model: keras.Model, schedule) -> None:
        """Compile model for training; schedule() makes a fresh learning-rate schedule."""
        raise NotImplementedError

    def optimizers(self, model: keras.Model) -> list[tuple]:
        """[(optimizer, the variables it updates)] of the compiled model, whose state a checkpoint keeps."""
        return one_optimizer(model)

    def export(self, trained: keras.Model, value: float) -> keras.Model:
        """A fresh float32 model with trained's weights that outputs a*, b* / 128, decoded at
        the knob value (``RecipeConfig.choices``)."""
        raise NotImplementedError

    def record(self) -> dict:
        """What the provenance must keep to rebuild the head (e.g. the bins)."""
        return {}

    def after_training(self, model: keras.Model, rgb, tuning_ids, validation_ids, say=print) -> dict:
        """Measures of the saved float32 model that its provenance keeps beyond the held-out
        scores every head gets (rgb: the prepared photos; say: the run's log)."""
        return {}
