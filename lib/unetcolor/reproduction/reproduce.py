"""`make reproduce`: prepare the data, print the training plan, train what is asked, run the notebooks.

    python -m unetcolor reproduce --profile paper --data-dir photos/            # plan, then what it can
    python -m unetcolor reproduce --profile paper --data-dir photos/ --train    # train what is missing too
    python -m unetcolor reproduce --profile paper --plan                        # the plan alone
    python -m unetcolor reproduce --profile smoke --runs-only                   # data and runs, no notebook

Without --train it runs the notebooks whose runs are here and, if a run is missing, says what and
how to train it and exits with 2. Nothing whose inputs did not change is redone."""

from __future__ import annotations

import argparse
import sys

import keras
from tqdm.auto import tqdm

from .. import manifest, paths
from ..photos import data
from ..reproducibility import PROGRESS_ENV
from ..training import study, train
from ..unet import runs
from . import plan, runner


class ProgressBars(keras.callbacks.Callback):
    """One bar for the run's epochs and one for all runs to train (weighted by their estimates)."""

    def __init__(self, run: plan.PlannedRun, total: tqdm):
        super().__init__()
        self.total = total
        self.per_epoch = (run.estimate_seconds or 0) / max(run.epochs_left, 1)
        self.bar = tqdm(total=run.config.epochs, initial=run.epochs_done, unit="epoch", leave=True,
                        desc=f"{run.level} seed {run.seed}", dynamic_ncols=True)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.update(1)
        if (loss := (logs or {}).get("val_loss")) is not None:
            self.bar.set_postfix(val_loss=f"{loss:.4f}")
        # the estimates' sum, rounded, is the bar's total: never step past it (tqdm warns when clamping)
        self.total.update(min(self.per_epoch, max(self.total.total - self.total.n, 0)))

    def on_train_end(self, logs=None):
        self.bar.close()


def train_runs(planned: list[plan.PlannedRun], profile: str, total: tqdm, jobs: int = 1) -> None:
    """Train (or resume) each run with its progress bar: in turn in this process, or with jobs > 1 (study runs)
    up to `jobs` at a time, each in its own process, the bars following their progress files."""
    if jobs <= 1:
        for run in planned:
            bars = ProgressBars(run, total)
            train.train(run.config, paths.profile_paths(profile).processed, run.run_dir, progress="quiet",
                        callbacks=[bars])
            bars.bar.close()
            run.status, run.epochs_done = runs.state(run.run_dir, needs_weights=run.role == "main")
        return
    by_job = {study.Job(run.level, [sys.executable, "-m", "unetcolor", "study", "--profile", profile, "--only",
                                    run.level, "--seed", str(run.seed)], run.run_dir,
                        study.compile_signature(run.config), {PROGRESS_ENV: "quiet"}): run for run in planned}
    bars = {}

    def follow(job, *ended):  # on_end passes the job's exit status as well
        for _ in range(runs.epochs_done(job.run_dir) - bars[job].bar.n):
            bars[job].on_epoch_end(bars[job].bar.n)
        if ended:
            bars[job].bar.close()

    if failed := study.launch(list(by_job), jobs, quiet=True, on_poll=follow, on_end=follow,
                              on_start=lambda job: bars.update({job: ProgressBars(by_job[job], total)})):
        raise RuntimeError(f"study runs failed: {[job.name for job in failed]}; their logs are above, "
                           "rerun to resume them")


def missing_message(missing: list[plan.PlannedRun], profile: str, data_dir: str) -> str:
    """What is missing, the total estimate here, and the two ways to train it."""
    total = sum(run.estimate_seconds or 0 for run in missing)
    data = f' DATA_DIR="{data_dir}"' if data_dir else ""
    names = ", ".join(f"{run.level} seed {run.seed}" for run in missing[:6]) + (" ..." if len(missing) > 6 else "")
    return "\n".join([
        f"Not reproduced yet: {len(missing)} training run(s) of profile {profile!r} are missing on these photos "
        f"({names}); about {plan.duration(total)} of training on this machine.",
        ("Notebook 04 left them out of its tables and says so. " if all(run.role == "study" for run in missing) else
         "Notebooks that need the main run were not executed. ") + "To train them, choose one:",
        f"  make reproduce{runner._profile_argument(profile)}{data} TRAIN=1     train here (progress bars; an "
        "interrupted call resumes)",
        "  on a GPU machine: `make gpu-setup`, then the same command there (docs/gpu.md); "
        "or scripts/gpu_paper_run.sh there and scripts/unpack_runs.sh here",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", action="store_true", help="train the missing runs here, then run the notebooks")
    parser.add_argument("--plan", action="store_true", help="prepare the data if needed, print the plan, stop")
    parser.add_argument("--runs-only", action="store_true",
                        help="prepare the data headless and train every missing run; execute no notebook")
    parser.add_argument("--jobs", type=int, default=1, help="study runs trained at once (each its own process)")
    args, extra = runner.parse_arguments(parser, argv)

    def notebooks(*kinds):  # those that read runs of these kinds ("main", "study"; None: no run)
        if not args.runs_only:
            runner.run([entry.name for entry in manifest.load() if entry.runs in kinds], args.profile, extra,
                       force=args.force)

    if args.runs_only:
        data.main(["--profile", args.profile] + (["--data-dir", args.data_dir] if args.data_dir else []))
        args.train = True
    elif args.plan:
        runner.run([manifest.data_notebook()], args.profile, extra, force=args.force)
    else:
        notebooks(None)
    folders = paths.profile_paths(args.profile)
    planned = plan.build(args.profile)
    if unkeyed := runs.without_architecture(folders.models):
        print(f"[{args.profile}] {len(unkeyed)} run folder(s) in {paths.relative(folders.models)} were trained before "
              "run keys held the U-Net's architecture, so the plan does not count them: if they were trained by this "
              f"checkout's U-Net code, `python -m unetcolor train --adopt-architecture --profile {args.profile}` "
              "renames them", flush=True)
    if missing := [run for run in planned if run.status != "finished"]:
        print(f"[{args.profile}] measuring how fast this machine trains the model (cached per machine) ...", flush=True)
        plan.estimate(planned, folders.processed)
        print(f"[{args.profile}] plan recorded in {paths.relative(plan.record(planned, args.profile))}", flush=True)
    print(plan.describe(planned, args.profile), flush=True)
    if args.plan:
        return 0
    main_run = planned[0]
    if missing and args.train:
        total = tqdm(total=round(sum(run.estimate_seconds or 0 for run in missing)), unit="s", desc="all runs",
                     dynamic_ncols=True, bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")
        try:
            if main_run.status != "finished":
                train_runs([main_run], args.profile, total)
            runs.mark_main(args.profile, main_run.run_dir)
            notebooks("main")
            train_runs([run for run in missing if run.role == "study"], args.profile, total, args.jobs)
        except KeyboardInterrupt:
            total.close()
            print(f"\n[{args.profile}] interrupted: every run keeps its last checkpoint; the same command resumes.",
                  file=sys.stderr)
            return 130
        total.close()
        notebooks("main", "study")
        return 0
    if main_run.status == "finished":
        runs.mark_main(args.profile, main_run.run_dir)
        notebooks("main", "study")
    if args.runs_only:
        print(f"[{args.profile}] every run is finished: nothing to train", flush=True)
    elif missing:
        print(missing_message(missing, args.profile, args.data_dir), file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
