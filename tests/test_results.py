"""The README's results section is formatted from the tables, not typed."""

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from unetcolor import manifest, paths, reproducibility
from unetcolor.photos import data
from unetcolor.reproduction import plan, results, staleness

import tiny

ROOT = Path(__file__).resolve().parents[1]


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
    tables = paths.profile_paths("paper").tables
    summary = results.summary_markdown("paper")
    psnr = pd.read_csv(tables / "05_psnr_summary.csv").set_index(["metric", "method"])["mean"]
    assert (f"scores {psnr['psnr', 'model']:.2f} dB" in summary
            and f"({psnr['psnr', 'gray baseline']:.2f} dB)" in summary)
    for row in pd.read_csv(tables / "04_paper_claims.csv").itertuples():
        assert f"| {row.claim} | {row.verdict} | {row.seeds} |" in summary
    readme = (paths.project_root() / "README.md").read_text().splitlines()
    assert len(readme) < 150
    first_screen = "\n".join(readme[:60])
    assert "| the paper says | verdict here |" in first_screen and "**PSNR.**" in first_screen


def test_plan_times_come_from_the_recorded_plans_the_committed_photos_apart(tmp_path, monkeypatch):
    """Each machine's from-scratch estimate for the committed runs' photos (their fingerprint) is
    listed apart from an estimate made for other photos, which names its count and fingerprint."""
    root = project(tmp_path, monkeypatch, committed="aaaaaaaaaaaa")
    folder = root / "reports" / "paper" / "plans"
    folder.mkdir(parents=True)
    write_plan(folder, "Some CPU", 4, "aaaaaaaaaaaa", 1518, "2026-01-02", hours=(1.0, 1.0))
    write_plan(folder, "Other CPU", 2, "aaaaaaaaaaaa", 1518, "2026-01-03", hours=(2.0, 2.0))
    write_plan(folder, "Third CPU", 2, "bbbbbbbbbbbb", 600, "2026-01-04", hours=(0.5, 0.5))
    lines = results._plan_lines("paper")
    assert lines == [
        "- Training from scratch on the committed runs' photos (1,518 photos, data `aaaaaaaaaaaa`; 2 runs: the main "
        "run and the study): about 4.0 h on Other CPU, 2 cores (bfloat16, float32; the main run alone 2.0 h), as its "
        "plan estimated it on 2026-01-03 (`reports/paper/plans/tensorflow-cpu-other-cpu-2cpu.json`); about 2.0 h on "
        "Some CPU, 4 cores (bfloat16, float32; the main run alone 60 min), as its plan estimated it on 2026-01-02 "
        "(`reports/paper/plans/tensorflow-cpu-some-cpu-4cpu.json`).",
        "- Training on other photos (600 photos, data `bbbbbbbbbbbb`), which match no committed run (2 runs): about "
        "60 min on Third CPU, 2 cores (bfloat16, float32; the main run alone 30 min), as its plan estimated it on "
        "2026-01-04 (`reports/paper/plans/tensorflow-cpu-third-cpu-2cpu.json`).",
    ]


def test_a_record_under_an_older_name_is_read_and_a_newer_one_of_its_machine_wins(tmp_path, monkeypatch):
    root = project(tmp_path, monkeypatch, committed="aaaaaaaaaaaa")
    folder = root / "reports" / "paper" / "plans"
    folder.mkdir(parents=True)
    write_plan(folder, "Some CPU", 4, "aaaaaaaaaaaa", 1518, "2026-01-01", hours=(1.0, 1.0), name="tensorflow-cpu-4cpu")
    assert [record["file"] for record in plan.recorded("paper")] == ["reports/paper/plans/tensorflow-cpu-4cpu.json"]
    write_plan(folder, "Some CPU", 4, "aaaaaaaaaaaa", 1518, "2026-01-05", hours=(1.0, 1.0))
    assert [record["file"] for record in plan.recorded("paper")] == [
        "reports/paper/plans/tensorflow-cpu-some-cpu-4cpu.json"]


def test_machine_key_names_two_cpus_apart_and_is_safe_as_a_file_name():
    xeon = {"keras_backend": "tensorflow", "cpu": "Intel(R) Xeon(R) Processor", "cores": 2}
    epyc = {"keras_backend": "tensorflow", "cpu": "AMD EPYC", "cores": 2}
    assert reproducibility.machine_key(xeon) == "tensorflow-cpu-intel-xeon-processor-2cpu"
    assert reproducibility.machine_key(epyc) == "tensorflow-cpu-amd-epyc-2cpu"
    gpu = {"keras_backend": "jax", "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cores": 16, "accelerator": "NVIDIA H200"}
    assert reproducibility.machine_key(gpu) == "jax-nvidia-h200-intel-xeon-cpu-2-20ghz-16cpu"
    here = reproducibility.machine_key()
    assert here == reproducibility.machine_key(reproducibility.machine()) and re.fullmatch(r"[a-z0-9-]+", here)


