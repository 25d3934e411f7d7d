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

from .. import color
from ..photos import images


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


# ------------------------------------------------- a*, b* error: AuC and colour cast
#
# The measures Zhang, Isola & Efros (ECCV 2016, "Colorful Image Colorization", Section 3.1 and
# Table 1) report beside PSNR: the area under the cumulative distribution of the per-pixel error in
# the a*, b* plane, raw and class-rebalanced; and here the mean signed error of a* and of b*, which
# turns a colour cast (a yellow sky: b* too high) into a number.

AB_THRESHOLDS = tuple(range(151))  # Zhang et al.: thresholds 0 to 150 a*, b* units, integer steps
AB_GRID = 10.0  # their a*, b* bin size, the same grid as colorizers.bins.bin_centers (cells centred on multiples)
AB_RANGE = 150.0  # |a*|, |b*| the bin grid covers; 8-bit sRGB stays within about 128
COLOR_MEASURES = ("ab_auc", "ab_auc_rebalanced", "a_bias", "b_bias")


def _check_thresholds(thresholds) -> np.ndarray:
    values = np.asarray(list(thresholds), dtype=np.float64)
    if values.ndim != 1 or len(values) == 0 or not np.all(np.isfinite(values)) or np.any(np.diff(values) <= 0):
        raise ValueError(f"thresholds must be a non-empty increasing sequence of finite numbers, got {thresholds!r}")
    return values


class _ABErrorCounts:
    """Running counts for the a*, b* error curve and bias of one prediction against one truth.

    counts[cell, k]: pixels whose ground truth falls in a*, b* grid cell ``cell`` and whose
    error needs thresholds[k] or more (k = len(thresholds): beyond the largest threshold).
    A (cells x (T + 1)) histogram, so a whole set goes through in chunks with no per-pixel
    threshold comparison kept.
    """

    def __init__(self, thresholds, grid: float):
        self.thresholds = _check_thresholds(thresholds)
        if not grid > 0:
            raise ValueError(f"grid must be > 0, got {grid}")
        self.grid = float(grid)
        self.half = int(np.ceil(AB_RANGE / self.grid))  # cells -half..half along a* and b*
        self.side = 2 * self.half + 1
        self.counts = np.zeros((self.side * self.side, len(self.thresholds) + 1), dtype=np.int64)
        self.delta = np.zeros(2, dtype=np.float64)  # summed pred - truth, (a*, b*)
        self.pixels = 0

    def add(self, truth_ab: np.ndarray, pred_ab: np.ndarray) -> None:
        truth_ab = np.asarray(truth_ab, dtype=np.float64).reshape(-1, 2)
        pred_ab = np.asarray(pred_ab, dtype=np.float64).reshape(-1, 2)
        if truth_ab.shape != pred_ab.shape:
            raise ValueError(f"a*, b* arrays differ in size: {truth_ab.shape} vs {pred_ab.shape}")
        difference = pred_ab - truth_ab
        distance = np.hypot(difference[:, 0], difference[:, 1])
        # pixel within thresholds[j] (distance <= t) exactly for j >= k
        k = np.searchsorted(self.thresholds, distance, side="left")
        cells = np.clip(np.rint(truth_ab / self.grid), -self.half, self.half).astype(np.int64) + self.half
        flat = (cells[:, 0] * self.side + cells[:, 1]) * self.counts.shape[1] + k
        self.counts += np.bincount(flat, minlength=self.counts.size).reshape(self.counts.shape)
        self.delta += difference.sum(axis=0)
        self.pixels += len(distance)

    def curve(self, rebalance: bool) -> np.ndarray:
        if self.pixels == 0:
            raise ValueError("no pixels to score")
        within = np.cumsum(self.counts, axis=1)[:, :-1]  # (cells, T): pixels within each threshold
        per_cell = self.counts.sum(axis=1)
        if not rebalance:
            return within.sum(axis=0) / self.pixels
        occupied = per_cell > 0
        # each pixel weighs 1 / (its cell's count x occupied cells): every occupied cell counts the same
        return (within[occupied] / per_cell[occupied, None]).mean(axis=0)

    def bias(self) -> tuple[float, float]:
        if self.pixels == 0:
            raise ValueError("no pixels to score")
        mean_da, mean_db = self.delta / self.pixels
        return float(mean_da), float(mean_db)


