"""Reruns decided by content: the runner re-executes a notebook when what it reads changed, and says why.

The decisions are tested on a fake project (seven one-cell notebooks, the real profiles, a package of
one file) with papermill replaced by a stand-in that writes the executed notebook and, for notebook 01,
the prepared data; training runs are faked by writing their records where the plan looks for them.
One test executes a real notebook through papermill."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from unetcolor import manifest, profiles
from unetcolor.reproduction import plan, runner, staleness

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = manifest.names(ROOT)
LAST = "07_beyond_the_paper"  # the reader of the shipped colorizers' files
READERS_OF_THE_MAIN_RUN = [entry.name for entry in manifest.load(ROOT) if entry.runs]  # 03-07

PARAMETERS = {  # each fake notebook's `parameters` cell: what papermill may inject, never a setting
    "01_data_preparation": "profile = 'paper'\ndata_dir = ''\n",
    "02_model": "profile = 'paper'\n",
    "03_training": "profile = 'paper'\n",
    "04_hyperparameter_study": "profile = 'paper'\n",
    "05_psnr_evaluation": "profile = 'paper'\nmodel_path = ''\nsplit = ''\n",
    "06_pokhara_test_images": "profile = 'paper'\nphotos_dir = 'scikit-image'\nmodel_path = ''\n",
    "07_beyond_the_paper": "profile = 'paper'\npaper_model_path = ''\ndefault_model_path = ''\n"
                           "vivid_model_path = ''\ngan_model_path = ''\n",
    "08_colorize_interactively": "profile = 'paper'\n",
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
    shutil.copy(manifest.path(ROOT), tmp_path / manifest.FILE)
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    (tmp_path / "lib" / "unetcolor" / "weights").mkdir(parents=True)
    (tmp_path / "lib" / "unetcolor" / "model.py").write_text("FILTERS = 64\n")
    (tmp_path / "lib" / "unetcolor" / "weights" / "default.keras").write_bytes(b"weights")
    project = FakeProject(tmp_path)
    executed = project.executed

    def fake_run_notebook(name, profile, extra=None, root=None):
        executed.append(name)
        folders = runner.paths.profile_paths(profile, root).make()
        parameters = runner.injected_parameters(name, profile, extra, root)
        if name == manifest.data_notebook(root):  # what data.prepare_dataset and make_splits write
            settings = profiles.load(profile, root=root).data
            size = settings["image_size"]
            (folders.processed / "splits").mkdir(parents=True, exist_ok=True)
            (folders.processed / "manifest.json").write_text(json.dumps(
                {"inputs": f"file times {len(executed)}", "parameters": {"image_size": size}}))
            (folders.processed / "index.csv").write_text(f"id,file,sha256\n0,a.png,{size}\n1,b.png,{size}b\n")
            for split in settings["splits"]:  # every split the profile's runs may train on
                (folders.processed / "splits" / f"split_{split}.csv").write_text(
                    "id,file,subset\n0,a.png,train\n1,b.png,val\n")
        (folders.notebooks / f"{name}.ipynb").write_text(json.dumps(parameters))
        return folders.notebooks / f"{name}.ipynb"

    monkeypatch.setattr(runner, "run_notebook", fake_run_notebook)
    return project


def run(project, names=NOTEBOOKS, **options) -> dict[str, str]:
    """Run the runner on the fake project; each notebook's one-line verdict, by name, without its "(N s)"."""
    project.executed.clear()
    decisions = runner.run(list(names), "smoke", root=project.root, **options)
    return {decision.name: re.sub(r" \(\d+ s\)$", "", decision.describe()) for decision in decisions}


def edit_profile(project, old: str, new: str) -> None:
    """Change one line of the fake root's profiles/smoke.yaml."""
    path = project / "profiles" / "smoke.yaml"
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not one line of {path}"
    path.write_text(text.replace(old, new))


def finish(run: plan.PlannedRun) -> None:
    """Write a training run's records where the plan looks for them, as training would."""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    (run.run_dir / "metrics.json").write_text(json.dumps({"epochs": run.config.epochs}))
    (run.run_dir / "history.csv").write_text("epoch,loss\n1,0.5\n")
    if run.role == "main":  # notebooks 05-07 load the main run's weights
        (run.run_dir / "model.keras").write_bytes(b"weights")


