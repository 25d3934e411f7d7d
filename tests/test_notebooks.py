"""The notebooks' contract: numbered, one literal `parameters` cell, no stored outputs,
profiles that only name declared parameters."""

import json
import re
from pathlib import Path

import pytest

from unetcolor import manifest
from unetcolor.reproduction import runner

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = manifest.names(ROOT)


@pytest.mark.parametrize("name", NOTEBOOKS)
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
    assert sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")) == sorted(NOTEBOOKS)


def test_notebooks_declare_no_setting_of_a_profile():
    """The paper's settings are written once, in profiles/paper.yaml: no notebook parameter cell
    holds one (a notebook's parameters are the profile's name and what a user points it at)."""
    from unetcolor import profiles

    settings = {key for section in profiles.raw_settings("paper", ROOT)[0].values() for key in section}
    for name in NOTEBOOKS:
        assert not set(runner.notebook_parameters(name, ROOT)) & settings, name
def test_smoke_never_writes_into_the_paper_folders():
    from unetcolor import paths

    smoke, paper = paths.profile_paths("smoke", ROOT), paths.profile_paths("paper", ROOT)
    for folder in ("processed", "models", "reports"):
        assert getattr(smoke, folder) != getattr(paper, folder)
        assert paper.profile not in getattr(smoke, folder).parts


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_committed_smoke_notebooks_are_known_good_runs(name):
    """reports/smoke/notebooks/ holds what nbval compares with (`make test-notebooks`): one finished
    smoke run of every notebook, with outputs in its checked cells and the paths papermill
    records relative to the project, not to the machine it ran on."""
    notebook = json.loads((ROOT / "reports" / "smoke" / "notebooks" / f"{name}.ipynb").read_text())
    record = notebook["metadata"]["papermill"]
    assert record["parameters"]["profile"] == "smoke" and record["exception"] is None
    assert (record["input_path"], record["output_path"]) == \
        (f"notebooks/{name}.ipynb", f"reports/smoke/notebooks/{name}.ipynb")
    checked = [cell for cell in notebook["cells"] if "# NBVAL_CHECK_OUTPUT" in "".join(cell["source"])]
    assert any(cell.get("outputs") for cell in checked)


def test_nbval_masks_float_noise_but_not_structure():
    """tests/nbval_sanitize.cfg, as nbval applies it: another CPU's last digits and pandas' padding
    vanish; a count, a shape, a column name, a verdict or a NaN still differ."""
    import re

    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((ROOT / "tests" / "nbval_sanitize.cfg").read_text())

    def sanitize(text):
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text

    assert sanitize("psnr  model   10.674  -1.152  0.000\n") == sanitize("psnr  model  10.675   1.149  0.001\n")
    assert sanitize("<td>0.0379</td><td>1.652093e+07</td>") == sanitize("<td>0.0380</td><td>1.652094e+07</td>")
    for reference, regressed in [("70_30  25  11", "70_30  24  12"), ("rgb (36, 64, 64, 3)", "rgb (36, 64, 64)"),
                                 ("val_loss 0.0379", "loss 0.0379"), ("supported", "contradicted"),
                                 ("mean 10.674", "mean NaN"), ("True", "False")]:
        assert sanitize(reference) != sanitize(regressed)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_committed_smoke_notebooks_run_the_current_sources(name):
    """nbval re-executes the cells stored in reports/smoke/notebooks/, not those of notebooks/:
    after editing a notebook, `make smoke` and commit its executed copy with it."""
    def code(path):
        cells = json.loads(path.read_text())["cells"]
        return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"
                and "injected-parameters" not in cell.get("metadata", {}).get("tags", [])]

    assert (code(ROOT / "reports" / "smoke" / "notebooks" / f"{name}.ipynb")
            == code(ROOT / "notebooks" / f"{name}.ipynb"))


@pytest.mark.parametrize("executed", sorted((ROOT / "reports").glob("*/notebooks/0*.ipynb")),
                         ids=lambda path: f"{path.parts[-3]}/{path.stem}")
