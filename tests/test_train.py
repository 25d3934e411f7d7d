"""Training: the loss goes down, an interrupted run resumes to the same weights, the
logged metrics equal independent computations, and a step runs on each installed backend."""

import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from unetcolor import color
from unetcolor.evaluation import metrics
from unetcolor.photos import data
from unetcolor.training import train
from unetcolor.unet import half_weights, runs

TESTS = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def trained(tiny_processed, tiny_config, tmp_path_factory) -> train.RunResult:
    """tiny_config trained once on tiny_processed, for the tests that only read the finished run
    (or a copy of its folder)."""
    return train.train(tiny_config, tiny_processed, tmp_path_factory.mktemp("trained") / "run", progress="epoch")


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


def test_finished_run_is_loaded_not_retrained(tiny_processed, tiny_config, trained):
    first = trained
    again = train.train(tiny_config, tiny_processed, trained.run_dir, progress="epoch")
    assert again.metrics == first.metrics
    for a, b in zip(first.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_interrupted_run_resumes_to_the_same_weights(tiny_processed, tiny_config, trained, tmp_path):
    whole = trained
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


def test_a_filled_last_batch_keeps_one_shape_and_every_photo(tiny_processed):
    rgb, gray = data.load_arrays(tiny_processed)
    ids = np.arange(10)
    batches = train.ColorizationBatches(gray, rgb, ids, batch_size=4, seed=3, fill_last=True)
    order = batches.order(0)
    assert len(batches) == 3 and len(order) == 12
    assert set(order) == set(ids) and list(order[10:]) == list(order[:2])
    assert all(batches[i][0].shape[0] == 4 for i in range(len(batches)))
    partial = train.ColorizationBatches(gray, rgb, ids, batch_size=4, seed=3)
    np.testing.assert_array_equal(partial.order(0), order[:10])  # same photos, same order otherwise
    assert partial[2][0].shape[0] == 2


def test_a_config_bound_to_other_data_is_refused(tiny_processed, tiny_config, tmp_path):
    bound = train.bind_data(tiny_config, tiny_processed)
    assert bound.data == data.fingerprint(tiny_processed) and bound.run_name() != tiny_config.run_name()
    with pytest.raises(ValueError, match="keyed to data 0123456789ab"):
        train.train(dataclasses.replace(tiny_config, data="0123456789ab"), tiny_processed, tmp_path / "run")


def test_the_run_key_holds_the_networks_architecture_and_old_runs_are_adopted(tiny_processed, tiny_config, tmp_path):
    from unetcolor.unet import model as unet_model
    from unetcolor.unet import runs

    bound = train.bind_data(tiny_config, tiny_processed)
    assert bound.architecture == unet_model.architecture_fingerprint(tiny_config.model)
    # a setting that changes the network changes its fingerprint; one that does not, does not
    wider = dataclasses.replace(tiny_config.model, filters=tuple(2 * f for f in tiny_config.model.filters))
    assert unet_model.architecture_fingerprint(wider) != bound.architecture
    assert train.bind_data(dataclasses.replace(tiny_config, learning_rate=0.5), tiny_processed).architecture == \
        bound.architecture
    with pytest.raises(ValueError, match="other U-Net code"):
        train.bind_data(dataclasses.replace(tiny_config, architecture="0123456789ab"), tiny_processed)

    # a run trained before keys held the architecture: its config.json has none, its folder the old key
    models = tmp_path / "models"
    done = train.train(tiny_config, tiny_processed, models / "first")
    old = dataclasses.replace(runs.config(done.run_dir), architecture="")
    old_dir = models / old.run_name()
    (done.run_dir / "config.json").write_text(json.dumps(old.to_dict()))
    done.run_dir.rename(old_dir)
    (models / runs.MAIN_POINTER).write_text(json.dumps({"run": old_dir.name}))
    assert runs.without_architecture(models) == [old_dir]

    moved = runs.adopt_architecture(models)
    assert moved == [(old_dir.name, bound.run_name())] and not old_dir.exists()
    assert runs.config(models / bound.run_name()) == bound  # the key a plan computes today finds it
    assert json.loads((models / runs.MAIN_POINTER).read_text()) == {"run": bound.run_name()}
    assert runs.without_architecture(models) == [] and runs.adopt_architecture(models) == []
    assert runs.is_loadable(models / bound.run_name())


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
    import sys; sys.path.insert(0, {tests!r}); import tiny
    from unetcolor.unet.model import build_unet
    from unetcolor.training.train import compile_model
    config = tiny.train(model_config=tiny.model(image_size=32, filters=(4, 8)), batch_size=2)
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
    done = subprocess.run([sys.executable, "-c", STEP.format(backend=backend, tests=str(TESTS))], env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok")


def test_common_validation_scores_equal_kerass_own_validation_on_the_same_photos(tiny_processed, tiny_config,
                                                                                 trained, tmp_path):
    """The fixture's splits are nested (20% inside 30%), so the photos no split trains on are the 80/20
    validation photos: an 80/20 run's common scores must equal its last-epoch validation, computed by fit()."""
    common = data.common_validation_ids(tiny_processed)
    np.testing.assert_array_equal(common, data.load_split(tiny_processed, "80_20")[1])
    assert not set(common) & set(data.load_split(tiny_processed, "70_30")[0])
    result = trained
    last = result.history.iloc[-1]
    assert result.metrics["common_val_photos"] == len(common)
    assert result.metrics["common_val_loss"] == pytest.approx(last["val_loss"], rel=1e-5)
    assert result.metrics["common_val_accuracy"] == pytest.approx(last["val_accuracy"], rel=1e-5)
    other = train.train(dataclasses.replace(tiny_config, split="70_30"), tiny_processed, tmp_path / "run70",
                        progress="epoch")
    assert other.metrics["common_val_photos"] == len(common)


def test_float16_weights_stand_in_for_the_float32_model(tiny_processed, trained, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained.run_dir, run_dir)  # a copy: this test deletes and damages files of the run
    record = train.export_float16(run_dir, tiny_processed)
    assert record["from_sha256"] == half_weights.sha256(run_dir / "model.keras")
    assert abs(record["psnr_float16"] - record["psnr_float32"]) < 0.05  # float16 keeps ~3 significant digits
    (run_dir / "model.keras").unlink()
    assert runs.is_loadable(run_dir)
    restored = runs.model(run_dir)
    for full, half in zip(trained.model.get_weights(), restored.get_weights()):
        assert half.dtype == np.float32
        np.testing.assert_allclose(half, full.astype(np.float16).astype(np.float32), rtol=0, atol=0)
    assert runs.model_file_bytes(run_dir) == record["from_bytes"]
    weights = run_dir / half_weights.WEIGHTS_FILE
    damaged = bytearray(weights.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    weights.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="weights-float16.npz: sha256"):
        runs.model(run_dir)


COMPILES = textwrap.dedent("""
    import json, logging, sys
    from pathlib import Path
    import jax
    from unetcolor.training import train
    sys.path.insert(0, str(Path(sys.argv[4]))); import tiny
    steps = {"train_step": 0, "test_step": 0}
    class Steps(logging.Handler):
        def emit(self, record):
            for step in steps:
                if record.getMessage().startswith(f"Compiling jit({step})"):
                    steps[step] += 1
    logging.getLogger("jax").addHandler(Steps())
    jax.config.update("jax_log_compiles", True)
    config = tiny.train(model_config=tiny.model(image_size=32, filters=(4, 8, 8)), epochs=3, batch_size=3, seed=7,
                         last_batch=sys.argv[3], precision="float32")
    result = train.train(config, Path(sys.argv[1]), Path(sys.argv[2]), progress="epoch")
    print(json.dumps({"per_epoch": result.history["compiles"].tolist(), **steps}))
""")


@pytest.mark.parametrize("last_batch, train_step_compilations", [("fill", 1), ("partial", 2)])
def test_a_jax_run_compiles_its_training_step_once_per_batch_shape(tiny_processed, tmp_path, last_batch,
                                                                   train_step_compilations):
    """Under JAX each epoch's history row counts its XLA compilations. 16 training photos in batches
    of 3 leave a partial last batch: Keras' default compiles the training step for it a second time,
    a filled last batch keeps one shape and one compilation. The 4 validation photos go in batches of 2
    (even_batch_size): one validation step. After the first epoch nothing may compile again until the
    finished run scores its final float32 model (a new model: one more validation step)."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    environment = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", COMPILES, str(tiny_processed), str(tmp_path / "run"), last_batch,
                           str(TESTS)],
                          env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["train_step"] == train_step_compilations, counts
    assert counts["test_step"] == 2, counts  # validation in epoch 1, and the final float32 model's scoring
    assert counts["per_epoch"][0] > 0 and counts["per_epoch"][1:] == [0, 0], counts


@pytest.mark.parametrize("count, batch_size, expected", [
    (304, 64, 38), (455, 64, 35), (152, 64, 38), (304, 100, 76), (304, 20, 19),
    (151, 64, 64),  # prime: no divisor near 64, so 64 (and a last batch of 23)
    (4, 3, 2), (30, 64, 64), (0, 8, 8)])
def test_evaluation_batches_have_one_shape_where_a_divisor_allows(count, batch_size, expected):
    assert train.even_batch_size(count, batch_size) == expected


def test_checkpoints_follow_the_epoch_interval_or_the_clock(tmp_path):
    def recorder(**options):
        return train.RunRecorder(tmp_path, [], epochs=10, log_lines=False, final_epoch=10, **options)

    by_time = recorder(checkpoint_seconds=1e9)
    assert [by_time._checkpoint_due(e) for e in (0, 5, 9)] == [False, False, True]  # only the last epoch
    assert recorder(checkpoint_seconds=0)._checkpoint_due(0)
    by_epochs = recorder(checkpoint_every=3, checkpoint_seconds=0)
    assert [by_epochs._checkpoint_due(e) for e in (0, 2, 3, 5, 9)] == [False, True, False, True, True]


def test_an_interrupt_ends_the_epoch_with_a_checkpoint_and_training_again_resumes(tiny_processed, tmp_path):
    """SIGINT (Ctrl-C, or a time budget's `timeout --signal=INT`) lets the running epoch finish and
    checkpoints it: nothing finished is lost, and training the same run again resumes after it."""
    import signal
    import time

    import pandas as pd

    run_dir, epochs = tmp_path / "run", 12
    script = ("import sys; sys.path.insert(0, 'tests'); import tiny; from pathlib import Path\n"
              "from unetcolor.training import train\n"
              f"train.train(tiny.train(epochs={epochs}), Path({str(tiny_processed)!r}), Path({str(run_dir)!r}), "
              "progress='quiet', checkpoint_seconds=1e9)\n")
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    progress = run_dir / runs.PROGRESS_FILE
    deadline = time.monotonic() + 120
    while not progress.is_file() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert progress.is_file(), "no epoch finished"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert (process.returncode != 0 and "stopping after this epoch" in stderr
            and "checkpointed" in stderr), stderr[-2000:]
    state = json.loads((run_dir / "state.json").read_text())
    interrupted = pd.read_csv(run_dir / "history.csv")
    assert 1 <= state["epochs_done"] == len(interrupted) < epochs and (run_dir / "checkpoint.keras").is_file()
    assert not (run_dir / "metrics.json").exists()

    result = train.train(runs.config(run_dir), tiny_processed, run_dir, progress="quiet")
    assert len(result.history) == epochs and result.metrics["epochs"] == epochs
    assert result.history["epoch"].tolist()[:len(interrupted)] == interrupted["epoch"].tolist()


def test_a_kill_between_checkpoint_and_state_resumes_from_the_checkpoint_and_stale_temporaries_go(
        tiny_processed, tiny_config, trained, tmp_path):
    """The two moments a kill -9 can leave behind, made on purpose: a checkpoint renamed into
    place whose state.json did not follow (state.json still names the epoch before), and a
    temporary file of a checkpoint being written. Resuming trusts the checkpoint for the epochs of
    history.csv (written before it), removes the temporary file and no other, and ends with the
    weights of an uninterrupted run."""
    whole = trained
    run_dir = tmp_path / "killed"
    train.train(tiny_config, tiny_processed, run_dir, progress="quiet", stop_after=1, checkpoint_every=1)
    state_after_epoch_1 = (run_dir / "state.json").read_text()
    train.train(tiny_config, tiny_processed, run_dir, progress="quiet", stop_after=2, checkpoint_every=1)
    (run_dir / "state.json").write_text(state_after_epoch_1)  # the state.json of epoch 2 never landed
    stale = run_dir / ".checkpoint.keras.k2l9x0q1.keras"
    stale.write_bytes(b"half a zip")
    other = run_dir / ".notes.keras.txt"
    other.write_text("not the run's")

    resumed = train.train(tiny_config, tiny_processed, run_dir, progress="quiet")
    assert list(resumed.history["epoch"]) == [1, 2, 3]
    assert not stale.exists() and other.read_text() == "not the run's"
    for a, b in zip(whole.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
