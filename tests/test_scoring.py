"""A finished run scores itself on photos (unetcolor.training.scoring): PSNR and SSIM against the
originals beside the gray copy, on its own validation photos and on the common ones, checked
here against PSNR computed from its definition (paper eq. 3) on the model's own predictions."""

import json
import shutil

import numpy as np
import pytest

from unetcolor import color
from unetcolor.photos import data
from unetcolor.training import scoring, study, train
from unetcolor.unet import runs


def _psnr(truth: np.ndarray, output: np.ndarray) -> float:
    mse = np.mean((truth.astype(np.float64) - output.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module")
def finished(tiny_processed, tmp_path_factory):
    import tiny

    config = tiny.train(epochs=1, split="70_30")
    run_dir = tmp_path_factory.mktemp("scored") / "run"
    train.train(config, tiny_processed, run_dir, progress="quiet")
    return run_dir


def test_a_finished_run_records_its_scores_as_eq3_gives_them(finished, tiny_processed):
    scores = json.loads((finished / "metrics.json").read_text())["scores"]
    model = runs.model(finished)
    rgb, gray = data.load_arrays(tiny_processed)
    _, val_ids = data.load_split(tiny_processed, "70_30")
    common = data.common_validation_ids(tiny_processed)
    for subset, ids in (("validation", val_ids), ("common", common)):
        truth, gray_ids = np.asarray(rgb[ids]), np.asarray(gray[ids])
        output = color.output_to_rgb(model.predict(color.gray_to_input(gray_ids), verbose=0))
        copy = np.repeat(gray_ids[..., None], 3, axis=-1)
        assert scores[subset]["photos"] == len(ids)
        assert scores[subset]["psnr"] == pytest.approx(np.mean([_psnr(t, o) for t, o in zip(truth, output)]), abs=1e-3)
        assert scores[subset]["gray_psnr"] == pytest.approx(np.mean([_psnr(t, c) for t, c in zip(truth, copy)]),
                                                             abs=1e-9)
        assert 0 < scores[subset]["ssim"] <= 1 and 0 < scores[subset]["gray_ssim"] <= 1
    assert len(common) < len(val_ids)


def test_rescore_adds_the_same_scores_to_a_run_that_lacks_them(finished, tiny_processed, tmp_path):
    copy = tmp_path / finished.name
    shutil.copytree(finished, copy)
    record = json.loads((copy / "metrics.json").read_text())
    expected = record.pop("scores")
    (copy / "metrics.json").write_text(json.dumps(record))
    config = runs.config(copy)
    rescored = scoring.rescore(copy, tiny_processed, runs.model(copy), config.split, config.data)
    for subset in scoring.SUBSETS:
        assert rescored["scores"][subset] == pytest.approx(expected[subset], rel=1e-6)
    assert {k: v for k, v in rescored.items() if k != "scores"} == record


def test_rescore_refuses_other_photos_and_names_the_run(finished, tiny_processed):
    with pytest.raises(ValueError, match=f"{finished}: trained on data 000000000000"):
        scoring.rescore(finished, tiny_processed, runs.model(finished), "70_30", "000000000000")


def test_the_study_table_carries_the_scores_as_columns(finished):
    record = json.loads((finished / "metrics.json").read_text())
    flat = scoring.flat(record)
    assert flat["common_psnr"] == record["scores"]["common"]["psnr"]
    assert flat["validation_gray_ssim"] == record["scores"]["validation"]["gray_ssim"]
    import pandas as pd

    plan = pd.DataFrame([{"factor": "split", "value": "70_30", "seed": 7, "run": finished.name,
                          "config": runs.config(finished)}])
    table = study.study_results(plan, finished.parent)
    assert table.loc[0, "common_psnr"] == flat["common_psnr"] and "scores" not in table


def test_each_history_row_counts_the_training_images_of_its_epoch(finished, tiny_processed):
    """With last_batch: fill every batch is full, so an epoch trains ceil(n / batch) * batch images."""
    import math

    import pandas as pd

    train_ids, _ = data.load_split(tiny_processed, "70_30")
    history = pd.read_csv(finished / "history.csv")
    assert history["images"].tolist() == [math.ceil(len(train_ids) / 4) * 4] * len(history)
