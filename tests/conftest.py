"""Shared fixtures: a tiny prepared dataset of real photo crops and a tiny model config."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

from unetcolor.photos import data

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


def throwaway_project(
        tmp_path: Path, photos_name: str, suffix: str, seed: int, count: int = 16) -> tuple[Path, Path, dict]:
    """A project root under tmp_path (the notebooks and profiles copied, the package linked) and a
    folder of `count` generated photos; returns (project, photos, an environment pointing the
    package at the project and at a cache of its own)."""
    root = Path(__file__).resolve().parents[1]
    project = tmp_path / "project"
    for part in ("notebooks", "profiles"):
        shutil.copytree(root / part, project / part)
    (project / "lib").mkdir()
    (project / "lib" / "unetcolor").symlink_to(root / "lib" / "unetcolor")
    shutil.copy(root / "pyproject.toml", project)
    photos = tmp_path / photos_name
    photos.mkdir()
    for i, crop in enumerate(photo_crops(count, 96, seed=seed)):
        Image.fromarray(crop).save(photos / f"photo {i:02d}{suffix}")  # a space in names, as users have
    environment = {**os.environ, "UNETCOLOR_ROOT": str(project), "UNETCOLOR_CACHE": str(tmp_path / "cache")}
    return project, photos, environment


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


@pytest.fixture(scope="session")
def tiny_config():
    """A frozen TrainConfig (tests derive others with dataclasses.replace), so one serves the session."""
    # float32: the tests compare logged metrics with float32 references; `auto` is tested in test_precision
    return tiny.train(model_config=TINY_MODEL, epochs=3, batch_size=4, learning_rate=1e-3, seed=7, precision="float32")


# `make test-unit` runs the test files on every core (pytest-xdist, a file per worker): the end-to-end files, minutes
# of real training and real subprocesses, start first, longest first (as measured one file at a time), so that the
# short ones fill the cores around them instead of one long file running alone at the end
LONG_FIRST = ("test_reproduce.py", "test_notebook_guards.py", "test_train.py", "test_kill.py", "test_browser.py",
              "test_colorizers.py", "test_study.py", "test_colorize_folder.py", "test_bench.py", "test_staleness.py")


def pytest_configure(config):
    """xdist hands out files by their number of tests, most first, unless told to keep this order."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    rank = {name: number for number, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))  # stable within each file
