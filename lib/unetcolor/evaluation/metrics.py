"""How good a colorization is: PSNR (paper eq. 3), SSIM, colorfulness, a*b* error and hue classes,
and what Keras' "accuracy" measures. Image metrics take uint8 RGB (H, W, 3), or (N, H, W, 3) in batch."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import color
from ..photos import images


def _check_pair(reference: np.ndarray, test: np.ndarray, what: str, batch: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
    reference, test = np.asarray(reference), np.asarray(test)
    if reference.dtype != np.uint8 or test.dtype != np.uint8:
        raise ValueError(f"{what} expects uint8 images, got {reference.dtype} and {test.dtype}; "
                         "convert model outputs in [-1, 1] with color.output_to_rgb first")
    if reference.shape != test.shape:
        raise ValueError(f"{what}: image shapes differ, {reference.shape} vs {test.shape}")
    if batch and (reference.ndim != 4 or reference.shape[-1] != 3):
        raise ValueError(f"{what} expects a batch of RGB images (N, H, W, 3), got shape {reference.shape}")
    return reference, test


def psnr(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB, the paper's eq. 3: 10 log10(peak^2 / MSE) over all pixels and channels; inf if identical."""
    reference, test = _check_pair(reference, test, "psnr")
    difference = reference.astype(np.int32) - test.astype(np.int32)  # exact: integer arithmetic
    mse = np.sum(difference * difference, dtype=np.int64) / reference.size
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak**2 / mse))


