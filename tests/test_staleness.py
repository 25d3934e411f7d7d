"""Reruns decided by content: the runner re-executes a notebook when what it reads changed, and says why.

The decisions are tested on a fake project (seven one-cell notebooks, a profile, a package of one
file) with papermill replaced by a stand-in that writes the executed notebook and, for notebook 01,
the prepared data; one test executes a real notebook through papermill."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from unetcolor import runner, staleness

ROOT = Path(__file__).resolve().parents[1]
LAST = runner.NOTEBOOKS[-1]
PARAMETERS = {  # each fake notebook's `parameters` cell
    "01_data_preparation": "profile = 'paper'\ndata_dir = ''\nimage_size = 256\n",
    "02_model": "profile = 'paper'\nimage_size = 256\n",
    "03_training": "profile = 'paper'\nimage_size = 256\nepochs = 100\n",
    "04_hyperparameter_study": "profile = 'paper'\nepochs = 100\n",
    "05_psnr_evaluation": "profile = 'paper'\nmodel_path = ''\n",
    "06_pokhara_test_images": "profile = 'paper'\nphotos_dir = 'scikit-image'\n",
    "07_beyond_the_paper": "profile = 'paper'\n",
}


def write_notebook(path: Path, parameters: str, code: str = "") -> None:
    cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    if code:
        cells.append(nbformat.v4.new_code_cell(code))
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    for cell in notebook.cells:
        cell.id = f"cell-{notebook.cells.index(cell)}"
    path.write_text(nbformat.writes(notebook))


class FakeProject:
    """A project root (`project / "notebooks"`) and the notebooks the stand-in executed."""

    def __init__(self, root: Path):
        self.root, self.executed = root, []

    def __truediv__(self, part):
        return self.root / part


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A fake project root; `runner.run_notebook` replaced by a stand-in that records what it ran."""
    (tmp_path / "notebooks").mkdir()
    for name, parameters in PARAMETERS.items():
        write_notebook(tmp_path / "notebooks" / f"{name}.ipynb", parameters)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "smoke.yaml").write_text("image_size: 64\nepochs: 2\n")
    (tmp_path / "lib" / "unetcolor" / "weights").mkdir(parents=True)
    (tmp_path / "lib" / "unetcolor" / "model.py").write_text("FILTERS = 64\n")
    (tmp_path / "lib" / "unetcolor" / "weights" / "default.keras").write_bytes(b"weights")
    project = FakeProject(tmp_path)
    executed = project.executed

    def fake_run_notebook(name, profile, extra=None, root=None):
        executed.append(name)
        folders = runner.paths.profile_paths(profile, root).make()
        parameters = runner.injected_parameters(name, profile, extra, root)
        if name == staleness.DATA_NOTEBOOK:  # what data.prepare_dataset and make_splits write
            size = parameters.get("image_size", 256)
            (folders.processed / "splits").mkdir(parents=True, exist_ok=True)
            (folders.processed / "manifest.json").write_text(json.dumps(
                {"inputs": f"file times {len(executed)}", "parameters": {"image_size": size}}))
            (folders.processed / "index.csv").write_text(f"id,file,sha256\n0,a.png,{size}\n")
            (folders.processed / "splits" / "split_80_20.csv").write_text("id,file,subset\n0,a.png,train\n")
        (folders.notebooks / f"{name}.ipynb").write_text(json.dumps(parameters))
        return folders.notebooks / f"{name}.ipynb"

    monkeypatch.setattr(runner, "run_notebook", fake_run_notebook)
    return project


def run(project, names=runner.NOTEBOOKS, **options) -> dict[str, str]:
    """Run the runner on the fake project; each notebook's one-line verdict, by name, without its "(N s)"."""
    project.executed.clear()
    decisions = runner.run(list(names), "smoke", root=project.root, **options)
    return {decision.name: re.sub(r" \(\d+ s\)$", "", decision.describe()) for decision in decisions}


