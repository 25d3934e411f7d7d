"""What a finished run scores on its validation photos and on the common ones (validation photos in every
split), kept in its metrics.json under "scores"."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from ..evaluation import metrics, predict
from ..photos import data

SUBSETS = ("validation", "common")
# score name -> column of metrics.evaluate_images
COLUMNS = {"psnr": "psnr_model", "ssim": "ssim_model", "gray_psnr": "psnr_gray", "gray_ssim": "ssim_gray",
           "colorfulness": "colorfulness_model", "true_colorfulness": "colorfulness_true"}


def photo_scores(model: keras.Model, processed_dir: Path, split: str, batch_size: int = 16) -> dict:
    """{"validation": {...}, "common": {...}}: the photo count and COLUMNS scores of model on the prepared data."""
    rgb, gray = data.load_arrays(processed_dir)
    _, val_ids = data.load_split(processed_dir, split)
    truth, gray_val = np.asarray(rgb[val_ids]), np.asarray(gray[val_ids])
    per_image = metrics.evaluate_images(truth, predict.predict_batch(model, gray_val, batch_size=batch_size), gray_val)
    common = np.isin(val_ids, data.common_validation_ids(processed_dir))
    return {subset: {"photos": int(len(images)), **{name: float(images[column].mean())
                                                     for name, column in COLUMNS.items()}}
            for subset, images in (("validation", per_image), ("common", per_image[common]))}


def flat(metrics_record: dict) -> dict:
    """A run's "scores" as flat columns for a table: validation_psnr, common_gray_ssim, ..."""
    scores = metrics_record.get("scores", {})
    return {f"{subset}_{name}": value for subset in SUBSETS for name, value in scores.get(subset, {}).items()}


def rescore(run_dir: Path, processed_dir: Path, model: keras.Model, split: str, data_key: str) -> dict:
    """A finished run's metrics.json with fresh "scores"; refused where the prepared data is not the run's."""
    here = data.fingerprint(processed_dir)
    if data_key and here != data_key:
        raise ValueError(f"{run_dir}: trained on data {data_key}, but {processed_dir} holds data {here}; "
                         "prepare the run's photos (notebook 01 with its DATA_DIR) before scoring it")
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the run is not finished; train it first")
    record = json.loads(path.read_text())
    record["scores"] = photo_scores(model, processed_dir, split)
    return record
