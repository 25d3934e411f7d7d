"""Where a GPU run's time went, from the records it brought back (reports/bench/gpu-<card>/): the first
epochs against the steady one, compilations after the first epoch, and a parallel study's progress.

    python -m unetcolor gpu-runs reports/bench/gpu-h100     # writes summary.json there"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

import pandas as pd

SUMMARY_FILE = "summary.json"
_FINISHED = re.compile(r"^\[study\] (\S+) seed (\d+): (finished|failed) (\d+) s after the study started", re.M)
_UNFINISHED = re.compile(r"^\[study\] interrupted; unfinished: (\[.*\])$", re.M)
_STOPPED = re.compile(r"^training finished or stopped after (\d+) s", re.M)


def epoch_timing(history: pd.DataFrame) -> dict:
    """The first two epochs' seconds, the steady epoch (median without compilations), the compilations in
    and after epoch 1, and the totals of a history."""
    first, later = history.iloc[0], history[history["epoch"] > 1]
    steady, total, after = later.loc[later["compiles"] == 0, "seconds"], history.sum(), later.sum()
    return {"epochs": len(history), "first_epoch_seconds": float(first["seconds"]),
            "second_epoch_seconds": float(history["seconds"].iloc[1]) if len(history) > 1 else None,
            "steady_epoch_seconds": float(steady.median()) if len(steady) else None,
            "first_epoch_compiles": int(first["compiles"]),
            "first_epoch_compile_seconds": float(first["compile_seconds"]),
            "first_epoch_cache_hits": int(first["cache_hits"]) if "cache_hits" in history else None,
            "later_compiles": int(after["compiles"]), "later_compile_seconds": float(after["compile_seconds"]),
            "compile_seconds": float(total["compile_seconds"]), "train_seconds": float(total["seconds"]),
            # training images over all epochs (histories written before the `images` column: None)
            "images": int(total["images"]) if "images" in history else None}


def run_summary(run_dir: Path) -> dict:
    """One run folder: its name, the settings that shape compilation, its device, precision and timing."""
    config = json.loads((run_dir / "config.json").read_text())
    environment_file = run_dir / "environment.json"
    environment = json.loads(environment_file.read_text()) if environment_file.is_file() else {}
    return {"run": run_dir.name,
            **{key: config[key] for key in ("batch_size", "learning_rate", "split", "epochs", "last_batch")},
            "device": environment.get("device"), "precision": environment.get("precision"),
            **epoch_timing(pd.read_csv(run_dir / "history.csv"))}


def study_progress(log: str) -> dict:
    """A parallel study's log: each run's finish time, the runs a budget interrupted, when training stopped."""
    stopped, unfinished = _STOPPED.search(log), _UNFINISHED.search(log)
    return {"finished": [{"level": level, "seed": int(seed), "status": status, "seconds": int(seconds)}
                         for level, seed, status, seconds in _FINISHED.findall(log)],
            "unfinished": [{"level": level, "seed": int(seed)}
                           for level, seed in (ast.literal_eval(unfinished.group(1)) if unfinished else [])],
            "stopped_after_seconds": int(stopped.group(1)) if stopped else None}


def totals(runs: list[dict], wall_seconds: float | None) -> dict:
    """Over runs trained together: the share of training time spent compiling, and images/s of all together
    over their shared wall time (None where unknown)."""
    seconds = sum(run["train_seconds"] for run in runs)
    images = [run["images"] for run in runs]
    known = all(count is not None for count in images) and wall_seconds
    share = sum(run["compile_seconds"] for run in runs) / seconds if seconds else None
    return {"runs": len(runs), "compile_share": share,
            "images_per_second": sum(images) / wall_seconds if known else None, "wall_seconds": wall_seconds}


def summarize(folder: Path) -> dict:
    """Every run under folder/runs/ and every study log (*.log with `[study]` lines), with their totals."""
    folder = Path(folder)
    runs = [run_summary(config.parent) for config in sorted(folder.glob("runs/*/config.json"))]
    studies = {log.name: study_progress(log.read_text()) for log in sorted(folder.glob("*.log"))
               if "[study]" in log.read_text()}
    walls = [study["stopped_after_seconds"] for study in studies.values() if study["stopped_after_seconds"]]
    return {"runs": runs, "studies": studies, "totals": totals(runs, max(walls) if walls else None)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor gpu-runs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="folders holding runs/ and study logs")
    args = parser.parse_args(argv)
    for folder in args.folders:
        (folder / SUMMARY_FILE).write_text(json.dumps(summarize(folder), indent=2) + "\n")
        print(folder / SUMMARY_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
