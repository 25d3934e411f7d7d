"""How good a colorization is: PSNR (paper eq. 3), SSIM, colorfulness, and
what Keras' "accuracy" (the paper's Figures 4-7) actually measures.

All image metrics take 8-bit images, uint8 RGB of shape (H, W, 3) (or
(N, H, W, 3) for the batch functions), so every number is computed on exactly
the pixels a viewer would see. Model outputs in [-1, 1] are converted first
with ``color.output_to_rgb``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import color, images


def _check_pair(reference: np.ndarray, test: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    reference, test = np.asarray(reference), np.asarray(test)
    if reference.dtype != np.uint8 or test.dtype != np.uint8:
        raise ValueError(
            f"{what} expects uint8 images, got {reference.dtype} and {test.dtype}; "
            "convert model outputs in [-1, 1] with color.output_to_rgb first"
        )
    if reference.shape != test.shape:
        raise ValueError(f"{what}: image shapes differ, {reference.shape} vs {test.shape}")
    return reference, test


def _squared_error_sum(reference: np.ndarray, test: np.ndarray, axis=None):
    """Exact sum of squared differences of uint8 arrays (integer arithmetic, no rounding)."""
    difference = reference.astype(np.int32) - test.astype(np.int32)
    return np.sum(difference * difference, axis=axis, dtype=np.int64)


def psnr(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB, the paper's eq. 3:

        PSNR = 10 log10(peak^2 / MSE),  MSE over all pixels and all channels.

    reference, test: uint8 images of the same shape, e.g. (H, W, 3).
    Returns inf for identical images. (The paper's eq. 4 as printed,
    log10(peak^2 / MSE), drops the factor 10; eq. 3 and the dB values the
    paper reports need it.)
    """
    reference, test = _check_pair(reference, test, "psnr")
    mse = _squared_error_sum(reference, test) / reference.size
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(peak**2 / mse))


def psnr_batch(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> np.ndarray:
    """Per-image PSNR in dB: uint8 (N, H, W, 3) twice -> float64 (N,), inf where identical."""
    reference, test = _check_pair(reference, test, "psnr_batch")
    if reference.ndim < 2:
        raise ValueError(f"psnr_batch expects a batch (N, H, W, 3), got shape {reference.shape}")
    # One image at a time keeps the int32 difference array the size of one image.
    values = np.empty(len(reference), dtype=np.float64)
    for index, (a, b) in enumerate(zip(reference, test)):
        mse = _squared_error_sum(a, b) / a.size
        values[index] = np.inf if mse == 0 else 10.0 * np.log10(peak**2 / mse)
    return values


def ssim(reference: np.ndarray, test: np.ndarray, **options) -> float:
    """Structural similarity of two uint8 RGB images (H, W, 3), in [-1, 1] (1 = identical).

    scikit-image's ``structural_similarity`` with ``data_range=255`` and the
    channels averaged (``channel_axis=-1``); its default is a 7x7 uniform window.
    ``options`` go to scikit-image, e.g. ``gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False`` for the 11x11 Gaussian window of Wang et al.
    (2004), which ``tf.image.ssim`` uses. Images must be at least 7x7.
    """
    from skimage.metrics import structural_similarity

    reference, test = _check_pair(reference, test, "ssim")
    if reference.ndim != 3 or reference.shape[-1] != 3:
        raise ValueError(f"ssim expects RGB images (H, W, 3), got shape {reference.shape}")
    return float(structural_similarity(reference, test, channel_axis=-1, data_range=255, **options))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colorfulness M of a uint8 RGB image (H, W, 3):

        rg = R - G,  yb = (R + G) / 2 - B   (on 0..255 values)
        M  = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2)

    0 for any gray image (R = G = B); about 33 is "moderately colourful",
    above 59 "highly colourful" on their scale. std is the population std.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"colorfulness expects uint8 RGB (H, W, 3), got {rgb.dtype} {rgb.shape}")
    red, green, blue = (rgb[..., channel].astype(np.float32) for channel in range(3))
    rg = red - green
    yb = 0.5 * (red + green) - blue
    # float64 accumulators: float32 sums over megapixels lose digits
    std_root = np.sqrt(rg.var(dtype=np.float64) + yb.var(dtype=np.float64))
    mean_root = np.sqrt(rg.mean(dtype=np.float64) ** 2 + yb.mean(dtype=np.float64) ** 2)
    return float(std_root + 0.3 * mean_root)


