"""Training survives kill -9 and Ctrl-C: real processes, stopped mid-epoch, then the same call again
(in this process: what matters is what the stopped process left behind).

Each test waits until the run has checkpointed some epochs (its state.json, polled), then half
the length of its last epoch (from its own history.csv), so the signal lands inside an epoch.
The call made again resumes from the last checkpoint, finishes, and ends with the weights of an
uninterrupted run: resuming is deterministic here, as the data order is seeded by (seed, epoch),
the checkpoints hold every weight (batch-norm statistics included) and the optimizers' moments
and step counts (the cosine schedule reads the step count), and these models have no dropout.
"""

import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from unetcolor import colorizers, paths, profiles
from unetcolor.colorizers import build
from unetcolor.photos import data
from unetcolor.training import train

import tiny
from conftest import throwaway_project

TESTS = Path(__file__).resolve().parent
# two stages (the head's MSE, then the log-MSE fine-tuning), batch normalization, one checkpoint per epoch
RECIPE = ("dataclasses.replace(colorizers.recipe('regression'), name='default', "
          "model=tiny.model(image_size=16, filters=(4, 8), normalization='batch', "
          "output='ab'), epochs=6, finetune_epochs=3, batch_size=4, seed=3, chroma_gains=(1.0, 1.5), "
          "tuning_share=0.2, precision='float32')")


def stop_mid_epoch(process: subprocess.Popen, run_dir: Path, signum: int, epochs_done: int = 2) -> int:
    """Send signum once run_dir has checkpointed epochs_done epochs, half an epoch later; the
    epochs checkpointed when it was sent."""
    state, deadline = run_dir / "state.json", time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            done = json.loads(state.read_text())["epochs_done"]
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= epochs_done:
            break
        time.sleep(0.01)
    assert process.poll() is None, "the run ended before it could be stopped"
    time.sleep(pd.read_csv(run_dir / "history.csv")["seconds"].iloc[-1] / 2)
    process.send_signal(signum)
    return done


def weights(path: Path) -> list[np.ndarray]:
    return keras.saving.load_model(path, safe_mode=True, compile=False).get_weights()


def assert_same_weights(expected: list[np.ndarray], actual: list[np.ndarray]) -> None:
    assert len(expected) == len(actual)
    for a, b in zip(expected, actual):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_smoke_main_run_killed_mid_epoch_resumes_and_ends_as_an_uninterrupted_run(tmp_path, monkeypatch, capsys):
    """`python -m unetcolor train --profile smoke --checkpoint-every 1` in a throwaway project, on the
    smoke main run with more epochs, killed with SIGKILL inside its third epoch; the same command
    again, given to train.main in this process, resumes it."""
    project, photos, environment = throwaway_project(tmp_path, "photos", ".png", seed=4)
    for key in (paths.ROOT_ENV, "UNETCOLOR_CACHE"):
        monkeypatch.setenv(key, environment[key])
    assert data.main(["--profile", "smoke", "--data-dir", str(photos)]) == 0
    config = dataclasses.replace(profiles.load("smoke").main, epochs=6)
    (tmp_path / "run.json").write_text(json.dumps(config.to_dict(), default=list))
    arguments = ["--profile", "smoke", "--config", str(tmp_path / "run.json"), "--checkpoint-every", "1"]
    command = [sys.executable, "-m", "unetcolor", "train", *arguments]
    killed = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    models = project / "models" / "smoke"
    deadline = time.monotonic() + 300
    while not (models.is_dir() and any(models.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.01)
    [run_dir] = list(models.iterdir())
    done = stop_mid_epoch(killed, run_dir, signal.SIGKILL)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert not (run_dir / "model.keras").exists()

    capsys.readouterr()
    assert train.main(arguments) == 0
    resumed_after = int(capsys.readouterr().out.split(f"resuming {run_dir.name} after epoch ")[1].split()[0])
    assert done <= resumed_after < config.epochs  # from the last checkpoint, not from the start
    history = pd.read_csv(run_dir / "history.csv")
    assert history["epoch"].tolist() == list(range(1, config.epochs + 1))
    assert not list(run_dir.glob(".*")) and not (run_dir / "checkpoint.keras").exists()

    whole = train.train(train.bind_data(config, project / "data" / "processed" / "smoke"),
                        project / "data" / "processed" / "smoke", tmp_path / "whole", progress="quiet")
    assert_same_weights(whole.model.get_weights(), weights(run_dir / "model.keras"))


def the_recipe():
    return eval(RECIPE, {"colorizers": colorizers, "tiny": tiny, "dataclasses": dataclasses})


def recipe_process(processed: Path, out_dir: Path) -> subprocess.Popen:
    script = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); import tiny\n"
              "from pathlib import Path\n"
              "import dataclasses\nfrom unetcolor import colorizers\n"
              f"colorizers.train_colorizer(Path({str(processed)!r}), Path({str(out_dir)!r}), {RECIPE}, "
              "verbose=False, checkpoint_every=1)\n")
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def uninterrupted_recipe(tiny_processed, tmp_path_factory) -> list[np.ndarray]:
    """The recipe's weights trained in one go, in this process: what every stopped and resumed run must end with."""
    out_dir = tmp_path_factory.mktemp("whole")
    colorizers.train_colorizer(tiny_processed, out_dir, the_recipe(), verbose=False)
    return weights(out_dir / "default.keras")


