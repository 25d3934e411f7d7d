"""The paper's Section 4 one-factor-at-a-time hyperparameter study (each setting over `seeds` seeds),
and ``launch``, the one launcher of parallel training runs."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path

import pandas as pd

from .. import paths, profiles
from ..config import TrainConfig, parse_assignments
from ..photos import data
from ..reproducibility import LOG_TAG_ENV, PROGRESS_ENV, log
from ..unet import runs
from . import scoring
from .train import CHECKPOINT_SECONDS, add_checkpoint_arguments, train


def study_configs(base: TrainConfig, batch_sizes, learning_rates, splits, seeds: int = 1) -> pd.DataFrame:
    """One row per (factor, value, seed): the config that changes only that factor (and the seed)."""
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    rows = []
    for offset in range(seeds):
        for factor, values in (("batch_size", batch_sizes), ("learning_rate", learning_rates), ("split", splits)):
            for value in values:
                config = dataclasses.replace(base, **{factor: value, "seed": base.seed + offset})
                rows.append({"factor": factor, "value": value, "seed": config.seed, "config": config,
                             "run": config.run_name()})
    return pd.DataFrame(rows)


def compile_signature(config: TrainConfig) -> str:
    """What fixes the programs XLA compiles for a run: model, batch sizes, split and precision."""
    return json.dumps({"model": dataclasses.asdict(config.model), "batch_size": config.batch_size,
                       "last_batch": config.last_batch, "split": config.split, "precision": config.precision},
                      sort_keys=True, default=list)


class Stagger:
    """When to start the next of several runs trained at once: at most one in its first (compiling) epoch,
    but with JAX's persistent cache a run whose signature has finished an epoch starts at once."""

    def __init__(self, cache: bool):
        self.cache = cache
        self.warm: set[str] = set()
        self.compiling: dict[Path, tuple[str, int]] = {}  # run folder -> (signature, epochs done at its start)

    def may_start(self, signature: str) -> bool:
        for run_dir, (name, first) in list(self.compiling.items()):
            if runs.epochs_done(run_dir) > first:
                self.warm.add(name)
                del self.compiling[run_dir]
        return not self.compiling or (self.cache and signature in self.warm)

    def started(self, run_dir: Path, signature: str) -> None:
        if not (self.cache and signature in self.warm):
            self.compiling[Path(run_dir)] = (signature, runs.epochs_done(run_dir))

    def ended(self, run_dir: Path) -> None:
        self.compiling.pop(Path(run_dir), None)


def missing_runs(plan: pd.DataFrame, models_dir: Path) -> pd.DataFrame:
    """The plan's rows whose run has not finished (no metrics.json yet)."""
    return plan[[not runs.has_records(Path(models_dir) / run) for run in plan["run"]]]


def _finished(plan: pd.DataFrame, models_dir: Path):
    """(plan record, run folder) of each finished run of the plan."""
    for record in plan.to_dict("records"):
        if runs.has_records(Path(models_dir) / record["run"]):
            yield record, Path(models_dir) / record["run"]


def study_results(plan: pd.DataFrame, models_dir: Path, processed_dir: Path | None = None) -> pd.DataFrame:
    """Per (factor, value, seed) of every finished run: its metrics and scores. With processed_dir, a run
    validated on exactly the common photos takes its own validation numbers as theirs (common_val_source)."""
    common = set(data.common_validation_ids(processed_dir).tolist()) if processed_dir else None
    rows = []
    for record, run_dir in _finished(plan, models_dir):
        metrics = json.loads((run_dir / "metrics.json").read_text())
        if "common_val_loss" in metrics:
            metrics["common_val_source"] = "scored after training"
        elif common is not None and set(data.load_split(processed_dir, record["config"].split)[1].tolist()) == common:
            metrics.update(common_val_loss=metrics["final_val_loss"], common_val_accuracy=metrics["final_val_accuracy"],
                           common_val_source="its own validation photos are the common ones")
        rows.append({"factor": record["factor"], "value": record["value"], "seed": record["seed"],
                     "run": record["run"], **{k: v for k, v in metrics.items() if k != "scores"},
                     **scoring.flat(metrics)})
    return pd.DataFrame(rows)