def test_plan_records_of_two_cpus_sit_side_by_side(tmp_path, monkeypatch):
    """record() on two machines that differ in their CPU model alone writes two files, each with
    its machine, its photos' count and their fingerprint."""
    root = project(tmp_path, monkeypatch, committed="aaaaaaaaaaaa")
    splits = root / "data" / "processed" / "paper" / "splits"
    splits.mkdir(parents=True)
    pd.DataFrame({"id": range(5), "subset": ["train"] * 4 + ["val"]}).to_csv(splits / "split_80_20.csv", index=False)
    config = dataclasses.replace(tiny.train(), data="cccccccccccc")
    planned = [plan.PlannedRun("main", "main run", 7, config, root / "models" / "run", precision="float32",
                               estimate_seconds=10.0, scratch_seconds=10.0)]
    written = []
    for cpu in ("Intel(R) Xeon(R) Processor", "AMD EPYC"):
        monkeypatch.setattr(plan, "machine", lambda cpu=cpu: {"keras_backend": "tensorflow", "cpu": cpu, "cores": 2,
                                                              "accelerator": None})
        written.append(plan.record(planned, "paper", root))
    assert [path.name for path in written] == ["tensorflow-cpu-intel-xeon-processor-2cpu.json",
                                               "tensorflow-cpu-amd-epyc-2cpu.json"]
    records = [json.loads(path.read_text()) for path in written]
    assert [record["machine"]["cpu"] for record in records] == ["Intel(R) Xeon(R) Processor", "AMD EPYC"]
    assert all(record["photos"] == 5 and record["data"] == "cccccccccccc" for record in records)


def test_the_committed_plan_record_is_named_by_its_machine():
    for path in (Path("reports") / "paper" / "plans").glob("*.json"):
        assert path.stem == reproducibility.machine_key(json.loads(path.read_text())["machine"]), path


def test_each_time_figure_names_the_one_machine_it_was_measured_on(tmp_path, monkeypatch):
    project(tmp_path, monkeypatch, committed="aaaaaaaaaaaa")
    names = manifest.names()
    for name in names:
        staleness.record_run(name, "paper", {"x": 1}, execution={"seconds": 60.0, "machine": "EPYC, 2 cores"})
    assert results._notebook_time_lines("paper") == [
        f"- `make reproduce` with the committed runs: the {len(names)} notebooks ran in {len(names):.1f} min on "
        "EPYC, 2 cores (`reports/paper/stamps/`)."]
    for name in names[:2]:  # re-executed on another machine
        staleness.record_run(name, "paper", {"x": 2}, execution={"seconds": 30.0, "machine": "Xeon, 2 cores"})
    rest = [name.split("_")[0] for name in names[2:]]
    assert results._notebook_time_lines("paper") == [
        "- `make reproduce` with the committed runs, each notebook timed on the machine it last ran on: notebooks "
        f"01, 02 in 1.0 min on Xeon, 2 cores; notebooks {', '.join(rest)} in {len(rest):.1f} min on EPYC, 2 cores "
        "(`reports/paper/stamps/`)."]
    staleness.record_run(names[0], "paper", {"x": 3}, execution={"seconds": 30.0, "machine": "EPYC, 2 cores"})
    assert results._notebook_time_lines("paper") == [  # one figure per machine, whatever the order they ran in
        "- `make reproduce` with the committed runs, each notebook timed on the machine it last ran on: notebooks "
        f"01, {', '.join(rest)} in {len(rest) + 0.5:.1f} min on EPYC, 2 cores; notebook 02 in 0.5 min on Xeon, "
        "2 cores (`reports/paper/stamps/`)."]