def ab_error_curve(truth_ab: np.ndarray, pred_ab: np.ndarray, thresholds: Iterable[float] = AB_THRESHOLDS,
                   rebalance: bool = False, grid: float = AB_GRID) -> np.ndarray:
    """The cumulative distribution of the per-pixel a*, b* error, on a*, b* arrays.

    truth_ab, pred_ab: float a*, b* of CIE L*a*b* (D65), shape (..., 2), the same size; units
    are a*, b* units (8-bit sRGB spans about -128..127). The error of a pixel is the Euclidean
    distance sqrt((a*_pred - a*_true)^2 + (b*_pred - b*_true)^2). thresholds: increasing, in
    a*, b* units (default 0, 1, ..., 150, Zhang et al. 2016).

    Returns float64 (T,): the share of pixels whose error is <= each threshold, in [0, 1].
    Every pixel weighs the same unless ``rebalance``; then a pixel weighs inversely to the
    number of pixels of its ground-truth colour's grid cell (``grid`` a*, b* units wide, cells
    centred on multiples of ``grid`` as in ``colorizers.bins.bin_centers``; |a*|, |b*| beyond
    AB_RANGE fall in the edge cells), normalised so that every occupied cell contributes the
    same and the curve stays in [0, 1]: the mean over occupied cells of each cell's own curve.
    The cell frequencies are those of the pixels given, all of them pooled.
    """
    counts = _ABErrorCounts(thresholds, grid)
    counts.add(truth_ab, pred_ab)
    return counts.curve(rebalance)


