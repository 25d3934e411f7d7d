"""The data every head trains on: the tuning subset carved out of the training photos, and
the (gray, a*b*) pairs at the model's reduced size."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .. import color
from ..evaluation import predict


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