def test_a_second_run_with_the_same_inputs_executes_nothing_and_says_since_when(project, capsys):
    first = run(project)
    assert first == {name: "ran: no previous run" for name in runner.NOTEBOOKS}
    stamp = staleness.read_stamp("03_training", "smoke", project.root)
    second = run(project)
    assert project.executed == []
    since = {name: staleness.read_stamp(name, "smoke", project.root)["recorded"] for name in runner.NOTEBOOKS}
    assert second == {name: f"current: inputs unchanged since {since[name]}" for name in runner.NOTEBOOKS}
    assert stamp["recorded"] in second["03_training"]
    assert "[smoke] 03_training current: inputs unchanged since" in capsys.readouterr().out


def test_a_changed_notebook_source_reruns_it_and_the_notebooks_after_it(project):
    run(project)
    write_notebook(project / "notebooks" / "03_training.ipynb", PARAMETERS["03_training"], "print('new')")
    verdicts = run(project)
    assert project.executed == list(runner.NOTEBOOKS[2:])
    assert verdicts["02_model"].startswith("current:")
    assert verdicts["03_training"].startswith("ran: notebook source changed")
    assert verdicts["04_hyperparameter_study"].startswith("ran: upstream 03_training re-ran")
    assert verdicts[LAST].startswith("ran: upstream 06_pokhara_test_images re-ran")


def test_a_changed_parameter_names_itself_and_its_values(project):
    run(project)
    verdicts = run(project, extra={"epochs": 3})
    assert project.executed == list(runner.NOTEBOOKS[2:])
    assert verdicts["03_training"].startswith("ran: parameters changed: epochs 2 -> 3")
    assert verdicts["04_hyperparameter_study"] == "ran: parameters changed: epochs 2 -> 3; upstream 03_training re-ran"
    assert all(verdict.startswith("current:") for verdict in run(project, extra={"epochs": 3}).values())
    assert run(project)["03_training"].startswith("ran: parameters changed: epochs 3 -> 2")


def test_a_changed_package_file_reruns_everything_and_names_the_file(project):
    run(project)
    (project / "lib" / "unetcolor" / "model.py").write_text("FILTERS = 32\n")
    (project / "lib" / "unetcolor" / "extra.py").write_text("")
    verdicts = run(project)
    assert project.executed == list(runner.NOTEBOOKS)
    assert verdicts["01_data_preparation"].startswith("ran: package code changed: extra.py, model.py")


def test_touching_files_changes_nothing(project):
    run(project)
    for path in project.root.rglob("*"):
        if path.is_file():
            path.touch()
    assert all(verdict.startswith("current:") for verdict in run(project).values())


def test_a_data_dir_is_fingerprinted_by_its_photos(project):
    photos = project / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"one photo")
    run(project)
    verdicts = run(project, extra={"data_dir": "photos"})
    assert verdicts["01_data_preparation"] == "ran: parameters changed: data_dir (default) -> 'photos'"
    assert verdicts["02_model"].startswith("ran: upstream 01_data_preparation re-ran")
    assert run(project, extra={"data_dir": "photos"})["01_data_preparation"].startswith("current:")
    (photos / "a.jpg").write_bytes(b"another photo")
    verdicts = run(project, extra={"data_dir": "photos"})
    assert verdicts["01_data_preparation"] == "ran: files under data_dir changed"
    (photos / ".DS_Store").write_bytes(b"hidden files are not photos")
    assert run(project, extra={"data_dir": "photos"})["01_data_preparation"].startswith("current:")


def test_prepared_data_changed_by_notebook_01_reruns_the_notebooks_that_read_it(project):
    run(project)
    (project / "profiles" / "smoke.yaml").write_text("image_size: 32\nepochs: 2\n")
    verdicts = run(project)
    assert project.executed == list(runner.NOTEBOOKS)
    assert verdicts["02_model"].startswith("ran: parameters changed: image_size 64 -> 32; prepared data changed; "
                                           "upstream 01_data_preparation re-ran")
    assert verdicts["04_hyperparameter_study"].startswith("ran: prepared data changed; upstream 03_training re-ran")