def study_histories(plan: pd.DataFrame, models_dir: Path) -> pd.DataFrame:
    """All finished runs' per-epoch histories in one long table, labelled by factor, value and seed."""
    return pd.concat([pd.read_csv(run_dir / "history.csv").assign(
        factor=record["factor"], value=str(record["value"]), seed=record["seed"])
        for record, run_dir in _finished(plan, models_dir)], ignore_index=True)


def plan_for_profile(profile: str, seeds: int | None = None, data_fingerprint: str | None = None,
                     settings: dict | None = None) -> pd.DataFrame:
    """The profile's study keyed to its prepared data (or data_fingerprint); seeds and settings
    {"section.key": value} override the profile's."""
    settings_of = profiles.load(profile, settings)
    fingerprint = data_fingerprint or data.fingerprint(paths.profile_paths(profile).processed)
    study = settings_of.study
    return study_configs(runs.keyed(settings_of.main, fingerprint), batch_sizes=study["batch_sizes"],
                         learning_rates=study["learning_rates"], splits=study["splits"],
                         seeds=seeds or study["seeds"])


def _interrupt(processes: list) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)


@dataclasses.dataclass(frozen=True, eq=False)
class Job:
    """One training run for launch: name, command, run folder, compile signature and environment additions."""
    name: str
    command: list[str]
    run_dir: Path
    signature: str
    environment: dict = dataclasses.field(default_factory=dict)


def launch(jobs: list[Job], at_once: int, quiet: bool = False, on_start=None, on_poll=None, on_end=None) -> list[Job]:
    """Run each job's command in a session of its own, its log lines led by its name, up to at_once at a time, as
    Stagger allows, calling
    on_start(job), on_poll(job) (about every half second) and on_end(job, exit status). Returns the jobs that
    failed; an interrupt is passed on, then raised again naming the unfinished jobs."""
    import subprocess  # only the launcher starts processes

    environment = dict(os.environ)
    # JAX would otherwise reserve 75% of the GPU's memory in each process
    environment.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.9 / at_once:.2f}")
    stagger = Stagger(cache=bool(environment.get("JAX_COMPILATION_CACHE_DIR")))
    pending, running, failed = list(jobs), [], []
    try:
        while pending or running:
            while pending and len(running) < at_once:
                job = next((job for job in pending if stagger.may_start(job.signature)), None)
                if job is None:
                    break
                pending.remove(job)
                stagger.started(job.run_dir, job.signature)
                tagged = {**environment, LOG_TAG_ENV: f"[{job.name}] ", **job.environment}  # whose lines they are
                running.append((job, subprocess.Popen(job.command, env=tagged,
                                                      stdout=subprocess.DEVNULL if quiet else None,
                                                      start_new_session=True)))
                if on_start:
                    on_start(job)
            time.sleep(0.5)
            for job, process in list(running):
                if on_poll:
                    on_poll(job)
                if process.poll() is not None:
                    running.remove((job, process))
                    stagger.ended(job.run_dir)
                    failed += [job] if process.returncode else []
                    if on_end:
                        on_end(job, process.returncode)
    except KeyboardInterrupt:
        # each run finishes its epoch and checkpoints it; a second interrupt stops them at once
        processes = [process for _, process in running]
        _interrupt(processes)
        try:
            for process in processes:
                process.wait()
        except KeyboardInterrupt:
            _interrupt(processes)
            for process in processes:
                process.wait()
        raise KeyboardInterrupt(", ".join(job.name for job in [job for job, _ in running] + pending)) from None
    return failed