def train_again(processed: Path, out_dir: Path, capsys) -> str:
    """The killed process's call made again, in this process; what it printed."""
    capsys.readouterr()
    colorizers.train_colorizer(processed, out_dir, the_recipe(), verbose=False, checkpoint_every=1)
    return capsys.readouterr().out


def test_a_colorizer_recipe_killed_mid_epoch_resumes_and_ends_as_an_uninterrupted_run(tiny_processed, tmp_path,
                                                                                       uninterrupted_recipe, capsys):
    out_dir = tmp_path / "killed"
    stage_dir = build.run_folder(out_dir, the_recipe()) / "mse"
    killed = recipe_process(tiny_processed, out_dir)
    done = stop_mid_epoch(killed, stage_dir, signal.SIGKILL)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL and not (out_dir / "default.keras").exists()

    stdout = train_again(tiny_processed, out_dir, capsys)
    resumed_after = int(stdout.split("resuming mse after epoch ")[1].split()[0])
    assert done <= resumed_after < 6
    assert sorted(path.name for path in out_dir.iterdir()) == ["default.json", "default.keras"]  # checkpoints gone
    record = json.loads((out_dir / "default.json").read_text())
    assert [row["epoch"] for row in record["training"]["history"]] == [*range(1, 7), *range(1, 4)]
    # the training time counts the epochs of both calls, not only the last call's
    assert record["training"]["seconds_total"] == sum(row["seconds"] for row in record["training"]["history"])
    assert_same_weights(uninterrupted_recipe, weights(out_dir / "default.keras"))


def test_a_colorizer_recipe_interrupted_ends_its_epoch_and_started_again_resumes_to_the_same_weights(
        tiny_processed, tmp_path, uninterrupted_recipe, capsys):
    """SIGINT (Ctrl-C) in a real process: the running epoch finishes and is checkpointed, then the
    process stops; the same call again resumes after that epoch."""
    out_dir = tmp_path / "interrupted"
    stage_dir = build.run_folder(out_dir, the_recipe()) / "mse"
    interrupted = recipe_process(tiny_processed, out_dir)
    done = stop_mid_epoch(interrupted, stage_dir, signal.SIGINT)
    _, stderr = interrupted.communicate(timeout=120)
    assert interrupted.returncode != 0 and "stopping after this epoch" in stderr and "checkpointed" in stderr, stderr
    stopped_after = json.loads((stage_dir / "state.json").read_text())["epochs_done"]
    assert done < stopped_after < 6  # the epoch running when the signal came was finished

    assert f"resuming mse after epoch {stopped_after}" in train_again(tiny_processed, out_dir, capsys)
    assert_same_weights(uninterrupted_recipe, weights(out_dir / "default.keras"))
