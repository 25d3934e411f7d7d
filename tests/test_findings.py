"""Each notebook's "What this shows" is written from the tables it wrote: the numbers quoted are
the tables' own, and the wording follows them (a model below the gray copy is said to be below)."""

import json
import shutil

import pandas as pd
import pytest

from unetcolor import manifest, paths, profiles
from unetcolor.reproduction import findings


def fake_root(tmp_path, monkeypatch, entries: str = "") -> None:
    """tmp_path as the project root, with the real profiles and notebooks manifest (and `entries`
    appended to it)."""
    shutil.copytree(paths.project_root() / "profiles", tmp_path / "profiles", dirs_exist_ok=True)
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    (tmp_path / manifest.FILE).write_text(manifest.path().read_text() + entries)
    monkeypatch.setattr(paths, "project_root", lambda: tmp_path)


@pytest.fixture()
def tables(tmp_path, monkeypatch):
    fake_root(tmp_path, monkeypatch)
    folder = paths.profile_paths("paper").make().tables
    return folder


def test_psnr_finding_quotes_the_summary_and_counts_photos_from_the_per_photo_table(tables):
    rows = [("psnr", "model", 21.04), ("psnr", "gray baseline", 22.043), ("ssim", "model", 0.859),
            ("ssim", "gray baseline", 0.926), ("colorfulness", "model", 33.1), ("colorfulness", "ground truth", 45.9)]
    pd.DataFrame(rows, columns=["metric", "method", "mean"]).to_csv(tables / "05_psnr_summary.csv", index=False)
    pd.DataFrame({"psnr_model": [20.0, 23.0, 19.0], "psnr_gray": [21.0, 22.0, 20.0]}).to_csv(
        tables / "05_psnr_per_image.csv", index=False)
    text = findings.what_this_shows("05_psnr_evaluation", "paper")
    assert text.startswith("**What this shows.** On 3 validation photos")
    assert "21.04 dB against 22.04 dB" in text and "(-1.00 dB)" in text and "beats the gray copy on 1 of 3" in text
    assert "cost more than adding none" in text


def test_study_finding_lists_every_claim_with_its_verdict_and_seeds(tables):
    pd.DataFrame({"claim": ["a", "b"], "verdict": ["contradicted", "not settled: a level has one seed"],
                  "seeds": [3, 1], "finding": ["x", "y"]}).to_csv(tables / "04_paper_claims.csv", index=False)
    pd.DataFrame({"run": ["r1", "r2", "r2"]}).to_csv(tables / "04_study_results.csv", index=False)
    text = findings.what_this_shows("04_hyperparameter_study", "paper")
    assert "2 finished runs" in text and "*a*: contradicted (3 seeds)" in text and "*b*: not settled (1 seed)" in text


def test_data_finding_names_the_source_and_the_split_counts(tables):
    pd.DataFrame({"status": ["kept", "kept", "excluded", "skipped"],
                  "reason": ["", "", "black-and-white (chroma 0.1)", "unreadable"]}).to_csv(
        tables / "data_report.csv", index=False)
    pd.DataFrame({"split": ["80_20"], "train": [1214], "val": [304]}).to_csv(tables / "split_counts.csv", index=False)
    (tables / "data_source.json").write_text(json.dumps({"kind": "folder", "folder": "../photos"}))
    text = findings.what_this_shows("01_data_preparation", "paper")
    assert "Of 4 files from the folder `../photos`, 2 were kept, 1 left out as already black-and-white" in text
    assert "80/20: 1,214 training and 304 validation photos" in text


