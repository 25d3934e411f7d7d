"""The shipped default colorizer: the file loads safely and keeps its promises on
real photos, its provenance agrees with itself, and the recipe's code path runs
end to end at toy scale without touching anything outside tmp_path."""

import contextlib
import dataclasses
import json
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pandas as pd
import pytest
import yaml

from unetcolor import color, colorizers, profiles
from unetcolor import shipped as shipped_models
from unetcolor.colorizers import __main__ as colorizers_cli
from unetcolor.colorizers import build, compare, decoding, registry, regression, training
from unetcolor.config import recipe_config_from_dict
from unetcolor.evaluation import predict
from unetcolor.photos import samples

import tiny
from conftest import throwaway_project

SHIPPED = colorizers.SHIPPED_DIR / "default.keras"
PROVENANCE = colorizers.SHIPPED_DIR / "default.json"
TINY_RECIPE = dataclasses.replace(
    colorizers.recipe("regression"), name="default",
    model=tiny.model(image_size=16, filters=(4, 8), normalization="batch", output="ab"),
    epochs=2, finetune_epochs=1, batch_size=4, seed=3, chroma_gains=(1.0, 1.5), tuning_share=0.2,
    precision="float32")  # "auto" may run the precision probe; bfloat16 has its own test


# ------------------------------------------------------------- the shipped model

@pytest.fixture(scope="module")
def shipped():
    # the weights ship with the package: a missing file is a failure, not a reason to skip
    assert SHIPPED.is_file(), f"{SHIPPED} is missing; restore it with `git checkout {SHIPPED}`"
    return predict.load_model(SHIPPED)  # safe mode


def _assert_file_matches_its_record(path, model, record):
    """A packaged model file: the shapes, size and parameter count its provenance records."""
    size = record["config"]["model"]["image_size"]
    assert list(model.input_shape[1:]) == record["input_shape"] == [size, size, 1]
    assert list(model.output_shape[1:]) == record["output_shape"] == [size, size, 2]
    assert path.stat().st_size == record["model_bytes"] <= 20 * 2**20
    assert model.count_params() == record["parameters"]


def test_shipped_model_matches_its_committed_record_which_beats_the_gray_baseline(shipped):
    """Checks the file against its committed provenance record (notebook 07 re-scores the model
    itself on the validation photos and compares with this record)."""
    record = json.loads(PROVENANCE.read_text())
    _assert_file_matches_its_record(SHIPPED, shipped, record)
    assert record["data"]["validation"] == 304 and record["data"]["tuning"] + record["data"]["fit"] == 1214
    assert len(set(record["data"]["tuning_ids"])) == record["data"]["tuning"]
    table = {(row["metric"], row["method"]): row["mean"] for row in record["validation_metrics"]}
    # the accurate model's reason to exist, as recorded on the 304 held-out photos: it beats the
    # gray copy on PSNR and SSIM (how far, and the colour targets, are reported in notebook 07)
    assert table["psnr", "model"] > table["psnr", "gray baseline"]
    assert table["ssim", "model"] >= table["ssim", "gray baseline"]
    # make default-model's recipe (knobs added since, for other heads, take their defaults)
    assert dataclasses.replace(colorizers.recipe("default"), **record["config"]) == colorizers.recipe("default")


def test_shipped_model_is_the_default_of_colorize(monkeypatch):
    monkeypatch.delenv(predict.MODEL_ENV, raising=False)
    assert predict.default_model_path() == SHIPPED


def test_packaged_models_are_named_and_an_unknown_name_is_refused():
    assert [predict.packaged_model_path(name).name for name in shipped_models.NAMES] == [
        "default.keras", "vivid.keras", "gan.keras", "hints.keras"]
    with pytest.raises(ValueError, match="no packaged colorizer named 'sepia'; the packaged ones are default"):
        predict.packaged_model_path("sepia")


def test_shipped_model_colours_real_photos_and_keeps_their_luma(shipped):
    from unetcolor.photos import images

    photos = [images.read_photo(path).rgb for path in samples.sample_photo_paths()[:3]]
    for photo in photos:
        gray = color.rgb_to_gray(photo)
        colorized = predict.colorize_photo(shipped, gray)
        assert colorized.shape == photo.shape
        luma_error = np.abs(color.rgb_to_gray(colorized).astype(int) - gray.astype(int))
        assert luma_error.mean() < 0.6 and np.percentile(luma_error, 99) <= 2  # clipping only at the extremes
        assert color.chroma(colorized) > 3.0  # visibly coloured, not gray (C*ab of a gray photo is 0)