def test_a_second_run_with_the_same_inputs_executes_nothing_and_says_since_when(project, capsys):
    first = run(project)
    assert first == {name: "ran: no previous run" for name in NOTEBOOKS}
    stamp = staleness.read_stamp("03_training", "smoke", project.root)
    second = run(project)
    assert project.executed == []
    since = {name: staleness.read_stamp(name, "smoke", project.root)["recorded"] for name in NOTEBOOKS}
    assert second == {name: f"current: inputs unchanged since {since[name]}" for name in NOTEBOOKS}
    assert stamp["recorded"] in second["03_training"]
    assert "[smoke] 03_training current: inputs unchanged since" in capsys.readouterr().out


def test_a_changed_notebook_source_reruns_that_notebook_only(project):
    run(project)
    write_notebook(project / "notebooks" / "03_training.ipynb", PARAMETERS["03_training"], "print('new')")
    verdicts = run(project)
    assert project.executed == ["03_training"]
    assert verdicts["03_training"] == "ran: notebook source changed"
    assert all(verdicts[name].startswith("current:") for name in NOTEBOOKS if name != "03_training")


def test_a_notebook_that_re_ran_leaves_the_later_ones_current_when_what_they_read_did_not_change(project):
    run(project)
    assert run(project, names=["01_data_preparation", "03_training"], force=True) == {
        "01_data_preparation": "ran: forced (--force)", "03_training": "ran: forced (--force)"}
    verdicts = run(project)
    assert project.executed == []
    assert all(verdict.startswith("current:") for verdict in verdicts.values())


def test_a_changed_parameter_names_itself_and_its_values(project):
    run(project)
    verdicts = run(project, extra={"model_path": "elsewhere.keras"})  # no such file: the value stands for itself
    assert project.executed == ["05_psnr_evaluation", "06_pokhara_test_images"]  # the notebooks that declare it
    assert verdicts["05_psnr_evaluation"] == "ran: parameters changed: model_path (default) -> 'elsewhere.keras'"
    assert verdicts["03_training"].startswith("current:")
    again = run(project, extra={"model_path": "elsewhere.keras"})
    assert all(verdict.startswith("current:") for verdict in again.values())
    verdicts = run(project)
    assert verdicts["06_pokhara_test_images"] == "ran: parameters changed: model_path 'elsewhere.keras' -> (default)"


def test_a_changed_profile_setting_reruns_the_notebooks_that_read_it_and_names_the_setting(project):
    """Each notebook's stamp holds the sections it reads (its manifest entry's `sections`): a main-run setting
    re-executes 03 and 04, which read it, and 05-07 through the main run's new folder (its name
    follows its settings), while 01 and 02 stay current; a study setting re-executes 04 alone."""
    run(project)
    edit_profile(project, "  epochs: 2\n", "  epochs: 3\n")
    verdicts = run(project)
    assert project.executed == READERS_OF_THE_MAIN_RUN
    assert verdicts["01_data_preparation"].startswith("current:") and verdicts["02_model"].startswith("current:")
    assert verdicts["03_training"].startswith("ran: profile settings changed: main.epochs; training runs")
    assert all(verdicts[name].startswith("ran: training runs") for name in READERS_OF_THE_MAIN_RUN[2:])
    assert all(verdict.startswith("current:") for verdict in run(project).values())
    edit_profile(project, "  splits: [\"70_30\", \"80_20\"]\n", "  splits: [\"80_20\"]\n")
    verdicts = run(project)
    assert project.executed == ["04_hyperparameter_study"]
    assert verdicts["04_hyperparameter_study"].startswith("ran: profile settings changed: study.splits")


def _package(project, imports: dict[str, str], modules: dict[str, str]) -> None:
    """Give the fake project's notebooks the imports named (notebook -> code) and its package
    the modules named (path within the package -> source)."""
    for name, code in imports.items():
        write_notebook(project / "notebooks" / f"{name}.ipynb", PARAMETERS[name], code)
    for path, source in modules.items():
        (project / "lib" / "unetcolor" / path).parent.mkdir(parents=True, exist_ok=True)
        (project / "lib" / "unetcolor" / path).write_text(source)