def test_smoke_findings_say_they_show_only_that_the_code_runs(tmp_path, monkeypatch):
    fake_root(tmp_path, monkeypatch)
    tables = paths.profile_paths("smoke").make().tables
    pd.DataFrame({"claim": ["a"], "verdict": ["contradicted"], "seeds": [2], "finding": ["x"]}).to_csv(
        tables / "04_paper_claims.csv", index=False)
    pd.DataFrame({"run": ["r1"]}).to_csv(tables / "04_study_results.csv", index=False)
    # the sentence follows the profile: its epochs changed here, in the file
    smoke_file = tmp_path / "profiles" / "smoke.yaml"
    smoke_file.write_text(smoke_file.read_text().replace("  epochs: 2\n", "  epochs: 5\n"))
    size = profiles.load("smoke").model.image_size
    assert findings.what_this_shows("04_hyperparameter_study", "smoke").startswith(
        f"**What this shows.** *Smoke profile: {size}×{size} photos and 5 epochs, so these numbers "
        "show that the code runs, not what the paper found.* ")
    shutil.copytree(tables, paths.profile_paths("paper").make().tables, dirs_exist_ok=True)
    assert findings.what_this_shows("04_hyperparameter_study", "paper").startswith("**What this shows.** 1 finished")


def test_every_notebook_ends_with_its_finding():
    entries = manifest.load()
    assert {entry.finding for entry in entries} == set(findings.WRITERS)
    for name in (entry.name for entry in entries):
        cells = json.loads((paths.project_root() / "notebooks" / f"{name}.ipynb").read_text())["cells"]
        assert "".join(cells[-1]["source"]) == f'findings.show("{name}", profile)', name
        assert "".join(cells[-2]["source"]).startswith("## What this shows"), name


def test_a_manifest_template_finding_is_filled_from_its_table(tmp_path, monkeypatch):
    fake_root(tmp_path, monkeypatch, """
- name: 08_extra
  sections: [evaluation]
  tables: [08_extra.csv]
  finding: {table: 08_extra.csv, text: "The mean is {mean:.2f} over {n} photos."}
""")
    tables = paths.profile_paths("paper").make().tables
    pd.DataFrame({"mean": [1.23456], "n": [7]}).to_csv(tables / "08_extra.csv", index=False)
    assert findings.what_this_shows("08_extra", "paper") == "**What this shows.** The mean is 1.23 over 7 photos."
    pd.DataFrame({"other": [1]}).to_csv(tables / "08_extra.csv", index=False)
    with pytest.raises(ValueError, match="its columns are \\['other'\\]"):
        findings.what_this_shows("08_extra", "paper")


def test_hints_finding_quotes_the_hint_curve_against_the_gray_copy_and_the_goals(tables):
    rows = []
    for count, psnr in ((0, 22.9), (10, 25.1), (50, 27.5)):
        rows += [{"hints": count, "method": "hints", "psnr": psnr, "ab_auc": 0.9 + count / 1000,
                  "colorfulness_share": 0.4 + count / 100, "photos": 304},
                 {"hints": count, "method": "gray copy", "psnr": 22.0, "ab_auc": 0.85, "colorfulness_share": 0.0,
                  "photos": 304},
                 {"hints": count, "method": "automatic", "psnr": 22.9, "ab_auc": 0.9, "colorfulness_share": 0.4,
                  "photos": 304}]
    pd.DataFrame(rows).to_csv(tables / "08_hints.csv", index=False)
    text = findings.what_this_shows("08_colorize_interactively", "paper")
    assert "On 304 validation photos, with no hint the hints colorizer scores 22.90 dB (+0.00 dB" in text
    # 25.1 - 22.0 = +3.10 meets the +3 dB goal at 10 hints; 27.5 - 22.0 = +5.50 meets +5 dB at 50
    assert "25.10 dB with 10 per photo (+3.10 dB over the gray copy) and 27.50 dB with 50 (+5.50 dB)" in text
    assert "+3 dB at 10 met; +5 dB at 50 met" in text and "from 40% of the originals' to 90%" in text
    pd.DataFrame(rows).assign(psnr=lambda frame: frame["psnr"].where(frame["method"] != "hints", 24.0)).to_csv(
        tables / "08_hints.csv", index=False)
    assert "+3 dB at 10 not met; +5 dB at 50 not met" in findings.what_this_shows("08_colorize_interactively", "paper")
