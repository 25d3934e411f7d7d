"""After training, on the tuning subset only: the decoding knob (chroma gain or annealing
temperature) and, where the recipe asks, the a*, b* offset that cancels the mean colour cast.
``evaluate`` scores a saved model exactly as notebook 05 does."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
from keras import layers

from .. import color
from ..evaluation import metrics, predict
from . import bins
from .head import Head


def evaluate(model: keras.Model, rgb: np.ndarray, gray: np.ndarray, ssim: bool = True) -> pd.DataFrame:
    """Colorize full-size uint8 gray (N, H, W) with predict.colorize_photos and score
    against uint8 RGB (N, H, W, 3) as notebook 05 does (metrics.evaluate_images).
    ssim=False skips SSIM (the slow part) for quick choices."""
    colorized = np.stack(list(predict.colorize_photos(model, list(gray))))
    if ssim:
        return metrics.evaluate_images(rgb, colorized, gray)
    baseline = color.gray_baseline(gray)
    return pd.DataFrame({
        "psnr_model": metrics.psnr_batch(rgb, colorized),
        "psnr_gray": metrics.psnr_batch(rgb, baseline),
        "colorfulness_model": [metrics.colorfulness(image) for image in colorized],
        "colorfulness_true": [metrics.colorfulness(image) for image in rgb],
    })


def with_chroma_offset(model: keras.Model, offset: tuple[float, float]) -> keras.Model:
    """model followed by a constant shift of its a*, b* output by offset (a*, b* units):
    a Rescaling layer's offset, loadable in safe mode."""
    shift = layers.Rescaling(1.0, offset=[float(o) / bins.AB_SCALE for o in offset], name="chroma_offset")
    return keras.Model(model.input, shift(model.output), name=model.name)


def cast_correction(model: keras.Model, rgb: np.ndarray, gray: np.ndarray) -> tuple[float, float]:
    """The a*, b* offset that cancels model's mean colour cast (metrics.ab_bias) on the
    full-size uint8 photos (rgb, gray) -- the tuning subset."""
    colorized = np.stack(list(predict.colorize_photos(model, list(gray))))
    a_bias, b_bias = metrics.ab_bias(rgb, colorized)
    return -a_bias, -b_bias


def decoded(trained, head: Head, value: float, offset: tuple[float, float] | None) -> keras.Model:
    """The saved model: head.export at the knob value, shifted by offset where there is one."""
    model = head.export(trained, value)
    return with_chroma_offset(model, offset) if offset is not None else model


def choose_decoding(trained, head: Head, rgb, gray) -> tuple[float, pd.DataFrame]:
    """On (rgb, gray) -- the tuning subset -- the candidate (chroma gain or temperature,
    RecipeConfig.choices) whose output is the most colourful among those whose mean PSNR
    beats the gray baseline's by config.min_psnr_gain dB; if none does, the one with the
    best mean PSNR. With config.bias_correction each candidate is scored after the offset
    that cancels its own mean cast on this subset (columns a_offset, b_offset).
    Returns (value, one row per candidate)."""
    knob, candidates = head.config.choices
    rows = []
    for value in candidates:
        model, offset = head.export(trained, value), None
        if head.config.bias_correction:
            offset = cast_correction(model, rgb, gray)
            model = with_chroma_offset(model, offset)
        scores = evaluate(model, rgb, gray, ssim=False)
        rows.append({knob: value, "psnr": scores["psnr_model"].mean(), "psnr_gray": scores["psnr_gray"].mean(),
                     "colorfulness": scores["colorfulness_model"].mean(),
                     "colorfulness_true": scores["colorfulness_true"].mean(),
                     **({"a_offset": offset[0], "b_offset": offset[1]} if offset is not None else {})})
    table = pd.DataFrame(rows)
    enough = table[table["psnr"] >= table["psnr_gray"] + head.config.min_psnr_gain]
    best = enough.loc[enough["colorfulness"].idxmax()] if len(enough) else table.loc[table["psnr"].idxmax()]
    return float(best[knob]), table


def chosen_offset(config, choices: pd.DataFrame, value: float) -> tuple[float, float] | None:
    """The offset recorded for the chosen knob value (None without bias correction)."""
    if not config.bias_correction:
        return None
    knob, _ = config.choices
    chosen = choices[np.isclose(choices[knob], value)].iloc[0]
    return float(chosen["a_offset"]), float(chosen["b_offset"])
