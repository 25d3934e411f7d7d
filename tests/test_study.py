"""The one-factor-at-a-time plan, the run cache, and the paper's claims judged from numbers."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from unetcolor import profiles
from unetcolor.photos import data
from unetcolor.training import claims, study
from unetcolor.unet import runs

import tiny


def test_plan_changes_one_factor_at_a_time_and_shares_the_base_run():
    base = profiles.load("paper").main
    plan = study.study_configs(base, batch_sizes=(20, 32, 64, 100), learning_rates=(1e-3, 1e-4),
                               splits=("70_30", "80_20", "90_10"))
    assert len(plan) == 4 + 2 + 3
    assert plan["run"].nunique() == 7  # the base config appears once per factor but is one run
    for row in plan.itertuples():
        changed = {k for k, v in row.config.to_dict().items() if v != base.to_dict()[k]}
        assert changed <= {row.factor}
    assert (plan["run"] == base.run_name()).sum() == 3


def fake_results(levels: dict) -> pd.DataFrame:
    """levels: {(factor, value): [best_val_loss of each seed]}; the other metrics follow from it."""
    rows = []
    for (factor, value), losses in levels.items():
        for seed, loss in enumerate(losses, start=42):
            rows.append({"factor": factor, "value": value, "seed": seed, "best_val_loss": loss,
                         "final_val_loss": loss + 0.001, "final_val_accuracy": 1 - loss,
                         "final_accuracy": 1 - loss / 2, "best_val_psnr": 30 - 100 * loss})
    return pd.DataFrame(rows)


def verdicts(results) -> list[str]:
    return claims.check_paper_claims(results)["verdict"].tolist()


def test_plan_with_seeds_repeats_every_setting_and_shares_each_seeds_base_run():
    plan = study.study_configs(dataclasses.replace(profiles.load("paper").main, seed=42),
                               batch_sizes=(20, 32, 64, 100), learning_rates=(1e-3, 1e-4),
                               splits=("70_30", "80_20", "90_10"), seeds=3)
    assert len(plan) == 3 * 9 and plan["run"].nunique() == 3 * 7
    assert sorted(plan["seed"].unique()) == [42, 43, 44]
    assert all(row.config.seed == row.seed for row in plan.itertuples())
    with pytest.raises(ValueError, match="seeds"):
        study.study_configs(profiles.load("paper").main, batch_sizes=(20, 32, 64, 100), learning_rates=(1e-3, 1e-4),
                            splits=("70_30", "80_20", "90_10"), seeds=0)


def test_seed_summary_is_the_mean_and_range_over_seeds():
    summary = claims.summarize_seeds(fake_results({("batch_size", 64): [0.040, 0.044, 0.042]}))
    row = summary.iloc[0]
    assert row["seeds"] == 3
    assert row["best_val_loss"] == pytest.approx(0.042)
    assert (row["best_val_loss_min"], row["best_val_loss_max"]) == (0.040, 0.044)
    assert row["common_val_loss_n"] == 0 and np.isnan(row["common_val_loss"])


def test_separated_seed_ranges_confirm_or_contradict():
    results = fake_results({
        ("batch_size", 20): [0.050, 0.051], ("batch_size", 64): [0.040, 0.041], ("batch_size", 100): [0.060, 0.062],
        ("learning_rate", 1e-3): [0.030, 0.031], ("learning_rate", 1e-4): [0.040, 0.041],
        ("split", "70_30"): [0.030, 0.031], ("split", "80_20"): [0.040, 0.041], ("split", "90_10"): [0.050, 0.052],
    })
    # 70/30: lower loss (holds), higher val accuracy (holds); 90/10: higher train accuracy is false (lower), lower
    # val accuracy holds
    assert verdicts(results) == ["confirmed", "contradicted", "confirmed", "confirmed", "contradicted", "confirmed"]
    finding = claims.check_paper_claims(results)["finding"].iloc[0]
    assert "batch 64 lowest" in finding and "0.04050 (0.04000-0.04100, 2 seeds)" in finding


def test_overlapping_ranges_or_a_single_seed_are_not_settled():
    overlapping = fake_results({("batch_size", 20): [0.039, 0.043], ("batch_size", 64): [0.040, 0.041],
                                ("learning_rate", 1e-3): [0.035], ("learning_rate", 1e-4): [0.040, 0.041]})
    judged = claims.check_paper_claims(overlapping)
    assert judged["verdict"].iloc[0] == "not settled: holds on the mean, within the seeds' spread"
    assert judged["verdict"].iloc[1] == "not settled: does not hold on the mean, a level has one seed"
    assert "0.03500 at learning rate 0.001" in judged["finding"].iloc[1]


def test_missing_levels_are_reported_not_invented():
    judged = claims.check_paper_claims(fake_results({("batch_size", 20): [0.03], ("batch_size", 64): [0.04]}))
    assert judged["verdict"].tolist()[1:] == ["not measured"] * 5
    assert "no finished run for learning rate" in judged["finding"].iloc[1]


def test_results_come_from_finished_run_records_only(tmp_path):
    plan = study.study_configs(profiles.load("paper").main, batch_sizes=(32, 64), learning_rates=(1e-4,),
                               splits=("80_20",))
    done = plan["run"].iloc[0]
    (tmp_path / done).mkdir()
    metrics = {"best_val_loss": 0.04, "best_val_psnr": 21.0}
    (tmp_path / done / "metrics.json").write_text(json.dumps(metrics))
    pd.DataFrame({"epoch": [1], "val_loss": [0.04]}).to_csv(tmp_path / done / "history.csv", index=False)
    unfinished = plan["run"].iloc[1]
    (tmp_path / unfinished).mkdir()  # started but no metrics.json: not a result
    (tmp_path / unfinished / "history.csv").write_text("epoch,val_loss\n1,0.5\n")
    results = study.study_results(plan, tmp_path)
    assert set(results["run"]) == {done}
    assert results["best_val_loss"].tolist() == [0.04]
    assert set(study.missing_runs(plan, tmp_path)["run"]) == {unfinished}
    assert len(study.study_histories(plan, tmp_path)) == 1


def test_paper_profile_plan_matches_the_committed_main_config():
    """The paper profile's main run, bound to the data the committed main run was trained on, is
    that run, and the study's plan holds it and every committed seed-42 run (no prepared data
    needed: a fresh clone has none)."""
    main_name = json.loads(Path("models/paper/main.json").read_text())["run"]
    recorded = json.loads(Path("models/paper", main_name, "config.json").read_text())
    main = runs.keyed(profiles.load("paper").main, recorded["data"])
    assert main.run_name() == main_name
    plan = study.plan_for_profile("paper", data_fingerprint=recorded["data"])
    assert main_name in set(plan["run"])
    assert all((Path("models/paper") / run).is_dir() for run in plan.loc[plan["seed"] == 42, "run"])


def test_settings_change_the_planned_configs_and_unknown_names_are_refused():
    """`--set main.last_batch=fill` (as scripts/gpu_paper_run.sh's SETTINGS passes it) gives every run
    of the plan that setting, and so other run names than the profile's; a name the profile does not
    have is an error, not ignored."""
    from unetcolor.config import parse_assignments

    settings = parse_assignments(["main.last_batch=fill", "main.epochs=3", "main.precision=float32"])
    assert settings == {"main.last_batch": "fill", "main.epochs": 3, "main.precision": "float32"}
    published = study.plan_for_profile("paper", seeds=1, data_fingerprint="a89a708211de")
    changed = study.plan_for_profile("paper", seeds=1, data_fingerprint="a89a708211de", settings=settings)
    assert len(changed) == len(published)
    assert all(config.last_batch == "fill" and config.epochs == 3 for config in changed["config"])
    assert not set(changed["run"]) & set(published["run"])
    with pytest.raises(ValueError, match="lastbatch"):
        study.plan_for_profile("paper", seeds=1, data_fingerprint="a89a708211de", settings={"main.lastbatch": 1})


def test_a_parallel_jax_study_compiles_each_signature_once_and_the_rest_hit_the_shared_cache(tmp_path):
    """Real runs, 2 at a time, on JAX with a persistent compilation cache, in a throwaway project:
    every run finishes, each epoch line names its run, and the run that shares the base run's
    shapes (learning rate 1e-3) starts after the base run compiled, so its first epoch finds
    its programs in the cache instead of compiling them again. The smoke study with one split
    (`--set`): three runs, two signatures (batches of 8 and of 4), which is all this needs."""
    import json
    import subprocess
    import sys

    from unetcolor.config import parse_assignments

    from conftest import throwaway_project

    project, photos, environment = throwaway_project(tmp_path, "photos", ".png", seed=5)
    environment.update({"KERAS_BACKEND": "jax", "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax-cache"),
                        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PLATFORMS": "cpu"})

    def run(*command):
        done = subprocess.run([sys.executable, "-m", *command], env=environment, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        return done.stdout + done.stderr

    run("unetcolor.photos.data", "--profile", "smoke", "--data-dir", str(photos))
    one_split = "study.splits=['80_20']"
    log = run("unetcolor.training.study", "--profile", "smoke", "--jobs", "2", "--seeds", "1", "--set", one_split)
    plan = study.plan_for_profile("smoke", seeds=1, data_fingerprint=data.fingerprint(
        project / "data" / "processed" / "smoke"), settings=parse_assignments([one_split]))
    assert plan["run"].nunique() == 3
    folders = {f"{f}={v}": project / "models" / "smoke" / run for f, v, run in zip(plan["factor"], plan["value"],
                                                                                  plan["run"])}
    assert all(runs.has_records(folder) for folder in folders.values())
    assert log.count("finished") >= len(set(plan["run"])) and "[learning_rate=0.001 seed 42] epoch 1/2" in log
    first = {level: pd.read_csv(folder / "history.csv").iloc[0] for level, folder in folders.items()}
    assert first["learning_rate=0.001"]["cache_hits"] > 0
    assert first["batch_size=8"]["compiles"] > 0 and first["batch_size=8"]["cache_hits"] == 0  # the base run
    assert json.loads((folders["learning_rate=0.001"] / "environment.json").read_text())["keras_backend"] == "jax"


def test_stagger_lets_one_run_compile_at_a_time_and_cached_signatures_start_at_once(tmp_path):
    """A run is compiling until it finishes an epoch. Only one compiles at a time; with JAX's
    persistent cache, a run whose signature has finished an epoch here may start beside it."""
    import json

    from unetcolor.training.study import Stagger
    from unetcolor.unet.runs import PROGRESS_FILE

    a, b, c = (tmp_path / name for name in "abc")
    for folder in (a, b, c):
        folder.mkdir()

    def epoch_done(folder, n):
        (folder / PROGRESS_FILE).write_text(json.dumps({"epochs_done": n}))

    for cache in (True, False):
        stagger = Stagger(cache=cache)
        assert stagger.may_start("batch 64")
        stagger.started(a, "batch 64")
        assert not stagger.may_start("batch 64") and not stagger.may_start("batch 20")  # a is compiling
        epoch_done(a, 1)
        assert stagger.may_start("batch 20")  # a compiled: the next may compile
        stagger.started(b, "batch 20")
        # b compiles; another run of a's signature finds a's programs in the cache, if there is one
        assert stagger.may_start("batch 64") is cache and not stagger.may_start("batch 32")
        stagger.ended(b)  # b failed before its first epoch: it no longer holds the turn
        assert stagger.may_start("batch 32")
        (a / PROGRESS_FILE).unlink()


def test_compile_signature_ignores_learning_rate_and_seed_but_not_shapes():
    import dataclasses

    from unetcolor.training.study import compile_signature

    base = tiny.train()
    assert compile_signature(base) == compile_signature(dataclasses.replace(base, learning_rate=1e-4, seed=43))
    for change in ({"batch_size": 8}, {"split": "70_30"}, {"last_batch": "partial"}, {"precision": "bfloat16"}):
        assert compile_signature(dataclasses.replace(base, **change)) != compile_signature(base), change


def test_launch_runs_each_job_in_its_own_process_with_its_hooks_and_returns_the_failed(tmp_path, monkeypatch):
    """Real processes, two at a time: each job's own environment and the memory share of its
    GPU; on_start, on_poll and on_end for every job, on_end with its exit status."""
    import sys

    monkeypatch.delenv("XLA_PYTHON_CLIENT_MEM_FRACTION", raising=False)
    script = ("import json, os, pathlib, sys, time\n"
              "folder = pathlib.Path(sys.argv[1]); folder.mkdir(parents=True, exist_ok=True)\n"
              "(folder / 'seen.json').write_text(json.dumps([os.environ['JOB_TAG'], "
              "os.environ['XLA_PYTHON_CLIENT_MEM_FRACTION'], os.environ['UNETCOLOR_LOG_TAG']]))\n"
              "(folder / 'progress.json').write_text(json.dumps({'epochs_done': 1, 'epochs': 1, 'seconds': 0}))\n"
              "time.sleep(0.6); sys.exit(int(sys.argv[2]))\n")
    jobs = [study.Job(f"job {i}", [sys.executable, "-c", script, str(tmp_path / f"run{i}"), str(int(i == 2))],
                      tmp_path / f"run{i}", "one signature", {"JOB_TAG": f"tag {i}"}) for i in range(3)]
    events = []
    failed = study.launch(jobs, 2, quiet=True, on_start=lambda job: events.append(("start", job.name)),
                          on_poll=lambda job: events.append(("poll", job.name)),
                          on_end=lambda job, status: events.append(("end", job.name, status)))
    assert failed == [jobs[2]]
    starts_and_ends = [event[:2] for event in events if event[0] != "poll"]
    assert starts_and_ends[:2] == [("start", "job 0"), ("start", "job 1")]  # two at once, in list order
    first_end = min(starts_and_ends.index(("end", "job 0")), starts_and_ends.index(("end", "job 1")))
    assert starts_and_ends.index(("start", "job 2")) > first_end  # never three at once
    assert sorted(event for event in events if event[0] == "end") == [("end", "job 0", 0), ("end", "job 1", 0),
                                                                      ("end", "job 2", 1)]
    assert {event[1] for event in events if event[0] == "poll"} == {"job 0", "job 1", "job 2"}
    for i in range(3):
        assert json.loads((tmp_path / f"run{i}" / "seen.json").read_text()) == [f"tag {i}", "0.45", f"[job {i}] "]
