"""`make reproduce` on photos that match no committed run: the plan, notebooks 01 and 02, then a
clear stop (exit 2, the choices) instead of a traceback; then TRAIN=1 trains every run on those
photos with progress and executes all seven notebooks; then the same call again does nothing.
Real training and real papermill runs, on a generated folder in a throwaway project."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import throwaway_project
from unetcolor.photos import data

ROOT = Path(__file__).resolve().parents[1]


def test_reproduce_on_your_own_photos_stops_with_the_plan_then_trains_then_does_nothing(tmp_path):
    project, photos, environment = throwaway_project(tmp_path, "my photos", ".jpg", seed=3)

    def reproduce(*extra):
        done = subprocess.run([sys.executable, "-m", "unetcolor", "reproduce", "--profile", "smoke", "--data-dir",
                               str(photos), *extra], env=environment, capture_output=True, text=True, timeout=600)
        return done, done.stdout + done.stderr

    done, output = reproduce()
    assert done.returncode == 2, output[-3000:]
    assert "Traceback" not in output
    assert "Plan for profile 'smoke': 8 training runs, 0 finished, 8 to train" in output
    assert "make reproduce PROFILE=smoke" in output and "TRAIN=1" in output and "gpu-setup" in output
    executed = sorted(p.name for p in (project / "reports" / "smoke" / "notebooks").glob("*.ipynb"))
    assert executed == ["01_data_preparation.ipynb", "02_model.ipynb"]
    # every profile honours DATA_DIR: the 16 photos given, not the smoke profile's 36 bundled crops
    index = (project / "data" / "processed" / "smoke" / "index.csv").read_text().splitlines()
    assert len(index) == 1 + 16
    # the plan printed is recorded, with each run's estimate here (what the README's times are made from)
    [record] = [json.loads(path.read_text()) for path in (project / "reports" / "smoke" / "plans").glob("*.json")]
    assert [run["status"] for run in record["runs"]] == ["missing"] * 8 and record["photos"] == 16
    assert record["to_train_seconds"] == pytest.approx(sum(run["estimate_seconds"] for run in record["runs"]), abs=1)
    assert all(run["estimate_seconds"] == run["scratch_seconds"] > 0 for run in record["runs"])

    # TRAIN=1: all 8 runs trained on these photos (a progress bar per run), then every notebook
    done, output = reproduce("--train")
    assert done.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert output.count("epoch/s") + output.count("s/epoch") >= 8, output[-3000:]
    runs = project / "models" / "smoke"
    finished = [run for run in runs.iterdir() if (run / "metrics.json").is_file()]
    assert len(finished) == 8, sorted(r.name for r in finished)
    given = data.fingerprint(project / "data" / "processed" / "smoke")
    for run in finished:  # each run is bound to the given photos' data, not the bundled crops'
        assert json.loads((run / "config.json").read_text())["data"] == given
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("0*.ipynb"))
    executed = sorted(p.name for p in (project / "reports" / "smoke" / "notebooks").glob("*.ipynb"))
    assert executed == notebooks and len(executed) == 7
    for name in executed:  # clean outputs: no start-up logging, no paths shown as PosixPath(...)
        cells = json.loads((project / "reports" / "smoke" / "notebooks" / name).read_text())["cells"]
        outputs = [output for cell in cells for output in cell.get("outputs", [])]
        assert not [output for output in outputs if output.get("name") == "stderr"], name
        assert "PosixPath" not in json.dumps(outputs), name

    # the same call again trains and re-executes nothing, and says so
    done, output = reproduce("--train")
    assert done.returncode == 0, output[-3000:]
    assert "epoch/s" not in output and "s/epoch" not in output and " ran: " not in output, output[-3000:]
    assert "8 finished" in output
