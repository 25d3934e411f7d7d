"""The interface every colorizer head implements (``regression``, ``bins``, ``gan``, ``hints``)."""

from __future__ import annotations

import keras
import numpy as np

from ..config import RecipeConfig


def one_optimizer(model: keras.Model) -> list[tuple]:
    """[(optimizer, the variables it updates)] of a model compiled with one optimizer."""
    return [(model.optimizer, model.trainable_variables)]


class Head:
    """A head: ``kind`` (RecipeConfig.head), a provenance ``description``, the name of its first training
    ``stage``, and ``keep_last``: keep the last epoch rather than the one with the lowest tuning loss."""

    kind = description = stage = ""
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
        """A fresh float32 model with trained's weights that outputs a*, b* / 128, decoded at the knob value."""
        raise NotImplementedError

    def record(self) -> dict:
        """What the provenance must keep to rebuild the head."""
        return {}

    def after_training(self, model: keras.Model, rgb, tuning_ids, validation_ids, say=print) -> dict:
        """The head's own measures of the saved model, kept in its provenance."""
        return {}