def _check_rgb_batch(truth_rgb: np.ndarray, pred_rgb: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    truth_rgb, pred_rgb = _check_pair(truth_rgb, pred_rgb, what)
    if truth_rgb.ndim != 4 or truth_rgb.shape[-1] != 3:
        raise ValueError(f"{what} expects a batch of RGB images (N, H, W, 3), got shape {truth_rgb.shape}")
    return truth_rgb, pred_rgb


def _ab_counts(truth_rgb: np.ndarray, predictions: dict, thresholds, grid: float,
               chunk: int) -> dict[str, _ABErrorCounts]:
    """One pass over the batch, ``chunk`` images at a time (rgb_to_lab's float64 work arrays
    stay small); the truth is converted once for every prediction."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    counts = {name: _ABErrorCounts(thresholds, grid) for name in predictions}
    for start in range(0, len(truth_rgb), chunk):
        truth_ab = color.rgb_to_lab(truth_rgb[start:start + chunk])[..., 1:]
        for name, pred_rgb in predictions.items():
            counts[name].add(truth_ab, color.rgb_to_lab(pred_rgb[start:start + chunk])[..., 1:])
    return counts


def ab_error_auc(truth_rgb: np.ndarray, pred_rgb: np.ndarray, thresholds: Iterable[float] = AB_THRESHOLDS,
                 rebalance: bool = False, grid: float = AB_GRID, chunk: int = 16) -> float:
    """Zhang et al.'s (ECCV 2016) "AuC": the area under the per-pixel a*, b* error CDF, in [0, 1].

    truth_rgb, pred_rgb: uint8 sRGB, shape (N, H, W, 3) (a set; pass image[None] for one image),
    converted with ``color.rgb_to_lab`` (CIE L*a*b*, D65). The CDF is ``ab_error_curve`` over all
    N x H x W pixels pooled: the share of pixels whose a*, b* error is <= t for each threshold t
    (default t = 0, 1, ..., 150 a*, b* units); the AuC is its mean over the thresholds, so 1 for
    a perfect prediction, and for an error of exactly d everywhere (151 - ceil(d)) / 151.

    rebalance=False: every pixel weighs the same (the raw AuC; for images of one size, the mean
    of the per-image AuCs). rebalance=True: the class-rebalanced AuC, each pixel weighted
    inversely to the frequency of its ground-truth colour's ``grid``-unit a*, b* cell, the
    frequencies counted over the whole set given (as Zhang et al. count them over their test
    set), so that every occupied cell weighs the same. Rare, saturated colours then count as
    much as the common grays: a timid, grayish prediction loses more than in the raw AuC.
    """
    truth_rgb, pred_rgb = _check_rgb_batch(truth_rgb, pred_rgb, "ab_error_auc")
    counts = _ab_counts(truth_rgb, {"pred": pred_rgb}, thresholds, grid, chunk)["pred"]
    return float(counts.curve(rebalance).mean())


def ab_bias(truth_rgb: np.ndarray, pred_rgb: np.ndarray, chunk: int = 16) -> tuple[float, float]:
    """The colour cast of a prediction: (mean of a*_pred - a*_true, mean of b*_pred - b*_true).

    truth_rgb, pred_rgb: uint8 sRGB (N, H, W, 3), converted with ``color.rgb_to_lab`` (CIE
    L*a*b*, D65); means over all N x H x W pixels, in a*, b* units. Positive a*: too red (or
    magenta), negative: too green; positive b*: too yellow, negative: too blue. A gray output
    has minus the truth's mean a*, b*; a perfect one (0, 0). A cast that differs in sign between
    photos averages out here: the AuC sees it, the bias does not.
    """
    truth_rgb, pred_rgb = _check_rgb_batch(truth_rgb, pred_rgb, "ab_bias")
    return _ab_counts(truth_rgb, {"pred": pred_rgb}, AB_THRESHOLDS, AB_GRID, chunk)["pred"].bias()


def color_measures(truth_rgb: np.ndarray, predictions: dict[str, np.ndarray],
                   thresholds: Iterable[float] = AB_THRESHOLDS, grid: float = AB_GRID,
                   chunk: int = 16) -> pd.DataFrame:
    """``ab_error_auc`` (raw and rebalanced) and ``ab_bias`` of several predictions of one set,
    converting the truth to L*a*b* once.

    truth_rgb: uint8 sRGB (N, H, W, 3); predictions: name -> uint8 sRGB of the same shape.
    Returns one row per prediction (index ``method``, in the order given) with the columns
    COLOR_MEASURES: ab_auc, ab_auc_rebalanced (in [0, 1], 1 = every pixel exact), a_bias, b_bias
    (a*, b* units), each a set-level number over all pixels pooled.
    """
    arrays = {name: _check_rgb_batch(truth_rgb, pred_rgb, f"color_measures ({name})")[1]
              for name, pred_rgb in predictions.items()}
    truth_rgb = np.asarray(truth_rgb)
    counts = _ab_counts(truth_rgb, arrays, thresholds, grid, chunk)
    rows = [dict(zip(COLOR_MEASURES, (c.curve(False).mean(), c.curve(True).mean(), *c.bias())))
            for c in counts.values()]
    return pd.DataFrame(rows, index=pd.Index(list(counts), name="method"), columns=list(COLOR_MEASURES))


def color_summary(true_rgb: np.ndarray, pred_rgb: np.ndarray, gray: np.ndarray) -> pd.DataFrame:
    """``color_measures`` of the model and of the gray baseline (``color.gray_baseline(gray)``)
    in ``summarize``'s shape: one row per (metric, method) with metric in COLOR_MEASURES, method
    "model" or "gray baseline", mean the set-level value, std and median NaN (a set-level
    number has neither), n the number of images.

    true_rgb, pred_rgb: uint8 (N, H, W, 3); gray: uint8 (N, H, W) or (N, H, W, 1).
    """
    measures = color_measures(true_rgb, {METHODS["model"]: pred_rgb, METHODS["gray"]: color.gray_baseline(gray)})
    return pd.DataFrame([{"metric": metric, "method": method, "mean": float(measures.loc[method, metric]),
                          "std": np.nan, "median": np.nan, "n": len(true_rgb)}
                         for metric in COLOR_MEASURES for method in measures.index])


# ------------------------------------------------- hue: does the sky come out blue?
#
# PSNR and the a*b* AuC reward a timid guess; a blue face or a green cat needs its own number.
# Each pixel of the originals with enough chroma falls in one broad hue class, by its angle in
# the a*b* plane (CIE L*a*b*, D65, degrees counter-clockwise from +a*); a prediction scores, per
# class, the share of that class's pixels whose predicted colour has enough chroma and falls in
# the same class. A gray output scores 0 everywhere.

HUE_MIN_CHROMA = 10.0  # a*b* units: below this a pixel is near-neutral and has no hue class
HUE_CLASSES = (  # name, [start, end) in degrees; the first wraps through 0
    ("red and magenta", 330.0, 25.0),
    ("skin, earth and orange", 25.0, 75.0),
    ("yellow", 75.0, 105.0),
    ("vegetation green", 105.0, 200.0),
    ("sky and water blue", 200.0, 330.0),
)


def hue_class(ab: np.ndarray) -> np.ndarray:
    """Index into HUE_CLASSES of each a*, b* pair (..., 2); -1 where the chroma is below
    HUE_MIN_CHROMA."""
    ab = np.asarray(ab, dtype=np.float64)
    chroma = np.hypot(ab[..., 0], ab[..., 1])
    angle = np.degrees(np.arctan2(ab[..., 1], ab[..., 0])) % 360.0
    classes = np.full(angle.shape, -1, dtype=np.int8)
    for index, (_, start, end) in enumerate(HUE_CLASSES):
        inside = (angle >= start) & (angle < end) if start < end else (angle >= start) | (angle < end)
        classes[inside] = index
    classes[chroma < HUE_MIN_CHROMA] = -1
    return classes


def hue_agreement(truth_rgb: np.ndarray, predictions: dict[str, np.ndarray], chunk: int = 16) -> pd.DataFrame:
    """Per hue class of the originals (HUE_CLASSES): its share of all pixels (``pixels``) and,
    for each prediction, the share of the class's pixels whose predicted hue is in the same class
    (in [0, 1]); a last row, "any hue", pools the classes. truth_rgb and each prediction: uint8
    sRGB (N, H, W, 3), compared pixel by pixel, ``chunk`` images at a time."""
    arrays = {name: _check_rgb_batch(truth_rgb, pred_rgb, f"hue_agreement ({name})")[1]
              for name, pred_rgb in predictions.items()}
    truth_rgb = np.asarray(truth_rgb)
    classes = len(HUE_CLASSES)
    totals = np.zeros(classes, dtype=np.int64)
    right = {name: np.zeros(classes, dtype=np.int64) for name in arrays}
    pixels = 0
    for start in range(0, len(truth_rgb), chunk):
        truth = hue_class(color.rgb_to_lab(truth_rgb[start:start + chunk])[..., 1:])
        pixels += truth.size
        totals += np.bincount(truth[truth >= 0], minlength=classes)
        for name, pred_rgb in arrays.items():
            predicted = hue_class(color.rgb_to_lab(pred_rgb[start:start + chunk])[..., 1:])
            hits = truth[(truth >= 0) & (predicted == truth)]
            right[name] += np.bincount(hits, minlength=classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = {name: np.append(right[name] / totals, right[name].sum() / totals.sum()) for name in arrays}
    table = pd.DataFrame({"hue": [name for name, _, _ in HUE_CLASSES] + ["any hue"],
                          "pixels": np.append(totals, totals.sum()) / max(pixels, 1), **rows})
    return table
