"""The README's results section is formatted from the tables, not typed."""

from pathlib import Path

import pandas as pd

from unetcolor import results


def test_baseline_verdict_follows_the_signs():
    assert "does **not** beat the gray baseline in PSNR or SSIM" in results._baseline_verdict(-1.1, -0.07)
    assert "not** beat the gray baseline in SSIM (it does in PSNR)" in results._baseline_verdict(0.5, -0.01)
    assert results._baseline_verdict(1.0, 0.01).startswith("The paper's U-Net beats")


def test_markdown_table_has_every_row():
    table = results._table(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | x |", "| 2 | y |"]


def test_readme_section_is_replaced_between_markers(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.START}\nold\n{results.END}\ntail\n")
    monkeypatch.setattr(results, "results_markdown", lambda profile: f"new for {profile}")
    results.write_readme_section("paper", readme)
    assert readme.read_text() == f"intro\n{results.START}\nnew for paper\n{results.END}\ntail\n"


def test_targets_sentence_counts_the_met_targets():
    targets = pd.DataFrame({"model": ["accurate", "accurate", "vivid"], "met": [True, False, True]})
    assert results._targets_sentence(targets) == "Targets of the accurate and vivid models: 2 of 3 met."


def test_runtimes_come_from_the_stamps_and_say_where_none_was_recorded(tmp_path, monkeypatch):
    from unetcolor import paths, staleness

    monkeypatch.setattr(paths, "project_root", lambda: tmp_path)
    staleness.record_run("02_model", "smoke", {"x": 1}, tmp_path, execution={"seconds": 8.5, "machine": "cpu, 2 cores"})
    staleness.record_run("03_training", "smoke", {"x": 1}, tmp_path)
    table = results._runtimes("smoke").set_index("notebook")
    assert table.loc["02_model"].tolist() == [8.5, "cpu, 2 cores"]
    assert table.loc["03_training", "seconds"] == "not recorded"
    # a rerun with the same inputs keeps the stamp, and so the first execution's time
    assert not staleness.record_run("02_model", "smoke", {"x": 1}, tmp_path, execution={"seconds": 99.0, "machine": "m"})
    assert results._runtimes("smoke").set_index("notebook").loc["02_model", "seconds"] == 8.5


def test_data_sentence_states_the_recorded_source(tmp_path):
    import json

    from unetcolor.download import DEFAULT_URL

    report = pd.DataFrame({"status": ["kept", "kept", "excluded"]})
    statuses = report["status"].value_counts()
    (tmp_path / "data_source.json").write_text(json.dumps({"kind": "folder", "folder": "../photos"}))
    sentence = results._data_sentence(tmp_path, report, 1, statuses)
    assert "Not the paper's photos" in sentence and "`../photos`" in sentence and "Of 3 files, 2 were kept" in sentence
    (tmp_path / "data_source.json").write_text(json.dumps(
        {"kind": "download", "url": DEFAULT_URL, "archive": "a.zip", "sha256": "ab" * 32}))
    sentence = results._data_sentence(tmp_path, report, 1, statuses)
    assert sentence.startswith("**Data.** The paper's photos") and DEFAULT_URL in sentence


def test_the_gpu_paragraph_quotes_the_records_it_names():
    """The paper profile's GPU paragraph takes the published run's time from its own history.csv and
    the one-shape run's from reports/bench/gpu-h100/summary.json; other profiles get none."""
    import json

    import pandas as pd

    from unetcolor.train import main_run_dir

    text = "\n".join(results._gpu_lines("paper"))
    published = pd.read_csv(main_run_dir("paper") / "history.csv")["seconds"].sum()
    runs = json.loads(Path("reports/bench/gpu-h100/summary.json").read_text())["runs"]
    fill = next(r for r in runs if r["last_batch"] == "fill" and r["learning_rate"] == 1e-4)
    assert f"took {published:.0f} s for its 100 epochs" in text
    assert f"took {fill['train_seconds']:.0f} s in all" in text and fill["later_compiles"] == 0
    assert results._gpu_lines("smoke") == []
