import json
from pathlib import Path

import pandas as pd
import pytest

from unetcolor.commands import gpu_runs

EVIDENCE = Path("reports/bench/gpu-h100")


def test_epoch_timing_separates_compilation_from_the_steady_epoch():
    history = pd.DataFrame({"epoch": [1, 2, 3, 4, 5], "seconds": [30.0, 20.5, 0.5, 0.7, 0.6],
                            "compiles": [7, 1, 0, 0, 0], "compile_seconds": [29.0, 20.0, 0.0, 0.0, 0.0],
                            "cache_hits": [2, 0, 0, 0, 0]})
    timing = gpu_runs.epoch_timing(history)
    assert timing["first_epoch_seconds"] == 30.0 and timing["second_epoch_seconds"] == 20.5
    assert timing["steady_epoch_seconds"] == pytest.approx(0.6)  # median of 0.5, 0.7, 0.6; epoch 2 compiled
    assert (timing["first_epoch_compiles"], timing["later_compiles"]) == (7, 1)
    assert timing["later_compile_seconds"] == 20.0 and timing["first_epoch_cache_hits"] == 2
    assert timing["train_seconds"] == pytest.approx(52.3)


def test_study_progress_reads_finish_times_and_the_interrupted_runs():
    log = "\n".join([
        "[study] bs64-lr0.0001-split80_20-e100-rgb-s42-3d7839ad06: training",
        "[batch_size=64 seed 42] epoch 1/100  loss 0.2699  32.9 s",
        "[study] batch_size=64 seed 42: finished 119 s after the study started",
        "[study] learning_rate=0.001 seed 43: failed 20 s after the study started",
        "[study] interrupted; unfinished: [('batch_size=20', '42'), ('split=70_30', '43')]",
        "training finished or stopped after 483 s"])
    progress = gpu_runs.study_progress(log)
    assert progress["finished"] == [
        {"level": "batch_size=64", "seed": 42, "status": "finished", "seconds": 119},
        {"level": "learning_rate=0.001", "seed": 43, "status": "failed", "seconds": 20}]
    assert progress["unfinished"] == [{"level": "batch_size=20", "seed": 42}, {"level": "split=70_30", "seed": 43}]
    assert progress["stopped_after_seconds"] == 483


def test_the_committed_gpu_summary_is_what_its_records_give():
    """reports/bench/gpu-h100/summary.json is computed from the runs and logs beside it
    (`make bench` rewrites it), never edited."""
    assert json.loads((EVIDENCE / gpu_runs.SUMMARY_FILE).read_text()) == gpu_runs.summarize(EVIDENCE)


def test_totals_give_the_compile_share_and_the_aggregate_images_per_second():
    runs = [{"train_seconds": 100.0, "compile_seconds": 30.0, "images": 1200},
            {"train_seconds": 50.0, "compile_seconds": 0.0, "images": 600}]
    assert gpu_runs.totals(runs, 60.0) == {"runs": 2, "compile_share": 0.2, "images_per_second": 30.0,
                                           "wall_seconds": 60.0}
    runs[1]["images"] = None  # a history from before the `images` column
    assert gpu_runs.totals(runs, 60.0)["images_per_second"] is None