def test_a_notebook_reruns_when_a_module_it_reaches_changes_and_only_then(project):
    """Stamps hold the modules a notebook's imports reach (unetcolor.dependencies): editing
    metrics.py re-executes the notebooks that import it, directly or through predict.py, and
    names it; editing the colorize command (cli.py), which no notebook reaches, re-executes none."""
    _package(project, {"02_model": "from unetcolor import model",
                       "05_psnr_evaluation": "from unetcolor import predict",
                       "06_pokhara_test_images": "import pandas as pd\nfrom unetcolor import metrics, paths"},
             {"__init__.py": "", "metrics.py": "PEAK = 255\n", "predict.py": "from . import metrics\n",
              "cli.py": "from . import predict\n", "paths.py": ""})
    run(project)
    (project / "lib" / "unetcolor" / "cli.py").write_text("from . import predict\nPROG = 'colorize'\n")
    assert all(verdict.startswith("current:") for verdict in run(project).values())
    assert project.executed == []
    (project / "lib" / "unetcolor" / "metrics.py").write_text("PEAK = 1.0\n")
    verdicts = run(project)
    assert project.executed == ["05_psnr_evaluation", "06_pokhara_test_images"]
    assert verdicts["05_psnr_evaluation"] == "ran: package code changed: metrics.py"


def test_a_changed_subpackage_module_is_named_by_its_path(project):
    _package(project, {"07_beyond_the_paper": "from unetcolor.colorizers import bins"},
             {"__init__.py": "", "colorizers/__init__.py": "", "colorizers/bins.py": "TEMPERATURE = 0.4\n"})
    run(project)
    (project / "lib" / "unetcolor" / "colorizers" / "bins.py").write_text("TEMPERATURE = 0.3\n")
    verdicts = run(project)
    assert project.executed == [LAST]
    assert verdicts[LAST] == "ran: package code changed: colorizers/bins.py"


def test_touching_files_changes_nothing(project):
    run(project)
    finish(plan.build("smoke", project.root)[0])
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
    # notebook 01 wrote the same prepared data, and the other notebooks do not declare data_dir
    assert project.executed == ["01_data_preparation"]
    assert verdicts["02_model"].startswith("current:")
    assert run(project, extra={"data_dir": "photos"})["01_data_preparation"].startswith("current:")
    (photos / "a.jpg").write_bytes(b"another photo")
    verdicts = run(project, extra={"data_dir": "photos"})
    assert verdicts["01_data_preparation"] == "ran: files under data_dir changed"
    (photos / ".DS_Store").write_bytes(b"hidden files are not photos")
    assert run(project, extra={"data_dir": "photos"})["01_data_preparation"].startswith("current:")


def test_prepared_data_changed_by_notebook_01_reruns_the_notebooks_that_read_it(project):
    run(project)
    edit_profile(project, "  image_size: 64\n", "  image_size: 128\n")
    verdicts = run(project)
    assert project.executed == list(NOTEBOOKS)
    assert verdicts["01_data_preparation"] == "ran: profile settings changed: data.image_size"
    assert verdicts["02_model"] == "ran: profile settings changed: data.image_size; prepared data changed"
    assert verdicts["04_hyperparameter_study"].startswith(
        "ran: profile settings changed: data.image_size; prepared data changed")


def test_prepared_data_replaced_behind_the_runner(project):
    run(project)
    processed = project / "data" / "processed" / "smoke"
    (processed / "splits" / "split_80_20.csv").write_text("id,file,subset\n0,a.png,val\n1,b.png,train\n")
    verdicts = run(project, names=NOTEBOOKS[1:])  # notebook 01 not asked for: the readers notice
    assert verdicts["02_model"] == "ran: prepared data changed"
    verdicts = run(project)
    assert verdicts["01_data_preparation"].startswith("ran: prepared data replaced since this notebook wrote it")
    # notebook 01 wrote the data it wrote before, so the notebooks after it follow that data again
    assert verdicts["02_model"] == "ran: prepared data changed"


def test_file_times_and_photo_descriptions_in_the_prepared_data_change_nothing(project):
    run(project)
    processed = project / "data" / "processed" / "smoke"
    record = json.loads((processed / "manifest.json").read_text())
    (processed / "manifest.json").write_text(json.dumps({**record, "inputs": "other file times"}))
    (processed / "index.csv").write_text("id,file,sha256,chroma\n0,a.png,64,22.964\n1,b.png,64b,3.5\n")
    assert all(verdict.startswith("current:") for verdict in run(project).values())
    (processed / "index.csv").write_text("id,file,sha256,chroma\n0,a.png,other photo,22.964\n1,b.png,64b,3.5\n")
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


