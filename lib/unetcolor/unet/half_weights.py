"""A finished run's weights in float16 (weights-float16.npz, one array per model weight in order) with
weights.json (the file's sha256, its model.keras's, the PSNR change), loaded back into float32."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from ..files import sha256_file as sha256
from ..files import write_atomic

WEIGHTS_FILE = "weights-float16.npz"
RECORD_FILE = "weights.json"


def save(model: keras.Model, path: Path) -> str:
    """Write model's weights as float16 to path (atomically); returns the file's sha256."""
    arrays = {f"w{i:03d}": np.asarray(w, dtype=np.float16) for i, w in enumerate(model.get_weights())}
    write_atomic(Path(path), lambda temporary: np.savez_compressed(temporary, **arrays))
    return sha256(Path(path))


def load_into(model: keras.Model, path: Path, expected_sha256: str) -> keras.Model:
    """Set model's weights (float32) from a float16 file; ValueError where its sha256, count or a shape differs."""
    actual = sha256(Path(path))
    if actual != expected_sha256:
        raise ValueError(f"{path}: sha256 {actual} differs from the recorded {expected_sha256}; "
                         "the file is damaged or not this run's (restore it with `git checkout`)")
    with np.load(path, allow_pickle=False) as stored:
        arrays = [stored[f"w{i:03d}"].astype(np.float32) for i in range(len(stored.files))]
    expected = [tuple(w.shape) for w in model.weights]
    if [a.shape for a in arrays] != expected:
        raise ValueError(f"{path}: {len(arrays)} arrays whose shapes do not match this run's model "
                         f"({len(expected)} weights); the file belongs to another config")
    model.set_weights(arrays)
    return model


def read_record(run_dir: Path) -> dict:
    path = Path(run_dir) / RECORD_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no float16 weights recorded for this run")
    return json.loads(path.read_text())
