"""`make reproduce` on photos that match no committed run: the plan, notebooks 01 and 02, then a
clear stop (exit 2, the choices) instead of a traceback; then TRAIN=1 trains every run on those
photos with progress and executes every notebook; then the same call again does nothing.
The throwaway project also gains a notebook 08 the way a contributor adds one (its file and one
manifest entry): it is executed, stamped and shown like the others, and re-executed when an input
it declares changes, and only then.
Real training and real papermill runs, on a generated folder in a throwaway project."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from unetcolor import manifest
from unetcolor.photos import data

from conftest import throwaway_project

ROOT = Path(__file__).resolve().parents[1]
EXTRA = "08_extra"  # the added notebook: it reads the main run, the evaluation section and one more file
EXTRA_ENTRY = f"""
- name: {EXTRA}
  sections: [evaluation]
  runs: main
  records: [extra/*.txt]
  tables: [{EXTRA}.csv]
  finding: {{table: {EXTRA}.csv, text: "{{examples}} examples; the notes hold {{characters}} characters."}}
"""


def add_notebook(project: Path) -> None:
    """Notebook 08 as a contributor adds it: the notebook file and its manifest entry, nothing else."""
    cells = [nbformat.v4.new_code_cell("profile = 'paper'", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell(
                 "import pandas as pd\n"
                 "from unetcolor import paths, profiles\n"
                 "from unetcolor.reproduction import findings\n"
                 "notes = (paths.project_root() / 'extra' / 'notes.txt').read_text()\n"
                 "table = pd.DataFrame({'examples': [profiles.load(profile).evaluation['examples']],\n"
                 "                      'characters': [len(notes)]})\n"
                 f"table.to_csv(paths.profile_paths(profile).tables / '{EXTRA}.csv', index=False)"),
             nbformat.v4.new_markdown_cell("## What this shows"),
             nbformat.v4.new_code_cell(f'findings.show("{EXTRA}", profile)')]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    for number, cell in enumerate(notebook.cells):
        cell.id = f"cell-{number}"
    (project / "notebooks" / f"{EXTRA}.ipynb").write_text(nbformat.writes(notebook))
    manifest = project / "notebooks" / "manifest.yaml"
    manifest.write_text(manifest.read_text() + EXTRA_ENTRY)
    (project / "extra").mkdir()
    (project / "extra" / "notes.txt").write_text("four")


def test_reproduce_on_your_own_photos_stops_with_the_plan_then_trains_then_does_nothing(tmp_path):
    project, photos, environment = throwaway_project(tmp_path, "my photos", ".jpg", seed=3)
    add_notebook(project)

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
    # before the plan: the notebooks that read no run (01, 02 and 08, which reads the shipped hints colorizer)
    assert executed == [f"{entry.name}.ipynb" for entry in manifest.load(ROOT) if entry.runs is None]
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
    assert "TqdmWarning" not in output  # the overall bar never steps past its total
    runs = project / "models" / "smoke"
    finished = [run for run in runs.iterdir() if (run / "metrics.json").is_file()]
    assert len(finished) == 8, sorted(r.name for r in finished)
    given = data.fingerprint(project / "data" / "processed" / "smoke")
    for run in finished:  # each run is bound to the given photos' data, not the bundled crops'
        assert json.loads((run / "config.json").read_text())["data"] == given
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("0*.ipynb")) + [f"{EXTRA}.ipynb"]
    executed = sorted(p.name for p in (project / "reports" / "smoke" / "notebooks").glob("*.ipynb"))
    assert executed == notebooks and len(executed) == len(manifest.load(ROOT)) + 1
    assert (project / "reports" / "smoke" / "stamps" / f"{EXTRA}.json").is_file()
    shown = json.loads((project / "reports" / "smoke" / "notebooks" / f"{EXTRA}.ipynb").read_text())["cells"][-1]
    assert "4 examples; the notes hold 4 characters." in json.dumps(shown["outputs"])
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

    # an input notebook 08 declares changes: it alone re-executes, and says why
    (project / "extra" / "notes.txt").write_text("eight ch")
    done, output = reproduce("--train")
    assert done.returncode == 0, output[-3000:]
    assert output.count("re-executing, because") == 1, output[-3000:]
    assert f"{EXTRA}: re-executing, because records it reads changed: extra/notes.txt" in output