VIVID = colorizers.SHIPPED_DIR / "vivid.keras"


@pytest.fixture(scope="module")
def vivid():
    assert VIVID.is_file(), f"{VIVID} is missing; restore it with `git checkout {VIVID}`"
    return predict.load_model(VIVID)  # safe mode


def test_shipped_vivid_model_is_the_bins_head_at_its_recorded_temperature(vivid):
    record = json.loads(VIVID.with_suffix(".json").read_text())
    model = vivid
    assert record["config"]["head"] == "bins" and record.get("shipped_as", record["config"]["name"]) == "vivid"
    assert (dataclasses.replace(colorizers.recipe("vivid"), **record["config"])
            == colorizers.recipe("vivid"))  # make vivid-model
    _assert_file_matches_its_record(VIVID, model, record)
    centers = np.array(record["bins"]["centers"])
    np.testing.assert_allclose(model.get_layer("expected_ab").get_weights()[0], centers / 128, rtol=1e-6)
    assert record["temperature"] in record["config"]["temperatures"]
    assert model.get_layer("annealing").scale == pytest.approx(1 / record["temperature"])
    # same held-out photos as the default model, and bolder colours on them
    default = json.loads(PROVENANCE.read_text())
    assert record["data"]["tuning_ids"] == default["data"]["tuning_ids"]
    colorfulness = {name: {r["method"]: r["mean"] for r in rec["validation_metrics"] if r["metric"] == "colorfulness"}
                    for name, rec in (("vivid", record), ("default", default))}
    assert colorfulness["vivid"]["model"] > colorfulness["default"]["model"]
    if "chroma_offset" in record:  # the tuning subset's cast, cancelled by the saved model's last layer
        assert model.get_layer("chroma_offset").offset == pytest.approx([o / 128 for o in record["chroma_offset"]])


def test_vivid_colours_real_photos_more_boldly_than_the_default(shipped, vivid):
    from unetcolor.photos import images

    chroma = {"vivid": [], "default": []}
    for path in samples.sample_photo_paths()[:3]:
        gray = color.rgb_to_gray(images.read_photo(path).rgb)
        for name, model in (("vivid", vivid), ("default", shipped)):
            colorized = predict.colorize_photo(model, gray)
            assert np.abs(color.rgb_to_gray(colorized).astype(int) - gray.astype(int)).mean() < 0.6
            chroma[name].append(color.chroma(colorized))
    assert np.mean(chroma["vivid"]) > np.mean(chroma["default"])


GAN = colorizers.SHIPPED_DIR / "gan.keras"


def test_shipped_gan_model_is_a_generator_at_its_recorded_gain_made_by_its_recipe():
    from unetcolor.photos import images

    assert GAN.is_file(), f"{GAN} is missing; restore it with `git checkout {GAN}`"
    record = json.loads(GAN.with_suffix(".json").read_text())
    model = predict.load_model(GAN)  # safe mode
    assert (dataclasses.replace(colorizers.recipe("gan"), **record["config"])
            == colorizers.recipe("gan"))  # make gan-model
    _assert_file_matches_its_record(GAN, model, record)
    assert record["chroma_gain"] in record["config"]["chroma_gains"]
    assert model.get_layer("chroma_gain").scale == pytest.approx(record["chroma_gain"])
    assert {row["stage"] for row in record["training"]["history"]} == {"adversarial"}
    assert record["data"]["tuning_ids"] == json.loads(PROVENANCE.read_text())["data"]["tuning_ids"]
    for path in samples.sample_photo_paths()[:2]:
        gray = color.rgb_to_gray(images.read_photo(path).rgb)
        colorized = predict.colorize_photo(model, gray)
        assert np.abs(color.rgb_to_gray(colorized).astype(int) - gray.astype(int)).mean() < 0.6
        assert color.chroma(colorized) > 3.0


# ------------------------------------------------------------------- the recipe