def run_in_parallel(plan: pd.DataFrame, args) -> int:
    """Train each distinct unfinished run of the plan in its own process, up to `args.jobs` at a time."""
    # by seed, and within a seed the base run (shared by every factor, so listed most often) first
    uses = plan["run"].map(plan["run"].value_counts())
    distinct = (plan.assign(uses=uses).sort_values(["seed", "uses"], ascending=[True, False], kind="stable")
                .drop_duplicates("run"))
    models = paths.profile_paths(args.profile).models
    jobs = []
    for row in missing_runs(distinct, models).itertuples():
        command = [sys.executable, "-m", "unetcolor", "study", "--profile", args.profile, "--only",
                   f"{row.factor}={row.value}", "--seeds", str(args.seeds), "--seed", str(row.seed),
                   "--workers", str(args.workers), "--checkpoint-minutes", str(args.checkpoint_minutes)]
        command += [f"--set={item}" for item in args.set]
        command += ["--checkpoint-every", str(args.checkpoint_every)] if args.checkpoint_every else []
        name = f"{row.factor}={row.value} seed {row.seed}"
        jobs.append(Job(name, command, models / row.run, compile_signature(row.config)))
    started = time.monotonic()

    def ended(job, status):
        print(f"[study] {job.name}: {'failed' if status else 'finished'} "
              f"{time.monotonic() - started:.0f} s after the study started", flush=True)

    try:
        failed = launch(jobs, args.jobs, on_end=ended)
    except KeyboardInterrupt as stop:
        print(f"[study] interrupted; unfinished: {stop}", file=sys.stderr)
        return 130
    if failed:
        print(f"[study] failed: {[job.name for job in failed]}", file=sys.stderr)
        return 1
    print(study_results(plan, models).drop(columns=["run"]).to_string())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m unetcolor study",
        description="Train the profile's hyperparameter study headless (no Jupyter); finished runs are skipped.")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--only", nargs="*", default=None,
                        help="factor levels to run, as factor=value (e.g. batch_size=64); default: all")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per setting (default: the profile's study.seeds)")
    parser.add_argument("--seed", type=int, default=None, help="run only this seed of the plan")
    parser.add_argument("--workers", type=int, default=1, help="threads preparing batches (raise on a GPU)")
    add_checkpoint_arguments(parser)
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at once, each in its own process (one GPU has room for several)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one setting of the profile for this call (a Python literal), e.g. "
                             "--set main.last_batch=fill; the runs then have other configs than the profile's")
    args = parser.parse_args(argv)
    try:
        plan = plan_for_profile(args.profile, args.seeds, settings=parse_assignments(args.set))
    except ValueError as error:
        parser.error(str(error))
    os.environ.setdefault(PROGRESS_ENV, "epoch")
    args.seeds = int(plan["seed"].nunique())
    if args.seed is not None:
        plan = plan[plan["seed"] == args.seed]
        if plan.empty:
            parser.error(f"--seed {args.seed} is not one of the plan's seeds")
    if args.jobs > 1 and not args.only:
        return run_in_parallel(plan, args)
    if args.only:
        wanted = {tuple(item.split("=", 1)) for item in args.only}
        plan = plan[[(f, str(v)) in wanted for f, v in zip(plan["factor"], plan["value"])]]
        if plan.empty:
            parser.error(f"--only {args.only} matches no factor level of the plan")
    folders = paths.profile_paths(args.profile).make()
    try:
        # each distinct config once; finished runs are skipped
        for run, config in dict(zip(plan["run"], plan["config"])).items():
            finished = runs.has_records(folders.models / run)
            print(f"[study] {run}: {'finished' if finished else 'training'}", flush=True)
            if not finished:
                train(config, folders.processed, folders.models / run, workers=args.workers,
                      checkpoint_every=args.checkpoint_every,
                      checkpoint_seconds=60 * args.checkpoint_minutes or CHECKPOINT_SECONDS)
    except KeyboardInterrupt as stop:
        log(f"[study] interrupted{': ' + str(stop) if str(stop) else ''}", file=sys.stderr, flush=True)
        return 130
    print(study_results(plan, folders.models).drop(columns=["run"]).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
