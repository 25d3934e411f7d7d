"""`make reproduce` on photos that match no committed run: the plan, notebooks 01 and 02, then a
clear stop (exit 2, the choices) instead of a traceback. Real papermill runs on a generated folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

from conftest import photo_crops

ROOT = Path(__file__).resolve().parents[1]


def test_missing_runs_end_in_the_plan_and_the_choices_not_a_traceback(tmp_path):
    project = tmp_path / "project"
    for part in ("notebooks", "profiles"):
        shutil.copytree(ROOT / part, project / part)
    (project / "lib").mkdir()
    (project / "lib" / "unetcolor").symlink_to(ROOT / "lib" / "unetcolor")
    shutil.copy(ROOT / "pyproject.toml", project)
    photos = tmp_path / "my photos"
    photos.mkdir()
    for i, crop in enumerate(photo_crops(16, 96, seed=3)):
        Image.fromarray(crop).save(photos / f"photo {i:02d}.jpg")
    environment = {**os.environ, "UNETCOLOR_ROOT": str(project), "UNETCOLOR_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "unetcolor.reproduce", "--profile", "smoke", "--data-dir", str(photos)],
                          env=environment, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output[-3000:]
    assert "Traceback" not in output
    assert "Plan for profile 'smoke': 8 training runs, 0 finished, 8 to train" in output
    assert "make reproduce PROFILE=smoke" in output and "TRAIN=1" in output and "gpu-setup" in output
    executed = sorted(p.name for p in (project / "reports" / "smoke" / "notebooks").glob("*.ipynb"))
    assert executed == ["01_data_preparation.ipynb", "02_model.ipynb"]
    # every profile honours DATA_DIR: the 16 photos given, not the smoke profile's 36 bundled crops
    index = (project / "data" / "processed" / "smoke" / "index.csv").read_text().splitlines()
    assert len(index) == 1 + 16