def test_tuning_split_is_a_seeded_part_of_the_training_ids():
    train_ids = np.arange(0, 200, 2)
    fit_ids, tuning = colorizers.tuning_split(train_ids, 0.1, seed=5)
    assert len(tuning) == 10 and len(fit_ids) == 90
    assert not set(fit_ids) & set(tuning) and set(fit_ids) | set(tuning) == set(train_ids)
    again = colorizers.tuning_split(train_ids[::-1], 0.1, seed=5)
    np.testing.assert_array_equal(again[1], tuning)


def test_flip_batches_flip_input_and_target_together():
    x = np.random.default_rng(0).random((10, 8, 8, 1)).astype("float32")
    y = np.concatenate([x, -x], axis=-1)  # a target that is a pixelwise function of the input
    batches = training.FlipBatches(x, y, batch_size=4, seed=1)
    seen = 0
    for index in range(len(batches)):
        bx, by = batches[index]
        np.testing.assert_array_equal(by, np.concatenate([bx, -bx], axis=-1))
        seen += sum(any(np.array_equal(b, a[:, ::-1]) and not np.array_equal(b, a) for a in x) for b in bx)
    assert 0 < seen < len(x)  # some flipped, some not


def test_crop_batches_are_crops_of_the_full_size_photos_shrunk_like_the_pairs():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    gray = rgb.mean(-1).astype(np.uint8)
    x, y = colorizers.shrink_pairs(gray, rgb, 16)
    # a crop as large as the photo is the photo: the batches equal the pre-shrunk pairs
    whole = training.FlipBatches(x, y, batch_size=6, seed=2, flips=False, crops=(gray, rgb, 0.999))
    bx, by = whole[0]
    order = np.random.default_rng([2, 0]).permutation(6)
    np.testing.assert_array_equal(bx, x[order])
    np.testing.assert_array_equal(by, y[order])
    # smaller crops: each image is the shrunk pair of some square window of its own photo
    cropped = training.FlipBatches(x, y, batch_size=6, seed=2, flips=False, crops=(gray, rgb, 0.5))
    bx, by = cropped[0]
    assert bx.shape == x.shape and by.shape == y.shape
    for image, photo in zip(bx, order):
        windows = [colorizers.shrink_pairs([gray[photo, t:t + s, x:x + s]], [rgb[photo, t:t + s, x:x + s]], 16)[0][0]
                   for s in range(16, 33) for t in range(33 - s) for x in range(33 - s)]
        assert any(np.array_equal(image, window) for window in windows)
    np.testing.assert_array_equal(cropped[0][0], bx)  # the same epoch draws the same crops
    cropped.on_epoch_end()
    assert not np.array_equal(cropped[0][0], bx)


def test_recipe_trains_selects_evaluates_and_writes_only_into_tmp(tiny_processed, tmp_path):
    shipped_before = SHIPPED.stat().st_mtime_ns if SHIPPED.is_file() else None
    out = tmp_path / "weights"
    record = colorizers.train_colorizer(tiny_processed, out, TINY_RECIPE, verbose=False)
    assert sorted(p.name for p in out.iterdir()) == ["default.json", "default.keras"]
    assert (SHIPPED.stat().st_mtime_ns if SHIPPED.is_file() else None) == shipped_before
    assert json.loads((out / "default.json").read_text())["chroma_gain"] == record["chroma_gain"]
    assert record["training"]["epochs_run"] == 3 and record["training"]["best_epoch"] == 1  # 2 MSE + 1 log-MSE
    assert record["data"]["fit"] + record["data"]["tuning"] == 16 and record["data"]["validation"] == 4
    assert record["model_bytes"] == (out / "default.keras").stat().st_size

    # the recorded held-out numbers are those of the saved file, re-evaluated independently of the run
    from unetcolor.evaluation import metrics
    from unetcolor.photos import data

    model = predict.load_model(out / "default.keras")
    assert model.get_layer("chroma_gain").scale == pytest.approx(record["chroma_gain"])
    rgb, gray = data.load_arrays(tiny_processed)
    _, val_ids = data.load_split(tiny_processed, "80_20")
    colorized = np.stack([predict.colorize_photo(model, g) for g in np.asarray(gray[val_ids])])
    again = metrics.summarize(metrics.evaluate_images(np.asarray(rgb[val_ids]), colorized, gray[val_ids]))
    for row, recorded in zip(again.to_dict("records"), record["validation_metrics"]):
        assert row["metric"] == recorded["metric"] and row["method"] == recorded["method"]
        assert row["mean"] == pytest.approx(recorded["mean"], abs=1e-6)


