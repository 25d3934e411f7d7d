"""Training: the loss goes down, an interrupted run resumes to the same weights, the
logged metrics equal independent computations, and a step runs on each installed backend."""

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from unetcolor import color, data, metrics, train


def test_training_lowers_the_loss_and_writes_artifacts(tiny_processed, tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, epochs=4)
    result = train.train(config, tiny_processed, tmp_path / "run", progress="epoch")
    history = result.history
    assert list(history["epoch"]) == [1, 2, 3, 4]
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    for name in ("config.json", "environment.json", "history.csv", "model.keras", "metrics.json"):
        assert (tmp_path / "run" / name).is_file(), name
    assert not (tmp_path / "run" / "checkpoint.keras").exists()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["batch_size"] == 4


def test_finished_run_is_loaded_not_retrained(tiny_processed, tiny_config, tmp_path):
    first = train.train(tiny_config, tiny_processed, tmp_path / "run", progress="epoch")
    again = train.train(tiny_config, tiny_processed, tmp_path / "run", progress="epoch")
    assert again.metrics == first.metrics
    for a, b in zip(first.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_interrupted_run_resumes_to_the_same_weights(tiny_processed, tiny_config, tmp_path):
    whole = train.train(tiny_config, tiny_processed, tmp_path / "whole", progress="epoch")
    partial = train.train(tiny_config, tiny_processed, tmp_path / "resumed", progress="epoch", stop_after=1)
    assert partial.metrics == {} and (tmp_path / "resumed" / "checkpoint.keras").is_file()
    assert not (tmp_path / "resumed" / "model.keras").exists()
    resumed = train.train(tiny_config, tiny_processed, tmp_path / "resumed", progress="epoch")
    assert list(resumed.history["epoch"]) == [1, 2, 3]
    for a, b in zip(whole.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(whole.history["val_loss"], resumed.history["val_loss"], rtol=1e-5)


def test_a_folder_of_another_config_is_refused(tiny_processed, tiny_config, tmp_path):
    train.train(tiny_config, tiny_processed, tmp_path / "run", progress="epoch", stop_after=1)
    other = dataclasses.replace(tiny_config, learning_rate=5e-4)
    with pytest.raises(ValueError, match="another config"):
        train.train(other, tiny_processed, tmp_path / "run", progress="epoch")


def test_logged_psnr_and_accuracy_match_independent_metrics(tiny_processed, tiny_config, tmp_path):
    """Keras' per-epoch val_psnr / val_accuracy against numpy/scikit-image on the saved model."""
    config = dataclasses.replace(tiny_config, epochs=1, batch_size=64)  # one validation batch
    result = train.train(config, tiny_processed, tmp_path / "run", progress="epoch")
    rgb, gray = data.load_arrays(tiny_processed)
    _, val = data.load_split(tiny_processed, config.split)
    output = result.model.predict(color.gray_to_input(gray[val]), verbose=0)
    target = color.rgb_to_target(rgb[val])
    logged = result.history.iloc[-1]
    assert logged["val_accuracy"] == pytest.approx(metrics.keras_accuracy(target, output), abs=1e-6)
    eight_bit = np.mean(metrics.psnr_batch(rgb[val], color.output_to_rgb(output)))
    assert logged["val_psnr"] == pytest.approx(eight_bit, abs=0.15)  # differs by the rounding to 8 bits


def test_batches_are_a_seeded_permutation_per_epoch(tiny_processed):
    rgb, gray = data.load_arrays(tiny_processed)
    ids = np.arange(10)
    batches = train.ColorizationBatches(gray, rgb, ids, batch_size=4, seed=3)
    first = batches.order(0)
    assert sorted(first) == list(ids)
    assert not np.array_equal(first, batches.order(1))
    np.testing.assert_array_equal(first, train.ColorizationBatches(gray, rgb, ids, 4, seed=3).order(0))
    x, y = batches[0]
    assert x.shape == (4, 32, 32, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.shape == (4, 32, 32, 3) and -1 <= y.min() and y.max() <= 1


STEP = textwrap.dedent("""
    import numpy as np, keras
    from unetcolor.config import ModelConfig, TrainConfig
    from unetcolor.model import build_unet
    from unetcolor.train import compile_model
    config = TrainConfig(model=ModelConfig(image_size=32, filters=(4, 8)), batch_size=2)
    model = compile_model(build_unet(config.model), config)
    x = np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32)
    y = np.tanh(np.random.default_rng(1).standard_normal((2, 32, 32, 3))).astype("float32")
    logs = model.train_on_batch(x, y, return_dict=True)
    assert keras.backend.backend() == "{backend}", keras.backend.backend()
    assert np.isfinite(logs["loss"]), logs
    print("ok", logs)
""")


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_a_training_step_runs_on_each_installed_backend(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", STEP.format(backend=backend)], env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok")