def test_prepared_data_replaced_behind_the_runner(project):
    run(project)
    processed = project / "data" / "processed" / "smoke"
    (processed / "splits" / "split_80_20.csv").write_text("id,file,subset\n0,a.png,val\n")
    verdicts = run(project, names=runner.NOTEBOOKS[1:])  # notebook 01 not asked for: the readers notice
    assert verdicts["02_model"].startswith("ran: prepared data changed")
    verdicts = run(project)
    assert verdicts["01_data_preparation"].startswith("ran: prepared data replaced since this notebook wrote it")
    # notebook 01 wrote the data it wrote before, so the notebooks after it follow that data again
    assert verdicts["02_model"].startswith("ran: prepared data changed")


def test_file_times_and_photo_descriptions_in_the_prepared_data_change_nothing(project):
    run(project)
    processed = project / "data" / "processed" / "smoke"
    record = json.loads((processed / "manifest.json").read_text())
    (processed / "manifest.json").write_text(json.dumps({**record, "inputs": "other file times"}))
    (processed / "index.csv").write_text("id,file,sha256,chroma\n0,a.png,64,22.964\n")
    assert all(verdict.startswith("current:") for verdict in run(project).values())
    (processed / "index.csv").write_text("id,file,sha256,chroma\n0,a.png,other photo,22.964\n")
    assert run(project, names=["02_model"])["02_model"].startswith("ran: prepared data changed")


def test_missing_prepared_data_reruns_notebook_01_only_when_it_comes_back_the_same(project):
    run(project)
    shutil.rmtree(project / "data")
    verdicts = run(project)
    assert verdicts["01_data_preparation"] == "ran: prepared data missing"
    assert project.executed == ["01_data_preparation"]


def test_a_missing_executed_notebook_reruns_it_alone(project):
    run(project)
    (project / "reports" / "smoke" / "notebooks" / "05_psnr_evaluation.ipynb").unlink()
    verdicts = run(project)
    assert project.executed == ["05_psnr_evaluation"]
    assert verdicts["05_psnr_evaluation"] == "ran: executed notebook missing"


def test_an_upstream_stamp_that_changed_reruns_the_next_notebook(project):
    run(project)
    path = staleness.stamp_path("01_data_preparation", "smoke", project.root)
    path.write_text(json.dumps({**json.loads(path.read_text()), "fingerprint": "other"}))
    verdicts = run(project, names=runner.NOTEBOOKS[1:])
    assert verdicts["02_model"].startswith("ran: upstream 01_data_preparation re-ran")
    path.unlink()
    assert run(project, names=["02_model"])["02_model"].startswith("ran: upstream 01_data_preparation has not run")


def test_shipped_weights_are_read_by_notebook_07_only(project):
    run(project)
    (project / "lib" / "unetcolor" / "weights" / "default.keras").write_bytes(b"retrained")
    verdicts = run(project)
    assert project.executed == [LAST]
    assert verdicts[LAST] == "ran: shipped weights changed: default.keras"


def test_a_changed_subpackage_file_reruns_everything_and_names_its_path(project):
    (project / "lib" / "unetcolor" / "colorizers").mkdir()
    (project / "lib" / "unetcolor" / "colorizers" / "bins.py").write_text("TEMPERATURE = 0.4\n")
    run(project)
    (project / "lib" / "unetcolor" / "colorizers" / "bins.py").write_text("TEMPERATURE = 0.3\n")
    verdicts = run(project)
    assert project.executed == list(runner.NOTEBOOKS)
    assert verdicts["01_data_preparation"] == "ran: package code changed: colorizers/bins.py"


def test_the_cpu_benchmark_is_read_by_notebook_03_only(project):
    (project / "reports" / "bench").mkdir(parents=True)
    (project / "reports" / "bench" / "tensorflow-cpu-2cpu.json").write_text('{"training": 1}')
    run(project)
    (project / "reports" / "bench" / "tensorflow-cpu-2cpu.json").write_text('{"training": 2}')
    verdicts = run(project)
    assert project.executed[0] == "03_training"
    assert verdicts["03_training"] == "ran: benchmark changed: tensorflow-cpu-2cpu.json"
    assert verdicts["02_model"].startswith("current:")


