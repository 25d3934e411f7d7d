"""Small configs for tests: the library's dataclasses have no defaults (the paper's settings are
written once, in profiles/paper.yaml), so tests name theirs here, once."""

from __future__ import annotations

from unetcolor.config import ModelConfig, TrainConfig


def model(image_size: int = 32, filters=(4, 8, 8), **overrides) -> ModelConfig:
    values = {"leaky_slope": 0.2, "normalization": "none", "final_skip": True, "output": "rgb", **overrides}
    return ModelConfig(image_size=image_size, filters=tuple(filters), **values)


def train(model_config: ModelConfig | None = None, **overrides) -> TrainConfig:
    values = {"epochs": 3, "batch_size": 4, "learning_rate": 1e-3, "split": "80_20", "loss": "mse", "seed": 7,
              "last_batch": "fill", "precision": "float32", **overrides}
    return TrainConfig(model=model_config or model(), **values)
