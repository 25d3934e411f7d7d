"""The one-factor-at-a-time hyperparameter study of the paper's Section 4.

From the base run (batch 64, learning rate 1e-4, split 80/20) one factor is
changed at a time: batch size (20, 32, 64, 100), learning rate (1e-3, 1e-4),
split (70/30, 80/20, 90/10). Runs are cached by their config hash, so the base
run is shared with notebook 03 and an interrupted study resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
from pathlib import Path

import pandas as pd

from . import paths
from .config import TrainConfig, train_config_from_parameters
from .reproducibility import PROGRESS_ENV
from .train import train


def study_configs(base: TrainConfig, batch_sizes=(20, 32, 64, 100), learning_rates=(1e-3, 1e-4),
                  splits=("70_30", "80_20", "90_10")) -> pd.DataFrame:
    """One row per (factor, value): the config that changes only that factor.

    The base config appears once per factor (as that factor's reference level)
    but is trained only once, since identical configs share a run folder.
    """
    rows = []
    for factor, values in (("batch_size", batch_sizes), ("learning_rate", learning_rates), ("split", splits)):
        for value in values:
            config = dataclasses.replace(base, **{factor: value})
            rows.append({"factor": factor, "value": value, "config": config, "run": config.run_name()})
    return pd.DataFrame(rows)


def run_study(plan: pd.DataFrame, processed_dir: Path, models_dir: Path, workers: int = 1,
              checkpoint_every: int = 1) -> None:
    """Train every run of the plan that is not finished yet (each distinct config once)."""
    for run, config in dict(zip(plan["run"], plan["config"])).items():
        run_dir = Path(models_dir) / run
        if has_results(run_dir):
            print(f"[study] {run}: finished", flush=True)
            continue
        print(f"[study] {run}: training", flush=True)
        train(config, processed_dir, run_dir, workers=workers, checkpoint_every=checkpoint_every)


def has_results(run_dir: Path) -> bool:
    """A finished run's records are here (metrics.json, written last, and history.csv).

    The study needs only these; the weights of a run trained elsewhere need not travel.
    """
    return (Path(run_dir) / "metrics.json").is_file() and (Path(run_dir) / "history.csv").is_file()


def missing_runs(plan: pd.DataFrame, models_dir: Path) -> pd.DataFrame:
    """The plan's rows whose run has not finished (no metrics.json yet)."""
    finished = [has_results(Path(models_dir) / run) for run in plan["run"]]
    return plan[[not done for done in finished]]


def study_results(plan: pd.DataFrame, models_dir: Path) -> pd.DataFrame:
    """Per (factor, value) of every finished run: final and best validation loss,
    Keras accuracy, PSNR, wall time. Unfinished runs are left out (see missing_runs)."""
    rows = []
    for record in plan.to_dict("records"):
        run_dir = Path(models_dir) / record["run"]
        if not has_results(run_dir):
            continue
        metrics = json.loads((run_dir / "metrics.json").read_text())
        rows.append({"factor": record["factor"], "value": record["value"], "run": record["run"], **metrics})
    return pd.DataFrame(rows)


def study_histories(plan: pd.DataFrame, models_dir: Path) -> pd.DataFrame:
    """All runs' per-epoch histories in one long table, labelled by factor and value."""
    frames = []
    for record in plan.to_dict("records"):
        if not has_results(Path(models_dir) / record["run"]):
            continue
        history = pd.read_csv(Path(models_dir) / record["run"] / "history.csv")
        frames.append(history.assign(factor=record["factor"], value=str(record["value"])))
    return pd.concat(frames, ignore_index=True)


def _best(results: pd.DataFrame, factor: str, column: str, lowest: bool) -> pd.Series:
    rows = results[results["factor"] == factor]
    return rows.loc[rows[column].idxmin() if lowest else rows[column].idxmax()]


def check_paper_claims(results: pd.DataFrame) -> pd.DataFrame:
    """The paper's Section 4 conclusions, each checked against this study's numbers.

    Judged by the best validation loss (the paper's own criterion, its loss
    curves) with validation PSNR beside it. Returns claim, finding, verdict;
    every number in the finding is formatted from `results`.
    """
    claims = []
    measured = results.groupby("factor")["value"].nunique()

    def not_measured(claim: str, factor: str) -> dict:
        return {"claim": claim, "finding": f"fewer than two {factor.replace('_', ' ')} levels finished",
                "verdict": "not measured"}

    if measured.get("batch_size", 0) < 2:
        claims.append(not_measured("batch size 64 works best (of 20-100)", "batch_size"))
    else:
        claims.append(_batch_claim(results))
    rates = results[results["factor"] == "learning_rate"].set_index("value")
    if not {1e-4, 1e-3} <= set(rates.index):
        claims.append(not_measured("learning rate 1e-4 is better than 1e-3", "learning_rate"))
    else:
        claims.append(_rate_claim(rates))
    if measured.get("split", 0) < 2:
        claims.append(not_measured("the split changes the result (70/30, 80/20, 90/10 compared)", "split"))
    else:
        claims.append(_split_claim(results))
    return pd.DataFrame(claims)


def _batch_claim(results: pd.DataFrame) -> dict:
    best = _best(results, "batch_size", "best_val_loss", lowest=True)
    by_psnr = _best(results, "batch_size", "best_val_psnr", lowest=False)
    return {
        "claim": "batch size 64 works best (of 20-100)",
        "finding": f"lowest validation loss {best['best_val_loss']:.5f} at batch {best['value']}; "
                   f"highest validation PSNR {by_psnr['best_val_psnr']:.2f} dB at batch {by_psnr['value']}",
        "verdict": "confirmed" if str(best["value"]) == "64" else "not confirmed",
    }


def _rate_claim(rates: pd.DataFrame) -> dict:
    low, high = rates.loc[1e-4], rates.loc[1e-3]
    return {
        "claim": "learning rate 1e-4 is better than 1e-3",
        "finding": f"best validation loss {low['best_val_loss']:.5f} at 1e-4 vs {high['best_val_loss']:.5f} at 1e-3; "
                   f"PSNR {low['best_val_psnr']:.2f} vs {high['best_val_psnr']:.2f} dB",
        "verdict": "confirmed" if low["best_val_loss"] < high["best_val_loss"] else "not confirmed",
    }


def _split_claim(results: pd.DataFrame) -> dict:
    splits = results[results["factor"] == "split"].sort_values("value")
    best_split = _best(results, "split", "best_val_loss", lowest=True)
    listing = ", ".join(f"{r['value'].replace('_', '/')}: {r['best_val_loss']:.5f}" for _, r in splits.iterrows())
    return {
        "claim": "the split changes the result (70/30, 80/20, 90/10 compared; 80/20 used for the main run)",
        "finding": f"best validation loss by split {listing}; lowest with {best_split['value'].replace('_', '/')} "
                   "(each split validates on different photos, so these are not strictly comparable)",
        "verdict": "80/20 best" if best_split["value"] == "80_20" else f"{best_split['value'].replace('_', '/')} best",
    }


def plan_for_profile(profile: str) -> pd.DataFrame:
    """Notebook 04's plan under a profile, built from the notebook's own parameter cell,
    so a headless run trains exactly the configs the notebook will look up."""
    from .runner import profile_parameters

    values = profile_parameters("04_hyperparameter_study", profile)
    base = train_config_from_parameters(values)
    return study_configs(base, batch_sizes=values["batch_sizes"], learning_rates=values["learning_rates"],
                         splits=values["splits"])


def run_in_parallel(plan: pd.DataFrame, args) -> int:
    """Train each distinct run of the plan in its own process, `args.jobs` at a time,
    base run first. On one GPU this overlaps the runs' compile and input work."""
    import subprocess

    # the base run (shared by every factor, so listed most often) first: notebooks 03, 05, 06 need it
    uses = plan["run"].map(plan["run"].value_counts())
    distinct = plan.assign(uses=uses).sort_values("uses", ascending=False, kind="stable").drop_duplicates("run")
    levels = [f"{factor}={value}" for factor, value in zip(distinct["factor"], distinct["value"])]
    environment = dict(os.environ)
    # JAX would otherwise reserve 75% of the GPU's memory in each process
    environment.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.9 / args.jobs:.2f}")
    pending, running, failed = list(levels), [], []
    try:
        while pending or running:
            while pending and len(running) < args.jobs:
                level = pending.pop(0)
                command = [sys.executable, "-m", "unetcolor.study", "--profile", args.profile, "--only", level,
                           "--workers", str(args.workers), "--checkpoint-every", str(args.checkpoint_every)]
                running.append((level, subprocess.Popen(command, env=environment)))
            level, process = running.pop(0)
            if process.wait() != 0:
                failed.append(level)
    except KeyboardInterrupt:
        # stopped (Ctrl-C or a time budget): interrupt every run; each keeps its last checkpoint
        for _, process in running:
            process.send_signal(signal.SIGINT)
        for _, process in running:
            process.wait()
        print(f"[study] interrupted; unfinished: {[level for level, _ in running] + pending}", file=sys.stderr)
        return 130
    if failed:
        print(f"[study] failed: {failed}", file=sys.stderr)
        return 1
    print(study_results(plan, paths.profile_paths(args.profile).models).drop(columns=["run"]).to_string())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m unetcolor.study",
        description="Run notebook 04's hyperparameter study headless (no Jupyter); finished runs are skipped.",
    )
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--only", nargs="*", default=None,
                        help="factor levels to run, as factor=value (e.g. batch_size=64); default: all")
    parser.add_argument("--workers", type=int, default=1, help="threads preparing batches (raise on a GPU)")
    parser.add_argument("--checkpoint-every", type=int, default=1, help="epochs between checkpoints")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at once, each in its own process (one GPU has room for several)")
    args = parser.parse_args(argv)
    os.environ.setdefault(PROGRESS_ENV, "epoch")
    plan = plan_for_profile(args.profile)
    if args.jobs > 1 and not args.only:
        return run_in_parallel(plan, args)
    if args.only:
        wanted = {tuple(item.split("=", 1)) for item in args.only}
        plan = plan[[(f, str(v)) in wanted for f, v in zip(plan["factor"], plan["value"])]]
        if plan.empty:
            parser.error(f"--only {args.only} matches no factor level of the plan")
    folders = paths.profile_paths(args.profile).make()
    run_study(plan, folders.processed, folders.models, workers=args.workers, checkpoint_every=args.checkpoint_every)
    print(study_results(plan, folders.models).drop(columns=["run"]).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