def project(tmp_path: Path, monkeypatch, committed: str) -> Path:
    """tmp_path as the project root: the real notebooks manifest, and a main run trained on data `committed`."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy(manifest.path(), tmp_path / manifest.FILE)
    run = tmp_path / "models" / "paper" / "run"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"data": committed}))
    (run.parent / "main.json").write_text(json.dumps({"run": "run"}))
    monkeypatch.setattr(paths, "project_root", lambda: tmp_path)
    return tmp_path


def write_plan(folder: Path, cpu: str, cores: int, data: str, photos: int, date: str, hours: tuple,
               name: str | None = None) -> None:
    machine = {"keras_backend": "tensorflow", "cpu": cpu, "cores": cores, "accelerator": None, "device": "cpu"}
    record = {"machine": machine, "date": date, "photos": photos, "data": data,
              "runs": [{"precision": precision, "scratch_seconds": hour * 3600}
                       for precision, hour in zip(("float32", "bfloat16"), hours)],
              "scratch_seconds": sum(hours) * 3600}
    (folder / f"{name or reproducibility.machine_key(machine)}.json").write_text(json.dumps(record))


def stamp(root: Path, name: str, fingerprint: str | None, writes_data: bool = False, data_dir: str = "") -> None:
    """A notebook's stamp as the runner writes it, keyed to data `fingerprint`."""
    record = {"parameters": {"data_dir": data_dir} if data_dir else {}}
    if fingerprint and not writes_data:
        record["data"] = {"fingerprint": fingerprint}
    values = {"version": staleness.STAMP_VERSION, "notebook": name, "profile": "paper", "inputs": record,
              "execution": {"seconds": 1.0, "machine": "m"}}
    if writes_data:
        values["outputs"] = {"fingerprint": fingerprint} if fingerprint else None
    target = staleness.stamp_path(name, "paper", root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(values))


def stamp_all(root: Path, fingerprint: str, first: str | None = None, data_dir: str = "") -> None:
    """Every notebook's stamp keyed to `fingerprint`, the data notebook's to `first` where given."""
    for entry in manifest.load():
        stamp(root, entry.name, (first or fingerprint) if entry.writes_data else fingerprint, entry.writes_data,
              data_dir if entry.writes_data else "")


def test_results_write_nothing_while_the_notebooks_ran_on_two_photo_sets(tmp_path, monkeypatch, capsys,
                                                                         tiny_processed):
    """After `make reproduce DATA_DIR=<other photos>` stopped for missing runs, notebook 01 ran
    on the new photos (prepared) and the rest on the committed runs' photos: the README and
    docs/results.md stay as they were, and one line says what ran on which photos. The stamps
    are written as the runner writes them (staleness.record_run)."""
    root = project(tmp_path, monkeypatch, committed="aaaaaaaaaaaa")
    readme, page = root / "README.md", root / results.RESULTS_PAGE
    page.parent.mkdir()
    readme.write_text(f"intro\n{results.START}\nold findings\n{results.END}\n")
    page.write_text("old page\n")
    shutil.copytree(tiny_processed, root / "data" / "processed" / "paper")
    prepared = data.fingerprint(root / "data" / "processed" / "paper")
    first, *rest = manifest.names()
    staleness.record_run(first, "paper", {"parameters": {"data_dir": "../other"}})
    for name in rest:
        staleness.record_run(name, "paper", {"data": {"fingerprint": "aaaaaaaaaaaa"}})
    assert results.main(["--profile", "paper"]) == results.EXIT_MIXED
    assert readme.read_text() == f"intro\n{results.START}\nold findings\n{results.END}\n"
    assert page.read_text() == "old page\n"
    message = capsys.readouterr().err.strip()
    assert (len(message.splitlines()) == 1
            and message.startswith("[paper] README.md and docs/results.md left as they were"))
    others = ", ".join(f"notebook {name.split('_')[0]}" for name in rest)
    assert (f"the committed runs, {others} on data `aaaaaaaaaaaa`; notebook 01, the prepared photos (20 photos in "
            f"data/processed/paper from `../other`) on data `{prepared}`.") in message
    assert 'make reproduce DATA_DIR="../other" TRAIN=1' in message
    assert results.main(["--profile", "paper", "--print"]) == results.EXIT_MIXED  # nor printed as one page