def test_recipe_trains_in_bfloat16_records_why_and_saves_a_float32_model(tiny_processed, tmp_path):
    import keras

    recipe = dataclasses.replace(TINY_RECIPE, precision="bfloat16", finetune_epochs=0)
    record = colorizers.train_colorizer(tiny_processed, tmp_path, recipe, verbose=False)
    assert keras.mixed_precision.global_policy().name == "float32"  # training's policy does not leak
    environment = json.loads((tmp_path / "default.json").read_text())["environment"]
    assert (environment["precision"], environment["precision_reason"]) == ("bfloat16", "asked for bfloat16")
    assert record["config"]["precision"] == "bfloat16"
    model = predict.load_model(tmp_path / "default.keras")
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    assert {weight.dtype for weight in model.weights} == {"float32"}


def test_precision_is_an_execution_detail_of_a_recipe():
    assert colorizers.recipe("default").precision == "auto"
    # a recipe trained in bfloat16 is the same recipe (the shipped provenance compares configs)
    default = colorizers.recipe("default")
    assert dataclasses.replace(default, precision="bfloat16") == default
    record = colorizers.recipe("default").to_dict()
    assert record["precision"] == "auto"
    assert dataclasses.replace(colorizers.recipe("default"),
                               **{k: v for k, v in record.items() if k != "precision"}) == \
        colorizers.recipe("default")  # provenance written before the setting existed
    with pytest.raises(ValueError, match="precision must be one of"):
        dataclasses.replace(TINY_RECIPE, precision="float16")


def test_recipe_cli_passes_the_precision_on(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(build, "prepare", lambda *a, **k: tmp_path)
    monkeypatch.setattr(build, "train_colorizer",
                        lambda processed, out, config, **k: seen.update(config=config) or
                        {"model_bytes": 0, "training": {"best_epoch": 1, "seconds_total": 0}})
    colorizers_cli.main(["train", "--recipe", "vivid", "--epochs", "2", "--precision", "float32",
                        "--processed-dir", str(tmp_path), "--out-dir", str(tmp_path)])
    assert seen["config"].precision == "float32" and seen["config"].epochs == 2 and seen["config"].name == "vivid"


def test_colorizers_cli_names_a_broken_profile_missing_photos_and_an_unknown_candidate_without_a_traceback(
        monkeypatch, tmp_path, capsys):
    project = tmp_path / "project"
    (project / "profiles").mkdir(parents=True)
    paper = (colorizers.SHIPPED_DIR.parents[2] / "profiles" / "paper.yaml").read_text()
    (project / "profiles" / "paper.yaml").write_text(paper)
    broken = yaml.safe_load(paper)
    broken["colorizers"]["recipes"] = dict(reversed(broken["colorizers"]["recipes"].items()))
    (project / "profiles" / "broken.yaml").write_text(yaml.safe_dump(broken, sort_keys=False))
    monkeypatch.setenv("UNETCOLOR_ROOT", str(project))
    with pytest.raises(SystemExit) as stop:
        colorizers_cli.main(["candidates", "--profile", "broken"])
    assert stop.value.code == 2 and "broken.yaml: colorizers.recipes" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="holds no prepared data; pass --data-dir"):
        colorizers_cli.main(["candidates"])
    with pytest.raises(SystemExit, match="has no candidate 'nothing'; its candidates: regression, "):
        colorizers_cli.main(["candidates", "--only", "nothing"])


def test_recipe_config_refuses_an_rgb_model():
    with pytest.raises(ValueError, match="a\\*, b\\*"):
        dataclasses.replace(TINY_RECIPE, model=tiny.model(image_size=16, filters=(4, 8), output="rgb"))


def test_vivid_recipe_trains_the_bins_head_and_writes_its_own_files(tiny_processed, tmp_path):
    recipe = dataclasses.replace(TINY_RECIPE, name="vivid", head="bins", finetune_epochs=0,
                                 temperatures=(0.38, 1.0), min_psnr_gain=0.0)
    out = tmp_path / "weights"
    record = colorizers.train_colorizer(tiny_processed, out, recipe, verbose=False)
    assert sorted(p.name for p in out.iterdir()) == ["vivid.json", "vivid.keras"]
    assert record["temperature"] in (0.38, 1.0) and len(record["temperature_choices"]) == 2
    assert record["training"]["epochs_run"] == 2
    assert set(record["training"]["history"][0]) >= {"loss", "val_loss", "stage"}
    centers = np.array(record["bins"]["centers"])
    model = predict.load_model(out / "vivid.keras")
    np.testing.assert_allclose(model.get_layer("expected_ab").get_weights()[0], centers / 128, rtol=1e-6)
    assert model.get_layer("annealing").scale == pytest.approx(1 / record["temperature"])
    assert list(model.output_shape[1:]) == [16, 16, 2]


