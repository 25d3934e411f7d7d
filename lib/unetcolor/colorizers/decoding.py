"""The choices made after training on the tuning subset: the decoding knob (chroma gain or annealing
temperature) and, where the recipe asks, the a*, b* offset that cancels the mean colour cast."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
from keras import layers

from .. import color
from ..evaluation import metrics, predict
from . import bins
from .head import Head


def colorize_all(model: keras.Model, gray: np.ndarray) -> np.ndarray:
    """uint8 RGB (N, H, W, 3): model's colouring of full-size uint8 gray (N, H, W), as predict does it."""
    return np.stack(list(predict.colorize_photos(model, list(gray))))


def quick_scores(rgb: np.ndarray, colorized: np.ndarray, gray: np.ndarray) -> pd.DataFrame:
    """metrics.evaluate_images without SSIM (the slow part): per image, PSNR of colorized and of the gray copy
    against rgb, and the colorfulness of colorized and rgb."""
    return pd.DataFrame({
        "psnr_model": metrics.psnr_batch(rgb, colorized),
        "psnr_gray": metrics.psnr_batch(rgb, color.gray_baseline(gray)),
        "colorfulness_model": [metrics.colorfulness(image) for image in colorized],
        "colorfulness_true": [metrics.colorfulness(image) for image in rgb],
    })


def with_chroma_offset(model: keras.Model, offset: tuple[float, float]) -> keras.Model:
    """model with its a*, b* output shifted by offset (a*, b* units): a Rescaling layer's offset."""
    shift = layers.Rescaling(1.0, offset=[float(o) / bins.AB_SCALE for o in offset], name="chroma_offset")
    return keras.Model(model.input, shift(model.output), name=model.name)


def cast_correction(model: keras.Model, rgb: np.ndarray, gray: np.ndarray) -> tuple[float, float]:
    """The a*, b* offset that cancels model's mean colour cast (metrics.ab_bias) on the photos (rgb, gray)."""
    a_bias, b_bias = metrics.ab_bias(rgb, colorize_all(model, gray))
    return -a_bias, -b_bias


def choose_decoding(trained, head: Head, rgb, gray) -> tuple[float, pd.DataFrame]:
    """(the knob value chosen on the tuning photos (rgb, gray), one row per candidate value): the most
    colourful whose mean PSNR beats the gray copy's by config.min_psnr_gain dB, else the best PSNR.
    With config.bias_correction each is scored after cancelling its own cast (columns a_offset, b_offset)."""
    knob, candidates = head.config.choices
    rows = []
    for value in candidates:
        model, offset = head.export(trained, value), {}
        if head.config.bias_correction:
            offset = dict(zip(("a_offset", "b_offset"), cast_correction(model, rgb, gray)))
            model = with_chroma_offset(model, tuple(offset.values()))
        scores = quick_scores(rgb, colorize_all(model, gray), gray)
        rows.append({knob: value, "psnr": scores["psnr_model"].mean(), "psnr_gray": scores["psnr_gray"].mean(),
                     "colorfulness": scores["colorfulness_model"].mean(),
                     "colorfulness_true": scores["colorfulness_true"].mean(), **offset})
    table = pd.DataFrame(rows)
    enough = table[table["psnr"] >= table["psnr_gray"] + head.config.min_psnr_gain]
    best = enough.loc[enough["colorfulness"].idxmax()] if len(enough) else table.loc[table["psnr"].idxmax()]
    return float(best[knob]), table


def chosen_offset(config, choices: pd.DataFrame, value: float) -> tuple[float, float] | None:
    """The offset recorded for the chosen knob value (None without bias correction)."""
    if not config.bias_correction:
        return None
    chosen = choices[np.isclose(choices[config.choices[0]], value)].iloc[0]
    return float(chosen["a_offset"]), float(chosen["b_offset"])
