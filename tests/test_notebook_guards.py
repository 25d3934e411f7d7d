"""Notebooks run by hand check what they read, as `make reproduce` does.

A throwaway project (smoke profile) holds a main run trained on one folder of photos, then another
folder is prepared. Executed with papermill, and with a kernel whose working folder is notebooks/
(as JupyterLab's is, the project found from there), the notebooks that score the main run on the
prepared photos stop with a few lines naming both sets of photos and the commands that fix it, and
write no table; notebook 03 trains its missing run only when the reader opts in. Real training,
real kernels, real files."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from PIL import Image

from unetcolor import manifest, paths, profiles
from unetcolor.photos import data
from unetcolor.reproduction import plan, runner
from unetcolor.training import train
from unetcolor.unet import runs

from conftest import photo_crops, throwaway_project

ROOT = Path(__file__).resolve().parents[1]
PROFILE = "smoke"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """(project, its environment): the main run trained on 16 photos of "photos A" (prepared by
    notebook 01 through the runner, which stamps it), then 12 other photos, "photos B", prepared
    with `python -m unetcolor data`, as `make data DATA_DIR=...` would after the run."""
    base = tmp_path_factory.mktemp("guards")
    project, _, environment = throwaway_project(base, "photos A", ".png", seed=3)
    other = base / "photos B"
    other.mkdir()
    for i, crop in enumerate(photo_crops(12, 96, seed=11)):
        Image.fromarray(crop).save(other / f"other {i:02d}.png")
    with pytest.MonkeyPatch.context() as patch:
        for key in (paths.ROOT_ENV, "UNETCOLOR_CACHE"):
            patch.setenv(key, environment[key])
        runner.run(["01_data_preparation"], PROFILE, {"data_dir": "../photos A"}, root=project)
        folders = paths.profile_paths(PROFILE, project)
        config = train.bind_data(profiles.load(PROFILE, root=project).main, folders.processed)
        train.train(config, folders.processed, folders.run_dir(config.run_name()), progress="quiet")
        runs.mark_main(PROFILE, folders.run_dir(config.run_name()))
        assert data.main(["--profile", PROFILE, "--data-dir", "../photos B"]) == 0
    return project, environment


@pytest.fixture
def in_project(project, monkeypatch):
    """The project's environment in this process (the kernels inherit it)."""
    root, environment = project
    for key in (paths.ROOT_ENV, "UNETCOLOR_CACHE"):
        monkeypatch.setenv(key, environment[key])
    return root


def fingerprints(project: Path) -> tuple[str, str]:
    """(the prepared photos' data fingerprint, the main run's), read independently of the guard."""
    folders = paths.profile_paths(PROFILE, project)
    main = json.loads((folders.models / runs.MAIN_POINTER).read_text())["run"]
    return data.fingerprint(folders.processed), json.loads((folders.models / main / "config.json").read_text())["data"]


def with_parameters(project: Path, name: str, **values) -> nbformat.NotebookNode:
    """The notebook as a reader edits it in JupyterLab: lines appended to its parameters cell."""
    notebook = nbformat.read(project / "notebooks" / f"{name}.ipynb", as_version=4)
    [cell] = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    cell.source += "".join(f"\n{key} = {value!r}" for key, value in values.items())
    return notebook


def lab_client(project: Path, notebook) -> NotebookClient:
    """A kernel started in notebooks/, as JupyterLab starts one, with no UNETCOLOR_ROOT."""
    return NotebookClient(notebook, timeout=600, kernel_name="python3",
                          resources={"metadata": {"path": str(project / "notebooks")}})


def only_imports(cell) -> bool:
    return cell.cell_type == "code" and all(isinstance(node, (ast.Import, ast.ImportFrom))
                                            for node in ast.parse(cell.source).body)


def tables(project: Path, name: str) -> list[Path]:
    """The tables notebook `name` declares, where they exist."""
    folder = paths.profile_paths(PROFILE, project).tables
    return [folder / table for table in manifest.notebook(name, project).tables if (folder / table).exists()]


def assert_stops_on_other_photos(project: Path, ename: str, traceback: list[str]) -> None:
    prepared, trained = fingerprints(project)
    assert prepared != trained
    assert ename == "NotebookStop"
    text = "\n".join(traceback)
    assert "Traceback" not in text and 'File "' not in text and len(traceback) <= 8, text
    assert f"12 photos from the folder ../photos B (data fingerprint {prepared})" in text
    assert f"photos from the folder ../photos A (data fingerprint {trained}, 16 files)" in text
    assert '`make data PROFILE=smoke DATA_DIR="../photos A"`' in text
    assert '`make reproduce PROFILE=smoke DATA_DIR="../photos B" TRAIN=1`' in text