def test_results_write_nothing_when_the_prepared_photos_are_not_the_committed_runs(tmp_path, monkeypatch,
                                                                                   tiny_processed):
    """The notebooks' records all hold the committed runs' photos, but other photos are prepared:
    refused, naming the prepared photos and the command that trains runs on them."""
    root = project(tmp_path, monkeypatch, committed="aaaaaaaaaaaa")
    shutil.copytree(tiny_processed, root / "data" / "processed" / "paper")
    prepared = data.fingerprint(root / "data" / "processed" / "paper")
    stamp_all(root, "aaaaaaaaaaaa")
    message = results.mixed_data("paper")
    assert (f"the prepared photos (20 photos in data/processed/paper) on data `{prepared}`" in message
            and "`make reproduce [DATA_DIR=<their folder>] TRAIN=1`" in message)
    # notebook 01 prepared them from a folder: the command names it
    stamp(root, manifest.data_notebook(), prepared, writes_data=True, data_dir="../other photos")
    message = results.mixed_data("paper")
    assert ("notebook 01, the prepared photos (20 photos in data/processed/paper from `../other photos`) on data"
            in message)
    assert 'make reproduce DATA_DIR="../other photos" TRAIN=1' in message
    # every notebook on the committed runs' photos and nothing prepared, as in a fresh clone: one photo set
    shutil.rmtree(root / "data" / "processed" / "paper")
    stamp_all(root, "aaaaaaaaaaaa")
    assert results.mixed_data("paper") is None
    shutil.copytree(tiny_processed, root / "data" / "processed" / "paper")
    # runs trained on the other photos, and every notebook re-executed on them: one photo set again
    (root / "models" / "paper" / "run" / "config.json").write_text(json.dumps({"data": prepared}))
    stamp_all(root, prepared)
    assert results.mixed_data("paper") is None


def test_results_say_what_is_missing_without_a_main_run_or_a_stamp(tmp_path, monkeypatch):
    root = project(tmp_path, monkeypatch, committed="aaaaaaaaaaaa")
    stamp_all(root, "aaaaaaaaaaaa")
    last = manifest.names()[-1]
    staleness.stamp_path(last, "paper").unlink()
    assert results.mixed_data("paper").endswith(
        f"notebook {last.split('_')[0]} never executed (no stamp). `make reproduce` on the committed runs' photos "
        "executes the other notebooks on them and then writes them.")
    # a notebook executed with no photos prepared read none: it mixes nothing
    stamp(root, last, None)
    assert results.mixed_data("paper") is None
    (tmp_path / "models" / "paper" / "main.json").unlink()
    assert "no main run recorded for profile 'paper'" in results.mixed_data("paper")


@pytest.mark.parametrize("status, writes", [(0, True), (1, False), (2, True), (130, False)])
def test_make_reproduce_rewrites_the_findings_after_exit_0_or_2_only(tmp_path, status, writes):
    """The Makefile's own rule, run by make with the reproduce step replaced by one that exits
    with `status` and the interpreter by a script that notes the `results` call."""
    shutil.copy(ROOT / "Makefile", tmp_path)
    (tmp_path / "models" / "paper").mkdir(parents=True)
    (tmp_path / "models" / "paper" / "main.json").write_text("{}")
    (tmp_path / "installed").write_text("")
    python = tmp_path / "python"
    python.write_text('#!/bin/sh\necho "$@" >> called\n')
    python.chmod(0o755)
    done = subprocess.run(["make", "-s", "reproduce", f"REPRODUCE=(exit {status})", f"PY={python}",
                           "INSTALLED=installed"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == (0 if status == 0 else 2)  # make's own code for a failed recipe
    called = (tmp_path / "called").read_text() if (tmp_path / "called").exists() else ""
    assert called == ("-m unetcolor results --profile paper\n" if writes else "")


def test_runtimes_come_from_the_stamps_and_say_where_none_was_recorded(tmp_path, monkeypatch):
    project(tmp_path, monkeypatch, committed="aaaaaaaaaaaa")
    staleness.record_run("02_model", "smoke", {"x": 1}, tmp_path, execution={"seconds": 8.5, "machine": "cpu, 2 cores"})
    staleness.record_run("03_training", "smoke", {"x": 1}, tmp_path)
    table = results._runtimes("smoke").set_index("notebook")
    assert table.loc["02_model"].tolist() == [8.5, "cpu, 2 cores"]
    assert table.loc["03_training", "seconds"] == "not recorded"
    # a rerun with the same inputs keeps the stamp, and so the first execution's time
    assert not staleness.record_run("02_model", "smoke", {"x": 1}, tmp_path,
                                    execution={"seconds": 99.0, "machine": "m"})
    assert results._runtimes("smoke").set_index("notebook").loc["02_model", "seconds"] == 8.5


def test_data_sentence_states_the_recorded_source(tmp_path):
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
    from unetcolor.unet.runs import main_run_dir

    text = "\n".join(results._gpu_lines("paper"))
    published = pd.read_csv(main_run_dir("paper") / "history.csv")["seconds"].sum()
    runs = json.loads(Path("reports/bench/gpu-h100/summary.json").read_text())["runs"]
    fill = next(r for r in runs if r["last_batch"] == "fill" and r["learning_rate"] == 1e-4)
    assert f"took {published:.0f} s for its 100 epochs" in text
    assert f"took {fill['train_seconds']:.0f} s in all" in text and fill["later_compiles"] == 0
    assert results._gpu_lines("smoke") == []
