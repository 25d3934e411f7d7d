"""Shared fixtures: a tiny prepared dataset of real photo crops and a tiny model config."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

from unetcolor import data
from unetcolor.config import ModelConfig, TrainConfig
import tiny

TINY_MODEL = tiny.model(image_size=32, filters=(4, 8, 8))


def photo_crops(count: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """Real-photo content (scikit-image's bundled colour photos), random square crops."""
    from skimage import data as skdata

    sources = [skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket()]
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(count):
        photo = sources[i % len(sources)]
        side = int(rng.integers(size * 2, min(photo.shape[:2])))
        top = int(rng.integers(0, photo.shape[0] - side + 1))
        left = int(rng.integers(0, photo.shape[1] - side + 1))
        crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((size, size), Image.LANCZOS)
        crops.append(np.asarray(crop))
    return crops


@pytest.fixture(scope="session")
def tiny_processed(tmp_path_factory):
    """A prepared dataset of 20 real-photo crops at 32x32 with 80/20 and 70/30 splits."""
    root = tmp_path_factory.mktemp("tiny")
    photos = root / "photos"
    photos.mkdir()
    for i, crop in enumerate(photo_crops(20, 64)):
        Image.fromarray(crop).save(photos / f"photo {i:02d}.png")
    processed = root / "processed"
    data.prepare_dataset([photos], processed, image_size=32, progress=False)
    data.make_splits(processed, splits=((80, 20), (70, 30)), seed=1)
    return processed


@pytest.fixture
def tiny_config():
    # float32: the tests compare logged metrics with float32 references; `auto` is tested in test_precision
    return tiny.train(model_config=TINY_MODEL, epochs=3, batch_size=4, learning_rate=1e-3, seed=7, precision="float32")
