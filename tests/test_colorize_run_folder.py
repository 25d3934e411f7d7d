"""`colorize --model <run folder>`: the paper's U-Net from a run's committed float16 weights,
with no model.keras (as on a fresh clone)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unetcolor.commands import cli
from unetcolor.config import train_config_from_dict
from unetcolor.evaluation import predict
from unetcolor.photos import images
from unetcolor.training import train
from unetcolor.unet import half_weights
from unetcolor.unet.model import build_unet

import tiny

ROOT = Path(__file__).resolve().parents[1]
PAPER_MODELS = ROOT / "models" / "paper"


@pytest.fixture(scope="module")
def run_dir(tiny_processed, tmp_path_factory):
    """A tiny run really trained, exported to float16, its model.keras deleted."""
    folder = tmp_path_factory.mktemp("runs") / "tiny-run"
    config = tiny.train(model_config=tiny.model(image_size=32, filters=(4, 8, 8)), epochs=2, batch_size=4,
                        learning_rate=1e-3, seed=7, precision="float32")
    train.train(config, tiny_processed, folder, progress="epoch")
    train.export_float16(folder, tiny_processed)
    (folder / "model.keras").unlink()
    return folder


@pytest.fixture(autouse=True)
def no_default_model(monkeypatch):
    monkeypatch.delenv(predict.MODEL_ENV, raising=False)


@pytest.fixture
def photo_path(tmp_path):
    """A small colour PNG, not square and not the model's size."""
    from skimage import data

    path = tmp_path / "photo.png"
    Image.fromarray(data.coffee()[::9, ::7]).save(path)  # (45, 86, 3)
    return path


def rebuilt_by_hand(folder: Path):
    """The run's U-Net from its config.json and the float16 arrays, without predict or train."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    path = folder / "config.json"
    model = build_unet(train_config_from_dict(json.loads(path.read_text()), str(path)).model)
    with np.load(folder / half_weights.WEIGHTS_FILE, allow_pickle=False) as stored:
        model.set_weights([stored[f"w{i:03d}"].astype(np.float32) for i in range(len(stored.files))])
    return model


def expected_colors(folder: Path, photo_path: Path) -> np.ndarray:
    return predict.colorize_photo(rebuilt_by_hand(folder), images.read_photo(photo_path).rgb)


@pytest.mark.parametrize("which", ["folder", "weights file"])
def test_colorize_with_a_run_folder_and_its_float16_weights(run_dir, photo_path, tmp_path, which):
    assert not (run_dir / "model.keras").exists()
    model = run_dir if which == "folder" else run_dir / half_weights.WEIGHTS_FILE
    out = tmp_path / "out"
    assert cli.main([str(photo_path), "--out", str(out), "--model", str(model), "--quiet"]) == 0
    written = np.asarray(Image.open(out / "photo.png"))
    assert written.shape == (45, 86, 3)
    np.testing.assert_array_equal(written, expected_colors(run_dir, photo_path))


def test_load_model_takes_a_run_folder_a_weights_file_and_keras_files(run_dir, tmp_path):
    by_folder = predict.load_model(run_dir)
    by_file = predict.load_model(run_dir / half_weights.WEIGHTS_FILE)
    reference = rebuilt_by_hand(run_dir)
    for loaded in (by_folder, by_file):
        for got, want in zip(loaded.get_weights(), reference.get_weights()):
            np.testing.assert_array_equal(got, want)
    by_folder.save(tmp_path / "saved.keras")  # a .keras file still loads as before
    assert predict.load_model(tmp_path / "saved.keras").count_params() == reference.count_params()


def test_a_run_folder_without_weights_is_named_without_a_traceback(run_dir, photo_path, tmp_path, capsys):
    empty = tmp_path / "no-weights-run"
    empty.mkdir()
    shutil.copy(run_dir / "config.json", empty / "config.json")
    assert cli.main([str(photo_path), "--out", str(tmp_path / "out"), "--model", str(empty)]) == 2
    err = capsys.readouterr().err
    assert f"colorize: {empty}: no model in this folder" in err
    assert "models/paper/<run>" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()

    # model.keras of a run that has only float16 weights: the folder is what to pass
    assert cli.main([str(photo_path), "--out", str(tmp_path / "out"), "--model", str(run_dir / "model.keras")]) == 2
    err = capsys.readouterr().err
    assert f"{run_dir / 'model.keras'}: no such file" in err and f"pass the folder {run_dir} instead" in err

    # float16 weights away from their weights.json cannot be rebuilt
    stray = tmp_path / "stray" / half_weights.WEIGHTS_FILE
    stray.parent.mkdir()
    shutil.copy(run_dir / half_weights.WEIGHTS_FILE, stray)
    with pytest.raises(ValueError, match=re.escape(f"{stray}: float16 weights load only through their run folder")):
        predict.load_model(stray)


def test_the_console_script_names_a_folder_without_weights(tmp_path, photo_path):
    script = Path(sys.executable).parent / "colorize"
    if not script.is_file():
        pytest.skip("the colorize console script is not installed (pip install -e .)")
    empty = tmp_path / "empty-run"
    empty.mkdir()
    env = {key: value for key, value in os.environ.items() if key != predict.MODEL_ENV}
    completed = subprocess.run([str(script), str(photo_path), "--out", str(tmp_path / "out"), "--model", str(empty)],
                               capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode != 0
    assert f"{empty}: no model in this folder" in completed.stderr and "Traceback" not in completed.stderr


def main_paper_run() -> Path | None:
    pointer = PAPER_MODELS / "main.json"
    if not pointer.is_file():
        return None
    folder = PAPER_MODELS / json.loads(pointer.read_text())["run"]
    return folder if (folder / half_weights.WEIGHTS_FILE).is_file() and (folder / half_weights.RECORD_FILE).is_file() \
        else None


def test_the_committed_paper_run_colorizes(tmp_path):
    folder = main_paper_run()
    if folder is None:
        pytest.skip(f"{PAPER_MODELS}/main.json or its run's {half_weights.WEIGHTS_FILE} + "
                    f"{half_weights.RECORD_FILE} are missing")
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 64, dtype=np.float32)
    gray = np.clip(ramp[:, None] * 0.6 + ramp[None, :] * 0.4 + rng.normal(0, 8, (64, 64)), 0, 255).astype(np.uint8)
    photo_path = tmp_path / "generated.png"
    Image.fromarray(gray).save(photo_path)
    out = tmp_path / "out"
    assert cli.main([str(photo_path), "--out", str(out), "--model", str(folder), "--quiet"]) == 0
    written = np.asarray(Image.open(out / "generated.png"))
    assert written.shape == (64, 64, 3)
    np.testing.assert_array_equal(written, expected_colors(folder, photo_path))


def test_without_out_the_photos_go_to_a_colorized_folder_here(tmp_path, monkeypatch, capsys):
    """`colorize photo.png --model models/paper/<run>` as the README writes it: no --out needed."""
    from PIL import Image

    from unetcolor.commands import cli

    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.full((20, 30, 3), 128, np.uint8)).save(tmp_path / "photo.png")
    assert cli.main(["photo.png", "--quiet"]) == 0
    written = tmp_path / "colorized" / "photo.png"
    assert written.is_file() and Image.open(written).size == (30, 20)
    assert (tmp_path / "photo.png").is_file()  # the input is left as it was
