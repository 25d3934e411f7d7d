"""The notebooks' contract: numbered, one literal `parameters` cell, no stored outputs,
profiles that only name declared parameters."""

import json
from pathlib import Path

import pytest

from unetcolor import runner

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", runner.NOTEBOOKS)
def test_source_notebook_has_one_parameters_cell_and_no_outputs(name):
    notebook = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    tagged = [cell for cell in code if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code)
    parameters = runner.notebook_parameters(name, ROOT)
    assert parameters["profile"] == "paper"
    assert notebook["cells"][0]["cell_type"] == "markdown" and "Runtime" in "".join(notebook["cells"][0]["source"])


def test_every_notebook_file_is_listed():
    assert sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")) == sorted(runner.NOTEBOOKS)


def test_notebook_defaults_are_the_papers_values():
    training = runner.notebook_parameters("03_training", ROOT)
    assert (training["epochs"], training["batch_size"], training["learning_rate"], training["split"]) == \
        (100, 64, 1e-4, "80_20")
    study = runner.notebook_parameters("04_hyperparameter_study", ROOT)
    assert study["batch_sizes"] == [20, 32, 64, 100] and study["learning_rates"] == [1e-3, 1e-4]
    assert study["splits"] == ["70_30", "80_20", "90_10"]
    assert runner.notebook_parameters("01_data_preparation", ROOT)["image_size"] == 256


@pytest.mark.parametrize("profile", ["paper", "smoke"])
def test_shipped_profiles_load(profile):
    assert isinstance(runner.load_profile(profile, ROOT), dict)


def test_a_typo_in_a_profile_is_an_error(tmp_path):
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "typo.yaml").write_text("epoch: 3\n")
    with pytest.raises(ValueError, match=r"typo.yaml: unknown parameter\(s\) \['epoch'\]"):
        runner.load_profile("typo", tmp_path)
    with pytest.raises(FileNotFoundError, match="no such profile"):
        runner.load_profile("absent", tmp_path)


def test_smoke_never_writes_into_the_paper_folders():
    from unetcolor import paths

    smoke, paper = paths.profile_paths("smoke", ROOT), paths.profile_paths("paper", ROOT)
    for folder in ("processed", "models", "reports"):
        assert getattr(smoke, folder) != getattr(paper, folder)
        assert paper.profile not in getattr(smoke, folder).parts