def keras_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """What ``model.compile(loss="mse", metrics=["accuracy"])`` reports for this model.

    y_true, y_pred: (N, H, W, C) with C = 3 (RGB in [-1, 1]) or 2 (a*, b* / 128);
    any order-preserving scaling (uint8 or [-1, 1]) gives the same value.

    Keras 3 resolves the string "accuracy" in
    ``keras/src/trainers/compile_utils.py::get_metric``: the output's last axis
    is > 1 and y_true has the same rank, so it is neither binary nor sparse, and
    it becomes ``CategoricalAccuracy``, i.e.

        mean over all pixels of [argmax(y_true, -1) == argmax(y_pred, -1)].

    For RGB that is the fraction of pixels whose *dominant channel* (the
    largest of R, G, B) the model got right. It ignores how far off the colour
    is, and ties go to the first channel: every neutral gray pixel of the
    target (R = G = B) counts as "red". A gray output scores about the share
    of red-dominant pixels. So it says little about colorization quality; it
    is reported because the paper plots it (Figures 4-7). For the L*a*b*
    variant (C = 2) it is the fraction of pixels where the model picks the
    right one of a*, b* as the larger.

    Keras averages per image, then over images weighted equally; with all
    images the same size that equals the mean over all pixels computed here.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim < 2 or y_true.shape[-1] < 2:
        raise ValueError(
            f"keras_accuracy expects y_true and y_pred of the same shape (..., C) with C >= 2, "
            f"got {y_true.shape} and {y_pred.shape}"
        )
    return float(np.mean(np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)))


def evaluate_images(
    true_rgb: np.ndarray,
    pred_rgb: np.ndarray,
    gray: np.ndarray,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per image: the model against the gray baseline (paper Section 4.1).

    true_rgb, pred_rgb: uint8 (N, H, W, 3); gray: uint8 (N, H, W) or (N, H, W, 1),
    the model's input. The gray baseline is ``color.gray_baseline(gray)``, the
    gray copied into R, G and B: a colorizer that does nothing.

    Columns: psnr_model, psnr_gray (dB, inf if identical), ssim_model, ssim_gray,
    colorfulness_model, colorfulness_gray (always 0), colorfulness_true.
    The index is ``names`` if given, else 0..N-1.
    """
    true_rgb, pred_rgb = _check_pair(true_rgb, pred_rgb, "evaluate_images")
    baseline = color.gray_baseline(gray)
    if baseline.shape != true_rgb.shape:
        raise ValueError(f"evaluate_images: gray {np.shape(gray)} does not match images {true_rgb.shape}")
    rows = [
        {
            "psnr_model": psnr(truth, prediction),
            "psnr_gray": psnr(truth, gray_rgb),
            "ssim_model": ssim(truth, prediction),
            "ssim_gray": ssim(truth, gray_rgb),
            "colorfulness_model": colorfulness(prediction),
            "colorfulness_gray": colorfulness(gray_rgb),
            "colorfulness_true": colorfulness(truth),
        }
        for truth, prediction, gray_rgb in zip(true_rgb, pred_rgb, baseline)
    ]
    index = pd.Index(list(names) if names is not None else range(len(rows)), name="image")
    if len(index) != len(rows):
        raise ValueError(f"evaluate_images: {len(index)} names for {len(rows)} images")
    return pd.DataFrame(rows, index=index)


METHODS = {"model": "model", "gray": "gray baseline", "true": "ground truth"}