def psnr_batch(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> np.ndarray:
    """Per-image PSNR in dB: uint8 (N, H, W, 3) twice -> float64 (N,), inf where identical."""
    reference, test = _check_pair(reference, test, "psnr_batch")
    if reference.ndim < 2:
        raise ValueError(f"psnr_batch expects a batch (N, H, W, 3), got shape {reference.shape}")
    return np.array([psnr(a, b, peak) for a, b in zip(reference, test)], dtype=np.float64)


def ssim(reference: np.ndarray, test: np.ndarray, **options) -> float:
    """Structural similarity of two uint8 RGB images of at least 7x7 (scikit-image's, given options)."""
    from skimage.metrics import structural_similarity

    reference, test = _check_pair(reference, test, "ssim")
    if reference.ndim != 3 or reference.shape[-1] != 3:
        raise ValueError(f"ssim expects RGB images (H, W, 3), got shape {reference.shape}")
    return float(structural_similarity(reference, test, channel_axis=-1, data_range=255, **options))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colorfulness of a uint8 RGB image; 0 for any gray image."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"colorfulness expects uint8 RGB (H, W, 3), got {rgb.dtype} {rgb.shape}")
    red, green, blue = (rgb[..., channel].astype(np.float32) for channel in range(3))
    rg, yb = red - green, 0.5 * (red + green) - blue
    # float64 accumulators: float32 sums over megapixels lose digits
    std_root = np.sqrt(rg.var(dtype=np.float64) + yb.var(dtype=np.float64))
    mean_root = np.sqrt(rg.mean(dtype=np.float64) ** 2 + yb.mean(dtype=np.float64) ** 2)
    return float(std_root + 0.3 * mean_root)


def keras_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """What Keras' ``metrics=["accuracy"]`` reports here: the share of pixels whose largest channel matches."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim < 2 or y_true.shape[-1] < 2:
        raise ValueError(f"keras_accuracy expects y_true and y_pred of the same shape (..., C) with C >= 2, "
                         f"got {y_true.shape} and {y_pred.shape}")
    return float(np.mean(np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)))


def _scores(truth: np.ndarray, prediction: np.ndarray, gray_rgb: np.ndarray) -> dict[str, float]:
    return {"psnr_model": psnr(truth, prediction), "psnr_gray": psnr(truth, gray_rgb),
            "ssim_model": ssim(truth, prediction), "ssim_gray": ssim(truth, gray_rgb),
            "colorfulness_model": colorfulness(prediction), "colorfulness_gray": colorfulness(gray_rgb),
            "colorfulness_true": colorfulness(truth)}


def evaluate_images(true_rgb: np.ndarray, pred_rgb: np.ndarray, gray: np.ndarray,
                    names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per image: psnr, ssim and colorfulness of the model and of the gray baseline, colorfulness_true."""
    true_rgb, pred_rgb = _check_pair(true_rgb, pred_rgb, "evaluate_images")
    baseline = color.gray_baseline(gray)
    if baseline.shape != true_rgb.shape:
        raise ValueError(f"evaluate_images: gray {np.shape(gray)} does not match images {true_rgb.shape}")
    index = pd.Index(list(names) if names is not None else range(len(true_rgb)), name="image")
    if len(index) != len(true_rgb):
        raise ValueError(f"evaluate_images: {len(index)} names for {len(true_rgb)} images")
    return pd.DataFrame([_scores(*triple) for triple in zip(true_rgb, pred_rgb, baseline)], index=index)


METHODS = {"model": "model", "gray": "gray baseline", "true": "ground truth"}


def summarize(per_image: pd.DataFrame) -> pd.DataFrame:
    """``evaluate_images``' table as one row per (metric, method): mean, std (ddof=1), median and n."""
    rows = []
    for column in per_image.columns:
        metric, _, method = column.rpartition("_")
        if method not in METHODS:
            raise ValueError(f"summarize: column {column!r} is not <metric>_<model|gray|true>")
        values = per_image[column].astype(float)
        with np.errstate(invalid="ignore"):  # inf - inf in the std of an infinite PSNR
            rows.append({"metric": metric, "method": METHODS[method], "mean": values.mean(),
                         "std": values.std(ddof=1), "median": values.median(), "n": int(values.count())})
    return pd.DataFrame(rows)


PHOTO_COLUMNS = ("file", "height", "width", "psnr_model", "psnr_gray", "ssim_model", "ssim_gray",
                 "colorfulness_model", "colorfulness_true")


def evaluate_photos(colorize: Callable[[np.ndarray], np.ndarray], files: Iterable[str | os.PathLike],
                    n_keep: int = 0) -> tuple[pd.DataFrame, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Score ``colorize`` (uint8 RGB -> uint8 RGB) on photo files at native size: the PHOTO_COLUMNS table, one
    row per file, and the first n_keep (gray, colorized, original)."""
    if n_keep < 0:
        raise ValueError(f"n_keep must be >= 0, got {n_keep}")
    rows, kept = [], []
    for path in map(Path, files):
        original = images.read_photo(path).rgb
        gray = color.rgb_to_gray(original)
        colorized = colorize(original)
        rows.append({"file": path.name, "height": original.shape[0], "width": original.shape[1],
                     **_scores(original, colorized, color.gray_baseline(gray))})
        if len(kept) < n_keep:
            kept.append((gray, colorized, original))
    return pd.DataFrame(rows, columns=list(PHOTO_COLUMNS)), kept


def side_by_side(colorizers: dict[str, Callable[[np.ndarray], np.ndarray]],
                 photos: Sequence[np.ndarray]) -> tuple[list[list[np.ndarray]], list[list[str]]]:
    """One row per photo (gray, each colorizer's output, original) and each cell's PSNR title."""
    rows, titles = [], []
    for original in photos:
        gray = color.rgb_to_gray(original)
        outputs = [colorize(original) for colorize in colorizers.values()]
        rows.append([gray, *outputs, original])
        titles.append([f"gray copy: {psnr(original, color.gray_baseline(gray)):.2f} dB",
                       *[f"PSNR {psnr(original, output):.2f} dB" for output in outputs], ""])
    return rows, titles


# a*b* error (Zhang, Isola & Efros, ECCV 2016): AuC, raw and class-rebalanced, and the colour cast
AB_THRESHOLDS = tuple(range(151))  # Zhang et al.: thresholds 0 to 150 a*, b* units, integer steps
AB_GRID = 10.0  # their a*, b* bin size (cells centred on multiples)
AB_RANGE = 150.0  # |a*|, |b*| the bin grid covers; 8-bit sRGB stays within about 128
COLOR_MEASURES = ("ab_auc", "ab_auc_rebalanced", "a_bias", "b_bias")


class _ABErrorCounts:
    """Per a*b* grid cell of the truth, how many pixels' error first falls within each threshold."""

    def __init__(self, thresholds):
        self.thresholds = np.asarray(list(thresholds), dtype=np.float64)
        if (self.thresholds.ndim != 1 or len(self.thresholds) == 0 or not np.all(np.isfinite(self.thresholds))
                or np.any(np.diff(self.thresholds) <= 0)):
            raise ValueError("thresholds must be a non-empty increasing sequence of finite numbers, "
                             f"got {thresholds!r}")
        self.half = int(np.ceil(AB_RANGE / AB_GRID))  # cells -half..half along a* and b*
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
        k = np.searchsorted(self.thresholds, distance, side="left")  # within thresholds[j] exactly for j >= k
        cells = np.clip(np.rint(truth_ab / AB_GRID), -self.half, self.half).astype(np.int64) + self.half
        flat = (cells[:, 0] * self.side + cells[:, 1]) * self.counts.shape[1] + k
        self.counts += np.bincount(flat, minlength=self.counts.size).reshape(self.counts.shape)
        self.delta += difference.sum(axis=0)
        self.pixels += len(distance)

    def curve(self, rebalance: bool) -> np.ndarray:
        if self.pixels == 0:
            raise ValueError("no pixels to score")
        within = np.cumsum(self.counts, axis=1)[:, :-1]  # (cells, T): pixels within each threshold
        if not rebalance:
            return within.sum(axis=0) / self.pixels
        per_cell = self.counts.sum(axis=1)
        occupied = per_cell > 0
        # each pixel weighs 1 / (its cell's count x occupied cells): every occupied cell counts the same
        return (within[occupied] / per_cell[occupied, None]).mean(axis=0)

    def bias(self) -> tuple[float, float]:
        if self.pixels == 0:
            raise ValueError("no pixels to score")
        mean_da, mean_db = self.delta / self.pixels
        return float(mean_da), float(mean_db)


def ab_error_curve(truth_ab: np.ndarray, pred_ab: np.ndarray, thresholds: Iterable[float] = AB_THRESHOLDS,
                   rebalance: bool = False) -> np.ndarray:
    """Share of pixels whose a*b* error is <= each threshold, on a*b* arrays (..., 2); with ``rebalance``,
    the mean over the occupied AB_GRID cells of the truth of each cell's own curve."""
    counts = _ABErrorCounts(thresholds)
    counts.add(truth_ab, pred_ab)
    return counts.curve(rebalance)


def _ab_chunks(truth_rgb: np.ndarray, predictions: dict[str, np.ndarray], what: str, chunk: int):
    """Checks uint8 RGB batches (``what`` formatted with each prediction's name), then yields
    (truth a*b*, {name: prediction a*b*}) of each ``chunk`` images; the truth is converted once."""
    arrays = {name: _check_pair(truth_rgb, pred_rgb, what.format(name=name), batch=True)[1]
              for name, pred_rgb in predictions.items()}
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    truth_rgb = np.asarray(truth_rgb)
    return ((color.rgb_to_lab(truth_rgb[start:start + chunk])[..., 1:],
             {name: color.rgb_to_lab(pred[start:start + chunk])[..., 1:] for name, pred in arrays.items()})
            for start in range(0, len(truth_rgb), chunk))


def _ab_counts(truth_rgb: np.ndarray, predictions: dict, what: str, thresholds=AB_THRESHOLDS,
               chunk: int = 16) -> dict[str, _ABErrorCounts]:
    chunks = _ab_chunks(truth_rgb, predictions, what, chunk)
    counts = {name: _ABErrorCounts(thresholds) for name in predictions}
    for truth_ab, pred_ab in chunks:
        for name, ab in pred_ab.items():
            counts[name].add(truth_ab, ab)
    return counts


def ab_error_auc(truth_rgb: np.ndarray, pred_rgb: np.ndarray, thresholds: Iterable[float] = AB_THRESHOLDS,
                 rebalance: bool = False, chunk: int = 16) -> float:
    """Zhang et al.'s (2016) AuC of uint8 sRGB batches: the mean over thresholds of ``ab_error_curve``."""
    counts = _ab_counts(truth_rgb, {"pred": pred_rgb}, "ab_error_auc", thresholds, chunk)["pred"]
    return float(counts.curve(rebalance).mean())


def ab_bias(truth_rgb: np.ndarray, pred_rgb: np.ndarray, chunk: int = 16) -> tuple[float, float]:
    """The colour cast: the mean of a*_pred - a*_true and of b*_pred - b*_true over all pixels."""
    return _ab_counts(truth_rgb, {"pred": pred_rgb}, "ab_bias", chunk=chunk)["pred"].bias()


def color_measures(truth_rgb: np.ndarray, predictions: dict[str, np.ndarray]) -> pd.DataFrame:
    """COLOR_MEASURES of each prediction of one uint8 set, indexed by ``method``."""
    counts = _ab_counts(truth_rgb, predictions, "color_measures ({name})")
    rows = [dict(zip(COLOR_MEASURES, (c.curve(False).mean(), c.curve(True).mean(), *c.bias())))
            for c in counts.values()]
    return pd.DataFrame(rows, index=pd.Index(list(counts), name="method"), columns=list(COLOR_MEASURES))


def color_summary(true_rgb: np.ndarray, pred_rgb: np.ndarray, gray: np.ndarray) -> pd.DataFrame:
    """``color_measures`` of the model and of the gray baseline, in ``summarize``'s shape (std and median NaN)."""
    measures = color_measures(true_rgb, {METHODS["model"]: pred_rgb, METHODS["gray"]: color.gray_baseline(gray)})
    return pd.DataFrame([{"metric": metric, "method": method, "mean": float(measures.loc[method, metric]),
                          "std": np.nan, "median": np.nan, "n": len(true_rgb)}
                         for metric in COLOR_MEASURES for method in measures.index])


# hue: the share of each broad hue class of the originals that a prediction gets in the same class
HUE_MIN_CHROMA = 10.0  # a*b* units: below this a pixel is near-neutral and has no hue class
HUE_CLASSES = (  # name, [start, end) in degrees; the first wraps through 0
    ("red and magenta", 330.0, 25.0),
    ("skin, earth and orange", 25.0, 75.0),
    ("yellow", 75.0, 105.0),
    ("vegetation green", 105.0, 200.0),
    ("sky and water blue", 200.0, 330.0),
)


def hue_class(ab: np.ndarray) -> np.ndarray:
    """Index into HUE_CLASSES of each a*b* pair (..., 2); -1 below HUE_MIN_CHROMA."""
    ab = np.asarray(ab, dtype=np.float64)
    angle = np.degrees(np.arctan2(ab[..., 1], ab[..., 0])) % 360.0
    classes = np.full(angle.shape, -1, dtype=np.int8)
    for index, (_, start, end) in enumerate(HUE_CLASSES):
        inside = (angle >= start) & (angle < end) if start < end else (angle >= start) | (angle < end)
        classes[inside] = index
    classes[np.hypot(ab[..., 0], ab[..., 1]) < HUE_MIN_CHROMA] = -1
    return classes


def hue_agreement(truth_rgb: np.ndarray, predictions: dict[str, np.ndarray], chunk: int = 16) -> pd.DataFrame:
    """Per hue class of the originals: its share of pixels and, per prediction, the share predicted in
    the same class; a last row, "any hue", pools the classes."""
    classes = len(HUE_CLASSES)
    totals = np.zeros(classes, dtype=np.int64)
    right = {name: np.zeros(classes, dtype=np.int64) for name in predictions}
    pixels = 0
    for truth_ab, pred_ab in _ab_chunks(truth_rgb, predictions, "hue_agreement ({name})", chunk):
        truth = hue_class(truth_ab)
        pixels += truth.size
        totals += np.bincount(truth[truth >= 0], minlength=classes)
        for name, ab in pred_ab.items():
            right[name] += np.bincount(truth[(truth >= 0) & (hue_class(ab) == truth)], minlength=classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = {name: np.append(hits / totals, hits.sum() / totals.sum()) for name, hits in right.items()}
    return pd.DataFrame({"hue": [name for name, _, _ in HUE_CLASSES] + ["any hue"],
                         "pixels": np.append(totals, totals.sum()) / max(pixels, 1), **rows})
