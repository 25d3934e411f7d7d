"""The README's results section is formatted from the tables, not typed."""

from pathlib import Path

import pandas as pd

from unetcolor.reproduction import results


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
    monkeypatch.setattr(results, "summary_markdown", lambda profile: f"new for {profile}")
    results.write_readme_section("paper", readme)
    assert readme.read_text() == f"intro\n{results.START}\nnew for paper\n{results.END}\ntail\n"
    readme.write_text("no markers\n")
    try:
        results.write_readme_section("paper", readme)
    except ValueError as error:
        assert str(readme) in str(error) and results.START in str(error)
    else:
        raise AssertionError("a README without markers must be refused")


def test_targets_sentence_counts_quality_targets_apart_from_budgets():
    targets = pd.DataFrame({"model": ["accurate", "accurate", "vivid", "vivid"], "met": [True, False, True, True],
                            "kind": ["quality", "quality", "quality", "budget"]})
    assert results._targets_sentence(targets) == ("Targets of the accurate and vivid models: 2 of 3 quality targets "
                                                  "met; 1 of 1 budgets (file size, training time) met.")


def test_the_readme_summary_quotes_the_committed_tables_and_stays_on_the_first_screen():
    """The verdicts and the PSNR headline come from reports/paper/tables, and the README that
    holds them is short, with both in its first 60 lines."""
    from unetcolor import paths

    tables = paths.profile_paths("paper").tables
    summary = results.summary_markdown("paper")
    psnr = pd.read_csv(tables / "05_psnr_summary.csv").set_index(["metric", "method"])["mean"]
    assert f"scores {psnr['psnr', 'model']:.2f} dB" in summary and f"({psnr['psnr', 'gray baseline']:.2f} dB)" in summary
    for row in pd.read_csv(tables / "04_paper_claims.csv").itertuples():
        assert f"| {row.claim} | {row.verdict} | {row.seeds} |" in summary
    readme = (paths.project_root() / "README.md").read_text().splitlines()
    assert len(readme) < 150
    first_screen = "\n".join(readme[:60])
    assert "| the paper says | verdict here |" in first_screen and "**PSNR.**" in first_screen


def test_plan_times_come_from_the_recorded_plans(tmp_path, monkeypatch):
    import json

    from unetcolor import paths

    monkeypatch.setattr(paths, "project_root", lambda: tmp_path)
    folder = tmp_path / "reports" / "smoke" / "plans"
    folder.mkdir(parents=True)
    record = {"machine": {"device": "cpu", "cpu": "Some CPU", "cores": 4, "keras_backend": "tensorflow"},
              "date": "2026-01-02", "scratch_seconds": 7200.0,
              "runs": [{"precision": "float32", "scratch_seconds": 3600.0}, {"precision": "bfloat16",
                                                                            "scratch_seconds": 3600.0}]}
    (folder / "tensorflow-cpu-4cpu.json").write_text(json.dumps(record))
    lines = "\n".join(results._time_lines("smoke"))
    assert ("2 runs: the main run and the study): about 2.0 h on Some CPU, 4 cores (bfloat16, float32; the main run "
            "alone 60 min)") in lines
    assert "2026-01-02" in lines and "reports/smoke/plans/tensorflow-cpu-4cpu.json" in lines


def test_runtimes_come_from_the_stamps_and_say_where_none_was_recorded(tmp_path, monkeypatch):
    from unetcolor import paths
    from unetcolor.reproduction import staleness

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

    from unetcolor.photos.download import DEFAULT_URL

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

    from unetcolor.unet.runs import main_run_dir

    text = "\n".join(results._gpu_lines("paper"))
    published = pd.read_csv(main_run_dir("paper") / "history.csv")["seconds"].sum()
    runs = json.loads(Path("reports/bench/gpu-h100/summary.json").read_text())["runs"]
    fill = next(r for r in runs if r["last_batch"] == "fill" and r["learning_rate"] == 1e-4)
    assert f"took {published:.0f} s for its 100 epochs" in text
    assert f"took {fill['train_seconds']:.0f} s in all" in text and fill["later_compiles"] == 0
    assert results._gpu_lines("smoke") == []