def test_committed_executed_notebooks_are_clean_and_end_with_their_finding(executed):
    """What a reader sees: no start-up logging or warnings, no paths shown as PosixPath(...), no
    count in scientific notation, and a last cell that states the finding, written from the tables."""
    cells = json.loads(executed.read_text())["cells"]
    outputs = [output for cell in cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.get("name") == "stderr"]
    shown = "".join("".join(output.get("text", "")) + "".join(
        "".join(value) for kind, value in output.get("data", {}).items() if kind.startswith("text/"))
        for output in outputs)  # what is read as text; figures' image data left out
    assert "PosixPath" not in shown and "WARNING" not in shown and not re.search(r"\d\.\d+e\+0\d", shown)
    markdown = "".join(cells[-1]["outputs"][0]["data"]["text/markdown"])
    assert markdown.startswith("**What this shows.**")


def test_the_manifest_refuses_what_it_cannot_mean(tmp_path):
    """Each malformed manifest is refused with the file named and the rule it breaks."""
    real = manifest.path(ROOT).read_text()
    (tmp_path / "notebooks").mkdir()
    cases = {real + "- name: 08_x\n  sections: [data]\n  runs: everything\n": "runs must be one of",
             real + "- name: 08_x\n  tables: []\n  reads: [data]\n": "unknown key",
             real + "- name: 00_x\n": "in running order",
             real + "- name: 08_x\n  writes_data: true\n": "exactly one notebook",
             real + "- name: 08_x\n  tables: [a.csv]\n  finding: {table: b.csv, text: x}\n": "finding template"}
    for text, message in cases.items():
        (tmp_path / manifest.FILE).write_text(text)
        with pytest.raises(ValueError, match=message) as error:
            manifest.load(tmp_path)
        assert str(tmp_path / manifest.FILE) in str(error.value)


def test_the_manifest_names_every_table_the_results_page_reads():
    """What the README's findings and docs/results.md read is some notebook's declared table."""
    declared = {table for entry in manifest.load(ROOT) for table in entry.tables}
    source = (ROOT / "lib" / "unetcolor" / "reproduction" / "results.py").read_text()
    read = set(re.findall(r"tables / [\"'](\w+\.(?:csv|json))[\"']", source))
    assert read and read <= declared, sorted(read - declared)


def test_tables_are_rounded_to_what_a_rerun_on_another_cpu_keeps(tmp_path):
    """files.write_table: floats to 5 significant digits by default (the CSV text written out by
    hand), integers and text as they are, NaN empty; two runs that differ below that precision write
    the same bytes; nothing temporary is left beside the table."""
    import numpy as np
    import pandas as pd

    from unetcolor import files

    frame = pd.DataFrame({"metric": ["psnr", "loss", "ssim", "none"],
                          "mean": [21.04037290842308, 0.04142329469323158, 0.846584, np.nan],
                          "photos": [304, 304, 304, 0],
                          "float32": np.array([10.674199, 1152.3456, 1.23456789e-5, -7.0], dtype="float32")})
    files.write_table(frame, tmp_path / "table.csv")
    assert (tmp_path / "table.csv").read_text().splitlines() == [
        "metric,mean,photos,float32", "psnr,21.04,304,10.674", "loss,0.041423,304,1152.3",
        "ssim,0.84658,304,1.2346e-05", "none,,0,-7.0"]
    rerun = frame.assign(mean=frame["mean"] * (1 + 3e-8))  # another CPU: the 8th digit moves
    files.write_table(rerun, tmp_path / "rerun.csv")
    assert (tmp_path / "rerun.csv").read_bytes() == (tmp_path / "table.csv").read_bytes()
    files.write_table(frame.set_index("metric"), tmp_path / "indexed.csv", digits=3, index=True)
    assert (tmp_path / "indexed.csv").read_text().splitlines()[1] == "psnr,21.0,304,10.7"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["indexed.csv", "rerun.csv", "table.csv"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_table_a_notebook_writes_goes_through_the_table_writer(name):
    notebook = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    source = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
    assert ".to_csv(" not in source and ".write_text(" not in source
    assert source.count("write_table(") >= sum(table.endswith(".csv") for table in manifest.notebook(name, ROOT).tables)
