"""Levers at colorizing time: each variant computes what it says, checked against
numpy references on tiny models; the rule reads the tuning columns only; a variant saves and
loads in safe mode; and the lever record of notebook 07 describes the shipped files."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from unetcolor import paths, shipped
from unetcolor.colorizers import bins as ab_bins
from unetcolor.colorizers import compare, levers

import tiny

CENTERS = np.array([[-20.0, 0.0], [0.0, 0.0], [30.0, 10.0], [0.0, 40.0]], np.float32)


def _bins_model(size: int, seed: int, temperature: float = 0.5) -> keras.Model:
    keras.utils.set_random_seed(seed)
    config = tiny.model(image_size=size, filters=(4, 8), output="ab")
    return ab_bins.decoded_model(ab_bins.logits_model(config, len(CENTERS)), config, CENTERS, temperature)


def _gray(size: int, count: int = 3) -> np.ndarray:
    return np.random.default_rng(7).random((count, size, size, 1)).astype("float32")


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(-1, keepdims=True)


def test_confidence_annealing_matches_a_numpy_reference_and_a_fixed_temperature_when_low_equals_high():
    logits = np.random.default_rng(1).normal(0, 3, (2, 5, 5, len(CENTERS))).astype("float32")
    p = _softmax(logits.astype(np.float64))
    temperature = 0.2 + 0.8 * (-(p * np.log(p)).sum(-1, keepdims=True) / np.log(len(CENTERS)))
    expected = _softmax(logits / temperature) @ (CENTERS / 128.0)
    layer = ab_bins.ConfidenceAnnealing(CENTERS, 0.2, 1.0)
    np.testing.assert_allclose(np.asarray(layer(logits)), expected, atol=1e-5)
    fixed = _softmax(logits / 0.5) @ (CENTERS / 128.0)
    np.testing.assert_allclose(np.asarray(ab_bins.ConfidenceAnnealing(CENTERS, 0.5, 0.5)(logits)), fixed, atol=1e-5)
    with pytest.raises(ValueError, match="low <= high"):
        ab_bins.ConfidenceAnnealing(CENTERS, 0.8, 0.5)


def test_a_confidence_variant_at_one_temperature_is_the_model_and_saves_and_loads_in_safe_mode(tmp_path):
    model = _bins_model(16, seed=1, temperature=0.5)
    x = _gray(16)
    variant = levers.confidence_annealed(model, 0.5, 0.5)
    np.testing.assert_allclose(variant(x, training=False), model(x, training=False), atol=1e-6)
    variant = levers.confidence_annealed(model, 0.2, 1.0)
    variant.save(tmp_path / "variant.keras")
    loaded = keras.saving.load_model(tmp_path / "variant.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded(x, training=False), variant(x, training=False))
    with pytest.raises(ValueError, match="not a bins model"):
        levers.confidence_annealed(keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(2, 1)]), 0.2, 1)


def test_flips_average_the_prediction_with_the_mirrored_prediction_of_the_mirror_image(tmp_path):
    model = _bins_model(16, seed=2)
    x = _gray(16)
    plain = np.asarray(model(x, training=False))
    mirror = np.asarray(model(x[:, :, ::-1], training=False))[:, :, ::-1]
    variant = levers.mirrored(model)
    np.testing.assert_allclose(variant(x, training=False), (plain + mirror) / 2, atol=1e-6)
    variant.save(tmp_path / "flips.keras")  # standard layers only
    loaded = keras.saving.load_model(tmp_path / "flips.keras", safe_mode=True)
    np.testing.assert_allclose(loaded(x, training=False), (plain + mirror) / 2, atol=1e-6)


def test_an_average_of_models_is_their_mean_at_the_largest_input_size():
    first, second = _bins_model(16, seed=3), _bins_model(16, seed=4)
    x = _gray(16)
    both = levers.averaged([first, second])
    expected = (np.asarray(first(x, training=False)) + np.asarray(second(x, training=False))) / 2
    np.testing.assert_allclose(both(x, training=False), expected, atol=1e-6)
    small = _bins_model(8, seed=5)
    mixed = levers.averaged([small, first])
    assert mixed.input_shape == (None, 16, 16, 1) and mixed.output_shape == (None, 16, 16, 2)
    # a constant gray is a constant at any size: the smaller model's share is its own output, enlarged
    flat = np.full((1, 16, 16, 1), 0.4, np.float32)
    expected = (np.asarray(small(flat[:, :8, :8], training=False)).mean((1, 2))
                + np.asarray(first(flat, training=False)).mean((1, 2))) / 2
    np.testing.assert_allclose(np.asarray(mixed(flat, training=False)).mean((1, 2)), expected, atol=1e-5)


def _tuning(*rows):
    return pd.DataFrame(rows, columns=["variant", "psnr_gain", "colorfulness_share"]).set_index("variant")


def test_the_rule_needs_more_than_the_tie_margin_and_for_vivid_no_loss_of_colour():
    tie = levers.registry.ACCURATE_TIE_DB
    table = _tuning(("as shipped", 1.0, 0.45), ("flips", 1.0 + tie * 0.9, 0.44), ("other", 0.9, 0.6))
    assert levers.choose("accurate", table) == "as shipped"  # within the tie margin
    table = _tuning(("as shipped", 1.0, 0.45), ("flips", 1.0 + tie * 2, 0.44))
    assert levers.choose("accurate", table) == "flips"
    # the vivid model must not lose colour for PSNR
    assert levers.choose("vivid", table) == "as shipped"
    table = _tuning(("as shipped", -0.3, 0.79), ("bolder", -0.1, 0.80), ("duller", 0.5, 0.6))
    assert levers.choose("vivid", table) == "bolder"


def test_the_committed_lever_records_describe_the_shipped_files_and_their_own_choice():
    folder = paths.profile_paths("paper").colorizers / "levers"
    records = compare.records_in(folder)
    assert set(records) == {shipped.by_role(role).name for role in levers.ROLES}, \
        f"{folder}: rerun `python -m unetcolor colorizers levers --data-dir ...`"
    for name, record in records.items():
        provenance = json.loads((shipped.WEIGHTS_DIR / f"{name}.json").read_text())
        table = pd.DataFrame(record["table"])
        tuning = table[table["subset"] == "tuning"].set_index("variant")
        # "as shipped" on the tuning subset is the shipped file's own recorded choice
        choices = pd.DataFrame(provenance["temperature_choices"])
        kept = choices[np.isclose(choices["temperature"], provenance["temperature"])].iloc[0]
        assert tuning.loc["as shipped", "psnr_gain"] == pytest.approx(kept["psnr"] - kept["psnr_gray"], abs=1e-3)
        assert record["tuning_photos"] == provenance["data"]["tuning"]
        assert record["chosen"] == levers.choose(record["role"], tuning)
    table = compare.levers_table(records)
    assert table.groupby("model")["chosen"].sum().eq(1).all()
