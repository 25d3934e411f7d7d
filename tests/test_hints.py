"""Colour hints: parsing what a person types, the planes a model reads, the spread over the
photo, and the hint inputs added to a shipped colorizer without changing what it computes."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from unetcolor import color
from unetcolor.colorizers import hints
from unetcolor.unet.model import build_unet

import tiny
from conftest import photo_crops


def test_a_typed_hint_is_read_and_a_malformed_one_named():
    assert hints.parse("10,20=#3366cc") == hints.Hint(10, 20, "#3366cc")
    assert hints.parse(" 3 , 4 = #FFFFFF ") == hints.Hint(3, 4, "#FFFFFF")
    for text in ("10,20", "10;20=#3366cc", "a,b=#3366cc", "10,20=3366cc", "10,20=#3366c", "10,20=#33669g"):
        with pytest.raises(ValueError, match="hint") as error:
            hints.parse(text)
        assert text.strip().split("=")[-1] in str(error.value)


def test_a_hint_colour_counts_by_its_a_b():
    """sRGB blue (0, 0, 255) is L* 32.30, a* 79.19, b* -107.86 (D65; the CIE formulas' published value)."""
    assert hints.Hint(0, 0, "#0000ff").ab == pytest.approx([79.19, -107.86], abs=0.05)
    assert hints.Hint(0, 0, "#808080").ab == pytest.approx([0.0, 0.0], abs=0.01)


def test_a_hints_file_is_read_and_each_fault_names_the_file_and_the_hint(tmp_path):
    good = tmp_path / "hints.json"
    good.write_text(json.dumps([{"x": 1, "y": 2, "color": "#102030"}, {"x": 0, "y": 0, "color": "#ffffff"}]))
    assert hints.read(good) == [hints.Hint(1, 2, "#102030"), hints.Hint(0, 0, "#ffffff")]
    with pytest.raises(FileNotFoundError, match="no such hints file"):
        hints.read(tmp_path / "missing.json")
    cases = {"{not json": "not JSON", '{"x": 1}': "expected a JSON list",
             '[{"x": 1, "y": 2}]': "hint 1 is", '[{"x": 1, "y": 2, "color": "#102030"}, {"x": true, "y": 2, '
                                                '"color": "#102030"}]': "hint 2 is",
             '[{"x": 1, "y": 2, "color": "blue"}]': "hint 1: hint 1,2=blue"}
    for text, message in cases.items():
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(ValueError, match=message) as error:
            hints.read(bad)
        assert str(bad) in str(error.value)


def test_a_hint_outside_the_photo_is_refused_by_name():
    hints.check_inside([hints.Hint(0, 0, "#000000"), hints.Hint(39, 29, "#000000")], 40, 30)
    for x, y in ((40, 0), (0, 30), (-1, 5)):
        with pytest.raises(ValueError, match=f"hint {x},{y}=#000000 lies outside"):
            hints.check_inside([hints.Hint(x, y, "#000000")], 40, 30)


def test_photo_pixels_map_to_the_model_pixel_their_centre_falls_in():
    points = [hints.Hint(0, 0, "#000000"), hints.Hint(499, 999, "#000000"), hints.Hint(250, 500, "#000000"),
              hints.Hint(4, 7, "#000000")]
    # (y + 0.5) * 128 / 1000 and (x + 0.5) * 128 / 500, floored
    assert hints.to_model(points, (1000, 500), (128, 128)).tolist() == [[0, 0], [127, 127], [64, 64], [0, 1]]
    ab, mask = hints.planes(points[:1], (1000, 500), (128, 128))
    assert mask.sum() == 1 and mask[0, 0, 0] == 1 and not ab[1:].any()


def test_the_spread_follows_its_formula_and_keeps_far_pixels():
    model_ab = np.full((64, 64, 2), 0.1, dtype=np.float32)
    lightness = np.full((64, 64), 50.0, dtype=np.float32)
    lightness[:, 40:] = 90.0  # an edge: the right part is much lighter
    hint_ab, mask = np.zeros_like(model_ab), np.zeros((64, 64, 1), dtype=np.float32)
    hint_ab[20, 20], mask[20, 20] = (-0.5, 0.3), 1.0
    out = hints.spread(model_ab, lightness, hint_ab, mask, space=0.1, tone=10.0)
    assert out[20, 20] == pytest.approx([-0.5, 0.3])
    width = 0.1 * 64
    w = np.exp(-(3 ** 2 + 4 ** 2) / (2 * width ** 2))  # 5 pixels away, the same lightness
    assert out[23, 24] == pytest.approx((1 - w) * np.array([0.1, 0.1]) + w * np.array([-0.5, 0.3]), abs=1e-6)
    w_edge = np.exp(-(20 ** 2) / (2 * width ** 2) - 40.0 ** 2 / (2 * 10.0 ** 2))  # across the edge
    assert out[20, 40] == pytest.approx((1 - w_edge) * 0.1 + w_edge * np.array([-0.5, 0.3]), abs=1e-6)
    assert out[63, 0] == pytest.approx([0.1, 0.1], abs=1e-6)
    assert hints.spread(model_ab, lightness, hint_ab, np.zeros_like(mask)) == pytest.approx(model_ab)


def test_training_hints_are_patches_of_the_true_colour_and_some_photos_get_none():
    rng = np.random.default_rng(0)
    truth = rng.uniform(-0.5, 0.5, (40, 16, 16, 2)).astype(np.float32)
    hint_ab, mask = hints.reveal(truth, np.random.default_rng(1), most=6, none_share=0.25, patch=2)
    per_photo = mask.sum(axis=(1, 2, 3))
    assert 0 < (per_photo == 0).sum() < 40 and per_photo.max() <= 6 * 4
    i = int(np.argmax(per_photo > 0))
    rows, columns = np.nonzero(mask[i, ..., 0])
    assert np.all(hint_ab[i, rows, columns] != 0) and not hint_ab[i][mask[i, ..., 0] == 0].any()
    hint_ab, mask = hints.reveal(truth[:1], np.random.default_rng(2), most=1, none_share=0.0, patch=2)
    rows, columns = np.nonzero(mask[0, ..., 0])
    square = truth[0, rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    assert hint_ab[0, rows[0], columns[0]] == pytest.approx(square.reshape(-1, 2).mean(axis=0))


def test_hint_inputs_leave_what_a_colorizer_computes_unchanged():
    model = build_unet(tiny.model(image_size=32, filters=(4, 8), output="ab", normalization="batch"))
    rng = np.random.default_rng(0)
    for weight in model.weights:  # away from the initial zeros and ones, so a dropped weight shows
        values = rng.normal(0, 0.3, weight.shape).astype("float32")
        weight.assign(np.abs(values) + 0.5 if "variance" in weight.path else values)
    wide = hints.with_hint_inputs(model)
    assert wide.input_shape == (None, 32, 32, 4) and hints.takes_hints(wide) and not hints.takes_hints(model)
    gray = rng.uniform(0, 1, (2, 32, 32, 1)).astype("float32")
    planes = np.concatenate([gray, np.zeros((2, 32, 32, 3), "float32")], axis=-1)
    assert np.asarray(wide(planes)) == pytest.approx(np.asarray(model(gray)), abs=1e-6)
    with pytest.raises(ValueError, match="L\\*a\\*b\\* colorizer"):
        hints.with_hint_inputs(build_unet(tiny.model(image_size=32, filters=(4, 8))))


def tiny_hints_model(seed: int = 1):
    keras.utils.set_random_seed(seed)  # a fixed untrained network: its colours are arbitrary but the same each run
    return hints.with_hint_inputs(build_unet(tiny.model(image_size=32, filters=(4, 8), output="ab")))


def test_a_hint_moves_the_colours_near_it_towards_its_colour():
    model = tiny_hints_model()
    photo = np.asarray(photo_crops(1, 200)[0])[:150]  # 200 wide, 150 high
    blue = hints.Hint(10, 20, "#3366cc")
    before = hints.colorize(model, photo, [])
    after = hints.colorize(model, photo, [blue])
    assert after.shape == photo.shape
    # the lightness is the photo's, up to 8-bit rounding, wherever no channel had to be clipped
    unclipped = ((after > 0) & (after < 255)).all(axis=-1)
    luma_error = np.abs(color.rgb_to_gray(after).astype(int) - color.rgb_to_gray(photo))
    assert unclipped.mean() > 0.5 and luma_error[unclipped].max() <= 1

    def distance_to_blue(rgb):
        return np.linalg.norm(color.rgb_to_lab(rgb[15:26, 5:16])[..., 1:] - blue.ab, axis=-1).mean()

    assert distance_to_blue(after) < distance_to_blue(before)
    assert np.abs(after[140:, 180:].astype(int) - before[140:, 180:]).max() <= 1  # far away: as before
    with pytest.raises(ValueError, match="lies outside"):
        hints.colorize(model, photo, [hints.Hint(200, 0, "#3366cc")])


def test_on_an_even_gray_photo_the_clicked_pixel_takes_the_hint_colour():
    """Where the lightness is even, the hinted model pixel holds the hint's a*, b* and its
    neighbours nearly so: the clicked pixel of the photo ends near the hint's colour (what is
    left is the bicubic upscaling of a smooth field and 8-bit rounding)."""
    model = tiny_hints_model()
    photo = np.full((96, 128, 3), 120, dtype=np.uint8)
    blue = hints.Hint(64, 48, "#3366cc")
    after = hints.colorize(model, photo, [blue])
    before = hints.colorize(model, photo, [])
    ab_after, ab_before = (color.rgb_to_lab(rgb[48, 64])[1:] for rgb in (after, before))
    assert np.linalg.norm(ab_after - blue.ab) < 5.0 < np.linalg.norm(ab_before - blue.ab)


def test_training_batches_reveal_hints_from_their_own_true_colours():
    """With a recipe's hints settings, each batch's x gains the hint planes drawn from its own y
    after the flip: every revealed pixel holds the mean true colour of a patch it belongs to."""
    from unetcolor.colorizers import training

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (6, 16, 16, 1)).astype(np.float32)
    y = rng.uniform(-0.5, 0.5, (6, 16, 16, 2)).astype(np.float32)
    settings = {"most": 4, "none_share": 0.0, "patch": 1}
    batch_x, batch_y = training.FlipBatches(x, y, 6, seed=3, hints=settings)[0]
    assert batch_x.shape == (6, 16, 16, 4)
    hinted = batch_x[..., 3] > 0
    assert hinted.any(axis=(1, 2)).all()  # none_share 0: every photo gets a hint
    assert np.array_equal(batch_x[..., 1:3][hinted], batch_y[hinted])  # 1-pixel patches: the pixel's own colour
    assert not batch_x[..., 1:3][~hinted].any()
    plain_x, plain_y = training.FlipBatches(x, y, 6, seed=3)[0]
    assert np.array_equal(plain_x, batch_x[..., :1]) and np.array_equal(plain_y, batch_y)


def test_the_hints_recipe_trains_from_a_base_and_is_measured_beside_it(tiny_processed, tmp_path):
    """The hints recipe through the recipes' one training path, on a tiny base: the network takes the
    hint planes, the spread is chosen on the tuning subset, and the hint curve is measured on the
    validation photos beside the base it started from."""
    import dataclasses

    from unetcolor.colorizers import build, registry
    from unetcolor.photos import data

    keras.utils.set_random_seed(3)
    tiny_model = tiny.model(image_size=32, filters=(4, 8), output="ab")
    base_path = tmp_path / "base.keras"
    build_unet(tiny_model).save(base_path)
    recipe = registry.recipe("hints")
    config = dataclasses.replace(recipe, model=tiny_model, start_from=str(base_path), epochs=2, batch_size=4,
                                 precision="float32", crop_share=1.0,
                                 hints={**recipe.hints, "spaces": [0.0, 0.3], "tones": [8.0]})
    record = build.train_colorizer(tiny_processed, tmp_path / "out", config, verbose=False)
    assert (tmp_path / "out" / "hints.keras").is_file() and (tmp_path / "out" / "hints.json").is_file()
    assert [row["epoch"] for row in record["training"]["history"]] == [1, 2]
    assert {(row["space"], row["tone"]) for row in record["spread_choices"]} == {(0.0, 8.0), (0.3, 8.0)}
    best = max(record["spread_choices"], key=lambda row: row["psnr_mean"])
    assert record["spread"] == {"space": best["space"], "tone": best["tone"]}
    _, val_ids = data.load_split(tiny_processed, "80_20")
    curve = {(row["hints"], row["method"]): row for row in record["hint_curve"]}
    assert {count for count, _ in curve} == set(hints.COUNTS)
    assert all(row["photos"] == len(val_ids) for row in curve.values())
    assert curve[(0, "gray copy")]["colorfulness"] == 0.0
    assert record["base"]["file"].endswith("base.keras")
    reloaded = keras.saving.load_model(tmp_path / "out" / "hints.keras", safe_mode=True)
    assert hints.takes_hints(reloaded) and reloaded.layers[-1].dtype_policy.name == "float32"
    # its 0-hint score is the held-out PSNR every recipe records: the network fed empty hint planes
    [zero] = [row for row in record["validation_metrics"] if row["metric"] == "psnr" and row["method"] == "model"]
    assert zero["mean"] == pytest.approx(curve[(0, "hints")]["psnr"], abs=1e-6)


def test_the_shipped_hints_colorizer_was_made_by_its_recipe_from_a_clean_checkout():
    from unetcolor import shipped
    from unetcolor.colorizers import registry
    from unetcolor.evaluation import predict

    model_path = shipped.WEIGHTS_DIR / f"{shipped.HINTS.name}.keras"
    record = json.loads(model_path.with_suffix(".json").read_text())
    assert record["config"] == json.loads(json.dumps(registry.recipe(shipped.HINTS.name).to_dict()))  # make hints-model
    assert not record["git_commit"].endswith("+dirty")
    assert hints.takes_hints(predict.load_model(model_path))  # safe mode
    assert record["spread"] == hints.recorded_spread(model_path)
    assert {(row["hints"], row["method"]) for row in record["hint_curve"]} == {
        (count, method) for count in hints.COUNTS for method in ("hints", "gray copy", "automatic")}