def test_recipe_config_keeps_the_heads_apart():
    with pytest.raises(ValueError, match="head"):
        dataclasses.replace(TINY_RECIPE, head="pix2pix")
    with pytest.raises(ValueError, match="finetune_epochs=0"):
        dataclasses.replace(TINY_RECIPE, head="bins", finetune_epochs=2)
    assert colorizers.recipe("default").head == "bins" and colorizers.recipe("default").name == "default"
    assert colorizers.recipe("default").rebalance == 1.0 and colorizers.recipe("vivid").rebalance == 0.75
    assert colorizers.recipe("vivid").choices[0] == "temperature"


def test_candidates_table_reads_the_chosen_tuning_row_only():
    record = {
        "config": {"head": "bins", "rebalance": 0.5, "epochs": 3, "finetune_epochs": 0, "model": {"image_size": 64}},
        "temperature": 0.5,
        "temperature_choices": [
            {"temperature": 0.38, "psnr": 20.0, "psnr_gray": 21.0, "colorfulness": 40.0, "colorfulness_true": 40.0},
            {"temperature": 0.5, "psnr": 21.5, "psnr_gray": 21.0, "colorfulness": 30.0, "colorfulness_true": 40.0}],
        "training": {"seconds_to_best_epoch": 600.0, "seconds_total": 900.0},
        "model_bytes": 3_500_000,
        "validation_metrics": [{"metric": "psnr", "method": "model", "mean": 99.0}],
    }
    table = compare.candidates_table({"v": record}, shipped={"v"})
    row = table.iloc[0]
    assert row["shipped"] and row["knob"] == "temperature" and row["chosen"] == 0.5
    assert row["tuning_psnr_gain"] == pytest.approx(0.5) and row["tuning_colorfulness_share"] == pytest.approx(0.75)
    assert row["minutes_to_best_epoch"] == pytest.approx(10.0) and row["train_minutes"] == pytest.approx(15.0)
    assert row["model_MB"] == pytest.approx(3.5) and row["precision"] == "float32"  # no record: float32 then
    assert 99.0 not in table.to_numpy()  # held-out numbers stay out


def _candidates(*rows):
    columns = ["candidate", "head", "rebalance", "tuning_psnr_gain", "tuning_colorfulness_share", "train_minutes",
               "model_MB"]
    return pd.DataFrame(rows, columns=columns)


def test_accurate_rule_takes_the_best_tuning_psnr_within_budget_and_breaks_near_ties_by_colour():
    over_budget = colorizers.registry.BUDGET_MINUTES + 1
    table = _candidates(("a", "bins", 1.0, 0.70, 0.50, 30, 4), ("b", "bins", 1.0, 0.68, 0.60, 30, 4),
                        ("c", "regression", None, 0.60, 0.90, 30, 4), ("slow", "bins", 1.0, 2.0, 0.9, over_budget, 4),
                        ("big", "bins", 1.0, 2.0, 0.9, 30, 21))
    assert colorizers.registry.choose_accurate(table) == "b"  # within 0.05 dB of "a" and more colourful
    assert colorizers.registry.choose_accurate(table[table.candidate != "b"]) == "a"


def test_vivid_rule_takes_the_most_colourful_rebalanced_candidate_at_or_above_gray():
    table = _candidates(("plain", "bins", 1.0, 0.7, 0.95, 30, 4), ("r1", "bins", 0.5, -0.2, 0.90, 30, 4),
                        ("r2", "bins", 0.5, 0.1, 0.80, 30, 4), ("r3", "bins", 0.3, 0.0, 0.85, 30, 4))
    assert colorizers.registry.choose_vivid(table) == "r3"  # r1 is below gray; plain is not rebalanced
    assert colorizers.registry.choose_vivid(table[table.candidate.isin(["plain", "r1"])]) == "r1"  # none at gray
    with pytest.raises(ValueError, match="rebalanced"):
        colorizers.registry.choose_vivid(table[table.candidate == "plain"])