def summarize(per_image: pd.DataFrame) -> pd.DataFrame:
    """A tidy table of ``evaluate_images``' result: one row per (metric, method)
    with columns metric, method (model / gray baseline / ground truth), mean,
    std (sample std, ddof=1), median and n (images).

    An infinite PSNR (a prediction identical to the truth) makes the mean inf
    and the std NaN; the median is still informative.
    """
    rows = []
    for column in per_image.columns:
        metric, _, method = column.rpartition("_")
        if method not in METHODS:
            raise ValueError(f"summarize: column {column!r} is not <metric>_<model|gray|true>")
        values = per_image[column].astype(float)
        with np.errstate(invalid="ignore"):  # inf - inf in the std of an infinite PSNR
            spread = values.std(ddof=1)
        rows.append(
            {
                "metric": metric,
                "method": METHODS[method],
                "mean": values.mean(),
                "std": spread,
                "median": values.median(),
                "n": int(values.count()),
            }
        )
    return pd.DataFrame(rows)


PHOTO_COLUMNS = ("file", "height", "width", "psnr_model", "psnr_gray", "ssim_model", "ssim_gray",
                 "colorfulness_model", "colorfulness_true")


def evaluate_photos(
    colorize: Callable[[np.ndarray], np.ndarray],
    files: Iterable[str | os.PathLike],
    n_keep: int = 0,
) -> tuple[pd.DataFrame, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Colorize colour photos of any size from their gray and score each against its original.

    colorize: uint8 RGB (H, W, 3) -> uint8 RGB (H, W, 3) of the same size; it is
    given the colour original and must use only its gray, as
    ``lambda rgb: predict.colorize_photo(model, rgb)`` does.
    files: photo files, read with ``images.read_photo`` (8-bit RGB, EXIF
    orientation applied, alpha dropped); each is scored at its native size.
    n_keep: how many (gray, colorized, original) triples to return, from the first files.

    Returns (table, kept). table has one row per file, in order, with columns
    PHOTO_COLUMNS: file (name), height, width (pixels), psnr_model, psnr_gray
    (dB, inf if identical), ssim_model, ssim_gray (in [-1, 1]),
    colorfulness_model, colorfulness_true (>= 0). "gray" is the gray baseline
    ``color.gray_baseline(color.rgb_to_gray(original))``. kept holds the first
    n_keep triples: gray uint8 (H, W), colorized and original uint8 (H, W, 3).
    """
    if n_keep < 0:
        raise ValueError(f"n_keep must be >= 0, got {n_keep}")
    rows, kept = [], []
    for path in map(Path, files):
        original = images.read_photo(path).rgb
        gray = color.rgb_to_gray(original)
        colorized = colorize(original)
        baseline = color.gray_baseline(gray)
        rows.append({
            "file": path.name, "height": original.shape[0], "width": original.shape[1],
            "psnr_model": psnr(original, colorized), "psnr_gray": psnr(original, baseline),
            "ssim_model": ssim(original, colorized), "ssim_gray": ssim(original, baseline),
            "colorfulness_model": colorfulness(colorized), "colorfulness_true": colorfulness(original),
        })
        if len(kept) < n_keep:
            kept.append((gray, colorized, original))
    return pd.DataFrame(rows, columns=list(PHOTO_COLUMNS)), kept


def side_by_side(colorizers: dict[str, Callable[[np.ndarray], np.ndarray]],
                 photos: Sequence[np.ndarray]) -> tuple[list[list[np.ndarray]], list[list[str]]]:
    """One row per photo: its gray, each colorizer's output, the original; and under each
    colorized image its PSNR (paper eq. 3) against the original, under the gray its own.

    colorizers: name -> uint8 RGB (H, W, 3) -> uint8 RGB of the same size (using only the gray).
    photos: uint8 RGB originals of any size. Returns (rows, cell titles) for plots.image_grid;
    the columns are gray, the colorizers in the order given, original.
    """
    rows, titles = [], []
    for original in photos:
        gray = color.rgb_to_gray(original)
        outputs = [colorize(original) for colorize in colorizers.values()]
        rows.append([gray, *outputs, original])
        titles.append([f"gray copy: {psnr(original, color.gray_baseline(gray)):.2f} dB",
                       *[f"PSNR {psnr(original, output):.2f} dB" for output in outputs], ""])
    return rows, titles