def test_a_model_path_parameter_is_fingerprinted_by_the_file(project):
    (project / "model.keras").write_bytes(b"a")
    run(project, extra={"model_path": "model.keras"})
    (project / "model.keras").write_bytes(b"b")
    verdicts = run(project, extra={"model_path": "model.keras"})
    assert verdicts["05_psnr_evaluation"].startswith("ran: files under model_path changed")


def test_force_reruns_everything_and_keeps_the_stamps(project):
    run(project)
    before = {name: staleness.stamp_path(name, "smoke", project.root).read_text() for name in runner.NOTEBOOKS}
    verdicts = run(project, force=True)
    assert project.executed == list(runner.NOTEBOOKS)
    assert all(verdict == "ran: forced (--force)" for verdict in verdicts.values())
    assert before == {name: staleness.stamp_path(name, "smoke", project.root).read_text() for name in runner.NOTEBOOKS}


def test_a_failed_run_writes_no_stamp(project, monkeypatch):
    def failing(name, profile, extra=None, root=None):
        raise RuntimeError("a cell failed")

    monkeypatch.setattr(runner, "run_notebook", failing)
    with pytest.raises(RuntimeError):
        runner.run(["01_data_preparation"], "smoke", root=project.root)
    assert not staleness.stamp_path("01_data_preparation", "smoke", project.root).exists()
    assert not list((project / "reports" / "smoke").rglob(".*"))


def test_notebooks_run_in_pipeline_order_whatever_the_order_asked(project):
    run(project, names=["03_training", "01_data_preparation", "02_model"])
    assert project.executed == ["01_data_preparation", "02_model", "03_training"]


def test_papermill_end_to_end_with_relative_paths_in_its_metadata(tmp_path, monkeypatch):
    """One real execution: a tiny notebook through papermill, its stamp, then no second execution."""
    monkeypatch.setenv(runner.PROGRESS_ENV, "epoch")  # run_notebook sets it; restored after the test
    (tmp_path / "notebooks").mkdir()
    for name, parameters in PARAMETERS.items():
        write_notebook(tmp_path / "notebooks" / f"{name}.ipynb", parameters, "print(image_size * 2)")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "smoke.yaml").write_text("image_size: 64\n")
    (tmp_path / "lib" / "unetcolor").mkdir(parents=True)
    assert runner.run(["02_model"], "smoke", root=tmp_path)[0].stale
    executed = tmp_path / "reports" / "smoke" / "notebooks" / "02_model.ipynb"
    notebook = json.loads(executed.read_text())
    assert notebook["metadata"]["papermill"]["input_path"] == "notebooks/02_model.ipynb"
    assert notebook["metadata"]["papermill"]["output_path"] == "reports/smoke/notebooks/02_model.ipynb"
    assert "".join(notebook["cells"][-1]["outputs"][0]["text"]) == "128\n"
    assert str(tmp_path) not in executed.read_text()
    assert not runner.run(["02_model"], "smoke", root=tmp_path)[0].stale


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("arguments, expected", [
    (["data", "DATA_DIR=somewhere/photos"], 'runner --profile paper --data-dir "somewhere/photos" 01_data_preparation'),
    (["reproduce", "PROFILE=smoke", "FORCE=1"], "runner --profile smoke --force 01_data_preparation 02_model"),
    (["reports/paper/notebooks/03_training.ipynb"], "runner --profile paper 01_data_preparation 02_model 03_training "),
])
def test_make_always_asks_the_runner(arguments, expected):
    """Every notebook target calls the runner, whatever the files' times (make -n: the plan, not the run)."""
    environment = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    plan = subprocess.run(["make", "-n", "-C", str(ROOT), *arguments], capture_output=True, text=True, check=True,
                          env=environment)
    assert expected in " ".join(plan.stdout.split()) + " "