def test_choose_weighs_the_models_that_colour_on_their_own_and_keeps_the_shipped_files(monkeypatch, tmp_path, capsys):
    """`colorizers choose` on the shipped records: the hints colorizer (it needs hints, and with none scores close
    to the default) is not weighed, the shipped rows are marked, and with no other candidate each file stays."""
    shipped_records = compare.records_in(colorizers.SHIPPED_DIR)
    assert set(shipped_records) == set(shipped_models.NAMES)
    table = compare.rule_table(shipped_records, {})
    assert table["shipped"].all()
    assert sorted(table["candidate"]) == sorted(f"{name} (shipped)" for name in shipped_models.AUTOMATIC_NAMES)
    project = tmp_path / "project"
    (project / "profiles").mkdir(parents=True)
    (project / "profiles" / "paper.yaml").write_text(
        (colorizers.SHIPPED_DIR.parents[2] / "profiles" / "paper.yaml").read_text())
    monkeypatch.setenv("UNETCOLOR_ROOT", str(project))  # its models/paper/colorizers/ holds no candidate
    assert colorizers_cli.main(["choose"]) == 0
    printed = capsys.readouterr().out
    assert "hints" not in printed
    assert "default: default (shipped)" in printed and "vivid: vivid (shipped)" in printed
    assert printed.count("the shipped file stays") == 2


def test_ship_copies_a_candidate_under_the_shipped_name_and_says_why(tmp_path):
    candidates, shipped = tmp_path / "candidates", tmp_path / "weights"
    candidates.mkdir()
    (candidates / "wide.keras").write_bytes(b"model bytes")
    (candidates / "wide.json").write_text(json.dumps({"config": {"name": "wide"}, "git_commit": "abc"}))
    record = colorizers.ship(candidates / "wide", "default", shipped, "it won", "paper")
    assert (shipped / "default.keras").read_bytes() == b"model bytes"
    assert json.loads((shipped / "default.json").read_text()) == record == {
        "config": {"name": "wide"}, "git_commit": "abc", "shipped_as": "default", "trained_as": "wide",
        "chosen_because": "it won", "profile": "paper"}
    (candidates / "wide.keras").write_bytes(b"newer")
    with pytest.raises(FileExistsError):
        colorizers.ship(candidates / "wide", "default", shipped, "again", "paper")
    assert (shipped / "default.keras").read_bytes() == b"model bytes"
    (candidates / "wide.json").write_text(json.dumps({"config": {"name": "wider"}, "git_commit": "def0123456"}))
    colorizers.ship(candidates / "wide", "default", shipped, "wider won", "paper", overwrite=True, retire_to=candidates)
    retired = json.loads((candidates / "default_abc.json").read_text())  # named by the commit it was trained from
    assert retired["retired_by"] == "wide" and retired["chosen_because"] == "it won"
    assert (shipped / "default.keras").read_bytes() == b"newer"
    # a shipped run whose own candidate record is still there is not recorded a second time
    (candidates / "narrow.keras").write_bytes(b"narrow")
    (candidates / "narrow.json").write_text(json.dumps({"config": {"name": "narrow"}, "git_commit": "0987654321"}))
    colorizers.ship(candidates / "narrow", "default", shipped, "narrow won", "paper", overwrite=True,
                    retire_to=candidates)
    assert sorted(p.name for p in candidates.glob("*.json")) == ["default_abc.json", "narrow.json", "wide.json"]
    with pytest.raises(FileNotFoundError, match="train the candidate first"):
        colorizers.ship(candidates / "missing", "vivid", shipped, "no", "paper")


def test_training_into_the_shipped_folder_needs_a_clean_checkout(monkeypatch):
    monkeypatch.setattr(build, "git_commit", lambda root: "abc+dirty")
    monkeypatch.setattr(build, "train_colorizer", lambda *a, **k: pytest.fail("must not train"))
    with pytest.raises(SystemExit, match="clean checkout"):
        colorizers_cli.main(["train", "--recipe", "default", "--out-dir", str(colorizers.SHIPPED_DIR)])


