"""The one-factor-at-a-time plan, the run cache, and the paper's claims judged from numbers."""

import json

import pandas as pd
import pytest

from unetcolor import study
from unetcolor.config import TrainConfig


def test_plan_changes_one_factor_at_a_time_and_shares_the_base_run():
    base = TrainConfig()
    plan = study.study_configs(base)
    assert len(plan) == 4 + 2 + 3
    assert plan["run"].nunique() == 7  # the base config appears once per factor but is one run
    for row in plan.itertuples():
        changed = {k for k, v in row.config.to_dict().items() if v != base.to_dict()[k]}
        assert changed <= {row.factor}
    assert (plan["run"] == base.run_name()).sum() == 3


def fake_results(batch_losses, rate_losses=None, split_losses=None):
    rows = [{"factor": "batch_size", "value": v, "best_val_loss": loss, "best_val_psnr": 30 - 100 * loss}
            for v, loss in batch_losses.items()]
    rows += [{"factor": "learning_rate", "value": v, "best_val_loss": loss, "best_val_psnr": 30 - 100 * loss}
             for v, loss in (rate_losses or {}).items()]
    rows += [{"factor": "split", "value": v, "best_val_loss": loss, "best_val_psnr": 30 - 100 * loss}
             for v, loss in (split_losses or {}).items()]
    return pd.DataFrame(rows)


def test_claims_follow_the_numbers():
    results = fake_results({20: 0.05, 64: 0.04, 100: 0.06}, {1e-3: 0.07, 1e-4: 0.04},
                           {"70_30": 0.05, "80_20": 0.04})
    claims = study.check_paper_claims(results).set_index("claim")["verdict"].tolist()
    assert claims == ["confirmed", "confirmed", "80/20 best"]
    results = fake_results({20: 0.03, 64: 0.04}, {1e-3: 0.02, 1e-4: 0.04}, {"70_30": 0.01, "80_20": 0.04})
    claims = study.check_paper_claims(results)
    assert claims["verdict"].tolist() == ["not confirmed", "not confirmed", "70/30 best"]
    assert "0.03000 at batch 20" in claims["finding"].iloc[0]


def test_missing_levels_are_reported_not_invented():
    claims = study.check_paper_claims(fake_results({20: 0.03, 64: 0.04}))
    assert claims["verdict"].tolist() == ["not confirmed", "not measured", "not measured"]


def test_results_come_from_finished_run_records_only(tmp_path):
    plan = study.study_configs(TrainConfig(), batch_sizes=(32, 64), learning_rates=(1e-4,), splits=("80_20",))
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
    from unetcolor.config import load_train_config, train_config_from_parameters
    from unetcolor.runner import profile_parameters

    notebook_03 = train_config_from_parameters(profile_parameters("03_training", "paper"))
    assert notebook_03 == load_train_config("configs/paper_main.yaml")
    plan = study.plan_for_profile("paper")
    assert notebook_03.run_name() in set(plan["run"])