def test_a_finished_main_run_reruns_exactly_the_notebooks_that_read_it(project):
    run(project)
    main = plan.build("smoke", project.root)[0]
    assert main.role == "main" and main.status == "missing"
    finish(main)
    verdicts = run(project)
    assert project.executed == READERS_OF_THE_MAIN_RUN
    assert verdicts["01_data_preparation"].startswith("current:")
    assert verdicts["02_model"].startswith("current:")
    assert {name: verdicts[name] for name in READERS_OF_THE_MAIN_RUN} == {
        name: f"ran: training runs changed: {main.name}" for name in READERS_OF_THE_MAIN_RUN}
    assert all(verdict.startswith("current:") for verdict in run(project).values())
    (main.run_dir / "metrics.json").write_text(json.dumps({"epochs": main.config.epochs, "psnr": 1}))
    assert run(project)["05_psnr_evaluation"] == f"ran: training runs changed: {main.name}"
    shutil.rmtree(main.run_dir)
    verdicts = run(project)
    assert project.executed == READERS_OF_THE_MAIN_RUN
    assert verdicts["03_training"] == f"ran: training runs gone: {main.name}"


def test_a_finished_study_run_reruns_the_study_notebook_only(project):
    run(project)
    study = plan.build("smoke", project.root)[1]
    assert study.role == "study"
    finish(study)
    verdicts = run(project)
    assert project.executed == ["04_hyperparameter_study"]
    assert verdicts["04_hyperparameter_study"] == f"ran: training runs changed: {study.name}"


def test_shipped_weights_are_read_by_notebook_07_only(project):
    run(project)
    (project / "lib" / "unetcolor" / "weights" / "default.keras").write_bytes(b"retrained")
    verdicts = run(project)
    assert project.executed == [LAST]  # notebook 08 reads the hints colorizer's files only
    assert verdicts[LAST] == "ran: records it reads changed: lib/unetcolor/weights/default.keras"


def test_a_model_path_parameter_is_fingerprinted_by_the_file(project):
    (project / "model.keras").write_bytes(b"a")
    run(project, extra={"model_path": "model.keras"})
    (project / "model.keras").write_bytes(b"b")
    verdicts = run(project, extra={"model_path": "model.keras"})
    assert project.executed == ["05_psnr_evaluation", "06_pokhara_test_images"]
    assert verdicts["05_psnr_evaluation"] == "ran: files under model_path changed"


def test_force_reruns_everything_and_keeps_the_stamps(project):
    run(project)
    before = {name: staleness.stamp_path(name, "smoke", project.root).read_text() for name in NOTEBOOKS}
    verdicts = run(project, force=True)
    assert project.executed == list(NOTEBOOKS)
    assert all(verdict == "ran: forced (--force)" for verdict in verdicts.values())
    assert before == {name: staleness.stamp_path(name, "smoke", project.root).read_text() for name in NOTEBOOKS}


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
        write_notebook(tmp_path / "notebooks" / f"{name}.ipynb", parameters, "print(profile * 2)")
    shutil.copy(manifest.path(ROOT), tmp_path / manifest.FILE)
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    (tmp_path / "lib" / "unetcolor").mkdir(parents=True)
    assert runner.run(["02_model"], "smoke", root=tmp_path)[0].stale
    executed = tmp_path / "reports" / "smoke" / "notebooks" / "02_model.ipynb"
    notebook = json.loads(executed.read_text())
    assert notebook["metadata"]["papermill"]["input_path"] == "notebooks/02_model.ipynb"
    assert notebook["metadata"]["papermill"]["output_path"] == "reports/smoke/notebooks/02_model.ipynb"
    assert notebook["metadata"]["papermill"]["parameters"] == {"profile": "smoke"}  # the name, not the settings
    assert "".join(notebook["cells"][-1]["outputs"][0]["text"]) == "smokesmoke\n"
    assert str(tmp_path) not in executed.read_text()
    assert not runner.run(["02_model"], "smoke", root=tmp_path)[0].stale


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("arguments, expected", [
    (["data", "DATA_DIR=somewhere/photos"], 'unetcolor notebooks --profile paper --data-dir "somewhere/photos" '
                                            "01_data_preparation "),
    (["reproduce", "PROFILE=smoke", "FORCE=1"], "unetcolor reproduce --profile smoke --force "),
    (["reproduce", "DATA_DIR=somewhere/photos"], 'unetcolor reproduce --profile paper --data-dir "somewhere/photos" '),
    (["smoke"], "unetcolor reproduce --profile smoke --train "),
])
def test_make_always_asks_the_runner(arguments, expected):
    """`make data` calls the runner and `make reproduce` unetcolor.reproduction.reproduce (which calls the runner),
    whatever the files' times (make -n: the plan, not the run)."""
    environment = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    plan = subprocess.run(["make", "-n", "-C", str(ROOT), *arguments], capture_output=True, text=True, check=True,
                          env=environment)
    assert expected in " ".join(plan.stdout.split()) + " "