def test_chroma_offset_shifts_a_and_b_by_exactly_the_offset():
    import keras

    inputs = keras.Input((4, 4, 1))
    zeros = keras.Model(inputs, keras.layers.Conv2D(2, 1, kernel_initializer="zeros")(inputs))
    shifted = decoding.with_chroma_offset(zeros, (6.4, -12.8))
    out = shifted.predict(np.ones((1, 4, 4, 1), np.float32), verbose=0)
    np.testing.assert_allclose(out[0, 0, 0], [6.4 / 128, -12.8 / 128], rtol=1e-6)


def test_bias_correction_cancels_the_tuning_cast_it_measured(tiny_processed, tmp_path):
    from unetcolor.evaluation import metrics
    from unetcolor.photos import data

    recipe = dataclasses.replace(TINY_RECIPE, finetune_epochs=0, bias_correction=True)
    record = colorizers.train_colorizer(tiny_processed, tmp_path, recipe, verbose=False)
    chosen = [row for row in record["chroma_gain_choices"] if row["chroma_gain"] == record["chroma_gain"]][0]
    assert record["chroma_offset"] == [chosen["a_offset"], chosen["b_offset"]]
    model = predict.load_model(tmp_path / "default.keras")
    assert model.get_layer("chroma_offset").offset == pytest.approx([o / 128 for o in record["chroma_offset"]])
    # the uncorrected model's cast on the tuning photos is minus the recorded offset (metrics.ab_bias)
    rgb, gray = data.load_arrays(tiny_processed)
    tuning = np.asarray(record["data"]["tuning_ids"])
    plain = regression.with_chroma_gain(model, recipe.model, record["chroma_gain"])  # same weights, no offset
    cast = metrics.ab_bias(np.asarray(rgb[tuning]),
                           np.stack(list(predict.colorize_photos(plain, list(np.asarray(gray[tuning]))))))
    assert cast == pytest.approx((-record["chroma_offset"][0], -record["chroma_offset"][1]), abs=1e-6)


def test_recipe_refuses_to_replace_an_existing_model_unless_told(tiny_processed, tmp_path):
    existing = tmp_path / "default.keras"
    existing.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="overwrite"):
        colorizers.train_colorizer(tiny_processed, tmp_path, TINY_RECIPE, verbose=False)
    assert existing.read_bytes() == b"keep me" and not (tmp_path / "default.json").exists()


def test_every_kind_of_head_has_its_module_and_an_unknown_kind_is_refused():
    assert {kind: head.__module__.rsplit(".", 1)[1] for kind, head in colorizers.HEADS.items()} == {
        "regression": "regression", "bins": "bins", "gan": "gan", "hints": "hints"}
    with pytest.raises(ValueError, match="head must be one of regression, bins, gan, hints, got 'cnn'"):
        dataclasses.replace(colorizers.recipe("regression"), name="x", head="cnn", finetune_epochs=0)


def test_a_run_folder_of_another_recipe_or_other_photos_is_refused_not_resumed(tmp_path):
    run_dir = tmp_path / "default.run"
    training.claim(run_dir, {"recipe": TINY_RECIPE.to_dict(), "data": "photos A"})
    training.claim(run_dir, {"recipe": TINY_RECIPE.to_dict(), "data": "photos A"})  # the same run: resumed
    for other in ({"recipe": dataclasses.replace(TINY_RECIPE, epochs=3).to_dict(), "data": "photos A"},
                  {"recipe": TINY_RECIPE.to_dict(), "data": "photos B"}):
        with pytest.raises(ValueError, match=f"delete {run_dir}"):
            training.claim(run_dir, other)