@pytest.mark.parametrize("name", ["04_hyperparameter_study", "05_psnr_evaluation", "07_beyond_the_paper"])
def test_papermill_stops_a_notebook_that_would_score_a_run_on_other_photos(in_project, tmp_path, name):
    with pytest.raises(papermill.PapermillExecutionError) as stopped:
        papermill.execute_notebook(str(in_project / "notebooks" / f"{name}.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"profile": PROFILE}, cwd=str(in_project / "notebooks"),
                                   kernel_name="python3", progress_bar=False)
    assert_stops_on_other_photos(in_project, stopped.value.ename, stopped.value.traceback)
    assert tables(in_project, name) == []


def test_a_kernel_started_in_the_notebooks_folder_stops_the_same_way(in_project, monkeypatch):
    monkeypatch.delenv(paths.ROOT_ENV)
    notebook = with_parameters(in_project, "05_psnr_evaluation", profile=PROFILE)
    with pytest.raises(CellExecutionError):
        lab_client(in_project, notebook).execute()
    [error] = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert_stops_on_other_photos(in_project, error.ename, error.traceback)
    assert tables(in_project, "05_psnr_evaluation") == []


def test_the_notebooks_command_reports_the_stop_without_a_traceback(project):
    root, environment = project
    done = subprocess.run([sys.executable, "-m", "unetcolor", "notebooks", "--profile", PROFILE, "05_psnr_evaluation"],
                          env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert_stops_on_other_photos(root, "NotebookStop", done.stderr.strip().splitlines()[-6:])
    assert tables(root, "05_psnr_evaluation") == []


def test_notebook_06_names_the_photos_its_run_was_trained_on(in_project):
    _, trained = fingerprints(in_project)
    run_dir = runs.main_run_dir(PROFILE)
    assert (runner.run_photos(run_dir, PROFILE)
            == f"photos from the folder ../photos A (data fingerprint {trained}, 16 files)")
    source = "".join(cell.source
                     for cell in nbformat.read(ROOT / "notebooks" / "06_pokhara_test_images.ipynb", 4).cells)
    assert "runner.run_photos(run_dir, profile)" in source


def test_notebook_03_trains_a_missing_run_only_when_asked(in_project, tmp_path):
    folders = paths.profile_paths(PROFILE, in_project)
    [main] = [run for run in plan.build(PROFILE) if run.role == "main"]
    assert main.status == "missing"
    with pytest.raises(papermill.PapermillExecutionError) as stopped:
        papermill.execute_notebook(str(in_project / "notebooks" / "03_training.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"profile": PROFILE}, cwd=str(in_project / "notebooks"),
                                   kernel_name="python3", progress_bar=False)
    assert stopped.value.ename == "NotebookStop"
    text = "\n".join(stopped.value.traceback)
    plan.estimate([main], folders.processed)  # the kernel's measurement, from this machine's cache
    assert f"about {plan.duration(main.estimate_seconds)} of training on this machine" in text, text
    assert '`make reproduce PROFILE=smoke DATA_DIR="../photos B" TRAIN=1`' in text and "train_if_missing = True" in text
    assert runs.state(main.run_dir) == ("missing", 0) and not main.run_dir.exists()
    assert tables(in_project, "03_training") == []


def test_opting_in_trains_in_the_notebook_then_every_cell_runs_again(project, tmp_path, monkeypatch):
    """In a copy of the project: notebook 03 with `train_if_missing = True` trains the run on the
    prepared photos; notebook 05 then scores it, and running each of its cells a second time in the
    same kernel, as a reader going back to one does (the imports not repeated), works and writes
    the same tables."""
    copy = tmp_path / "project"
    shutil.copytree(project[0], copy, symlinks=True)
    monkeypatch.delenv(paths.ROOT_ENV, raising=False)
    monkeypatch.setenv("UNETCOLOR_CACHE", project[1]["UNETCOLOR_CACHE"])
    lab_client(copy, with_parameters(copy, "03_training", profile=PROFILE, train_if_missing=True)).execute()
    prepared, trained = fingerprints(copy)
    assert prepared == trained
    models = paths.profile_paths(PROFILE, copy).models
    assert runs.state(models / json.loads((models / runs.MAIN_POINTER).read_text())["run"], needs_weights=True)[0] \
        == "finished"

    notebook = with_parameters(copy, "05_psnr_evaluation", profile=PROFILE)
    client = lab_client(copy, notebook)
    summary = paths.profile_paths(PROFILE, copy).tables / "05_psnr_summary.csv"
    written = []
    with client.setup_kernel():
        for again in (False, True):
            for index, cell in enumerate(notebook.cells):
                if not (again and only_imports(cell)):
                    client.execute_cell(cell, index)
            written.append(summary.read_text())
    assert written[0] == written[1]


def test_no_notebook_rebinds_a_name_it_imported():
    """A module name bound again (07 once turned `colorizers` into a dict) breaks the cells above it
    when they run again."""
    for name in manifest.names(ROOT):
        notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        trees = [ast.parse(cell.source) for cell in notebook.cells if cell.cell_type == "code"]
        imported, bound = set(), set()
        for node in (node for tree in trees for node in ast.walk(tree)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imported |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                bound.add(node.name)
        assert not imported & bound, (name, sorted(imported & bound))