class CrashesInEpoch(keras.callbacks.Callback):
    """Raises at the end of the given (1-based) epoch, before that epoch is checkpointed."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise RuntimeError(f"crashed in epoch {self.epoch}")


@pytest.mark.parametrize("kind", ["regression", "bins", "gan"])
def test_every_head_resumes_from_its_checkpoint_to_the_weights_of_an_uninterrupted_fit(kind, tmp_path):
    """A crash in epoch 3 of 4 (checkpoints every epoch), then fit again in the same run folder: the
    model, its optimizers (two for the adversarial head) and the best epoch so far come back from
    the checkpoint of epoch 2, and the kept weights are those of a fit that never stopped."""
    recipe = dataclasses.replace(TINY_RECIPE, head=kind, epochs=4, finetune_epochs=0, temperatures=(1.0,),
                                 discriminator_filters=(4, 8))
    rng = np.random.default_rng(5)

    def pair(count):
        return rng.random((count, 16, 16, 1), dtype=np.float32), rng.uniform(-0.3, 0.3, (count, 16, 16, 2)).astype(
            np.float32)

    fit_pair, tuning_pair = pair(12), pair(4)
    head = registry.head_for(recipe, fit_pair[1])
    whole, whole_history, whole_kept = training.fit(head, fit_pair, tuning_pair, verbose=False)
    with pytest.raises(RuntimeError, match="crashed in epoch 3"):
        training.fit(head, fit_pair, tuning_pair, verbose=False, run_dir=tmp_path, checkpoint_every=1,
                     callbacks=[CrashesInEpoch(3)])
    assert json.loads((tmp_path / head.stage / "state.json").read_text())["epochs_done"] == 2
    resumed, history, kept = training.fit(head, fit_pair, tuning_pair, verbose=False, run_dir=tmp_path,
                                          checkpoint_every=1)
    assert kept == whole_kept and history["epoch"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(history["val_loss"], whole_history["val_loss"], rtol=1e-6)
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_candidates_train_in_parallel_through_the_launcher_resume_after_ctrl_c_and_are_then_skipped(tmp_path):
    """`colorizers candidates --jobs 2` in a throwaway project whose profile has two tiny candidates, each
    trained in a process of its own, its log lines tagged with its name. Ctrl-C (SIGINT to the launcher
    only) is passed on: both runs end their epoch with a checkpoint and the call exits 130 naming them.
    The same call resumes each and writes its record, of its own recipe; once more, it trains nothing."""
    project, photos, environment = throwaway_project(tmp_path, "photos", ".png", seed=11, count=20)
    settings, _ = profiles.raw_settings("smoke", project)
    section = settings["colorizers"]
    section["defaults"].update(model={**section["defaults"]["model"], "image_size": 16, "filters": [4, 8]},
                               epochs=100, finetune_epochs=0, batch_size=4, chroma_gains=[1.0], tuning_share=0.2,
                               precision="float32")
    section["recipes"].update(default={}, vivid={"head": "bins"})
    names = ("small_regression", "small_bins")
    section["candidates"] = {names[0]: {"finetune_epochs": 1}, names[1]: {"head": "bins", "temperatures": [1.0]}}
    (project / "profiles" / "tiny.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    recipes = profiles.load("tiny", root=project).colorizers
    folder = project / "models" / "tiny" / "colorizers"
    command = [sys.executable, "-m", "unetcolor", "colorizers", "candidates", "--profile", "tiny", "--jobs", "2",
               "--data-dir", str(photos)]

    def epochs_done(name):
        stage = "mse" if name == names[0] else "bins_cross_entropy"
        with contextlib.suppress(OSError, ValueError):
            return json.loads((folder / f"{name}.run" / stage / "progress.json").read_text())["epochs_done"]
        return 0

    launcher = subprocess.Popen(command, env=environment, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    deadline = time.monotonic() + 300
    while not all(epochs_done(name) >= 2 for name in names) and launcher.poll() is None:
        assert time.monotonic() < deadline, "the candidates did not both start training"
        time.sleep(0.2)
    launcher.send_signal(signal.SIGINT)
    stdout, stderr = launcher.communicate(timeout=300)
    assert launcher.returncode == 130, stdout + stderr
    assert f"[candidates] interrupted; unfinished: {names[0]}, {names[1]}" in stderr, stderr
    for name in names:
        assert f"[{name}] interrupted: stopping after this epoch" in stderr
        assert 2 <= epochs_done(name) < 100 and not (folder / f"{name}.json").exists()

    resumed = subprocess.run(command, env=environment, cwd=project, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    for name in names:
        record = json.loads((folder / f"{name}.json").read_text())
        assert recipe_config_from_dict(record["config"]) == recipes[name]
        assert (folder / f"{name}.keras").is_file() and not (folder / f"{name}.run").exists()
        assert f"[candidates] {name}: training" in resumed.stdout and f"[candidates] {name}: finished" in resumed.stdout
        assert f"[{name}] resuming" in resumed.stdout and f"[{name}] epoch 100:" in resumed.stdout
    again = subprocess.run(command, env=environment, cwd=project, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "training" not in again.stdout and again.stdout.count("finished (") == 2
